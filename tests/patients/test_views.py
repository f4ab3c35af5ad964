"""Registry pages: search, registration, summary, edit, share, merge (permission matrix included)."""

from __future__ import annotations

import random
import re
from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ehealth.core.models import AdminUnit, AuditEvent, Role
from patients.choices import IdentifierSystem, PatientStatus
from patients.identifiers import generate_cccd
from patients.models import Patient, PatientIdentifier, PatientMerge
from patients.services import PatientInput, patient_register
from tests.core.factories import ProvinceFactory, make_staff

pytestmark = pytest.mark.django_db

_rng = random.Random(20260101)


def new_patient(actor, facility, *, full_name="Nguyễn Thị Ánh", sex="2", birth_year=1990, **extra):
    """Register a synthetic patient through the service (with a valid, fresh CCCD)."""
    data = PatientInput(
        full_name=full_name,
        sex=sex,
        birth_year=birth_year,
        cccd=extra.pop("cccd", None) or generate_cccd(_rng, sex=sex, birth_year=birth_year),
        **extra,
    )
    return patient_register(actor=actor, facility=facility, data=data, allow_similar=True)


def form_data(**overrides) -> dict:
    data = {
        "full_name": "Trần Văn Bình",
        "sex": "1",
        "birth_date": "1985-03-04",
        "birth_year": "",
        "cccd": generate_cccd(_rng, sex="1", birth_year=1985),
        "bhyt_card": "",
        "social_insurance_number": "",
        "passport": "",
        "ethnicity_code": "01",
        "nationality_code": "VN",
        "occupation": "Giáo viên",
        "occupation_code": "",
        "phone": "0905123456",
        "address_scheme": "2025",
        "address_line": "12 Lê Duẩn",
        "province_code": "",
        "commune_code": "",
        "legacy_address": "",
        "emergency_contact_name": "",
        "emergency_contact_phone": "",
        "emergency_contact_relation": "",
    }
    data.update(overrides)
    return data


def field_block(html: str, name: str) -> str:
    """The HTML of one field's block (label, input, errors beside it), up to the next field."""
    start = html.find(f'id="field-{name}"')
    assert start >= 0, f"field {name} not rendered"
    end = html.find('id="field-', start + 1)
    return html[start : end if end > 0 else len(html)]


@pytest.fixture
def patient(receptionist, facility):
    return new_patient(receptionist, facility)


# --- Permission matrix ----------------------------------------------------------------------


def _urls(patient_id: int) -> dict[str, str]:
    return {
        "search": reverse("patients:search") + "?q=nguyen",
        "register": reverse("patients:register"),
        "detail": reverse("patients:detail", kwargs={"pk": patient_id}),
        "edit": reverse("patients:edit", kwargs={"pk": patient_id}),
        "share": reverse("patients:share", kwargs={"pk": patient_id}),
        "merge": reverse("patients:merge"),
    }


@pytest.mark.parametrize("page", ["search", "register", "detail", "edit", "share", "merge"])
def test_anonymous_is_sent_to_login(client, patient, page):
    # when
    response = client.get(_urls(patient.pk)[page])
    # then
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("role", "page", "expected"),
    [
        (Role.CITY_ADMIN, "search", 403),
        (Role.CITY_ADMIN, "register", 403),
        (Role.CITY_ADMIN, "detail", 403),
        (Role.CASHIER, "register", 403),
        (Role.NURSE, "edit", 403),
        (Role.NURSE, "share", 403),
        (Role.RECEPTIONIST, "share", 403),
        (Role.DOCTOR, "merge", 403),
        (Role.RECEPTIONIST, "merge", 403),
        (Role.NURSE, "detail", 200),
        (Role.CASHIER, "search", 200),
        (Role.RECEPTIONIST, "edit", 200),
        (Role.DOCTOR, "share", 200),
        (Role.UNIT_ADMIN, "merge", 200),
    ],
)
def test_each_page_answers_by_role(client, facility, patient, role, page, expected):
    # given a member of staff of the patient's facility in `role`
    client.force_login(make_staff(facility, role))
    # when
    response = client.get(_urls(patient.pk)[page])
    # then
    assert response.status_code == expected


def test_user_without_any_facility_is_refused(client, patient, django_user_model):
    # given a signed-in user who works nowhere
    client.force_login(django_user_model.objects.create_user("nobody", password="x-Test-2026!"))
    # when / then
    assert client.get(reverse("patients:search")).status_code == 403
    assert client.get(reverse("patients:detail", kwargs={"pk": patient.pk})).status_code == 403


def test_patient_of_another_facility_answers_like_a_missing_one(client, other_facility, patient):
    # given a doctor of another facility, with whom the patient was not shared
    client.force_login(make_staff(other_facility, Role.DOCTOR))
    missing_id = Patient.objects.order_by("-pk").first().pk + 1000
    # when
    hidden = client.get(reverse("patients:detail", kwargs={"pk": patient.pk}))
    missing = client.get(reverse("patients:detail", kwargs={"pk": missing_id}))
    # then both are the same 404, nothing about the patient leaks, and no read is audited
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    assert patient.full_name not in hidden.content.decode()
    assert not AuditEvent.objects.filter(patient_id=patient.pk, action__startswith="patient.view")
    edit = client.get(reverse("patients:edit", kwargs={"pk": patient.pk}))
    assert edit.status_code == 404


# --- Search ---------------------------------------------------------------------------------


def test_search_without_diacritics_finds_the_patient_with_masked_identifiers(
    client, receptionist, patient
):
    # given
    client.force_login(receptionist)
    cccd = patient.identifiers.get(system=IdentifierSystem.CCCD).value
    mrn = patient.identifiers.get(system=IdentifierSystem.MRN).value
    # when
    response = client.get(reverse("patients:search"), {"q": "nguyen thi anh"})
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nguyễn Thị Ánh" in html
    assert reverse("patients:detail", kwargs={"pk": patient.pk}) in html
    assert cccd not in html  # only the last four digits are shown
    assert "•" * 8 + cccd[-4:] in html
    assert mrn in html
    assert "<html" in html  # a whole page without htmx


def test_search_through_htmx_answers_the_results_fragment_only(client, receptionist, patient):
    # given
    client.force_login(receptionist)
    # when
    response = client.get(
        reverse("patients:search"), {"q": "nguyen"}, headers={"HX-Request": "true"}
    )
    # then
    html = response.content.decode()
    assert "Nguyễn Thị Ánh" in html
    assert "<html" not in html


def test_search_with_no_match_says_so_and_offers_registration(client, receptionist, patient):
    client.force_login(receptionist)
    response = client.get(reverse("patients:search"), {"q": "khong co ai ten nay"})
    html = response.content.decode()
    assert "Không tìm thấy người bệnh nào" in html
    assert reverse("patients:register") in html


def test_search_results_take_the_same_number_of_queries_for_3_or_15_patients(
    client, receptionist, facility
):
    # given
    client.force_login(receptionist)
    for i in range(3):
        new_patient(receptionist, facility, full_name=f"Lê Văn Tâm {chr(65 + i)}", sex="1")
    url = reverse("patients:search")
    client.get(url, {"q": "le van tam"})  # warm the per-process caches (content types, ...)
    with CaptureQueriesContext(connection) as few:
        response = client.get(url, {"q": "le van tam"})
    assert response.content.decode().count('class="result-link"') == 3
    for i in range(3, 15):
        new_patient(receptionist, facility, full_name=f"Lê Văn Tâm {chr(65 + i)}", sex="1")
    # when
    with CaptureQueriesContext(connection) as many:
        response = client.get(url, {"q": "le van tam"})
    # then
    assert response.content.decode().count('class="result-link"') == 15
    assert len(many) == len(few)
    assert len(many) <= 14


# --- Registration ---------------------------------------------------------------------------


def test_register_creates_the_patient_and_opens_the_summary(client, receptionist, facility):
    # given
    client.force_login(receptionist)
    data = form_data()
    # when
    response = client.post(reverse("patients:register"), data)
    # then
    patient = Patient.objects.get(full_name="Trần Văn Bình")
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:detail", kwargs={"pk": patient.pk})
    assert patient.birth_date == date(1985, 3, 4) and patient.birth_year == 1985
    assert patient.ethnicity_code == "01"
    assert patient.identifiers.filter(system=IdentifierSystem.CCCD, value=data["cccd"]).exists()
    assert patient.identifiers.filter(system=IdentifierSystem.MRN, facility=facility).exists()
    page = client.get(response["Location"]).content.decode()
    assert "Đã đăng ký người bệnh mới" in page
    assert "Kinh" in page


def test_register_with_a_two_level_address_keeps_province_and_commune(client, receptionist):
    # given a province and one of its wards
    province = ProvinceFactory()
    ward = AdminUnit.objects.create(
        code="20194", province=province, name="Phường Hải Vân", kind=AdminUnit.Kind.WARD
    )
    client.force_login(receptionist)
    # when
    client.post(
        reverse("patients:register"),
        form_data(province_code=province.code, commune_code=ward.code),
    )
    # then
    patient = Patient.objects.get(full_name="Trần Văn Bình")
    assert (patient.province_id, patient.commune_id) == (province.code, ward.code)


def test_commune_options_follow_the_province(client, receptionist):
    # given
    province = ProvinceFactory()
    AdminUnit.objects.create(code="20194", province=province, name="Phường Hải Vân", kind="phuong")
    client.force_login(receptionist)
    # when
    response = client.get(reverse("patients:communes"), {"province_code": province.code})
    # then
    assert '<option value="20194">Phường Hải Vân</option>' in response.content.decode()


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"cccd": "12345"}, "cccd", "Số CCCD phải gồm đúng 12 chữ số."),
        ({"birth_date": "2999-01-01"}, "birth_date", "Ngày sinh không được sau ngày hôm nay."),
        ({"full_name": ""}, "full_name", "Trường này là bắt buộc."),
        (
            {"birth_date": "", "birth_year": ""},
            "birth_year",
            "Cần ghi ngày sinh hoặc ít nhất năm sinh.",
        ),
        ({"bhyt_card": "XX123"}, "bhyt_card", "thẻ BHYT"),
        ({"phone": "12345"}, "phone", "Số điện thoại không hợp lệ"),
    ],
)
def test_register_shows_the_error_beside_the_field_and_saves_nothing(
    client, receptionist, overrides, field, message
):
    # given
    client.force_login(receptionist)
    before = (
        Patient.objects.count(),
        PatientIdentifier.objects.count(),
        AuditEvent.objects.count(),
    )
    # when
    response = client.post(reverse("patients:register"), form_data(**overrides))
    # then
    assert response.status_code == 200
    assert message in field_block(response.content.decode(), field)
    after = (Patient.objects.count(), PatientIdentifier.objects.count(), AuditEvent.objects.count())
    assert after == before


def test_duplicate_cccd_is_told_beside_the_field_with_a_link_to_the_existing_patient(
    client, receptionist, patient
):
    # given
    client.force_login(receptionist)
    cccd = patient.identifiers.get(system=IdentifierSystem.CCCD).value
    before = Patient.objects.count()
    # when
    response = client.post(
        reverse("patients:register"),
        form_data(full_name="Phạm Thị Cúc", sex="2", cccd=cccd, birth_date="1990-05-05"),
    )
    # then
    block = field_block(response.content.decode(), "cccd")
    assert "Số CCCD này đã được đăng ký cho một người bệnh khác" in block
    assert reverse("patients:detail", kwargs={"pk": patient.pk}) in block
    assert Patient.objects.count() == before


def test_duplicate_at_another_facility_can_be_enrolled_here(
    client, receptionist, other_facility, patient
):
    # given a receptionist of another facility types the same CCCD
    other = make_staff(other_facility, Role.RECEPTIONIST)
    client.force_login(other)
    cccd = patient.identifiers.get(system=IdentifierSystem.CCCD).value
    response = client.post(
        reverse("patients:register"),
        form_data(full_name="Nguyễn Thị Ánh", sex="2", cccd=cccd, birth_date="1990-05-05"),
    )
    html = response.content.decode()
    assert "Đăng ký khám tại cơ sở này" in html
    token = re.search(r'id="enroll-duplicate">.*?name="token" value="([^"]+)"', html, re.S).group(1)
    # when
    enrolled = client.post(reverse("patients:enroll"), {"token": token})
    # then the existing patient gets a record number here and opens; no second patient
    assert enrolled.status_code == 302
    assert enrolled["Location"] == reverse("patients:detail", kwargs={"pk": patient.pk})
    assert patient.identifiers.filter(system=IdentifierSystem.MRN, facility=other_facility).exists()
    assert Patient.objects.count() == 1
    assert client.get(enrolled["Location"]).status_code == 200


def test_enroll_refuses_a_token_made_for_someone_else_or_forged(
    client, receptionist, other_facility, patient
):
    # given a token issued to another user, and a forged one
    from django.core import signing

    stolen = signing.dumps({"p": patient.pk, "u": receptionist.pk}, salt="patients.enroll")
    client.force_login(make_staff(other_facility, Role.RECEPTIONIST))
    # when / then
    assert client.post(reverse("patients:enroll"), {"token": stolen}).status_code == 404
    assert client.post(reverse("patients:enroll"), {"token": "x:y:z"}).status_code == 404
    assert not patient.identifiers.filter(facility=other_facility).exists()


def test_similar_patient_is_offered_before_a_new_record_and_can_be_overridden(
    client, receptionist, facility
):
    # given a patient with the same name and birth date, another CCCD
    existing = new_patient(
        receptionist, facility, full_name="Võ Văn Kiệt", sex="1", birth_year=1985
    )
    existing.birth_date = date(1985, 3, 4)
    existing.save(update_fields=["birth_date"])
    client.force_login(receptionist)
    data = form_data(full_name="Vo Van Kiet")
    # when
    response = client.post(reverse("patients:register"), data)
    # then the candidate is listed, nothing is saved
    html = response.content.decode()
    assert "Có thể người bệnh này đã có hồ sơ" in html
    assert "Võ Văn Kiệt" in html and "Đây là người bệnh này" in html and "Vẫn đăng ký mới" in html
    assert Patient.objects.count() == 1
    # when the receptionist confirms it is someone else
    confirmed = client.post(reverse("patients:register"), {**data, "allow_similar": "1"})
    # then
    assert confirmed.status_code == 302
    assert Patient.objects.count() == 2


# --- Summary --------------------------------------------------------------------------------


def test_summary_shows_the_chart_and_writes_an_audit_entry(client, doctor, facility, patient):
    # given
    client.force_login(doctor)
    # when
    response = client.get(reverse("patients:detail", kwargs={"pk": patient.pk}))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Nguyễn Thị Ánh" in html
    assert patient.identifiers.get(system=IdentifierSystem.CCCD).value in html
    assert patient.identifiers.get(system=IdentifierSystem.MRN).value in html
    entry = AuditEvent.objects.filter(patient_id=patient.pk, actor=doctor).latest("id")
    assert entry.action.startswith("patient.view")
    assert (entry.facility_id, entry.role) == (facility.pk, Role.DOCTOR)


# --- Edit -----------------------------------------------------------------------------------


def _edit_data(patient, **overrides) -> dict:
    cccd = patient.identifiers.get(system=IdentifierSystem.CCCD).value
    data = form_data(
        full_name=patient.full_name,
        sex=patient.sex,
        birth_date="",
        birth_year=str(patient.birth_year),
        cccd=cccd,
        phone="",
        version=str(patient.version),
    )
    data.update(overrides)
    return data


def test_edit_saves_and_bumps_the_version(client, receptionist, patient):
    # given
    client.force_login(receptionist)
    # when
    response = client.post(
        reverse("patients:edit", kwargs={"pk": patient.pk}), _edit_data(patient, phone="0905999888")
    )
    # then
    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.phone == "0905999888"
    assert patient.version == 2


def test_stale_edit_is_refused_with_a_clear_message_and_overwrites_nothing(
    client, receptionist, patient
):
    # given two receptionists opened the form at version 1; the first saved
    client.force_login(receptionist)
    first = _edit_data(patient, phone="0905111222")
    second = _edit_data(patient, phone="0905333444", occupation="Kỹ sư")
    assert (
        client.post(reverse("patients:edit", kwargs={"pk": patient.pk}), first).status_code == 302
    )
    # when the second saves with the old version
    response = client.post(reverse("patients:edit", kwargs={"pk": patient.pk}), second)
    # then
    assert response.status_code == 409
    assert "vừa được người khác sửa" in response.content.decode()
    patient.refresh_from_db()
    assert (patient.phone, patient.occupation, patient.version) == ("0905111222", "Giáo viên", 2)


# --- Share ----------------------------------------------------------------------------------


def test_doctor_shares_the_chart_and_the_other_facility_then_sees_it(
    client, doctor, other_facility, patient
):
    # given
    colleague = make_staff(other_facility, Role.DOCTOR)
    client.force_login(colleague)
    assert client.get(reverse("patients:detail", kwargs={"pk": patient.pk})).status_code == 404
    client.force_login(doctor)
    # when
    response = client.post(
        reverse("patients:share", kwargs={"pk": patient.pk}),
        {"target_facility": other_facility.pk, "reason": "Chuyển tuyến điều trị"},
    )
    # then
    assert response.status_code == 302
    assert AuditEvent.objects.filter(patient_id=patient.pk, action="patient.share").exists()
    client.force_login(colleague)
    shared = client.get(reverse("patients:detail", kwargs={"pk": patient.pk}))
    assert shared.status_code == 200
    # a share lets the other facility read, not change the chart or share it further
    assert reverse("patients:edit", kwargs={"pk": patient.pk}) not in shared.content.decode()
    assert client.get(reverse("patients:edit", kwargs={"pk": patient.pk})).status_code == 403
    assert client.get(reverse("patients:share", kwargs={"pk": patient.pk})).status_code == 403


def test_share_without_a_reason_is_refused_beside_the_field(
    client, doctor, other_facility, patient
):
    client.force_login(doctor)
    response = client.post(
        reverse("patients:share", kwargs={"pk": patient.pk}),
        {"target_facility": other_facility.pk, "reason": ""},
    )
    assert "Trường này là bắt buộc." in field_block(response.content.decode(), "reason")
    assert not AuditEvent.objects.filter(action="patient.share").exists()


# --- Merge ----------------------------------------------------------------------------------


def _mrn(patient, facility) -> str:
    return patient.identifiers.get(system=IdentifierSystem.MRN, facility=facility).value


def test_unit_admin_merges_after_a_preview_and_can_reverse(
    client, receptionist, unit_admin, facility
):
    # given two records of one person at this facility
    survivor = new_patient(receptionist, facility, full_name="Hồ Thị Lan")
    duplicate = new_patient(receptionist, facility, full_name="Ho Thi Lan")
    client.force_login(unit_admin)
    data = {
        "survivor_mrn": _mrn(survivor, facility),
        "merged_mrn": _mrn(duplicate, facility),
        "reason": "Trùng hồ sơ do nhập hai lần",
    }
    # when the admin asks first: both records are shown, nothing merged
    preview = client.post(reverse("patients:merge"), data)
    assert "Kiểm tra trước khi gộp" in preview.content.decode()
    assert not PatientMerge.objects.exists()
    # when confirmed
    response = client.post(reverse("patients:merge"), {**data, "confirm": "1"})
    # then
    assert response["Location"] == reverse("patients:detail", kwargs={"pk": survivor.pk})
    duplicate.refresh_from_db()
    assert duplicate.status == PatientStatus.MERGED
    merge = PatientMerge.objects.get()
    summary = client.get(response["Location"]).content.decode()
    assert reverse("patients:merge_reverse", kwargs={"merge_id": merge.pk}) in summary
    # when reversed with a reason
    reversed_ = client.post(
        reverse("patients:merge_reverse", kwargs={"merge_id": merge.pk}),
        {"reason": "Hai người khác nhau"},
    )
    # then
    assert reversed_.status_code == 302
    duplicate.refresh_from_db()
    assert duplicate.status == PatientStatus.ACTIVE
    assert AuditEvent.objects.filter(action="patient.merge_reverse").count() == 2


def test_merge_with_an_unknown_record_number_is_told_beside_the_field(client, unit_admin, patient):
    client.force_login(unit_admin)
    response = client.post(
        reverse("patients:merge"),
        {"survivor_mrn": "KHONG-CO", "merged_mrn": "X", "reason": "thử"},
    )
    html = response.content.decode()
    assert "Không tìm thấy người bệnh có mã này tại cơ sở." in field_block(html, "survivor_mrn")
    assert not PatientMerge.objects.exists()


def test_register_form_starts_with_the_facility_province_and_its_communes(client, receptionist):
    # given the receptionist's facility is in province 48, which has a ward
    AdminUnit.objects.create(
        code="20194", province=ProvinceFactory(), name="Phường Hải Vân", kind="phuong"
    )
    client.force_login(receptionist)
    # when
    html = client.get(reverse("patients:register")).content.decode()
    # then the wards are there without any script having run
    assert '<option value="48" selected>' in html
    assert '<option value="20194">Phường Hải Vân</option>' in html
