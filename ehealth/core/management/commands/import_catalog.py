"""Import a catalog file (CSV or XLSX) and print the per-row report."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ehealth.core.catalogs import COLUMNS, ERROR, KINDS, UPDATED, catalog_import
from ehealth.core.models import User


class Command(BaseCommand):
    help = "Nhập danh mục từ tệp CSV/XLSX, báo cáo từng dòng. Dòng lỗi không ảnh hưởng dòng khác."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=KINDS, help="Loại danh mục.")
        parser.add_argument("path", help="Đường dẫn tệp .csv hoặc .xlsx.")
        parser.add_argument("--dry-run", action="store_true", help="Chỉ kiểm tra, không lưu.")
        parser.add_argument(
            "--user",
            default="",
            help="Tên đăng nhập của người nhập (để ghi nhật ký và phân quyền).",
        )

    def handle(self, *args, kind, path, dry_run, user, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"Không tìm thấy tệp {path}.")
        actor = None
        if user:
            actor = User.objects.filter(username=user, is_active=True).first()
            if actor is None:
                raise CommandError(f"Không có người dùng {user}.")
        report = catalog_import(
            actor=actor, kind=kind, file_name=file.name, content=file.read_bytes(), dry_run=dry_run
        )
        required, optional = COLUMNS[kind]
        self.stdout.write(
            f"Cột bắt buộc: {', '.join(required)}; cột tùy chọn: {', '.join(optional)}"
        )
        for message in report.warnings:
            self.stdout.write(f"Lưu ý: {message}")
        for message in report.file_errors:
            self.stderr.write(message)
        for row in report.rows:
            if row.status in (ERROR, UPDATED) or row.messages:
                detail = "; ".join(row.messages)
                self.stdout.write(f"dòng {row.row} [{row.status}] {row.key}: {detail}")
        counts = ", ".join(f"{k}: {v}" for k, v in report.counts.items())
        prefix = "KIỂM TRA (không lưu)" if dry_run else "Đã nhập"
        self.stdout.write(f"{prefix}: {counts}")
        if not report.ok:
            raise CommandError(
                "Có dòng lỗi; các dòng khác đã được xử lý." if not dry_run else "Có dòng lỗi."
            )
