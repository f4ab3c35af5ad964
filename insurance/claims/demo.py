"""The claims part of `manage.py rundemo` (settings DEMO_SERVICES names `start_for_demo`).

The demo's insurance officer must be able to build, sign and send dossiers without any setup:
when no signing certificate is configured, a self-signed DEMO certificate is made once, outside
the repository (the user's cache directory), and the settings point at it for this process.
A configured certificate is left alone.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings

from insurance.claims.signing import demo_certificate_make

KEY_NAME, CERT_NAME = "claims-signing-key.pem", "claims-signing-cert.pem"


def demo_certificate_dir() -> Path:
    """Where the demo key and certificate live: ~/.cache/ehealth (a temporary directory when the
    home directory cannot be written)."""
    home = Path.home() / ".cache" / "ehealth" / "claims-demo-cert"
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError:
        home = Path(tempfile.gettempdir()) / "ehealth-claims-demo-cert"
        home.mkdir(parents=True, exist_ok=True)
    return home


def start_for_demo() -> str:
    """Make sure the demo can sign dossiers; returns the line rundemo prints."""
    if settings.CLAIMS_SIGNING_KEY_FILE and settings.CLAIMS_SIGNING_CERT_FILE:
        return f"Chứng thư số ký hồ sơ giám định: {settings.CLAIMS_SIGNING_CERT_FILE}"
    directory = demo_certificate_dir()
    key_path, cert_path = directory / KEY_NAME, directory / CERT_NAME
    if not (key_path.exists() and cert_path.exists()):
        key_path, cert_path = demo_certificate_make(
            directory=directory, common_name="Co so KCB DEMO (tu ky)"
        )
    settings.CLAIMS_SIGNING_KEY_FILE = str(key_path)
    settings.CLAIMS_SIGNING_CERT_FILE = str(cert_path)
    return (
        "Chứng thư số MÔ PHỎNG (tự ký, chỉ cho demo) để ký hồ sơ giám định BHYT: "
        f"{cert_path} – cán bộ giám định vào /claims/ để lập và gửi hồ sơ."
    )
