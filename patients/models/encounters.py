"""Encounters: outpatient visits and inpatient stays, their queue, vitals, diagnoses, addenda."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from patients.clinical_choices import (
    ENCOUNTER_TRANSITIONS,
    AllergySeverity,
    ArrivalMode,
    Conclusion,
    DiagnosisPhase,
    DischargeType,
    EncounterKind,
    EncounterStatus,
    QueueStatus,
    TreatmentResult,
    VisitType,
)

USER = settings.AUTH_USER_MODEL


class IllegalTransition(Exception):
    """A state move that the encounter's state machine does not allow."""

    def __init__(self, kind: str, current: str, target: str):
        super().__init__(f"{kind}: {current} -> {target} is not allowed")
        self.kind, self.current, self.target = kind, current, target


def _claim_key() -> str:
    return uuid.uuid4().hex.upper()


class Encounter(models.Model):
    """One episode of care at a facility: an outpatient visit or an inpatient stay.

    Carries every field a claim dossier (QĐ 130 XML1) needs so that the claim is built from the
    record alone: visit type (MA_LOAI_KCB), arrival route, card as presented, referral papers,
    department (MA_KHOA), times (NGAY_VAO, NGAY_VAO_NOI_TRU, NGAY_RA), treatment result and
    discharge type, treatment days. `claim_key` is MA_LK. Concluded/discharged encounters are
    locked: corrections are addenda.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    claim_key = models.CharField(
        _("mã liên kết (MA_LK)"), max_length=100, unique=True, default=_claim_key
    )
    # Single-column indexes on patient/facility/room would repeat the first column of the
    # composite indexes below; every write would pay for them.
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="encounters", db_index=False
    )
    facility = models.ForeignKey(
        "core.Facility", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    room = models.ForeignKey(
        "core.ClinicRoom",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    kind = models.CharField(_("loại"), max_length=12, choices=EncounterKind.choices)
    visit_type = models.CharField(
        _("loại KCB (MA_LOAI_KCB)"), max_length=2, choices=VisitType.choices
    )
    status = models.CharField(_("trạng thái"), max_length=20, choices=EncounterStatus.choices)
    parent = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
        help_text=_("Lượt khám ngoại trú dẫn tới lần nhập viện này"),
    )

    # How the patient came; the card as presented (checked by insurance/ later).
    arrival_mode = models.CharField(_("hình thức đến"), max_length=20, choices=ArrivalMode.choices)
    referral_paper_number = models.CharField(_("số giấy chuyển"), max_length=50, blank=True)
    referral_from_code = models.CharField(_("nơi chuyển đến (MA_NOI_DI)"), max_length=5, blank=True)
    insurance_card_code = models.CharField(_("mã thẻ BHYT"), max_length=15, blank=True)
    insurance_card_valid_from = models.DateField(_("thẻ có giá trị từ"), null=True, blank=True)
    insurance_card_valid_to = models.DateField(_("thẻ có giá trị đến"), null=True, blank=True)
    registered_facility_code = models.CharField(
        _("nơi ĐKKCB ban đầu (MA_DKBD)"), max_length=5, blank=True
    )
    card_check_status = models.CharField(_("kiểm tra thẻ"), max_length=20, blank=True)

    # Clinical content of the visit
    reason = models.TextField(_("lý do vào viện / lý do khám"), blank=True)
    history = models.TextField(_("bệnh sử, tiền sử"), blank=True)
    examination_findings = models.TextField(_("khám lâm sàng"), blank=True)
    treatment_method = models.TextField(_("phương pháp điều trị"), blank=True)
    attending = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    started_at = models.DateTimeField(_("thời điểm vào (NGAY_VAO)"))
    admitted_at = models.DateTimeField(_("vào nội trú (NGAY_VAO_NOI_TRU)"), null=True, blank=True)
    ended_at = models.DateTimeField(_("thời điểm ra (NGAY_RA)"), null=True, blank=True)

    # Conclusion of an outpatient visit
    conclusion = models.CharField(
        _("kết luận"), max_length=12, choices=Conclusion.choices, blank=True
    )
    conclusion_note = models.TextField(_("lời dặn / kết luận"), blank=True)
    follow_up_date = models.DateField(_("ngày tái khám"), null=True, blank=True)
    transfer_to_code = models.CharField(_("chuyển đến (MA_NOI_DEN)"), max_length=5, blank=True)
    transfer_paper_number = models.CharField(_("số giấy chuyển đi"), max_length=50, blank=True)
    transfer_reason = models.TextField(_("lý do chuyển"), blank=True)
    transfer_condition = models.TextField(
        _("tình trạng người bệnh khi chuyển"), blank=True, db_default=""
    )

    # Discharge of an inpatient stay
    treatment_result = models.CharField(
        _("kết quả điều trị"), max_length=1, choices=TreatmentResult.choices, blank=True
    )
    discharge_type = models.CharField(
        _("tình trạng ra viện"), max_length=1, choices=DischargeType.choices, blank=True
    )
    treatment_summary = models.TextField(_("tóm tắt quá trình điều trị"), blank=True)
    discharge_advice = models.TextField(_("lời dặn khi ra viện"), blank=True)
    treatment_days = models.PositiveIntegerField(_("số ngày điều trị"), null=True, blank=True)
    archive_number = models.CharField(
        _("số lưu trữ (SO_LUU_TRU)"), max_length=200, blank=True, db_default=""
    )
    last_reviewed_at = models.DateTimeField(
        _("bác sĩ xem lần cuối"),
        null=True,
        blank=True,
        help_text=_("Kết quả về sau thời điểm này được đánh dấu là mới trên danh sách khám."),
    )

    closed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    version = models.PositiveIntegerField(_("phiên bản"), default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-started_at"], name="encounter_patient_started"),
            models.Index(
                fields=["facility", "status", "-started_at"], name="encounter_facility_status"
            ),
            models.Index(fields=["room", "-started_at"], name="encounter_room_started"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="encounter_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(admitted_at__isnull=True) | Q(admitted_at__gte=models.F("started_at")),
                name="encounter_admitted_after_start",
            ),
            # One open inpatient stay per patient at a facility (the service also checks, under a
            # row lock; this holds even when two admissions race).
            models.UniqueConstraint(
                fields=["patient", "facility"],
                condition=Q(kind="inpatient", status="admitted", voided_at__isnull=True),
                name="one_open_stay_per_patient",
            ),
        ]
        permissions = [
            ("checkin_encounter", "Tiếp đón, cấp số thứ tự"),
            ("examine_encounter", "Khám bệnh, chẩn đoán, chỉ định, kê đơn, kết luận"),
            ("record_vitals", "Đo dấu hiệu sinh tồn, theo dõi điều dưỡng"),
            ("enter_results", "Nhập kết quả cận lâm sàng"),
            ("admit_patient", "Nhập viện, xếp giường, chuyển khoa/giường"),
            ("discharge_patient", "Cho ra viện"),
            ("write_progress_note", "Ghi diễn biến, y lệnh hằng ngày, hội chẩn"),
            ("add_addendum", "Bổ sung hồ sơ đã khoá"),
        ]
        verbose_name = _("lượt khám / đợt điều trị")
        verbose_name_plural = _("lượt khám / đợt điều trị")

    def __str__(self) -> str:
        return f"encounter #{self.pk}"

    @property
    def is_locked(self) -> bool:
        """Concluded visits and discharged stays are read-only; corrections are addenda."""
        return self.status in (
            EncounterStatus.CONCLUDED,
            EncounterStatus.DISCHARGED,
            EncounterStatus.CANCELLED,
        )

    def can_move_to(self, target: str) -> bool:
        return target in ENCOUNTER_TRANSITIONS[self.kind].get(self.status, set())

    def move_to(self, target: str) -> None:
        """Change state, or raise IllegalTransition. The caller saves."""
        if not self.can_move_to(target):
            raise IllegalTransition(self.kind, self.status, target)
        self.status = target


class QueueTicket(models.Model):
    """A queue number of a clinic room for one day (local date, Asia/Ho_Chi_Minh)."""

    encounter = models.OneToOneField(
        Encounter, on_delete=models.PROTECT, related_name="queue_ticket"
    )
    room = models.ForeignKey("core.ClinicRoom", on_delete=models.PROTECT, related_name="+")
    day = models.DateField(_("ngày"))
    number = models.PositiveIntegerField(_("số thứ tự"))
    status = models.CharField(
        max_length=10, choices=QueueStatus.choices, default=QueueStatus.WAITING
    )
    issued_at = models.DateTimeField()
    called_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["room", "day", "number"]
        constraints = [
            models.UniqueConstraint(fields=["room", "day", "number"], name="queue_number_unique")
        ]
        indexes = [models.Index(fields=["room", "day", "status"], name="queue_room_day_status")]

    def __str__(self) -> str:
        return f"{self.day} #{self.number}"


class VitalSigns(models.Model):
    """One set of vital signs (also the nursing chart of a stay). Plausible ranges are DB checks."""

    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="vitals")
    recorded_at = models.DateTimeField(_("thời điểm đo"))
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    pulse = models.PositiveSmallIntegerField(_("mạch (lần/phút)"), null=True, blank=True)
    systolic = models.PositiveSmallIntegerField(_("huyết áp tâm thu (mmHg)"), null=True, blank=True)
    diastolic = models.PositiveSmallIntegerField(
        _("huyết áp tâm trương (mmHg)"), null=True, blank=True
    )
    temperature = models.DecimalField(
        _("nhiệt độ (°C)"), max_digits=3, decimal_places=1, null=True, blank=True
    )
    respiratory_rate = models.PositiveSmallIntegerField(
        _("nhịp thở (lần/phút)"), null=True, blank=True
    )
    spo2 = models.PositiveSmallIntegerField(_("SpO2 (%)"), null=True, blank=True)
    height_cm = models.DecimalField(
        _("chiều cao (cm)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    weight_kg = models.DecimalField(
        _("cân nặng (kg)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    note = models.CharField(_("ghi chú"), max_length=500, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["encounter", "recorded_at"]
        constraints = [
            models.CheckConstraint(condition=Q(pulse__isnull=True) | Q(pulse__range=(20, 300)), name="vitals_pulse_range"),
            models.CheckConstraint(condition=Q(systolic__isnull=True) | Q(systolic__range=(40, 300)), name="vitals_systolic_range"),
            models.CheckConstraint(condition=Q(diastolic__isnull=True) | Q(diastolic__range=(20, 200)), name="vitals_diastolic_range"),
            models.CheckConstraint(condition=Q(temperature__isnull=True) | Q(temperature__range=(25, 45)), name="vitals_temperature_range"),
            models.CheckConstraint(condition=Q(respiratory_rate__isnull=True) | Q(respiratory_rate__range=(4, 80)), name="vitals_rr_range"),
            models.CheckConstraint(condition=Q(spo2__isnull=True) | Q(spo2__range=(30, 100)), name="vitals_spo2_range"),
            models.CheckConstraint(condition=Q(height_cm__isnull=True) | Q(height_cm__range=(20, 250)), name="vitals_height_range"),
            models.CheckConstraint(condition=Q(weight_kg__isnull=True) | Q(weight_kg__range=(0.3, 400)), name="vitals_weight_range"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"vitals #{self.pk}"

    @property
    def bmi(self):
        """Body-mass index, kg/m², rounded to one decimal; None without height and weight."""
        from decimal import ROUND_HALF_UP, Decimal

        if not self.height_cm or not self.weight_kg:
            return None
        metres = Decimal(self.height_cm) / 100
        return (Decimal(self.weight_kg) / (metres * metres)).quantize(Decimal("0.1"), ROUND_HALF_UP)


class Diagnosis(models.Model):
    """An ICD-10 diagnosis of an encounter: one main (rank 0) and up to 12 secondary per phase."""

    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="diagnoses")
    phase = models.CharField(
        max_length=10, choices=DiagnosisPhase.choices, default=DiagnosisPhase.ENCOUNTER
    )
    icd_code = models.CharField(_("mã ICD-10"), max_length=10)
    text = models.CharField(_("tên bệnh"), max_length=500)
    rank = models.PositiveSmallIntegerField(_("thứ tự"), help_text=_("0 = bệnh chính"))
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["encounter", "phase", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["encounter", "phase", "rank"],
                condition=Q(voided_at__isnull=True),
                name="diagnosis_rank_unique",
            ),
            models.UniqueConstraint(
                fields=["encounter", "phase", "icd_code"],
                condition=Q(voided_at__isnull=True),
                name="diagnosis_code_once",
            ),
            models.CheckConstraint(
                condition=Q(rank__lte=12), name="diagnosis_at_most_12_secondary"
            ),
        ]

    def __str__(self) -> str:
        return self.icd_code

    @property
    def is_main(self) -> bool:
        return self.rank == 0


class Allergy(models.Model):
    """A recorded allergy of the patient (city-wide: it follows the patient to every facility)."""

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="allergies"
    )
    substance = models.CharField(_("chất gây dị ứng"), max_length=255)
    drug = models.ForeignKey(
        "core.Drug", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    active_ingredient = models.CharField(_("hoạt chất"), max_length=255, blank=True)
    reaction = models.CharField(_("biểu hiện"), max_length=500, blank=True)
    severity = models.CharField(
        _("mức độ"), max_length=10, choices=AllergySeverity.choices, blank=True
    )
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()
    encounter = models.ForeignKey(
        Encounter, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["patient", "substance"]
        verbose_name = _("dị ứng")
        verbose_name_plural = _("dị ứng")

    def __str__(self) -> str:
        return f"allergy #{self.pk}"


class Addendum(models.Model):
    """A correction or addition to a locked encounter; the original stays readable."""

    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="addenda")
    section = models.CharField(_("phần"), max_length=50, blank=True)
    text = models.TextField(_("nội dung bổ sung"))
    author = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["encounter", "created_at"]

    def __str__(self) -> str:
        return f"addendum #{self.pk}"
