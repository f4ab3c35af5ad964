"""Fixtures of the claims tests: a self-signed signing certificate made at test time."""

from __future__ import annotations

import pytest

from insurance.claims.signing import SigningMaterial, demo_certificate_make


@pytest.fixture(scope="session")
def signing_files(tmp_path_factory):
    return demo_certificate_make(directory=tmp_path_factory.mktemp("claims-cert"))


@pytest.fixture
def signing(settings, signing_files) -> SigningMaterial:
    """The unit's key and certificate, configured as in production (settings name the files)."""
    key_path, cert_path = signing_files
    settings.CLAIMS_SIGNING_KEY_FILE = str(key_path)
    settings.CLAIMS_SIGNING_CERT_FILE = str(cert_path)
    return SigningMaterial(key_path.read_bytes(), cert_path.read_bytes())
