"""The committed XSD files are the ones derived from the field specs (domain brief 3.3–3.6)."""

from __future__ import annotations

import pytest

from insurance.claims.fields import TABLES, XML1
from insurance.claims.schemas import schema, xsd_path, xsd_text


@pytest.mark.parametrize("code", sorted(TABLES))
def test_committed_xsd_matches_the_field_specs(code):
    assert xsd_path(code).read_text(encoding="utf-8") == xsd_text(TABLES[code])


def test_xml1_has_the_66_fields_in_order_with_the_briefs_first_and_last():
    assert len(XML1.fields) == 66
    assert XML1.names[:3] == ("MA_LK", "STT", "MA_BN")
    assert XML1.names[-3:] == ("MA_HSBA", "MA_TTDV", "DU_PHONG")


def test_schema_rejects_too_long_string_and_bad_date():
    # given: MA_CSKCB is C5, NGAY_VAO yyyymmddHHMM
    from insurance.claims.builders import table_xml

    xml = table_xml(XML1, [{"MA_CSKCB": "489011", "NGAY_VAO": "2026-11-20"}])
    # when
    errors = {e.path.rsplit("/", 1)[-1] for e in schema("XML1").iter_errors(xml)}
    # then
    assert {"MA_CSKCB", "NGAY_VAO"} <= errors


@pytest.mark.parametrize(
    ("value", "valid"),
    [("80", True), ("100", True), ("47.5", True), ("47.55", False), ("1000", False)],
)
def test_muc_huong_takes_a_rate_with_one_decimal_since_law_51(value, valid):
    # given a drug line whose benefit rate is 95 % x 50 % = 47.5 (self-referral, 2026)
    from insurance.claims.builders import table_xml
    from insurance.claims.fields import XML2

    xml = table_xml(XML2, [{"MUC_HUONG": value}])
    # when
    errors = {e.path.rsplit("/", 1)[-1] for e in schema("XML2").iter_errors(xml)}
    # then
    assert ("MUC_HUONG" not in errors) is valid
