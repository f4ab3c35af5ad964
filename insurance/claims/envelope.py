"""The GIAMDINHHS envelope (domain brief 3.2) and its XML-DSig signature.

Layout: THONGTINDONVI/MACSKCB; THONGTINHOSO with NGAYLAP (yyyymmdd), SOLUONGHOSO and
DANHSACHHOSO/HOSO/FILEHOSO (LOAIHOSO, NOIDUNGFILE = base64 of the UTF-8 inner XML), then
CHUKYDONVI holding an enveloped XML-DSig signature (RSA-SHA256, SHA-256 digest) over the whole
GIAMDINHHS element. The brief says the exact scope is "per portal XSD" (not read): here the
reference is the whole document with the enveloped-signature transform (UNCONFIRMED).
XML0 (check-in) is a separate message to its own endpoint and is not put in this envelope.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import date
from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree
from signxml import SignatureConfiguration, XMLSigner, XMLVerifier
from signxml.exceptions import InvalidInput, InvalidSignature

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
SIGNATURE_ELEMENT = "CHUKYDONVI"
ENVELOPE_ORDER = ("XML1", "XML2", "XML3", "XML4", "XML5", "XML7")


class EnvelopeError(Exception):
    """The envelope is malformed or its signature does not verify."""


def envelope_build(
    *, facility_code: str, made_on: date, dossiers: list[Mapping[str, bytes]]
) -> bytes:
    """The unsigned envelope for one or more dossiers (tables keyed by LOAIHOSO).

    CHUKYDONVI holds a signxml placeholder `<ds:Signature Id="placeholder"/>`: the signer puts
    the signature there (brief 3.2: "the signature element").
    """
    root = envelope_element(facility_code=facility_code, made_on=made_on, dossiers=dossiers)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def envelope_element(
    *, facility_code: str, made_on: date, dossiers: list[Mapping[str, bytes]]
) -> etree._Element:
    """`envelope_build` as a tree, for signing it at once without writing and reading it again."""
    root = etree.Element("GIAMDINHHS")
    unit = etree.SubElement(root, "THONGTINDONVI")
    etree.SubElement(unit, "MACSKCB").text = facility_code
    info = etree.SubElement(root, "THONGTINHOSO")
    etree.SubElement(info, "NGAYLAP").text = made_on.strftime("%Y%m%d")
    etree.SubElement(info, "SOLUONGHOSO").text = str(len(dossiers))
    listing = etree.SubElement(info, "DANHSACHHOSO")
    for tables in dossiers:
        hoso = etree.SubElement(listing, "HOSO")
        for code in ENVELOPE_ORDER:
            if code not in tables:
                continue
            file_ = etree.SubElement(hoso, "FILEHOSO")
            etree.SubElement(file_, "LOAIHOSO").text = code
            etree.SubElement(file_, "NOIDUNGFILE").text = base64.b64encode(tables[code]).decode()
    signature = etree.SubElement(root, SIGNATURE_ELEMENT)
    etree.SubElement(signature, f"{{{DSIG_NS}}}Signature", Id="placeholder", nsmap={"ds": DSIG_NS})
    return root


@lru_cache(maxsize=8)
def _private_key(key_pem: bytes):
    """The unit's key, parsed once per process: parsing checks the RSA key, ~0.1 s each time."""
    return serialization.load_pem_private_key(key_pem, password=None)


@lru_cache(maxsize=8)
def _certificates(cert_pem: bytes) -> tuple[x509.Certificate, ...]:
    """The unit's certificate chain, parsed once per process (not once per dossier)."""
    chain = tuple(x509.load_pem_x509_certificates(cert_pem))
    if not chain:
        raise EnvelopeError("No PEM certificate in the unit's certificate file.")
    return chain


def envelope_sign(xml: bytes | etree._Element, *, key_pem: bytes, cert_pem: bytes) -> bytes:
    """Sign the envelope (enveloped XML-DSig, RSA-SHA256) into its CHUKYDONVI element. `xml`:
    the envelope's bytes, or its tree from `envelope_element`."""
    signer = XMLSigner(signature_algorithm="rsa-sha256", digest_algorithm="sha256")
    root = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    signed = signer.sign(root, key=_private_key(key_pem), cert=list(_certificates(cert_pem)))
    return etree.tostring(signed, xml_declaration=True, encoding="utf-8")


def envelope_verify(xml: bytes, *, cert_pem: bytes) -> etree._Element:
    """Verify the signature against the unit's certificate; return the signed root or raise
    EnvelopeError. Only what the signature covers is returned."""
    try:
        result = XMLVerifier().verify(
            xml,
            x509_cert=cert_pem.decode(),
            expect_config=SignatureConfiguration(location=f"./{SIGNATURE_ELEMENT}/"),
        )
    except (InvalidSignature, InvalidInput, etree.XMLSyntaxError) as exc:
        raise EnvelopeError(str(exc)) from exc
    return result.signed_xml


def envelope_tables(xml: bytes | etree._Element) -> list[dict[str, bytes]]:
    """Decode every dossier's tables (LOAIHOSO -> inner XML bytes) from an envelope."""
    root = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    dossiers = []
    for hoso in root.iterfind("THONGTINHOSO/DANHSACHHOSO/HOSO"):
        dossiers.append(
            {
                f.findtext("LOAIHOSO"): base64.b64decode(f.findtext("NOIDUNGFILE") or "")
                for f in hoso.iterfind("FILEHOSO")
            }
        )
    return dossiers
