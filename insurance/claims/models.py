"""Claim dossiers and their versions (issue 5; domain brief 3).

A dossier (hồ sơ) is one concluded encounter with an insurance card, keyed by its MA_LK
(`Encounter.claim_key`). Each build of its tables is a `DossierVersion`; a correction after a
rejection makes a new version, and old versions stay readable (never deleted).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class DossierStatus(models.TextChoices):
    DRAFT = "draft", _("Nháp")
    INVALID = "invalid", _("Có lỗi")
    READY = "ready", _("Sẵn sàng gửi")
    SENT = "sent", _("Đã gửi")
    ACCEPTED = "accepted", _("Được chấp nhận")
    REJECTED = "rejected", _("Bị từ chối")
    PAID = "paid", _("Đã thanh toán")


# Allowed moves. A (re)build moves draft/invalid/ready/rejected to invalid or ready; a sent
# dossier waits for the insurer's answer; accepted then paid is final.
DOSSIER_TRANSITIONS: dict[str, set[str]] = {
    DossierStatus.DRAFT: {DossierStatus.INVALID, DossierStatus.READY},
    DossierStatus.INVALID: {DossierStatus.INVALID, DossierStatus.READY},
    DossierStatus.READY: {DossierStatus.INVALID, DossierStatus.READY, DossierStatus.SENT},
    DossierStatus.SENT: {DossierStatus.ACCEPTED, DossierStatus.REJECTED},
    DossierStatus.REJECTED: {DossierStatus.INVALID, DossierStatus.READY},
    DossierStatus.ACCEPTED: {DossierStatus.PAID},
    DossierStatus.PAID: set(),
}

# States in which the tables may be (re)built.
BUILDABLE = {
    DossierStatus.DRAFT,
    DossierStatus.INVALID,
    DossierStatus.READY,
    DossierStatus.REJECTED,
}


class IllegalDossierMove(Exception):
    """A status move the dossier's state machine does not allow."""

    def __init__(self, current: str, target: str):
        super().__init__(f"dossier: {current} -> {target} is not allowed")
        self.current, self.target = current, target


class Dossier(models.Model):
    """The claim dossier of one encounter (MA_LK), with its status and current version."""

    encounter = models.OneToOneField(
        "patients.Encounter", on_delete=models.PROTECT, related_name="claim_dossier"
    )
    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    claim_key = models.CharField(_("mã liên kết (MA_LK)"), max_length=100, unique=True)
    status = models.CharField(
        _("trạng thái"), max_length=10, choices=DossierStatus.choices, default=DossierStatus.DRAFT
    )
    current_version = models.PositiveIntegerField(_("phiên bản hiện tại"), default=0)
    visit_type = models.CharField(_("MA_LOAI_KCB"), max_length=2, blank=True)
    department_code = models.CharField(_("MA_KHOA"), max_length=50, blank=True)
    settlement_year = models.PositiveSmallIntegerField(_("NAM_QT"), null=True, blank=True)
    settlement_month = models.PositiveSmallIntegerField(_("THANG_QT"), null=True, blank=True)
    total_hospital = models.DecimalField(
        _("T_TONGCHI_BV"), max_digits=15, decimal_places=2, default=0
    )
    total_fund = models.DecimalField(_("T_BHTT"), max_digits=15, decimal_places=2, default=0)
    rejection_reasons = models.JSONField(_("lý do từ chối"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    row_version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["facility", "settlement_year", "settlement_month", "status"],
                name="dossier_facility_period",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(settlement_month__isnull=True)
                | Q(settlement_month__gte=1, settlement_month__lte=12),
                name="dossier_month_range",
            ),
        ]
        permissions = [("manage_claims", "Lập, kiểm tra và gửi hồ sơ giám định BHYT")]
        verbose_name = _("hồ sơ giám định BHYT")
        verbose_name_plural = _("hồ sơ giám định BHYT")

    def __str__(self) -> str:
        return f"dossier #{self.pk}"

    def can_move_to(self, target: str) -> bool:
        return target in DOSSIER_TRANSITIONS[self.status]

    def move_to(self, target: str) -> None:
        """Change status, or raise IllegalDossierMove. The caller saves."""
        if not self.can_move_to(target):
            raise IllegalDossierMove(self.status, target)
        self.status = target


class DossierVersion(models.Model):
    """One build of a dossier's tables: the XML text per table (LOAIHOSO -> XML), the signed
    envelope, and the validation errors (list of ValidationIssue as dicts). Read-only once made."""

    dossier = models.ForeignKey(Dossier, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("phiên bản"))
    tables = models.JSONField(_("các bảng XML"), default=dict)
    envelope = models.TextField(_("hồ sơ GIAMDINHHS đã ký"), blank=True)
    errors = models.JSONField(_("lỗi kiểm tra"), default=list, blank=True)
    reason = models.CharField(_("lý do lập lại"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["dossier", "number"]
        constraints = [
            models.UniqueConstraint(fields=["dossier", "number"], name="dossier_version_unique"),
            models.CheckConstraint(condition=Q(number__gte=1), name="dossier_version_positive"),
        ]
        verbose_name = _("phiên bản hồ sơ")
        verbose_name_plural = _("phiên bản hồ sơ")

    def __str__(self) -> str:
        return f"dossier #{self.dossier_id} v{self.number}"

    @property
    def is_valid(self) -> bool:
        return not self.errors
