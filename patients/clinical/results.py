"""Results of service orders, entered by the performing department.

Rules: results are entered by staff holding `enter_results` at the performing department's
facility (the ordering facility when no performing department was named). A numeric value below
the reference range is flagged L, above it H, inside it N; a value that is not a number (e.g.
"âm tính") carries no flag. RESULTED sets NGAY_KQ (`resulted_at`). Results are written on the
order, not on the visit notes, so they may arrive after the visit was concluded; they never
conclude a visit by themselves. The ordering doctor sees them on the visit and the worklist.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record
from ehealth.core.models import Facility
from patients.clinical.common import check_version, require_perm
from patients.clinical_choices import EncounterStatus, OrderStatus, ResultFlag
from patients.models import ResultValue, ServiceOrder
from patients.normalize import clean_text

RESULTS_PERM = "patients.enter_results"


@dataclass
class ResultValueInput:
    """One measured value with its unit and reference range."""

    code: str
    name: str
    value: str
    unit: str = ""
    reference_low: object = None
    reference_high: object = None


def _decimal(value) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def result_flag(value: Decimal | None, low: Decimal | None, high: Decimal | None) -> str:
    """L below the range, H above it, N inside; '' without a number or without any bound."""
    if value is None or (low is None and high is None):
        return ""
    if low is not None and value < low:
        return ResultFlag.LOW
    if high is not None and value > high:
        return ResultFlag.HIGH
    return ResultFlag.NORMAL


def performing_facility_id(order: ServiceOrder) -> int:
    if order.performing_department_id:
        return order.performing_department.facility_id
    return order.encounter.facility_id


def _order_for_work(*, actor, facility: Facility, order: ServiceOrder) -> ServiceOrder:
    """Lock the order; the acting facility must be the performing one (else 404)."""
    require_perm(actor, RESULTS_PERM, facility.pk)
    order = (
        ServiceOrder.objects.select_for_update(of=("self",))
        .select_related("encounter", "performing_department")
        .filter(pk=order.pk)
        .first()
    )
    if order is None or performing_facility_id(order) != facility.pk:
        raise Http404
    if order.encounter.status == EncounterStatus.CANCELLED:
        raise ValidationError({"status": [_("Lượt khám đã huỷ.")]})
    return order


def _audit(actor, action: str, order: ServiceOrder, facility: Facility, **detail) -> None:
    audit_record(
        actor=actor,
        action=action,
        target=order,
        patient_id=order.encounter.patient_id,
        detail={"facility_id": facility.pk, "encounter_id": order.encounter_id, **detail},
    )


@transaction.atomic
def order_start(*, actor, facility: Facility, order: ServiceOrder) -> ServiceOrder:
    """The performing department takes the sample or starts the study: ORDERED -> IN_PROGRESS."""
    order = _order_for_work(actor=actor, facility=facility, order=order)
    if not order.can_move_to(OrderStatus.IN_PROGRESS):
        raise ValidationError({"status": [_("Chỉ định không ở trạng thái chờ thực hiện.")]})
    order.status = OrderStatus.IN_PROGRESS
    order.performed_at, order.performed_by = timezone.now(), actor
    order.version += 1
    order.save()
    _audit(actor, "order.start", order, facility)
    return order


def result_values_validate(values: list[ResultValueInput]) -> list[dict]:
    """Each value needs a name and a result; a reference range must not be upside down."""
    errors: list[str] = []
    rows = []
    for i, v in enumerate(values, start=1):
        name, value = clean_text(v.name), clean_text(v.value)
        low, high = _decimal(v.reference_low), _decimal(v.reference_high)
        if not name or not value:
            errors.append(_("Dòng %(n)d: cần tên chỉ số và kết quả.") % {"n": i})
            continue
        if v.reference_low not in (None, "") and low is None:
            errors.append(_("Dòng %(n)d: giới hạn dưới phải là số.") % {"n": i})
        if v.reference_high not in (None, "") and high is None:
            errors.append(_("Dòng %(n)d: giới hạn trên phải là số.") % {"n": i})
        if low is not None and high is not None and low > high:
            errors.append(_("Dòng %(n)d: giới hạn dưới lớn hơn giới hạn trên.") % {"n": i})
        numeric = _decimal(value)
        rows.append(
            {
                "code": clean_text(v.code)[:50],
                "name": name[:255],
                "value": value[:50],
                "numeric_value": numeric,
                "unit": clean_text(v.unit)[:50],
                "reference_low": low,
                "reference_high": high,
                "flag": result_flag(numeric, low, high),
            }
        )
    if errors:
        raise ValidationError({"values": errors})
    return rows


@transaction.atomic
def result_enter(
    *,
    actor,
    facility: Facility,
    order: ServiceOrder,
    values: list[ResultValueInput],
    conclusion: str = "",
    description: str = "",
    expected_version: int,
) -> ServiceOrder:
    """Enter the result of an order (values flagged L/H/N, or an imaging conclusion)."""
    order = _order_for_work(actor=actor, facility=facility, order=order)
    check_version(order, expected_version)
    if not order.can_move_to(OrderStatus.RESULTED):
        raise ValidationError({"status": [_("Chỉ định đã có kết quả hoặc đã huỷ.")]})
    rows = result_values_validate(values or [])
    conclusion, description = (conclusion or "").strip(), (description or "").strip()
    if not rows and not conclusion:
        raise ValidationError({"conclusion": [_("Cần nhập kết quả hoặc kết luận.")]})
    now = timezone.now()
    ResultValue.objects.bulk_create(
        ResultValue(order=order, entered_by=actor, entered_at=now, **row) for row in rows
    )
    order.status = OrderStatus.RESULTED
    order.resulted_at = now
    if order.performed_at is None:
        order.performed_at, order.performed_by = now, actor
    order.result_conclusion, order.result_description = conclusion, description
    order.version += 1
    order.save()
    flags = [r["flag"] for r in rows]
    _audit(
        actor,
        "result.enter",
        order,
        facility,
        value_count=len(rows),
        out_of_range=sum(f in (ResultFlag.LOW, ResultFlag.HIGH) for f in flags),
        version=order.version,
    )
    return order
