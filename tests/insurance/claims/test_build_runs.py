"""The period's dossiers built in the background ("Lập hồ sơ"): a Celery task (eager here) builds
every claimable encounter of the month in chunks, each dossier its own transaction, counting ready,
invalid and failed; one run per facility and period at a time; the page polls the progress and
shows the result; only the claims permission starts a run, audited once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from ehealth.core.models import AuditEvent, Role
from insurance.claims import workspace
from insurance.claims.build_models import BuildRunStatus, DossierBuildRun
from insurance.claims.models import Dossier, DossierStatus, DossierVersion
from insurance.claims.workspace import Period, build_run_start
from tests.core.factories import make_staff
from tests.insurance.claims.workspace_records import build, claimable_visit

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def officer(facility):
    return make_staff(facility, Role.INSURANCE_OFFICER, full_name="Giám Định Viên")


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


def queued_run(facility, officer, **kw) -> DossierBuildRun:
    period = Period.current()
    return DossierBuildRun.objects.create(
        facility=facility, year=period.year, month=period.month, created_by=officer, **kw
    )


def test_the_task_builds_every_claimable_encounter_of_the_period_in_chunks_with_counts(
    officer, facility, signing, monkeypatch, django_capture_on_commit_callbacks
):
    # given five encounters to build (one with an unknown diagnosis), one already ready, chunks of 2
    monkeypatch.setattr(workspace, "BUILD_CHUNK", 2)
    visits = [claimable_visit(facility, name=f"Bệnh Nhân {n}") for n in range(4)]
    bad = claimable_visit(facility, name="Sai Mã", diagnosis="Q99.9")
    ready = build(officer, claimable_visit(facility, name="Đã Có")).dossier

    # when the officer starts the build (the task runs once the transaction commits)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        start = build_run_start(actor=officer, facility=facility, period=Period.current())

    # then every claimable encounter has its dossier and the run says so
    run = DossierBuildRun.objects.get(pk=start.run.pk)
    assert len(callbacks) == 1 and not start.joined
    assert run.status == BuildRunStatus.DONE and run.finished_at and run.started_at
    assert (run.total, run.built_ready, run.built_invalid, run.failed) == (5, 4, 1, 0)
    assert run.percent == 100
    made = {d.encounter_id: d.status for d in Dossier.objects.all()}
    assert all(made[v.pk] == DossierStatus.READY for v in visits)
    assert made[bad.pk] == DossierStatus.INVALID
    assert DossierVersion.objects.filter(dossier=ready).count() == 1
    # and the start is audited once (each dossier is audited by dossier_build)
    starts = AuditEvent.objects.filter(action="claims.period_build_start")
    assert starts.count() == 1 and starts.get().detail["total"] == 5

    # when run again: only the invalid one is rebuilt (a new version), the ready ones are skipped
    with django_capture_on_commit_callbacks(execute=True):
        again = build_run_start(actor=officer, facility=facility, period=Period.current()).run
    again.refresh_from_db()
    assert (again.total, again.built_invalid, again.built_ready) == (1, 1, 0)
    assert Dossier.objects.get(encounter=bad).current_version == 2
    assert DossierVersion.objects.filter(dossier__encounter=visits[0]).count() == 1


def test_a_second_start_while_a_run_is_queued_joins_it(
    officer, facility, signing, django_capture_on_commit_callbacks
):
    # given a run queued (its task not yet run)
    claimable_visit(facility)
    with django_capture_on_commit_callbacks() as first_callbacks:
        first = build_run_start(actor=officer, facility=facility, period=Period.current())

    # when another officer clicks
    other = make_staff(facility, Role.INSURANCE_OFFICER, full_name="Người Thứ Hai")
    with django_capture_on_commit_callbacks() as second_callbacks:
        second = build_run_start(actor=other, facility=facility, period=Period.current())

    # then the second joins the first: no new run, no second task, no second audit row
    assert len(first_callbacks) == 1 and second_callbacks == []
    assert second.joined and second.run.pk == first.run.pk
    assert DossierBuildRun.objects.count() == 1
    assert AuditEvent.objects.filter(action="claims.period_build_start").count() == 1


def test_the_database_refuses_two_active_runs_of_a_period(officer, facility):
    # given
    queued_run(facility, officer)

    # when / then
    with pytest.raises(IntegrityError), transaction.atomic():
        queued_run(facility, officer, status=BuildRunStatus.RUNNING)
    queued_run(facility, officer, status=BuildRunStatus.DONE)  # a finished one is fine


def test_a_run_silent_for_long_is_marked_failed_and_a_new_one_starts(
    officer, facility, signing, django_capture_on_commit_callbacks
):
    # given a running run whose worker was lost long ago
    claimable_visit(facility)
    dead = queued_run(facility, officer, status=BuildRunStatus.RUNNING)
    DossierBuildRun.objects.filter(pk=dead.pk).update(
        updated_at=timezone.now() - workspace.BUILD_RUN_STALE_AFTER - timedelta(minutes=1)
    )

    # when
    with django_capture_on_commit_callbacks(execute=True):
        start = build_run_start(actor=officer, facility=facility, period=Period.current())

    # then
    dead.refresh_from_db()
    assert not start.joined and start.run.pk != dead.pk
    assert dead.status == BuildRunStatus.FAILED and "gián đoạn" in dead.last_error
    assert DossierBuildRun.objects.get(pk=start.run.pk).built_ready == 1


def test_an_encounter_that_fails_is_counted_and_the_run_goes_on(
    officer, facility, signing, monkeypatch, django_capture_on_commit_callbacks
):
    # given three encounters, building the second one crashing
    visits = [claimable_visit(facility, name=f"Bệnh Nhân {n}") for n in range(3)]
    real = workspace.dossier_build

    def flaky(*, encounter, **kw):
        if encounter.pk == visits[1].pk:
            raise RuntimeError("boom")
        return real(encounter=encounter, **kw)

    monkeypatch.setattr(workspace, "dossier_build", flaky)

    # when
    with django_capture_on_commit_callbacks(execute=True):
        start = build_run_start(actor=officer, facility=facility, period=Period.current())

    # then the others are built, the failure counted and named
    run = DossierBuildRun.objects.get(pk=start.run.pk)
    assert run.status == BuildRunStatus.DONE
    assert (run.built_ready, run.failed, run.done, run.total) == (2, 1, 3, 3)
    assert run.failures == [
        {"encounter_id": visits[1].pk, "message": "Lỗi hệ thống khi lập hồ sơ (RuntimeError)."}
    ]
    assert set(Dossier.objects.values_list("encounter_id", flat=True)) == {
        visits[0].pk,
        visits[2].pk,
    }


def test_the_page_polls_a_running_build_and_reloads_when_it_is_over(
    officer_client, officer, facility, signing, django_assert_max_num_queries
):
    # given a running run with some progress
    for n in range(3):
        claimable_visit(facility, name=f"Bệnh Nhân {n}")
    run = queued_run(
        facility, officer, status=BuildRunStatus.RUNNING, total=3, built_ready=1, failed=1,
        failures=[{"encounter_id": 7, "message": "Không tìm thấy lượt khám."}],
    )  # fmt: skip

    # when the page is drawn, then polled
    with django_assert_max_num_queries(11):
        page = officer_client.get(reverse("claims:index")).content.decode()
    with django_assert_max_num_queries(7):
        poll = officer_client.get(
            reverse("claims:index"), {"build_run": run.pk, "status": run.status}, **HTMX
        )

    # then both show the progress and keep polling every 2 s
    assert 'hx-trigger="every 2s"' in page and f"build_run={run.pk}" in page
    assert "Đã xử lý 2/3 lượt khám" in page and 'id="build-ready">1<' in page
    assert "Lượt khám #7: Không tìm thấy lượt khám." in page
    html = poll.content.decode()
    assert "<html" not in html and 'id="build-failed">1<' in html and "every 2s" in html

    # when the run is over, the poll tells the page to reload, which no longer polls
    DossierBuildRun.objects.filter(pk=run.pk).update(
        status=BuildRunStatus.DONE, built_invalid=1, finished_at=timezone.now()
    )
    over = officer_client.get(
        reverse("claims:index"), {"build_run": run.pk, "status": "running"}, **HTMX
    )
    page = officer_client.get(reverse("claims:index")).content.decode()
    assert over["HX-Refresh"] == "true"
    assert 'id="build-progress"' in page and 'hx-trigger="every 2s"' not in page
    assert 'id="build-invalid">1<' in page and "Đã lập xong" in page


def test_a_run_of_another_facility_is_not_found(officer_client, officer, facility):
    # given
    from tests.core.factories import FacilityFactory

    elsewhere = FacilityFactory()
    run = queued_run(elsewhere, make_staff(elsewhere, Role.INSURANCE_OFFICER))

    # when
    response = officer_client.get(reverse("claims:index"), {"build_run": run.pk}, **HTMX)

    # then
    assert response.status_code == 404


def test_a_cashier_cannot_start_a_build(client, facility, signing):
    # given
    claimable_visit(facility)
    cashier = make_staff(facility, Role.CASHIER)
    client.force_login(cashier)

    # when / then
    assert client.post(reverse("claims:build_period"), {"month": Period.current().value}).status_code == 403  # fmt: skip
    with pytest.raises(PermissionDenied):
        build_run_start(actor=cashier, facility=facility, period=Period.current())
    assert not DossierBuildRun.objects.exists() and not Dossier.objects.exists()
