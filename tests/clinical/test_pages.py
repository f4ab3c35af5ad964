"""The clinical pages: reception, worklist, the visit form (section saves through htmx), results
entry, the ward and the stay, PDF downloads. Permission gates, Vietnamese errors beside the
field with nothing saved, stale edits refused, fixed query counts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role
from patients.clinical.examination import (
    allergy_record,
    diagnosis_set,
    encounter_conclude,
    encounter_update_notes,
    order_create,
)
from patients.clinical.inpatient import admission_create, progress_note_add, progress_note_update
from patients.clinical.results import ResultValueInput, result_enter
from patients.clinical_choices import EncounterStatus, OrderStatus, QueueStatus
from patients.models import (
    Addendum,
    Allergy,
    BedOccupancy,
    Diagnosis,
    Encounter,
    PrescriptionItem,
    QueueTicket,
    ResultValue,
    Transfer,
    VitalSigns,
)
from tests.clinical.factories import (
    make_drug,
    make_encounter,
    make_icd,
    make_room,
    make_service,
    start_examination,
)
from tests.clinical.inpatient_factories import make_department_with_beds
from tests.core.factories import make_staff
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def field_block(html: str, name: str) -> str:
    """The HTML of one field's block (label, input, errors beside it), up to the next field."""
    start = html.find(f'id="field-{name}"')
    assert start >= 0, f"field {name} not rendered"
    end = html.find('id="field-', start + 1)
    return html[start : end if end > 0 else len(html)]


@pytest.fixture
def w(facility, receptionist, doctor):
    """A facility with a clinic room, a department with three beds, its staff, a patient,
    ICD-10 codes, a drug and a lab test."""
    room = make_room(facility, name="Phòng khám Nội 1")
    department, ward, beds = make_department_with_beds(facility, beds=3)
    make_icd("J02.9", "Viêm họng cấp tính, không xác định", name_en="Acute pharyngitis")
    make_icd("I10", "Bệnh lý tăng huyết áp vô căn (nguyên phát)")
    make_icd("J18.9", "Viêm phổi, không đặc hiệu")
    return {
        "facility": facility,
        "room": room,
        "department": department,
        "beds": beds,
        "receptionist": receptionist,
        "doctor": doctor,
        "nurse": make_staff(facility, Role.NURSE),
        "cashier": make_staff(facility, Role.CASHIER),
        "patient": make_patient(facility, full_name="Lê Văn Phúc"),
        "drug": make_drug(name="Paracetamol 500 mg", active_ingredient="Paracetamol"),
        "amox": make_drug(name="Amoxicilin 500 mg", active_ingredient="Amoxicilin"),
        "lab": make_service(name="Định lượng Glucose máu"),
    }


def _visit(w, *, examined=True) -> Encounter:
    encounter = make_encounter(
        facility=w["facility"], patient=w["patient"], room=w["room"], with_ticket=True
    )
    if examined:
        encounter = start_examination(encounter, w["doctor"], w["facility"])
    return encounter


def _stay(w, *, bed=None, hours_ago: float = 6) -> Encounter:
    return admission_create(
        actor=w["nurse"],
        facility=w["facility"],
        patient=w["patient"],
        department_id=w["department"].pk,
        bed_id=(bed or w["beds"][0]).pk,
        source="emergency",
        reason="Sốt cao, khó thở",
        admitted_at=timezone.now() - timedelta(hours=hours_ago),
    )


def _result(w, order, value="9.2"):
    return result_enter(
        actor=w["nurse"],
        facility=w["facility"],
        order=order,
        values=[ResultValueInput("GLU", "Glucose", value, "mmol/L", "3.9", "6.4")],
        expected_version=order.version,
    )


def _section(encounter, name: str) -> str:
    return reverse("clinic:visit_section", kwargs={"encounter_id": encounter.pk, "section": name})


# --- Permission gates -----------------------------------------------------------------------


def _urls(w) -> list[str]:
    visit = _visit(w)
    stay = _stay(w, bed=w["beds"][1])
    order = order_create(
        actor=w["doctor"], facility=w["facility"], encounter=visit, service_id=w["lab"].pk
    )
    return [
        reverse("clinic:checkin", kwargs={"patient_id": w["patient"].pk}),
        reverse("clinic:queue", kwargs={"room_id": w["room"].pk}),
        reverse("clinic:worklist"),
        reverse("clinic:visit", kwargs={"encounter_id": visit.pk}),
        reverse("clinic:result_entry", kwargs={"order_id": order.pk}),
        reverse("clinic:ward", kwargs={"department_id": w["department"].pk}),
        reverse("clinic:admit", kwargs={"department_id": w["department"].pk}),
        reverse("clinic:stay", kwargs={"encounter_id": stay.pk}),
        reverse("clinic:prescription_pdf", kwargs={"encounter_id": visit.pk}),
        reverse("clinic:discharge_paper_pdf", kwargs={"encounter_id": stay.pk}),
        reverse("clinic:icd_search") + "?icd_q=viem",
    ]


def test_anonymous_is_sent_to_login_from_every_clinical_page(client, w):
    for url in _urls(w):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


# (role, page index in _urls, expected status)
ROLE_CASES = [
    ("doctor", 0, 403),  # check-in is the desk's job
    ("receptionist", 0, 200),
    ("receptionist", 1, 200),
    ("cashier", 1, 200),  # clinical read staff see the queue
    ("receptionist", 2, 403),
    ("nurse", 2, 403),
    ("doctor", 2, 200),
    ("receptionist", 3, 403),
    ("doctor", 3, 200),
    ("nurse", 3, 200),  # nurses record vitals on the visit
    ("cashier", 4, 403),
    ("nurse", 4, 200),
    ("receptionist", 5, 403),
    ("nurse", 5, 200),
    ("cashier", 6, 403),
    ("nurse", 6, 200),
    ("receptionist", 7, 403),
    ("doctor", 7, 200),
    ("receptionist", 8, 403),
    ("receptionist", 10, 403),
]


@pytest.mark.parametrize("role,index,expected", ROLE_CASES)
def test_each_page_answers_by_role(client, w, role, index, expected):
    # given
    url = _urls(w)[index]
    client.force_login(w[role])
    # when
    response = client.get(url)
    # then
    assert response.status_code == expected, url


def test_records_of_another_facility_answer_404(client, w, other_facility):
    # given staff of another facility, with the same roles there
    urls = _urls(w)
    outsiders = {
        "doctor": make_staff(other_facility, Role.DOCTOR),
        "nurse": make_staff(other_facility, Role.NURSE),
        "receptionist": make_staff(other_facility, Role.RECEPTIONIST),
    }
    checks = [
        ("receptionist", 0),
        ("receptionist", 1),
        ("doctor", 3),
        ("nurse", 4),
        ("nurse", 5),
        ("nurse", 6),
        ("doctor", 7),
        ("doctor", 8),
        ("doctor", 9),
    ]
    for role, index in checks:
        client.force_login(outsiders[role])
        # when / then
        assert client.get(urls[index]).status_code == 404, (role, urls[index])


# --- Reception ------------------------------------------------------------------------------


def test_receptionist_checks_in_and_sees_the_ticket_in_the_rooms_queue(client, w):
    # given
    client.force_login(w["receptionist"])
    url = reverse("clinic:checkin", kwargs={"patient_id": w["patient"].pk})
    # when
    response = client.post(
        url,
        {"room_id": w["room"].pk, "arrival_mode": "self_referred", "reason": "Ho, sốt 3 ngày"},
        follow=True,
    )
    # then
    encounter = Encounter.objects.get(patient=w["patient"])
    ticket = QueueTicket.objects.get(encounter=encounter)
    assert encounter.status == EncounterStatus.ARRIVED and ticket.number == 1
    html = response.content.decode()
    assert "Đã cấp số thứ tự 1 — Phòng khám Nội 1." in html
    assert 'id="ticket-1" class="row--highlight"' in html
    assert "Lê Văn Phúc" in html


def test_queue_shows_the_days_tickets_in_order_with_waiting_minutes(client, w, midday):
    # given two patients who came 25 and 10 minutes ago
    now = timezone.now()
    for minutes in (25, 10):
        make_encounter(
            facility=w["facility"],
            room=w["room"],
            with_ticket=True,
            started_at=now - timedelta(minutes=minutes),
        )
    client.force_login(w["receptionist"])
    # when
    html = client.get(reverse("clinic:queue", kwargs={"room_id": w["room"].pk})).content.decode()
    # then
    first, second = html.find('id="ticket-1"'), html.find('id="ticket-2"')
    assert 0 < first < second
    assert '<td class="num">25</td>' in html[first:second]
    assert '<td class="num">10</td>' in html[second:]


def test_referral_without_its_paper_number_is_told_at_the_field_and_nothing_saved(client, w):
    # given
    client.force_login(w["receptionist"])
    # when
    response = client.post(
        reverse("clinic:checkin", kwargs={"patient_id": w["patient"].pk}),
        {"room_id": w["room"].pk, "arrival_mode": "referral", "referral_from_code": "48001"},
    )
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Khám theo giấy chuyển cần số giấy chuyển." in field_block(html, "referral_paper_number")
    assert not Encounter.objects.filter(patient=w["patient"]).exists()


# --- Worklist -------------------------------------------------------------------------------


def test_doctor_takes_the_patient_from_the_worklist(client, w):
    # given a patient waiting and one whose lab result came back
    waiting = _visit(w, examined=False)
    other = make_encounter(facility=w["facility"], room=w["room"], with_ticket=True)
    other = start_examination(other, w["doctor"], w["facility"])
    order = order_create(
        actor=w["doctor"], facility=w["facility"], encounter=other, service_id=w["lab"].pk
    )
    _result(w, order)
    client.force_login(w["doctor"])
    # when
    html = client.get(reverse("clinic:worklist")).content.decode()
    # then the queue is listed with the results-waiting marker on the second
    row = html[html.find(f'id="wl-{other.pk}"') :]
    assert "1 kết quả mới" in row[: row.find("</tr>")]
    assert "Mời vào khám" in html
    # when the doctor takes the waiting patient
    response = client.post(
        reverse("clinic:start", kwargs={"encounter_id": waiting.pk}), {"version": waiting.version}
    )
    # then the visit form opens and the encounter is in examination
    assert response["Location"] == reverse("clinic:visit", kwargs={"encounter_id": waiting.pk})
    waiting.refresh_from_db()
    assert waiting.status == EncounterStatus.IN_EXAMINATION
    assert waiting.attending == w["doctor"]
    assert QueueTicket.objects.get(encounter=waiting).status == QueueStatus.CALLED


# --- The visit form -------------------------------------------------------------------------


def test_impossible_vitals_are_told_at_the_field_and_nothing_saved(client, w):
    # given
    visit = _visit(w)
    client.force_login(w["doctor"])
    # when
    response = client.post(
        _section(visit, "vitals"),
        {"vitals-temperature": "80", "vitals-spo2": "140", "vitals-pulse": "80"},
        **HTMX,
    )
    # then the section comes back with the messages beside the fields
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="sec-vitals"' in html and "<html" not in html
    assert "Nhiệt độ phải từ 25 đến 45 °C." in field_block(html, "vitals-temperature")
    assert "SpO2 phải từ 30 đến 100 %." in field_block(html, "vitals-spo2")
    assert not VitalSigns.objects.filter(encounter=visit).exists()


def test_vitals_save_and_show_the_bmi(client, w):
    # given
    visit = _visit(w)
    client.force_login(w["nurse"])
    # when
    response = client.post(
        _section(visit, "vitals"),
        {
            "vitals-pulse": "82",
            "vitals-systolic": "120",
            "vitals-diastolic": "80",
            "vitals-temperature": "37,2",
            "vitals-height_cm": "170",
            "vitals-weight_kg": "65",
        },
        **HTMX,
    )
    # then
    html = response.content.decode()
    assert "Đã lưu." in html
    assert "BMI: 22,5 kg/m²" in html  # the Vietnamese decimal comma
    assert VitalSigns.objects.get(encounter=visit).temperature == Decimal("37.2")


def test_unknown_icd_code_is_told_at_the_field_and_nothing_saved(client, w):
    # given
    visit = _visit(w)
    client.force_login(w["doctor"])
    # when
    response = client.post(
        _section(visit, "diagnoses"),
        {"dx-version": visit.version, "dx-main_code": "Z99.99", "dx-secondary_codes": ""},
        **HTMX,
    )
    # then
    html = response.content.decode()
    assert "Mã ICD-10 Z99.99 không có trong danh mục." in field_block(html, "dx-main_code")
    assert not Diagnosis.objects.filter(encounter=visit).exists()


def test_icd_search_by_part_of_a_name_without_diacritics(client, w):
    # given
    client.force_login(w["doctor"])
    # when
    html = client.get(reverse("clinic:icd_search"), {"icd_q": "viem hong"}).content.decode()
    # then
    assert 'data-icd-code="J02.9"' in html
    assert "Viêm họng cấp tính" in html
    assert 'data-icd-code="I10"' not in html


def test_diagnoses_save_and_the_other_sections_get_the_new_version(client, w):
    # given
    visit = _visit(w)
    client.force_login(w["doctor"])
    # when
    response = client.post(
        _section(visit, "diagnoses"),
        {"dx-version": visit.version, "dx-main_code": "j029", "dx-secondary_codes": "I10"},
        **HTMX,
    )
    # then
    visit.refresh_from_db()
    html = response.content.decode()
    assert [d.icd_code for d in Diagnosis.objects.filter(encounter=visit).order_by("rank")] == [
        "J02.9",
        "I10",
    ]
    assert (
        f'name="notes-version" value="{visit.version}" id="id_notes-version" hx-swap-oob="true"'
        in html
    )


def test_dose_zero_is_told_at_the_field_and_nothing_saved(client, w):
    # given
    visit = _visit(w)
    client.force_login(w["doctor"])
    # when
    response = client.post(
        _section(visit, "prescription"),
        {
            "rx-drug_id": w["drug"].pk,
            "rx-dose": "0",
            "rx-dose_unit": "viên",
            "rx-route": "Uống",
            "rx-times_per_day": "3",
            "rx-days": "5",
            "rx-quantity": "15",
        },
        **HTMX,
    )
    # then
    html = response.content.decode()
    assert "Liều" in field_block(html, "rx-dose")
    assert "field__errors" in field_block(html, "rx-dose")
    assert not PrescriptionItem.objects.filter(prescription__encounter=visit).exists()


def _rx(drug, **extra):
    data = {
        "rx-drug_id": drug.pk,
        "rx-dose": "1",
        "rx-dose_unit": "viên",
        "rx-route": "Uống",
        "rx-times_per_day": "2",
        "rx-days": "5",
        "rx-quantity": "10",
        "rx-allergy_override_reason": "",
        "rx-duplicate_override_reason": "",
    }
    data.update(extra)
    return data


def test_allergy_refuses_the_drug_until_an_override_reason_is_given(client, w):
    # given the patient is allergic to amoxicillin
    visit = _visit(w)
    allergy_record(
        actor=w["doctor"], facility=w["facility"], patient=w["patient"], substance="Amoxicilin"
    )
    client.force_login(w["doctor"])
    # when
    refused = client.post(_section(visit, "prescription"), _rx(w["amox"]), **HTMX)
    # then the refusal is beside the drug and the override reason field appears
    html = refused.content.decode()
    assert "Người bệnh dị ứng với Amoxicilin." in field_block(html, "rx-drug_id")
    assert 'id="field-rx-allergy_override_reason"' in html
    assert not PrescriptionItem.objects.exists()
    # when the doctor gives a reason
    client.post(
        _section(visit, "prescription"),
        _rx(w["amox"], **{"rx-allergy_override_reason": "Đã thử test da âm tính"}),
        **HTMX,
    )
    # then the line is kept with its reason, and flagged in the list
    item = PrescriptionItem.objects.get()
    assert item.allergy_override_reason == "Đã thử test da âm tính"
    page = client.get(reverse("clinic:visit", kwargs={"encounter_id": visit.pk})).content.decode()
    assert "Dị ứng — đã xác nhận" in page


def test_the_same_drug_twice_is_flagged_and_needs_a_reason(client, w):
    # given
    visit = _visit(w)
    client.force_login(w["doctor"])
    client.post(_section(visit, "prescription"), _rx(w["drug"]), **HTMX)
    # when
    html = client.post(_section(visit, "prescription"), _rx(w["drug"]), **HTMX).content.decode()
    # then
    assert "đã có trong đơn" in field_block(html, "rx-drug_id")
    assert 'id="field-rx-duplicate_override_reason"' in html
    assert PrescriptionItem.objects.count() == 1


def test_a_stale_notes_save_reloads_the_current_notes_and_overwrites_nothing(client, w):
    # given the doctor opened the visit at this version
    visit = _visit(w)
    opened_version = visit.version
    # and a colleague saved the findings since
    encounter_update_notes(
        actor=make_staff(w["facility"], Role.DOCTOR),
        facility=w["facility"],
        encounter=visit,
        expected_version=opened_version,
        examination_findings="Họng đỏ, amidan sưng",
    )
    client.force_login(w["doctor"])
    # when the doctor saves the findings with the old version
    response = client.post(
        _section(visit, "notes"),
        {
            "notes-version": opened_version,
            "notes-reason": "",
            "notes-history": "",
            "notes-examination_findings": "Phổi ran nổ",
        },
        **HTMX,
    )
    # then nothing is overwritten; the current findings and what was typed are both shown
    visit.refresh_from_db()
    html = response.content.decode()
    assert visit.examination_findings == "Họng đỏ, amidan sưng"
    assert "Thay đổi của bạn CHƯA được lưu" in html
    assert "Họng đỏ, amidan sưng" in field_block(html, "notes-examination_findings")
    assert "Phổi ran nổ" in html
    assert f'name="notes-version" value="{visit.version}"' in html


def test_conclusion_locks_the_visit_then_addenda_and_the_prescription_pdf(client, w):
    # given a visit with a diagnosis and a drug
    visit = _visit(w)
    diagnosis_set(
        actor=w["doctor"],
        facility=w["facility"],
        encounter=visit,
        main_code="J02.9",
        secondary_codes=[],
        expected_version=visit.version,
    )
    visit.refresh_from_db()
    client.force_login(w["doctor"])
    client.post(_section(visit, "prescription"), _rx(w["drug"]), **HTMX)
    # when
    response = client.post(
        _section(visit, "conclusion"),
        {"concl-version": visit.version, "concl-conclusion": "home", "concl-conclusion_note": ""},
        **HTMX,
    )
    # then the browser is sent to the (now read-only) page
    assert response["HX-Redirect"] == reverse("clinic:visit", kwargs={"encounter_id": visit.pk})
    visit.refresh_from_db()
    assert visit.status == EncounterStatus.CONCLUDED
    page = client.get(response["HX-Redirect"]).content.decode()
    assert 'id="locked-note"' in page
    assert 'id="field-notes-reason"' not in page  # no section form any more
    assert 'id="field-addendum-text"' in page
    # when an addendum is added
    client.post(
        _section(visit, "addenda"),
        {"addendum-section": "notes", "addendum-text": "Bổ sung: người bệnh có tiền sử hen."},
        **HTMX,
    )
    assert Addendum.objects.get(encounter=visit).author == w["doctor"]
    # and the prescription PDF downloads, audited
    before = AuditEvent.objects.filter(action="encounter.view").count()
    pdf = client.get(reverse("clinic:prescription_pdf", kwargs={"encounter_id": visit.pk}))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf["Content-Disposition"].startswith("attachment; filename=")
    assert pdf.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(action="encounter.view").count() == before + 1


def test_conclusion_without_a_main_diagnosis_is_refused(client, w):
    # given
    visit = _visit(w)
    client.force_login(w["doctor"])
    # when
    html = client.post(
        _section(visit, "conclusion"),
        {"concl-version": visit.version, "concl-conclusion": "home"},
        **HTMX,
    ).content.decode()
    # then
    assert "Cần có chẩn đoán bệnh chính trước khi kết thúc khám." in html
    visit.refresh_from_db()
    assert visit.status == EncounterStatus.IN_EXAMINATION


def test_a_visit_section_without_the_permission_is_403_and_saves_nothing(client, w):
    # given
    visit = _visit(w)
    client.force_login(w["nurse"])
    # when
    response = client.post(
        _section(visit, "diagnoses"),
        {"dx-version": visit.version, "dx-main_code": "J02.9"},
        **HTMX,
    )
    # then
    assert response.status_code == 403
    assert not Diagnosis.objects.exists()


# --- Results entry --------------------------------------------------------------------------


def test_results_are_entered_with_units_and_ranges_and_flagged(client, w):
    # given
    visit = _visit(w)
    order = order_create(
        actor=w["doctor"], facility=w["facility"], encounter=visit, service_id=w["lab"].pk
    )
    client.force_login(w["nurse"])
    url = reverse("clinic:result_entry", kwargs={"order_id": order.pk})
    assert "Định lượng Glucose máu" in client.get(url).content.decode()
    # when
    response = client.post(
        url,
        {
            "res-version": order.version,
            "res-conclusion": "Tăng đường huyết",
            "res-description": "",
            "val-TOTAL_FORMS": "2",
            "val-INITIAL_FORMS": "0",
            "val-0-code": "GLU",
            "val-0-name": "Glucose",
            "val-0-value": "9,1",
            "val-0-unit": "mmol/L",
            "val-0-reference_low": "3.9",
            "val-0-reference_high": "6.4",
            "val-1-code": "",
            "val-1-name": "",
            "val-1-value": "",
            "val-1-unit": "",
            "val-1-reference_low": "",
            "val-1-reference_high": "",
        },
    )
    # then
    assert response.status_code == 302
    order.refresh_from_db()
    value = ResultValue.objects.get(order=order)
    assert order.status == OrderStatus.RESULTED
    assert (value.unit, value.flag) == ("mmol/L", "H")
    # and the ordering doctor sees it, flagged, on the visit
    client.force_login(w["doctor"])
    page = client.get(reverse("clinic:visit", kwargs={"encounter_id": visit.pk})).content.decode()
    assert "flag-H" in page and "9,1" in page


def test_result_with_an_upside_down_range_is_refused_and_nothing_saved(client, w):
    # given
    visit = _visit(w)
    order = order_create(
        actor=w["doctor"], facility=w["facility"], encounter=visit, service_id=w["lab"].pk
    )
    client.force_login(w["nurse"])
    # when
    response = client.post(
        reverse("clinic:result_entry", kwargs={"order_id": order.pk}),
        {
            "res-version": order.version,
            "val-TOTAL_FORMS": "1",
            "val-INITIAL_FORMS": "0",
            "val-0-name": "Glucose",
            "val-0-value": "5",
            "val-0-reference_low": "7",
            "val-0-reference_high": "3",
        },
    )
    # then
    assert response.status_code == 200
    assert "giới hạn dưới lớn hơn giới hạn trên" in response.content.decode()
    assert not ResultValue.objects.exists()


# --- Ward and stay --------------------------------------------------------------------------


def test_bed_board_shows_free_and_occupied_beds(client, w):
    # given
    stay = _stay(w)
    client.force_login(w["nurse"])
    # when
    html = client.get(
        reverse("clinic:ward", kwargs={"department_id": w["department"].pk})
    ).content.decode()
    # then
    occupied = html[html.find(f'id="bed-{w["beds"][0].pk}"') :]
    assert "Có người bệnh" in occupied[:600] and "Lê Văn Phúc" in occupied[:600]
    assert reverse("clinic:stay", kwargs={"encounter_id": stay.pk}) in occupied[:900]
    assert "2 giường trống / 3 giường" in html


def test_admitting_into_an_occupied_bed_is_told_at_the_field_and_nothing_saved(client, w):
    # given bed 0 holds a patient
    _stay(w)
    other = make_patient(w["facility"], full_name="Phạm Thị Hoa")
    record_number = other.identifiers.get(system="mrn").value
    client.force_login(w["nurse"])
    # when
    response = client.post(
        reverse("clinic:admit", kwargs={"department_id": w["department"].pk}),
        {
            "record_number": record_number,
            "source": "emergency",
            "bed_id": w["beds"][0].pk,
            "reason": "Đau bụng cấp",
        },
    )
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Giường {w['beds'][0].code} đã có người bệnh" in field_block(html, "bed_id")
    assert not Encounter.objects.filter(patient=other).exists()


def test_nurse_admits_to_a_free_bed_and_transfers(client, w):
    # given
    client.force_login(w["nurse"])
    record_number = w["patient"].identifiers.get(system="mrn").value
    # when
    response = client.post(
        reverse("clinic:admit", kwargs={"department_id": w["department"].pk}),
        {
            "record_number": record_number,
            "source": "emergency",
            "bed_id": w["beds"][1].pk,
            "reason": "Sốt cao",
        },
    )
    # then
    stay = Encounter.objects.get(patient=w["patient"], kind="inpatient")
    assert response["Location"] == reverse("clinic:stay", kwargs={"encounter_id": stay.pk})
    assert BedOccupancy.objects.get(encounter=stay, ended_at__isnull=True).bed == w["beds"][1]
    # when the nurse moves the patient to another bed
    client.post(
        reverse("clinic:stay_transfer", kwargs={"encounter_id": stay.pk}),
        {
            "transfer-to_department_id": w["department"].pk,
            "transfer-to_bed_id": w["beds"][2].pk,
            "transfer-reason": "Gần phòng điều dưỡng",
        },
    )
    # then the history is kept
    transfer = Transfer.objects.get(encounter=stay)
    assert (transfer.from_bed, transfer.to_bed) == (w["beds"][1], w["beds"][2])
    page = client.get(response["Location"]).content.decode()
    assert "Gần phòng điều dưỡng" in page


def test_nursing_observation_with_impossible_values_is_refused_at_the_field(client, w):
    # given
    stay = _stay(w)
    client.force_login(w["nurse"])
    # when
    response = client.post(
        reverse("clinic:stay_observation", kwargs={"encounter_id": stay.pk}),
        {"obs-temperature": "80", "obs-pulse": "90"},
    )
    # then
    html = response.content.decode()
    assert "Nhiệt độ phải từ 25 đến 45 °C." in field_block(html, "obs-temperature")
    assert not VitalSigns.objects.filter(encounter=stay).exists()


def test_a_stale_progress_note_edit_is_refused_with_a_message(client, w):
    # given a note, edited by a colleague after the doctor opened it
    stay = _stay(w)
    note = progress_note_add(
        actor=w["doctor"], facility=w["facility"], encounter=stay, clinical_course="Sốt 39 độ"
    )
    opened_version = note.version
    progress_note_update(
        actor=make_staff(w["facility"], Role.DOCTOR),
        facility=w["facility"],
        note=note,
        expected_version=opened_version,
        clinical_course="Sốt 38,5 độ, đỡ ho",
    )
    client.force_login(w["doctor"])
    # when
    response = client.post(
        reverse("clinic:stay_note_edit", kwargs={"encounter_id": stay.pk, "note_id": note.pk}),
        {
            f"note-{note.pk}-version": opened_version,
            f"note-{note.pk}-clinical_course": "Hết sốt",
            f"note-{note.pk}-disease_stage": "",
            f"note-{note.pk}-orders_summary": "",
        },
    )
    # then
    note.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 409
    assert note.clinical_course == "Sốt 38,5 độ, đỡ ho"
    assert "Thay đổi của bạn CHƯA được lưu" in html
    assert "Hết sốt" in html  # what was typed stays visible
    assert "Sốt 38,5 độ, đỡ ho" in field_block(html, f"note-{note.pk}-clinical_course")


def test_discharge_before_admission_is_told_at_the_field_and_nothing_saved(client, w):
    # given
    stay = _stay(w, hours_ago=6)
    client.force_login(w["doctor"])
    too_early = timezone.localtime(timezone.now() - timedelta(days=1))
    # when
    response = client.post(
        reverse("clinic:stay_discharge", kwargs={"encounter_id": stay.pk}),
        _discharge(stay, too_early),
    )
    # then
    html = response.content.decode()
    assert "không được trước thời điểm vào viện" in field_block(html, "dis-discharged_at")
    stay.refresh_from_db()
    assert stay.status == EncounterStatus.ADMITTED
    assert not Diagnosis.objects.filter(encounter=stay, phase="discharge").exists()


def _discharge(stay, at) -> dict:
    return {
        "dis-version": stay.version,
        "dis-discharged_at": at.strftime("%Y-%m-%dT%H:%M"),
        "dis-main_code": "J18.9",
        "dis-secondary_codes": "",
        "dis-treatment_result": "2",
        "dis-discharge_type": "1",
        "dis-treatment_summary": "Kháng sinh 5 ngày, hết sốt.",
        "dis-treatment_method": "",
        "dis-discharge_advice": "",
        "dis-follow_up_date": "",
        "dis-transfer_to_code": "",
        "dis-transfer_reason": "",
    }


def test_doctor_discharges_the_bed_is_freed_and_the_paper_downloads(client, w):
    # given
    stay = _stay(w, hours_ago=30)
    client.force_login(w["doctor"])
    # when
    response = client.post(
        reverse("clinic:stay_discharge", kwargs={"encounter_id": stay.pk}),
        _discharge(stay, timezone.localtime()),
    )
    # then
    assert response.status_code == 302
    stay.refresh_from_db()
    assert stay.status == EncounterStatus.DISCHARGED
    assert not BedOccupancy.objects.filter(encounter=stay, ended_at__isnull=True).exists()
    page = client.get(response["Location"]).content.decode()
    assert 'id="pdf-discharge"' in page
    pdf = client.get(reverse("clinic:discharge_paper_pdf", kwargs={"encounter_id": stay.pk}))
    assert pdf["Content-Type"] == "application/pdf"
    assert "giay-ra-vien" in pdf["Content-Disposition"]
    assert pdf.content.startswith(b"%PDF")


# --- Patient summary ------------------------------------------------------------------------


def test_patient_summary_offers_check_in_and_lists_encounters_across_the_city(client, w):
    # given a concluded visit
    visit = _visit(w)
    diagnosis_set(
        actor=w["doctor"],
        facility=w["facility"],
        encounter=visit,
        main_code="J02.9",
        secondary_codes=[],
        expected_version=visit.version,
    )
    visit.refresh_from_db()
    encounter_conclude(
        actor=w["doctor"],
        facility=w["facility"],
        encounter=visit,
        expected_version=visit.version,
        conclusion="home",
    )
    # when the receptionist opens the summary
    client.force_login(w["receptionist"])
    html = client.get(reverse("patients:detail", kwargs={"pk": w["patient"].pk})).content.decode()
    # then they may check the patient in, but see no encounter list
    assert reverse("clinic:checkin", kwargs={"patient_id": w["patient"].pk}) in html
    assert 'id="patient-record"' not in html
    # when the doctor loads the encounters section
    client.force_login(w["doctor"])
    record_url = reverse("clinic:patient_record", kwargs={"patient_id": w["patient"].pk})
    assert (
        record_url
        in client.get(reverse("patients:detail", kwargs={"pk": w["patient"].pk})).content.decode()
    )
    fragment = client.get(record_url, **HTMX).content.decode()
    # then
    assert "J02.9" in fragment and w["facility"].name in fragment


# --- Query counts ---------------------------------------------------------------------------


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_worklist_and_queue_take_the_same_number_of_queries_for_2_or_8_patients(client, w):
    # given
    small_room, big_room = make_room(w["facility"]), make_room(w["facility"])
    for room, n in ((small_room, 2), (big_room, 8)):
        for _ in range(n):
            make_encounter(facility=w["facility"], room=room, with_ticket=True)
    client.force_login(w["doctor"])
    small_wl = reverse("clinic:worklist") + f"?room={small_room.pk}"
    big_wl = reverse("clinic:worklist") + f"?room={big_room.pk}"
    small_q = reverse("clinic:queue", kwargs={"room_id": small_room.pk})
    big_q = reverse("clinic:queue", kwargs={"room_id": big_room.pk})
    _count(client, small_wl)
    # when / then
    assert _count(client, small_wl) == _count(client, big_wl)
    assert _count(client, small_q) == _count(client, big_q)


def _fill(client, w, visit, n: int) -> None:
    """`n` vitals, orders and drug lines on the visit, saved through the page."""
    for i in range(n):
        client.post(_section(visit, "vitals"), {"vitals-pulse": str(70 + i)}, **HTMX)
        order_create(
            actor=w["doctor"], facility=w["facility"], encounter=visit, service_id=w["lab"].pk
        )
        drug = make_drug(
            name=f"Thuốc {visit.pk}-{i}", active_ingredient=f"Hoạt chất {visit.pk}-{i}"
        )
        client.post(_section(visit, "prescription"), _rx(drug), **HTMX)


def test_visit_page_takes_the_same_number_of_queries_however_full(client, w):
    # given a visit with one of everything and one with five
    client.force_login(w["doctor"])
    small, full = _visit(w), _visit(w)
    _fill(client, w, small, 1)
    _fill(client, w, full, 5)
    assert PrescriptionItem.objects.filter(prescription__encounter=full).count() == 5
    small_url = reverse("clinic:visit", kwargs={"encounter_id": small.pk})
    full_url = reverse("clinic:visit", kwargs={"encounter_id": full.pk})
    _count(client, small_url)
    # when / then
    assert _count(client, small_url) == _count(client, full_url)


def test_bed_board_takes_the_same_number_of_queries_for_3_or_9_beds(client, w):
    # given
    small, _ward, small_beds = make_department_with_beds(w["facility"], beds=3)
    big, _ward, beds = make_department_with_beds(w["facility"], beds=9)
    for bed in [small_beds[0], *beds[:5]]:
        admission_create(
            actor=w["nurse"],
            facility=w["facility"],
            patient=make_patient(w["facility"]),
            department_id=bed.ward.department_id,
            bed_id=bed.pk,
            source="emergency",
            reason="Theo dõi",
        )
    client.force_login(w["nurse"])
    small_url = reverse("clinic:ward", kwargs={"department_id": small.pk})
    big_url = reverse("clinic:ward", kwargs={"department_id": big.pk})
    _count(client, small_url)
    # when / then
    assert _count(client, small_url) == _count(client, big_url)


def test_allergy_recorded_on_the_visit_follows_the_patient(client, w):
    # given
    visit = _visit(w)
    client.force_login(w["doctor"])
    # when
    html = client.post(
        _section(visit, "allergies"),
        {"allergy-substance": "Penicilin", "allergy-reaction": "Mày đay", "allergy-severity": ""},
        **HTMX,
    ).content.decode()
    # then
    assert Allergy.objects.get(patient=w["patient"]).substance == "Penicilin"
    assert "Penicilin" in html and 'id="sec-allergies"' in html


def _concluded(w, conclusion: str, visit: Encounter | None = None, **extra) -> Encounter:
    """A visit (new unless given) with a main diagnosis, concluded through the service."""
    visit = visit or _visit(w)
    visit.refresh_from_db()
    diagnosis_set(
        actor=w["doctor"],
        facility=w["facility"],
        encounter=visit,
        main_code="J18.9",
        secondary_codes=[],
        expected_version=visit.version,
    )
    visit.refresh_from_db()
    return encounter_conclude(
        actor=w["doctor"],
        facility=w["facility"],
        encounter=visit,
        expected_version=visit.version,
        conclusion=conclusion,
        **extra,
    )


def test_a_visit_concluded_admit_leads_to_the_admission_form_of_the_chosen_department(client, w):
    # given
    visit = _concluded(w, "admit")
    client.force_login(w["doctor"])
    page = client.get(reverse("clinic:visit", kwargs={"encounter_id": visit.pk})).content.decode()
    assert "Làm thủ tục nhập viện" in page
    # when the doctor chooses the department
    response = client.get(
        reverse("clinic:admit_from_visit", kwargs={"encounter_id": visit.pk}),
        {"department": w["department"].pk},
    )
    form_url = response["Location"]
    assert f"from_encounter={visit.pk}" in form_url
    html = client.get(form_url).content.decode()
    assert "Lê Văn Phúc" in html and 'name="record_number"' not in html
    # and admits to a free bed
    client.post(
        form_url,
        {
            "patient_id": w["patient"].pk,
            "from_encounter_id": visit.pk,
            "source": "outpatient",
            "bed_id": w["beds"][2].pk,
            "main_code": "J18.9",
            "reason": "Viêm phổi cần điều trị nội trú",
        },
    )
    # then the stay is linked to the visit, in the bed, with its admission diagnosis
    stay = Encounter.objects.get(patient=w["patient"], kind="inpatient")
    assert stay.parent == visit
    assert BedOccupancy.objects.get(encounter=stay, ended_at__isnull=True).bed == w["beds"][2]
    assert Diagnosis.objects.get(encounter=stay, phase="admission", rank=0).icd_code == "J18.9"


def test_transfer_conclusion_and_lab_results_print_as_pdf(client, w):
    # given a visit with a lab result, concluded with a transfer
    visit = _visit(w)
    order = order_create(
        actor=w["doctor"], facility=w["facility"], encounter=visit, service_id=w["lab"].pk
    )
    _result(w, order)
    visit = _concluded(
        w,
        "transfer",
        visit,
        transfer_to_code="79001",
        transfer_paper_number="CT-0012",
        transfer_reason="Vượt khả năng chuyên môn",
    )
    client.force_login(w["doctor"])
    page = client.get(reverse("clinic:visit", kwargs={"encounter_id": visit.pk})).content.decode()
    assert 'id="pdf-lab"' in page and 'id="pdf-transfer"' in page
    # when / then
    for name in ("lab_results_pdf", "transfer_paper_pdf"):
        pdf = client.get(reverse(f"clinic:{name}", kwargs={"encounter_id": visit.pk}))
        assert pdf["Content-Type"] == "application/pdf", name
        assert pdf.content.startswith(b"%PDF"), name
    # and a document the visit does not have is 404
    missing = client.get(reverse("clinic:discharge_paper_pdf", kwargs={"encounter_id": visit.pk}))
    assert missing.status_code == 404


def test_a_section_saves_without_javascript_too(client, w):
    # given
    visit = _visit(w)
    client.force_login(w["doctor"])
    # when the form is posted by the browser itself (no htmx)
    response = client.post(
        _section(visit, "notes"),
        {
            "notes-version": visit.version,
            "notes-reason": "Ho",
            "notes-history": "Hen phế quản",
            "notes-examination_findings": "",
        },
    )
    # then the whole page comes back at the section
    assert response.status_code == 302
    assert response["Location"].endswith("#sec-notes")
    visit.refresh_from_db()
    assert visit.history == "Hen phế quản"


def test_transfer_into_an_occupied_bed_is_told_at_the_field(client, w):
    # given two patients, in beds 0 and 1
    stay = _stay(w)
    admission_create(
        actor=w["nurse"],
        facility=w["facility"],
        patient=make_patient(w["facility"]),
        department_id=w["department"].pk,
        bed_id=w["beds"][1].pk,
        source="emergency",
        reason="Theo dõi",
    )
    client.force_login(w["nurse"])
    # when the first is moved into the second's bed
    response = client.post(
        reverse("clinic:stay_transfer", kwargs={"encounter_id": stay.pk}),
        {
            "transfer-to_department_id": w["department"].pk,
            "transfer-to_bed_id": w["beds"][1].pk,
            "transfer-reason": "Đổi giường",
        },
    )
    # then
    html = response.content.decode()
    assert "đã có người bệnh" in field_block(html, "transfer-to_bed_id")
    assert not Transfer.objects.filter(encounter=stay).exists()
