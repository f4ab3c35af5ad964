"""A dossier refused for its ICD-10 code is fixed by the doctor's recorded correction of the
locked visit's diagnoses, then rebuilt: the links of the claims pages lead to the correction
section of the visit page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ehealth.core.models import Role
from insurance.claims.models import DossierStatus
from insurance.claims.validation import FIX_CHARGES
from patients.clinical.corrections import CORRECTION_ANCHOR, diagnoses_correct
from tests.core.factories import make_staff
from tests.insurance.claims.workspace_records import build, claimable_visit, icd

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer(facility):
    return make_staff(facility, Role.INSURANCE_OFFICER)


def test_an_invalid_main_code_is_corrected_on_the_locked_visit_and_the_rebuild_is_valid(
    client, facility, doctor, officer, signing
):
    # given a concluded visit whose main code is not in the ICD-10 catalog: version 1 has errors
    enc = claimable_visit(facility, doctor=doctor, diagnosis="Q99.9")
    v1 = build(officer, enc)
    assert [(e["field"], e["rule_code"]) for e in v1.errors] == [
        ("MA_BENH_CHINH", "ICD_NOT_ACCEPTED")
    ]
    # and the officer's "Sửa tại" link leads to the correction section of the visit page
    client.force_login(officer)
    detail = reverse("claims:dossier", kwargs={"dossier_id": v1.dossier_id})
    html = client.get(detail).content.decode()
    visit_url = reverse("clinic:visit", kwargs={"encounter_id": enc.pk})
    assert f'href="{visit_url}#{CORRECTION_ANCHOR}"' in html

    # when the doctor corrects the code with a reason, and the officer rebuilds
    icd("J06.9")
    enc.refresh_from_db()
    diagnoses_correct(
        actor=doctor,
        encounter=enc,
        main_code="J06.9",
        secondary_codes=[],
        reason="Mã Q99.9 không có trong danh mục (kiểm tra hồ sơ BHYT)",
        version=enc.version,
    )
    v2 = build(officer, enc, reason="Sửa mã bệnh chính")

    # then version 2 is valid and carries the corrected code; version 1 is unchanged
    v2.dossier.refresh_from_db()
    assert (v2.number, v2.errors) == (2, [])
    assert v2.dossier.status == DossierStatus.READY
    assert "<MA_BENH_CHINH>J06.9</MA_BENH_CHINH>" in v2.tables["XML1"]
    v1.refresh_from_db()
    assert "<MA_BENH_CHINH>Q99.9</MA_BENH_CHINH>" in v1.tables["XML1"]


def test_a_rejected_dossier_links_to_the_diagnosis_correction(client, facility, officer, signing):
    # given a dossier of a concluded visit, rejected by the insurer
    enc = claimable_visit(facility)
    dossier = build(officer, enc).dossier
    dossier.move_to(DossierStatus.SENT)
    dossier.move_to(DossierStatus.REJECTED)
    dossier.rejection_reasons = [{"code": "ICD", "message": "Mã bệnh chính không phù hợp"}]
    dossier.save()
    client.force_login(officer)
    # when
    html = client.get(reverse("claims:dossier", kwargs={"dossier_id": dossier.pk})).content
    # then
    links = html.decode()[html.decode().index('id="reason-links"') :][:1500]
    visit_url = reverse("clinic:visit", kwargs={"encounter_id": enc.pk})
    assert f'href="{visit_url}#{CORRECTION_ANCHOR}"' in links
    assert "Sửa chẩn đoán (sau khi kết thúc)" in links


def test_the_charges_fix_page_is_the_cashiers_bill_of_the_encounter():
    # the name must resolve the way the claims pages use it (with the encounter)
    assert reverse(FIX_CHARGES, kwargs={"encounter_id": 7}) == reverse(
        "cashier:bill", kwargs={"encounter_id": 7}
    )
