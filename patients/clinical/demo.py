"""Demo clinical records at scale: encounters with their queue, vitals, diagnoses, orders and results,
prescriptions, a few allergies and closed bed occupancies, written with PostgreSQL COPY in chunks.

Everything is synthetic. Encounters are spread over the seeded patients (each at a facility where
the patient holds a record number, so the patient page can show it), over the facilities, and over
the past three years (local working hours, Asia/Ho_Chi_Minh). Today's visits stand in the queues of
the facilities' clinic rooms, numbered in arrival order; one room (`focus_room`) gets a queue of a
chosen length for the demo doctor. Past visits are concluded and locked; inpatient stays are
discharged with their treatment days (out − in + 1, local calendar days) and a closed bed occupancy.

Diagnoses are billable ICD-10 codes in force on the visit date (`core.IcdCode`), one main and up to
two secondary, never the same code twice; vitals stay inside the database's plausible ranges.

The COPY helpers are those of `ehealth.core.demo` (`_copy_plan`, `_copy_value`); ids of encounters,
orders and prescriptions are taken from their sequences before each chunk is written, and the
sequences are moved past the last id written (`setval`) as each chunk is generated and again at the
end. Run it on a quiet database: rows inserted meanwhile by other sessions may take a reserved id.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import queue
import random
import threading
import time
import uuid
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from ehealth.core.audit import audit_record
from ehealth.core.demo import MAIN_HOSPITAL, _copy_plan, _copy_value, compose_name
from ehealth.core.models import (
    Bed,
    ClinicRoom,
    Department,
    Drug,
    Facility,
    IcdCode,
    MedicalService,
    Role,
    StaffMembership,
    User,
)
from ehealth.core.models.catalogs import CostGroup
from ehealth.core.permissions import staff_groups_sync
from patients.clinical.treatment_days import VN_TZ
from patients.models import (
    Allergy,
    BedOccupancy,
    Diagnosis,
    Encounter,
    Prescription,
    PrescriptionItem,
    QueueTicket,
    ResultValue,
    ServiceOrder,
    VitalSigns,
)

# --- Clinic rooms and clinicians --------------------------------------------------------------------

# Rooms of the examination department (K01), created only where a facility has none yet.
ROOMS_BY_KIND = {
    Facility.Kind.HOSPITAL: [
        ("P01", "Phòng khám Nội 1"),
        ("P02", "Phòng khám Nội 2"),
        ("P03", "Phòng khám Ngoại"),
        ("P04", "Phòng khám Nhi"),
        ("P05", "Phòng khám Sản"),
        ("P06", "Phòng khám Tai Mũi Họng"),
    ],
    Facility.Kind.CLINIC: [
        ("P01", "Phòng khám Nội"),
        ("P02", "Phòng khám Ngoại"),
        ("P03", "Phòng khám Sản - Nhi"),
    ],
    Facility.Kind.COMMUNE_STATION: [("P01", "Phòng khám đa khoa")],
}
EXAM_DEPARTMENT = "K01"
LAB_DEPARTMENT = "K37"
IMAGING_DEPARTMENT = "K39"


def clinic_rooms_ensure() -> dict[int, list[int]]:
    """Active clinic rooms of every facility's examination department (K01): facility id -> room
    ids. Rooms are created (idempotent) only for a facility that has none."""
    rooms: dict[int, list[int]] = {}
    for room in ClinicRoom.objects.filter(is_active=True).select_related("department"):
        rooms.setdefault(room.department.facility_id, []).append(room.pk)
    exam_departments = Department.objects.filter(
        code=EXAM_DEPARTMENT, is_active=True
    ).select_related("facility")
    for dept in exam_departments:
        if dept.facility_id in rooms:
            continue
        for code, name in ROOMS_BY_KIND.get(dept.facility.kind, []):
            room, _ = ClinicRoom.objects.get_or_create(
                department=dept, code=code, defaults={"name": name}
            )
            rooms.setdefault(dept.facility_id, []).append(room.pk)
    for ids in rooms.values():
        ids.sort()
    return rooms


def _clinicians(facility_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """facility id -> (doctor user id, nurse user id). A facility without a doctor on the demo
    staff gets a synthetic one (no usable password: it only signs the seeded records)."""
    doctors: dict[int, int] = {}
    nurses: dict[int, int] = {}
    memberships = StaffMembership.objects.filter(
        facility_id__in=facility_ids, is_active=True, role__in=[Role.DOCTOR, Role.NURSE]
    ).order_by("user__username")  # the demo's own accounts (bacsi.*) before synthetic ones
    for m in memberships.values("facility_id", "role", "user_id"):
        target = doctors if m["role"] == Role.DOCTOR else nurses
        target.setdefault(m["facility_id"], m["user_id"])
    missing = [f for f in facility_ids if f not in doctors]
    if missing:
        rng = random.Random(7)  # noqa: S311 (synthetic names)
        unusable = make_password(None)
        exam = dict(
            Department.objects.filter(facility_id__in=missing, code=EXAM_DEPARTMENT).values_list(
                "facility_id", "pk"
            )
        )
        for facility in Facility.objects.filter(pk__in=missing):
            user, _ = User.objects.get_or_create(
                username=f"bs.{facility.code}",
                defaults={"full_name": compose_name(rng, rng.choice("12")), "password": unusable},
            )
            StaffMembership.objects.get_or_create(
                user=user,
                facility=facility,
                role=Role.DOCTOR,
                defaults={"department_id": exam.get(facility.pk)},
            )
            staff_groups_sync(user)
            doctors[facility.pk] = user.pk
    return {f: (doctors[f], nurses.get(f, doctors[f])) for f in facility_ids}


# --- Clinical content pools ----------------------------------------------------------------------

REASONS = [
    "Sốt, ho 3 ngày", "Đau đầu, chóng mặt", "Đau bụng vùng thượng vị", "Khám tăng huyết áp định kỳ",
    "Đau lưng", "Ho, khó thở", "Tái khám đái tháo đường", "Đau họng, sổ mũi", "Mệt mỏi, ăn kém",
    "Đau khớp gối", "Tiêu chảy 2 ngày", "Ngứa, nổi mẩn da", "Đau ngực khi gắng sức",
    "Khám sức khỏe định kỳ", "Sốt cao, đau mỏi người", "Tiểu buốt, tiểu rắt", "Đau mắt đỏ",
]  # fmt: skip
HISTORIES = [
    "Chưa ghi nhận bệnh lý mạn tính.", "Tăng huyết áp 5 năm, điều trị không đều.",
    "Đái tháo đường típ 2, đang dùng metformin.", "Viêm dạ dày cách đây 2 năm.",
    "Hút thuốc lá 10 năm.", "Hen phế quản từ nhỏ.", "Không dị ứng thuốc đã biết.",
    "Rối loạn mỡ máu, ăn kiêng.",
]  # fmt: skip
FINDINGS = [
    "Tỉnh, tiếp xúc tốt. Tim đều, phổi không rale.", "Họng đỏ, amidan không sưng. Phổi thông khí tốt.",
    "Bụng mềm, ấn đau nhẹ thượng vị, không phản ứng thành bụng.",
    "Phổi rale rít rải rác hai bên.", "Khớp gối phải sưng nhẹ, hạn chế vận động.",
    "Da nổi sẩn đỏ rải rác hai cẳng tay.", "Thể trạng trung bình, không phù, không xuất huyết dưới da.",
]  # fmt: skip
CONCLUSION_NOTES = [
    "Uống thuốc theo đơn, tái khám khi có dấu hiệu bất thường.", "Ăn nhẹ, uống nhiều nước, nghỉ ngơi.",
    "Hạn chế muối, tập thể dục đều đặn.", "Theo dõi huyết áp tại nhà.", "",
]  # fmt: skip
IMAGING_CONCLUSIONS = [
    "Chưa phát hiện bất thường.", "Hình ảnh viêm phế quản.", "Gan nhiễm mỡ độ I.",
    "Sỏi thận phải kích thước 5 mm.", "Không thấy tổn thương khu trú.",
]  # fmt: skip
TREATMENT_SUMMARIES = [
    "Điều trị nội khoa, đáp ứng tốt, hết sốt.", "Truyền dịch, kháng sinh; triệu chứng cải thiện.",
    "Theo dõi, điều chỉnh thuốc hạ áp; huyết áp ổn định.",
]  # fmt: skip
INSTRUCTIONS = [
    "Uống sau ăn",
    "Uống trước ăn 30 phút",
    "Uống sau ăn sáng",
    "Uống khi sốt trên 38,5 °C",
]
# Frequent diagnoses of Vietnamese outpatient clinics; the rest drawn from the whole catalog.
COMMON_ICD = [
    "J06.9", "I10", "E11.9", "K29.7", "M54.5", "J20.9", "K21.9", "E78.5", "J02.9", "K30",
    "J18.9", "N39.0", "M17.9", "I25.1", "J45.9", "H10.9", "L30.9", "B34.9", "R51", "I11.9",
]  # fmt: skip
# Lab analytes by service code prefix: (code, name, unit, low, high, decimals).
ANALYTES: dict[str, list[tuple[str, str, str, float, float, int]]] = {
    "22.0120": [("WBC", "Số lượng bạch cầu", "G/L", 4, 10, 1), ("RBC", "Số lượng hồng cầu", "T/L", 3.8, 5.5, 2), ("HGB", "Huyết sắc tố", "g/L", 120, 160, 0), ("PLT", "Số lượng tiểu cầu", "G/L", 150, 400, 0)],
    "22.0121": [("WBC", "Số lượng bạch cầu", "G/L", 4, 10, 1), ("HGB", "Huyết sắc tố", "g/L", 120, 160, 0), ("PLT", "Số lượng tiểu cầu", "G/L", 150, 400, 0)],
    "23.0019": [("ALT", "ALT (GPT)", "U/L", 0, 40, 0)],
    "23.0020": [("AST", "AST (GOT)", "U/L", 0, 40, 0)],
    "23.0041": [("CHOL", "Cholesterol toàn phần", "mmol/L", 3.9, 5.2, 2)],
    "23.0051": [("CREA", "Creatinin", "µmol/L", 62, 120, 0)],
    "23.0058": [("NA", "Natri", "mmol/L", 135, 145, 0), ("K", "Kali", "mmol/L", 3.5, 5.0, 1), ("CL", "Clo", "mmol/L", 98, 106, 0)],
    "23.0075": [("GLU", "Glucose", "mmol/L", 3.9, 6.4, 1)],
    "23.0083": [("HBA1C", "HbA1c", "%", 4, 6, 1)],
    "23.0158": [("TG", "Triglycerid", "mmol/L", 0.46, 1.88, 2)],
    "23.0166": [("URE", "Urê", "mmol/L", 2.5, 7.5, 1)],
    "23.0228": [("CRP", "CRP", "mg/L", 0, 5, 1)],
}  # fmt: skip


@dataclass
class ProbePlan:
    """Encounters written for one chosen patient (benchmark probes): `past` concluded visits at
    `facility_id`, and, when `today_room_id` is set, one visit today in that room, in examination,
    with vitals, diagnoses, a resulted lab order and a draft prescription."""

    patient_id: int
    facility_id: int
    past: int
    today_room_id: int | None = None
    encounter_ids: list[int] = field(default_factory=list)  # filled in by the seed


@dataclass
class EncounterSeedResult:
    encounters: int
    rows: dict[str, int]
    seconds: float
    today_tickets: int

    @property
    def rate(self) -> float:
        return self.encounters / self.seconds if self.seconds else 0.0


# --- COPY text generation ------------------------------------------------------------------------

ENCOUNTER_COLUMNS = [
    "id", "uuid", "claim_key", "patient_id", "facility_id", "department_id", "room_id", "kind",
    "visit_type", "status", "arrival_mode", "referral_paper_number", "referral_from_code",
    "insurance_card_code", "insurance_card_valid_from", "insurance_card_valid_to",
    "registered_facility_code", "card_check_status", "reason", "history", "examination_findings",
    "treatment_method", "attending_id", "started_at", "admitted_at", "ended_at", "conclusion",
    "conclusion_note", "follow_up_date", "transfer_to_code", "transfer_paper_number",
    "transfer_reason", "treatment_result", "discharge_type", "treatment_summary",
    "discharge_advice", "treatment_days", "closed_by_id", "version", "created_at", "created_by_id",
    "updated_at", "void_reason",
]  # fmt: skip
TICKET_COLUMNS = ["encounter_id", "room_id", "day", "number", "status", "issued_at", "called_at"]
DIAGNOSIS_COLUMNS = [
    "encounter_id", "phase", "icd_code", "text", "rank", "recorded_by_id", "recorded_at",
    "void_reason",
]  # fmt: skip
VITALS_COLUMNS = [
    "encounter_id", "recorded_at", "recorded_by_id", "pulse", "systolic", "diastolic",
    "temperature", "respiratory_rate", "spo2", "height_cm", "weight_kg", "note", "void_reason",
]  # fmt: skip
ORDER_COLUMNS = [
    "id", "encounter_id", "service_id", "quantity", "status", "ordered_by_id", "ordered_at",
    "ordering_department_id", "performing_department_id", "clinical_note", "performed_at",
    "performed_by_id", "resulted_at", "result_conclusion", "result_description", "cancel_reason",
    "version",
]  # fmt: skip
RESULT_COLUMNS = [
    "order_id", "code", "name", "value", "numeric_value", "unit", "reference_low",
    "reference_high", "flag", "entered_by_id", "entered_at",
]  # fmt: skip
PRESCRIPTION_COLUMNS = [
    "id", "encounter_id", "status", "prescribed_by_id", "prescribed_at", "note", "cancel_reason",
    "version",
]  # fmt: skip
ITEM_COLUMNS = [
    "prescription_id", "drug_id", "dose", "dose_unit", "route", "times_per_day", "days",
    "quantity", "instructions", "allergy_override_reason", "duplicate_override_reason",
    "void_reason",
]  # fmt: skip
ALLERGY_COLUMNS = [
    "patient_id", "substance", "drug_id", "active_ingredient", "reaction", "severity",
    "recorded_by_id", "recorded_at", "encounter_id", "void_reason",
]  # fmt: skip
OCCUPANCY_COLUMNS = [
    "bed_id",
    "patient_id",
    "encounter_id",
    "started_at",
    "ended_at",
    "created_by_id",
]

# Table name -> (model, columns), in the order a chunk is written (parents first).
TABLES: list[tuple[str, type[models.Model], list[str]]] = [
    ("encounter", Encounter, ENCOUNTER_COLUMNS),
    ("ticket", QueueTicket, TICKET_COLUMNS),
    ("diagnosis", Diagnosis, DIAGNOSIS_COLUMNS),
    ("vitals", VitalSigns, VITALS_COLUMNS),
    ("order", ServiceOrder, ORDER_COLUMNS),
    ("result", ResultValue, RESULT_COLUMNS),
    ("prescription", Prescription, PRESCRIPTION_COLUMNS),
    ("item", PrescriptionItem, ITEM_COLUMNS),
    ("allergy", Allergy, ALLERGY_COLUMNS),
    ("occupancy", BedOccupancy, OCCUPANCY_COLUMNS),
]
WORK_START, WORK_END = 7 * 60, 17 * 60  # clinic hours, local minutes of the day
N = r"\N"


@dataclass
class _Facility:
    pk: int
    code: str
    exam_department: int | None
    rooms: list[int]
    inpatient: list[tuple[int, list[int]]]  # (department id, bed ids)
    lab_department: int | None
    imaging_department: int | None
    doctor: int
    nurse: int


class _PatientPool:
    """Active patients with a record number: id, the facilities where they hold one (first,
    second or 0), and their BHYT card (or ''), read once with COPY."""

    def __init__(self, facility_ids: set[int]):
        self.ids = array("q")
        self.first = array("q")
        self.second = array("q")
        self.cards: list[str] = []
        buffer = io.StringIO()
        sql = (
            "COPY (SELECT m.patient_id, m.f1, m.f2, COALESCE(b.card, '') FROM "
            "(SELECT patient_id, MIN(facility_id) f1, MAX(facility_id) f2 "
            " FROM patients_patientidentifier WHERE system = 'mrn' AND voided_at IS NULL "
            " GROUP BY patient_id) m "
            "JOIN patients_patient p ON p.id = m.patient_id AND p.status = 'active' "
            "LEFT JOIN (SELECT patient_id, MIN(value) card FROM patients_patientidentifier "
            " WHERE system = 'bhyt' AND voided_at IS NULL GROUP BY patient_id) b "
            "ON b.patient_id = m.patient_id ORDER BY m.patient_id) TO STDOUT"
        )
        with connection.cursor() as cursor:
            cursor.cursor.copy_expert(sql, buffer)
        buffer.seek(0)
        for line in buffer:
            pid, f1, f2, card = line.rstrip("\n").split("\t")
            f1, f2 = int(f1), int(f2)
            if f1 not in facility_ids:
                if f2 not in facility_ids:
                    continue
                f1 = f2
            self.ids.append(int(pid))
            self.first.append(f1)
            self.second.append(f2 if f2 != f1 and f2 in facility_ids else 0)
            self.cards.append(card)

    def __len__(self) -> int:
        return len(self.ids)


def _icd_pools(
    first_day: date, last_day: date
) -> tuple[list[str], list[date], dict[str, list[str]]]:
    """Billable codes in force on every day of the window: (codes, epoch starts, code -> text per
    epoch). Epochs split the window where a code's catalog row changes (e.g. a new MoH list)."""
    rows = IcdCode.objects.filter(billable=True, valid_from__lte=last_day).exclude(
        valid_to__lt=first_day
    )
    by_code: dict[str, list[tuple[date, date | None, str]]] = {}
    changes = {first_day}
    for code, vf, vt, name_vi, name_en in rows.values_list(
        "code", "valid_from", "valid_to", "name_vi", "name_en"
    ):
        by_code.setdefault(code, []).append((vf, vt, (name_vi or name_en)[:500]))
        if first_day < vf <= last_day:
            changes.add(vf)
        if vt is not None and first_day <= vt < last_day:
            changes.add(vt + timedelta(days=1))
    epochs = sorted(changes)
    codes, texts = [], {}
    for code, spans in sorted(by_code.items()):
        per_epoch = []
        for start in epochs:
            text = next(
                (t for vf, vt, t in spans if vf <= start and (vt is None or vt >= start)), None
            )
            per_epoch.append(text)
        if all(per_epoch):
            codes.append(code)
            texts[code] = [_copy_value(t) for t in per_epoch]
    return codes, epochs, texts


class _ClinicalRows:
    """Turns a plan of encounters into COPY text per table (the CPU half of the seed)."""

    def __init__(self, *, seed: int, facilities: dict[int, _Facility], years: int = 3):
        self.rng = random.Random(seed)  # noqa: S311 (synthetic demo data, reproducible by seed)
        self.facilities = facilities
        self.codes_by_id = {f.pk: f.code for f in facilities.values()}
        self.other_codes = [f.code for f in facilities.values()]
        self.today = timezone.localdate(timezone=VN_TZ)
        now_local = timezone.now().astimezone(VN_TZ)
        self.now_minute = now_local.hour * 60 + now_local.minute
        self.first_day = self.today - timedelta(days=365 * years)
        n_days = (self.today - self.first_day).days + 40  # room for stays running past a date
        self.days = [(self.first_day + timedelta(days=i)).isoformat() for i in range(n_days)]
        self.day_count = (self.today - self.first_day).days  # past days: 0 .. day_count-1
        self.times = [f"{m // 60:02d}:{m % 60:02d}:00+07" for m in range(24 * 60)]
        self.years = {}
        for i in range(years + 2):
            y = self.first_day.year + i
            self.years[y] = (date(y, 1, 1).isoformat(), date(y, 12, 31).isoformat())
        codes, epochs, texts = _icd_pools(self.first_day, self.today)
        if not codes:
            raise RuntimeError("no billable ICD-10 code in force: load the reference data first")
        self.icd_codes = codes
        self.icd_texts = texts
        self.icd_epoch_days = [(e - self.first_day).days for e in epochs]
        common = [c for c in COMMON_ICD if c in texts]
        self.icd_common = common or codes
        services = list(
            MedicalService.objects.filter(
                is_active=True, group__in=[CostGroup.LAB, CostGroup.IMAGING, CostGroup.FUNCTIONAL]
            ).values_list("pk", "code", "name", "group")
        )
        self.labs = [(pk, code, name) for pk, code, name, g in services if g == CostGroup.LAB]
        self.imaging = [(pk, code, name) for pk, code, name, g in services if g != CostGroup.LAB]
        drugs = list(
            Drug.objects.filter(is_active=True).values_list(
                "pk", "unit", "route", "active_ingredient", "name"
            )
        )
        self.drugs = [
            (pk, _copy_value(unit or "viên"), _copy_value(route or "uống"), _copy_value(ai or name))
            for pk, unit, route, ai, name in drugs
        ]
        self.reasons = [_copy_value(x) for x in REASONS]
        self.histories = [_copy_value(x) for x in HISTORIES]
        self.findings = [_copy_value(x) for x in FINDINGS]
        self.notes = [_copy_value(x) for x in CONCLUSION_NOTES]
        self.imaging_conclusions = [_copy_value(x) for x in IMAGING_CONCLUSIONS]
        self.summaries = [_copy_value(x) for x in TREATMENT_SUMMARIES]
        self.instructions = [_copy_value(x) for x in INSTRUCTIONS]
        self.analytes = {
            prefix: [
                (_copy_value(c), _copy_value(n), _copy_value(u), lo, hi, dec)
                for c, n, u, lo, hi, dec in rows
            ]
            for prefix, rows in ANALYTES.items()
        }
        self.id_prefix = uuid.UUID(int=self.rng.getrandbits(128)).hex[:16]
        self.extras = {name: _copy_plan(model, cols)[1] for name, model, cols in TABLES}
        self.sql = {
            name: f"COPY {model._meta.db_table} ({', '.join(_copy_plan(model, cols)[0])}) FROM STDIN"  # noqa: S608
            for name, model, cols in TABLES
        }
        self.reset()

    def reset(self) -> None:
        self.out: dict[str, list[str]] = {name: [] for name, _, _ in TABLES}

    def take(self) -> dict[str, str]:
        texts = {name: "".join(lines) for name, lines in self.out.items() if lines}
        self.counts = {name: len(lines) for name, lines in self.out.items()}
        self.reset()
        return texts

    # -- helpers --

    def _at(self, day: int, minute: int) -> str:
        return f"{self.days[day]} {self.times[min(minute, 1439)]}"

    def _keys(self, eid: int) -> tuple[str, str]:
        """uuid and MA_LK of an encounter: a run prefix and the id, so that both unique indexes
        take keys in ascending order (appends, not random page splits)."""
        low = f"{0x8000_0000_0000_0000 | eid:016x}"
        head = self.id_prefix
        return (
            f"{head[:8]}-{head[8:12]}-8{head[13:16]}-{low[:4]}-{low[4:]}",
            f"{head}{low}".upper(),
        )

    def _icd(self, day: int, count: int) -> list[tuple[str, str]]:
        rnd = self.rng.random
        epoch = bisect.bisect_right(self.icd_epoch_days, day) - 1
        chosen: list[str] = []
        while len(chosen) < count:
            pool = self.icd_common if rnd() < 0.65 else self.icd_codes
            code = pool[int(rnd() * len(pool))]
            if code not in chosen:
                chosen.append(code)
        return [(_copy_value(c), self.icd_texts[c][epoch]) for c in chosen]

    def _diagnoses(self, eid: int, phase: str, day: int, minute: int, by: int, count: int) -> None:
        at = self._at(day, minute)
        extra = self.extras["diagnosis"]
        out = self.out["diagnosis"]
        for rank, (code, text) in enumerate(self._icd(day, count)):
            out.append(f"{eid}\t{phase}\t{code}\t{text}\t{rank}\t{by}\t{at}\t{extra}\n")

    def _vitals(self, eid: int, at: str, by: int) -> None:
        rnd = self.rng.random
        systolic = 100 + int(rnd() * 70)
        diastolic = min(systolic - 25, 60 + int(rnd() * 40))
        height = f"{145 + rnd() * 35:.1f}" if rnd() < 0.7 else N
        self.out["vitals"].append(
            f"{eid}\t{at}\t{by}\t{60 + int(rnd() * 50)}\t{systolic}\t{diastolic}\t"
            f"{36 + rnd() * 2.5:.1f}\t{14 + int(rnd() * 10)}\t{93 + int(rnd() * 8)}\t{height}\t"
            f"{40 + rnd() * 45:.2f}\t\t{self.extras['vitals']}\n"
        )

    def _order(
        self,
        oid: int,
        eid: int,
        fac: _Facility,
        day: int,
        minute: int,
        by: int,
        resulted: bool,
        kind: str = "",
    ) -> None:
        """One order; `kind` 'lab' or 'imaging' picks the first service of that kind (probes)."""
        rnd = self.rng.random
        lab = kind == "lab" if kind else not self.imaging or rnd() < 0.75
        pool = self.labs if lab and self.labs else self.imaging
        service_id, code, name = pool[0 if kind else int(rnd() * len(pool))]
        performing = (fac.lab_department if lab else fac.imaging_department) or N
        ordered_at = self._at(day, minute)
        if resulted:
            performed_at = self._at(day, minute + 10)
            resulted_at = self._at(day, minute + 35)
            status, performer = "resulted", str(fac.nurse)
            conclusion = "" if lab else self.imaging_conclusions[int(rnd() * 5)]
        else:
            status, performed_at, resulted_at, performer, conclusion = "ordered", N, N, N, ""
        self.out["order"].append(
            f"{oid}\t{eid}\t{service_id}\t1\t{status}\t{by}\t{ordered_at}\t"
            f"{fac.exam_department or N}\t{performing}\t\t{performed_at}\t{performer}\t"
            f"{resulted_at}\t{conclusion}\t\t\t1{self.extras['order']}\n"
        )
        if not (resulted and lab):
            return
        analytes = self.analytes.get(code[:7])
        out, extra = self.out["result"], self.extras["result"]
        if analytes is None:  # qualitative tests (HBsAg, NS1, urine, ABO)
            value = "Âm tính" if rnd() < 0.9 else "Dương tính"
            out.append(
                f"{oid}\t\t{_copy_value(name)}\t{value}\t{N}\t\t{N}\t{N}\t\t{performer}\t"
                f"{resulted_at}{extra}\n"
            )
            return
        for acode, aname, unit, low, high, dec in analytes:
            span = high - low
            number = round(low - 0.15 * span + rnd() * 1.45 * span, dec)
            number = max(number, 0)
            flag = "L" if number < low else "H" if number > high else "N"
            text = f"{number:.{dec}f}"
            out.append(
                f"{oid}\t{acode}\t{aname}\t{text}\t{text}\t{unit}\t{low}\t{high}\t{flag}\t"
                f"{performer}\t{resulted_at}{extra}\n"
            )

    def _prescription(self, rid: int, eid: int, at: str, by: int, status: str, items: int) -> None:
        rnd = self.rng.random
        self.out["prescription"].append(
            f"{rid}\t{eid}\t{status}\t{by}\t{at}\t\t\t1{self.extras['prescription']}\n"
        )
        out, extra = self.out["item"], self.extras["item"]
        chosen: list[int] = []
        while len(chosen) < min(items, len(self.drugs)):
            i = int(rnd() * len(self.drugs))
            if i not in chosen:
                chosen.append(i)
        for i in chosen:
            drug_id, unit, route, _ = self.drugs[i]
            times = 1 + int(rnd() * 3)
            days = (3, 5, 7, 10, 14, 30)[int(rnd() * 6)]
            how = self.instructions[int(rnd() * 4)] if route == "uống" else "Theo y lệnh"
            out.append(
                f"{rid}\t{drug_id}\t1\t{unit}\t{route}\t{times}\t{days}\t{times * days}\t{how}"
                f"\t\t\t{extra}\n"
            )

    # -- encounters --

    def outpatient(
        self,
        *,
        eid: int,
        pid: int,
        card: str,
        fac: _Facility,
        day: int,
        minute: int,
        ids: _Ids,
        status: str = "concluded",
        room: int | None = None,
        ticket: tuple[int, str] | None = None,
        full: bool = False,
    ) -> None:
        """One outpatient visit. Past visits are concluded; today's carry a queue ticket and
        whatever their status implies (vitals once called, diagnoses and orders once examined)."""
        rnd = self.rng.random
        doctor = fac.doctor
        if room is None:
            room = fac.rooms[int(rnd() * len(fac.rooms))] if fac.rooms else None
        started = self._at(day, minute)
        concluded = status == "concluded"
        examined = status in ("in_examination", "awaiting_results", "concluded")
        ended = self._at(day, minute + 20 + int(rnd() * 100)) if concluded else N
        arrival = rnd()
        referral_no = referral_from = ""
        if arrival < 0.6:
            mode = "registered"
        elif arrival < 0.7:
            mode = "referral"
            referral_no = f"{1 + int(rnd() * 9999)}/GCT"
            referral_from = self.other_codes[int(rnd() * len(self.other_codes))]
        elif arrival < 0.85:
            mode = "self_referred"
        elif arrival < 0.95:
            mode = "follow_up"
        else:
            mode = "emergency"
        year = self.years[int(self.days[day][:4])]
        if card:
            card_from, card_to, reg_code, check = (
                year[0],
                year[1],
                self.codes_by_id[fac.pk],
                "unchecked",
            )
        else:
            card_from, card_to, reg_code, check = N, N, "", ""
        conclusion = note = follow_up = transfer_to = transfer_no = transfer_reason = ""
        if concluded:
            c = rnd()
            note = self.notes[int(rnd() * len(self.notes))]
            if c < 0.75:
                conclusion = "home"
            elif c < 0.97:
                conclusion = "follow_up"
                follow_up = self.days[day + 7 + int(rnd() * 21)]
            else:
                conclusion = "transfer"
                transfer_to = self.other_codes[int(rnd() * len(self.other_codes))]
                transfer_no = f"{1 + int(rnd() * 9999)}/GCV"
                transfer_reason = "Vượt khả năng chuyên môn"
        follow_up = follow_up or N
        attending = str(doctor) if examined else N
        updated = ended if concluded else started
        uid, key = self._keys(eid)
        fields = (
            str(eid), uid, key, str(pid), str(fac.pk), str(fac.exam_department or N),
            str(room or N), "outpatient", "01", status, mode, referral_no, referral_from, card,
            card_from, card_to, reg_code, check, self.reasons[int(rnd() * len(self.reasons))],
            self.histories[int(rnd() * len(self.histories))] if examined else "",
            self.findings[int(rnd() * len(self.findings))] if examined else "", "", attending,
            started, N, ended, conclusion, note, follow_up, transfer_to, transfer_no,
            transfer_reason, "", "", "", "", "0" if concluded else N,
            attending if concluded else N, "3" if concluded else "2" if examined else "1",
            started, str(fac.doctor), updated, "",
        )  # fmt: skip
        self.out["encounter"].append("\t".join(fields) + self.extras["encounter"] + "\n")
        if ticket is not None and room is not None:
            number, ticket_status = ticket
            called = self._at(day, minute + 5) if ticket_status != "waiting" else N
            self.out["ticket"].append(
                f"{eid}\t{room}\t{self.days[day]}\t{number}\t{ticket_status}\t{started}\t{called}"
                f"{self.extras['ticket']}\n"
            )
        if examined or rnd() < 0.5:
            self._vitals(eid, self._at(day, minute + 3), fac.nurse)
        if not examined:
            return
        if full:  # the same content for every probe: 3 diagnoses, 2 resulted orders, 3 drugs
            self._diagnoses(eid, "encounter", day, minute + 12, doctor, 3)
            for kind in ("lab", "imaging"):
                self._order(ids.order(), eid, fac, day, minute + 8, doctor, True, kind)
            rx_status = "issued" if concluded else "draft"
            self._prescription(
                ids.prescription(), eid, self._at(day, minute + 15), doctor, rx_status, 3
            )
            return
        self._diagnoses(eid, "encounter", day, minute + 12, doctor, 1 + int(rnd() * rnd() * 3))
        if rnd() < 0.25:
            resulted = concluded or status == "awaiting_results" and rnd() < 0.5
            for _ in range(1 if rnd() < 0.7 else 2):
                self._order(ids.order(), eid, fac, day, minute + 8, doctor, resulted)
        if concluded and rnd() < 0.55:
            rx_status = "issued" if concluded else "draft"
            self._prescription(
                ids.prescription(), eid, self._at(day, minute + 15), doctor, rx_status,
                1 + int(rnd() * 3),
            )  # fmt: skip
        if rnd() < 0.003 and self.drugs:
            drug_id, _, _, ingredient = self.drugs[int(rnd() * len(self.drugs))]
            self.out["allergy"].append(
                f"{pid}\t{ingredient}\t{drug_id}\t{ingredient}\tNổi mẩn ngứa\tmild\t{doctor}\t"
                f"{started}\t{eid}\t{self.extras['allergy']}\n"
            )

    def inpatient(
        self, *, eid: int, pid: int, card: str, fac: _Facility, day: int, minute: int, ids: _Ids
    ) -> None:
        """A discharged stay in an inpatient department, with its closed bed occupancy."""
        rnd = self.rng.random
        dept, beds = fac.inpatient[int(rnd() * len(fac.inpatient))]
        stay = 1 + int(rnd() * rnd() * 12)
        end_day = min(day + stay, self.day_count - 1)
        started = self._at(day, minute)
        ended = self._at(end_day, 9 * 60 + int(rnd() * 120))
        if end_day == day and ended <= started:
            ended = self._at(day, minute + 240)
        days = end_day - day + 1  # out − in + 1, local calendar days (visit type 03)
        doctor = fac.doctor
        year = self.years[int(self.days[day][:4])]
        if card:
            card_from, card_to, reg_code, check = (
                year[0],
                year[1],
                self.codes_by_id[fac.pk],
                "unchecked",
            )
        else:
            card_from, card_to, reg_code, check = N, N, "", ""
        mode = "emergency" if rnd() < 0.4 else "referral" if rnd() < 0.5 else "registered"
        referral_no = f"{1 + int(rnd() * 9999)}/GCT" if mode == "referral" else ""
        referral_from = self.other_codes[int(rnd() * len(self.other_codes))] if referral_no else ""
        result = "1" if rnd() < 0.55 else "2"
        uid, key = self._keys(eid)
        fields = (
            str(eid), uid, key, str(pid), str(fac.pk), str(dept), N, "inpatient", "03",
            "discharged", mode, referral_no, referral_from, card, card_from, card_to, reg_code,
            check, self.reasons[int(rnd() * len(self.reasons))],
            self.histories[int(rnd() * len(self.histories))],
            self.findings[int(rnd() * len(self.findings))], "Điều trị nội khoa", str(doctor),
            started, started, ended, "", "", N, "", "", "", result, "1",
            self.summaries[int(rnd() * len(self.summaries))],
            self.notes[int(rnd() * len(self.notes))], str(days), str(doctor), "4", started,
            str(doctor), ended, "",
        )  # fmt: skip
        self.out["encounter"].append("\t".join(fields) + self.extras["encounter"] + "\n")
        self._diagnoses(eid, "admission", day, minute + 30, doctor, 1)
        self._diagnoses(eid, "discharge", end_day, 9 * 60, doctor, 1 + int(rnd() * rnd() * 3))
        for d in range(day, end_day + 1, 2):
            self._vitals(eid, self._at(d, 8 * 60 + 30), fac.nurse)
        if rnd() < 0.6:
            self._order(ids.order(), eid, fac, day, minute + 20, doctor, True)
        self._prescription(
            ids.prescription(),
            eid,
            self._at(day, minute + 40),
            doctor,
            "issued",
            1 + int(rnd() * 3),
        )
        if beds:
            bed = beds[int(rnd() * len(beds))]
            self.out["occupancy"].append(
                f"{bed}\t{pid}\t{eid}\t{started}\t{ended}\t{fac.nurse}{self.extras['occupancy']}\n"
            )


class _Ids:
    """Explicit ids for the tables whose children are written in the same COPY (encounters,
    orders, prescriptions): handed out from a counter that starts at the sequence's next value;
    the sequence is moved past what was handed out (`sync`) before the rows are written."""

    MODELS = {"encounter": Encounter, "order": ServiceOrder, "prescription": Prescription}

    def __init__(self):
        self.next: dict[str, int] = {}
        self.synced: dict[str, int] = {}
        self.sequence = {name: _sequence_name(model) for name, model in self.MODELS.items()}
        with connection.cursor() as cursor:
            for name, sequence in self.sequence.items():
                cursor.execute("SELECT nextval(%s)", [sequence])
                self.next[name] = cursor.fetchone()[0]
                self.synced[name] = self.next[name]

    def encounter(self) -> int:
        value = self.next["encounter"]
        self.next["encounter"] = value + 1
        return value

    def order(self) -> int:
        value = self.next["order"]
        self.next["order"] = value + 1
        return value

    def prescription(self) -> int:
        value = self.next["prescription"]
        self.next["prescription"] = value + 1
        return value

    def sync(self) -> None:
        """setval(sequence, last id handed out), when ids were handed out since the last sync."""
        with connection.cursor() as cursor:
            for name, sequence in self.sequence.items():
                last = self.next[name] - 1
                if last >= self.synced[name]:
                    cursor.execute(
                        f"SELECT setval(%s, GREATEST(%s, (SELECT last_value FROM {sequence})))",  # noqa: S608
                        [sequence, last],
                    )
                    self.synced[name] = last + 1


def _sequence_name(model: type[models.Model]) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
        return cursor.fetchone()[0]


def sequences_reset() -> None:
    """Every seeded table's id sequence moved past its largest id (after COPY with explicit ids)."""
    with connection.cursor() as cursor:
        for _, model, _ in TABLES:
            table = model._meta.db_table
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "  # noqa: S608
                f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table}), "
                f"(SELECT last_value FROM {_sequence_name(model)})))",
                [table],
            )


def _facility_info(rooms: dict[int, list[int]]) -> dict[int, _Facility]:
    facilities = list(
        Facility.objects.exclude(kind=Facility.Kind.HEALTH_AUTHORITY).order_by("code")
    )
    staff = _clinicians([f.pk for f in facilities])
    departments: dict[int, dict[str, int]] = {}
    for dept in Department.objects.filter(is_active=True).values("pk", "facility_id", "code"):
        departments.setdefault(dept["facility_id"], {})[dept["code"]] = dept["pk"]
    beds: dict[int, list[int]] = {}
    for bed_id, dept_id in Bed.objects.filter(is_active=True).values_list("pk", "ward__department"):
        beds.setdefault(dept_id, []).append(bed_id)
    info = {}
    for f in facilities:
        depts = departments.get(f.pk, {})
        inpatient = [(pk, sorted(beds[pk])) for code, pk in sorted(depts.items()) if pk in beds]
        info[f.pk] = _Facility(
            pk=f.pk,
            code=f.code,
            exam_department=depts.get(EXAM_DEPARTMENT),
            rooms=rooms.get(f.pk, []),
            inpatient=inpatient,
            lab_department=depts.get(LAB_DEPARTMENT),
            imaging_department=depts.get(IMAGING_DEPARTMENT),
            doctor=staff[f.pk][0],
            nurse=staff[f.pk][1],
        )
    return info


BULK_MIN = 20_000  # encounters: below this, keeping the indexes up to date is cheap enough
BULK_TABLES = {"encounter", "diagnosis", "vitals", "order", "result", "prescription", "item"}


def _estimated_rows(model: type[models.Model]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table]
        )
        return max(int(cursor.fetchone()[0]), 0)


def _indexes_drop(group: set[str]) -> list[str]:
    """Drop the secondary indexes (not primary keys, not those behind a constraint) of the bulk
    tables of the group; return their definitions. Runs inside the writer's transaction."""
    definitions = []
    with connection.cursor() as cursor:
        for name, model, _ in TABLES:
            if name not in group or name not in BULK_TABLES:
                continue
            cursor.execute(
                "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
                "WHERE i.indrelid = %s::regclass AND NOT i.indisprimary AND NOT EXISTS "
                "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
                [model._meta.db_table],
            )
            for index, definition in cursor.fetchall():
                cursor.execute(f"DROP INDEX {index}")
                definitions.append(definition)
    return definitions


def _indexes_create(definitions: list[str]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '256MB'")
        for definition in definitions:
            cursor.execute(definition)


def _analyze(group: set[str]) -> None:
    with connection.cursor() as cursor:
        for name, model, _ in TABLES:
            if name in group:
                cursor.execute(f"ANALYZE {model._meta.db_table}")  # noqa: S608


def _write_chunk(rows: _ClinicalRows, texts: dict[str, str]) -> None:
    """One chunk, one transaction: parents before children."""
    with transaction.atomic():
        raw = connection.cursor().cursor  # the psycopg2 cursor, for copy_expert
        for name, _, _ in TABLES:
            if name in texts:
                raw.copy_expert(rows.sql[name], io.StringIO(texts[name]))


def _superuser() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        return bool(cursor.fetchone()[0])


def encounters_seed(
    *,
    count: int,
    seed: int,
    focus_room: ClinicRoom | None = None,
    focus_queue: int = 20,
    today_per_room: int = 6,
    room_queues: dict[int, int] | None = None,
    probes: Sequence[ProbePlan] = (),
    chunk_size: int = 20_000,
    progress: Callable[[int, float], None] | None = None,
) -> EncounterSeedResult:
    """Write `count` synthetic encounters (about 4 % inpatient stays) over the seeded patients,
    plus the encounters of each probe. Today: `focus_queue` tickets in `focus_room` (default: the
    first room of the main hospital), `room_queues[room id]` in the rooms named there (probes
    included), and up to `today_per_room` in each other room.

    Writer threads on their own connections COPY chunk k while this thread generates chunk k+1,
    as `ehealth.core.demo.patients_seed` does: as a superuser, two (encounters and tickets; the
    children) without the per-row FK triggers, and, for a load at least as large as the table, in
    one transaction each that drops and rebuilds the secondary indexes (see `writer`); otherwise
    one, committing chunk by chunk. Inside a transaction (tests) everything is written inline on
    the caller's connection, with every trigger.
    """
    started = time.perf_counter()
    rooms = clinic_rooms_ensure()
    facilities = _facility_info(rooms)
    if focus_room is None:
        main = Facility.objects.filter(name=MAIN_HOSPITAL).first()
        room_ids = rooms.get(main.pk if main else -1) or next(iter(rooms.values()), [])
        focus_room = ClinicRoom.objects.filter(pk__in=room_ids[:1]).first()
    pool = _PatientPool(set(facilities))
    if count and not len(pool):
        raise RuntimeError("no patient with a record number: seed patients first")
    rows = _ClinicalRows(seed=seed, facilities=facilities)
    ids = _Ids()
    rnd = rows.rng.random
    excluded = {p.patient_id for p in probes}
    totals: dict[str, int] = {name: 0 for name, _, _ in TABLES}
    skip_fk_triggers = _superuser()  # every reference was read from the database just now
    issued = dict(
        QueueTicket.objects.filter(day=rows.today)
        .values("room")
        .annotate(last=models.Max("number"))
        .values_list("room", "last")
    )  # a second run continues today's numbers
    bulk = skip_fk_triggers and count >= BULK_MIN and count >= _estimated_rows(Encounter)

    def pick_patient() -> tuple[int, str, _Facility]:
        while True:
            i = int(rnd() * len(pool))
            pid = pool.ids[i]
            if pid in excluded:
                continue
            fid = pool.second[i] if pool.second[i] and rnd() < 0.3 else pool.first[i]
            return pid, pool.cards[i], facilities[fid]

    def pick_patient_at(fac: _Facility) -> tuple[int, str]:
        """A patient with a record number at `fac` (reception enrols first; the demo keeps to
        enrolled patients, so the doctor there may open the chart)."""
        for _ in range(2000):
            i = int(rnd() * len(pool))
            if pool.ids[i] not in excluded and fac.pk in (pool.first[i], pool.second[i]):
                return pool.ids[i], pool.cards[i]
        pid, card, _ = pick_patient()
        return pid, card

    # Today's queues: (room id, facility) -> tickets, filled from the random patients.
    today = rows.day_count
    queue_rooms: list[tuple[int, _Facility, int]] = []
    for fac in facilities.values():
        for room_id in fac.rooms:
            wanted = focus_queue if focus_room and room_id == focus_room.pk else today_per_room
            queue_rooms.append((room_id, fac, (room_queues or {}).get(room_id, wanted)))
    # Rooms asked for by name first, so that a small run still fills them.
    chosen = set(room_queues or {}) | ({focus_room.pk} if focus_room else set())
    queue_rooms.sort(key=lambda r: r[0] not in chosen)
    probe_today = {p.today_room_id for p in probes if p.today_room_id}
    today_total = sum(w for _, _, w in queue_rooms)
    # Today's queues, filled first (at most a tenth of the encounters); the rest is the past.
    todays: list[tuple[int, int, int, str, _Facility, ProbePlan | None]] = []
    budget = min(today_total, count // 10)
    for room_id, fac, wanted in queue_rooms:
        n = min(wanted, budget) - (1 if room_id in probe_today else 0)
        n = max(n, 0)
        budget -= n
        for _ in range(n):
            pid, card = pick_patient_at(fac)
            todays.append((room_id, 0, pid, card, fac, None))
    for probe in probes:
        if probe.today_room_id:
            fac = facilities[probe.facility_id]
            todays.append((probe.today_room_id, 0, probe.patient_id, "", fac, probe))
    bulk_past = count - sum(1 for entry in todays if entry[5] is None)
    inpatient_share = 0.04

    def past_one(day: int, minute: int):
        pid, card, fac = pick_patient()
        if fac.inpatient and rnd() < inpatient_share:
            write = rows.inpatient
        else:
            write = rows.outpatient
        yield lambda: write(
            eid=ids.encounter(), pid=pid, card=card, fac=fac, day=day, minute=minute, ids=ids
        )

    def plan():
        """Yield callables writing one encounter each, in id order: past, probes, then today."""
        # Day by day, in time order (ids follow time, as in a live system, and the indexes on
        # started_at take their keys in order); fewer visits at weekends.
        weights = [
            (1.0, 1.0, 1.0, 1.0, 1.0, 0.6, 0.3)[(rows.first_day + timedelta(days=d)).weekday()]
            for d in range(today)
        ]
        scale = bulk_past / sum(weights) if weights else 0
        planned, emitted = 0.0, 0
        for day, weight in enumerate(weights):
            planned += weight * scale
            n_day = (bulk_past if day == today - 1 else round(planned)) - emitted
            emitted += n_day
            minutes = sorted(
                WORK_START + int(rnd() * (WORK_END - WORK_START)) for _ in range(n_day)
            )
            for minute in minutes:
                yield from past_one(day, minute)
        for probe in probes:
            fac = facilities[probe.facility_id]
            for k in range(probe.past):
                day = int((k + 0.5) * today / max(probe.past, 1))
                minute = WORK_START + 60 + (k * 37) % 400

                def write(probe=probe, fac=fac, day=day, minute=minute, k=k):
                    eid = ids.encounter()
                    probe.encounter_ids.append(eid)
                    rows.outpatient(
                        eid=eid, pid=probe.patient_id, card="", fac=fac, day=day,
                        minute=minute, ids=ids, full=k % 3 == 0,
                    )  # fmt: skip

                yield write
        # Today, in arrival order per room: the earliest examined, the latest still waiting.
        last_minute = max(rows.now_minute - 5, 1)
        first_minute = min(WORK_START, last_minute - 1)
        by_room: dict[int, list] = {}
        for entry in todays:
            by_room.setdefault(entry[0], []).append(entry)
        for room_id, entries in sorted(by_room.items()):
            rows.rng.shuffle(entries)
            n = len(entries)
            for position, (room, _, pid, card, fac, probe) in enumerate(entries, start=1):
                number = issued.get(room_id, 0) + position
                minute = first_minute + (position - 1) * (last_minute - first_minute) // max(n, 1)
                share = position / n
                if probe is not None:
                    status, ticket = "in_examination", "called"
                elif share <= 0.3:
                    status, ticket = "concluded", "done"
                elif share <= 0.4:
                    status, ticket = "awaiting_results", "called"
                elif share <= 0.45:
                    status, ticket = "in_examination", "called"
                else:
                    status, ticket = "arrived", "waiting"

                def write(
                    room=room, pid=pid, card=card, fac=fac, probe=probe, minute=minute,
                    status=status, ticket=ticket, number=number,
                ):  # fmt: skip
                    eid = ids.encounter()
                    if probe is not None:
                        probe.encounter_ids.append(eid)
                    rows.outpatient(
                        eid=eid, pid=pid, card=card, fac=fac, day=today, minute=minute, ids=ids,
                        status=status, room=room, ticket=(number, ticket),
                        full=probe is not None,
                    )  # fmt: skip

                yield write

    def chunks():
        """COPY texts of chunk after chunk, sequences moved past the ids they use."""
        n = 0
        for write in plan():
            write()
            n += 1
            if n == chunk_size:
                ids.sync()
                yield rows.take(), n
                n = 0
        if n:
            ids.sync()
            yield rows.take(), n

    total = 0
    if connection.in_atomic_block:
        for texts, n in chunks():
            _write_chunk(rows, texts)
            for name, k in rows.counts.items():
                totals[name] += k
            total += n
            if progress is not None:
                progress(total, time.perf_counter() - started)
    else:
        # Without FK triggers (superuser) the encounters and their children do not depend on
        # each other's commits: two writers, each on its own connection, share the work.
        groups = [{"encounter", "ticket"}, {n for n, _, _ in TABLES} - {"encounter", "ticket"}]
        if not skip_fk_triggers:
            groups = [{n for n, _, _ in TABLES}]
        queues = [queue.Queue(maxsize=2) for _ in groups]
        failure: list[BaseException] = []
        # Bulk load: each writer's whole share is one transaction that drops the secondary
        # indexes of its tables and builds them again at the end (much cheaper than keeping them
        # up to date row by row). Both commit together or not at all; a crash rolls the drop back.
        both_done = threading.Barrier(len(groups))

        def writer(pending: queue.Queue, group: set[str], report: bool) -> None:
            done = 0
            try:
                with connection.cursor() as cursor:
                    # Synthetic data: a crash loses the last chunks at worst, never consistency.
                    cursor.execute("SET synchronous_commit = off")
                    if skip_fk_triggers:
                        cursor.execute("SET session_replication_role = replica")
                with transaction.atomic() if bulk else contextlib.nullcontext():
                    dropped = _indexes_drop(group) if bulk else []
                    while (item := pending.get()) is not None:
                        if failure:
                            continue  # drain so the producer never blocks
                        texts, n = item
                        _write_chunk(rows, texts)
                        done += n
                        if report and progress is not None:
                            progress(done, time.perf_counter() - started)
                    if failure:
                        raise RuntimeError("the other writer failed")  # roll back this share
                    _indexes_create(dropped)
                    _analyze(group)  # the planner's statistics, one writer's tables each
                    if bulk:
                        both_done.wait()
            except BaseException as exc:  # re-raised in the calling thread
                failure.append(exc)
                both_done.abort()
                while pending.get() is not None:
                    pass
            finally:
                connection.close()

        threads = [
            threading.Thread(
                target=writer, args=(q, g, i == 0), name=f"clinical-seed-{i}", daemon=True
            )
            for i, (q, g) in enumerate(zip(queues, groups, strict=True))
        ]
        for thread in threads:
            thread.start()
        try:
            for texts, n in chunks():
                if failure:
                    break
                for name, k in rows.counts.items():
                    totals[name] += k
                for group, q in zip(groups, queues, strict=True):
                    q.put(({k: v for k, v in texts.items() if k in group}, n))
                total += n
        finally:
            for q in queues:
                q.put(None)
            for thread in threads:
                thread.join()
        if failure:
            raise next(
                (e for e in failure if not isinstance(e, threading.BrokenBarrierError)), failure[0]
            )
    if connection.in_atomic_block:
        _analyze({name for name, _, _ in TABLES})
    sequences_reset()
    elapsed = time.perf_counter() - started
    audit_record(
        actor=None,
        action="encounter.seed_demo",
        detail={"encounters": total, "seed": seed, "probes": [p.patient_id for p in probes]},
    )
    return EncounterSeedResult(
        encounters=total, rows=totals, seconds=elapsed, today_tickets=totals["ticket"]
    )
