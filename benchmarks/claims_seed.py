"""Claimable encounters for `benchmarks/claims.py`: records and their bills, written with COPY.

`claims_seed(count=N, seed=S)` writes N encounters at the two demo hospitals that have staff
(`Bệnh viện Đà Nẵng`, `Bệnh viện C Đà Nẵng`), over patients with a record number there and a BHYT
card (`benchmarks.registry.seed` first), spread over the past year in clinic hours
(Asia/Ho_Chi_Minh):

- about 80 % concluded outpatient visits (visit type 01): 1–3 diagnoses, 4–16 resulted lab and
  imaging orders (lab values with units, imaging conclusions), an issued prescription of 3–10
  drugs; charged: the examination, each order, each drug;
- about 20 % discharged inpatient stays (visit type 03) of 3–12 days: an admission and 1–3
  discharge diagnoses, a progress note per day, 15–45 orders, a prescription of 8–24 drugs,
  2–6 supply lines, a bed-day per calendar day (out − in + 1);

so about 25 charge lines per encounter. Each encounter's lines are split by the benefit engine
(`insurance.benefits.engine.split_lines`, the parameters of the visit's day, the card's group and
benefit digit, the route of its arrival) and written as billing keeps them: a live invoice
(outpatient paid; stay settled at discharge) and its charge lines with the split. The catalog
items are the benchmark's own (`BENCH.*`, with MoH codes, so the dossiers are valid), created
once in the benchmark database.

Ids of encounters, orders, prescriptions, items and invoices are explicit (charge lines point at
them in the same COPY): taken from each sequence, which is moved past them before each chunk is
written. One transaction per chunk; as a superuser, without the per-row foreign-key triggers
(every reference was read from the database just before). Run it on a quiet database.
"""

from __future__ import annotations

import io
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db import connection, models, transaction
from django.utils import timezone

VN = ZoneInfo("Asia/Ho_Chi_Minh")
N = r"\N"
HOSPITALS = ("Bệnh viện Đà Nẵng", "Bệnh viện C Đà Nẵng")
INPATIENT_SHARE = 0.2


@dataclass
class ClaimsSeedResult:
    encounters: int
    inpatient: int
    lines: int
    rows: dict[str, int]
    seconds: float

    @property
    def rate(self) -> float:
        return self.encounters / self.seconds if self.seconds else 0.0

    @property
    def lines_per_encounter(self) -> float:
        return self.lines / self.encounters if self.encounters else 0.0


# --- The benchmark's catalog -----------------------------------------------------------------

LAB_ANALYTES = [
    ("GLU", "Glucose", "mmol/L", 3.9, 6.4),
    ("URE", "Urê", "mmol/L", 2.5, 7.5),
    ("CREA", "Creatinin", "µmol/L", 62, 120),
    ("AST", "AST (GOT)", "U/L", 5, 37),
    ("ALT", "ALT (GPT)", "U/L", 5, 40),
    ("WBC", "Số lượng bạch cầu", "G/L", 4, 10),
    ("HGB", "Huyết sắc tố", "g/L", 120, 160),
    ("NA", "Natri", "mmol/L", 135, 145),
]


@dataclass
class _Item:
    pk: int
    code: str
    name: str
    unit: str
    group: int
    price: Decimal
    bhyt_price: Decimal | None
    in_scope: bool = True
    lab: bool = False


@dataclass
class Catalog:
    exam: _Item
    bed: _Item
    labs: list[_Item]
    imaging: list[_Item]
    drugs: list[_Item]
    supplies: list[_Item]


def bench_catalog() -> Catalog:
    """The benchmark's services, drugs and supplies with MoH codes (idempotent)."""
    from ehealth.core.models import Drug, MedicalService, Supply
    from ehealth.core.models.catalogs import CostGroup

    def service(code, name, group, moh, unit, price) -> _Item:
        row, _ = MedicalService.objects.get_or_create(
            code=code, defaults={"name": name, "group": group, "moh_code": moh, "unit": unit}
        )
        return _Item(row.pk, code, name, unit, group, Decimal(price), Decimal(price))

    exam = service("BENCH.KB", "Khám bệnh (đo hiệu năng)", CostGroup.EXAMINATION, "02.1896",
                   "lần", 50_600)  # fmt: skip
    bed = service("BENCH.GB", "Ngày giường Nội khoa loại 1 (đo hiệu năng)",
                  CostGroup.INPATIENT_BED, "K03.1911", "ngày", 321_000)  # fmt: skip
    labs = [
        service(f"BENCH.XN{n:02d}", f"Xét nghiệm đo hiệu năng {n}", CostGroup.LAB,
                f"23.{n:04d}.1494", "lần", 20_000 + 2_700 * n)
        for n in range(40)
    ]  # fmt: skip
    for item in labs:
        item.lab = True
    imaging = [
        service(f"BENCH.HA{n:02d}", f"Chẩn đoán hình ảnh đo hiệu năng {n}",
                CostGroup.IMAGING if n < 10 else CostGroup.FUNCTIONAL, f"18.{n:04d}.0028",
                "lần", 65_000 + 12_000 * n)
        for n in range(15)
    ]  # fmt: skip
    drugs = []
    for n in range(60):
        code = f"BENCH.TH{n:02d}"
        in_list = n % 12 != 0  # a few drugs outside the BHYT list: paid by the patient
        row, _ = Drug.objects.get_or_create(
            code=code,
            defaults={
                "name": f"Thuốc đo hiệu năng {n} 500mg",
                "unit": "viên" if n % 4 else "lọ",
                "active_ingredient_code": f"40.{100 + n}",
                "active_ingredient": f"Hoạt chất {n}",
                "strength": "500mg",
                "dosage_form": "Viên nén" if n % 4 else "Bột pha tiêm",
                "route": "Uống" if n % 4 else "Tiêm tĩnh mạch",
                "route_code": "1.01" if n % 4 else "2.10",
                "registration_number": f"VD-{10_000 + n}-24",
                "in_bhyt_list": in_list,
            },
        )
        price = Decimal(800 + 350 * n)
        drugs.append(
            _Item(row.pk, code, row.name, row.unit, CostGroup.DRUG, price,
                  price if in_list else None, in_scope=in_list)
        )  # fmt: skip
    supplies = []
    for n in range(10):
        code = f"BENCH.VT{n:02d}"
        row, _ = Supply.objects.get_or_create(
            code=code,
            defaults={"name": f"Vật tư đo hiệu năng {n}", "unit": "cái",
                      "moh_code": f"N03.05.{n:03d}"},
        )  # fmt: skip
        price = Decimal(15_000 + 9_000 * n)
        supplies.append(_Item(row.pk, code, row.name, "cái", CostGroup.SUPPLY, price, price))
    return Catalog(exam, bed, labs, imaging, drugs, supplies)


# --- Places, people -----------------------------------------------------------------------------


@dataclass
class _Unit:
    pk: int
    code: str
    level: str
    kind: str
    exam_department: tuple[int, str]
    inpatient_departments: list[tuple[int, str]]
    lab_department: int
    imaging_department: int
    doctor: int
    nurse: int


def _units() -> dict[int, _Unit]:
    """The demo hospitals with staff; their doctors get a practitioner code (MA_BAC_SI)."""
    from ehealth.core.models import Department, Facility, Role, StaffMembership, User

    units = {}
    for facility in Facility.objects.filter(name__in=HOSPITALS).order_by("code"):
        depts = {
            d.code: (d.pk, d.code)
            for d in Department.objects.filter(facility=facility).order_by("code")
        }
        staff = {
            m.role: m.user_id
            for m in StaffMembership.objects.filter(
                facility=facility, role__in=[Role.DOCTOR, Role.NURSE], is_active=True
            ).order_by("-user__username")
        }
        inpatient = [depts[c] for c in ("K03", "K18", "K19", "K11") if c in depts]
        if not ({"K01", "K37", "K39"} <= set(depts) and inpatient and len(staff) == 2):
            continue
        User.objects.filter(pk=staff[Role.DOCTOR], practitioner_code="").update(
            practitioner_code=f"{facility.pk:06d}/DNA-CCHN"
        )
        units[facility.pk] = _Unit(
            pk=facility.pk,
            code=facility.code,
            level=facility.level,
            kind=facility.kind,
            exam_department=depts["K01"],
            inpatient_departments=inpatient,
            lab_department=depts["K37"][0],
            imaging_department=depts["K39"][0],
            doctor=staff[Role.DOCTOR],
            nurse=staff[Role.NURSE],
        )
    if not units:
        raise RuntimeError("no demo hospital with departments and staff: run prepare() first")
    return units


def _patients(units: dict[int, _Unit]) -> list[tuple[int, int, str]]:
    """(patient id, facility id, BHYT card) of the patients with a record number at a unit and a
    card, in patient order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.patient_id, MIN(m.facility_id), MIN(b.value) "
            "FROM patients_patientidentifier m JOIN patients_patientidentifier b "
            "ON b.patient_id = m.patient_id AND b.system = 'bhyt' AND b.voided_at IS NULL "
            "WHERE m.system = 'mrn' AND m.voided_at IS NULL AND m.facility_id = ANY(%s) "
            "GROUP BY m.patient_id ORDER BY m.patient_id",
            [list(units)],
        )
        return cursor.fetchall()


def _icd_codes(first: date, last: date) -> list[tuple[str, str]]:
    """Billable ICD-10 codes in force over the whole window, in the MA_BENH format."""
    import re

    from ehealth.core.models import IcdCode

    pattern = re.compile(r"^[A-Z]\d{2}(\.?[0-9A-Z]{1,2})?$")
    rows = (
        IcdCode.objects.filter(billable=True, valid_from__lte=first)
        .exclude(valid_to__lt=last)
        .order_by("code")
        .values_list("code", "name_vi", "name_en")
    )
    codes = [(c, (vi or en)[:200]) for c, vi, en in rows if pattern.match(c) and (vi or en)]
    if not codes:
        raise RuntimeError("no billable ICD-10 code in force: load the reference data first")
    return codes


# --- Ids ---------------------------------------------------------------------------------------


class _Ids:
    """Explicit ids handed out from each model's sequence; `sync` moves the sequences past them."""

    def __init__(self, models_: dict[str, type[models.Model]]):
        self.sequence, self.next, self.synced = {}, {}, {}
        with connection.cursor() as cursor:
            for name, model in models_.items():
                cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
                self.sequence[name] = cursor.fetchone()[0]
                cursor.execute("SELECT nextval(%s)", [self.sequence[name]])
                self.next[name] = self.synced[name] = cursor.fetchone()[0]

    def take(self, name: str) -> int:
        value = self.next[name]
        self.next[name] = value + 1
        return value

    def sync(self) -> None:
        with connection.cursor() as cursor:
            for name, sequence in self.sequence.items():
                last = self.next[name] - 1
                if last >= self.synced[name]:
                    cursor.execute("SELECT setval(%s, %s)", [sequence, last])
                    self.synced[name] = last + 1


# --- Rows ----------------------------------------------------------------------------------------


def _text(value) -> str:
    from ehealth.core.demo import _copy_value

    return _copy_value(value)


def _ts(moment: datetime) -> str:
    return moment.isoformat(sep=" ")


@dataclass
class _Tables:
    """COPY column lists of the tables written, and the text of the current chunk."""

    columns: dict[str, list[str]]
    models_: dict[str, type[models.Model]]
    sql: dict[str, str] = field(default_factory=dict)
    extras: dict[str, str] = field(default_factory=dict)
    out: dict[str, list[str]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        from ehealth.core.demo import _copy_plan

        for name, model in self.models_.items():
            columns, extras = _copy_plan(model, self.columns[name])
            self.extras[name] = extras
            self.sql[name] = f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN"  # noqa: S608
            self.out[name] = []
            self.counts[name] = 0

    def add(self, name: str, *values) -> None:
        self.out[name].append("\t".join(values) + self.extras[name] + "\n")

    def write(self, superuser: bool) -> None:
        """The chunk in one transaction, parents first."""
        with transaction.atomic():
            raw = connection.cursor().cursor
            if superuser:
                raw.execute("SET LOCAL session_replication_role = replica")
            for name, lines in self.out.items():
                if lines:
                    raw.copy_expert(self.sql[name], io.StringIO("".join(lines)))
                    self.counts[name] += len(lines)
                    self.out[name] = []


def _tables() -> _Tables:
    from billing.models import ChargeLine, Invoice
    from patients.models import (
        Diagnosis,
        Encounter,
        Prescription,
        PrescriptionItem,
        ProgressNote,
        ResultValue,
        ServiceOrder,
    )

    return _Tables(
        models_={
            "encounter": Encounter,
            "diagnosis": Diagnosis,
            "order": ServiceOrder,
            "result": ResultValue,
            "prescription": Prescription,
            "item": PrescriptionItem,
            "note": ProgressNote,
            "invoice": Invoice,
            "charge": ChargeLine,
        },
        columns={
            "encounter": [
                "id", "uuid", "claim_key", "patient_id", "facility_id", "department_id", "kind",
                "visit_type", "status", "arrival_mode", "referral_paper_number",
                "referral_from_code", "insurance_card_code", "insurance_card_valid_from",
                "insurance_card_valid_to", "registered_facility_code", "card_check_status",
                "reason", "history", "examination_findings", "treatment_method", "attending_id",
                "started_at", "admitted_at", "ended_at", "conclusion", "conclusion_note",
                "follow_up_date", "treatment_result", "discharge_type", "treatment_summary",
                "discharge_advice", "treatment_days", "archive_number", "closed_by_id",
                "version", "created_at", "created_by_id", "updated_at",
            ],
            "diagnosis": [
                "encounter_id", "phase", "icd_code", "text", "rank", "recorded_by_id",
                "recorded_at",
            ],
            "order": [
                "id", "encounter_id", "service_id", "quantity", "status", "ordered_by_id",
                "ordered_at", "ordering_department_id", "performing_department_id",
                "performed_at", "performed_by_id", "resulted_at", "result_conclusion",
                "result_description", "version",
            ],
            "result": [
                "order_id", "code", "name", "value", "numeric_value", "unit", "reference_low",
                "reference_high", "flag", "entered_by_id", "entered_at",
            ],
            "prescription": [
                "id", "encounter_id", "status", "prescribed_by_id", "prescribed_at", "note",
                "version",
            ],
            "item": [
                "id", "prescription_id", "drug_id", "dose", "dose_unit", "route",
                "times_per_day", "days", "quantity", "instructions",
            ],
            "note": [
                "encounter_id", "noted_at", "author_id", "clinical_course", "disease_stage",
                "version", "updated_at",
            ],
            "invoice": [
                "id", "encounter_id", "facility_id", "patient_id", "status", "version",
                "card_code", "route", "benefit_rate", "total_hospital", "total_bhyt",
                "total_fund", "total_copay", "total_self_pay", "total_other", "patient_amount",
                "paid_amount", "built_at", "settled_at", "created_at", "updated_at",
            ],
            "charge": [
                "encounter_id", "facility_id", "source_kind", "source_id", "service_date",
                "department_id", "service_id", "drug_id", "supply_id", "item_code", "item_name",
                "unit", "cost_group", "quantity", "hospital_price", "bhyt_price",
                "service_ratio", "bhyt_ratio", "in_scope", "status", "invoice_id",
                "hospital_amount", "bhyt_amount", "benefit_rate", "fund", "copay", "self_pay",
                "other", "created_at", "updated_at",
            ],
        },
    )  # fmt: skip


REASONS = ["Sốt, ho 3 ngày", "Đau thượng vị", "Đau đầu, chóng mặt", "Khó thở khi gắng sức",
           "Tái khám tăng huyết áp", "Đau khớp gối"]  # fmt: skip
COURSE = ["Tỉnh, sốt nhẹ, ăn uống kém", "Hết sốt, tiếp xúc tốt", "Còn ho, phổi ran ẩm đáy phải",
          "Huyết áp ổn định, không đau ngực", "Ổn định, chuẩn bị ra viện"]  # fmt: skip


@dataclass
class _Charge:
    kind: str
    source_id: int
    day: date
    item: _Item
    quantity: Decimal
    department: tuple[int, str]


class _Writer:
    """Generates the rows of one encounter and its bill (the CPU half of the seed)."""

    def __init__(self, *, seed: int, units, patients, catalog: Catalog, ids: _Ids, tables):
        self.rng = random.Random(seed)  # noqa: S311 (synthetic benchmark data)
        self.units, self.patients, self.catalog = units, patients, catalog
        self.ids, self.tables = ids, tables
        self.today = timezone.localdate(timezone=VN)
        self.first = self.today - timedelta(days=365)
        self.icd = _icd_codes(self.first, self.today)
        self.prefix = self.rng.getrandbits(64)
        self.params: dict[date, object] = {}
        self.other_codes = [u.code for u in units.values()] + ["48951", "48914"]
        self.lines = 0
        self.inpatient = 0

    def _at(self, day: date, minute: int) -> datetime:
        return datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=VN)

    def _params(self, day: date):
        from insurance.benefits.parameters import benefit_params

        if day not in self.params:
            self.params[day] = benefit_params(on=day)
        return self.params[day]

    def encounter(self) -> None:
        rnd = self.rng.random
        pid, fid, card = self.patients[int(rnd() * len(self.patients))]
        unit = self.units[fid]
        eid = self.ids.take("encounter")
        day = self.first + timedelta(days=int(rnd() * 350))
        inpatient = rnd() < INPATIENT_SHARE
        start = self._at(day, 7 * 60 + int(rnd() * 540))
        if inpatient:
            self.inpatient += 1
            stay = 3 + int(rnd() * 10)
            end = self._at(day + timedelta(days=stay - 1), 9 * 60 + int(rnd() * 120))
            department = unit.inpatient_departments[int(rnd() * len(unit.inpatient_departments))]
            mode = "emergency" if rnd() < 0.35 else "referral" if rnd() < 0.5 else "registered"
        else:
            stay = 1
            end = start + timedelta(minutes=25 + int(rnd() * 100))
            department = unit.exam_department
            draw = rnd()
            mode = ("registered" if draw < 0.6 else "referral" if draw < 0.7
                    else "self_referred" if draw < 0.85 else "follow_up" if draw < 0.97
                    else "emergency")  # fmt: skip
        registered = (
            unit.code if rnd() < 0.8 else self.other_codes[int(rnd() * len(self.other_codes))]
        )
        doctor, nurse = str(unit.doctor), str(unit.nurse)
        charges: list[_Charge] = []
        minute = start.hour * 60 + start.minute

        # Diagnoses: a stay has its admission diagnosis and its discharge diagnoses.
        picks = self.rng.sample(self.icd, 1 + int(rnd() * 3))
        if inpatient:
            admission = self.icd[int(rnd() * len(self.icd))]
            self.tables.add("diagnosis", str(eid), "admission", _text(admission[0]),
                            _text(admission[1]), "0", doctor, _ts(start))  # fmt: skip
        phase = "discharge" if inpatient else "encounter"
        for rank, (code, text) in enumerate(picks):
            self.tables.add("diagnosis", str(eid), phase, _text(code), _text(text), str(rank),
                            doctor, _ts(end if inpatient else start + timedelta(minutes=10)))  # fmt: skip

        # Orders, resulted (labs with values, imaging with a conclusion).
        orders = 15 + int(rnd() * 31) if inpatient else 4 + int(rnd() * 13)
        for _ in range(orders):
            oid = self.ids.take("order")
            on = day + timedelta(days=int(rnd() * stay))
            lab = rnd() < 0.7
            pool = self.catalog.labs if lab else self.catalog.imaging
            service = pool[int(rnd() * len(pool))]
            ordered = self._at(on, (minute if on == day else 7 * 60 + 30) + 5)
            performed, resulted = ordered + timedelta(minutes=10), ordered + timedelta(minutes=40)
            conclusion = "" if lab else "Không thấy bất thường"
            performing = unit.lab_department if lab else unit.imaging_department
            self.tables.add("order", str(oid), str(eid), str(service.pk), "1", "resulted",
                            doctor, _ts(ordered), str(department[0]), str(performing),
                            _ts(performed), nurse, _ts(resulted), conclusion, "", "1")  # fmt: skip
            if lab:
                for acode, aname, unit_, low, high in self.rng.sample(LAB_ANALYTES, 1 + int(rnd() * 3)):  # fmt: skip
                    value = round(low + rnd() * (high - low) * 1.2, 1)
                    flag = "H" if value > high else "N"
                    self.tables.add("result", str(oid), acode, _text(aname), f"{value}",
                                    f"{value}", _text(unit_), f"{low}", f"{high}", flag, nurse,
                                    _ts(resulted))  # fmt: skip
            charges.append(_Charge("service_order", oid, on, service, Decimal(1), department))

        # One issued prescription.
        rid = self.ids.take("prescription")
        prescribed = start + timedelta(minutes=30)
        self.tables.add("prescription", str(rid), str(eid), "issued", doctor, _ts(prescribed),
                        "", "1")  # fmt: skip
        n_drugs = 8 + int(rnd() * 17) if inpatient else 3 + int(rnd() * 8)
        for drug in self.rng.sample(self.catalog.drugs, n_drugs):
            iid = self.ids.take("item")
            times, days = 1 + int(rnd() * 3), (3, 5, 7, 10)[int(rnd() * 4)]
            quantity = Decimal(times * days)
            self.tables.add("item", str(iid), str(rid), str(drug.pk), "1", drug.unit,
                            "Uống" if drug.unit == "viên" else "Tiêm tĩnh mạch", str(times),
                            str(days), str(quantity), "Sau ăn")  # fmt: skip
            charges.append(_Charge("drug", iid, day, drug, quantity, department))

        if inpatient:
            for d in range(stay):
                on = day + timedelta(days=d)
                self.tables.add("note", str(eid), _ts(self._at(on, 8 * 60)), doctor,
                                _text(COURSE[min(d, len(COURSE) - 1)]), "Ổn định", "1",
                                _ts(end))  # fmt: skip
                charges.append(_Charge("bed_day", department[0], on, self.catalog.bed,
                                       Decimal(1), department))  # fmt: skip
            for n in range(2 + int(rnd() * 5)):
                supply = self.catalog.supplies[int(rnd() * len(self.catalog.supplies))]
                on = day + timedelta(days=int(rnd() * stay))
                charges.append(_Charge("supply", eid * 10 + n, on, supply,
                                       Decimal(1 + int(rnd() * 3)), department))  # fmt: skip
        else:
            charges.append(_Charge("examination", eid, day, self.catalog.exam, Decimal(1),
                                   department))  # fmt: skip

        self._bill(eid, pid, unit, card, mode, registered, inpatient, start, end, charges)
        uid = uuid.UUID(int=(self.prefix << 64) | eid)
        year_from, year_to = date(day.year, 1, 1), date(day.year, 12, 31)
        follow_up = (day + timedelta(days=14)).isoformat() if rnd() < 0.3 else N
        self.tables.add(
            "encounter", str(eid), str(uid), f"{self.prefix:016X}{eid:016X}", str(pid),
            str(unit.pk), str(department[0]), "inpatient" if inpatient else "outpatient",
            "03" if inpatient else "01", "discharged" if inpatient else "concluded", mode,
            f"{1 + int(rnd() * 9999)}/GCT" if mode == "referral" else "",
            self.other_codes[0] if mode == "referral" else "", card, year_from.isoformat(),
            year_to.isoformat(), registered, "valid", _text(REASONS[int(rnd() * 6)]),
            "Không có tiền sử đặc biệt", "Tỉnh, tiếp xúc tốt",
            "Điều trị nội khoa" if inpatient else "", doctor, _ts(start),
            _ts(start) if inpatient else N, _ts(end), "" if inpatient else "home",
            "" if inpatient else "Uống thuốc theo đơn", follow_up,
            ("1" if rnd() < 0.55 else "2") if inpatient else "", "1" if inpatient else "",
            "Điều trị nội khoa, ổn định" if inpatient else "",
            "Tái khám sau 7 ngày" if inpatient else "", str(stay) if inpatient else "0",
            f"LT-{eid}" if inpatient else "", doctor, "4" if inpatient else "3", _ts(start),
            doctor, _ts(end),
        )  # fmt: skip

    def _bill(self, eid, pid, unit, card, mode, registered, inpatient, start, end, charges):
        """Split the lines with the benefit engine; write the invoice and its charge lines."""
        from billing.invoices import visit_route
        from insurance.benefits.engine import split_lines
        from insurance.benefits.types import CardContext, ChargeLineInput, VisitContext

        day = start.date()
        card_ctx = CardContext(
            group_code=card[:2],
            benefit_digit=int(card[2]),
            valid_from=date(day.year, 1, 1),
            valid_to=date(day.year, 12, 31),
            registered_facility_code=registered,
        )
        route = visit_route(
            arrival_mode=mode, card_facility_code=registered, facility_code=unit.code
        )
        visit = VisitContext(
            on=day,
            kind="inpatient" if inpatient else "outpatient",
            route=route,
            facility_level=unit.level,
            facility_kind=unit.kind,
            facility_code=unit.code,
        )
        result = split_lines(
            card=card_ctx,
            visit=visit,
            lines=[
                ChargeLineInput(
                    ref=str(n),
                    cost_group=c.item.group,
                    quantity=c.quantity,
                    hospital_price=c.item.price,
                    bhyt_price=c.item.bhyt_price,
                    in_scope=c.item.in_scope,
                )  # fmt: skip
                for n, c in enumerate(charges)
            ],
            params=self._params(day),
        )
        t = result.totals
        invoice = self.ids.take("invoice")
        stamp = _ts(end + timedelta(minutes=20))
        self.tables.add(
            "invoice", str(invoice), str(eid), str(unit.pk), str(pid),
            "settled" if inpatient else "paid", "1", card, route, str(result.benefit_rate),
            str(t.hospital_amount), str(t.bhyt_amount), str(t.fund), str(t.copay),
            str(t.self_pay), str(t.other), str(t.copay + t.self_pay), str(t.copay + t.self_pay),
            stamp, stamp if inpatient else N, stamp, stamp,
        )  # fmt: skip
        for c, s in zip(charges, result.lines, strict=True):
            item = c.item
            is_drug, is_supply = c.kind == "drug", c.kind == "supply"
            self.tables.add(
                "charge", str(eid), str(unit.pk), c.kind, str(c.source_id), c.day.isoformat(),
                str(c.department[0]),
                N if is_drug or is_supply else str(item.pk), str(item.pk) if is_drug else N,
                str(item.pk) if is_supply else N, item.code, _text(item.name), _text(item.unit),
                str(item.group), str(c.quantity), str(item.price),
                N if item.bhyt_price is None else str(item.bhyt_price), "100", "100",
                "t" if item.in_scope else "f", "active", str(invoice), str(s.hospital_amount),
                str(s.bhyt_amount), str(s.benefit_rate), str(s.fund), str(s.copay),
                str(s.self_pay), str(s.other), stamp, stamp,
            )  # fmt: skip
        self.lines += len(charges)


def _superuser() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return bool(cursor.fetchone()[0])


def claims_seed(
    *,
    count: int,
    seed: int,
    chunk_size: int = 1000,
    progress: Callable[[int, float], None] | None = None,
) -> ClaimsSeedResult:
    """Write `count` claimable encounters with their records and bills (see the module doc)."""
    started = time.perf_counter()
    catalog = bench_catalog()
    units = _units()
    patients = _patients(units)
    if not patients:
        raise RuntimeError("no patient with a record number and a card: seed patients first")
    tables = _tables()
    ids = _Ids({k: tables.models_[k] for k in ("encounter", "order", "prescription", "item", "invoice")})  # fmt: skip
    writer = _Writer(seed=seed, units=units, patients=patients, catalog=catalog, ids=ids, tables=tables)  # fmt: skip
    superuser = _superuser()
    done = 0
    while done < count:
        n = min(chunk_size, count - done)
        for _ in range(n):
            writer.encounter()
        ids.sync()
        tables.write(superuser)
        done += n
        if progress is not None:
            progress(done, time.perf_counter() - started)
    with connection.cursor() as cursor:
        for model in tables.models_.values():
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return ClaimsSeedResult(
        encounters=done,
        inpatient=writer.inpatient,
        lines=writer.lines,
        rows=dict(tables.counts),
        seconds=time.perf_counter() - started,
    )


def claims_seeded(*, count: int) -> ClaimsSeedResult | None:
    """What an earlier `claims_seed` left: its first `count` claimable encounters (with a card,
    not voided, in id order) with their stays and charge lines; None when there are fewer."""
    from billing.models import ChargeLine
    from patients.models import Encounter

    enc, line = Encounter._meta.db_table, ChargeLine._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH e AS (SELECT id, status FROM {enc} WHERE status IN ('concluded', 'discharged')"
            " AND voided_at IS NULL AND insurance_card_code <> '' ORDER BY id LIMIT %s) "
            "SELECT count(*), count(*) FILTER (WHERE status = 'discharged'), "
            f"(SELECT count(*) FROM {line} WHERE encounter_id IN (SELECT id FROM e)) FROM e",
            [count],
        )
        encounters, inpatient, lines = cursor.fetchone()
    if encounters < count:
        return None
    return ClaimsSeedResult(
        encounters=encounters, inpatient=inpatient, lines=lines, rows={}, seconds=0.0
    )
