"""Practitioner and PractitionerRole over HTTP: read, search parameters, who is in the directory,
scopes, staff sessions, audit, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import Role, StaffMembership
from fhir_api import systems
from tests.core.factories import DepartmentFactory, FacilityFactory, UserFactory, make_staff
from tests.fhir.conftest import Api, body
from tests.fhir.shared import (
    assert_anonymous_gets_401,
    assert_scope_statuses,
    client_audit_rows,
    scope_cases,
)

pytestmark = pytest.mark.django_db

CERT = "000123/ĐNA-CCHN"


def _role(user, facility, role, **fields):
    return StaffMembership.objects.create(user=user, facility=facility, role=role, **fields)


@pytest.fixture
def staff(facility, other_facility):
    """In the directory: An (doctor in a department, with a certificate), Bình (nurse at the
    other unit), Cường (receptionist and cashier). Not in it: Dũng (account disabled), Em (role
    ended), Giang (unit closed)."""
    dept = DepartmentFactory(facility=facility, name="Khoa Nội")
    closed = FacilityFactory(is_active=False)
    an = UserFactory(full_name="Nguyễn Văn An", practitioner_code=CERT)
    binh = UserFactory(full_name="Trần Thị Bình")
    cuong = UserFactory(full_name="Lê Văn Cường")
    dung = UserFactory(full_name="Phạm Đức Dũng", is_active=False)
    em = UserFactory(full_name="Võ Thị Em")
    giang = UserFactory(full_name="Hồ Văn Giang")
    return {
        "an": an, "binh": binh, "cuong": cuong, "dung": dung, "em": em, "giang": giang,
        "dept": dept,
        "an_doc": _role(an, facility, Role.DOCTOR, department=dept),
        "binh_nurse": _role(binh, other_facility, Role.NURSE),
        "cuong_rec": _role(cuong, facility, Role.RECEPTIONIST),
        "cuong_cash": _role(cuong, facility, Role.CASHIER),
        "dung_doc": _role(dung, facility, Role.DOCTOR),
        "em_nurse": _role(em, facility, Role.NURSE, is_active=False),
        "giang_doc": _role(giang, closed, Role.DOCTOR),
    }  # fmt: skip


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200 and data["type"] == "searchset", data
    return [e["resource"]["id"] for e in data.get("entry", [])]


def _pks(staff, keys: str) -> list[str]:
    return [str(staff[k].pk) for k in keys.split()]


# --- Practitioner: read ------------------------------------------------------------------------


def test_read_practitioner(api, staff):
    response = api.get(f"Practitioner/{staff['an'].pk}")
    assert response.status_code == 200
    data = body(response)
    assert data["name"][0]["text"] == "Nguyễn Văn An" and data["active"] is True
    assert data["identifier"][0]["system"] == systems.PRACTISING_CERTIFICATE
    assert data["identifier"][0]["value"] == CERT
    for private in ("telecom", "address", "birthDate", staff["an"].username):
        assert private not in response.content.decode()


@pytest.mark.parametrize("key", ["dung", "em", "giang"])
def test_former_or_disabled_staff_are_not_in_the_directory(api, staff, key):
    response = api.get(f"Practitioner/{staff[key].pk}")
    assert response.status_code == 404 and body(response)["issue"][0]["code"] == "not-found"


def test_client_service_accounts_are_not_practitioners(api, staff):
    account = api.registered.client.application.user
    assert api.get(f"Practitioner/{account.pk}").status_code == 404
    assert _ids(api.get("Practitioner", {"name": "his"})) == []  # its name: "HIS thử nghiệm"
    assert api.get("Practitioner/abc").status_code == 404


# --- Practitioner: search ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "an binh cuong"),
        ({"name": "nguyen"}, "an"),
        ({"name": "NGUYỄN văn"}, "an"),
        ({"name": "van"}, "an cuong"),
        ({"name": "cuo"}, "cuong"),
        ({"name": "an,binh"}, "an binh"),
        ({"name": "dung"}, ""),
        ({"name:exact": "Nguyễn Văn An"}, "an"),
        ({"name:exact": "nguyen van an"}, ""),
        ({"name:contains": "van a"}, "an"),
        ({"family": "tran"}, "binh"),
        ({"family": "van"}, ""),
        ({"given": "van"}, "an cuong"),
        ({"given": "thi binh"}, "binh"),
        ({"given:exact": "Văn An"}, "an"),
        ({"identifier": CERT}, "an"),
        ({"identifier": CERT.lower()}, "an"),
        ({"identifier": f"{systems.PRACTISING_CERTIFICATE}|{CERT}"}, "an"),
        ({"identifier": f"{systems.PRACTISING_CERTIFICATE}|"}, "an"),
        ({"identifier": f"urn:other|{CERT}"}, ""),
        ({"active": "true"}, "an binh cuong"),
        ({"active": "false"}, ""),
        ({"_id": "{an},{dung}"}, "an"),
        ({"name": "van", "family": "le"}, "cuong"),
    ],
)
def test_search_practitioners(api, staff, params, expected):
    query = {k: v.format(**{k2: staff[k2].pk for k2 in ("an", "dung")}) for k, v in params.items()}
    assert _ids(api.get("Practitioner", query)) == (_pks(staff, expected) if expected else [])


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        ("Practitioner", {"_sort": "name"}, "cuong an binh"),
        ("Practitioner", {"_sort": "-family", "_count": "1"}, "binh"),
        ("Practitioner", {"identifier:not": CERT}, "binh cuong"),
        ("PractitionerRole", {"_sort": "role"}, "cuong_cash an_doc binh_nurse cuong_rec"),
        ("PractitionerRole", {"role:not": "doctor,nurse"}, "cuong_rec cuong_cash"),
    ],
)
def test_sort_and_not(api, staff, path, params, expected):
    assert _ids(api.get(path, params)) == _pks(staff, expected)


def test_last_updated_is_refused_not_ignored(api, staff):
    for path in ("Practitioner", "PractitionerRole"):
        response = api.get(path, {"_lastUpdated": "ge2026-01-01"})
        assert response.status_code == 400
        assert body(response)["issue"][0]["expression"] == ["_lastUpdated"]


def test_practitioner_bad_values_are_400(api, staff):
    for params in ({"active": "maybe"}, {"name": "--"}, {"gender": "male"}, {"name:above": "a"}):
        response = api.get("Practitioner", params)
        assert response.status_code == 400, params
        assert body(response)["issue"][0]["expression"]


def test_practitioner_paging_and_count(api, staff):
    seen: list[str] = []
    response = api.get("Practitioner", {"_count": 2})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == _pks(staff, "an binh cuong")
    assert body(api.get("Practitioner", {"_summary": "count"}))["total"] == 3
    assert _ids(api.search_post("Practitioner/_search", {"name": "tran"})) == _pks(staff, "binh")


# --- PractitionerRole --------------------------------------------------------------------------


def test_read_practitioner_role_and_its_references_resolve(api, staff, facility):
    response = api.get(f"PractitionerRole/{staff['an_doc'].pk}")
    assert response.status_code == 200
    data = body(response)
    assert data["practitioner"]["reference"] == f"Practitioner/{staff['an'].pk}"
    assert data["organization"]["reference"] == f"Organization/{facility.pk}"
    assert data["location"][0]["reference"] == f"Location/dept-{staff['dept'].pk}"
    assert data["code"][0]["coding"][0] == {
        "system": systems.STAFF_ROLE_CS,
        "code": "doctor",
        "display": "Bác sĩ",
    }
    refs = [data["practitioner"], data["organization"], *data["location"]]
    for ref in refs:
        assert api.get(ref["reference"]).status_code == 200, ref


@pytest.mark.parametrize("key", ["dung_doc", "em_nurse", "giang_doc"])
def test_roles_not_in_force_are_404(api, staff, key):
    assert api.get(f"PractitionerRole/{staff[key].pk}").status_code == 404


def test_client_service_account_role_is_not_served(api, staff):
    account = api.registered.client.application.user
    membership = StaffMembership.objects.get(user=account)
    assert api.get(f"PractitionerRole/{membership.pk}").status_code == 404


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, "an_doc binh_nurse cuong_rec cuong_cash"),
        ({"practitioner": "Practitioner/{cuong}"}, "cuong_rec cuong_cash"),
        ({"practitioner": "{an}"}, "an_doc"),
        ({"practitioner": "Patient/{an}"}, ""),
        ({"practitioner": "{dung}"}, ""),
        ({"organization": "Organization/{other}"}, "binh_nurse"),
        ({"organization": "{facility}"}, "an_doc cuong_rec cuong_cash"),
        ({"location": "Location/dept-{dept}"}, "an_doc"),
        ({"location": "Location/ward-{dept}"}, ""),
        ({"role": "doctor"}, "an_doc"),
        ({"role": "cashier"}, "cuong_cash"),
        (
            {"role": f"{systems.STAFF_ROLE_CS}|doctor,{systems.STAFF_ROLE_CS}|nurse"},
            "an_doc binh_nurse",
        ),
        ({"role": f"{systems.PRACTITIONER_ROLE_CS}|nurse"}, "binh_nurse"),
        ({"role": f"{systems.PRACTITIONER_ROLE_CS}|"}, "an_doc binh_nurse"),
        ({"role": f"{systems.SNOMED_SCT}|159561009"}, "cuong_rec"),
        ({"role": "158965000"}, "an_doc"),
        ({"role": f"{systems.SNOMED_SCT}|doctor"}, ""),
        ({"role": "urn:other|doctor"}, ""),
        ({"active": "true"}, "an_doc binh_nurse cuong_rec cuong_cash"),
        ({"active": "false"}, ""),
        ({"_id": "{an_doc},{em_nurse}"}, "an_doc"),
        ({"organization": "{facility}", "role": "receptionist,doctor"}, "an_doc cuong_rec"),
    ],
)
def test_search_practitioner_roles(api, staff, facility, other_facility, params, expected):
    values = {k: staff[k].pk for k in ("an", "cuong", "dung", "dept", "an_doc", "em_nurse")}
    values.update(facility=facility.pk, other=other_facility.pk)
    query = {k: v.format(**values) for k, v in params.items()}
    got = _ids(api.get("PractitionerRole", query))
    assert got == (_pks(staff, expected) if expected else [])


def test_practitioner_role_unknown_parameter_is_400(api, staff):
    response = api.get("PractitionerRole", {"specialty": "x"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["specialty"]


# --- scopes, staff sessions, audit, capability, query counts -----------------------------------


@pytest.mark.parametrize(
    ("scopes", "search", "read"),
    scope_cases("Practitioner", "PractitionerRole", other="Organization"),
)
def test_scopes_are_enforced(api_for, staff, facility, scopes, search, read):
    caller = api_for(facility, scopes)
    an, an_doc = staff["an"].pk, staff["an_doc"].pk
    assert_scope_statuses(caller, search, read, Practitioner=an, PractitionerRole=an_doc)


def test_client_of_another_unit_sees_the_same_directory(api_for, staff, other_facility):
    other = api_for(other_facility)
    assert _ids(other.get("Practitioner")) == _pks(staff, "an binh cuong")


def test_anonymous_gets_401(staff):
    assert_anonymous_gets_401(f"Practitioner/{staff['an'].pk}", "PractitionerRole")


def test_staff_session_reads_the_city_directory(client, staff, facility):
    client.force_login(make_staff(facility, Role.DOCTOR, full_name="Đỗ Thị Hoa"))
    response = client.get("/fhir/R4/Practitioner", {"name": "tran"})
    assert _ids(response) == _pks(staff, "binh")  # a nurse of another unit
    assert client.get(f"/fhir/R4/PractitionerRole/{staff['binh_nurse'].pk}").status_code == 200
    client.force_login(UserFactory())  # signed in, no role anywhere
    assert client.get(f"/fhir/R4/Practitioner/{staff['an'].pk}").status_code == 404
    assert _ids(client.get("/fhir/R4/PractitionerRole")) == []


def test_every_access_is_audited(api, staff):
    api.get(f"Practitioner/{staff['an'].pk}")
    api.get("Practitioner", {"name": "van"})
    api.get(f"PractitionerRole/{staff['an_doc'].pk}")
    api.get("PractitionerRole", {"role": "nurse"})
    api.get(f"Practitioner/{staff['dung'].pk}")
    rows = client_audit_rows(api, "action", "target_type", "target_id", "detail")
    client_id = api.registered.client_id
    assert rows == [
        ("fhir.practitioner.read", "core.User", str(staff["an"].pk), {"client_id": client_id}),
        (
            "fhir.practitioner.search",
            "",
            "",
            {"params": ["name"], "count": 2, "client_id": client_id},
        ),
        (
            "fhir.practitionerrole.read",
            "core.StaffMembership",
            str(staff["an_doc"].pk),
            {"client_id": client_id},
        ),
        (
            "fhir.practitionerrole.search",
            "",
            "",
            {"params": ["role"], "count": 1, "client_id": client_id},
        ),
        (
            "fhir.refused",
            "",
            "",
            {
                "status": 404,
                "interaction": "read",
                "type": "Practitioner",
                "id": str(staff["dung"].pk),
                "client_id": client_id,
            },
        ),
    ]


def test_capability_statement_lists_both():
    data = body(Api(None).get("metadata"))
    by_type = {r["type"]: r for r in data["rest"][0]["resource"]}
    for name, params in (
        ("Practitioner", {"_id", "name", "family", "given", "identifier", "active"}),
        ("PractitionerRole", {"_id", "practitioner", "organization", "location", "role", "active"}),
    ):
        assert {i["code"] for i in by_type[name]["interaction"]} == {"read", "search-type"}
        listed = {p["name"] for p in by_type[name]["searchParam"]}
        assert params <= listed and listed - params <= {"_lastUpdated"}


def _queries(api, path, params) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(path, params)
    return len(ctx.captured_queries), len(body(response).get("entry", []))


@pytest.mark.parametrize(("path", "rows"), [("Practitioner", 3), ("PractitionerRole", 4)])
def test_search_page_runs_a_constant_number_of_queries(
    api, staff, facility, path, rows, django_assert_max_num_queries
):
    api.get(path, {"_count": 1})  # warm the caller's caches
    small, small_rows = _queries(api, path, {"_count": 100})
    # when 15 more people with a role in a department each are added
    for n in range(15):
        dept = DepartmentFactory(facility=facility)
        _role(UserFactory(full_name=f"Ngô Văn {n}"), facility, Role.NURSE, department=dept)
    # then the page of all of them runs no more queries than the small page
    with django_assert_max_num_queries(small):
        response = api.get(path, {"_count": 100})
    assert small_rows == rows and len(body(response)["entry"]) == rows + 15
    assert small <= 8  # token, client, page, audit
