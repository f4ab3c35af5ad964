"""`manage.py fhir_client_create --facility 48001 --scopes "system/Patient.rs" --name "HIS X"`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ehealth.core.models import Facility
from fhir_api.clients import fhir_client_register


class Command(BaseCommand):
    help = "Đăng ký một hệ thống đối tác FHIR (OAuth2 client credentials) cho một cơ sở."

    def add_arguments(self, parser):
        parser.add_argument("--facility", required=True, help="Mã cơ sở KCB (5 ký tự).")
        parser.add_argument(
            "--scopes", required=True, help='Phạm vi SMART v2, ví dụ "system/Patient.rs".'
        )
        parser.add_argument("--name", default="", help="Tên hệ thống đối tác.")
        parser.add_argument(
            "--roles",
            default="receptionist",
            help="Vai trò của tài khoản dịch vụ tại cơ sở, cách nhau bởi dấu phẩy: receptionist "
            "(mặc định), doctor, nurse (ghi sinh hiệu, chẩn đoán, khám, nhập viện).",
        )

    def handle(self, *args, facility, scopes, name, roles, **options):
        unit = Facility.objects.filter(code=facility).first()
        if unit is None:
            raise CommandError(f"Không có cơ sở mã {facility}.")
        try:
            registered = fhir_client_register(
                facility=unit,
                name=name or f"FHIR client {facility}",
                scopes=scopes,
                roles=tuple(r.strip() for r in roles.split(",") if r.strip()),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"client_id={registered.client_id}")
        self.stdout.write(f"client_secret={registered.client_secret}")
        self.stdout.write(f"scopes={registered.client.scopes}")
        self.stdout.write("(client_secret chỉ hiện một lần: hãy lưu lại ngay.)")
