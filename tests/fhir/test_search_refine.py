""":not, _lastUpdated, _sort (keyset paging with a tie-breaker), _total; refused where not served."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from patients.choices import Sex
from patients.clinical_choices import EncounterStatus
from patients.models import Patient
from tests.clinical.factories import make_encounter
from tests.fhir.conftest import body
from tests.patients.factories import make_patient

pytestmark = pytest.mark.django_db


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200, data
    return [e["resource"]["id"] for e in data.get("entry", []) if e["search"]["mode"] == "match"]


def _next(response) -> dict | None:
    links = [link["url"] for link in body(response)["link"] if link["relation"] == "next"]
    return dict(parse_qsl(urlsplit(links[0]).query)) if links else None


@pytest.fixture
def people(facility):
    def make(name, sex, born, year=None):
        return make_patient(facility, full_name=name, sex=sex, birth_date=born, birth_year=year)

    return {
        "an": make("Nguyễn Văn An", Sex.MALE, date(1980, 1, 2)),
        "binh": make("Trần Thị Bình", Sex.FEMALE, date(1995, 6, 7)),
        "chi": make("Lê Thị Chi", Sex.FEMALE, date(1995, 6, 7)),  # same birthdate as Bình
        "dung": make("Phạm Văn Dũng", Sex.MALE, None, year=1970),  # year only
        "em": make("Võ Thị Em", Sex.FEMALE, date(2001, 12, 30)),
    }


def test_token_not_excludes_the_matches(api, people):
    ids = _ids(api.get("Patient", {"gender:not": "male", "_count": "50"}))
    assert sorted(ids) == sorted(str(people[k].pk) for k in ("binh", "chi", "em"))
    # combined with another criterion, and OR inside the value
    ids = _ids(api.get("Patient", {"gender:not": "male,female", "_count": "50"}))
    assert ids == []


def test_encounter_status_not(api, facility, people):
    at = datetime(2026, 3, 1, 2, tzinfo=UTC)
    done = make_encounter(facility=facility, patient=people["an"], started_at=at,
                          status=EncounterStatus.CONCLUDED)  # fmt: skip
    waiting = make_encounter(facility=facility, patient=people["an"], started_at=at)
    assert _ids(api.get("Encounter", {"status:not": "finished"})) == [str(waiting.pk)]
    assert _ids(api.get("Encounter", {"status": "finished"})) == [str(done.pk)]


def test_last_updated(api, people):
    old = people["an"]
    Patient.objects.filter(pk=old.pk).update(updated_at=datetime(2020, 5, 1, 3, tzinfo=UTC))
    today = datetime.now(UTC).date()
    ids = _ids(api.get("Patient", {"_lastUpdated": "lt2021-01-01", "_count": "50"}))
    assert ids == [str(old.pk)]
    ids = _ids(api.get("Patient", {"_lastUpdated": f"ge{today.isoformat()}", "_count": "50"}))
    assert str(old.pk) not in ids and len(ids) == 4
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert _ids(api.get("Patient", {"_lastUpdated": f"gt{tomorrow}"})) == []


def test_sort_with_tie_breaker_and_keyset_paging(api, people):
    p = {k: str(v.pk) for k, v in people.items()}
    expected = [p["em"], *sorted([p["binh"], p["chi"]], key=int), p["an"], p["dung"]]
    params = {"_sort": "-birthdate,_id", "_count": "2"}
    first = api.get("Patient", params)
    seen = _ids(first)
    assert seen == expected[:2]
    # a patient added between pages, sorting before the cursor: not returned, nothing shifts
    make_patient(people["an"].identifiers.first().facility, full_name="Mới Sinh",
                 birth_date=date(2024, 1, 1))  # fmt: skip
    cursor = _next(first)
    while cursor:
        page = api.get("Patient", cursor)
        seen += _ids(page)
        cursor = _next(page)
    assert seen == expected  # no gaps, no duplicates


def test_sort_by_name_and_ascending_birthdate(api, people):
    p = {k: str(v.pk) for k, v in people.items()}
    ids = _ids(api.get("Patient", {"_sort": "name", "_count": "50"}))
    assert ids == [p["chi"], p["an"], p["dung"], p["binh"], p["em"]]
    ids = _ids(api.get("Patient", {"_sort": "birthdate", "_count": "50"}))
    assert ids[0] == p["dung"]  # born in 1970, year only: sorted as 1 January


def test_total_only_on_request(api, people):
    assert "total" not in body(api.get("Patient", {"_count": "1"}))
    data = body(api.get("Patient", {"_count": "1", "_total": "accurate"}))
    assert data["total"] == 5 and len(data["entry"]) == 1


@pytest.mark.parametrize(
    "path, params, where",
    [
        ("Patient", {"_sort": "shoe-size"}, "_sort"),
        ("Patient", {"_total": "maybe"}, "_total"),
        ("Patient", {"name:not": "an"}, "name:not"),  # :not is for tokens
        ("Organization", {"_lastUpdated": "gt2020"}, "_lastUpdated"),
        ("Location", {"_sort": "name"}, "_sort"),
        ("Location", {"_total": "accurate"}, "_total"),
    ],
)
def test_unsupported_refinements_are_400(api, people, path, params, where):
    response = api.get(path, params)
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == [where]


def test_a_sorted_cursor_is_refused_without_its_sort(api, people):
    cursor = _next(api.get("Patient", {"_sort": "name", "_count": "1"}))
    response = api.get("Patient", {"_cursor": cursor["_cursor"]})
    assert response.status_code == 400


def test_a_repeated_parameter_is_anded(api, people):
    """Both values reach the search (a QueryDict's items() would keep only the last one)."""
    response = api.http.get(
        "/fhir/R4/Patient?birthdate=ge1990&birthdate=lt2000&_count=50",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert sorted(_ids(response)) == sorted(str(people[k].pk) for k in ("binh", "chi"))
    self_link = body(response)["link"][0]["url"]
    assert "birthdate=ge1990" in self_link and "birthdate=lt2000" in self_link
    form = api.http.post(
        "/fhir/R4/Patient/_search?birthdate=ge1990",
        "birthdate=lt2000",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert sorted(_ids(form)) == sorted(str(people[k].pk) for k in ("binh", "chi"))
