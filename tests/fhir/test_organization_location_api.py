"""Organization and Location over HTTP: read, search, scopes, audit, query counts."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ehealth.core.models import Facility, Role
from fhir_api import systems
from patients.models import BedOccupancy
from tests.core.factories import (
    BedFactory,
    DepartmentFactory,
    FacilityFactory,
    WardFactory,
    make_staff,
)
from tests.fhir.conftest import Api, body
from tests.fhir.shared import client_audit_events
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200 and data["type"] == "searchset"
    return [e["resource"]["id"] for e in data.get("entry", [])]


# --- Organization ------------------------------------------------------------------------------


@pytest.fixture
def units(facility):
    facility.name = "Bệnh viện Đà Nẵng"
    facility.save()
    return {
        "hospital": facility,
        "station": FacilityFactory(
            name="Trạm Y tế phường Hải Châu",
            kind=Facility.Kind.COMMUNE_STATION,
            level=Facility.Level.PRIMARY,
        ),
        "authority": FacilityFactory(
            name="Sở Y tế Đà Nẵng", kind=Facility.Kind.HEALTH_AUTHORITY, level=Facility.Level.BASIC
        ),
    }


def test_read_organization(api, facility):
    response = api.get(f"Organization/{facility.pk}")
    assert response.status_code == 200
    data = body(response)
    assert data["identifier"][0] == {
        "use": "official",
        "system": systems.FACILITY,
        "value": facility.code,
    }


@pytest.mark.parametrize("missing", ["999999", "abc", "dept-1"])
def test_read_missing_organization_is_404(api, missing):
    response = api.get(f"Organization/{missing}")
    assert response.status_code == 404
    assert body(response)["issue"][0]["code"] == "not-found"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "da nang"}, ["hospital", "authority"]),
        ({"name": "hai chau"}, ["station"]),
        ({"name": "nang"}, ["hospital", "authority"]),
        ({"name": "ang"}, []),
        ({"name:contains": "y te"}, ["station", "authority"]),
        ({"name:exact": "Sở Y tế Đà Nẵng"}, ["authority"]),
        ({"name:exact": "so y te da nang"}, []),
        ({"type": "govt"}, ["authority"]),
        ({"type": f"{systems.ORGANIZATION_TYPE_CS}|prov"}, ["hospital", "station"]),
        ({"type": f"{systems.FACILITY_KIND_CS}|commune_station"}, ["station"]),
        ({"type": "primary"}, ["station"]),
        ({"type": f"{systems.FACILITY_LEVEL_CS}|hospital"}, []),
        ({"type": "govt,commune_station"}, ["station", "authority"]),
    ],
)
def test_search_organizations(api, units, params, expected):
    assert _ids(api.get("Organization", params)) == [str(units[k].pk) for k in expected]


def test_search_organization_by_identifier_and_id(api, units):
    code = units["station"].code
    pk = str(units["station"].pk)
    assert _ids(api.get("Organization", {"identifier": f"{systems.FACILITY}|{code}"})) == [pk]
    assert _ids(api.get("Organization", {"identifier": code.lower()})) == [pk]
    assert _ids(api.get("Organization", {"identifier": f"{systems.CCCD}|{code}"})) == []
    assert _ids(api.get("Organization", {"_id": pk})) == [pk]


def test_organization_unknown_parameter_is_400(api):
    response = api.get("Organization", {"colour": "blue"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["colour"]


def test_organization_pages_follow_the_cursor(api, units):
    first = body(api.get("Organization", {"_count": 2}))
    nxt = next(link["url"] for link in first["link"] if link["relation"] == "next")
    second = body(api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}"))
    ids = [e["resource"]["id"] for e in first["entry"] + second["entry"]]
    assert ids == sorted(ids, key=int) and len(set(ids)) == len(ids) == 3


# --- Location ----------------------------------------------------------------------------------


@pytest.fixture
def tree(facility, other_facility):
    cardio = DepartmentFactory(facility=facility, name="Khoa Tim mạch")
    surgery = DepartmentFactory(facility=facility, name="Khoa Ngoại")
    ward = WardFactory(department=cardio, name="Buồng Hồi sức")
    beds = [BedFactory(ward=ward, code="G01"), BedFactory(ward=ward, code="G02")]
    elsewhere = DepartmentFactory(facility=other_facility, name="Khoa Tim mạch")
    return {
        "cardio": cardio,
        "surgery": surgery,
        "ward": ward,
        "bed1": beds[0],
        "bed2": beds[1],
        "elsewhere": elsewhere,
    }


def _lid(tree, key) -> str:
    prefix = {"ward": "ward", "bed1": "bed", "bed2": "bed"}.get(key, "dept")
    return f"{prefix}-{tree[key].pk}"


def test_read_location_of_each_kind(api, tree, facility):
    bed = body(api.get(f"Location/bed-{tree['bed1'].pk}"))
    assert bed["partOf"] == {"reference": f"Location/ward-{tree['ward'].pk}"}
    assert bed["managingOrganization"] == {"reference": f"Organization/{facility.pk}"}
    assert bed["operationalStatus"]["code"] == "U"
    ward = body(api.get(f"Location/ward-{tree['ward'].pk}"))
    assert ward["partOf"] == {"reference": f"Location/dept-{tree['cardio'].pk}"}
    dept = body(api.get(f"Location/dept-{tree['cardio'].pk}"))
    assert dept["physicalType"]["coding"][0]["code"] == "area" and "partOf" not in dept


def test_occupied_bed_says_so_without_the_patient(api, tree, facility):
    from django.utils import timezone

    patient = make_patient(facility)
    BedOccupancy.objects.create(bed=tree["bed1"], patient=patient, started_at=timezone.now())
    data = body(api.get(f"Location/bed-{tree['bed1'].pk}"))
    assert data["operationalStatus"]["code"] == "O"
    assert "Patient" not in json.dumps(data)


@pytest.mark.parametrize("missing", ["12", "dept-999999", "room-1", "bed-abc"])
def test_read_missing_location_is_404(api, missing):
    assert api.get(f"Location/{missing}").status_code == 404


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"name": "tim mach"}, ["cardio", "elsewhere"]),
        ({"name": "hoi suc"}, ["ward"]),
        ({"name": "g0"}, ["bed1", "bed2"]),
        ({"name:exact": "Khoa Ngoại"}, ["surgery"]),
        ({"physical-type": "bd"}, ["bed1", "bed2"]),
        ({"physical-type": f"{systems.LOCATION_PHYSICAL_TYPE_CS}|wa"}, ["ward"]),
        ({"physical-type": "area,wa", "name": "hoi suc,ngoai"}, ["surgery", "ward"]),
        ({"partof": "Location/dept-{cardio}"}, ["ward"]),
        ({"partof": "ward-{ward}"}, ["bed1", "bed2"]),
        ({"partof": "Organization/{cardio}"}, []),
        ({"organization": "Organization/{other}"}, ["elsewhere"]),
        ({"_id": "bed-{bed2},dept-{surgery}"}, ["surgery", "bed2"]),
    ],
)
def test_search_locations(api, tree, other_facility, params, expected):
    values = {k: v.pk for k, v in tree.items()} | {"other": other_facility.pk}
    query = {k: v.format(**values) for k, v in params.items()}
    assert _ids(api.get("Location", query)) == [_lid(tree, k) for k in expected]


def test_location_search_by_organization_lists_the_tree_in_order(api, tree, facility):
    ids = _ids(api.get("Location", {"organization": str(facility.pk)}))
    assert ids == [_lid(tree, k) for k in ("cardio", "surgery", "ward", "bed1", "bed2")]


def test_location_pages_cross_the_tables_without_gaps(api, tree, facility):
    seen: list[str] = []
    response = api.get("Location", {"organization": f"Organization/{facility.pk}", "_count": 2})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == [_lid(tree, k) for k in ("cardio", "surgery", "ward", "bed1", "bed2")]


def test_location_summary_count(api, tree, facility):
    data = body(api.get("Location", {"organization": str(facility.pk), "_summary": "count"}))
    assert data["total"] == 5 and "entry" not in data


# --- scopes, staff, audit, capability, query counts --------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "path", "status"),
    [
        ("system/Patient.rs", "Organization", 403),
        ("system/Organization.s", "Organization/{unit}", 403),
        ("system/Organization.r", "Organization", 403),
        ("system/Organization.rs", "Organization/{unit}", 200),
        ("system/Organization.rs", "Location", 403),
        ("system/Location.rs", "Location/dept-{dept}", 200),
        ("system/*.rs", "Location", 200),
    ],
)
def test_scopes_are_enforced(api_for, tree, facility, scopes, path, status):
    caller = api_for(facility, scopes)
    response = caller.get(path.format(unit=facility.pk, dept=tree["cardio"].pk))
    assert response.status_code == status
    if status == 403:
        assert body(response)["issue"][0]["code"] == "forbidden"


def test_anonymous_gets_401(facility):
    assert Api(None).get(f"Organization/{facility.pk}").status_code == 401


def test_staff_session_reads_the_directory(client, facility, tree):
    client.force_login(make_staff(facility, Role.RECEPTIONIST))
    assert client.get(f"/fhir/R4/Organization/{facility.pk}").status_code == 200
    assert client.get(f"/fhir/R4/Location/ward-{tree['ward'].pk}").status_code == 200


def test_every_access_is_audited(api, tree, facility):
    api.get(f"Organization/{facility.pk}")
    api.get("Organization", {"name": "benh vien"})
    api.get(f"Location/ward-{tree['ward'].pk}")
    api.get("Location", {"physical-type": "bd"})
    events = list(client_audit_events(api))
    assert [(e.action, e.target_id, e.patient_id) for e in events] == [
        ("fhir.organization.read", str(facility.pk), None),
        ("fhir.organization.search", "", None),
        ("fhir.location.read", str(tree["ward"].pk), None),
        ("fhir.location.search", "", None),
    ]
    assert events[3].detail["count"] == 2 and events[3].detail["params"] == ["physical-type"]
    assert all(e.channel == "fhir" for e in events)


def test_capability_statement_lists_organization_and_location():
    data = body(Api(None).get("metadata"))
    resources = {r["type"]: r for r in data["rest"][0]["resource"]}
    for rtype, params in (
        ("Organization", {"_id", "identifier", "name", "type"}),
        ("Location", {"_id", "name", "organization", "partof", "physical-type"}),
    ):
        assert {i["code"] for i in resources[rtype]["interaction"]} == {"read", "search-type"}
        assert {p["name"] for p in resources[rtype]["searchParam"]} == params


def test_writes_are_not_allowed(api, facility):
    response = api.post("Organization", {"resourceType": "Organization", "name": "X"})
    assert response.status_code == 405
    response = api.put("Location/dept-1", {"resourceType": "Location", "id": "dept-1"})
    assert response.status_code == 405


def _queries(api, path, params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(path, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_search_pages_run_a_constant_number_of_queries(
    api, facility, django_assert_max_num_queries
):
    # given a small unit
    department = DepartmentFactory(facility=facility)
    ward = WardFactory(department=department)
    BedFactory(ward=ward)
    api.get("Location", {"_count": 1})  # warm the caller's caches
    small_org = _queries(api, "Organization", {"_count": 100})
    small_loc = _queries(api, "Location", {"organization": str(facility.pk), "_count": 100})
    # when the city and the unit grow
    for _ in range(10):
        FacilityFactory()
        department = DepartmentFactory(facility=facility)
        ward = WardFactory(department=department)
        BedFactory.create_batch(3, ward=ward)
    # then each page still runs the same number of queries
    with django_assert_max_num_queries(small_org):
        body(api.get("Organization", {"_count": 100}))
    with django_assert_max_num_queries(small_loc):
        data = body(api.get("Location", {"organization": str(facility.pk), "_count": 100}))
    assert len(data["entry"]) == 11 + 11 + 31
    assert small_org <= 8 and small_loc <= 10
