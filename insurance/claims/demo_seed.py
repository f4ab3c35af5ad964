"""Demo claim dossiers: last month's claimable visits of a facility billed and made into dossiers,
so the insurance officer's workspace (/claims/) has ready (and some invalid) dossiers to batch.

`demo_dossiers_build` takes the encounters of the settlement period still waiting for a dossier
(`workspace.claimable_encounters`: ended in the period, with a card, concluded or discharged), the
earliest first, at most `limit`; bills each one without an invoice (`billing.demo`, as the
cashier; an encounter that cannot be priced is skipped and counted) and builds its dossier
(`dossier_build`, as the insurance officer, signed with the unit's certificate), one transaction
per dossier: a record the rules refuse is counted, never failing the seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import F
from django.http import Http404

from billing.demo import demo_invoices_build
from ehealth.core.exceptions import DomainError
from ehealth.core.models import Facility
from insurance.claims.models import DossierStatus
from insurance.claims.services import dossier_build
from insurance.claims.signing import SigningMaterial, signing_material
from insurance.claims.workspace import Period, claimable_encounters

DEMO_DOSSIER_LIMIT = 60


@dataclass
class DemoDossierResult:
    period: Period
    ready: int = 0
    invalid: int = 0
    uncharged: int = 0  # skipped: the bill could not be made (chiefly an unpriced item)
    refused: int = 0  # skipped: dossier_build refused the encounter

    @property
    def built(self) -> int:
        return self.ready + self.invalid


def previous_period(period: Period | None = None) -> Period:
    """The month before `period` (default: the current month, Asia/Ho_Chi_Minh)."""
    period = period or Period.current()
    if period.month == 1:
        return Period(period.year - 1, 12)
    return Period(period.year, period.month - 1)


def demo_dossiers_build(
    *,
    cashier,
    officer,
    facility: Facility,
    period: Period,
    material: Callable[[], SigningMaterial] = signing_material,
    limit: int = DEMO_DOSSIER_LIMIT,
) -> DemoDossierResult:
    """Bill and build the dossiers of up to `limit` of the period's waiting encounters.
    `material` gives the signing key and certificate, asked once, only when there is a dossier
    to build."""
    result = DemoDossierResult(period=period)
    if limit <= 0:
        return result
    waiting = list(
        claimable_encounters(facility=facility, period=period)
        .filter(claim_dossier__isnull=True)
        .order_by(F("period_at").asc(), "pk")[:limit]
    )
    bills = demo_invoices_build(actor=cashier, facility=facility, encounters=waiting)
    result.uncharged = bills.uncharged + bills.refused
    if not bills.billed:
        return result
    signing = material()
    for encounter in waiting:
        if encounter.pk not in bills.billed:
            continue
        try:
            version = dossier_build(
                actor=officer, facility=facility, encounter=encounter, material=signing
            )
        except (ValidationError, DomainError, PermissionDenied, Http404):
            result.refused += 1
            continue
        if version.dossier.status == DossierStatus.READY:
            result.ready += 1
        else:
            result.invalid += 1
    return result


__all__ = ["DEMO_DOSSIER_LIMIT", "DemoDossierResult", "demo_dossiers_build", "previous_period"]
