"""Fixtures of the FHIR API tests: registered partner clients, their tokens, an API caller."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from fhir_api.clients import fhir_client_register
from fhir_api.fhir import validate

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
