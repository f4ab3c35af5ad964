"""Health-insurance (BHYT) cards, portal lookups, and the dated parameters of the benefit engine."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class CardSource(models.TextChoices):
    TYPED = "typed", _("Nhập tay theo thẻ xuất trình")
    PORTAL = "portal", _("Tra cứu cổng BHXH")


class CardVerification(models.TextChoices):
    UNCHECKED = "unchecked", _("Chưa tra cứu")
    VALID = "valid", _("Hợp lệ (cổng BHXH xác nhận)")
    INVALID = "invalid", _("Không hợp lệ")
    RECHECK = "recheck", _("Cổng không phản hồi – cần tra cứu lại")


class InsuranceCard(models.Model):
    """A BHYT card held by a patient over a period (a patient holds several over the years).

    The 15-character code is split into its parts (domain brief 1.1) at save time by the service.
    `five_years_date` is NAM_NAM_LIEN_TUC, `copay_exempt_from` NGAY_MIEN_CCT.
    """

    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="insurance_cards"
    )
    code = models.CharField(_("mã thẻ"), max_length=15)
    group_code = models.CharField(_("mã đối tượng"), max_length=2)
    benefit_digit = models.PositiveSmallIntegerField(_("mã quyền lợi"))
    province_code = models.CharField(_("mã tỉnh"), max_length=2)
    social_insurance_number = models.CharField(_("mã số BHXH"), max_length=10)
    valid_from = models.DateField(_("giá trị từ"))
    valid_to = models.DateField(_("giá trị đến"), null=True, blank=True)
    registered_facility_code = models.CharField(_("nơi ĐKKCB ban đầu"), max_length=5, blank=True)
    region_code = models.CharField(_("mã khu vực (K1/K2/K3)"), max_length=2, blank=True)
    five_years_date = models.DateField(_("thời điểm đủ 5 năm liên tục"), null=True, blank=True)
    copay_exempt_from = models.DateField(_("miễn cùng chi trả từ"), null=True, blank=True)
    source = models.CharField(max_length=10, choices=CardSource.choices, default=CardSource.TYPED)
    verification = models.CharField(
        max_length=10, choices=CardVerification.choices, default=CardVerification.UNCHECKED
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    recorded_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["patient", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["code", "valid_from"],
                condition=Q(voided_at__isnull=True),
                name="insurance_card_unique_period",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="insurance_card_valid_range",
            ),
            models.CheckConstraint(
                condition=Q(benefit_digit__gte=1, benefit_digit__lte=5),
                name="insurance_card_benefit_digit",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "-valid_from"], name="card_patient_from"),
            models.Index(fields=["code"], name="card_code"),
            models.Index(fields=["social_insurance_number"], name="card_si_number"),
        ]
        verbose_name = _("thẻ BHYT")
        verbose_name_plural = _("thẻ BHYT")

    def __str__(self) -> str:
        return f"card #{self.pk}"


class CardLookup(models.Model):
    """One request to the insurer's portal (or its simulator) and what came back.

    Kept for a person to look at when the portal answers oddly; no PHI beyond the card code.
    """

    card = models.ForeignKey(
        InsuranceCard, on_delete=models.PROTECT, null=True, blank=True, related_name="lookups"
    )
    patient = models.ForeignKey(
        "patients.Patient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="card_lookups",
    )
    requested_code = models.CharField(max_length=15)
    requested_at = models.DateTimeField(auto_now_add=True)
    requested_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=20)  # valid / invalid / unreachable / malformed
    portal_code = models.CharField(_("mã kết quả cổng"), max_length=20, blank=True)
    message = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    response = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        indexes = [models.Index(fields=["requested_code", "-requested_at"], name="lookup_code_at")]

    def __str__(self) -> str:
        return f"lookup #{self.pk}"


class BenefitParameter(models.Model):
    """A dated parameter of the benefit engine, changeable by an admin (domain brief section 2).

    `key` names the rule (e.g. base_salary, small_visit_threshold_ratio, route_rate,
    supplies_cap_multiplier, copay_exemption_multiplier); `qualifier` narrows it (e.g.
    "central:inpatient" for a route rate). Items marked UNCONFIRMED in the brief carry
    `unconfirmed=True` and their current best reading as the value.
    """

    key = models.CharField(max_length=60)
    qualifier = models.CharField(max_length=100, blank=True, default="")
    value = models.DecimalField(max_digits=18, decimal_places=4)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    source = models.CharField(_("căn cứ"), max_length=500, blank=True)
    unconfirmed = models.BooleanField(_("chưa xác nhận"), default=False)
    changed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key", "qualifier", "-valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "qualifier", "valid_from"], name="benefit_parameter_unique_start"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="benefit_parameter_valid_range",
            ),
        ]
        verbose_name = _("tham số quyền lợi BHYT")
        verbose_name_plural = _("tham số quyền lợi BHYT")

    def __str__(self) -> str:
        return f"{self.key}[{self.qualifier}]@{self.valid_from}"


from insurance.claims.batch_models import (  # noqa: E402, F401
    BatchItem,
    ClaimBatch,
    PortalExchangeLog,
    Settlement,
    SettlementLine,
)
from insurance.claims.build_models import DossierBuildRun  # noqa: E402, F401
from insurance.claims.models import Dossier, DossierVersion  # noqa: E402, F401
