"""Fixtures of the FHIR API tests: registered partner clients, their tokens, an API caller."""

from __future__ import annotations

import base64
import json
import threading
from urllib.parse import urlencode

import pytest
from django.core.handlers.base import BaseHandler
from django.test import Client

from fhir_api.clients import fhir_client_register
from fhir_api.fhir import validate
from tests.fhir import schema

BASE = "/fhir/R4/"
FHIR_JSON = "application/fhir+json"


def token_for(client_id: str, secret: str, scope: str | None = None) -> dict:
    """Ask the token endpoint for a client-credentials token (the JSON answer)."""
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    response = Client().post("/o/token/", data, HTTP_AUTHORIZATION=f"Basic {basic}")
    return {"status": response.status_code, **response.json()}


class Api:
    """A partner system calling the API with its bearer token."""

    def __init__(self, token: str | None):
        self.http = Client()
        self.token = token

    def _headers(self, headers: dict) -> dict:
        out = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        if self.token:
            out["HTTP_AUTHORIZATION"] = f"Bearer {self.token}"
        return out

    def get(self, path: str, params=None, **headers):
        return self.http.get(BASE + path, params or {}, **self._headers(headers))

    def post(self, path: str, body: dict, **headers):
        return self.http.post(
            BASE + path, json.dumps(body), content_type=FHIR_JSON, **self._headers(headers)
        )

    def put(self, path: str, body: dict, **headers):
        return self.http.put(
            BASE + path, json.dumps(body), content_type=FHIR_JSON, **self._headers(headers)
        )

    def delete(self, path: str, **headers):
        return self.http.delete(BASE + path, **self._headers(headers))

    def search_post(self, path: str, form: dict, **headers):
        return self.http.post(
            BASE + path,
            urlencode(form),
            content_type="application/x-www-form-urlencoded",
            **self._headers(headers),
        )


def body(response) -> dict:
    """The JSON body, checked to be a valid FHIR resource of the pinned release."""
    data = json.loads(response.content)
    validate(data)
    return data


class SchemaViolation(AssertionError):
    """A FHIR response body the official R4 JSON schema refuses."""


@pytest.fixture(autouse=True)
def _fhir_schema_check(monkeypatch):
    """Every FHIR response produced by a test (any client, any status, a live server's too) is
    checked against the official FHIR R4 JSON schema (`tests/fhir/schema.py`).

    A refused body fails the request's call in the test; one answered to another thread (a live
    server) fails the test at teardown. A missing schema package fails every test, never skips.
    """
    try:
        schema.validator()
    except schema.SchemaMissing as exc:
        pytest.fail(str(exc), pytrace=False)
    late: list[str] = []
    original = BaseHandler.get_response

    def get_response(self, request):
        response = original(self, request)
        if request.path.startswith(BASE) and not response.streaming:
            where = f"{request.method} {request.get_full_path()} -> {response.status_code}"
            errors = schema.check_body(response.content, response.get("Content-Type", ""), where)
            if errors and threading.current_thread() is threading.main_thread():
                raise SchemaViolation(
                    "FHIR response refused by the official R4 JSON schema:\n  "
                    + "\n  ".join(errors)
                )
            late.extend(errors)
        return response

    monkeypatch.setattr(BaseHandler, "get_response", get_response)
    yield
    if late:
        pytest.fail(
            "FHIR responses refused by the official R4 JSON schema:\n  " + "\n  ".join(late)
        )


@pytest.fixture
def register_client(db):
    def make(facility, scopes="system/*.cruds", name="HIS thử nghiệm"):
        return fhir_client_register(facility=facility, name=name, scopes=scopes)

    return make


@pytest.fixture
def api_for(register_client):
    """api_for(facility, scopes) -> Api with a fresh token of a new client of that unit."""

    def make(facility, scopes="system/*.cruds"):
        registered = register_client(facility, scopes)
        answer = token_for(registered.client_id, registered.client_secret)
        assert answer["status"] == 200, answer
        api = Api(answer["access_token"])
        api.registered = registered
        return api

    return make


@pytest.fixture
def api(facility, api_for):
    return api_for(facility)
