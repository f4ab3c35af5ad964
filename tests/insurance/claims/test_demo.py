"""The claims part of the demo: without a configured certificate, rundemo makes a self-signed one
outside the repository once, so the demo officer can build and sign dossiers straight away."""

from __future__ import annotations

from pathlib import Path

from insurance.claims import demo
from insurance.claims.signing import signing_material


def test_the_demo_makes_a_signing_certificate_once_and_points_the_settings_at_it(
    settings, monkeypatch, tmp_path
):
    # given no certificate configured
    settings.CLAIMS_SIGNING_KEY_FILE = settings.CLAIMS_SIGNING_CERT_FILE = ""
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: tmp_path))

    # when
    line = demo.start_for_demo()
    first = Path(settings.CLAIMS_SIGNING_CERT_FILE).read_bytes()
    settings.CLAIMS_SIGNING_KEY_FILE = settings.CLAIMS_SIGNING_CERT_FILE = ""
    demo.start_for_demo()

    # then
    assert "MÔ PHỎNG" in line
    assert Path(settings.CLAIMS_SIGNING_CERT_FILE).is_relative_to(tmp_path)
    assert Path(settings.CLAIMS_SIGNING_CERT_FILE).read_bytes() == first  # made once
    assert signing_material().cert_pem == first


def test_a_configured_certificate_is_left_alone(settings, signing):
    # given
    configured = settings.CLAIMS_SIGNING_CERT_FILE

    # when
    line = demo.start_for_demo()

    # then
    assert settings.CLAIMS_SIGNING_CERT_FILE == configured and configured in line
