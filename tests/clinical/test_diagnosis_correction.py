"""Correcting the coded diagnoses of a locked encounter (a concluded visit, a discharged stay):
the old rows voided with the reason (kept), the new ones added, an addendum, the version bumped,
audited; refused without a reason, with a stale version, a code not in force, on an open visit,
without the examining permission; the visit and stay pages show the history and the form."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ehealth.core.exceptions import ConcurrentEditError
from ehealth.core.models import AuditEvent, Role
from patients.clinical.corrections import (
    CORRECTION_ANCHOR,
    VOID_PREFIX,
    diagnoses_correct,
    diagnosis_corrections,
)
from patients.clinical.examination import diagnosis_set, encounter_conclude
from patients.clinical.inpatient import admission_create, admission_discharge
from patients.clinical_choices import DiagnosisPhase, EncounterStatus
from patients.models import Addendum, Diagnosis, Encounter
from tests.clinical.factories import make_icd, make_room, make_visit_in_examination
from tests.clinical.inpatient_factories import make_department_with_beds
from tests.core.factories import make_staff
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
REASON = "BHXH từ chối: mã bệnh chính không phù hợp"


@pytest.fixture
def icd(db):
    make_icd("J06.9", "Nhiễm trùng đường hô hấp trên cấp")
    make_icd("J20.9", "Viêm phế quản cấp, không đặc hiệu")
    make_icd("I10", "Tăng huyết áp vô căn")
    make_icd("E11.9", "Đái tháo đường typ 2")
    make_icd("J18.9", "Viêm phổi, không đặc hiệu")


def _concluded(facility, doctor, main="J06.9", secondary=("I10",)) -> Encounter:
    visit = make_visit_in_examination(facility, doctor)
    diagnosis_set(
        actor=doctor,
        facility=facility,
        encounter=visit,
        main_code=main,
        secondary_codes=list(secondary),
        expected_version=visit.version,
    )
    visit.refresh_from_db()
    return encounter_conclude(
        actor=doctor,
        facility=facility,
        encounter=visit,
        expected_version=visit.version,
        conclusion="home",
    )


@pytest.fixture
def concluded(facility, doctor, icd):
    return _concluded(facility, doctor)


def _correct(actor, encounter, **kwargs):
    values = {
        "main_code": "J20.9",
        "secondary_codes": ["I10", "E11.9"],
        "reason": REASON,
        "version": encounter.version,
    }
    values.update(kwargs)
    return diagnoses_correct(actor=actor, encounter=encounter, **values)


def _active(encounter, phase=DiagnosisPhase.ENCOUNTER) -> list[str]:
    return list(
        Diagnosis.objects.filter(encounter=encounter, phase=phase, voided_at__isnull=True)
        .order_by("rank")
        .values_list("icd_code", flat=True)
    )


# --- The service ----------------------------------------------------------------------------


def test_correction_voids_the_old_codes_adds_the_new_and_records_who_when_why(
    facility, doctor, concluded
):
    # given a concluded visit coded J06.9 + I10, at version v
    version = concluded.version
    before = timezone.now()
    # when the doctor corrects it
    result = _correct(doctor, concluded)
    # then the old rows are voided with the reason, never deleted
    old = Diagnosis.objects.filter(encounter=concluded, voided_at__isnull=False).order_by("rank")
    assert [d.icd_code for d in old] == ["J06.9", "I10"]
    assert all(d.voided_by == doctor and d.void_reason == VOID_PREFIX + REASON for d in old)
    # and the new ones are active, main first, with their catalog names
    assert _active(concluded) == ["J20.9", "I10", "E11.9"]
    main = Diagnosis.objects.get(encounter=concluded, voided_at__isnull=True, rank=0)
    assert main.text == "Viêm phế quản cấp, không đặc hiệu" and main.recorded_by == doctor
    # and an addendum says who, when, why, old -> new
    addendum = Addendum.objects.get(encounter=concluded)
    assert addendum.author == doctor and addendum.created_at >= before
    assert addendum.section == "diagnoses"
    assert "Cũ: J06.9 (bệnh chính); I10" in addendum.text
    assert "Mới: J20.9 (bệnh chính); I10, E11.9" in addendum.text
    assert REASON in addendum.text
    # and the version is bumped; the encounter stays locked
    concluded.refresh_from_db()
    assert concluded.version == version + 1
    assert concluded.status == EncounterStatus.CONCLUDED
    assert result.old_codes == ["J06.9", "I10"] and result.new_codes == ["J20.9", "I10", "E11.9"]


def test_correction_is_audited_with_the_patient_and_the_codes(facility, doctor, concluded):
    # when
    _correct(doctor, concluded)
    # then
    event = AuditEvent.objects.get(action="diagnosis.correct")
    assert event.patient_id == concluded.patient_id
    assert event.actor_id == doctor.pk
    assert event.detail["old_codes"] == ["J06.9", "I10"]
    assert event.detail["new_codes"] == ["J20.9", "I10", "E11.9"]
    assert event.detail["version"] == concluded.version
    assert REASON not in str(event.detail)  # free text stays out of the audit trail


def test_history_lists_each_correction_with_old_and_new_codes(facility, doctor, concluded):
    # given two corrections
    _correct(doctor, concluded)
    concluded.refresh_from_db()
    _correct(doctor, concluded, main_code="J18.9", secondary_codes=[], reason="Sửa lần hai")
    # when
    history = diagnosis_corrections(encounter=concluded)
    # then
    assert [(c.old_codes, c.new_codes, c.reason) for c in history] == [
        (["J06.9", "I10"], ["J20.9", "I10", "E11.9"], REASON),
        (["J20.9", "I10", "E11.9"], ["J18.9"], "Sửa lần hai"),
    ]
    assert all(c.author == doctor for c in history)


def test_a_stale_version_is_refused_and_nothing_changes(facility, doctor, concluded):
    # given someone corrected the visit after our form was opened
    opened = concluded.version
    _correct(doctor, concluded)
    # when we save with the version we loaded
    with pytest.raises(ConcurrentEditError):
        _correct(doctor, concluded, main_code="J18.9", secondary_codes=[], version=opened)
    # then only the first correction exists
    assert _active(concluded) == ["J20.9", "I10", "E11.9"]
    assert Addendum.objects.filter(encounter=concluded).count() == 1


def test_no_reason_is_refused_in_vietnamese(facility, doctor, concluded):
    # when
    with pytest.raises(ValidationError) as refused:
        _correct(doctor, concluded, reason="   ")
    # then
    assert refused.value.message_dict["reason"] == ["Cần ghi lý do sửa chẩn đoán."]
    assert _active(concluded) == ["J06.9", "I10"]
    assert not Addendum.objects.exists()


def test_a_code_not_in_force_on_the_visit_date_is_refused(facility, doctor, concluded):
    # given a code withdrawn before the visit, and one not in the catalog
    make_icd("B99.9", "Bệnh nhiễm trùng khác", valid_to=date(2010, 12, 31))
    # when / then
    with pytest.raises(ValidationError) as refused:
        _correct(doctor, concluded, main_code="B99.9", secondary_codes=["Q99.9"])
    errors = refused.value.message_dict
    assert errors["main_code"] == [
        f"Mã ICD-10 B99.9 không còn hiệu lực vào ngày {timezone.localdate():%d/%m/%Y}."
    ]
    assert errors["secondary_codes"] == ["Mã ICD-10 Q99.9 không có trong danh mục."]
    assert _active(concluded) == ["J06.9", "I10"]
    concluded.refresh_from_db()
    assert not Diagnosis.objects.filter(voided_at__isnull=False).exists()


def test_more_than_twelve_secondary_codes_are_refused(facility, doctor, concluded):
    # given 13 valid codes
    codes = [f"K{n:02d}.0" for n in range(13)]
    for code in codes:
        make_icd(code, f"Bệnh {code}")
    # when / then
    with pytest.raises(ValidationError) as refused:
        _correct(doctor, concluded, secondary_codes=codes)
    assert "Tối đa 12 bệnh kèm theo." in refused.value.message_dict["secondary_codes"]


def test_an_open_visit_is_refused_use_the_diagnosis_section(facility, doctor, icd):
    # given a visit still in examination
    visit = make_visit_in_examination(facility, doctor)
    # when / then
    with pytest.raises(ValidationError) as refused:
        _correct(doctor, visit)
    assert "hãy sửa chẩn đoán trực tiếp trong phần chẩn đoán" in str(refused.value)
    assert not Diagnosis.objects.exists()


@pytest.mark.parametrize("role", [Role.CASHIER, Role.RECEPTIONIST, Role.NURSE])
def test_staff_without_the_examining_permission_are_refused(
    facility, staff_factory, concluded, role
):
    # given
    user = staff_factory(facility, role)
    # when / then
    with pytest.raises(PermissionDenied):
        _correct(user, concluded)
    assert _active(concluded) == ["J06.9", "I10"]
    assert not AuditEvent.objects.filter(action="diagnosis.correct").exists()


def test_a_doctor_of_another_facility_gets_404(other_facility, concluded):
    # given
    outsider = make_staff(other_facility, Role.DOCTOR)
    # when / then: acting at their own unit, or with no unit given
    with pytest.raises(Http404):
        _correct(outsider, concluded, facility=other_facility)
    with pytest.raises(Http404):
        _correct(outsider, concluded)
    assert _active(concluded) == ["J06.9", "I10"]


def test_a_discharged_stay_has_its_discharge_diagnoses_corrected(facility, doctor, icd):
    # given a stay discharged with J18.9, its admission diagnosis I10
    department, _ward, beds = make_department_with_beds(facility, beds=1)
    stay = admission_create(
        actor=doctor,
        facility=facility,
        patient=make_patient(facility),
        department_id=department.pk,
        bed_id=beds[0].pk,
        source="emergency",
        reason="Sốt cao",
        admission_main_code="I10",
        admitted_at=timezone.now() - timedelta(days=2),
    )
    stay.refresh_from_db()
    stay = admission_discharge(
        actor=doctor,
        facility=facility,
        encounter=stay,
        expected_version=stay.version,
        discharged_at=timezone.now(),
        main_code="J18.9",
        secondary_codes=[],
        treatment_result="2",
        discharge_type="1",
        treatment_summary="Kháng sinh 5 ngày",
    )
    # when
    _correct(doctor, stay, main_code="J20.9", secondary_codes=[])
    # then the discharge diagnoses changed, the admission diagnosis did not
    assert _active(stay, DiagnosisPhase.DISCHARGE) == ["J20.9"]
    assert _active(stay, DiagnosisPhase.ADMISSION) == ["I10"]


# --- The visit page -------------------------------------------------------------------------


def _section(encounter) -> str:
    return reverse(
        "clinic:visit_section",
        kwargs={"encounter_id": encounter.pk, "section": "diagnosis_correction"},
    )


def _post(encounter, **fields) -> dict:
    data = {
        "dxfix-version": encounter.version,
        "dxfix-main_code": "J20.9",
        "dxfix-secondary_codes": "I10, E11.9",
        "dxfix-reason": REASON,
    }
    data.update({f"dxfix-{k}": v for k, v in fields.items()})
    return data


def test_the_doctor_corrects_through_the_visit_page_and_sees_the_history(
    client, facility, doctor, concluded
):
    # given the concluded visit page offers the correction section with the ICD picker
    client.force_login(doctor)
    url = reverse("clinic:visit", kwargs={"encounter_id": concluded.pk})
    page = client.get(url).content.decode()
    assert f'id="{CORRECTION_ANCHOR}"' in page
    assert "Sửa chẩn đoán (sau khi kết thúc)" in page
    assert 'id="icd-q-dxfix"' in page
    assert f'name="dxfix-version" value="{concluded.version}"' in page
    # when the correction is saved through htmx
    response = client.post(_section(concluded), _post(concluded), **HTMX)
    # then the section comes back saved, with the new version, and the diagnoses out of band
    html = response.content.decode()
    assert response.status_code == 200
    assert "Đã sửa chẩn đoán." in html
    concluded.refresh_from_db()
    assert f'name="dxfix-version" value="{concluded.version}"' in html
    assert '<section class="card visit-sec" id="sec-diagnoses"' in html
    assert html.count('hx-swap-oob="true"') == 2  # the diagnoses and the addenda
    assert "Sửa chẩn đoán sau khi kết thúc. Cũ: J06.9" in html  # the new addendum
    assert _active(concluded) == ["J20.9", "I10", "E11.9"]
    # and the page shows the history: old and new codes, author, time, reason
    page = client.get(url).content.decode()
    history = page[page.index('id="diagnosis-corrections"') :]
    history = history[: history.index("</div>")]
    assert "Chẩn đoán đã sửa sau khi kết thúc" in history
    assert '<s><span class="code">J06.9</span>' in history
    assert '<span class="code">J20.9</span>' in history
    assert REASON in history
    assert (doctor.full_name or doctor.username) in history
    assert timezone.localtime(concluded.updated_at).strftime("%d/%m/%Y") in history


def test_a_correction_without_a_reason_is_told_beside_the_field(
    client, facility, doctor, concluded
):
    # given
    client.force_login(doctor)
    # when
    html = client.post(_section(concluded), _post(concluded, reason=""), **HTMX).content.decode()
    # then
    block = html[html.index('id="field-dxfix-reason"') :]
    assert "Cần ghi lý do sửa chẩn đoán." in block[:1500]
    assert _active(concluded) == ["J06.9", "I10"]


def test_a_stale_correction_through_the_page_overwrites_nothing(
    client, facility, doctor, concluded
):
    # given the page was opened, then someone else corrected the codes
    client.force_login(doctor)
    opened = concluded.version
    _correct(doctor, concluded)
    # when the page's form is saved with the old version
    html = client.post(
        _section(concluded),
        _post(concluded, version=opened, main_code="J18.9", secondary_codes=""),
        **HTMX,
    ).content.decode()
    # then nothing is overwritten and the form carries the current version again
    assert "Thay đổi của bạn CHƯA được lưu" in html
    concluded.refresh_from_db()
    assert f'name="dxfix-version" value="{concluded.version}"' in html
    assert _active(concluded) == ["J20.9", "I10", "E11.9"]


def test_an_open_visit_shows_no_correction_form(client, facility, doctor, icd):
    # given
    visit = make_visit_in_examination(facility, doctor)
    client.force_login(doctor)
    # when
    page = client.get(reverse("clinic:visit", kwargs={"encounter_id": visit.pk})).content
    # then the ordinary diagnosis section is there, not the correction
    assert b'id="field-dx-main_code"' in page
    assert f'id="{CORRECTION_ANCHOR}"'.encode() not in page


@pytest.mark.parametrize("role", [Role.CASHIER, Role.NURSE])
def test_staff_who_may_not_correct_see_the_history_but_no_form(
    client, facility, doctor, staff_factory, concluded, role
):
    # given a corrected visit
    _correct(doctor, concluded)
    user = staff_factory(facility, role)
    client.force_login(user)
    # when they open the visit
    page = client.get(reverse("clinic:visit", kwargs={"encounter_id": concluded.pk}))
    html = page.content.decode()
    # then
    assert page.status_code == 200
    assert "Chẩn đoán đã sửa sau khi kết thúc" in html
    assert f'id="{CORRECTION_ANCHOR}"' not in html
    assert 'name="dxfix-reason"' not in html


def test_a_forced_post_without_the_permission_is_403_and_changes_nothing(
    client, facility, staff_factory, concluded
):
    # given
    client.force_login(staff_factory(facility, Role.NURSE))
    # when
    response = client.post(_section(concluded), _post(concluded), **HTMX)
    # then
    assert response.status_code == 403
    assert _active(concluded) == ["J06.9", "I10"]


def test_a_doctor_of_another_facility_gets_404_on_the_page_and_the_post(
    client, other_facility, concluded
):
    # given
    client.force_login(make_staff(other_facility, Role.DOCTOR))
    # when / then
    assert client.get(reverse("clinic:visit", kwargs={"encounter_id": concluded.pk})).status_code == 404  # fmt: skip
    assert client.post(_section(concluded), _post(concluded), **HTMX).status_code == 404
    assert _active(concluded) == ["J06.9", "I10"]


def test_a_plain_post_redirects_to_the_correction_anchor(client, facility, doctor, concluded):
    # given
    client.force_login(doctor)
    # when
    response = client.post(_section(concluded), _post(concluded))
    # then
    assert response.status_code == 302
    assert response["Location"].endswith(f"#{CORRECTION_ANCHOR}")
    assert _active(concluded) == ["J20.9", "I10", "E11.9"]


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_visit_page_queries_do_not_grow_with_the_corrections(client, facility, doctor, icd):
    # given a concluded visit never corrected and one corrected three times
    plain = _concluded(facility, doctor)
    corrected = _concluded(facility, doctor)
    for main in ("J20.9", "J18.9", "E11.9"):
        corrected.refresh_from_db()
        _correct(doctor, corrected, main_code=main, secondary_codes=[])
    client.force_login(doctor)
    plain_url = reverse("clinic:visit", kwargs={"encounter_id": plain.pk})
    corrected_url = reverse("clinic:visit", kwargs={"encounter_id": corrected.pk})
    _count(client, plain_url)
    # when / then
    assert _count(client, plain_url) == _count(client, corrected_url)
    assert len(diagnosis_corrections(encounter=corrected)) == 3


def test_visit_page_of_a_locked_visit_adds_one_query_at_most(client, facility, doctor, icd):
    # given an open visit and a concluded one (both with two diagnoses, same room)
    room = make_room(facility)
    open_visit = make_visit_in_examination(facility, doctor, room=room)
    diagnosis_set(
        actor=doctor,
        facility=facility,
        encounter=open_visit,
        main_code="J06.9",
        secondary_codes=["I10"],
        expected_version=open_visit.version,
    )
    locked = _concluded(facility, doctor)
    client.force_login(doctor)
    open_url = reverse("clinic:visit", kwargs={"encounter_id": open_visit.pk})
    locked_url = reverse("clinic:visit", kwargs={"encounter_id": locked.pk})
    _count(client, locked_url)
    # when / then: the correction history is one query (the open page loads the catalogs)
    assert _count(client, locked_url) <= _count(client, open_url) + 1


# --- The stay page --------------------------------------------------------------------------


def test_the_stay_page_corrects_the_discharge_diagnoses(client, facility, doctor, icd):
    # given a discharged stay
    department, _ward, beds = make_department_with_beds(facility, beds=1)
    stay = admission_create(
        actor=doctor,
        facility=facility,
        patient=make_patient(facility),
        department_id=department.pk,
        bed_id=beds[0].pk,
        source="emergency",
        reason="Sốt cao",
        admitted_at=timezone.now() - timedelta(days=2),
    )
    stay.refresh_from_db()
    stay = admission_discharge(
        actor=doctor,
        facility=facility,
        encounter=stay,
        expected_version=stay.version,
        discharged_at=timezone.now(),
        main_code="J18.9",
        secondary_codes=[],
        treatment_result="2",
        discharge_type="1",
        treatment_summary="Kháng sinh 5 ngày",
    )
    client.force_login(doctor)
    url = reverse("clinic:stay", kwargs={"encounter_id": stay.pk})
    page = client.get(url).content.decode()
    assert f'id="{CORRECTION_ANCHOR}"' in page and 'value="J18.9"' in page
    post_url = reverse("clinic:stay_diagnosis_correct", kwargs={"encounter_id": stay.pk})
    # when without a reason: told beside the field
    refused = client.post(post_url, _post(stay, reason="", secondary_codes=""))
    assert "Cần ghi lý do sửa chẩn đoán." in refused.content.decode()
    # when with a reason
    response = client.post(post_url, _post(stay, secondary_codes=""))
    # then
    assert response.status_code == 302
    assert response["Location"] == f"{url}#{CORRECTION_ANCHOR}"
    assert _active(stay, DiagnosisPhase.DISCHARGE) == ["J20.9"]
    page = client.get(url).content.decode()
    assert "Chẩn đoán đã sửa sau khi kết thúc" in page and REASON in page
    # and a stale form is refused (409), nothing overwritten
    stale = client.post(post_url, _post(stay, main_code="I10", secondary_codes=""))
    assert stale.status_code == 409
    assert _active(stay, DiagnosisPhase.DISCHARGE) == ["J20.9"]
