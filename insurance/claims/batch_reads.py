"""Reads of the batch pages (issue 5 step 2; the services are `insurance.claims.batches`): the
facility's batches, one batch (404 for another facility's), its items per state (the progress the
page polls), a page of its items (every patient shown audited), the gateway's odd answers to look
at, and the batch's signed files streamed as a ZIP archive."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, OuterRef, Subquery
from django.http import Http404

from ehealth.core.audit import audit_record_many
from insurance.claims.batch_models import (
    BatchItem,
    ClaimBatch,
    ExchangeOutcome,
    ItemState,
    PortalExchangeLog,
)
from insurance.claims.models import DossierVersion
from insurance.claims.workspace import PAGE_SIZE, require_claims_perm


def batches_page(*, actor, facility, page_number, per_page: int | None = None) -> Page:
    """The facility's batches, newest first, one page (counts and amounts are on the batch row:
    a fixed number of queries)."""
    require_claims_perm(actor, facility)
    qs = ClaimBatch.objects.filter(facility=facility).select_related("created_by", "submitted_by")
    page = Paginator(qs.order_by("-created_at", "-id"), per_page or PAGE_SIZE).get_page(page_number)
    page.object_list = list(page.object_list)
    return page


def batch_for(*, actor, facility, pk):
    """A batch of the facility (404 for another facility's, exactly like a missing one)."""
    require_claims_perm(actor, facility)
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    batch = (
        ClaimBatch.objects.select_related("facility", "created_by", "submitted_by")
        .filter(pk=pk, facility=facility)
        .first()
    )
    if batch is None:
        raise Http404
    return batch


@dataclass(frozen=True)
class StateCount:
    state: str
    label: str
    count: int


@dataclass(frozen=True)
class BatchProgress:
    """How far a batch has gone: items per state (every state, zeros included)."""

    states: list[StateCount]

    @property
    def total(self) -> int:
        return sum(s.count for s in self.states if s.state != "excluded")

    @property
    def done(self) -> int:
        final = ("accepted", "rejected", "failed")
        return sum(s.count for s in self.states if s.state in final)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    def count(self, state: str) -> int:
        return next((s.count for s in self.states if s.state == state), 0)


def batch_progress(*, batch) -> BatchProgress:
    """Items of a batch per state, in one query (the page polls it while the batch is sent)."""
    found = dict(
        BatchItem.objects.filter(batch=batch)
        .order_by()
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    return BatchProgress(
        [StateCount(s.value, str(s.label), found.get(s.value, 0)) for s in ItemState]
    )


def batch_items_page(*, actor, batch, page_number, per_page: int | None = None) -> Page:
    """One page of a batch's items with their dossier and patient; every patient shown audited."""
    require_claims_perm(actor, batch.facility)
    qs = (
        BatchItem.objects.filter(batch=batch)
        .select_related("dossier__encounter__patient")
        .order_by("id")
    )
    page = Paginator(qs, per_page or PAGE_SIZE).get_page(page_number)
    page.object_list = list(page.object_list)
    if page.object_list:
        audit_record_many(
            actor=actor,
            action="claims.batch_view",
            patient_ids=sorted({i.dossier.encounter.patient_id for i in page.object_list}),
            detail={"batch_id": batch.pk},
        )
    return page


def batch_exchanges_to_review(*, batch, limit: int = 20) -> list:
    """Odd answers of the gateway about this batch that no one has looked at yet."""
    return list(
        PortalExchangeLog.objects.filter(
            batch=batch,
            reviewed=False,
            outcome__in=(ExchangeOutcome.MALFORMED, ExchangeOutcome.PARTIAL),
        ).order_by("-created_at", "-id")[:limit]
    )


SAFE_NAME = re.compile(r"[^0-9A-Za-z._-]+")


def batch_envelopes(*, actor, batch) -> Iterable[tuple[str, bytes]]:
    """(file name, signed envelope) of every dossier of a batch that is (or will be) sent: the
    version put in the batch, named by its MA_LK. A generator reading the rows in chunks, so
    memory does not grow with the batch; the export is checked and audited (with its patients)
    when called, before the first file is read."""
    require_claims_perm(actor, batch.facility)
    items = BatchItem.objects.filter(batch=batch).exclude(state=ItemState.EXCLUDED)
    audit_record_many(
        actor=actor,
        action="claims.batch_export",
        patient_ids=list(items.values_list("dossier__encounter__patient_id", flat=True).distinct()),
        detail={"batch_id": batch.pk},
    )
    rows = (
        items.annotate(
            key=F("dossier__claim_key"),
            envelope=Subquery(
                DossierVersion.objects.filter(
                    dossier=OuterRef("dossier"), number=OuterRef("version_number")
                ).values("envelope")[:1]
            ),
        )
        .values_list("key", "envelope")
        .order_by("id")
    )
    return _named_envelopes(rows)


def _named_envelopes(rows) -> Iterable[tuple[str, bytes]]:
    for key, envelope in rows.iterator(chunk_size=100):
        if envelope:
            yield f"{SAFE_NAME.sub('_', key) or 'hoso'}.xml", envelope.encode("utf-8")


class _Sink:
    """A write-only stream zipfile writes into; what was written is taken out piece by piece."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def zip_stream(files: Iterable[tuple[str, bytes]]) -> Iterable[bytes]:
    """A ZIP archive of (name, content) pairs, produced piece by piece (one file in memory at a
    time): for a streaming HTTP response."""
    sink = _Sink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            with archive.open(name, mode="w") as member:
                member.write(content)
            yield sink.take()
    yield sink.take()
