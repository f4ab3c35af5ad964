"""Billing: charge lines derived from the clinical record, invoices with the benefit split, and the
cashier's desk (shifts, deposits, payments, refunds).

Money is Decimal (VND, 2 places, `ehealth.core.money.quantize_money`). Nothing here is ever
deleted: a charge whose source was cancelled is *dropped* (with when and why), a mistaken payment
is *voided* (with who and why), money given back is a *refund*.

Split names follow QĐ 130 (domain brief §3.7): hospital_amount = THANH_TIEN_BV,
bhyt_amount = THANH_TIEN_BH, fund = T_BHTT, copay = T_BNCCT, self_pay = T_BNTT,
other = T_NGUONKHAC, benefit_rate = MUC_HUONG; hospital_amount = fund + copay + self_pay + other.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from ehealth.core.models.catalogs import CostGroup

USER = settings.AUTH_USER_MODEL
ZERO = Decimal(0)


def _money(verbose_name, **kwargs) -> models.DecimalField:
    kwargs.setdefault("default", ZERO)
    return models.DecimalField(verbose_name, max_digits=15, decimal_places=2, **kwargs)


def _ratio(verbose_name) -> models.DecimalField:
    return models.DecimalField(verbose_name, max_digits=5, decimal_places=2, default=Decimal(100))


class PaymentMethod(models.TextChoices):
    CASH = "cash", _("Tiền mặt")
    CARD = "card", _("Thẻ ngân hàng")
    TRANSFER = "transfer", _("Chuyển khoản (VietQR)")


class ChargeSource(models.TextChoices):
    """What in the clinical record a charge line comes from (`source_id` is that row's id)."""

    EXAMINATION = "examination", _("Khám bệnh")  # source_id = encounter id
    SERVICE_ORDER = "service_order", _("Dịch vụ kỹ thuật")  # ServiceOrder id
    DRUG = "drug", _("Thuốc")  # PrescriptionItem id
    SUPPLY = "supply", _("Vật tư y tế")
    BED_DAY = "bed_day", _("Ngày giường")  # department id (one line per department and day)


class ChargeStatus(models.TextChoices):
    ACTIVE = "active", _("Đang tính")
    DROPPED = "dropped", _("Đã bỏ (nguồn bị huỷ)")


class ServiceMapping(models.Model):
    """Which catalog service prices an examination or a bed-day at a facility.

    Looked up most specific first: the department's own row, then the facility-wide row
    (department empty), then the settings default code (`BILLING_DEFAULT_EXAMINATION_SERVICE`,
    `BILLING_DEFAULT_BED_DAY_SERVICE`). Examination services are cost group 13 (local codes KB.*),
    bed-days 14–16 (GB.*, GBN.*).
    """

    class Purpose(models.TextChoices):
        EXAMINATION = "examination", _("Khám bệnh")
        BED_DAY = "bed_day", _("Ngày giường")

    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    purpose = models.CharField(_("dùng cho"), max_length=12, choices=Purpose.choices)
    service = models.ForeignKey("core.MedicalService", on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["facility", "purpose", "department"]
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "department", "purpose"],
                name="service_mapping_unique",
                nulls_distinct=False,
            )
        ]
        verbose_name = _("dịch vụ khám / ngày giường của khoa")
        verbose_name_plural = _("dịch vụ khám / ngày giường của khoa")

    def __str__(self) -> str:
        return f"{self.purpose}: service {self.service_id}"


class InvoiceStatus(models.TextChoices):
    OPEN = "open", _("Chưa thanh toán đủ")
    PAID = "paid", _("Đã thanh toán đủ")
    SETTLED = "settled", _("Đã quyết toán ra viện")
    CANCELLED = "cancelled", _("Đã huỷ")


class Invoice(models.Model):
    """The bill of one encounter (an outpatient visit, or a whole inpatient stay).

    Totals are stored from the benefit engine's split at the last build (`version` counts the
    builds). `patient_amount` = co-payment + self-pay is what the patient owes; `paid_amount` is
    what has been set against it (payments and applied deposits, less refunds). The database
    refuses paid_amount above patient_amount: the last guard against a double charge.
    """

    encounter = models.ForeignKey(
        "patients.Encounter", on_delete=models.PROTECT, related_name="invoices"
    )
    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("patients.Patient", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("trạng thái"), max_length=10, choices=InvoiceStatus.choices, default=InvoiceStatus.OPEN
    )
    version = models.PositiveIntegerField(_("lần tính"), default=1)

    card_code = models.CharField(_("mã thẻ BHYT"), max_length=15, blank=True)
    card = models.ForeignKey(
        "insurance.InsuranceCard", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    route = models.CharField(_("tuyến"), max_length=20, blank=True)
    benefit_rate = models.DecimalField(
        _("mức hưởng (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    reasons = models.JSONField(_("căn cứ mức hưởng"), default=list, blank=True)
    groups = models.JSONField(_("tổng theo nhóm chi phí"), default=list, blank=True)

    total_hospital = _money(_("tổng chi phí (THANH_TIEN_BV)"))
    total_bhyt = _money(_("tổng trong phạm vi BHYT (THANH_TIEN_BH)"))
    total_fund = _money(_("quỹ BHYT trả (T_BHTT)"))
    total_copay = _money(_("người bệnh cùng chi trả (T_BNCCT)"))
    total_self_pay = _money(_("người bệnh tự trả (T_BNTT)"))
    total_other = _money(_("nguồn khác (T_NGUONKHAC)"))
    patient_amount = _money(_("người bệnh phải trả"))
    paid_amount = _money(_("đã thu"))
    deposits_applied = _money(_("tạm ứng đã trừ"))

    built_at = models.DateTimeField(null=True, blank=True)
    built_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    settled_at = models.DateTimeField(null=True, blank=True)
    settled_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["encounter"],
                condition=~Q(status="cancelled"),
                name="invoice_one_per_encounter",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0) & Q(paid_amount__lte=F("patient_amount")),
                name="invoice_paid_within_owed",
            ),
            models.CheckConstraint(
                condition=Q(patient_amount=F("total_copay") + F("total_self_pay")),
                name="invoice_patient_amount_sum",
            ),
            models.CheckConstraint(
                condition=Q(
                    total_hospital=F("total_fund")
                    + F("total_copay")
                    + F("total_self_pay")
                    + F("total_other")
                ),
                name="invoice_split_adds_up",
            ),
        ]
        indexes = [models.Index(fields=["facility", "status", "-created_at"], name="invoice_fac")]
        permissions = [("prepare_invoice", "Tính viện phí, lập hoá đơn và bảng kê")]
        verbose_name = _("hoá đơn viện phí")
        verbose_name_plural = _("hoá đơn viện phí")

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"HD{self.pk:08d}" if self.pk else "HD-"

    @property
    def amount_due(self) -> Decimal:
        """What the patient still owes on this invoice."""
        return self.patient_amount - self.paid_amount


class ChargeLine(models.Model):
    """One billable item of an encounter: from one source row on one day of service.

    Derived by `billing.charges.charges_derive` (idempotent: the unique key is the source and the
    day). The split columns are filled by `billing.invoices.invoice_build`.
    """

    # Not indexed alone: the one-per-source unique index and (encounter, status) start with it.
    encounter = models.ForeignKey(
        "patients.Encounter",
        on_delete=models.PROTECT,
        related_name="charge_lines",
        db_index=False,
    )
    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    source_kind = models.CharField(_("nguồn"), max_length=16, choices=ChargeSource.choices)
    source_id = models.PositiveBigIntegerField(_("mã dòng nguồn"))
    service_date = models.DateField(_("ngày thực hiện"))
    department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    service = models.ForeignKey(
        "core.MedicalService", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    drug = models.ForeignKey(
        "core.Drug", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    supply = models.ForeignKey(
        "core.Supply", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    item_code = models.CharField(_("mã"), max_length=60)
    item_name = models.CharField(_("tên"), max_length=500)
    unit = models.CharField(_("đơn vị tính"), max_length=50, blank=True)
    cost_group = models.PositiveSmallIntegerField(_("nhóm chi phí"), choices=CostGroup.choices)
    quantity = models.DecimalField(_("số lượng"), max_digits=10, decimal_places=3)
    hospital_price = _money(_("đơn giá bệnh viện"))
    bhyt_price = models.DecimalField(
        _("đơn giá BHYT"), max_digits=15, decimal_places=2, null=True, blank=True
    )
    service_ratio = _ratio(_("tỷ lệ thanh toán dịch vụ (TYLE_TT_DV)"))
    bhyt_ratio = _ratio(_("tỷ lệ thanh toán BHYT (TYLE_TT_BH)"))
    in_scope = models.BooleanField(_("trong phạm vi BHYT"), default=True)
    status = models.CharField(
        max_length=8, choices=ChargeStatus.choices, default=ChargeStatus.ACTIVE
    )
    dropped_at = models.DateTimeField(null=True, blank=True)
    drop_reason = models.CharField(_("lý do bỏ"), max_length=500, blank=True)

    # The split of the last invoice build.
    invoice = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="lines"
    )
    hospital_amount = _money(_("thành tiền BV"))
    bhyt_amount = _money(_("thành tiền BH"))
    benefit_rate = models.DecimalField(
        _("mức hưởng (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    fund = _money(_("quỹ BHYT"))
    copay = _money(_("cùng chi trả"))
    self_pay = _money(_("tự trả"))
    other = _money(_("nguồn khác"))

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["encounter", "cost_group", "service_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["encounter", "source_kind", "source_id", "service_date"],
                name="charge_line_one_per_source",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="charge_quantity_positive"),
            models.CheckConstraint(
                condition=Q(hospital_price__gte=0)
                & (Q(bhyt_price__isnull=True) | Q(bhyt_price__gte=0)),
                name="charge_price_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(service_ratio__gte=0, service_ratio__lte=100)
                & Q(bhyt_ratio__gte=0, bhyt_ratio__lte=100),
                name="charge_ratios_percent",
            ),
            models.CheckConstraint(
                condition=(Q(status="active") & Q(dropped_at__isnull=True))
                | (Q(status="dropped") & Q(dropped_at__isnull=False) & ~Q(drop_reason="")),
                name="charge_drop_has_trace",
            ),
            models.CheckConstraint(
                condition=Q(hospital_amount=F("fund") + F("copay") + F("self_pay") + F("other")),
                name="charge_split_adds_up",
            ),
        ]
        indexes = [models.Index(fields=["encounter", "status"], name="charge_encounter_status")]
        verbose_name = _("dòng chi phí")
        verbose_name_plural = _("dòng chi phí")

    def __str__(self) -> str:
        return f"charge #{self.pk}"


class ShiftStatus(models.TextChoices):
    OPEN = "open", _("Đang mở")
    CLOSED = "closed", _("Đã đóng")


class CashierShift(models.Model):
    """A cashier's shift at a facility: opened with a cash float, closed with the money counted
    per method. Every payment, deposit and refund paid out belongs to one shift; a closed shift
    accepts nothing more. One open shift per cashier is a database constraint."""

    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    opened_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="cashier_shifts")
    opened_at = models.DateTimeField()
    opening_float = _money(_("tiền lẻ đầu ca"))
    status = models.CharField(max_length=6, choices=ShiftStatus.choices, default=ShiftStatus.OPEN)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    counted = models.JSONField(_("kiểm đếm cuối ca"), default=dict, blank=True)
    expected = models.JSONField(_("số phải có cuối ca"), default=dict, blank=True)
    note = models.CharField(_("ghi chú"), max_length=500, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["opened_by"],
                condition=Q(status="open"),
                name="one_open_shift_per_cashier",
            ),
            models.CheckConstraint(
                condition=Q(opening_float__gte=0), name="shift_float_not_negative"
            ),
            models.CheckConstraint(
                condition=(Q(status="open") & Q(closed_at__isnull=True))
                | (Q(status="closed") & Q(closed_at__isnull=False)),
                name="shift_closed_has_time",
            ),
        ]
        permissions = [("manage_shift", "Mở và đóng ca thu ngân")]
        verbose_name = _("ca thu ngân")
        verbose_name_plural = _("ca thu ngân")

    def __str__(self) -> str:
        return f"shift #{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status == ShiftStatus.OPEN


class PaymentStatus(models.TextChoices):
    COMPLETED = "completed", _("Đã thu")
    VOIDED = "voided", _("Đã huỷ (thu nhầm)")


class Payment(models.Model):
    """Money received against an invoice in a cashier's shift.

    `idempotency_key` is unique: a retried request returns the first payment instead of paying
    twice. A mistaken payment is voided (who, when, why), never deleted.
    """

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="payments")
    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    shift = models.ForeignKey(CashierShift, on_delete=models.PROTECT, related_name="payments")
    amount = _money(_("số tiền"))
    method = models.CharField(_("hình thức"), max_length=10, choices=PaymentMethod.choices)
    idempotency_key = models.CharField(_("mã yêu cầu"), max_length=64, unique=True)
    status = models.CharField(
        max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.COMPLETED
    )
    received_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField()
    is_settlement = models.BooleanField(_("thu khi quyết toán ra viện"), default=False)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payment_amount_positive"),
            models.CheckConstraint(
                condition=(Q(status="completed") & Q(voided_at__isnull=True))
                | (Q(status="voided") & Q(voided_at__isnull=False) & ~Q(void_reason="")),
                name="payment_void_has_reason",
            ),
        ]
        indexes = [models.Index(fields=["shift", "status"], name="payment_shift_status")]
        permissions = [("take_payment", "Thu tiền, nhận tạm ứng, lập yêu cầu hoàn tiền")]
        verbose_name = _("phiếu thu")
        verbose_name_plural = _("phiếu thu")

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"PT{self.pk:08d}" if self.pk else "PT-"


class DepositStatus(models.TextChoices):
    HELD = "held", _("Đang giữ")
    APPLIED = "applied", _("Đã trừ vào viện phí")
    VOIDED = "voided", _("Đã huỷ (thu nhầm)")


class Deposit(models.Model):
    """An advance deposit (tạm ứng) of an inpatient stay: several, at any time; set against the
    stay's invoice at settlement (`stay_settle`)."""

    encounter = models.ForeignKey(
        "patients.Encounter", on_delete=models.PROTECT, related_name="deposits"
    )
    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    shift = models.ForeignKey(CashierShift, on_delete=models.PROTECT, related_name="deposits")
    amount = _money(_("số tiền"))
    method = models.CharField(_("hình thức"), max_length=10, choices=PaymentMethod.choices)
    idempotency_key = models.CharField(_("mã yêu cầu"), max_length=64, unique=True)
    status = models.CharField(
        max_length=8, choices=DepositStatus.choices, default=DepositStatus.HELD
    )
    received_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField()
    applied_to = models.ForeignKey(
        Invoice, on_delete=models.PROTECT, null=True, blank=True, related_name="deposits"
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["encounter", "received_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="deposit_amount_positive"),
            models.CheckConstraint(
                condition=~Q(status="voided") | (Q(voided_at__isnull=False) & ~Q(void_reason="")),
                name="deposit_void_has_reason",
            ),
        ]
        verbose_name = _("tạm ứng")
        verbose_name_plural = _("tạm ứng")

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"TU{self.pk:08d}" if self.pk else "TU-"


class RefundStatus(models.TextChoices):
    PENDING = "pending", _("Chờ duyệt")
    COMPLETED = "completed", _("Đã hoàn tiền")
    REJECTED = "rejected", _("Từ chối")


class RefundKind(models.TextChoices):
    PAYMENT = "payment", _("Hoàn tiền đã thu")
    DEPOSIT_SURPLUS = "deposit_surplus", _("Hoàn tạm ứng thừa khi ra viện")


class Refund(models.Model):
    """Money given back to the patient, with a reason. Above `REFUND_APPROVAL_THRESHOLD` a second
    person approves it (the database refuses an approver equal to the requester); the money leaves
    the requesting cashier's shift when the refund completes."""

    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="refunds")
    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    shift = models.ForeignKey(CashierShift, on_delete=models.PROTECT, related_name="refunds")
    kind = models.CharField(max_length=16, choices=RefundKind.choices, default=RefundKind.PAYMENT)
    amount = _money(_("số tiền"))
    method = models.CharField(_("hình thức"), max_length=10, choices=PaymentMethod.choices)
    reason = models.CharField(_("lý do"), max_length=500)
    idempotency_key = models.CharField(_("mã yêu cầu"), max_length=64, unique=True)
    status = models.CharField(
        max_length=10, choices=RefundStatus.choices, default=RefundStatus.PENDING
    )
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    rejected_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="refund_amount_positive"),
            models.CheckConstraint(condition=~Q(reason=""), name="refund_has_reason"),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("requested_by")),
                name="refund_approver_differs",
            ),
            models.CheckConstraint(
                condition=~Q(status="completed") | Q(completed_at__isnull=False),
                name="refund_completed_has_time",
            ),
        ]
        indexes = [models.Index(fields=["shift", "status"], name="refund_shift_status")]
        permissions = [("approve_refund", "Duyệt hoàn tiền vượt hạn mức")]
        verbose_name = _("phiếu hoàn tiền")
        verbose_name_plural = _("phiếu hoàn tiền")

    def __str__(self) -> str:
        return self.number

    @property
    def number(self) -> str:
        return f"HT{self.pk:08d}" if self.pk else "HT-"
