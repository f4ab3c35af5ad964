"""Service orders and prescriptions of an encounter, with the safety checks staff expect.

- A drug matching an active allergy of the patient (the same catalog drug, or a shared active
  ingredient, accents and case ignored; see `patients.clinical.allergies`) is refused on `drug_id` unless the doctor gives an
  override reason; the reason is kept on the line and the override is audited.
- The same drug (or the same active ingredient) twice in one prescription is refused on `drug_id`
  unless a duplicate reason is given.
- A dose, frequency, duration or quantity of zero is a field error.
Orders and drugs are written during the examination (outpatient) or the stay (inpatient daily
orders with `for_day`); never on a locked encounter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core import permissions
from ehealth.core.audit import audit_record
from ehealth.core.models import Department, Drug, Facility, MedicalService
from ehealth.core.models.catalogs import CostGroup
from patients.clinical.allergies import (  # noqa: F401 - re-exported for the contract's path
    active_allergies,
    allergy_conflicts,
    allergy_record,
    allergy_void,
    ingredients,
)
from patients.clinical.common import check_version, locked_encounter, move
from patients.clinical_choices import (
    EncounterKind,
    EncounterStatus,
    OrderStatus,
    PrescriptionStatus,
)
from patients.models import (
    Encounter,
    Prescription,
    PrescriptionItem,
    ServiceOrder,
)
from patients.normalize import clean_text

EXAMINE_PERM = "patients.examine_encounter"
DAILY_ORDER_PERM = "patients.write_progress_note"
NOT_ORDERABLE = {
    CostGroup.DRUG,
    CostGroup.SUPPLY,
    CostGroup.DAY_BED,
    CostGroup.INPATIENT_BED,
    CostGroup.OBSERVATION_BED,
}
ORDERING_STATES = {
    EncounterKind.OUTPATIENT: {EncounterStatus.IN_EXAMINATION, EncounterStatus.AWAITING_RESULTS},
    EncounterKind.INPATIENT: {EncounterStatus.ADMITTED},
}
PENDING_ORDER = (OrderStatus.ORDERED, OrderStatus.IN_PROGRESS)


def _audit(actor, action: str, target, patient_id: int, facility: Facility, **detail) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=target,
        patient_id=patient_id,
        detail={"facility_id": facility.pk, **detail},
    )


def _require_any(actor, perms: tuple[str, ...], facility: Facility) -> None:
    if not any(permissions.has_perm_at(actor, p, facility.pk) for p in perms):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))


def _ordering_encounter(*, actor, facility: Facility, encounter) -> Encounter:
    """Lock the encounter for an order or a drug line: doctor's permission (examine, or daily
    orders of a stay), the examination started (outpatient) or the stay open (inpatient)."""
    _require_any(actor, (EXAMINE_PERM, DAILY_ORDER_PERM), facility)
    encounter = locked_encounter(
        actor=actor, facility=facility, encounter=encounter, perm=_first_held(actor, facility)
    )
    if encounter.status not in ORDERING_STATES.get(encounter.kind, set()):
        raise ValidationError(
            {"__all__": [_("Chỉ định và kê đơn sau khi bắt đầu khám (hoặc khi đang điều trị).")]}
        )
    return encounter


def _first_held(actor, facility: Facility) -> str:
    return next(
        p
        for p in (EXAMINE_PERM, DAILY_ORDER_PERM)
        if permissions.has_perm_at(actor, p, facility.pk)
    )


def _int_id(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- Orders ----------------------------------------------------------------------------------


@transaction.atomic
def order_create(
    *,
    actor,
    facility: Facility,
    encounter: Encounter,
    service_id: int,
    quantity=1,
    performing_department_id: int | None = None,
    clinical_note: str = "",
    for_day: date | None = None,
) -> ServiceOrder:
    """Order a lab test, imaging, functional test or procedure from the catalog."""
    encounter = _ordering_encounter(actor=actor, facility=facility, encounter=encounter)
    errors: dict[str, list[str]] = {}
    service = MedicalService.objects.filter(pk=_int_id(service_id), is_active=True).first()
    if service is None or service.group in NOT_ORDERABLE:
        errors["service_id"] = [_("Chọn một dịch vụ kỹ thuật đang dùng trong danh mục.")]
    qty = _positive(quantity)
    if qty is None:
        errors["quantity"] = [_("Số lượng phải lớn hơn 0.")]
    performing = None
    if performing_department_id not in (None, ""):
        performing = Department.objects.filter(
            pk=_int_id(performing_department_id), is_active=True
        ).first()
        if performing is None:
            errors["performing_department_id"] = [_("Khoa thực hiện không hợp lệ.")]
    if errors:
        raise ValidationError(errors)
    order = ServiceOrder.objects.create(
        encounter=encounter,
        service=service,
        quantity=qty,
        ordered_by=actor,
        ordered_at=timezone.now(),
        ordering_department_id=encounter.department_id,
        performing_department=performing,
        for_day=for_day,
        clinical_note=clean_text(clinical_note)[:500],
    )
    _audit(
        actor,
        "order.create",
        order,
        encounter.patient_id,
        facility,
        encounter_id=encounter.pk,
        service_id=service.pk,
    )
    return order


@transaction.atomic
def order_cancel(*, actor, facility: Facility, order: ServiceOrder, reason: str) -> ServiceOrder:
    """Cancel an order not yet resulted (who, when, why kept)."""
    order = ServiceOrder.objects.select_for_update().get(pk=order.pk)
    _ordering_encounter(actor=actor, facility=facility, encounter=order.encounter_id)
    if not clean_text(reason):
        raise ValidationError({"reason": [_("Cần ghi lý do huỷ chỉ định.")]})
    if not order.can_move_to(OrderStatus.CANCELLED):
        raise ValidationError({"status": [_("Chỉ định đã có kết quả hoặc đã huỷ, không thể huỷ.")]})
    order.status = OrderStatus.CANCELLED
    order.cancelled_at, order.cancelled_by = timezone.now(), actor
    order.cancel_reason = clean_text(reason)[:500]
    order.version += 1
    order.save()
    _audit(actor, "order.cancel", order, order.encounter.patient_id, facility)
    return order


def _await_move(*, actor, facility, encounter, expected_version, target, action) -> Encounter:
    encounter = locked_encounter(
        actor=actor, facility=facility, encounter=encounter, perm=EXAMINE_PERM
    )
    check_version(encounter, expected_version)
    if (
        target == EncounterStatus.AWAITING_RESULTS
        and not encounter.orders.filter(status__in=PENDING_ORDER).exists()
    ):
        raise ValidationError({"status": [_("Không có chỉ định nào đang chờ kết quả.")]})
    move(encounter, target)
    encounter.version += 1
    encounter.save(update_fields=["status", "version", "updated_at"])
    _audit(
        actor,
        action,
        encounter,
        encounter.patient_id,
        facility,
        fields=["status"],
        version=encounter.version,
    )
    return encounter


@transaction.atomic
def encounter_await_results(
    *, actor, facility: Facility, encounter: Encounter, expected_version: int
) -> Encounter:
    """The doctor sends the patient for tests: IN_EXAMINATION -> AWAITING_RESULTS (only when
    an order is pending). Results coming in never conclude the visit by themselves."""
    return _await_move(
        actor=actor,
        facility=facility,
        encounter=encounter,
        expected_version=expected_version,
        target=EncounterStatus.AWAITING_RESULTS,
        action="encounter.await_results",
    )


@transaction.atomic
def encounter_resume_examination(
    *, actor, facility: Facility, encounter: Encounter, expected_version: int
) -> Encounter:
    """The patient is back with results: AWAITING_RESULTS -> IN_EXAMINATION."""
    return _await_move(
        actor=actor,
        facility=facility,
        encounter=encounter,
        expected_version=expected_version,
        target=EncounterStatus.IN_EXAMINATION,
        action="encounter.resume_examination",
    )


# --- Prescriptions ---------------------------------------------------------------------------


@dataclass
class PrescriptionItemInput:
    """One drug line of the prescription form."""

    drug_id: int
    dose: object
    dose_unit: str
    route: str
    times_per_day: object
    days: object
    quantity: object
    instructions: str = ""
    allergy_override_reason: str = ""
    duplicate_override_reason: str = ""


def _positive(value) -> Decimal | None:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, AttributeError):
        return None
    return number if number.is_finite() and number > 0 else None


def _whole(value, low: int, high: int) -> int | None:
    number = _positive(value)
    if number is None or number != number.to_integral_value() or not low <= number <= high:
        return None
    return int(number)


def prescription_item_validate(data: PrescriptionItemInput) -> tuple[Drug, dict]:
    """Field checks of a drug line (dose 0 -> error on `dose`)."""
    errors: dict[str, list[str]] = {}
    drug = Drug.objects.filter(pk=_int_id(data.drug_id), is_active=True).first()
    if drug is None:
        errors["drug_id"] = [_("Chọn một thuốc đang dùng trong danh mục.")]
    values = {
        "dose": _positive(data.dose),
        "times_per_day": _whole(data.times_per_day, 1, 24),
        "days": _whole(data.days, 1, 365),
        "quantity": _positive(data.quantity),
        "dose_unit": clean_text(data.dose_unit)[:30],
        "route": clean_text(data.route or (drug.route if drug else ""))[:50],
    }
    messages = {
        "dose": _("Liều mỗi lần phải lớn hơn 0."),
        "times_per_day": _("Số lần dùng mỗi ngày phải từ 1 đến 24."),
        "days": _("Số ngày dùng phải từ 1 đến 365."),
        "quantity": _("Số lượng phải lớn hơn 0."),
        "dose_unit": _("Cần ghi đơn vị liều."),
        "route": _("Cần ghi đường dùng."),
    }
    for name, value in values.items():
        if value in (None, ""):
            errors[name] = [messages[name]]
    if errors:
        raise ValidationError(errors)
    for name in ("dose", "quantity"):
        values[name] = values[name].quantize(Decimal("0.001"))
    return drug, values


def _draft_for(encounter: Encounter, actor, for_day: date | None) -> Prescription:
    draft = (
        Prescription.objects.filter(
            encounter=encounter, status=PrescriptionStatus.DRAFT, for_day=for_day
        )
        .order_by("-id")
        .first()
    )
    if draft is None:
        draft = Prescription.objects.create(
            encounter=encounter, prescribed_by=actor, prescribed_at=timezone.now(), for_day=for_day
        )
    return draft


def _duplicates(encounter: Encounter, drug: Drug, for_day: date | None) -> bool:
    """The drug, or one sharing its active ingredient, already in this encounter/day's drugs."""
    live = PrescriptionItem.objects.filter(
        prescription__encounter=encounter,
        prescription__for_day=for_day,
        voided_at__isnull=True,
    ).exclude(prescription__status=PrescriptionStatus.CANCELLED)
    wanted = ingredients(drug.active_ingredient)
    return any(
        item.drug_id == drug.pk or (wanted and ingredients(item.drug.active_ingredient) == wanted)
        for item in live.select_related("drug")
    )


@transaction.atomic
def prescription_add_item(
    *,
    actor,
    facility: Facility,
    encounter: Encounter,
    data: PrescriptionItemInput,
    for_day: date | None = None,
) -> PrescriptionItem:
    """Add a drug line to the encounter's (or the day's) draft prescription, with the allergy
    and duplicate-drug checks; overrides need a reason, are kept on the line and audited."""
    drug, values = prescription_item_validate(data)
    encounter = _ordering_encounter(actor=actor, facility=facility, encounter=encounter)
    allergy_reason = clean_text(data.allergy_override_reason)[:500]
    duplicate_reason = clean_text(data.duplicate_override_reason)[:500]
    errors: dict[str, list[str]] = {}
    conflicts = allergy_conflicts(drug, active_allergies(encounter.patient_id))
    if conflicts and not allergy_reason:
        errors["drug_id"] = [
            _("Người bệnh dị ứng với %(substance)s. Chỉ kê khi có lý do (ghi vào ô lý do vẫn kê).")
            % {"substance": ", ".join(a.substance for a in conflicts)}
        ]
    duplicate = _duplicates(encounter, drug, for_day)
    if duplicate and not duplicate_reason:
        errors.setdefault("drug_id", []).append(
            _("Thuốc này (hoặc cùng hoạt chất) đã có trong đơn. Ghi lý do nếu vẫn kê trùng.")
        )
    if errors:
        raise ValidationError(errors)
    prescription = _draft_for(encounter, actor, for_day)
    item = PrescriptionItem.objects.create(
        prescription=prescription,
        drug=drug,
        instructions=clean_text(data.instructions)[:500],
        allergy_override_reason=allergy_reason if conflicts else "",
        duplicate_override_reason=duplicate_reason if duplicate else "",
        **values,
    )
    _audit(
        actor,
        "prescription.add_item",
        item,
        encounter.patient_id,
        facility,
        encounter_id=encounter.pk,
        prescription_id=prescription.pk,
        drug_id=drug.pk,
        allergy_override=bool(conflicts),
        allergy_ids=[a.pk for a in conflicts],
        duplicate_override=duplicate,
    )
    return item


@transaction.atomic
def prescription_issue(
    *, actor, facility: Facility, prescription: Prescription, note: str = ""
) -> Prescription:
    """Sign the draft prescription (it can then be printed); it needs at least one drug."""
    prescription = Prescription.objects.select_for_update().get(pk=prescription.pk)
    encounter = _ordering_encounter(
        actor=actor, facility=facility, encounter=prescription.encounter_id
    )
    if prescription.status != PrescriptionStatus.DRAFT:
        raise ValidationError({"status": [_("Đơn thuốc đã được kê hoặc đã huỷ.")]})
    if not prescription.items.filter(voided_at__isnull=True).exists():
        raise ValidationError({"__all__": [_("Đơn thuốc chưa có thuốc nào.")]})
    prescription.status = PrescriptionStatus.ISSUED
    prescription.prescribed_by, prescription.prescribed_at = actor, timezone.now()
    prescription.note = (note or prescription.note).strip()
    prescription.version += 1
    prescription.save()
    _audit(actor, "prescription.issue", prescription, encounter.patient_id, facility)
    return prescription


@transaction.atomic
def prescription_item_void(
    *, actor, facility: Facility, item: PrescriptionItem, reason: str
) -> PrescriptionItem:
    """Remove a drug line from a draft prescription (voided, kept with who and why)."""
    item = (
        PrescriptionItem.objects.select_for_update().select_related("prescription").get(pk=item.pk)
    )
    encounter = _ordering_encounter(
        actor=actor, facility=facility, encounter=item.prescription.encounter_id
    )
    if item.prescription.status != PrescriptionStatus.DRAFT:
        raise ValidationError({"__all__": [_("Chỉ bỏ thuốc khỏi đơn đang kê.")]})
    if not clean_text(reason):
        raise ValidationError({"reason": [_("Cần ghi lý do bỏ thuốc.")]})
    if item.voided_at is None:
        item.voided_at, item.voided_by = timezone.now(), actor
        item.void_reason = clean_text(reason)[:500]
        item.save(update_fields=["voided_at", "voided_by", "void_reason"])
        _audit(actor, "prescription.void_item", item, encounter.patient_id, facility)
    return item
