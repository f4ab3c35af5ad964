"""`manage.py seed_demo [--patients N] [--encounters M] [--claims C] [--seed S] [--force]`: the demo
data, once.

Reference data and catalogs, departments/wards/beds, staff of every role (password DEMO_PASSWORD)
and N synthetic patients (COPY, ~50,000 per chunk, so --patients 1000000 fits in memory);
M encounters over them (`patients.clinical.demo.encounters_seed`, COPY; by default enough for a
working day: every clinic room has today's queue, past visits over three years); then, by name
(core imports neither insurance nor billing), `seed_demo_insurance`: the patients' BHYT cards,
today's unpaid invoices at the main hospital's cashier desk and up to C claim dossiers of last
month for its insurance officer.
A second run says the demo is already there and exits 0; --force runs again (reference data and
staff are refreshed in place, and N *more* patients are added).
"""

from __future__ import annotations

import random

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from ehealth.core.demo import (
    CITY_ADMIN_USERNAME,
    departments_seed,
    enrollment_facilities,
    patients_seed,
    staff_seed,
)
from ehealth.core.models import Role, User
from ehealth.core.reference import reference_load_all

DEMO_URL = "http://127.0.0.1:8000"
# Encounters of a default seed: a tenth are today's, which fills every clinic room's queue of the
# demo (about 95 rooms: 20 tickets in the demo doctor's room, 6 in each other); the whole seed_demo
# stays well under a minute on a loaded 2-core machine (see the README's `make run`).
DEFAULT_ENCOUNTERS = 6_000
DEFAULT_CLAIMS = 60  # dossiers of last month built at seed time (a few seconds)


def demo_seeded() -> bool:
    """The demo's city admin account exists: seed_demo has run to the end at least once."""
    return User.objects.filter(username=CITY_ADMIN_USERNAME).exists()


class Command(BaseCommand):
    help = "Tạo dữ liệu mẫu (một lần): cơ sở y tế, khoa, giường, danh mục, nhân viên, người bệnh."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=int, default=500, help="Số người bệnh mẫu.")
        parser.add_argument("--seed", type=int, default=2026, help="Hạt giống ngẫu nhiên.")
        parser.add_argument("--chunk", type=int, default=50_000, help="Số người bệnh mỗi lần COPY.")
        parser.add_argument(
            "--encounters",
            type=int,
            default=DEFAULT_ENCOUNTERS,
            help="Số lượt khám/điều trị mẫu (sau nhân viên; 0: không tạo).",
        )
        parser.add_argument(
            "--claims",
            type=int,
            default=DEFAULT_CLAIMS,
            help="Số hồ sơ giám định BHYT tháng trước tối đa tại bệnh viện mẫu chính (0: không lập).",
        )
        parser.add_argument(
            "--force", action="store_true", help="Chạy lại dù đã có dữ liệu mẫu (thêm người bệnh)."
        )

    def handle(self, *args, patients, seed, chunk, force, **options):
        if patients < 0:
            raise CommandError("--patients phải là số không âm.")
        encounters = options.get("encounters") or 0
        if encounters < 0:
            raise CommandError("--encounters phải là số không âm.")
        claims = options.get("claims")
        claims = DEFAULT_CLAIMS if claims is None else claims
        if claims < 0:
            raise CommandError("--claims phải là số không âm.")
        if demo_seeded() and not force:
            self.stdout.write("Dữ liệu mẫu đã có (dùng --force để tạo thêm): không làm gì.")
            return

        loaded = reference_load_all()
        for report in loaded.import_reports():
            if not report.ok:
                raise CommandError(f"Dữ liệu tham chiếu {report.file_name} có dòng lỗi.")
        self.stdout.write(
            f"Đã nạp {loaded.provinces} tỉnh/thành, {loaded.admin_units} xã/phường Đà Nẵng, "
            f"{len(loaded.facilities)} cơ sở y tế, {loaded.icd['who_codes']} mã ICD-10."
        )
        self.stdout.write(
            self.style.WARNING(
                "Lưu ý: mã cơ sở 489xx là mã GIẢ ĐỊNH (DEMO), không phải mã do Bộ Y tế/BHXH cấp; "
                "các trạm y tế có chữ (DEMO) là dữ liệu giả định; giá thuốc là giá MINH HỌA."
            )
        )
        call_command("load_benefit_parameters", stdout=self.stdout, verbosity=0)  # insurance app
        counts = departments_seed(loaded.facilities)
        self.stdout.write(
            f"Khoa: {counts['departments']}, buồng: {counts['wards']}, giường: {counts['beds']} "
            "(mã khoa K.. cần đối chiếu QĐ 1804/2026 Phụ lục 02)."
        )
        if patients:
            verbosity = options["verbosity"]

            def progress(done: int, seconds: float) -> None:
                if verbosity >= 1 and patients > chunk:
                    self.stdout.write(f"  {done:,} người bệnh ({done / seconds:,.0f}/giây)")

            result = patients_seed(
                count=patients,
                seed=seed,
                facilities=enrollment_facilities(),
                chunk_size=chunk,
                progress=progress,
            )
            self.stdout.write(
                f"Người bệnh: {result.patients:,}, định danh: {result.identifiers:,}, "
                f"{result.seconds:.1f} giây ({result.rate:,.0f} người bệnh/giây)."
            )

        # Staff last: the city admin account marks a finished seed (see demo_seeded).
        accounts = staff_seed(rng=random.Random(seed))  # noqa: S311 (demo names)
        if encounters:  # after the staff: the demo doctors sign their facilities' records
            from patients.clinical.demo import encounters_seed

            made = encounters_seed(count=encounters, seed=seed)
            self.stdout.write(
                f"Lượt khám/điều trị: {made.encounters:,} ({made.today_tickets:,} số thứ tự hôm "
                f"nay), {made.seconds:.1f} giây ({made.rate:,.0f} lượt/giây)."
            )
        # Insurance app, by name: cards of the patients, unpaid invoices of today, claim dossiers.
        call_command("seed_demo_insurance", claims=claims, stdout=self.stdout, verbosity=0)
        self.stdout.write(self.style.SUCCESS(f"Dữ liệu mẫu sẵn sàng: {DEMO_URL}"))
        self.stdout.write(f"Tài khoản demo (mật khẩu: {settings.DEMO_PASSWORD}):")
        shown = set()
        for account in accounts:
            if account.role in shown:
                continue
            shown.add(account.role)
            label = str(Role(account.role).label)
            self.stdout.write(
                f"  {label:<18} {account.username:<20} {account.facility_name} ({account.facility_code})"
            )
