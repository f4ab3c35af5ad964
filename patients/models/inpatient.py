"""The inpatient stay: transfers with history, progress notes, consultations.

Beds are `patients.BedOccupancy` (registry module): one open occupancy per bed is a DB constraint.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class Transfer(models.Model):
    """A move of an inpatient between departments and/or beds: who, when, why."""

    encounter = models.ForeignKey(
        "patients.Encounter", on_delete=models.PROTECT, related_name="transfers"
    )
    from_department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, null=True, related_name="+"
    )
    to_department = models.ForeignKey("core.Department", on_delete=models.PROTECT, related_name="+")
    from_bed = models.ForeignKey(
        "core.Bed", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    to_bed = models.ForeignKey(
        "core.Bed", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    moved_at = models.DateTimeField()
    moved_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(_("lý do chuyển"), max_length=500)

    class Meta:
        ordering = ["encounter", "moved_at", "id"]

    def __str__(self) -> str:
        return f"transfer #{self.pk}"


class ProgressNote(models.Model):
    """A daily progress note (diễn biến lâm sàng, XML5)."""

    encounter = models.ForeignKey(
        "patients.Encounter", on_delete=models.PROTECT, related_name="progress_notes"
    )
    noted_at = models.DateTimeField(_("thời điểm"))
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    clinical_course = models.TextField(_("diễn biến lâm sàng"))
    disease_stage = models.CharField(_("giai đoạn bệnh"), max_length=500, blank=True)
    orders_summary = models.TextField(_("y lệnh"), blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["encounter", "noted_at", "id"]

    def __str__(self) -> str:
        return f"note #{self.pk}"


class Consultation(models.Model):
    """A consultation (hội chẩn) held for a patient: participants, conclusion."""

    encounter = models.ForeignKey(
        "patients.Encounter", on_delete=models.PROTECT, related_name="consultations"
    )
    held_at = models.DateTimeField(_("thời điểm hội chẩn"))
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    participants = models.TextField(_("thành phần tham gia"))
    reason = models.TextField(_("lý do hội chẩn"), blank=True)
    conclusion = models.TextField(_("kết luận hội chẩn"))

    class Meta:
        ordering = ["encounter", "held_at"]

    def __str__(self) -> str:
        return f"consultation #{self.pk}"
