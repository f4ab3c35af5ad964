"""The unit's signing certificate (domain brief 3.1: digital signing required by 01/01/2026).

Production reads the PEM files named by settings `CLAIMS_SIGNING_KEY_FILE` and
`CLAIMS_SIGNING_CERT_FILE`. For the demo and tests `demo_certificate_make` writes a self-signed
RSA certificate (command `manage.py claims_make_demo_certificate`); private keys are never
committed (write them outside the repository or under an ignored path).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class SigningMaterial:
    key_pem: bytes
    cert_pem: bytes


def demo_certificate_make(
    *, directory: Path, common_name: str = "Demo health unit (self-signed)", days: int = 365
) -> tuple[Path, Path]:
    """Write a self-signed RSA-2048 key and certificate (PEM) for the demo and tests."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ehealth demo"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    key_path, cert_path = (
        directory / "claims-signing-key.pem",
        directory / "claims-signing-cert.pem",
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def signing_material() -> SigningMaterial:
    """The unit's key and certificate from the configured files."""
    key_file = getattr(settings, "CLAIMS_SIGNING_KEY_FILE", "")
    cert_file = getattr(settings, "CLAIMS_SIGNING_CERT_FILE", "")
    if not key_file or not cert_file:
        raise ImproperlyConfigured(
            "CLAIMS_SIGNING_KEY_FILE and CLAIMS_SIGNING_CERT_FILE must name PEM files "
            "(demo: manage.py claims_make_demo_certificate)."
        )
    return SigningMaterial(Path(key_file).read_bytes(), Path(cert_file).read_bytes())
