"""The cashier's desk: shifts, deposits, payments, voids, refunds and the settlement of a stay.

Each service is one transaction with its audit row (ids and amounts only). Rules that hold for
all of them:

- Money goes through one cashier's *open* shift at the facility (`shift` is the acting cashier's
  own; a closed shift accepts nothing). The shift row is locked for the transaction, so a close
  cannot slip between the check and the write.
- The invoice row is locked (`select_for_update`) before anything is read from it: two desks
  paying the same invoice at once are served one after the other, and the second sees what the
  first paid (one payment, one clear refusal). The database refuses paid_amount above what is
  owed (`invoice_paid_within_owed`), updated with an SQL expression, as the last guard.
- Every request that moves money carries an idempotency key (unique in the database): a retried
  request returns what the first one did and never moves money twice; a key reused for another
  request is refused.
- Amounts are Decimal, more than zero, within what is owed or was paid; each refusal is a
  Vietnamese ValidationError and nothing is written.
"""

from billing.services.common import money_amount
from billing.services.payments import (
    deposit_take,
    deposit_void,
    deposits_held,
    payment_take,
    payment_void,
)
from billing.services.refunds import (
    Settlement,
    refund_approve,
    refund_reject,
    refund_request,
    stay_settle,
)
from billing.services.shifts import (
    ShiftMethodRow,
    ShiftReport,
    shift_close,
    shift_expected,
    shift_open,
    shift_report,
)

__all__ = [
    "Settlement",
    "ShiftMethodRow",
    "ShiftReport",
    "deposit_take",
    "deposit_void",
    "deposits_held",
    "money_amount",
    "payment_take",
    "payment_void",
    "refund_approve",
    "refund_reject",
    "refund_request",
    "shift_close",
    "shift_expected",
    "shift_open",
    "shift_report",
    "stay_settle",
]
