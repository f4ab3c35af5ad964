"""`manage.py load_benefit_parameters`: write the benefit engine's default dated parameters.

Idempotent: only the (key, qualifier, start date) rows the database lacks are written; rows an
admin has edited are kept. Rows the domain brief marks UNCONFIRMED are listed so someone checks them.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from insurance.benefits.defaults import DEFAULT_PARAMETERS
from insurance.benefits.parameters import benefit_parameters_load


class Command(BaseCommand):
    help = (
        "Nạp tham số quyền lợi BHYT mặc định theo thời gian (lương cơ sở, ngưỡng 15%, tỷ lệ "
        "trái tuyến, trần vật tư...). Chạy lại không thay đổi gì; dòng đã sửa được giữ nguyên."
    )

    def handle(self, *args, **options):
        report = benefit_parameters_load()
        self.stdout.write(
            f"Tham số quyền lợi BHYT: thêm mới {report.created}, giữ nguyên {report.kept}."
        )
        unconfirmed = sorted(
            {f"{row.key}[{row.qualifier}]" for row in DEFAULT_PARAMETERS if row.unconfirmed}
        )
        if unconfirmed and options["verbosity"] >= 1:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(unconfirmed)} tham số CHƯA XÁC NHẬN (cần đối chiếu văn bản): "
                    + ", ".join(unconfirmed)
                )
            )
