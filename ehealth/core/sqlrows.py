"""Model instances from hand-written SQL, for the few hot paths where compiling an ORM query costs
more than running it (a FHIR read compiles ~5 ms of visibility subqueries for a 0.3 ms query).

`columns(Model, "p")` lists a model's concrete columns for a SELECT; `Row(row).take(Model)` builds
the next instance from the row, as the ORM would: `Model.from_db` (so `_state` is "loaded from the
database") with each field's database converters applied (JSON, ...). A LEFT JOIN that found
nothing gives None. Related instances are attached with the forward descriptor (`patient.province
= province`), exactly as `select_related` caches them.
"""

from __future__ import annotations

import re
from functools import cache

from django.db import connections


def _fields(model, only: tuple[str, ...] | None) -> list:
    fields = model._meta.concrete_fields
    if only is None:
        return list(fields)
    return [f for f in fields if f.primary_key or f.name in only or f.attname in only]


@cache
def _plan(
    model, only: tuple[str, ...] | None = None
) -> tuple[list[str], list[tuple[int, list]], int]:
    fields = _fields(model, only)
    names = [f.attname for f in fields]
    connection = connections["default"]
    converters = [
        (i, convs) for i, f in enumerate(fields) if (convs := f.get_db_converters(connection))
    ]
    pk_index = next(i for i, f in enumerate(fields) if f.primary_key)
    return names, converters, pk_index


def columns(model, alias: str, only: tuple[str, ...] | None = None) -> str:
    """`alias."col", ...` of the model's concrete fields (or of the primary key and the fields
    named in `only`, the others deferred as `.only()` defers them), in the order `Row.take` reads
    them."""
    return ", ".join(f'{alias}."{f.column}"' for f in _fields(model, only))


class Row:
    """A result row read model by model, left to right."""

    def __init__(self, row, *, using: str = "default"):
        self.row = row
        self.at = 0
        self.using = using

    def take(self, model, *, only: tuple[str, ...] | None = None, cache: dict | None = None):
        """The next instance of `model` (None when its primary key is NULL), or, for a plain
        value, the next column (`take(None)`). `only`: as given to `columns`. With `cache` (pk ->
        instance), rows of the same record share one instance (as a prefetch shares them)."""
        if model is None:
            value = self.row[self.at]
            self.at += 1
            return value
        names, converters, pk_index = _plan(model, only)
        start, self.at = self.at, self.at + len(names)
        pk = self.row[start + pk_index]
        if pk is None:
            return None
        if cache is not None and pk in cache:
            return cache[pk]
        values = list(self.row[start : self.at])
        connection = connections[self.using]
        for i, convs in converters:
            for convert in convs:
                values[i] = convert(values[i], None, connection)
        instance = model.from_db(self.using, names, values)
        if cache is not None:
            cache[pk] = instance
        return instance


class Prepared:
    """Hand-written SQL (`%(name)s` parameters) run as a server-side prepared statement: PREPAREd
    once per database session, then EXECUTEd, so PostgreSQL plans it once instead of on every
    request (planning took 3 to 10 times longer than running these short queries). A prepared
    statement outlives rollbacks and lasts as long as the session; a new connection prepares it
    again. Parameters whose type PostgreSQL cannot infer from their place need a cast in the SQL
    (`%(prefix)s::text`)."""

    _PARAM = re.compile(r"%\((\w+)\)s")

    def __init__(self, name: str, sql: str):
        self.name = f"ehealth_{name}"
        self.order: list[str] = []

        def positional(match) -> str:
            if match.group(1) not in self.order:
                self.order.append(match.group(1))
            return f"${self.order.index(match.group(1)) + 1}"

        self.prepare_sql = f"PREPARE {self.name} AS " + self._PARAM.sub(positional, sql).replace(
            "%%", "%"
        )
        args = ", ".join(["%s"] * len(self.order))
        self.execute_sql = f"EXECUTE {self.name}" + (f" ({args})" if self.order else "")

    def by_pk(self, params: dict, model, *, only: tuple[str, ...] | None = None) -> dict:
        """Run the statement, whose columns are `columns(model, alias, only)`, on the default
        database; its instances by primary key (in the statement's order)."""
        with connections["default"].cursor() as cursor:
            self.execute(cursor, params)
            rows = cursor.fetchall()
        return {o.pk: o for o in (Row(r).take(model, only=only) for r in rows)}

    def execute(self, cursor, params: dict | None = None) -> None:
        """Run the statement on a Django cursor (preparing it first on a new session)."""
        wrapper = cursor.db
        raw = wrapper.connection
        state = getattr(wrapper, "_ehealth_prepared", None)
        if state is None or state[0] is not raw:  # a new session: nothing prepared yet
            # Plan once: these statements are short lookups by key, whose generic plan is as good
            # as a custom one (left to itself, PostgreSQL re-plans those with array parameters on
            # every execution). Only server-side prepared statements, PL/pgSQL and SQL functions
            # consult this setting; Django's own queries are not prepared.
            cursor.execute("SET plan_cache_mode = force_generic_plan")
            state = (raw, set())
            wrapper._ehealth_prepared = state
        if self.name not in state[1]:
            cursor.execute(self.prepare_sql)
            state[1].add(self.name)
        cursor.execute(self.execute_sql, [(params or {})[n] for n in self.order] or None)
