"""Reads of billing that need care: scoped querysets, and the data of the receipt and the cost
statement (`billing.pdf.data` dataclasses), each built with a fixed number of queries whatever the
number of lines. No writes here (callers audit the read where it shows patient data).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.utils import timezone

from billing.models import (
    ChargeLine,
    ChargeStatus,
    Invoice,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from billing.pdf.data import (
    ROUTE_CORRECT,
    ROUTE_EMERGENCY,
    ROUTE_THONG_TUYEN,
    ROUTE_WRONG,
    BankAccount,
    CostStatementBlock,
    CostStatementDoc,
    CostStatementRow,
    FacilityHeader,
    ReceiptDoc,
    ReceiptLine,
    Split,
)
from ehealth.core import permissions
from ehealth.core.models import Facility
from ehealth.core.models.catalogs import CostGroup
from patients.choices import IdentifierSystem
from patients.clinical_choices import DiagnosisPhase, EncounterKind
from patients.models import Diagnosis, PatientIdentifier
from patients.validation import VN_TZ

VIEW_PERM = "billing.view_invoice"
ZERO = Decimal(0)
_GROUP_LABELS = dict(CostGroup.choices)


def invoices_visible(*, user) -> QuerySet[Invoice]:
    """Invoices of the facilities where the user may view invoices."""
    return Invoice.objects.filter(
        facility_id__in=permissions.facility_ids_with_perm(user, VIEW_PERM)
    )


def invoice_for_encounter(*, encounter_id: int) -> Invoice | None:
    """The live (not cancelled) invoice of an encounter, if built."""
    return Invoice.objects.filter(encounter_id=encounter_id).exclude(status="cancelled").first()


def invoice_lines(*, invoice: Invoice) -> QuerySet[ChargeLine]:
    """The active lines of an invoice in cost-statement order (cost group, day)."""
    return ChargeLine.objects.filter(invoice=invoice, status=ChargeStatus.ACTIVE).order_by(
        "cost_group", "service_date", "id"
    )


def invoices_for_encounters(*, encounter_ids) -> dict[int, Invoice]:
    """`invoice_for_encounter` for several encounters in one query: encounter id -> its live
    invoice (encounters without one are left out)."""
    invoices = Invoice.objects.filter(encounter_id__in=list(encounter_ids))
    return {i.encounter_id: i for i in invoices.exclude(status="cancelled")}


def invoices_lines(*, invoices) -> QuerySet[ChargeLine]:
    """`invoice_lines` for several invoices in one query: each invoice's active lines together,
    in cost-statement order."""
    return ChargeLine.objects.filter(
        invoice__in=[i.pk for i in invoices], status=ChargeStatus.ACTIVE
    ).order_by("invoice_id", "cost_group", "service_date", "id")


# --- Shared pieces -------------------------------------------------------------------------------


def facility_header(facility: Facility) -> FacilityHeader:
    return FacilityHeader(
        name=facility.name,
        code=facility.code,
        address=facility.address,
        phone=facility.phone,
        managing_body=facility.managing_body,
    )


def payee_account(facility=None) -> BankAccount | None:
    """The account receiving bank transfers: the facility's own (Facility.bank_*), else the
    settings BILLING_BANK_* (one account for a single-unit install); None when neither is set."""
    if facility is not None and facility.bank_bin and facility.bank_account:
        return BankAccount(
            bank_bin=facility.bank_bin,
            account=facility.bank_account,
            holder_name=facility.bank_account_name,
            bank_name=facility.bank_name,
        )
    bin_, account = (
        getattr(settings, "BILLING_BANK_BIN", ""),
        getattr(settings, "BILLING_BANK_ACCOUNT", ""),
    )
    if not (bin_ and account):
        return None
    return BankAccount(
        bank_bin=bin_,
        account=account,
        holder_name=getattr(settings, "BILLING_BANK_HOLDER", ""),
        bank_name=getattr(settings, "BILLING_BANK_NAME", ""),
    )


def line_split(line: ChargeLine) -> Split:
    return Split(
        hospital_amount=line.hospital_amount,
        fund=line.fund,
        copay=line.copay,
        self_pay=line.self_pay,
        other=line.other,
        bhyt_amount=line.bhyt_amount,
    )


def invoice_split(invoice: Invoice) -> Split:
    return Split(
        hospital_amount=invoice.total_hospital,
        fund=invoice.total_fund,
        copay=invoice.total_copay,
        self_pay=invoice.total_self_pay,
        other=invoice.total_other,
        bhyt_amount=invoice.total_bhyt,
    )


def _record_number(patient_id: int, facility_id: int) -> str:
    return (
        PatientIdentifier.objects.filter(
            patient_id=patient_id,
            facility_id=facility_id,
            system=IdentifierSystem.MRN,
            voided_at__isnull=True,
        )
        .values_list("value", flat=True)
        .first()
        or ""
    )


def _address(patient) -> str:
    parts = [patient.address_line]
    parts += [getattr(patient.commune, "name", ""), getattr(patient.province, "name", "")]
    return ", ".join(p for p in parts if p) or patient.legacy_address


def _person_name(user) -> str:
    if user is None:
        return ""
    return user.full_name or user.username


# --- Receipt -------------------------------------------------------------------------------------


def receipt_data(*, payment: Payment) -> ReceiptDoc:
    """The receipt of one payment (five queries, whatever the number of lines)."""
    payment = Payment.objects.select_related(
        "facility",
        "received_by",
        "invoice__encounter__department",
        "invoice__patient__commune",
        "invoice__patient__province",
    ).get(pk=payment.pk)
    invoice = payment.invoice
    encounter, patient = invoice.encounter, invoice.patient
    lines = list(invoice_lines(invoice=invoice))
    earlier = Payment.objects.filter(
        invoice=invoice, status=PaymentStatus.COMPLETED, received_at__lt=payment.received_at
    ).aggregate(t=Sum("amount"))["t"]
    labels = dict(PaymentMethod.choices)
    return ReceiptDoc(
        facility=facility_header(payment.facility),
        number=payment.number,
        issued_at=payment.received_at,
        cashier_name=_person_name(payment.received_by),
        patient_name=patient.full_name,
        invoice_number=invoice.number,
        lines=tuple(
            ReceiptLine(
                name=line.item_name,
                quantity=line.quantity,
                unit_price=line.hospital_price,
                split=line_split(line),
                cost_group=line.cost_group,
                cost_group_name=str(_GROUP_LABELS.get(line.cost_group, line.cost_group)),
                unit=line.unit,
                code=line.item_code,
                benefit_rate=line.benefit_rate if invoice.card_id else None,
            )
            for line in lines
        ),
        totals=invoice_split(invoice),
        amount_paid=payment.amount,
        method=payment.method,
        method_label=str(labels.get(payment.method, payment.method)),
        patient_code=_record_number(patient.pk, invoice.facility_id),
        birth_year=patient.birth_year,
        address=_address(patient),
        card_code=invoice.card_code,
        benefit_rate=invoice.benefit_rate,
        visit_number=encounter.claim_key,
        department=encounter.department.name if encounter.department else "",
        previously_paid=earlier or ZERO,
        deposits_applied=invoice.deposits_applied,
        amount_due=max(invoice.amount_due, ZERO),
        payee=payee_account(payment.facility),
        note="" if payment.status == PaymentStatus.COMPLETED else str(payment.void_reason),
    )


# --- Cost statement (01/KBCB) ------------------------------------------------------------------


def _route_box(invoice: Invoice) -> str:
    if invoice.route == "emergency":
        return ROUTE_EMERGENCY
    if invoice.route in ("correct", "referral"):
        return ROUTE_CORRECT
    if invoice.route == "self_referred":
        level = invoice.facility.level
        return (
            ROUTE_THONG_TUYEN
            if level in (Facility.Level.BASIC, Facility.Level.PRIMARY)
            else (ROUTE_WRONG)
        )
    return ""


def _blocks(invoice: Invoice, lines: list[ChargeLine]) -> tuple[CostStatementBlock, ...]:
    """One block per card and benefit rate; lines the fund pays nothing of form a block with no
    card (and so does everything when there is no card)."""
    grouped: dict[tuple[str, Decimal | None], list[CostStatementRow]] = defaultdict(list)
    for line in lines:
        covered = bool(invoice.card_id) and line.bhyt_amount > 0
        key = (invoice.card_code, line.benefit_rate) if covered else ("", None)
        grouped[key].append(
            CostStatementRow(
                name=line.item_name,
                unit=line.unit,
                quantity=line.quantity,
                hospital_price=line.hospital_price,
                bhyt_price=line.bhyt_price,
                split=line_split(line),
                cost_group=line.cost_group,
                cost_group_name=str(_GROUP_LABELS.get(line.cost_group, line.cost_group)),
                service_ratio=line.service_ratio,
                bhyt_ratio=line.bhyt_ratio,
                code=line.item_code,
            )
        )
    order = sorted(grouped, key=lambda k: (k[0] == "", -(k[1] or ZERO)))
    return tuple(
        CostStatementBlock(rows=tuple(grouped[k]), card_code=k[0], benefit_rate=k[1]) for k in order
    )


def cost_statement_data(*, invoice: Invoice) -> CostStatementDoc:
    """Bảng kê chi phí (form 01/KBCB) of an invoice (six queries, whatever the number of lines)."""
    invoice = Invoice.objects.select_related(
        "facility",
        "card",
        "built_by",
        "encounter__department",
        "patient__commune",
        "patient__province",
    ).get(pk=invoice.pk)
    encounter, patient, card = invoice.encounter, invoice.patient, invoice.card
    lines = list(invoice_lines(invoice=invoice))
    inpatient = encounter.kind == EncounterKind.INPATIENT
    phase = DiagnosisPhase.DISCHARGE if inpatient else DiagnosisPhase.ENCOUNTER
    diagnoses = list(
        Diagnosis.objects.filter(encounter=encounter, voided_at__isnull=True)
        .filter(phase__in=[phase, DiagnosisPhase.ENCOUNTER])
        .order_by("rank")
    )
    preferred = [d for d in diagnoses if d.phase == phase] or diagnoses
    main = next((d for d in preferred if d.rank == 0), None)
    others = [d for d in preferred if d.rank != 0]
    registered_code = (card.registered_facility_code if card else "") or (
        encounter.registered_facility_code
    )
    registered_name = (
        Facility.objects.filter(code=registered_code).values_list("name", flat=True).first()
        if registered_code
        else None
    )
    return CostStatementDoc(
        facility=facility_header(invoice.facility),
        visit_number=encounter.claim_key,
        patient_name=patient.full_name,
        birth_year=patient.birth_year,
        sex=str(patient.get_sex_display()),
        blocks=_blocks(invoice, lines),
        printed_on=timezone.localdate(timezone=VN_TZ),
        inpatient=inpatient,
        statement_number=invoice.number,
        patient_code=_record_number(patient.pk, invoice.facility_id),
        birth_date=patient.birth_date,
        address=_address(patient),
        area_code=card.region_code if card else "",
        card_code=invoice.card_code,
        card_valid_from=card.valid_from if card else None,
        card_valid_to=card.valid_to if card else None,
        registered_facility_name=registered_name or "",
        registered_facility_code=registered_code,
        five_years_date=card.five_years_date if card else None,
        copay_exempt_from=card.copay_exempt_from if card else None,
        department=encounter.department.name if encounter.department else "",
        department_code=encounter.department.code if encounter.department else "",
        arrived_at=encounter.started_at,
        started_at=encounter.admitted_at or encounter.started_at,
        ended_at=encounter.ended_at,
        treatment_days=encounter.treatment_days,
        discharge_status=str(encounter.get_discharge_type_display() or ""),
        treatment_result=str(encounter.get_treatment_result_display() or ""),
        route=_route_box(invoice),
        referred_from=encounter.referral_from_code,
        referred_to=encounter.transfer_to_code,
        main_diagnosis=main.text if main else "",
        main_icd=main.icd_code if main else "",
        other_diagnoses="; ".join(d.text for d in others),
        other_icd=";".join(d.icd_code for d in others),
        prepared_by=_person_name(invoice.built_by),
    )
