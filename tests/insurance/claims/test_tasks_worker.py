"""Batches sent by a REAL Celery worker on Redis to the in-process portal simulator.

The worker is a subprocess of its own (`celery -A ehealth worker -P solo`, settings
`tests.insurance.claims.worker_settings`, a queue of its own), on the test database, told where the
simulator listens and to retry quickly (CLAIMS_SEND_RETRY_BACKOFF 0.2 s, doubling). Each test
starts its worker; the second kills it with SIGKILL in the middle of a batch and starts another.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.db.models import Count

from ehealth.celery import app
from insurance.claims import batches
from insurance.claims.batch_models import BatchStatus, ClaimBatch, ItemState
from insurance.claims.models import Dossier, DossierStatus
from insurance.claims.tasks import answers_poll_task
from insurance.simulator.claims import claims_state
from tests.celery_worker import _database_url, _reachable_broker, _reset_app_connections
from tests.insurance.claims import batch_fixtures
from tests.insurance.claims.batch_fixtures import control, counts, reject
from tests.insurance.claims.batch_records import ready_dossiers, unit

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

claims_portal = batch_fixtures.claims_portal
READY_SECONDS = 60


class Worker:
    """One worker process on `queue`; start() waits for "ready.", kill() is SIGKILL."""

    def __init__(self, *, env: dict, queue: str, log_dir: Path) -> None:
        self.env, self.queue, self.log_dir = env, queue, log_dir
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.runs = 0

    def start(self) -> Worker:
        self.runs += 1
        self.log_path = self.log_dir / f"worker-{self.runs}.log"
        command = [
            sys.executable, "-m", "celery", "-A", "ehealth", "worker", "-P", "solo",
            "--concurrency", "1", "-Q", self.queue, "-n", f"{self.queue}-{self.runs}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO",
        ]  # fmt: skip
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed command line
                command,
                cwd=django_settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_SECONDS
        while "ready." not in self.log():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"worker did not start (exit {self.process.poll()}):\n{self.log()[-3000:]}"
                )
            time.sleep(0.1)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def kill(self) -> None:
        self.process.kill()  # SIGKILL: no shutdown, no ack, the open transaction is lost
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def claims_worker(transactional_db, claims_portal, tmp_path):
    """A worker sending to the simulator; the test process sends its tasks to the worker's queue."""
    broker = _reachable_broker()
    queue = f"ehealth-claims-test-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.insurance.claims.worker_settings",
        "CLAIMS_TEST_QUEUE": queue,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "CONN_MAX_AGE": "0",
        "INSURER_PORTAL_URL": claims_portal.url,
        "INSURER_PORTAL_TIMEOUT": "0.5",
        "INSURER_PORTAL_RETRIES": "0",
        "CLAIMS_SEND_RETRY_BACKOFF": "0.2",
        "CLAIMS_SEND_MAX_RETRIES": "4",
        "CLAIMS_STALE_SUBMITTING_SECONDS": "1",
    }
    worker = Worker(env=env, queue=queue, log_dir=tmp_path)
    saved = {k: app.conf.get(k) for k in ("broker_url", "result_backend", "task_always_eager", "task_routes")}  # fmt: skip
    saved_settings = (django_settings.CELERY_BROKER_URL, django_settings.CELERY_TASK_ALWAYS_EAGER)
    django_settings.CELERY_BROKER_URL, django_settings.CELERY_TASK_ALWAYS_EAGER = broker, False
    app.conf.update(
        broker_url=broker,
        result_backend=broker,
        task_always_eager=False,
        task_routes={"*": {"queue": queue}},
    )
    _reset_app_connections()
    try:
        yield worker.start()
    finally:
        worker.stop()
        app.conf.update(saved)
        django_settings.CELERY_BROKER_URL, django_settings.CELERY_TASK_ALWAYS_EAGER = saved_settings
        _reset_app_connections()


def wait_for(condition, *, seconds: float, worker: Worker, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}; worker log:\n{worker.log()[-4000:]}")


def batch_status(batch_id: int) -> str:
    return ClaimBatch.objects.values_list("status", flat=True).get(pk=batch_id)


def sent(batch_id: int) -> bool:
    """The worker finished sending (answers may have started coming in meanwhile)."""
    return batch_status(batch_id) in (
        BatchStatus.SUBMITTED,
        BatchStatus.PARTLY_ANSWERED,
        BatchStatus.DONE,
    )


def poll_until_done(batch_id: int, worker: Worker, seconds: float = 20) -> None:
    """What Celery beat does, faster: queue the answers poll until the batch is done."""

    def done():
        if batch_status(batch_id) == BatchStatus.DONE:
            return True
        answers_poll_task.delay()
        time.sleep(0.5)
        return False

    wait_for(done, seconds=seconds, worker=worker, what="the batch to be answered")


def test_a_batch_with_acceptances_rejections_and_one_timeout_ends_right_sent_once_each(
    claims_worker, claims_portal
):
    # given six dossiers, the insurer rejecting two, and the portal holding the third's file past
    # the client's timeout once (it is then taken late: the worst case for a retry)
    u = unit()
    dossiers = ready_dossiers(u, 6)
    reasons = {
        dossiers[1].claim_key: ("GD-XML1-05", "Sai mã đối tượng KCB"),
        dossiers[4].claim_key: ("GD-XML3-12", "Dịch vụ kỹ thuật chưa được phê duyệt giá"),
    }
    for key, (code, text) in reasons.items():
        reject(claims_portal, key, code, text)
    timed_out = dossiers[2].claim_key
    control(
        claims_portal,
        "/_simulator/claims/faults",
        {"mode": "timeout", "on": "send", "count": 1, "delay": 1.0, "claim_keys": [timed_out]},
    )
    batch = batches.batch_create(actor=u.officer, facility=u.facility, year=2026, month=11)
    started = time.monotonic()
    # when the officer submits (the send task goes to the worker on commit)
    batches.batch_submit(actor=u.officer, batch=batch)
    # then the worker sends everything, retrying after the timeout
    wait_for(
        lambda: sent(batch.pk),
        seconds=30,
        worker=claims_worker,
        what="the batch to be sent",
    )
    # and the periodic poll brings the answers
    poll_until_done(batch.pk, claims_worker)
    elapsed = time.monotonic() - started
    # then every dossier has the insurer's answer
    for d in dossiers:
        d.refresh_from_db()
        if d.claim_key in reasons:
            code, text = reasons[d.claim_key]
            assert (d.status, d.rejection_reasons) == (
                DossierStatus.REJECTED,
                [{"code": code, "message": text}],
            )
        else:
            assert (d.status, d.rejection_reasons) == (DossierStatus.ACCEPTED, [])
    batch.refresh_from_db()
    assert (batch.accepted_count, batch.rejected_count, batch.acknowledged_count) == (4, 2, 0)
    # and the simulator received each MA_LK exactly once
    time.sleep(1.2)  # let the held request finish: it must not count as a second submission
    assert counts(claims_portal)["received"] == {d.claim_key: 1 for d in dossiers}
    # and the timed-out one went through a Celery retry
    item = batch.items.get(dossier=dossiers[2])
    assert (item.state, item.attempts) == (ItemState.ACCEPTED, 2)
    assert "Retry in" in claims_worker.log()
    assert elapsed < 45


def test_a_worker_killed_mid_batch_and_restarted_sends_nothing_twice(claims_worker, claims_portal):
    # given eight dossiers and a portal that answers each file 0.4 s after taking it
    u = unit()
    dossiers = ready_dossiers(u, 8)
    reject(claims_portal, dossiers[6].claim_key, "GD-ICD-02", "Chẩn đoán không phù hợp")
    control(claims_portal, "/_simulator/claims/rules", {"answer_delay": 0.4})
    batch = batches.batch_create(actor=u.officer, facility=u.facility, year=2026, month=11)
    batches.batch_submit(actor=u.officer, batch=batch)
    # when the worker is killed while the portal holds the answer to the third file
    state = claims_state(claims_portal.app)
    wait_for(
        lambda: sum(state.received.values()) >= 3,
        seconds=30,
        worker=claims_worker,
        what="three files to be received",
    )
    claims_worker.kill()
    # then the third item is left "sent" without a receipt, the rest unsent
    by_state = dict(batch.items.values_list("state").annotate(n=Count("id")))
    assert by_state.get(ItemState.SENT) == 1
    assert by_state.get(ItemState.ACKNOWLEDGED) == 2
    assert batch_status(batch.pk) == BatchStatus.SUBMITTING
    # when a new worker starts and the periodic poll finds the batch stalled
    control(claims_portal, "/_simulator/claims/rules", {"answer_delay": 0})
    claims_worker.start()
    time.sleep(1.1)  # past CLAIMS_STALE_SUBMITTING_SECONDS
    answers_poll_task.delay()
    wait_for(
        lambda: sent(batch.pk),
        seconds=30,
        worker=claims_worker,
        what="the batch to be sent after the restart",
    )
    poll_until_done(batch.pk, claims_worker)
    # then everything ended right
    statuses = [Dossier.objects.get(pk=d.pk).status for d in dossiers]
    assert statuses == [DossierStatus.ACCEPTED] * 6 + [
        DossierStatus.REJECTED,
        DossierStatus.ACCEPTED,
    ]
    # and no file was sent twice: one request per MA_LK (the third was looked up, not resent)
    seen = counts(claims_portal)
    assert seen["requests"] == {d.claim_key: 1 for d in dossiers}
    assert seen["received"] == {d.claim_key: 1 for d in dossiers}
    third = batch.items.get(dossier=dossiers[2])
    assert (third.attempts, third.state) == (2, ItemState.ACCEPTED)
