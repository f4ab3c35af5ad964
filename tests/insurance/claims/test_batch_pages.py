"""The batch pages: create a batch of the period's ready dossiers (by month, department, visit
type), submit it (the sending task runs in-process against the simulator), its progress per item
state (htmx polling), the insurer's answers with reasons, the ZIP of signed files named by MA_LK,
the gate and fixed query counts."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ehealth.core.models import AuditEvent, Role
from insurance.claims.batch_models import BatchItem, BatchStatus, ClaimBatch, ItemState
from insurance.claims.envelope import envelope_tables, envelope_verify
from insurance.claims.models import Dossier, DossierStatus
from insurance.claims.workspace import Period
from tests.core.factories import DepartmentFactory, make_staff
from tests.insurance.claims import batch_fixtures
from tests.insurance.claims.batch_fixtures import reject
from tests.insurance.claims.workspace_records import build, claimable_visit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signing")]

claims_portal = batch_fixtures.claims_portal  # the simulator, reset, settings pointing at it
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def officer(facility):
    return make_staff(facility, Role.INSURANCE_OFFICER)


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


def ready(officer, facility, n=1, **kw):
    return [
        build(officer, claimable_visit(facility, name=f"Người Bệnh {i}", **kw)).dossier
        for i in range(n)
    ]


def create(client, **data):
    return client.post(reverse("claims:batch_create"), {"month": Period.current().value, **data})


def batch_url(batch, name="claims:batch"):
    return reverse(name, kwargs={"batch_id": batch.pk})


def item_rows(html: str) -> int:
    return len(re.findall(r'id="item-\d+"', html))


def test_the_batch_pages_are_refused_to_other_roles(client, facility):
    # given
    client.force_login(make_staff(facility, Role.CASHIER))

    # when / then
    assert client.get(reverse("claims:batches")).status_code == 403
    assert create(client).status_code == 403
    assert not ClaimBatch.objects.exists()


def test_a_batch_of_another_facility_is_not_found(officer_client, other_facility):
    # given
    other = make_staff(other_facility, Role.INSURANCE_OFFICER)
    ready(other, other_facility)
    from insurance.claims.batches import batch_create

    period = Period.current()
    batch = batch_create(actor=other, facility=other_facility, year=period.year, month=period.month)

    # when / then
    for name in ("claims:batch", "claims:batch_progress", "claims:batch_export"):
        assert officer_client.get(batch_url(batch, name)).status_code == 404
    assert officer_client.post(batch_url(batch, "claims:batch_submit")).status_code == 404
    assert ClaimBatch.objects.get(pk=batch.pk).status == BatchStatus.DRAFT


def test_create_groups_the_ready_dossiers_by_department_and_shows_them(
    officer_client, officer, facility
):
    # given two ready dossiers in K02, one in K03, one with an error in K02
    k02 = DepartmentFactory(facility=facility, code="K02", name="Khoa Khám bệnh")
    k03 = DepartmentFactory(facility=facility, code="K03", name="Khoa Nội")
    mine = ready(officer, facility, 2, department=k02)
    ready(officer, facility, 1, department=k03)
    build(officer, claimable_visit(facility, department=k02, diagnosis="Q99.9"))
    preview = officer_client.get(
        reverse("claims:batches"),
        {"preview": "1", "month": Period.current().value, "department": "K02"},
        **HTMX,
    ).content.decode()

    # when
    response = create(officer_client, department="K02")

    # then
    assert "2 hồ sơ sẵn sàng gửi" in preview and "<html" not in preview
    batch = ClaimBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == batch_url(batch)
    assert set(batch.items.values_list("dossier_id", flat=True)) == {d.pk for d in mine}
    html = officer_client.get(batch_url(batch)).content.decode()
    assert "Đã lập lô gồm 2 hồ sơ" in html and item_rows(html) == 2
    assert "Khoa Khám bệnh" in html and "1.600.000" in html
    assert 'id="btn-submit"' in html and 'id="btn-cancel"' in html
    assert 'hx-trigger="every' not in html  # a draft is not polled


def test_create_with_nothing_ready_says_so(officer_client, facility):
    # given a department with no dossier
    DepartmentFactory(facility=facility, code="K02")

    # when
    response = create(officer_client, department="K02")

    # then
    assert response.status_code == 302
    page = officer_client.get(response["Location"]).content.decode()
    assert "Không có hồ sơ sẵn sàng gửi" in page
    assert not ClaimBatch.objects.exists()


def test_submit_sends_then_answers_show_accepted_and_rejected_with_reasons(
    officer_client, officer, facility, claims_portal, django_capture_on_commit_callbacks
):
    # given two ready dossiers in a batch, the insurer rejecting the second
    first, second = ready(officer, facility, 2)
    reject(claims_portal, second.claim_key, "GD-XML1-05", "Sai mã đối tượng KCB")
    create(officer_client)
    batch = ClaimBatch.objects.get()

    # when the officer submits (the sending task runs in-process once the transaction commits)
    with django_capture_on_commit_callbacks(execute=True):
        submitted = officer_client.post(
            batch_url(batch, "claims:batch_submit"), {"row_version": batch.row_version}
        )
    page = officer_client.get(batch_url(batch)).content.decode()

    # then the portal has acknowledged both and the page polls the progress
    assert submitted.status_code == 302
    batch.refresh_from_db()
    assert batch.status == BatchStatus.SUBMITTED
    assert "Đã gửi lô" in page and 'hx-trigger="every 2s"' in page
    assert 'id="state-acknowledged">2<' in page
    progress = officer_client.get(
        batch_url(batch, "claims:batch_progress"), {"status": batch.status}, **HTMX
    )
    assert "<html" not in progress.content.decode()
    assert 'id="state-acknowledged">2<' in progress.content.decode()

    # when the officer asks for the answers
    with django_capture_on_commit_callbacks(execute=True):
        officer_client.post(batch_url(batch, "claims:batch_answers"))

    # then the polling page is told to reload, and shows the answers
    moved = officer_client.get(
        batch_url(batch, "claims:batch_progress"), {"status": "submitted"}, **HTMX
    )
    assert moved["HX-Refresh"] == "true"
    page = officer_client.get(batch_url(batch)).content.decode()
    assert 'id="state-accepted">1<' in page and 'id="state-rejected">1<' in page
    assert 'hx-trigger="every' not in page  # done: no more polling
    row = page[page.index(f'id="item-{batch.items.get(dossier=second).pk}"') :][:2000]
    assert "GD-XML1-05" in row and "Sai mã đối tượng KCB" in row
    assert Dossier.objects.get(pk=first.pk).status == DossierStatus.ACCEPTED
    # and the list of dossiers shows the rejected one with its reason
    listing = officer_client.get(reverse("claims:index"), {"status": "rejected"}).content.decode()
    assert "Sai mã đối tượng KCB" in listing and f'id="dossier-{second.pk}"' in listing


def test_a_stale_submit_is_refused_with_a_message(officer_client, officer, facility, claims_portal):
    # given
    ready(officer, facility)
    create(officer_client)
    batch = ClaimBatch.objects.get()

    # when
    response = officer_client.post(
        batch_url(batch, "claims:batch_submit"), {"row_version": batch.row_version + 5}, follow=True
    )

    # then
    assert "vừa được người khác thay đổi" in response.content.decode()
    assert ClaimBatch.objects.get(pk=batch.pk).status == BatchStatus.DRAFT


def test_cancel_frees_the_dossiers(officer_client, officer, facility):
    # given
    ready(officer, facility)
    create(officer_client)
    batch = ClaimBatch.objects.get()

    # when
    officer_client.post(batch_url(batch, "claims:batch_cancel"), {"row_version": batch.row_version})

    # then
    assert ClaimBatch.objects.get(pk=batch.pk).status == BatchStatus.CANCELLED
    assert create(officer_client).status_code == 302
    assert ClaimBatch.objects.count() == 2


def test_the_zip_holds_one_signed_file_per_dossier_named_by_its_claim_key(
    officer_client, officer, facility, signing
):
    # given a batch of three, one of which was excluded
    dossiers = ready(officer, facility, 3)
    create(officer_client)
    batch = ClaimBatch.objects.get()
    BatchItem.objects.filter(batch=batch, dossier=dossiers[2]).update(state=ItemState.EXCLUDED)

    # when
    response = officer_client.get(batch_url(batch, "claims:batch_export"))
    content = b"".join(response.streaming_content)

    # then
    assert response["Content-Type"] == "application/zip"
    assert f"lo-{batch.pk}-{facility.code}-" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert sorted(archive.namelist()) == sorted(f"{d.claim_key}.xml" for d in dossiers[:2])
    for dossier in dossiers[:2]:
        signed = archive.read(f"{dossier.claim_key}.xml")
        (tables,) = envelope_tables(envelope_verify(signed, cert_pem=signing.cert_pem))
        version = dossier.versions.get(number=dossier.current_version)
        assert tables["XML1"].decode() == version.tables["XML1"]
    assert AuditEvent.objects.filter(action="claims.batch_export").count() == 2


def test_batch_list_and_detail_run_a_fixed_number_of_queries(officer_client, officer, facility):
    # given one batch of one dossier, then two batches, the second of five
    def measure(url):
        officer_client.get(url)
        with CaptureQueriesContext(connection) as ctx:
            officer_client.get(url)
        return len(ctx)

    ready(officer, facility)
    create(officer_client)
    first = ClaimBatch.objects.get()
    few_list, few_detail = measure(reverse("claims:batches")), measure(batch_url(first))
    ready(officer, facility, 5)
    create(officer_client)
    second = ClaimBatch.objects.exclude(pk=first.pk).get()

    # when
    many_list, many_detail = measure(reverse("claims:batches")), measure(batch_url(second))

    # then
    assert second.item_count == 5
    assert item_rows(officer_client.get(batch_url(second)).content.decode()) == 5
    assert (many_list, many_detail) == (few_list, few_detail)
