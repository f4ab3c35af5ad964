"""The signed GIAMDINHHS envelope (domain brief 3.2): base64 round trip and XML-DSig."""

from __future__ import annotations

import base64
from datetime import date

import pytest
from lxml import etree

from insurance.claims.builders import build_tables
from insurance.claims.data import dossier_data
from insurance.claims.envelope import (
    EnvelopeError,
    envelope_build,
    envelope_sign,
    envelope_tables,
    envelope_verify,
)
from insurance.claims.signing import demo_certificate_make
from tests.insurance.claims.records import outpatient_visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed(signing):
    s = outpatient_visit()
    tables = build_tables(dossier_data(encounter=s.encounter, charges=s.charges))
    body = {k: v for k, v in tables.items() if k != "XML0"}
    xml = envelope_build(facility_code="48901", made_on=date(2026, 11, 27), dossiers=[body])
    return body, envelope_sign(xml, key_pem=signing.key_pem, cert_pem=signing.cert_pem)


def test_envelope_carries_unit_date_count_and_base64_tables(signed):
    # given
    body, xml = signed
    # when
    root = etree.fromstring(xml)
    # then
    assert root.tag == "GIAMDINHHS"
    assert root.findtext("THONGTINDONVI/MACSKCB") == "48901"
    assert root.findtext("THONGTINHOSO/NGAYLAP") == "20261127"
    assert root.findtext("THONGTINHOSO/SOLUONGHOSO") == "1"
    files = root.findall("THONGTINHOSO/DANHSACHHOSO/HOSO/FILEHOSO")
    assert [f.findtext("LOAIHOSO") for f in files] == ["XML1", "XML2", "XML3", "XML4"]
    assert base64.b64decode(files[0].findtext("NOIDUNGFILE")) == body["XML1"]
    # The signature sits in CHUKYDONVI, last element of the envelope.
    assert root[-1].tag == "CHUKYDONVI"
    assert root[-1][0].tag == "{http://www.w3.org/2000/09/xmldsig#}Signature"


def test_base64_envelope_decodes_back_to_the_same_tables(signed):
    # given
    body, xml = signed
    # when
    (decoded,) = envelope_tables(xml)
    # then
    assert decoded == body
    assert "Trần Thị Bình" in decoded["XML1"].decode("utf-8")


def test_signature_verifies_with_the_unit_certificate(signed, signing):
    # given
    body, xml = signed
    # when
    verified = envelope_verify(xml, cert_pem=signing.cert_pem)
    # then: what the signature covers holds the same tables
    assert envelope_tables(verified) == [body]
    method = etree.fromstring(xml).find(".//{http://www.w3.org/2000/09/xmldsig#}DigestMethod")
    assert method.get("Algorithm") == "http://www.w3.org/2001/04/xmlenc#sha256"


def test_one_changed_byte_fails_verification(signed, signing):
    # given: one character of the XML3 table's base64 content changed
    _, xml = signed
    start = xml.index(b"<LOAIHOSO>XML3</LOAIHOSO><NOIDUNGFILE>") + 38
    tampered = bytearray(xml)
    tampered[start + 10] = ord("A") if tampered[start + 10] != ord("A") else ord("B")
    # when / then
    with pytest.raises(EnvelopeError):
        envelope_verify(bytes(tampered), cert_pem=signing.cert_pem)


def test_one_changed_byte_in_the_unit_code_fails_verification(signed, signing):
    # given
    _, xml = signed
    tampered = xml.replace(b"<MACSKCB>48901<", b"<MACSKCB>48902<")
    # when / then
    with pytest.raises(EnvelopeError):
        envelope_verify(tampered, cert_pem=signing.cert_pem)


def test_another_units_certificate_does_not_verify(signed, tmp_path):
    # given
    _, xml = signed
    _, other_cert = demo_certificate_make(directory=tmp_path, common_name="Other unit")
    # when / then
    with pytest.raises(EnvelopeError):
        envelope_verify(xml, cert_pem=other_cert.read_bytes())
