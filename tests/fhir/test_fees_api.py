"""ChargeItem and Invoice over HTTP: read, search parameters, visibility per unit (404), scopes,
audit, query counts. The charges and invoices are made by billing's own services."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.charges import charges_derive
from billing.invoices import invoice_build
from billing.models import ChargeLine, ChargeStatus, Invoice, InvoiceStatus
from ehealth.core.models import Role
from fhir_api import systems
from patients.models import Encounter
from tests.billing.factories import (
    at,
    billed_visit_invoice,
    cancel_order,
    cashier_at,
    exam_service,
    make_service,
    order,
    visit,
)
from tests.core.factories import make_staff
from tests.fhir.conftest import Api, body
from tests.fhir.shared import (
    assert_anonymous_gets_401,
    assert_refusal_audited,
    assert_scope_statuses,
    client_audit_events,
    client_audit_rows,
    scope_cases,
)
from tests.insurance.claims.workspace_records import claimable_visit

pytestmark = pytest.mark.django_db

D = Decimal


def _lines(encounter) -> list[ChargeLine]:
    return list(ChargeLine.objects.filter(encounter=encounter).order_by("pk"))


@pytest.fixture
def fees(facility, other_facility):
    """At the unit: An's visit with a DN4 card, billed (examination 50,600 + blood count 949,400:
    the fund pays 800,000, An 200,000); Bình's visit of 16/09/2025, derived but not billed
    (examination + glucose; the cancelled electrolytes line dropped); Cúc's billed visit, paid;
    Dũng's billed visit, invoice cancelled; a billed visit later voided. At the other unit: An's
    own visit there, billed (An's record is known to both units), and a stranger's."""
    doctor = make_staff(facility, Role.DOCTOR)
    cashier = cashier_at(facility)
    an_visit = claimable_visit(facility, doctor=doctor, name="Nguyễn Văn An")
    an = an_visit.patient
    binh_visit = visit(facility, started_at=at(date(2025, 9, 16)))
    glucose = make_service(price="30000", code="XN.GLU", name="Định lượng glucose")
    order(binh_visit, glucose, doctor)
    ions = order(binh_visit, make_service(price="120000", code="XN.ION"), doctor)
    charges_derive(encounter_id=binh_visit.pk)
    cancel_order(ions, doctor)
    charges_derive(encounter_id=binh_visit.pk)
    paid = billed_visit_invoice(facility, doctor=doctor, cashier=cashier)
    Invoice.objects.filter(pk=paid.pk).update(
        status=InvoiceStatus.PAID, paid_amount=F("patient_amount")
    )
    cancelled = billed_visit_invoice(facility, doctor=doctor, cashier=cashier)
    Invoice.objects.filter(pk=cancelled.pk).update(status=InvoiceStatus.CANCELLED)
    voided = billed_visit_invoice(facility, doctor=doctor, cashier=cashier)
    Encounter.objects.filter(pk=voided.encounter_id).update(voided_at=timezone.now())

    other_doctor = make_staff(other_facility, Role.DOCTOR)
    exam_service(other_facility)
    an_there = visit(other_facility, patient=an, started_at=at(date(2025, 9, 20)))
    order(an_there, make_service(price="200000"), other_doctor)
    charges_derive(encounter_id=an_there.pk)
    an_there_invoice = invoice_build(
        actor=cashier_at(other_facility), facility=other_facility, encounter=an_there
    )
    stranger = billed_visit_invoice(
        other_facility, doctor=other_doctor, cashier=cashier_at(other_facility)
    )
    a_exam, a_lab = _lines(an_visit)
    b_exam, b_glucose, b_ions = _lines(binh_visit)
    c_exam, c_lab = _lines(paid.encounter)
    d_exam, d_lab = _lines(cancelled.encounter)
    return {
        "an": an, "binh": binh_visit.patient, "A": an_visit, "B": binh_visit,
        "a_exam": a_exam, "a_lab": a_lab, "b_exam": b_exam, "b_glucose": b_glucose,
        "b_ions": b_ions, "c_exam": c_exam, "c_lab": c_lab, "d_exam": d_exam, "d_lab": d_lab,
        "void_line": _lines(voided.encounter)[0],
        "there_line": _lines(an_there)[0], "stranger_line": _lines(stranger.encounter)[0],
        "inv_a": Invoice.objects.get(encounter=an_visit), "inv_paid": paid,
        "inv_cancelled": cancelled, "inv_void": voided, "inv_there": an_there_invoice,
        "inv_stranger": stranger, "doctor": doctor, "cashier": cashier,
    }  # fmt: skip


def _ids(response) -> list[str]:
    data = body(response)
    assert response.status_code == 200, data
    assert data["type"] == "searchset"
    return [e["resource"]["id"] for e in data.get("entry", [])]


def _exact(response) -> dict:
    body(response)
    return json.loads(response.content, parse_float=Decimal)


def _pks(fees, keys: str) -> list[str]:
    return [str(fees[k].pk) for k in keys.split()] if keys else []


# --- ChargeItem read ---------------------------------------------------------------------------


def test_read_billed_charge_item(api, fees):
    response = api.get(f"ChargeItem/{fees['a_lab'].pk}")
    assert response.status_code == 200
    assert response["ETag"].startswith('W/"') and response["Last-Modified"]
    data = _exact(response)
    assert data["status"] == "billed"
    assert data["code"]["coding"][0] == {
        "system": systems.SERVICE_CATALOG_CS,
        "code": "XN.CTM.WS",
        "display": "Tổng phân tích tế bào máu",
    }
    assert data["subject"] == {"reference": f"Patient/{fees['an'].pk}"}
    assert data["context"] == {"reference": f"Encounter/{fees['A'].pk}"}
    assert data["priceOverride"] == {"value": 949400, "currency": "VND"}
    assert data["quantity"]["value"] == 1


def test_charge_item_references_resolve(api, fees):
    data = body(api.get(f"ChargeItem/{fees['a_exam'].pk}"))
    refs = [data["subject"], data["context"], data["performingOrganization"]]
    for ref in (r["reference"] for r in refs):
        assert api.get(ref).status_code == 200, ref


def test_unbilled_and_dropped_lines(api, fees):
    assert body(api.get(f"ChargeItem/{fees['b_glucose'].pk}"))["status"] == "billable"
    dropped = body(api.get(f"ChargeItem/{fees['b_ions'].pk}"))
    assert dropped["status"] == "entered-in-error" and dropped["note"][0]["text"]
    assert body(api.get(f"ChargeItem/{fees['void_line'].pk}"))["status"] == "entered-in-error"
    assert body(api.get(f"ChargeItem/{fees['c_lab'].pk}"))["status"] == "billed"
    assert body(api.get(f"ChargeItem/{fees['d_lab'].pk}"))["status"] == "billable"  # cancelled


@pytest.mark.parametrize("key", ["there_line", "stranger_line"])
def test_charge_item_of_another_unit_is_404_even_for_a_shared_patient(api, fees, key):
    # An's record is visible to both units (a visit at each), her charges are not
    assert api.get(f"Patient/{fees['an'].pk}").status_code == 200
    response = api.get(f"ChargeItem/{fees[key].pk}")
    assert response.status_code == 404
    assert body(response)["issue"][0]["code"] == "not-found"
    assert api.get("ChargeItem/99999999").status_code == 404
    assert api.get("ChargeItem/x1").status_code == 404


def test_other_unit_sees_its_own_charges_only(api_for, fees, other_facility):
    other = api_for(other_facility)
    assert other.get(f"ChargeItem/{fees['there_line'].pk}").status_code == 200
    assert other.get(f"ChargeItem/{fees['a_lab'].pk}").status_code == 404
    ids = _ids(other.get("ChargeItem", {"patient": str(fees["an"].pk)}))
    assert ids == [str(line.pk) for line in _lines(fees["there_line"].encounter)]


# --- ChargeItem search -------------------------------------------------------------------------

TODAY = "{today}"
ALL_LINES = "a_exam a_lab b_exam b_glucose c_exam c_lab d_exam d_lab"


CHARGE_ITEM_SEARCHES = [
    ({}, ALL_LINES),
    ({"patient": "{an}"}, "a_exam a_lab"),
    ({"patient": "Patient/{binh}"}, "b_exam b_glucose"),
    ({"subject": "Patient/{an}"}, "a_exam a_lab"),
    ({"subject": "Group/{an}"}, ""),
    ({"context": "Encounter/{B}"}, "b_exam b_glucose"),
    ({"encounter": "{A}"}, "a_exam a_lab"),
    ({"code": "XN.GLU"}, "b_glucose"),
    ({"code": "xn.ctm.ws"}, "a_lab"),
    ({"code": f"{systems.SERVICE_CATALOG_CS}|XN.GLU"}, "b_glucose"),
    ({"code": f"{systems.DRUG_CATALOG_CS}|XN.GLU"}, ""),
    ({"code": f"{systems.DRUG_CATALOG_CS}|"}, ""),
    ({"code": "XN.ION"}, ""),  # dropped: never found
    ({"code": "XN.GLU,XN.CTM.WS"}, "a_lab b_glucose"),
    ({"occurrence": "2025-09-16"}, "b_exam b_glucose"),
    ({"occurrence": "gt2025-09-16"}, "a_exam a_lab"),
    ({"occurrence": "2025-09-15"}, "c_exam c_lab d_exam d_lab"),
    ({"entered-date": TODAY}, ALL_LINES),
    ({"entered-date": "lt" + TODAY}, ""),
    ({"_id": "{a_lab},{b_ions},{there_line}"}, "a_lab"),
    ({"patient": "{an}", "code": "XN.CTM.WS"}, "a_lab"),
    ({"code:not": "XN.GLU", "context": "{B}"}, "b_exam"),
    ({"_sort": "-occurrence"}, ALL_LINES),  # today, 16/09, then 15/09 (ties by id)
    ({"_lastUpdated": "ge" + TODAY}, ALL_LINES),
    ({"_lastUpdated": "lt" + TODAY}, ""),
]


def test_search_charge_items(api, fees):
    values = {k: v.pk for k, v in fees.items() if hasattr(v, "pk")}
    values["today"] = timezone.now().date().isoformat()
    for params, expected in CHARGE_ITEM_SEARCHES:
        query = {k: v.format(**values) for k, v in params.items()}
        assert _ids(api.get("ChargeItem", query)) == _pks(fees, expected), params


def test_charge_item_paging_follows_the_cursor(api, fees):
    seen: list[str] = []
    response = api.get("ChargeItem", {"_count": 1})
    while True:
        data = body(response)
        seen += [e["resource"]["id"] for e in data.get("entry", [])]
        nxt = next((link["url"] for link in data["link"] if link["relation"] == "next"), None)
        if nxt is None:
            break
        response = api.http.get(nxt, HTTP_AUTHORIZATION=f"Bearer {api.token}")
    assert seen == _pks(fees, ALL_LINES)


def test_charge_item_summary_count_and_post_search(api, fees):
    data = body(api.get("ChargeItem", {"_summary": "count", "patient": str(fees["an"].pk)}))
    assert data["total"] == 2 and "entry" not in data
    response = api.search_post("ChargeItem/_search", {"context": str(fees["B"].pk)})
    assert _ids(response) == _pks(fees, "b_exam b_glucose")


def test_charge_item_bad_parameters_are_400(api):
    response = api.get("ChargeItem", {"quantity": "1"})
    assert response.status_code == 400
    assert body(response)["issue"][0]["expression"] == ["quantity"]
    assert api.get("ChargeItem", {"entered-date": "today"}).status_code == 400


# --- Invoice read ------------------------------------------------------------------------------


def test_read_invoice_with_its_lines_and_the_bhyt_split(api, fees):
    invoice = fees["inv_a"]
    response = api.get(f"Invoice/{invoice.pk}")
    assert response.status_code == 200 and response["ETag"].startswith('W/"')
    data = _exact(response)
    assert data["identifier"] == [
        {"use": "official", "system": systems.INVOICE_NUMBER, "value": invoice.number}
    ]
    assert data["status"] == "issued"
    assert data["subject"] == {"reference": f"Patient/{fees['an'].pk}"}
    assert data["totalGross"] == {"value": 1000000, "currency": "VND"}
    assert data["totalNet"] == {"value": 200000, "currency": "VND"}
    refs = [i["chargeItemReference"]["reference"] for i in data["lineItem"]]
    assert sorted(refs) == sorted(f"ChargeItem/{fees[k].pk}" for k in ("a_exam", "a_lab"))
    for ref in refs:
        assert api.get(ref).status_code == 200
    fund = {
        i["chargeItemReference"]["reference"]: next(
            c["amount"]["value"]
            for c in i["priceComponent"]
            if c["code"]["coding"][0]["code"] == "fund"
        )
        for i in data["lineItem"]
    }
    assert sum(fund.values()) == 800000
    for ref, value in fund.items():
        line = ChargeLine.objects.get(pk=ref.split("/")[1])
        assert value == line.fund  # exactly the Decimal billing stored


def test_invoice_statuses_on_read(api, fees):
    assert body(api.get(f"Invoice/{fees['inv_paid'].pk}"))["status"] == "balanced"
    assert body(api.get(f"Invoice/{fees['inv_cancelled'].pk}"))["status"] == "cancelled"
    assert body(api.get(f"Invoice/{fees['inv_void'].pk}"))["status"] == "entered-in-error"


@pytest.mark.parametrize("key", ["inv_there", "inv_stranger"])
def test_invoice_of_another_unit_is_404(api, fees, key):
    assert api.get(f"Invoice/{fees[key].pk}").status_code == 404
    assert api.get("Invoice/0").status_code == 404


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.CASHIER, 200),
        (Role.UNIT_ADMIN, 200),
        (Role.DOCTOR, 404),
        (Role.INSURANCE_OFFICER, 404),
    ],
)
def test_staff_see_what_the_billing_pages_show(client, fees, facility, role, status):
    client.force_login(make_staff(facility, role))
    assert client.get(f"/fhir/R4/Invoice/{fees['inv_a'].pk}").status_code == status
    assert client.get(f"/fhir/R4/ChargeItem/{fees['a_lab'].pk}").status_code == status
    assert client.get(f"/fhir/R4/Invoice/{fees['inv_there'].pk}").status_code == 404


# --- Invoice search ----------------------------------------------------------------------------


INVOICE_SEARCHES = [
    ({}, "inv_a inv_paid inv_cancelled"),
    ({"patient": "{an}"}, "inv_a"),
    ({"subject": "Patient/{an}"}, "inv_a"),
    ({"status": "issued"}, "inv_a"),
    ({"status": "balanced"}, "inv_paid"),
    ({"status": "http://hl7.org/fhir/invoice-status|cancelled"}, "inv_cancelled"),
    ({"status": "draft"}, ""),
    ({"status": "entered-in-error"}, ""),
    ({"status": "issued,balanced"}, "inv_a inv_paid"),
    ({"identifier": "{number_a}"}, "inv_a"),
    ({"identifier": f"{systems.INVOICE_NUMBER}|{{number_paid}}"}, "inv_paid"),
    ({"identifier": "hd{inv_a:08d}"}, "inv_a"),
    ({"identifier": "HD{inv_a}"}, ""),
    ({"identifier": "urn:other|{number_a}"}, ""),
    ({"date": TODAY}, "inv_a inv_paid inv_cancelled"),
    ({"date": "lt" + TODAY}, ""),
    ({"issuer": "Organization/{facility}"}, "inv_a inv_paid inv_cancelled"),
    ({"_id": "{inv_a},{inv_void},{inv_there}"}, "inv_a"),
    ({"status:not": "issued"}, "inv_paid inv_cancelled"),
    ({"_lastUpdated": TODAY}, "inv_a inv_paid inv_cancelled"),
    ({"_lastUpdated": "lt" + TODAY}, ""),
    ({"_sort": "-_id"}, "inv_cancelled inv_paid inv_a"),
]


def test_search_invoices(api, fees, facility):
    values = {k: v.pk for k, v in fees.items() if hasattr(v, "pk")}
    values.update(
        today=timezone.now().date().isoformat(),
        number_a=fees["inv_a"].number,
        number_paid=fees["inv_paid"].number,
        facility=facility.pk,
    )
    for params, expected in INVOICE_SEARCHES:
        query = {k: v.format(**values) for k, v in params.items()}
        assert _ids(api.get("Invoice", query)) == _pks(fees, expected), params


def test_draft_invoice_of_a_stay_still_open(api, facility):
    from tests.billing.factories import bed_service, other_department, stay

    department = other_department(facility)
    bed_service(facility, department)
    enc = stay(facility, department=department, admitted_at=timezone.now() - timedelta(days=1))
    charges_derive(encounter_id=enc.pk)
    invoice = invoice_build(actor=cashier_at(facility), facility=facility, encounter=enc)
    assert body(api.get(f"Invoice/{invoice.pk}"))["status"] == "draft"
    assert _ids(api.get("Invoice", {"status": "draft"})) == [str(invoice.pk)]


# --- scopes, audit, capability, query counts ---------------------------------------------------


@pytest.mark.parametrize(("scopes", "search", "read"), scope_cases("ChargeItem", "Invoice"))
def test_scopes_are_enforced(api_for, fees, facility, scopes, search, read):
    caller = api_for(facility, scopes)
    assert_scope_statuses(
        caller, search, read, ChargeItem=fees["a_lab"].pk, Invoice=fees["inv_a"].pk
    )


def test_anonymous_gets_401(fees):
    assert_anonymous_gets_401(f"Invoice/{fees['inv_a'].pk}")


def test_every_access_is_audited_per_patient(api, fees):
    api.get(f"ChargeItem/{fees['a_lab'].pk}")
    api.get("ChargeItem", {"code": "XN.GLU,XN.CTM.WS"})
    api.get(f"Invoice/{fees['inv_a'].pk}")
    api.get("Invoice", {"status": "draft"})
    api.get(f"Invoice/{fees['inv_there'].pk}")
    rows = client_audit_rows(api, "action", "target_type", "target_id", "patient_id")
    an, binh = fees["an"].pk, fees["binh"].pk
    assert rows == [
        ("fhir.chargeitem.read", "billing.ChargeLine", str(fees["a_lab"].pk), an),
        ("fhir.chargeitem.search", "patients.Patient", str(an), an),
        ("fhir.chargeitem.search", "patients.Patient", str(binh), binh),
        ("fhir.invoice.read", "billing.Invoice", str(fees["inv_a"].pk), an),
        ("fhir.invoice.search", "", "", None),
        ("fhir.refused", "", "", None),
    ]
    search = client_audit_events(api, action="fhir.chargeitem.search").first()
    assert search.detail["params"] == ["code"] and search.channel == "fhir"
    assert_refusal_audited(api, "Invoice")


def test_capability_statement_lists_charge_item_and_invoice():
    data = body(Api(None).get("metadata"))
    resources = {r["type"]: r for r in data["rest"][0]["resource"]}
    for name, params in (
        ("ChargeItem", {"_id", "patient", "subject", "context", "encounter", "code",
                        "entered-date", "occurrence"}),
        ("Invoice", {"_id", "patient", "subject", "status", "date", "identifier", "issuer"}),
    ):  # fmt: skip
        assert {i["code"] for i in resources[name]["interaction"]} == {"read", "search-type"}
        assert params <= {p["name"] for p in resources[name]["searchParam"]}


def _queries(api, path) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as ctx:
        response = api.get(path, {"_count": 100})
    return len(ctx.captured_queries), len(body(response)["entry"])


def test_search_pages_run_a_constant_number_of_queries(
    api, fees, facility, django_assert_max_num_queries
):
    api.get("Invoice", {"_count": 1})  # warm the caller's caches
    charge_queries, charge_rows = _queries(api, "ChargeItem")
    invoice_queries, invoice_rows = _queries(api, "Invoice")
    # when many more billed visits are added
    for _ in range(6):
        billed_visit_invoice(facility, doctor=fees["doctor"], cashier=fees["cashier"])
    # then a page of every line, of every invoice, runs no more queries than before
    with django_assert_max_num_queries(charge_queries):
        response = api.get("ChargeItem", {"_count": 100})
    assert len(body(response)["entry"]) == charge_rows + 12
    with django_assert_max_num_queries(invoice_queries):
        response = api.get("Invoice", {"_count": 100})
    assert len(body(response)["entry"]) == invoice_rows + 6
    assert charge_queries <= 10 and invoice_queries <= 11


def test_dropped_line_leaves_the_active_ones(fees):
    # the fixture's own check: billing dropped the cancelled order's line
    assert fees["b_ions"].status == ChargeStatus.DROPPED
    assert fees["inv_a"].total_fund == D("800000.00")
