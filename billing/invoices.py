"""The invoice of an encounter (an outpatient visit or a whole stay): the benefit engine's split of
its active charge lines, grouped by the cost groups of the cost statement.

`invoice_build` reads the card the patient presented for the visit (`insurance.cards`), asks the
benefit engine for the split of every line (`insurance.benefits.engine.split_lines`, parameters
of the visit's date), writes the split on each line and the totals on the invoice. Its number of
queries does not depend on the number of lines. Build after `charges_derive`; rebuilding bumps
`version`.

Route of the visit (the engine's VisitContext.route), from how the patient came:
emergency -> emergency; referral or transfer in -> referral; registered or follow-up -> correct;
self-referred -> correct when the card is registered at this facility, else self_referred.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from billing.charges import local_day
from billing.models import ChargeLine, ChargeStatus, Invoice, InvoiceStatus
from ehealth.core import permissions
from ehealth.core.audit import audit_record
from ehealth.core.models import Facility
from ehealth.core.models.catalogs import CostGroup
from ehealth.core.money import quantize_money
from insurance.benefits.engine import split_lines
from insurance.benefits.parameters import benefit_params
from insurance.benefits.types import ChargeLineInput, VisitContext
from insurance.cards import card_context, card_for_visit, card_ownership_problem, card_split
from patients.clinical_choices import ArrivalMode, EncounterKind
from patients.models import Encounter

PREPARE_PERM = "billing.prepare_invoice"
ZERO = Decimal(0)
SPLIT_FIELDS = ("hospital_amount", "bhyt_amount", "fund", "copay", "self_pay", "other")

_ROUTES = {
    ArrivalMode.EMERGENCY: "emergency",
    ArrivalMode.REFERRAL: "referral",
    ArrivalMode.TRANSFER_IN: "referral",
    ArrivalMode.REGISTERED: "correct",
    ArrivalMode.FOLLOW_UP: "correct",
}


def visit_route(*, arrival_mode: str, card_facility_code: str, facility_code: str) -> str:
    """The engine's route of a visit (see the module docstring)."""
    if arrival_mode in _ROUTES:
        return _ROUTES[arrival_mode]
    if card_facility_code and card_facility_code == facility_code:
        return "correct"
    return "self_referred"


def visit_day(encounter: Encounter) -> date:
    """The date rates and parameters are taken for: the start of the episode (local day)."""
    return local_day(encounter.started_at)


def _card_and_context(encounter: Encounter, on: date):
    """(InsuranceCard | None, CardContext | None) of the card presented for the visit.

    A code that is not the patient's (held by another patient, or another BHXH number) is
    refused, nothing written. A code with no card recorded or valid that day pays nothing
    (the engine's "no card")."""
    code = (encounter.insurance_card_code or "").strip().upper()
    if not code:
        return None, None
    card = card_for_visit(
        patient=encounter.patient, code=code, on=on, admitted_at=encounter.admitted_at
    )
    if card is None:
        try:
            parts = card_split(code)
        except ValidationError:
            parts = None
        problem = card_ownership_problem(patient=encounter.patient, parts=parts) if parts else ""
        if problem:
            raise ValidationError({"insurance_card_code": [problem]})
        return None, None
    return card, card_context(card)


def _visit_context(encounter: Encounter, facility: Facility, on: date, card) -> VisitContext:
    return VisitContext(
        on=on,
        kind="inpatient" if encounter.kind == EncounterKind.INPATIENT else "outpatient",
        route=visit_route(
            arrival_mode=encounter.arrival_mode,
            card_facility_code=(card.registered_facility_code if card else "")
            or encounter.registered_facility_code,
            facility_code=facility.code,
        ),
        facility_level=facility.level,
        facility_kind=facility.kind,
        facility_code=facility.code,
    )


def _line_input(line: ChargeLine) -> ChargeLineInput:
    return ChargeLineInput(
        ref=str(line.pk),
        cost_group=line.cost_group,
        quantity=line.quantity,
        hospital_price=line.hospital_price,
        bhyt_price=line.bhyt_price,
        in_scope=line.in_scope,
        service_ratio=line.service_ratio,
        bhyt_ratio=line.bhyt_ratio,
    )


def group_totals(lines) -> list[dict]:
    """Totals per cost group (MA_NHOM), in cost-group order, as JSON-ready strings."""
    acc: dict[int, dict[str, Decimal]] = defaultdict(lambda: dict.fromkeys(SPLIT_FIELDS, ZERO))
    for line in lines:
        for name in SPLIT_FIELDS:
            acc[line.cost_group][name] += getattr(line, name)
    labels = dict(CostGroup.choices)
    return [
        {
            "cost_group": group,
            "name": str(labels.get(group, group)),
            **{name: str(quantize_money(value)) for name, value in acc[group].items()},
        }
        for group in sorted(acc)
    ]


_SPLIT_UPDATE = """
UPDATE billing_chargeline AS c
SET invoice_id = %s, updated_at = %s, benefit_rate = v.benefit_rate,
    hospital_amount = v.hospital_amount, bhyt_amount = v.bhyt_amount, fund = v.fund,
    copay = v.copay, self_pay = v.self_pay, other = v.other
FROM (VALUES {rows}) AS v(id, benefit_rate, hospital_amount, bhyt_amount, fund, copay, self_pay,
                          other)
WHERE c.id = v.id
"""
_SPLIT_ROW = "(%s::bigint, %s::numeric, %s::numeric, %s::numeric, %s::numeric, %s::numeric, "
_SPLIT_ROW += "%s::numeric, %s::numeric)"


def _splits_write(lines: list[ChargeLine], *, invoice_id: int, now) -> None:
    """Write the split of every line in one UPDATE ... FROM (VALUES ...) statement (Django's
    bulk_update builds one CASE per column and line, which is slow for a stay's 2,000 lines)."""
    if not lines:
        return
    params: list = [invoice_id, now]
    for line in lines:
        params += [line.pk, line.benefit_rate, *(getattr(line, f) for f in SPLIT_FIELDS)]
    sql = _SPLIT_UPDATE.format(rows=", ".join([_SPLIT_ROW] * len(lines)))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@transaction.atomic
def invoice_build(*, actor, facility: Facility, encounter: Encounter) -> Invoice:
    """Create or rebuild the invoice of an encounter from its active charge lines.

    Refused for a settled stay, and when the patient has already paid more than the rebuilt
    amount (refund the difference first): nothing is written then.
    """
    if not permissions.has_perm_at(actor, PREPARE_PERM, facility.pk):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))
    encounter = (
        Encounter.objects.select_for_update(of=("self",))
        .select_related("patient")
        .filter(pk=encounter.pk, facility=facility, voided_at__isnull=True)
        .first()
    )
    if encounter is None:
        raise Http404
    invoice = (
        Invoice.objects.select_for_update()
        .filter(encounter=encounter)
        .exclude(status=InvoiceStatus.CANCELLED)
        .first()
    )
    if invoice is not None and invoice.status == InvoiceStatus.SETTLED:
        raise ValidationError(_("Đợt điều trị đã quyết toán: không lập lại hoá đơn."))

    on = visit_day(encounter)
    card, card_ctx = _card_and_context(encounter, on)
    visit = _visit_context(encounter, facility, on, card)
    lines = list(
        ChargeLine.objects.filter(encounter=encounter, status=ChargeStatus.ACTIVE).order_by(
            "cost_group", "service_date", "id"
        )
    )
    result = split_lines(
        card=card_ctx,
        visit=visit,
        lines=[_line_input(line) for line in lines],
        params=benefit_params(on=on),
    )
    totals = result.totals
    patient_amount = totals.copay + totals.self_pay
    paid = invoice.paid_amount if invoice is not None else ZERO
    if paid > patient_amount:
        raise ValidationError(
            _(
                "Người bệnh đã nộp %(paid)s đồng, nhiều hơn số phải trả sau khi tính lại "
                "(%(owed)s đồng). Hãy hoàn lại phần chênh lệch trước khi lập lại hoá đơn."
            )
            % {"paid": f"{paid:,.0f}", "owed": f"{patient_amount:,.0f}"}
        )

    now = timezone.now()
    if invoice is None:
        invoice = Invoice(
            encounter=encounter, facility=facility, patient_id=encounter.patient_id, version=1
        )
    else:
        invoice.version += 1
    invoice.card = card
    invoice.card_code = card.code if card is not None else ""
    invoice.route = visit.route
    invoice.benefit_rate = result.benefit_rate if card is not None else None
    invoice.reasons = list(result.reasons)
    invoice.total_hospital = totals.hospital_amount
    invoice.total_bhyt = totals.bhyt_amount
    invoice.total_fund = totals.fund
    invoice.total_copay = totals.copay
    invoice.total_self_pay = totals.self_pay
    invoice.total_other = totals.other
    invoice.patient_amount = patient_amount
    if encounter.kind == EncounterKind.OUTPATIENT and paid == patient_amount:
        invoice.status = InvoiceStatus.PAID
    else:
        invoice.status = InvoiceStatus.OPEN
    invoice.built_at, invoice.built_by = now, actor
    for line, split in zip(lines, result.lines, strict=True):
        line.benefit_rate = split.benefit_rate
        for name in SPLIT_FIELDS:
            setattr(line, name, getattr(split, name))
        line.updated_at = now
    invoice.groups = group_totals(lines)
    invoice.save()
    for line in lines:
        line.invoice = invoice
    _splits_write(lines, invoice_id=invoice.pk, now=now)

    audit_record(
        actor=actor,
        action="invoice.build",
        target=invoice,
        patient_id=encounter.patient_id,
        detail={
            "facility_id": facility.pk,
            "encounter_id": encounter.pk,
            "version": invoice.version,
            "lines": len(lines),
            "card_id": card.pk if card is not None else None,
            "benefit_rate": str(invoice.benefit_rate) if invoice.benefit_rate is not None else "",
            "total": str(invoice.total_hospital),
            "patient_amount": str(invoice.patient_amount),
        },
    )
    return invoice
