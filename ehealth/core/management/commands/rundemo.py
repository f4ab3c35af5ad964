"""`make run`: migrate, seed the demo data once, print one login per role, serve on :8000.

Without DATABASE_URL the settings have already started the embedded PostgreSQL server; this
process owns it, so the web server runs in this same process (no autoreloader child) and
SIGINT/SIGTERM/SIGHUP end it through SystemExit, which lets atexit stop PostgreSQL cleanly.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from ehealth.core.models import Role, StaffMembership
from ehealth.embedded import data_dir_in_use, install_exit_on_signals


@dataclass(frozen=True)
class DemoLogin:
    role_label: str
    username: str
    facility_name: str
    facility_code: str


def demo_logins() -> list[DemoLogin]:
    """One active account per role, the first created (the one seed_demo printed)."""
    logins = []
    for role in Role:
        first = (
            StaffMembership.objects.filter(role=role, is_active=True, user__is_active=True)
            .order_by("pk")
            .values_list("user__username", "facility__name", "facility__code")
            .first()
        )
        if first is not None:
            logins.append(DemoLogin(str(role.label), *first))
    return logins


def demo_is_seeded() -> bool:
    """Staff exist: the demo (or real data) is there; seeding again is not needed."""
    return StaffMembership.objects.exists()


def check_port_free(host: str, port: int) -> None:
    """Fail early with a clear message: runserver exits with os._exit on a busy port, which
    would skip atexit and leave the embedded PostgreSQL server running."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CommandError(
                    f"Cổng {port} trên {host} đang được dùng. Hãy dừng chương trình đang chiếm "
                    f"cổng hoặc chạy: manage.py rundemo --port <cổng khác>"
                ) from exc
            raise CommandError(f"Không thể mở {host}:{port}: {exc.strerror}") from exc


class Command(BaseCommand):
    help = (
        "Chạy hệ thống với dữ liệu mẫu: migrate, seed_demo (một lần), in tài khoản demo, "
        "phục vụ tại http://127.0.0.1:8000."
    )
    requires_system_checks = []  # runserver runs them once the database is migrated

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="Địa chỉ lắng nghe.")
        parser.add_argument("--port", type=int, default=8000, help="Cổng lắng nghe.")
        parser.add_argument(
            "--no-seed", action="store_true", help="Không tạo dữ liệu mẫu (cơ sở dữ liệu thật)."
        )
        parser.add_argument(
            "--no-serve",
            action="store_true",
            help="Chỉ migrate, tạo dữ liệu mẫu và in tài khoản rồi thoát.",
        )

    def handle(self, *args, host, port, no_seed, no_serve, **options):
        install_exit_on_signals(include_sigint=True)
        verbosity = options["verbosity"]
        if not no_serve:
            check_port_free(host, port)

        if settings.EMBEDDED_DATABASE:
            self.stdout.write(f"PostgreSQL nhúng đang chạy, dữ liệu trong {data_dir_in_use()}")
        self.stdout.write("Cập nhật cấu trúc cơ sở dữ liệu (migrate)...")
        call_command("migrate", interactive=False, verbosity=max(verbosity - 1, 0))

        seeded_now = False
        if no_seed:
            pass
        elif demo_is_seeded():
            self.stdout.write("Dữ liệu mẫu đã có: bỏ qua seed_demo.")
        else:
            self.stdout.write("Tạo dữ liệu mẫu (seed_demo, chỉ lần đầu)...")
            call_command("seed_demo", verbosity=verbosity, stdout=self.stdout, stderr=self.stderr)
            seeded_now = True

        if not seeded_now:  # seed_demo prints the logins itself when it runs
            self.print_logins()

        if no_serve:
            return
        # Services of the higher apps the demo runs beside the web server (e.g. the insurer-portal
        # simulator), named in settings so that core imports none of those apps.
        for path in settings.DEMO_SERVICES:
            self.stdout.write(import_string(path)())
        self.stdout.write(self.style.SUCCESS(f"Mở http://{host}:{port}/ — dừng bằng Ctrl+C."))
        call_command(
            "runserver",
            f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            use_reloader=False,  # one process owns both the web server and the embedded database
            use_threading=True,
            insecure_serving=True,  # local assets also when DEBUG=False
            shutdown_message="Đã dừng máy chủ.",
            stdout=self.stdout,
            stderr=self.stderr,
        )

    def print_logins(self) -> None:
        logins = demo_logins()
        if not logins:
            self.stdout.write("Chưa có tài khoản nhân viên nào.")
            return
        self.stdout.write(f"Tài khoản demo (mật khẩu: {settings.DEMO_PASSWORD}):")
        for login in logins:
            self.stdout.write(
                f"  {login.role_label:<18} {login.username:<20} "
                f"{login.facility_name} ({login.facility_code})"
            )
