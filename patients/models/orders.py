"""Orders and results (lab, imaging, procedures) and prescriptions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patients.clinical_choices import (
    ORDER_TRANSITIONS,
    OrderStatus,
    PrescriptionStatus,
    ResultFlag,
)

USER = settings.AUTH_USER_MODEL


class ServiceOrder(models.Model):
    """A service ordered for an encounter (lab test, imaging, functional test, procedure).

    Times are the claim's NGAY_YL (ordered_at), NGAY_TH_YL (performed_at) and NGAY_KQ (resulted_at).
    """

    encounter = models.ForeignKey(
        "patients.Encounter", on_delete=models.PROTECT, related_name="orders"
    )
    service = models.ForeignKey("core.MedicalService", on_delete=models.PROTECT, related_name="+")
    quantity = models.DecimalField(_("số lượng"), max_digits=10, decimal_places=3, default=1)
    status = models.CharField(
        max_length=12, choices=OrderStatus.choices, default=OrderStatus.ORDERED
    )
    ordered_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    ordered_at = models.DateTimeField(_("thời điểm chỉ định"))
    ordering_department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    performing_department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    for_day = models.DateField(_("y lệnh cho ngày"), null=True, blank=True)
    clinical_note = models.CharField(_("ghi chú chỉ định"), max_length=500, blank=True)
    performed_at = models.DateTimeField(_("thời điểm thực hiện"), null=True, blank=True)
    performed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resulted_at = models.DateTimeField(_("thời điểm có kết quả"), null=True, blank=True)
    result_conclusion = models.TextField(_("kết luận"), blank=True)
    result_description = models.TextField(_("mô tả"), blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.CharField(max_length=500, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["encounter", "ordered_at", "id"]
        indexes = [
            models.Index(fields=["encounter", "status"], name="order_encounter_status"),
            models.Index(
                fields=["performing_department", "status"], name="order_performing_status"
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"order #{self.pk}"

    def can_move_to(self, target: str) -> bool:
        return target in ORDER_TRANSITIONS.get(self.status, set())


class ResultValue(models.Model):
    """One measured value of a lab result, with unit and reference range (XML4 CHI_SO)."""

    order = models.ForeignKey(ServiceOrder, on_delete=models.PROTECT, related_name="values")
    code = models.CharField(_("mã chỉ số"), max_length=50, blank=True)
    name = models.CharField(_("tên chỉ số"), max_length=255)
    value = models.CharField(_("kết quả"), max_length=50)
    numeric_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    unit = models.CharField(_("đơn vị"), max_length=50, blank=True)
    reference_low = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    reference_high = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    flag = models.CharField(max_length=1, choices=ResultFlag.choices, blank=True)
    entered_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    entered_at = models.DateTimeField()

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.code or self.name}={self.value}"


class Prescription(models.Model):
    """A prescription of an outpatient visit, or a day's drug orders of an inpatient stay."""

    encounter = models.ForeignKey(
        "patients.Encounter", on_delete=models.PROTECT, related_name="prescriptions"
    )
    status = models.CharField(
        max_length=10, choices=PrescriptionStatus.choices, default=PrescriptionStatus.DRAFT
    )
    prescribed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    prescribed_at = models.DateTimeField()
    for_day = models.DateField(_("y lệnh cho ngày"), null=True, blank=True)
    note = models.TextField(_("lời dặn"), blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=500, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["encounter", "prescribed_at"]

    def __str__(self) -> str:
        return f"prescription #{self.pk}"


class PrescriptionItem(models.Model):
    """A drug line: dose, route, frequency, days, quantity, instructions; safety overrides kept."""

    prescription = models.ForeignKey(Prescription, on_delete=models.PROTECT, related_name="items")
    drug = models.ForeignKey("core.Drug", on_delete=models.PROTECT, related_name="+")
    dose = models.DecimalField(_("liều mỗi lần"), max_digits=10, decimal_places=3)
    dose_unit = models.CharField(_("đơn vị liều"), max_length=30)
    route = models.CharField(_("đường dùng"), max_length=50)
    times_per_day = models.PositiveSmallIntegerField(_("số lần/ngày"))
    days = models.PositiveSmallIntegerField(_("số ngày"))
    quantity = models.DecimalField(_("số lượng"), max_digits=10, decimal_places=3)
    instructions = models.CharField(_("cách dùng"), max_length=500, blank=True)
    allergy_override_reason = models.CharField(
        _("lý do vẫn kê dù dị ứng"), max_length=500, blank=True
    )
    duplicate_override_reason = models.CharField(
        _("lý do kê trùng thuốc"), max_length=500, blank=True
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["prescription", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(dose__gt=0), name="rx_dose_positive"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="rx_quantity_positive"),
            models.CheckConstraint(condition=Q(times_per_day__gte=1, times_per_day__lte=24), name="rx_frequency_range"),
            models.CheckConstraint(condition=Q(days__gte=1, days__lte=365), name="rx_days_range"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"rx item #{self.pk}"
