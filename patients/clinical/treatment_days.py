"""Treatment days of an episode (SO_NGAY_DTRI, XML1 of QĐ 130/4750/3176): pure functions, no I/O.

The rule, as written in the domain brief (`shared/domain/vietnam-bhyt.md`, section 3.3, field
`SO_NGAY_DTRI` of XML1; source: QĐ 130/QĐ-BYT Table 1 as amended by QĐ 4750 and QĐ 3176):

- MA_LOAI_KCB 01 (examination), 07 (drugs by appointment), 09 (inpatient under 4 hours): **0**.
- MA_LOAI_KCB 02, 03, 04, 06 (treatment, inpatient, day inpatient, commune stay):
  **out − in + 1**, counted in calendar days. "In" is NGAY_VAO and "out" is NGAY_RA of the
  episode. The claim writes both as local wall-clock times (`yyyymmddHHMM`, Vietnam time), so the
  calendar days are the dates in **Asia/Ho_Chi_Minh** (UTC+7), never the UTC dates: a stay from
  06:30 on the 1st to 23:00 on the 1st is 1 day; from 23:00 on the 1st to 01:00 on the 2nd is 2
  days, although in UTC both instants fall on the 1st. The hours do not matter: a stay entirely
  within one local day counts 1 (the "+ 1").
  This is also how a deployed Vietnamese HIS computes it: the date part of NGAY_RA minus the date
  part of NGAY_VAO, plus one.
- MA_LOAI_KCB 05: the number of days of drugs given (`drug_days`, from the prescription).
- MA_LOAI_KCB 08: the number of days services were performed (`service_days`).
- MA_LOAI_KCB 10 (other): the brief gives no rule, so none is invented: ValueError.

Only the 0 and "out − in + 1" rules concern the inpatient stay; 05 and 08 take their number from
the caller because it comes from the orders, not from the dates.

A stay of visit type 03 shorter than 4 hours is, by the definition of the code list, MA_LOAI_KCB
09 ("nội trú dưới 4 giờ"): `visit_type_at_discharge` makes that switch at discharge.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

ZERO_DAY_TYPES = frozenset({"01", "07", "09"})
CALENDAR_DAY_TYPES = frozenset({"02", "03", "04", "06"})
DRUG_DAY_TYPE = "05"
SERVICE_DAY_TYPE = "08"
INPATIENT = "03"
INPATIENT_UNDER_4H = "09"
SHORT_STAY = timedelta(hours=4)


def _local_date(moment: datetime, name: str):
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment.astimezone(VN_TZ).date()


def treatment_days(
    *,
    visit_type: str,
    started_at: datetime,
    ended_at: datetime,
    drug_days: int | None = None,
    service_days: int | None = None,
) -> int:
    """SO_NGAY_DTRI of an episode of visit type `visit_type` (MA_LOAI_KCB) per the rule above.

    `started_at` is NGAY_VAO and `ended_at` NGAY_RA, both timezone-aware. Raises ValueError for an
    end before the start, a naive datetime, or a visit type the brief gives no rule for.
    """
    start_day = _local_date(started_at, "started_at")
    end_day = _local_date(ended_at, "ended_at")
    if ended_at < started_at:
        raise ValueError("ended_at is before started_at")
    if visit_type in ZERO_DAY_TYPES:
        return 0
    if visit_type in CALENDAR_DAY_TYPES:
        return (end_day - start_day).days + 1
    if visit_type == DRUG_DAY_TYPE:
        return _given_count(drug_days, "drug_days")
    if visit_type == SERVICE_DAY_TYPE:
        return _given_count(service_days, "service_days")
    raise ValueError(f"no treatment-day rule for visit type {visit_type!r}")


def _given_count(value: int | None, name: str) -> int:
    if value is None or value < 0:
        raise ValueError(f"{name} (a count >= 0) is required for this visit type")
    return value


def visit_type_at_discharge(*, visit_type: str, admitted_at: datetime, ended_at: datetime) -> str:
    """The MA_LOAI_KCB to claim: an inpatient stay (03) of less than 4 hours is 09; else unchanged."""
    if visit_type == INPATIENT and ended_at - admitted_at < SHORT_STAY:
        return INPATIENT_UNDER_4H
    return visit_type
