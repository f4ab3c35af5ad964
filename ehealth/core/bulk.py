"""Fast multi-row INSERT for wide models (thousands of rows in one statement).

Django's `bulk_create` prepares every value of every row through the field's
`get_db_prep_save` (for a 2,000-line stay's charge lines: ~60,000 calls, most of the time of
deriving its charges). `bulk_insert` sends the attribute values as they are — psycopg2 adapts
str, int, Decimal, date, datetime, bool and None itself — after the two preparations Django does
that change a value: `auto_now`/`auto_now_add` stamps and decimals rounded to the column's
places (ROUND_HALF_EVEN, as Django's `format_number`), and a field's constant `db_default` in
place of the `DatabaseDefault` marker an unsaved object holds. Fields of other types (JSON,
arrays, files) and computed database defaults are refused rather than sent unprepared. Primary
keys come back with RETURNING and are set on the objects, as `bulk_create` does on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal

from django.db import connection, models
from django.db.models.expressions import DatabaseDefault, Value
from django.utils import timezone

_PLAIN = (
    models.CharField,
    models.TextField,
    models.IntegerField,
    models.DecimalField,
    models.DateField,  # DateTimeField too
    models.BooleanField,
    models.ForeignKey,
    models.UUIDField,
)


def _decimal(value, places: int):
    if value is None or not isinstance(value, Decimal):
        return value
    if value.as_tuple().exponent >= -places:
        return value
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


def bulk_insert(model: type[models.Model], objs: Sequence[models.Model], *, chunk: int = 5000):
    """INSERT the unsaved `objs` in statements of `chunk` rows; set their primary keys."""
    if not objs:
        return
    pk = model._meta.pk
    fields = [f for f in model._meta.concrete_fields if f is not pk]
    defaults = {}
    for f in fields:
        default = f.db_default if f.has_db_default() else None
        if isinstance(default, Value):
            default = default.value
        if not isinstance(f, _PLAIN) or hasattr(default, "resolve_expression"):
            raise TypeError(f"bulk_insert: {model.__name__}.{f.name} needs Django's preparation")
        if f.has_db_default():
            defaults[f.attname] = default
    now = timezone.now()
    stamped = [
        f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    decimals = [(f.attname, f.decimal_places) for f in fields if isinstance(f, models.DecimalField)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    table = connection.ops.quote_name(model._meta.db_table)
    attnames = [f.attname for f in fields]
    for start in range(0, len(objs), chunk):
        part = objs[start : start + chunk]
        params: list = []
        for obj in part:
            for f in stamped:
                setattr(obj, f.attname, now)
            for attname, places in decimals:
                setattr(obj, attname, _decimal(getattr(obj, attname), places))
            for attname, value in defaults.items():
                if isinstance(getattr(obj, attname), DatabaseDefault):
                    setattr(obj, attname, value)
            params.extend(getattr(obj, a) for a in attnames)
        sql = (
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(part))} "  # noqa: S608
            f"RETURNING {connection.ops.quote_name(pk.column)}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = [r[0] for r in cursor.fetchall()]
        for obj, new_id in zip(part, ids, strict=True):
            obj.pk = new_id
            obj._state.adding = False
            obj._state.db = connection.alias
