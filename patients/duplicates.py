"""Scoring of possible duplicates: similar name (without diacritics), birth date or year, address.

Rules (weights add up, capped at 1):
- name: 0.5 x trigram similarity of the folded names (1 when equal without diacritics);
- birth: same date +0.30; same year when one side knows only the year +0.20; same year but
  different dates +0.05; one year apart +0;
- address: same commune/ward +0.15; same street line +0.05; old three-level address similar +0.10;
- same phone +0.10; known and different sex -0.30.
A candidate needs name similarity >= 0.5 and a score >= SIMILAR_MIN_SCORE.

Reasons are Vietnamese msgids (translate them when shown: `{% translate reason %}`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from django.contrib.postgres.search import TrigramSimilarity
from django.db.models import F, Func, Value
from django.db.models.functions import Lower
from django.utils.translation import gettext_noop

from patients.choices import PatientStatus
from patients.models import Patient
from patients.normalize import fold

SIMILAR_MIN_SCORE = Decimal("0.600")
NAME_MIN_SIMILARITY = 0.5

REASON_NAME_EQUAL = gettext_noop("Trùng họ tên (không dấu)")
REASON_NAME_SIMILAR = gettext_noop("Họ tên gần giống")
REASON_BIRTH_DATE = gettext_noop("Trùng ngày sinh")
REASON_BIRTH_YEAR = gettext_noop("Trùng năm sinh")
REASON_BIRTH_YEAR_NEAR = gettext_noop("Năm sinh lệch một năm")
REASON_COMMUNE = gettext_noop("Cùng xã/phường")
REASON_ADDRESS_LINE = gettext_noop("Trùng địa chỉ")
REASON_LEGACY_ADDRESS = gettext_noop("Địa chỉ cũ gần giống")
REASON_PHONE = gettext_noop("Trùng số điện thoại")


def folded_name_expr(field_name: str = "full_name") -> Func:
    """`f_unaccent(lower(full_name))`: the expression the trigram index is built on."""
    return Func(Lower(field_name), function="f_unaccent")


@dataclass
class Candidate:
    """A possible duplicate with its score (0–1) and the reasons, best first."""

    patient: Patient
    score: Decimal
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Probe:
    """What is compared: the demographics of a new or existing patient."""

    full_name: str
    sex: str
    birth_date: date | None
    birth_year: int | None
    commune_id: str | None = None
    address_line: str = ""
    legacy_address: str = ""
    phone: str = ""


def probe_of(patient: Patient) -> Probe:
    return Probe(
        full_name=patient.full_name,
        sex=patient.sex,
        birth_date=patient.birth_date,
        birth_year=patient.birth_year,
        commune_id=patient.commune_id,
        address_line=patient.address_line,
        legacy_address=patient.legacy_address,
        phone=patient.phone,
    )


def _score(probe: Probe, other: Patient, name_sim: float, legacy_sim: float) -> Candidate | None:
    reasons: list[str] = []
    folded_equal = fold(probe.full_name) == fold(other.full_name)
    name_sim = 1.0 if folded_equal else float(name_sim)
    if name_sim < NAME_MIN_SIMILARITY:
        return None
    score = 0.5 * name_sim
    reasons.append(REASON_NAME_EQUAL if folded_equal else REASON_NAME_SIMILAR)

    if probe.birth_date and other.birth_date and probe.birth_date == other.birth_date:
        score += 0.30
        reasons.append(REASON_BIRTH_DATE)
    elif probe.birth_year == other.birth_year:
        if probe.birth_date and other.birth_date:
            score += 0.05
        else:
            score += 0.20
        reasons.append(REASON_BIRTH_YEAR)
    elif probe.birth_year is not None and abs(probe.birth_year - other.birth_year) == 1:
        reasons.append(REASON_BIRTH_YEAR_NEAR)

    if probe.commune_id and probe.commune_id == other.commune_id:
        score += 0.15
        reasons.append(REASON_COMMUNE)
    if probe.address_line and fold(probe.address_line) == fold(other.address_line):
        score += 0.05
        reasons.append(REASON_ADDRESS_LINE)
    if probe.legacy_address and other.legacy_address and legacy_sim >= 0.6:
        score += 0.10
        reasons.append(REASON_LEGACY_ADDRESS)
    if probe.phone and probe.phone == other.phone:
        score += 0.10
        reasons.append(REASON_PHONE)
    if probe.sex in ("1", "2") and other.sex in ("1", "2") and probe.sex != other.sex:
        score -= 0.30

    value = Decimal(str(min(max(score, 0.0), 1.0))).quantize(Decimal("0.001"), ROUND_HALF_UP)
    if value < SIMILAR_MIN_SCORE:
        return None
    return Candidate(patient=other, score=value, reasons=reasons)


def similar_candidates(
    probe: Probe, *, exclude_ids: list[int] | None = None, limit: int = 10
) -> list[Candidate]:
    """Active patients that may be the same person as `probe`, best first.

    The database narrows by the trigram operator on the folded name (GIN index) and the birth year
    (one year either side); the score is computed here on that short list.
    """
    folded = fold(probe.full_name)
    if not folded or probe.birth_year is None:
        return []
    qs = (
        Patient.objects.filter(
            status=PatientStatus.ACTIVE,
            voided_at__isnull=True,
            birth_year__gte=probe.birth_year - 1,
            birth_year__lte=probe.birth_year + 1,
        )
        .alias(folded_name=folded_name_expr())
        .filter(folded_name__trigram_similar=Value(folded))
        .annotate(name_sim=TrigramSimilarity(folded_name_expr(), Value(folded)))
    )
    if probe.legacy_address:
        qs = qs.annotate(
            legacy_sim=TrigramSimilarity(
                folded_name_expr("legacy_address"), Value(fold(probe.legacy_address))
            )
        )
    else:
        qs = qs.annotate(legacy_sim=Value(0.0))
    if exclude_ids:
        qs = qs.exclude(pk__in=exclude_ids)
    qs = qs.order_by(F("name_sim").desc(), "pk")[:200]

    candidates = [
        c
        for other in qs
        if (c := _score(probe, other, other.name_sim, other.legacy_sim)) is not None
    ]
    candidates.sort(key=lambda c: (-c.score, c.patient.pk))
    return candidates[:limit]
