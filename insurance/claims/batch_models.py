"""Claim batches sent to the insurer's gateway, the exchanges with it, and its settlements.

A `ClaimBatch` groups READY dossiers of one facility and period (optionally one department, one
visit type); each dossier in it is a `BatchItem` that remembers the version sent and the state of
its send. The real BHXH gateway takes one GIAMDINHHS file per request, so items are sent one by
one, each in its own transaction (`insurance.claims.tasks`). Every request to the gateway and its
answer is kept in `PortalExchangeLog` (append-only, a person marks the odd ones reviewed).
`Settlement`/`SettlementLine` hold the insurer's settlement of a period for reconciliation.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL
MONEY = {"max_digits": 15, "decimal_places": 2}


class BatchStatus(models.TextChoices):
    DRAFT = "draft", _("Nháp")
    SUBMITTING = "submitting", _("Đang gửi")
    SUBMITTED = "submitted", _("Đã gửi, chờ kết quả")
    PARTLY_ANSWERED = "partly_answered", _("Đã có một phần kết quả")
    DONE = "done", _("Hoàn tất")
    FAILED = "failed", _("Gửi không thành công")
    CANCELLED = "cancelled", _("Đã hủy")


# Allowed moves of a batch. A failed batch may be submitted again (the re-run sends only what was
# not acknowledged); a submitting batch may be re-run by a worker (submitting -> submitting).
BATCH_TRANSITIONS: dict[str, set[str]] = {
    BatchStatus.DRAFT: {BatchStatus.SUBMITTING, BatchStatus.CANCELLED},
    BatchStatus.SUBMITTING: {
        BatchStatus.SUBMITTING,
        BatchStatus.SUBMITTED,
        BatchStatus.PARTLY_ANSWERED,
        BatchStatus.DONE,
        BatchStatus.FAILED,
    },
    BatchStatus.SUBMITTED: {BatchStatus.PARTLY_ANSWERED, BatchStatus.DONE},
    BatchStatus.PARTLY_ANSWERED: {BatchStatus.PARTLY_ANSWERED, BatchStatus.DONE},
    BatchStatus.FAILED: {BatchStatus.SUBMITTING},
    BatchStatus.DONE: set(),
    BatchStatus.CANCELLED: set(),
}

# Batches whose answers are still awaited (the periodic poll looks at these).
AWAITING_ANSWERS = (
    BatchStatus.SUBMITTING,
    BatchStatus.SUBMITTED,
    BatchStatus.PARTLY_ANSWERED,
    BatchStatus.FAILED,
)


class ItemState(models.TextChoices):
    PENDING = "pending", _("Chờ gửi")
    SENT = "sent", _("Đã gửi, chưa có biên nhận")
    ACKNOWLEDGED = "acknowledged", _("Cổng đã nhận")
    ACCEPTED = "accepted", _("Được chấp nhận")
    REJECTED = "rejected", _("Bị từ chối")
    EXCLUDED = "excluded", _("Loại khỏi lô (có lỗi, không gửi)")
    FAILED = "failed", _("Gửi lỗi (cổng từ chối nhận)")


# An item in one of these states holds its dossier: a dossier has at most one such item
# (a partial unique index). ACCEPTED is in the set so that, once accepted, the dossier can never
# have another item that is sent: "a dossier accepted once is never sent again" in the database.
LIVE_ITEM_STATES = (ItemState.PENDING, ItemState.SENT, ItemState.ACKNOWLEDGED)
HOLDING_ITEM_STATES = (*LIVE_ITEM_STATES, ItemState.ACCEPTED)
# Items the worker still has to send (SENT: a request went out and no receipt came back).
UNSENT_ITEM_STATES = (ItemState.PENDING, ItemState.SENT)
ANSWERED_ITEM_STATES = (ItemState.ACCEPTED, ItemState.REJECTED)
FINAL_ITEM_STATES = (*ANSWERED_ITEM_STATES, ItemState.EXCLUDED, ItemState.FAILED)


class IllegalBatchMove(Exception):
    """A status move the batch's state machine does not allow."""

    def __init__(self, current: str, target: str):
        super().__init__(f"batch: {current} -> {target} is not allowed")
        self.current, self.target = current, target


class ClaimBatch(models.Model):
    """Ready dossiers of one facility and settlement period grouped to be sent to the insurer
    (optionally one department MA_KHOA and one visit type MA_LOAI_KCB). Counts and amounts are
    kept up to date by the services and the tasks (`insurance.claims.sending.batch_recount`)."""

    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("năm quyết toán"))
    month = models.PositiveSmallIntegerField(_("tháng quyết toán"))
    department_code = models.CharField(_("khoa (MA_KHOA)"), max_length=50, blank=True)
    visit_type = models.CharField(_("loại KCB (MA_LOAI_KCB)"), max_length=2, blank=True)
    status = models.CharField(
        _("trạng thái"), max_length=16, choices=BatchStatus.choices, default=BatchStatus.DRAFT
    )
    created_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the worker last made progress (or, while a retry waits, when it is due): a batch left
    # `submitting` with this far in the past lost its worker and is sent again by the poll.
    progress_at = models.DateTimeField(null=True, blank=True)
    item_count = models.PositiveIntegerField(_("số hồ sơ"), default=0)
    excluded_count = models.PositiveIntegerField(_("số hồ sơ loại (có lỗi)"), default=0)
    acknowledged_count = models.PositiveIntegerField(_("số hồ sơ cổng đã nhận"), default=0)
    accepted_count = models.PositiveIntegerField(_("số hồ sơ được chấp nhận"), default=0)
    rejected_count = models.PositiveIntegerField(_("số hồ sơ bị từ chối"), default=0)
    failed_count = models.PositiveIntegerField(_("số hồ sơ gửi lỗi"), default=0)
    total_hospital = models.DecimalField(_("tổng chi phí (T_TONGCHI_BV)"), default=0, **MONEY)
    total_claimed = models.DecimalField(_("tổng đề nghị BHYT (T_BHTT)"), default=0, **MONEY)
    total_accepted = models.DecimalField(_("tổng được chấp nhận"), default=0, **MONEY)
    total_rejected = models.DecimalField(_("tổng bị từ chối"), default=0, **MONEY)
    last_error = models.CharField(_("lỗi gần nhất"), max_length=1000, blank=True)
    row_version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["facility", "year", "month", "status"], name="batch_facility_period"
            ),
            models.Index(fields=["status"], name="batch_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12), name="batch_month_range"
            ),
        ]
        verbose_name = _("lô hồ sơ giám định")
        verbose_name_plural = _("lô hồ sơ giám định")

    def __str__(self) -> str:
        return f"batch #{self.pk}"

    def can_move_to(self, target: str) -> bool:
        return target in BATCH_TRANSITIONS[self.status]

    def move_to(self, target: str) -> None:
        """Change status, or raise IllegalBatchMove. The caller saves."""
        if not self.can_move_to(target):
            raise IllegalBatchMove(self.status, target)
        self.status = target


class BatchItem(models.Model):
    """One dossier in a batch: the version put in the batch, and the state of its send.

    `idempotency_key` (facility code, MA_LK, version) goes with every request for this send, so
    the gateway (and the simulator) can tell a retry from a new submission; the worker asks the
    gateway about an item left SENT (request out, no receipt) before sending it again."""

    batch = models.ForeignKey(ClaimBatch, on_delete=models.PROTECT, related_name="items")
    dossier = models.ForeignKey(
        "insurance.Dossier", on_delete=models.PROTECT, related_name="batch_items"
    )
    version_number = models.PositiveIntegerField(_("phiên bản gửi"))
    state = models.CharField(
        _("trạng thái gửi"), max_length=12, choices=ItemState.choices, default=ItemState.PENDING
    )
    idempotency_key = models.CharField(max_length=160)
    transaction_id = models.CharField(_("mã giao dịch của cổng"), max_length=100, blank=True)
    attempts = models.PositiveIntegerField(_("số lần gửi"), default=0)
    last_error = models.CharField(_("lỗi gần nhất"), max_length=1000, blank=True)
    errors = models.JSONField(_("lỗi kiểm tra khi gửi"), default=list, blank=True)
    rejection_reasons = models.JSONField(_("lý do từ chối"), default=list, blank=True)
    amount_hospital = models.DecimalField(_("T_TONGCHI_BV khi gửi"), default=0, **MONEY)
    amount_claimed = models.DecimalField(_("T_BHTT đề nghị khi gửi"), default=0, **MONEY)
    sent_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["batch", "id"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "dossier"], name="batch_item_unique"),
            # One live (pending/sent/acknowledged) or accepted item per dossier: a dossier is in
            # at most one live batch, and an accepted dossier can never be sent again.
            models.UniqueConstraint(
                fields=["dossier"],
                condition=Q(state__in=["pending", "sent", "acknowledged", "accepted"]),
                name="batch_item_one_live_or_accepted",
            ),
            models.CheckConstraint(
                condition=Q(version_number__gte=1), name="batch_item_version_positive"
            ),
        ]
        indexes = [models.Index(fields=["state", "batch"], name="batch_item_state")]
        verbose_name = _("hồ sơ trong lô")
        verbose_name_plural = _("hồ sơ trong lô")

    def __str__(self) -> str:
        return f"batch item #{self.pk}"


class ExchangeOperation(models.TextChoices):
    SEND = "send", _("Gửi hồ sơ")
    STATUS = "status", _("Hỏi kết quả")


class ExchangeOutcome(models.TextChoices):
    OK = "ok", _("Thành công")
    TRANSIENT = "transient", _("Lỗi tạm thời (hết giờ, 5xx)")
    REFUSED = "refused", _("Cổng từ chối yêu cầu")
    MALFORMED = "malformed", _("Trả lời sai định dạng")
    PARTIAL = "partial", _("Trả lời thiếu thông tin")


class PortalExchangeLog(models.Model):
    """One request to the insurer's gateway about a claim and what came back (append-only).

    The signed envelope itself is not copied (it is the DossierVersion's); its SHA-256 and size
    are. Malformed or partial answers are kept whole (up to 20,000 characters) for a person to
    look at; only the review fields may change afterwards (a database trigger refuses the rest)."""

    created_at = models.DateTimeField(auto_now_add=True)
    facility = models.ForeignKey(
        "core.Facility", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    batch = models.ForeignKey(
        ClaimBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="exchanges"
    )
    item = models.ForeignKey(
        BatchItem, on_delete=models.PROTECT, null=True, blank=True, related_name="exchanges"
    )
    dossier = models.ForeignKey(
        "insurance.Dossier", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    claim_key = models.CharField(_("MA_LK"), max_length=100, blank=True)
    operation = models.CharField(max_length=10, choices=ExchangeOperation.choices)
    outcome = models.CharField(max_length=10, choices=ExchangeOutcome.choices)
    attempt = models.PositiveIntegerField(default=1)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    portal_code = models.CharField(_("mã kết quả cổng"), max_length=20, blank=True)
    message = models.CharField(max_length=1000, blank=True)
    request = models.JSONField(_("yêu cầu (tóm tắt)"), default=dict, blank=True)
    response_body = models.TextField(_("trả lời của cổng"), blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    reviewed = models.BooleanField(_("đã xem xét"), default=False)
    reviewed_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(_("ghi chú xem xét"), max_length=1000, blank=True)

    REVIEW_FIELDS = ("reviewed", "reviewed_by", "reviewed_at", "review_note")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["batch", "-created_at"], name="exchange_batch_at"),
            models.Index(fields=["dossier", "-created_at"], name="exchange_dossier_at"),
            models.Index(
                fields=["facility", "-created_at"],
                condition=Q(reviewed=False) & Q(outcome__in=["malformed", "partial"]),
                name="exchange_to_review",
            ),
        ]
        verbose_name = _("trao đổi với cổng BHXH")
        verbose_name_plural = _("trao đổi với cổng BHXH")

    def __str__(self) -> str:
        return f"portal exchange #{self.pk}"

    @property
    def needs_review(self) -> bool:
        return self.outcome in (ExchangeOutcome.MALFORMED, ExchangeOutcome.PARTIAL) and not (
            self.reviewed
        )


class Settlement(models.Model):
    """The insurer's settlement (quyết toán) of one facility and period, imported from its file."""

    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("năm quyết toán"))
    month = models.PositiveSmallIntegerField(_("tháng quyết toán"))
    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(
        USER, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    source_name = models.CharField(_("tên tệp"), max_length=255, blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True)
    line_count = models.PositiveIntegerField(default=0)
    total_approved = models.DecimalField(_("tổng được duyệt"), default=0, **MONEY)
    note = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["-year", "-month", "-imported_at"]
        indexes = [models.Index(fields=["facility", "year", "month"], name="settlement_period")]
        constraints = [
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12), name="settlement_month_range"
            ),
        ]
        verbose_name = _("quyết toán BHYT")
        verbose_name_plural = _("quyết toán BHYT")

    def __str__(self) -> str:
        return f"settlement #{self.pk}"


class SettlementLine(models.Model):
    """One dossier (MA_LK) in the insurer's settlement: the amount approved, and the claimed
    amount as it was when imported (matched to our dossier when the MA_LK is ours)."""

    settlement = models.ForeignKey(Settlement, on_delete=models.PROTECT, related_name="lines")
    line_number = models.PositiveIntegerField(_("dòng"), default=0)
    claim_key = models.CharField(_("MA_LK"), max_length=100)
    dossier = models.ForeignKey(
        "insurance.Dossier",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="settlement_lines",
    )
    amount_approved = models.DecimalField(_("số tiền được duyệt"), **MONEY)
    amount_claimed = models.DecimalField(
        _("số tiền đề nghị (khi đối chiếu)"), null=True, blank=True, **MONEY
    )
    department_code = models.CharField(_("MA_KHOA"), max_length=50, blank=True)
    cost_groups = models.JSONField(_("theo nhóm chi phí"), default=dict, blank=True)
    note = models.CharField(max_length=1000, blank=True)

    class Meta:
        ordering = ["settlement", "line_number", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["settlement", "claim_key"], name="settlement_line_unique_key"
            ),
        ]
        indexes = [models.Index(fields=["claim_key"], name="settlement_line_key")]
        verbose_name = _("dòng quyết toán")
        verbose_name_plural = _("dòng quyết toán")

    def __str__(self) -> str:
        return f"settlement line #{self.pk}"
