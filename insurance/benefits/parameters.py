"""The benefit engine's dated parameters from the database (`insurance.BenefitParameter`).

- `benefit_params(on=)`: the parameters in force on a date. Rows in the database win; for a
  (key, qualifier) the database holds no row of, the brief's default (`DEFAULT_PARAMETERS`)
  applies, so the engine works before `load_benefit_parameters` has run.
- Cached per process: one cheap query (row count and last change) checks the cache on each call,
  so an admin's edit is seen at once by every worker. A bulk `QuerySet.update()` does not touch
  `changed_at`: call `benefit_params_cache_clear()` after one.
- `benefit_parameters_load(actor=)`: writes the defaults that are missing (idempotent; an
  admin-edited row is never overwritten).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Count, Max

from ehealth.core.audit import audit_record
from insurance.benefits.defaults import DEFAULT_PARAMETERS, ParameterRow, params_from_rows
from insurance.benefits.types import BenefitParams
from insurance.models import BenefitParameter

_lock = threading.Lock()
_cache: dict[str, Any] = {"stamp": None, "rows": (), "by_date": {}}


def _stamp() -> tuple:
    agg = BenefitParameter.objects.aggregate(n=Count("id"), last=Max("changed_at"), top=Max("id"))
    return (agg["n"], agg["last"], agg["top"])


def _rows() -> tuple[ParameterRow, ...]:
    stored = [
        ParameterRow(
            key=p.key,
            qualifier=p.qualifier,
            value=p.value,
            valid_from=p.valid_from,
            valid_to=p.valid_to,
            source=p.source,
            unconfirmed=p.unconfirmed,
        )
        for p in BenefitParameter.objects.all()
    ]
    held = {(row.key, row.qualifier) for row in stored}
    defaults = [row for row in DEFAULT_PARAMETERS if (row.key, row.qualifier) not in held]
    return tuple(stored + defaults)


def benefit_params(*, on: date) -> BenefitParams:
    """All benefit parameters in force on `on` (raises BenefitParameterMissing before 01/07/2019)."""
    stamp = _stamp()
    with _lock:
        if _cache["stamp"] != stamp:
            _cache.update(stamp=stamp, rows=_rows(), by_date={})
        params = _cache["by_date"].get(on)
        if params is None:
            params = params_from_rows(_cache["rows"], on=on)
            _cache["by_date"][on] = params
        return params


def benefit_params_cache_clear() -> None:
    """Forget the cached parameters (after a bulk update that bypasses `changed_at`)."""
    with _lock:
        _cache.update(stamp=None, rows=(), by_date={})


@dataclass(frozen=True)
class LoadReport:
    created: int
    kept: int


@transaction.atomic
def benefit_parameters_load(*, actor: Any = None) -> LoadReport:
    """Write the brief's default parameters that the database does not hold yet (by key,
    qualifier and start date); rows already there, edited or not, are kept as they are."""
    existing = set(BenefitParameter.objects.values_list("key", "qualifier", "valid_from"))
    user = actor if getattr(actor, "is_authenticated", False) else None
    missing = [
        BenefitParameter(
            key=row.key,
            qualifier=row.qualifier,
            value=row.value,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            source=row.source,
            unconfirmed=row.unconfirmed,
            changed_by=user,
        )
        for row in DEFAULT_PARAMETERS
        if (row.key, row.qualifier, row.valid_from) not in existing
    ]
    BenefitParameter.objects.bulk_create(missing)
    if missing:
        audit_record(
            actor=actor,
            action="benefit_parameter.load",
            detail={"created": len(missing), "keys": sorted({p.key for p in missing})},
        )
    return LoadReport(created=len(missing), kept=len(DEFAULT_PARAMETERS) - len(missing))
