"""A dossier with one known defect reports exactly that defect (issue 5 "Bad input")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from insurance.claims.builders import build_tables
from insurance.claims.data import dossier_data
from insurance.claims.validation import ValidationIssue, dossier_validate
from patients.models import Diagnosis
from tests.insurance.claims.records import inpatient_stay, money, outpatient_visit

pytestmark = pytest.mark.django_db


def issues_of(s, charges=None):
    data = dossier_data(encounter=s.encounter, charges=charges or s.charges)
    return dossier_validate(build_tables(data), accepted_icd=data.accepted_icd)


def where(issues: list[ValidationIssue]) -> list[tuple]:
    return [(i.table, i.field, i.line, i.rule_code) for i in issues]


def test_missing_main_diagnosis_is_the_only_issue():
    # given: the main diagnosis of the visit was voided, the secondary stays
    s = outpatient_visit()
    Diagnosis.objects.filter(encounter=s.encounter, rank=0).update(
        voided_at=s.encounter.ended_at, void_reason="nhập nhầm"
    )
    # when
    issues = issues_of(s)
    # then
    assert where(issues) == [("XML1", "MA_BENH_CHINH", None, "REQUIRED")]
    assert issues[0].message_vi == "XML1: thiếu trường bắt buộc MA_BENH_CHINH."
    assert issues[0].fix_url_name_hint == "clinic:visit"


def test_line_without_service_code_is_the_only_issue():
    # given: the examination has no shared-code-set code in the catalog
    s = outpatient_visit()
    from ehealth.core.models import MedicalService

    MedicalService.objects.filter(code="KB.NOI").update(moh_code="")
    # when
    issues = issues_of(s)
    # then
    assert where(issues) == [("XML3", "MA_DICH_VU", 1, "LINE_NO_CODE")]
    assert issues[0].message_vi == (
        "XML3 dòng 1: dòng không có mã dịch vụ (MA_DICH_VU) hay mã vật tư (MA_VAT_TU)."
    )
    assert issues[0].fix_url_name_hint == "admin:core_medicalservice_changelist"


def test_result_of_a_service_without_code_names_both_tables_in_table_order():
    # given: the blood count (XML3 line 2, XML4 line 1) has no shared-code-set code
    s = outpatient_visit()
    from ehealth.core.models import MedicalService

    MedicalService.objects.filter(code="XN.CTM").update(moh_code="")
    # when
    issues = issues_of(s)
    # then
    assert where(issues) == [
        ("XML3", "MA_DICH_VU", 2, "LINE_NO_CODE"),
        ("XML4", "MA_DICH_VU", 1, "REQUIRED"),
    ]


def test_icd_code_not_accepted_by_the_catalog_in_force_is_the_only_issue():
    # given: the main code left the catalog before the visit
    s = outpatient_visit()
    from ehealth.core.models import IcdCode

    IcdCode.objects.filter(code="J06.9").update(valid_to="2025-12-31")
    # when
    issues = issues_of(s)
    # then
    assert where(issues) == [("XML1", "MA_BENH_CHINH", None, "ICD_NOT_ACCEPTED")]
    assert "J06.9" in issues[0].message_vi


def test_totals_not_adding_up_is_the_only_issue():
    # given: XML1 states a total that the lines do not sum to
    s = outpatient_visit()
    data = dossier_data(encounter=s.encounter, charges=s.charges)
    tables = build_tables(data)
    tables["XML1"] = tables["XML1"].replace(
        b"<T_TONGCHI_BV>150000.00<", b"<T_TONGCHI_BV>150100.00<"
    )
    # when
    issues = dossier_validate(tables, accepted_icd=data.accepted_icd)
    # then
    assert where(issues) == [("XML1", "T_TONGCHI_BV", None, "TOTAL_MISMATCH")]
    assert issues[0].message_vi == (
        "XML1: T_TONGCHI_BV = 150100.00 nhưng tổng các dòng XML2/XML3 là 150000.00."
    )


def test_line_whose_split_does_not_add_up_is_reported_on_that_line():
    # given: the ceftriaxone line's fund share is 1,000 short (brief 3.7 per-line identity)
    s = inpatient_stay()
    charges = list(s.charges)
    cef = charges[2]
    charges[2] = type(cef)(**{**cef.__dict__, "money": money(280000, 280000, 95, 265000, 14000, 0)})
    # when
    issues = issues_of(s, charges)
    # then: the line, and XML1's fund totals built from the same lines stay consistent
    assert where(issues) == [("XML2", "THANH_TIEN_BV", 1, "LINE_MONEY_IDENTITY")]


def test_other_sources_follow_the_brief_worked_example():
    # given: brief 7 vector 7: drug 10,000,000, TYLE_TT_BH 50, donor 3,000,000, card 80%
    s = inpatient_stay()
    charges = list(s.charges)
    cef = charges[2]
    charges[2] = type(cef)(**{
        **cef.__dict__, "quantity": Decimal(1), "hospital_price": Decimal(10000000),
        "bhyt_ratio": Decimal(50),
        "money": money(10000000, 3500000, 80, 2800000, 700000, 3500000, other_cl=3000000),
    })  # fmt: skip
    # when
    issues = issues_of(s, charges)
    # then
    assert issues == []
