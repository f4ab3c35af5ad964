"""The demo's partner client: made once by rundemo, usable with the values docs/fhir.md prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from oauth2_provider.models import get_application_model

from ehealth.core.demo import MAIN_HOSPITAL
from fhir_api.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, start_for_demo
from fhir_api.models import FhirClient
from tests.core.factories import FacilityFactory
from tests.fhir.conftest import Api, body, token_for
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "fhir.md"


def test_demo_client_is_made_once_and_gets_a_token():
    hospital = FacilityFactory(name=MAIN_HOSPITAL)
    assert DEMO_CLIENT_ID in start_for_demo()
    start_for_demo()
    assert get_application_model().objects.filter(client_id=DEMO_CLIENT_ID).count() == 1
    client = FhirClient.objects.get(application__client_id=DEMO_CLIENT_ID)
    assert client.facility == hospital
    answer = token_for(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    assert answer["status"] == 200
    patient = make_patient(hospital, full_name="Nguyễn Văn An")
    data = body(Api(answer["access_token"]).get("Patient", {"name": "nguyen van"}))
    assert [e["resource"]["id"] for e in data["entry"]] == [str(patient.pk)]


def test_without_a_demo_hospital_nothing_is_registered():
    assert "chưa" in start_for_demo()
    assert not get_application_model().objects.filter(client_id=DEMO_CLIENT_ID).exists()


def test_the_docs_curl_examples_use_the_demo_client():
    text = DOCS.read_text(encoding="utf-8")
    assert f"CLIENT_ID={DEMO_CLIENT_ID}" in text
    assert f"CLIENT_SECRET={DEMO_CLIENT_SECRET}" in text
