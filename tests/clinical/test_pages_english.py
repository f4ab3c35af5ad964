"""The clinical pages in English: once a doctor switches the language, the worklist and the visit
form show English labels and no Vietnamese heading, label or button is left untranslated."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse

from patients.clinical.examination import order_create
from tests.clinical.factories import (
    make_encounter,
    make_room,
    make_service,
    make_visit_in_examination,
)
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

# Letters only Vietnamese uses (tone marks, đ, ơ, ư, ă): English text never holds them.
VIETNAMESE = re.compile(
    "[àáạảãâầấậẩẫăằắặẳẵèéẹẻẽêềếệểễìíịỉĩòóọỏõôồốộổỗơờớợởỡùúụủũưừứựửữỳýỵỷỹđ]", re.IGNORECASE
)
# Elements whose text comes from the templates and forms, not from patient or catalog data (the
# page title and h1 carry the patient's name, so they are checked separately).
CHROME_TAGS = {"h2", "h3", "th", "label", "button", "summary", "legend", "caption"}


class ChromeText(HTMLParser):
    """Collects the text of section headings, table headers, labels and buttons."""

    def __init__(self):
        super().__init__()
        self.open: list[str] = []
        self.texts: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in CHROME_TAGS:
            self.open.append(tag)
            self.texts.append("")

    def handle_endtag(self, tag):
        if self.open and self.open[-1] == tag:
            self.open.pop()

    def handle_data(self, data):
        if self.open:
            self.texts[-1] += data


def untranslated(html: str) -> list[str]:
    parser = ChromeText()
    parser.feed(html)
    texts = (" ".join(t.split()) for t in parser.texts)
    return [t for t in texts if VIETNAMESE.search(t)]


@pytest.fixture
def english_doctor(client, facility, doctor):
    """The facility's doctor, signed in, with English picked in the language switcher."""
    client.force_login(doctor)
    response = client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    return doctor


def test_worklist_renders_in_english(client, facility, english_doctor):
    # given a patient with a Vietnamese name waiting in a clinic room
    room = make_room(facility, name="Phòng khám Nội 1")
    patient = make_patient(facility, full_name="Trần Thị Hồng")
    make_encounter(facility=facility, patient=patient, room=room, with_ticket=True)
    # when the doctor opens the worklist
    html = client.get(reverse("clinic:worklist")).content.decode()
    # then the page is in English, the patient's data as written
    assert 'lang="en"' in html
    assert re.search(r"<title>\s*Worklist", html)
    assert re.search(r"<h1[^>]*>\s*Today's worklist", html)
    for text in ("Today's worklist", "Worklist", "Patient", "Waited (min)", "Call in"):
        assert text in html, text
    assert "Waiting for examination" in html
    assert "Trần Thị Hồng" in html
    for vietnamese in ("Danh sách khám hôm nay", "Mời vào khám", "Người bệnh", "Chờ khám"):
        assert vietnamese not in html, vietnamese
    assert untranslated(html) == []


def test_visit_form_renders_in_english(client, facility, english_doctor):
    # given a visit in examination with a test ordered
    visit = make_visit_in_examination(facility, english_doctor)
    order_create(
        actor=english_doctor,
        facility=facility,
        encounter=visit,
        service_id=make_service(name="Định lượng Glucose máu").pk,
    )
    # when the doctor opens the visit form
    html = client.get(reverse("clinic:visit", kwargs={"encounter_id": visit.pk})).content.decode()
    # then every section is headed in English
    assert 'lang="en"' in html
    assert re.search(r"<title>\s*Visit record · ", html)
    for text in (
        "Examination record",
        "In examination",
        "Vital signs",
        "Diagnosis (ICD-10)",
        "Allergies",
        "Test and procedure orders",
        "Prescription",
        "Test results",
        "Conclusion and disposition",
        "Ordered at",
    ):
        assert text in html, text
    assert "Định lượng Glucose máu" in html  # catalog data is not translated
    for vietnamese in ("Dấu hiệu sinh tồn", "Đơn thuốc", "Chỉ định cận lâm sàng", "Kết luận"):
        assert vietnamese not in html, vietnamese
    assert untranslated(html) == []
