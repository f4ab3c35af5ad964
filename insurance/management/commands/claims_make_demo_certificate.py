"""Write a self-signed demo certificate for signing claim envelopes (never for production)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand

from insurance.claims.signing import demo_certificate_make


class Command(BaseCommand):
    help = (
        "Tạo khoá và chứng thư tự ký (chỉ để chạy thử) cho chữ ký số hồ sơ giám định BHYT; "
        "đặt CLAIMS_SIGNING_KEY_FILE / CLAIMS_SIGNING_CERT_FILE trỏ tới hai tệp này."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out-dir", required=True, help="Thư mục ngoài kho mã nguồn")
        parser.add_argument("--common-name", default="Demo health unit (self-signed)")

    def handle(self, *args, **options):
        key_path, cert_path = demo_certificate_make(
            directory=Path(options["out_dir"]), common_name=options["common_name"]
        )
        self.stdout.write(f"CLAIMS_SIGNING_KEY_FILE={key_path}")
        self.stdout.write(f"CLAIMS_SIGNING_CERT_FILE={cert_path}")
