"""Conditional create under concurrency: two identical requests at once make one patient."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from fhir_api import systems
from patients.models import Patient
from tests.fhir.conftest import Api, token_for
from tests.fhir.test_patient_api import new_patient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_eager")]


def _race(n: int, work) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test inspects
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


@pytest.mark.parametrize("condition", ["identifier", "name"])
def test_parallel_conditional_creates_make_one_patient(facility, register_client, condition):
    # given one partner sending the same conditional create twice at the same moment
    registered = register_client(facility)
    token = token_for(registered.client_id, registered.client_secret)["access_token"]
    resource = new_patient()
    cccd = resource["identifier"][0]["value"]
    if condition == "identifier":
        header = f"identifier={systems.CCCD}|{cccd}"
    else:  # no unique index behind this one: only the advisory lock keeps it to one record
        resource["identifier"] = []
        resource["name"] = [{"family": "Quách", "given": ["Tĩnh"]}]
        header = "family:exact=Quách&birthdate=1985-05-12"
    # when both arrive together
    results = _race(2, lambda i: Api(token).post("Patient", resource, if_none_exist=header))
    # then one created (201), the other found it (200): one resource, never two
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 201], [getattr(r, "content", r) for r in results]
    assert Patient.objects.count() == 1
