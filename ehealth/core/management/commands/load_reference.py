"""Load (or refresh) the reference data: provinces, communes, facilities, ICD-10, catalogs."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ehealth.core.reference import reference_load_all


class Command(BaseCommand):
    help = (
        "Nạp dữ liệu tham chiếu (tỉnh, xã/phường, cơ sở y tế, ICD-10, danh mục và giá). "
        "Chạy lại không thay đổi gì."
    )

    def handle(self, *args, **options):
        loaded = reference_load_all()
        self.stdout.write(
            f"Tỉnh/thành phố: {loaded.provinces}; xã/phường Đà Nẵng: {loaded.admin_units}; "
            f"cơ sở y tế: {len(loaded.facilities)} (mã cơ sở là mã GIẢ ĐỊNH – DEMO, không phải mã "
            "do Bộ Y tế/BHXH cấp); "
            f"mã ICD-10 (WHO): {loaded.icd['who_codes']}"
        )
        failed = False
        for report in loaded.import_reports():
            counts = ", ".join(f"{k}: {v}" for k, v in report.counts.items())
            self.stdout.write(f"  {report.file_name} ({report.kind}): {counts}")
            for message in report.file_errors:
                failed = True
                self.stderr.write(f"    {message}")
            for row in report.errors():
                failed = True
                self.stderr.write(f"    dòng {row.row}: {'; '.join(row.messages)}")
        if failed:
            raise CommandError("Dữ liệu tham chiếu có dòng lỗi (xem ở trên).")
