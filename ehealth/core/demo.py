"""Demo data: departments, wards and beds, staff of every role, and synthetic patients at scale.

Everything here is synthetic. Names are composed, in Vietnamese order (họ, đệm, tên), from the
Faker vi_VN word lists plus common Vietnamese names; identifiers come from the generators of
`patients.identifiers`, with their serial digits derived from the patient id (never random), so
they are unique and pass the checks.

Department codes follow the MoH MA_KHOA pattern (K01…); the code/name pairs below are plausible and
MUST be checked against QĐ 1804/2026/QĐ-BYT Appendix 02 before real use.

Patients are written with PostgreSQL COPY in chunks (default 50,000): memory stays flat at any N,
and each chunk (patients, identifiers and the record-number counters) commits on its own. One
audit entry records the seed itself (no per-patient entries: the records are synthetic).
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import queue
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from ehealth.core.audit import audit_record
from ehealth.core.models import (
    AdminUnit,
    Bed,
    Department,
    Facility,
    Province,
    Role,
    StaffMembership,
    User,
    Ward,
)
from ehealth.core.permissions import staff_groups_sync
from ehealth.core.reference import DANANG, data_path

# --- Departments, wards, beds -------------------------------------------------------------------

# MA_KHOA code -> name. Plausible, UNCONFIRMED: check against QĐ 1804/2026 App. 02.
DEPARTMENTS = {
    "K01": "Khoa Khám bệnh",
    "K02": "Khoa Hồi sức cấp cứu",
    "K03": "Khoa Nội tổng hợp",
    "K11": "Khoa Truyền nhiễm",
    "K12": "Khoa Lao và Bệnh phổi",
    "K13": "Khoa Da liễu",
    "K15": "Khoa Tâm thần",
    "K16": "Khoa Y học cổ truyền",
    "K18": "Khoa Nhi",
    "K19": "Khoa Ngoại tổng hợp",
    "K27": "Khoa Phụ sản",
    "K29": "Khoa Răng Hàm Mặt",
    "K30": "Khoa Mắt",
    "K31": "Khoa Phục hồi chức năng",
    "K33": "Khoa Ung bướu",
    "K37": "Khoa Xét nghiệm",
    "K39": "Khoa Chẩn đoán hình ảnh",
}
OUTPATIENT_ONLY = {"K01", "K37", "K39"}
GENERAL = ["K01", "K02", "K03", "K11", "K18", "K19", "K27", "K37", "K39"]
SPECIALTIES = {  # a word of the facility name -> its specialty departments
    "Phụ sản - Nhi": ["K27", "K18"],
    "Ung bướu": ["K33"],
    "Mắt": ["K30"],
    "Y học cổ truyền": ["K16"],
    "Tâm thần": ["K15"],
    "Da liễu": ["K13"],
    "Phổi": ["K12"],
    "Phục hồi chức năng": ["K31"],
    "Răng Hàm Mặt": ["K29"],
}

MAIN_HOSPITAL = "Bệnh viện Đà Nẵng"
SECOND_HOSPITAL = "Bệnh viện C Đà Nẵng"
DEMO_STATION = "Trạm Y tế Phường Hải Châu (DEMO)"


def department_codes(facility: Facility) -> list[str]:
    """Which departments a facility of the demo has."""
    if facility.kind == Facility.Kind.HEALTH_AUTHORITY:
        return []
    if facility.kind == Facility.Kind.COMMUNE_STATION or "Kiểm soát bệnh tật" in facility.name:
        return ["K01"]
    if facility.kind == Facility.Kind.CLINIC:  # district health centres
        return ["K01", "K03", "K19", "K27", "K37"]
    for word, codes in SPECIALTIES.items():
        if word in facility.name:
            return ["K01", "K02", *codes, "K37", "K39"]
    return GENERAL


@transaction.atomic
def departments_seed(facilities: list[Facility]) -> dict[str, int]:
    """Departments of every facility; wards and beds for inpatient departments (idempotent)."""
    counts = {"departments": 0, "wards": 0, "beds": 0}
    for facility in facilities:
        main = facility.name == MAIN_HOSPITAL
        inpatient = facility.kind in (Facility.Kind.HOSPITAL, Facility.Kind.CLINIC)
        for code in department_codes(facility):
            dept, _ = Department.objects.get_or_create(
                facility=facility, code=code, defaults={"name": DEPARTMENTS[code]}
            )
            counts["departments"] += 1
            if not inpatient or code in OUTPATIENT_ONLY:
                continue
            for w in range(1, 3 if main else 2):
                ward, _ = Ward.objects.get_or_create(
                    department=dept, code=f"B{w:02d}", defaults={"name": f"Buồng {w}"}
                )
                counts["wards"] += 1
                for b in range(1, (6 if main else 4) + 1):
                    Bed.objects.get_or_create(ward=ward, code=f"{code}.B{w:02d}.G{b:02d}")
                    counts["beds"] += 1
    return counts


# --- Staff ----------------------------------------------------------------------------------------

ROLE_PREFIX = {
    Role.RECEPTIONIST: "letan",
    Role.DOCTOR: "bacsi",
    Role.NURSE: "dieuduong",
    Role.CASHIER: "thungan",
    Role.INSURANCE_OFFICER: "giamdinh",
    Role.UNIT_ADMIN: "quantri",
}
ROLE_DEPARTMENT = {Role.DOCTOR: "K03", Role.NURSE: "K03"}
CITY_ADMIN_USERNAME = "so.yte"


@dataclass(frozen=True)
class DemoAccount:
    role: str
    username: str
    facility_code: str
    facility_name: str


def staff_seed(*, rng: random.Random) -> list[DemoAccount]:
    """Every role at the main hospital and the second one, a doctor and a receptionist at a demo
    commune station, and the city admin at the health authority. All share DEMO_PASSWORD."""
    password_hash = make_password(settings.DEMO_PASSWORD)  # hashed once: PBKDF2 is slow on purpose
    plan: list[tuple[str, str, list[str]]] = [
        (MAIN_HOSPITAL, "bvdn", list(ROLE_PREFIX)),
        (SECOND_HOSPITAL, "bvc", list(ROLE_PREFIX)),
        (DEMO_STATION, "tyt.haichau", [Role.RECEPTIONIST, Role.DOCTOR]),
    ]
    accounts = []
    with transaction.atomic():
        for facility_name, suffix, roles in plan:
            facility = Facility.objects.get(name=facility_name)
            for role in roles:
                username = f"{ROLE_PREFIX[role]}.{suffix}"
                accounts.append(_staff_account(username, facility, role, password_hash, rng))
        authority = Facility.objects.get(kind=Facility.Kind.HEALTH_AUTHORITY, province_id=DANANG)
        accounts.append(
            _staff_account(CITY_ADMIN_USERNAME, authority, Role.CITY_ADMIN, password_hash, rng)
        )
    return accounts


def _staff_account(
    username: str, facility: Facility, role: str, password_hash: str, rng: random.Random
) -> DemoAccount:
    sex = rng.choice("12")
    user, created = User.objects.get_or_create(
        username=username, defaults={"full_name": compose_name(rng, sex), "password": password_hash}
    )
    if not created:
        user.password = password_hash
        user.is_active = True
        user.save(update_fields=["password", "is_active"])
    department = None
    if role in ROLE_DEPARTMENT:
        department = Department.objects.filter(
            facility=facility, code=ROLE_DEPARTMENT[role]
        ).first()
    StaffMembership.objects.update_or_create(
        user=user,
        facility=facility,
        role=role,
        defaults={"department": department, "is_active": True},
    )
    staff_groups_sync(user)
    return DemoAccount(
        role=role, username=username, facility_code=facility.code, facility_name=facility.name
    )


# --- Names ------------------------------------------------------------------------------------------


def _name_pools() -> dict[str, list[str]]:
    from faker.providers.person.vi_VN import Provider

    surnames = list(Provider.last_names) + [
        "Huỳnh", "Phan", "Võ", "Đỗ", "Hồ", "Ngô", "Đoàn", "Lâm", "Trương", "Đinh", "Lương",
        "Cao", "Tô", "Châu", "Tạ", "Hà", "Thái", "Lưu", "Trịnh", "Văn",
    ]  # fmt: skip
    male = list(Provider.first_names_male) + [
        "An", "Bình", "Cường", "Đạt", "Đức", "Hải", "Hiếu", "Hòa", "Khánh", "Kiên", "Lâm",
        "Long", "Lộc", "Luân", "Mạnh", "Nghĩa", "Nhân", "Phong", "Quân", "Sơn", "Tài", "Tâm",
        "Thắng", "Thịnh", "Tiến", "Toàn", "Trí", "Tuấn", "Việt", "Vinh",
    ]  # fmt: skip
    female = list(Provider.first_names_female) + [
        "An", "Bích", "Diệp", "Dung", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa", "Huyền",
        "Khánh", "Kim", "Liên", "Loan", "My", "Nga", "Ngân", "Nhung", "Oanh", "Phương",
        "Quyên", "Quỳnh", "Tâm", "Thanh", "Thu", "Thủy", "Trang", "Trinh", "Uyên",
    ]  # fmt: skip
    # Faker's middle names mix male and female ones; Vietnamese usage is gendered.
    return {
        "surnames": surnames,
        "male": male,
        "female": female,
        "middle_male": [
            "Văn", "Văn", "Hữu", "Công", "Minh", "Thanh", "Quốc", "Đức", "Quang", "Xuân",
            "Thế", "Tấn", "Trí", "Hải", "Hoàng", "Phú", "Bảo",
        ],
        "middle_female": [
            "Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mỹ", "Xuân", "Mai", "Bảo",
            "Hoài", "Phương",
        ],
    }  # fmt: skip


_POOLS: dict[str, list[str]] | None = None


def compose_name(rng: random.Random, sex: str) -> str:
    """Họ + đệm + tên, NFC, with diacritics; weighted towards Nguyễn like the population."""
    global _POOLS
    if _POOLS is None:
        _POOLS = _name_pools()
    pools = _POOLS
    surname = "Nguyễn" if rng.random() < 0.3 else rng.choice(pools["surnames"])
    if sex == "2":
        return f"{surname} {rng.choice(pools['middle_female'])} {rng.choice(pools['female'])}"
    return f"{surname} {rng.choice(pools['middle_male'])} {rng.choice(pools['male'])}"


# --- Patients (COPY) --------------------------------------------------------------------------------

STREETS = [
    "Lê Duẩn", "Hùng Vương", "Nguyễn Văn Linh", "Điện Biên Phủ", "Trần Phú", "Bạch Đằng",
    "Hải Phòng", "Ông Ích Khiêm", "Nguyễn Tri Phương", "Lê Văn Hiến", "Ngô Quyền",
    "Tôn Đức Thắng", "Âu Cơ", "Nguyễn Lương Bằng", "Phan Châu Trinh", "Hoàng Diệu",
    "Trưng Nữ Vương", "Hà Huy Tập", "Trần Cao Vân", "Phạm Văn Đồng", "Võ Nguyên Giáp",
    "Hùng Vương", "Phan Bội Châu", "Huỳnh Thúc Kháng", "Lý Thường Kiệt",
]  # fmt: skip
OCCUPATIONS = [
    "", "", "Công nhân", "Nông dân", "Buôn bán", "Giáo viên", "Học sinh", "Sinh viên",
    "Nhân viên văn phòng", "Hưu trí", "Nội trợ", "Lao động tự do", "Ngư dân",
]  # fmt: skip
RELATIONS = ["Vợ", "Chồng", "Con", "Mẹ", "Cha", "Anh", "Chị", "Em"]
PHONE_PREFIXES = ["090", "091", "093", "094", "096", "097", "098", "032", "035", "039", "070",
                  "077", "079", "081", "083", "085", "086", "088", "089", "056", "058"]  # fmt: skip
CCCD_PROVINCES = ["048", "049", "045", "046", "051", "052", "001", "079"]
OTHER_ETHNICITIES = ["02", "03", "04", "06", "07", "17", "13", "19", "25"]

PATIENT_COLUMNS = [
    "id", "uuid", "full_name", "birth_date", "birth_year", "sex", "ethnicity_code",
    "nationality_code", "occupation", "occupation_code", "phone", "address_scheme",
    "address_line", "province_id", "commune_id", "legacy_address", "emergency_contact_name",
    "emergency_contact_phone", "emergency_contact_relation", "status", "version",
    "created_at", "updated_at", "created_at_facility_id", "void_reason",
]  # fmt: skip
IDENTIFIER_COLUMNS = ["patient_id", "system", "value", "facility_id", "created_at", "void_reason"]


@dataclass
class SeedResult:
    patients: int
    identifiers: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.patients / self.seconds if self.seconds else 0.0


class _Serial:
    """Stands in for random.Random in the identifier generators: yields a serial from a counter."""

    def __init__(self, value: int):
        self.value = value

    def randrange(self, n: int) -> int:
        return self.value % n


def _copy_value(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "")


def _copy_plan(model: type[models.Model], known: list[str]) -> tuple[list[str], str]:
    """COPY column list: the known columns, plus any other NOT NULL column at its default (so a
    field added to the model later does not break the seed); nullable extras are left out."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    extra_cols, extra_vals = [], []
    for attname, f in fields.items():
        if attname in known or f.null or attname == "id":
            continue
        # A blank text field without a default is saved as "" by the ORM: the same here.
        if not f.has_default() and not (f.blank and f.empty_strings_allowed):
            raise RuntimeError(f"{model.__name__}.{attname}: NOT NULL without default, seed it")
        extra_cols.append(f.column)
        extra_vals.append(_copy_value(f.get_default()))
    columns = [fields[a].column for a in known] + extra_cols
    return columns, "".join("\t" + v for v in extra_vals)


def _commune_choices() -> list[tuple[str, str, bool]]:
    """(commune code, former three-level name as written before 2025, is a phường)."""
    with data_path("admin-units-danang.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    known = set(AdminUnit.objects.filter(province_id=DANANG).values_list("code", flat=True))
    return [
        (r["commune_code"], r["code_of_former_unit"], r["kind"] != "xã")
        for r in rows
        if r["commune_code"] in known
    ]


def _card_group(age: int, rng: random.Random) -> tuple[str, int]:
    """(beneficiary group, benefit digit) plausible for the age; domain brief 1.1 table."""
    if age < 6:
        return "TE", 1
    if age < 18:
        return "HS", 4
    if age >= 60:
        return rng.choice([("HT", 3), ("HT", 3), ("GD", 4), ("CC", 1), ("KC", 2)])
    return rng.choice([("DN", 4), ("DN", 4), ("GD", 4), ("HC", 4), ("HX", 4), ("CN", 2)])


def _mrn_counters(facility_ids: list[int]) -> dict[int, int]:
    """The last record number handed out per facility (patients.RecordNumberCounter if present)."""
    from django.apps import apps

    try:
        counter = apps.get_model("patients", "RecordNumberCounter")
    except LookupError:
        counter = None
    last = dict.fromkeys(facility_ids, 0)
    if counter is not None:
        last.update(
            counter.objects.filter(facility_id__in=facility_ids).values_list(
                "facility_id", "last_number"
            )
        )
    # Numbers written without the counter (imports, an interrupted seed) are skipped too.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT facility_id, MAX(substring(value FROM '-([0-9]{1,15})$')::bigint) "
            "FROM patients_patientidentifier WHERE system = 'mrn' AND facility_id = ANY(%s) "
            "GROUP BY facility_id",
            [facility_ids],
        )
        for facility_id, number in cursor.fetchall():
            last[facility_id] = max(last[facility_id], number or 0)
    return last


def _mrn_counters_save(last: dict[int, int]) -> None:
    """Advance patients.RecordNumberCounter past the numbers written (never moves it back)."""
    from django.apps import apps

    try:
        counter = apps.get_model("patients", "RecordNumberCounter")
    except LookupError:
        return
    table = counter._meta.db_table
    with connection.cursor() as cursor:
        for facility_id, number in last.items():
            if number:
                cursor.execute(
                    f"INSERT INTO {table} (facility_id, last_number) VALUES (%s, %s) "  # noqa: S608
                    f"ON CONFLICT (facility_id) DO UPDATE SET last_number = "
                    f"GREATEST({table}.last_number, EXCLUDED.last_number)",
                    [facility_id, number],
                )


def _default_mrn_format(facility_code: str, number: int) -> str:
    return f"{facility_code}-{number:06d}"


def mrn_formatter() -> Callable[[str, int], str]:
    """The record number as printed: the registry's format (patients.services) when it has one."""
    try:
        from patients.services import record_number_format
    except ImportError:
        return _default_mrn_format
    return record_number_format


class _PatientRows:
    """Turns patient ids into COPY text for patients and identifiers (the CPU half of the seed)."""

    def __init__(self, *, seed: int, facilities: list[tuple[Facility, float]]):
        from patients.choices import AddressScheme, IdentifierSystem, PatientStatus
        from patients.models import Patient, PatientIdentifier

        self.rng = random.Random(seed)  # noqa: S311 (synthetic demo data, reproducible by seed)
        self.today = timezone.localdate()
        self.now = timezone.now().isoformat()
        self.communes = _commune_choices()
        self.facility_ids = [f.pk for f, _ in facilities]
        self.facility_codes = {f.pk: f.code for f, _ in facilities}
        total = sum(w for _, w in facilities)
        self.cum_weights = list(itertools.accumulate(w / total for _, w in facilities))
        self.last_mrn = _mrn_counters(self.facility_ids)
        self.mrn_value = mrn_formatter()
        # Names drawn from pools composed once: 25,000 per sex is plenty of variety and fast.
        self.names = {sex: [compose_name(self.rng, sex) for _ in range(25_000)] for sex in "12"}
        self.contacts = self.names["1"][:5000] + self.names["2"][:5000]
        self.two_level, self.legacy = AddressScheme.TWO_LEVEL.value, AddressScheme.LEGACY.value
        self.active = PatientStatus.ACTIVE.value
        self.cccd_sys = IdentifierSystem.CCCD.value
        self.bhyt_sys = IdentifierSystem.BHYT.value
        self.mrn_sys = IdentifierSystem.MRN.value
        patient_cols, self.patient_extra = _copy_plan(Patient, PATIENT_COLUMNS)
        ident_cols, self.ident_extra = _copy_plan(PatientIdentifier, IDENTIFIER_COLUMNS)
        self.patient_sql = f"COPY {Patient._meta.db_table} ({', '.join(patient_cols)}) FROM STDIN"  # noqa: S608
        self.ident_sql = (
            f"COPY {PatientIdentifier._meta.db_table} ({', '.join(ident_cols)}) FROM STDIN"  # noqa: S608
        )

    def _facility(self) -> int:
        return self.facility_ids[bisect.bisect(self.cum_weights, self.rng.random() * 0.999999)]

    def chunk(self, ids: list[int]) -> tuple[str, str, int]:
        """COPY text for these patient ids: (patients, identifiers, number of identifiers)."""
        from patients.identifiers import generate_bhyt_card, generate_cccd

        rnd = self.rng.random
        today, now = self.today, self.now
        first_day = date(2001, 1, 1).toordinal()  # a common year: no 29 February to move
        communes, n_communes = self.communes, len(self.communes)
        names = self.names
        patients: list[str] = []
        idents: list[str] = []
        tail = f"\t{now}\t{self.ident_extra}\n"  # created_at, void_reason (""), extra columns
        for pid in ids:
            sex = "1" if rnd() < 0.5 else "2"
            age = min(int(self.rng.expovariate(1 / 32)), 99)
            birth = date.fromordinal(first_day + int(rnd() * 365)).replace(year=today.year - age)
            if birth > today:
                birth = today - timedelta(days=1 + int(rnd() * 200))
            birth_year = birth.year
            phone = (
                "" if rnd() < 0.08 else f"{PHONE_PREFIXES[int(rnd() * 21)]}{int(rnd() * 1e7):07d}"
            )
            commune, former, urban = communes[int(rnd() * n_communes)]
            if urban:
                house = f"{1 + int(rnd() * 399)} {STREETS[int(rnd() * len(STREETS))]}"
            else:
                house = f"Thôn {1 + int(rnd() * 11)}"
            if rnd() < 0.12:
                scheme, line, commune_id, legacy_text = self.legacy, "", r"\N", f"{house}, {former}"
            else:
                scheme, line, commune_id, legacy_text = self.two_level, house, commune, ""
            if rnd() < 0.3:
                contact = self.contacts[int(rnd() * 10_000)]
                contact_phone = f"{PHONE_PREFIXES[int(rnd() * 21)]}{int(rnd() * 1e7):07d}"
                relation = RELATIONS[int(rnd() * len(RELATIONS))]
            else:
                contact = contact_phone = relation = ""
            first = self._facility()
            enrolled = [first]
            if rnd() < 0.3:
                second = self._facility()
                if second != first:
                    enrolled.append(second)
            patients.append(
                "\t".join(
                    (
                        str(pid),
                        str(uuid.uuid4()),
                        names[sex][int(rnd() * 25_000)],
                        birth.isoformat() if rnd() > 0.04 else r"\N",  # some know the year only
                        str(birth_year),
                        sex,
                        "01" if rnd() < 0.94 else OTHER_ETHNICITIES[int(rnd() * 9)],
                        "VN",
                        OCCUPATIONS[int(rnd() * len(OCCUPATIONS))] if age >= 18 else "",
                        "",
                        phone,
                        scheme,
                        line,
                        DANANG,
                        commune_id,
                        legacy_text,
                        contact,
                        contact_phone,
                        relation,
                        self.active,
                        "1",
                        now,
                        now,
                        str(first),
                        "",
                    )
                )
                + self.patient_extra
                + "\n"
            )
            serial = _Serial(pid)  # serial digits from the id: unique, never random
            if age >= 14:
                province = CCCD_PROVINCES[(pid // 10**6) % len(CCCD_PROVINCES)]
                cccd = generate_cccd(serial, sex=sex, birth_year=birth_year, province=province)
                idents.append(f"{pid}\t{self.cccd_sys}\t{cccd}\t\\N{tail}")
            if rnd() < 0.85:
                group, level = _card_group(age, self.rng)
                si = f"{DANANG}{pid % 10**8:08d}"
                card = generate_bhyt_card(
                    serial, group=group, level=level, province=DANANG, si_number=si
                )
                idents.append(f"{pid}\t{self.bhyt_sys}\t{card}\t\\N{tail}")
            for fid in enrolled:
                self.last_mrn[fid] += 1
                mrn = self.mrn_value(self.facility_codes[fid], self.last_mrn[fid])
                idents.append(f"{pid}\t{self.mrn_sys}\t{mrn}\t{fid}{tail}")
        return "".join(patients), "".join(idents), len(idents)


def _reserve_ids(n: int) -> list[int]:
    from patients.models import Patient

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [Patient._meta.db_table, n],
        )
        return [row[0] for row in cursor.fetchall()]


def _may_skip_fk_triggers(rows: _PatientRows) -> bool:
    """Whether the bulk writer may skip the per-row foreign-key triggers (pg_restore's
    --disable-triggers): only as a superuser, and only because every reference the generator writes
    was read from the database just before (facilities, communes, province) or is a patient row of
    the same COPY transaction. Checked here once, instead of ~8 trigger queries per patient."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        superuser = bool(cursor.fetchone()[0])
    facility_ids = set(rows.facility_ids)
    found = set(Facility.objects.filter(pk__in=facility_ids).values_list("pk", flat=True))
    communes = {c for c, _, _ in rows.communes}
    known = set(AdminUnit.objects.filter(code__in=communes).values_list("code", flat=True))
    if found != facility_ids or known != communes or not Province.objects.filter(code=DANANG):
        raise RuntimeError("reference data changed under the seed: run it again")
    return superuser


def _write_chunk(rows: _PatientRows, patient_text: str, ident_text: str, counters: dict) -> None:
    """One chunk, one transaction: patients, their identifiers, the record-number counters."""
    with transaction.atomic():
        raw = connection.cursor().cursor  # the psycopg2 cursor, for copy_expert
        raw.copy_expert(rows.patient_sql, io.StringIO(patient_text))
        raw.copy_expert(rows.ident_sql, io.StringIO(ident_text))
        _mrn_counters_save(counters)


def patients_seed(
    *,
    count: int,
    seed: int,
    facilities: list[tuple[Facility, float]],
    chunk_size: int = 50_000,
    progress: Callable[[int, float], None] | None = None,
) -> SeedResult:
    """Write `count` synthetic patients with identifiers, each enrolled (record number) at one or
    two of the weighted `facilities`, with COPY in chunks.

    Above one chunk, a writer thread on its own connection COPYs chunk k while this thread
    generates chunk k+1 (PostgreSQL and Python then use both cores). One chunk or less, or a call
    inside a transaction (tests), is written inline on the caller's connection.
    """
    from patients.models import Patient, PatientIdentifier

    started = time.perf_counter()
    rows = _PatientRows(seed=seed, facilities=facilities)
    written = identifiers = 0

    skip_fk_triggers = _may_skip_fk_triggers(rows)
    # Inside the caller's transaction another connection would not see its uncommitted rows.
    if count <= chunk_size or connection.in_atomic_block:
        while written < count:
            n = min(chunk_size, count - written)
            patient_text, ident_text, n_idents = rows.chunk(_reserve_ids(n))
            _write_chunk(rows, patient_text, ident_text, dict(rows.last_mrn))
            written += n
            identifiers += n_idents
            if progress is not None:
                progress(written, time.perf_counter() - started)
    else:
        pending: queue.Queue = queue.Queue(maxsize=2)
        failure: list[BaseException] = []

        def writer() -> None:
            done = 0
            try:
                with connection.cursor() as cursor:
                    # Synthetic data: a crash loses the last chunks at worst, never consistency.
                    cursor.execute("SET synchronous_commit = off")
                    if skip_fk_triggers:
                        cursor.execute("SET session_replication_role = replica")
                while (item := pending.get()) is not None:
                    if failure:
                        continue  # drain so the producer never blocks
                    patient_text, ident_text, n, counters = item
                    _write_chunk(rows, patient_text, ident_text, counters)
                    done += n
                    if progress is not None:
                        progress(done, time.perf_counter() - started)
            except BaseException as exc:  # re-raised in the calling thread
                failure.append(exc)
                while pending.get() is not None:
                    pass
            finally:
                connection.close()

        thread = threading.Thread(target=writer, name="seed-writer", daemon=True)
        thread.start()
        try:
            while written < count and not failure:
                n = min(chunk_size, count - written)
                patient_text, ident_text, n_idents = rows.chunk(_reserve_ids(n))
                pending.put((patient_text, ident_text, n, dict(rows.last_mrn)))
                written += n
                identifiers += n_idents
        finally:
            pending.put(None)
            thread.join()
        if failure:
            raise failure[0]

    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Patient._meta.db_table}")  # noqa: S608
        cursor.execute(f"ANALYZE {PatientIdentifier._meta.db_table}")  # noqa: S608
    elapsed = time.perf_counter() - started
    audit_record(actor=None, action="patient.seed_demo", detail={"patients": count, "seed": seed})
    return SeedResult(patients=count, identifiers=identifiers, seconds=elapsed)


def enrollment_facilities() -> list[tuple[Facility, float]]:
    """Where demo patients hold a record number: most at the main hospital, some elsewhere."""
    weighted = []
    for facility in Facility.objects.exclude(kind=Facility.Kind.HEALTH_AUTHORITY).order_by("code"):
        if facility.name == MAIN_HOSPITAL:
            weight = 40.0
        elif facility.name == SECOND_HOSPITAL:
            weight = 15.0
        elif facility.name == DEMO_STATION:
            weight = 8.0
        else:
            weight = 2.0
        weighted.append((facility, weight))
    return weighted
