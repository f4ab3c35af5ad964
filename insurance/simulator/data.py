"""Where the insurer-portal SIMULATOR gets its cards: a JSON file, or the seeded demo patients.

A card is a dict shaped like the portal's answer: maThe, hoTen, ngaySinh (dd/mm/yyyy or yyyy),
gioiTinh, maDKBD, gtTheTu, gtTheDen, maKV, ngayDu5Nam, ngayMienCCT, and optionally trangThai
("revoked" or "reduced"). All data is synthetic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

DEFAULT_DATA_FILE = Path(__file__).with_name("demo_cards.json")
_SEX = {"1": "Nam", "2": "Nữ"}


def cards_from_file(path: Path | str = DEFAULT_DATA_FILE) -> list[dict]:
    """Cards from a JSON file: {"cards": [...]} or a bare list."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    cards = data["cards"] if isinstance(data, dict) else data
    return [dict(c) for c in cards]


def _dmy(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def cards_from_db(*, today: date) -> Iterator[dict]:
    """The cards of the patients in the database: recorded InsuranceCards, and for patients
    holding only a registry BHYT identifier, a card valid for the calendar year of `today`
    registered at the first facility where they have a record number."""
    from insurance.models import InsuranceCard
    from patients.choices import IdentifierSystem
    from patients.models import PatientIdentifier

    seen: set[str] = set()
    cards = (
        InsuranceCard.objects.filter(voided_at__isnull=True)
        .select_related("patient")
        .order_by("patient_id", "valid_from")
    )
    for card in cards.iterator(chunk_size=2000):
        p = card.patient
        seen.add(card.code)
        yield {
            "maThe": card.code,
            "hoTen": p.full_name,
            "ngaySinh": _dmy(p.birth_date) or str(p.birth_year),
            "gioiTinh": _SEX.get(p.sex, ""),
            "maDKBD": card.registered_facility_code,
            "gtTheTu": _dmy(card.valid_from),
            "gtTheDen": _dmy(card.valid_to),
            "maKV": card.region_code,
            "ngayDu5Nam": _dmy(card.five_years_date),
            "ngayMienCCT": _dmy(card.copay_exempt_from),
        }
    first_facility: dict[int, str] = {}
    for pid, code in (
        PatientIdentifier.objects.filter(system=IdentifierSystem.MRN, voided_at__isnull=True)
        .order_by("patient_id", "id")
        .values_list("patient_id", "facility__code")
        .iterator(chunk_size=5000)
    ):
        first_facility.setdefault(pid, code or "")
    idents = (
        PatientIdentifier.objects.filter(system=IdentifierSystem.BHYT, voided_at__isnull=True)
        .order_by("patient_id")
        .values_list(
            "value",
            "patient_id",
            "patient__full_name",
            "patient__birth_date",
            "patient__birth_year",
            "patient__sex",
        )  # fmt: skip
    )
    start, end = date(today.year, 1, 1), date(today.year, 12, 31)
    for code, pid, name, birth_date, birth_year, sex in idents.iterator(chunk_size=5000):
        if code in seen:
            continue
        yield {
            "maThe": code,
            "hoTen": name,
            "ngaySinh": _dmy(birth_date) or str(birth_year),
            "gioiTinh": _SEX.get(sex, ""),
            "maDKBD": first_facility.get(pid, ""),
            "gtTheTu": _dmy(start),
            "gtTheDen": _dmy(end),
            "maKV": "",
            "ngayDu5Nam": "",
            "ngayMienCCT": "",
        }
