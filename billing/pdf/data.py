"""What the billing documents show: frozen dataclasses, pure (no ORM, no Django import).

`billing.selectors` fills them with a fixed number of queries; `billing.pdf.receipt.render_receipt`
and `billing.pdf.cost_statement.render_cost_statement` lay them out with no queries (STYLE.md §6).
Money is Decimal in VND, already rounded by `ehealth.core.money.quantize_money` (the renderers
never round). Datetimes are timezone-aware (shown in Asia/Ho_Chi_Minh).

Split names follow QĐ 130 (domain brief §3.7):
    hospital_amount = THANH_TIEN_BV       bhyt_amount = THANH_TIEN_BH
    fund = T_BHTT   copay = T_BNCCT   self_pay = T_BNTT   other = T_NGUONKHAC
and on every line and every total: hospital_amount = fund + copay + self_pay + other (checked on
construction: a document that does not add up is refused before it is printed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

ZERO = Decimal(0)

# Payment method codes as stored by billing (Payment.method): the receipt shows the VietQR code for
# a bank transfer, and whenever an amount is still due.
METHOD_CASH = "cash"
METHOD_CARD = "card"
METHOD_TRANSFER = "transfer"

# Route boxes of the cost statement, Part I (cấp cứu / đúng tuyến / thông tuyến / trái tuyến).
ROUTE_EMERGENCY = "emergency"
ROUTE_CORRECT = "correct"
ROUTE_THONG_TUYEN = "thong_tuyen"
ROUTE_WRONG = "wrong"


def _check_aware(name: str, moment: datetime | None) -> None:
    if moment is not None and moment.tzinfo is None:
        raise ValueError(f"{name}: naive datetime")


@dataclass(frozen=True)
class FacilityHeader:
    """The issuing facility. Same attribute names as `patients.clinical.documents.data.FacilityInfo`
    so the shared `layout.header()` draws it."""

    name: str
    code: str
    address: str = ""
    phone: str = ""
    managing_body: str = ""
    tax_code: str = ""


@dataclass(frozen=True)
class BankAccount:
    """The facility's account that receives bank transfers (VietQR payee)."""

    bank_bin: str  # 6-digit NAPAS BIN, e.g. "970415"
    account: str  # account number (or card number when `to_card`)
    holder_name: str = ""
    bank_name: str = ""
    to_card: bool = False


@dataclass(frozen=True)
class Split:
    """Who pays what for one line or a total (VND)."""

    hospital_amount: Decimal
    fund: Decimal = ZERO
    copay: Decimal = ZERO
    self_pay: Decimal = ZERO
    other: Decimal = ZERO
    bhyt_amount: Decimal = ZERO

    def __post_init__(self) -> None:
        parts = (self.fund, self.copay, self.self_pay, self.other)
        if any(isinstance(v, float) for v in (*parts, self.hospital_amount, self.bhyt_amount)):
            raise TypeError("money must never be a float")
        if any(Decimal(v) < 0 for v in parts):
            raise ValueError("negative share in a split")
        if Decimal(self.hospital_amount) != sum(parts, ZERO):
            raise ValueError("split does not add up: hospital != fund + copay + self_pay + other")

    @property
    def patient_amount(self) -> Decimal:
        """What the patient owes for it: co-payment plus self-pay."""
        return self.copay + self.self_pay

    def same_shares(self, other: Split) -> bool:
        """Same amount and same payers (THANH_TIEN_BH aside, which the receipt does not print)."""
        fields = ("hospital_amount", "fund", "copay", "self_pay", "other")
        return all(Decimal(getattr(self, f)) == Decimal(getattr(other, f)) for f in fields)

    @classmethod
    def total(cls, splits: Iterable[Split]) -> Split:
        """The sum of several splits (totals of a group or of a document)."""
        acc = [ZERO] * 6
        for s in splits:
            values = (s.hospital_amount, s.fund, s.copay, s.self_pay, s.other, s.bhyt_amount)
            acc = [a + Decimal(v) for a, v in zip(acc, values, strict=True)]
        return cls(*acc)


# --- Receipt (biên lai thu tiền) ----------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptLine:
    """One charge line on the receipt: `unit_price` is the hospital price; the amount is
    `split.hospital_amount`. `cost_group` is the MA_NHOM number (CostGroup value) and
    `cost_group_name` its label; lines are printed grouped by cost group."""

    name: str
    quantity: Decimal
    unit_price: Decimal
    split: Split
    cost_group: int
    cost_group_name: str
    unit: str = ""
    code: str = ""
    benefit_rate: Decimal | None = None  # MUC_HUONG, percent

    @property
    def amount(self) -> Decimal:
        return self.split.hospital_amount


@dataclass(frozen=True)
class ReceiptDoc:
    """A cashier's receipt for one payment against an invoice.

    `totals` is the invoice total split (normally `Split.total(l.split for l in lines)`; it is
    checked against the lines). `amount_due` is what is still owed after this payment (0 when
    settled); with `payee` set, the receipt carries a VietQR code for `amount_due` when something
    is due, else for `amount_paid` when `method` is a bank transfer. `method` is the Payment.method
    code (METHOD_*), `method_label` its Vietnamese label.
    """

    facility: FacilityHeader
    number: str
    issued_at: datetime
    cashier_name: str
    patient_name: str
    invoice_number: str
    lines: tuple[ReceiptLine, ...]
    totals: Split
    amount_paid: Decimal
    method: str
    method_label: str
    patient_code: str = ""
    birth_year: int | None = None
    address: str = ""
    card_code: str = ""
    benefit_rate: Decimal | None = None
    visit_number: str = ""  # encounter reference (MA_LK)
    department: str = ""
    previously_paid: Decimal = ZERO  # earlier payments on the same invoice
    deposits_applied: Decimal = ZERO  # advance deposits set against the invoice
    amount_due: Decimal = ZERO
    payee: BankAccount | None = None
    note: str = ""

    def __post_init__(self) -> None:
        _check_aware("issued_at", self.issued_at)
        if self.lines and not Split.total(line.split for line in self.lines).same_shares(
            self.totals
        ):
            raise ValueError("receipt totals differ from the sum of its lines")
        if Decimal(self.amount_paid) < 0 or Decimal(self.amount_due) < 0:
            raise ValueError("negative amount on a receipt")


# --- Cost statement (Bảng kê chi phí KCB, form 01/KBCB) -----------------------------------------


@dataclass(frozen=True)
class CostStatementRow:
    """One row of Part II; the numbers are the form's columns.

    (1) name, (2) unit, (3) quantity, (4) hospital_price, (5) bhyt_price, (6) service_ratio %,
    (7) split.hospital_amount, (8) bhyt_ratio %, (9) split.bhyt_amount, (10) split.fund,
    (11) split.copay, (12) split.other, (13) split.self_pay.
    """

    name: str
    unit: str
    quantity: Decimal
    hospital_price: Decimal
    bhyt_price: Decimal | None
    split: Split
    cost_group: int
    cost_group_name: str
    service_ratio: Decimal = Decimal(100)
    bhyt_ratio: Decimal = Decimal(100)
    code: str = ""


@dataclass(frozen=True)
class CostStatementBlock:
    """Part II is printed as one block per card and per benefit rate (`card_code` '' and
    `benefit_rate` None for costs not covered by a card)."""

    rows: tuple[CostStatementRow, ...]
    card_code: str = ""
    benefit_rate: Decimal | None = None

    @property
    def totals(self) -> Split:
        return Split.total(row.split for row in self.rows)


@dataclass(frozen=True)
class CostStatementDoc:
    """Bảng kê chi phí khám bệnh, chữa bệnh (01/KBCB). Part I carries the administrative fields
    the record has; unknown ones stay as dotted blanks on the form.

    `card_code` is the 15-character code, printed in its 4 boxes (group, digit, province, number).
    `route` is one of ROUTE_* ('' leaves every box empty). `inpatient` picks the title wording
    (outpatient: 'lần khám bệnh'; inpatient: 'cả đợt điều trị').
    """

    facility: FacilityHeader
    visit_number: str  # Số khám bệnh = MA_LK
    patient_name: str
    birth_year: int
    sex: str  # label: Nam / Nữ
    blocks: tuple[CostStatementBlock, ...]
    printed_on: date
    inpatient: bool = False
    statement_number: str = ""
    patient_code: str = ""
    birth_date: date | None = None
    address: str = ""
    area_code: str = ""  # K1 / K2 / K3
    card_code: str = ""
    card_valid_from: date | None = None
    card_valid_to: date | None = None
    registered_facility_name: str = ""
    registered_facility_code: str = ""
    five_years_date: date | None = None
    copay_exempt_from: date | None = None
    department: str = ""
    department_code: str = ""
    arrived_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    treatment_days: int | None = None
    discharge_status: str = ""  # label (Ra viện / Chuyển viện / Trốn viện / Xin ra viện)
    treatment_result: str = ""  # label
    route: str = ""
    referred_from: str = ""
    referred_to: str = ""
    main_diagnosis: str = ""
    main_icd: str = ""
    other_diagnoses: str = ""
    other_icd: str = ""
    prepared_by: str = ""  # người lập bảng kê
    cashier_name: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        for name in ("arrived_at", "started_at", "ended_at"):
            _check_aware(name, getattr(self, name))

    @property
    def totals(self) -> Split:
        return Split.total(block.totals for block in self.blocks)
