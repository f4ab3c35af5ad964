"""Old versions of Patient: vread, instance history and type history (helpers of the provider).

Past versions come from the registry's `PatientVersion` rows (written by its services for edits
made on the web pages and through FHIR alike) and the kept FHIR elements of each version from
`ResourceExtraVersion` (see `fhir_api.history.timeline`). A record voided in error is shown as a
delete. Queries per page are constant: the page's events, then the rows they need in bulk.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils.dateparse import parse_datetime

from ehealth.core.models import AdminUnit, Facility, Province
from fhir_api.extras import extras_apply
from fhir_api.history import Entry, HistoryRequest, Step, timeline
from fhir_api.mappers.patient import patient_to_json
from fhir_api.models import ResourceExtra, ResourceExtraVersion
from fhir_api.outcomes import BadRequest
from patients.models import Patient, PatientIdentifier, PatientVersion

TYPE = "Patient"

# Event sources of the type history, ranked for the tie-break (time, rank, id), newest first.
CURRENT, EXTRAS, PAST = 3, 2, 1


def timelines(patients: list[Patient]) -> dict[int, list[Step]]:
    """The FHIR versions of each patient (two queries for any number of patients)."""
    ids = [str(p.pk) for p in patients]
    extras = {
        int(e.resource_id): e
        for e in ResourceExtra.objects.filter(resource_type=TYPE, resource_id__in=ids)
    }
    rows: dict[int, list[ResourceExtraVersion]] = {}
    for row in ResourceExtraVersion.objects.filter(resource_type=TYPE, resource_id__in=ids):
        rows.setdefault(int(row.resource_id), []).append(row)
    out = {}
    for p in patients:
        extra = extras.get(p.pk)
        # The current version's time as read answers it (the kept elements may be later).
        p.fhir_version = p.version + (extra.revision if extra else 0)
        p.fhir_last_updated = max(p.updated_at, extra.updated_at) if extra else p.updated_at
        out[p.pk] = timeline(
            base_version=p.version,
            revision=extra.revision if extra else 0,
            rows=rows.get(p.pk, []),
            current_extras=extra.content if extra else {},
        )
    return out


def snapshots(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], PatientVersion]:
    """The past versions (patient id, version) asked for, in one query."""
    if not pairs:
        return {}
    q = Q()
    for patient_id, version in pairs:
        q |= Q(patient_id=patient_id, version=version)
    return {(s.patient_id, s.version): s for s in PatientVersion.objects.filter(q)}


@dataclass
class Places:
    """Provinces, communes and facilities the past versions name, loaded once per page."""

    provinces: dict
    communes: dict
    facilities: dict

    @classmethod
    def of(cls, past: list[PatientVersion]) -> Places:
        provinces = {s.data.get("province_id") for s in past} - {None}
        communes = {s.data.get("commune_id") for s in past} - {None}
        facilities = {i.get("facility_id") for s in past for i in s.identifiers} - {None}
        return cls(
            Province.objects.in_bulk(provinces) if provinces else {},
            AdminUnit.objects.in_bulk(communes) if communes else {},
            Facility.objects.in_bulk(facilities) if facilities else {},
        )


def _past_patient(snapshot: PatientVersion, places: Places) -> tuple[Patient, list]:
    patient = snapshot.as_patient()
    if patient.province_id:
        patient.province = places.provinces[patient.province_id]
    if patient.commune_id:
        patient.commune = places.communes[patient.commune_id]
    identifiers = snapshot.as_identifiers()
    for ident in identifiers:
        if ident.facility_id:
            ident.facility = places.facilities[ident.facility_id]
    return patient, identifiers


def live_identifiers(patient: Patient) -> list[PatientIdentifier]:
    cached = getattr(patient, "live_identifiers", None)
    if cached is not None:
        return cached
    return list(
        PatientIdentifier.objects.filter(patient=patient, voided_at__isnull=True)
        .select_related("facility")
        .order_by("system", "id")
    )


def step_time(patient: Patient, step: Step, past: dict[tuple[int, int], Any]) -> datetime | None:
    """When a version was made (None when its past version is not kept)."""
    if step.version == getattr(patient, "fhir_version", None) and patient.voided_at is None:
        return patient.fhir_last_updated
    if step.extras_row is not None:
        return step.extras_row.recorded_at
    if step.base == patient.version:
        return patient.updated_at
    snapshot = past.get((patient.pk, step.base))
    return snapshot.valid_from if snapshot is not None else None


def render(
    patient: Patient, step: Step, past: dict[tuple[int, int], PatientVersion], places: Places
) -> Entry | None:
    """A version as a history entry (resource None for the delete); None when not kept."""
    when = step_time(patient, step, past)
    if when is None:
        return None
    if step.base == patient.version:
        if patient.voided_at is not None:
            return Entry(TYPE, str(patient.pk), step.version, when, None)
        shown, identifiers = patient, live_identifiers(patient)
    else:
        shown, identifiers = _past_patient(past[(patient.pk, step.base)], places)
    body = patient_to_json(
        shown, identifiers=identifiers, version_id=str(step.version), last_updated=when
    )
    body = extras_apply(body, step.extras)
    return Entry(TYPE, str(patient.pk), step.version, when, body, created=step.version == 1)


@dataclass(frozen=True)
class _Time:
    """Stands for a past version when only its time is needed."""

    valid_from: datetime


def instance_page(patient: Patient, req: HistoryRequest) -> tuple[list[Entry], int | None]:
    """One page of a patient's history, newest first, and the cursor of the next page."""
    if req.after is not None and not isinstance(req.after, int):
        raise BadRequest("Invalid paging cursor.", expression="_cursor")
    steps = timelines([patient])[patient.pk]
    times = dict(
        PatientVersion.objects.filter(patient=patient).values_list("version", "valid_from")
    )
    known = {(patient.pk, v): _Time(t) for v, t in times.items()}
    chosen = []
    for step in reversed(steps):
        if req.after is not None and step.version >= req.after:
            continue
        when = step_time(patient, step, known)
        if when is None or (req.since is not None and when < req.since):
            continue
        chosen.append(step)
        if len(chosen) > req.count:
            break
    more = len(chosen) > req.count
    chosen = chosen[: req.count]
    past = snapshots({(patient.pk, s.base) for s in chosen if s.base != patient.version})
    places = Places.of(list(past.values()))
    entries = [e for s in chosen if (e := render(patient, s, past, places)) is not None]
    return entries, (chosen[-1].version if more and chosen else None)


# --- Type history -------------------------------------------------------------------------------


def _after_q(rank: int, field: str, after: list | None) -> Q:
    """Events strictly older than the cursor (time, rank, id) in the order newest first."""
    if after is None:
        return Q()
    when, after_rank, after_id = parse_datetime(after[0]), after[1], after[2]
    if rank < after_rank:
        return Q(**{f"{field}__lte": when})
    if rank > after_rank:
        return Q(**{f"{field}__lt": when})
    return Q(**{f"{field}__lt": when}) | Q(**{field: when, "pk__lt": after_id})


def type_page(
    visible: QuerySet[Patient], req: HistoryRequest
) -> tuple[list[Entry], list | None, list[int]]:
    """One page of the history of every visible patient, newest first: its entries, the cursor
    of the next page and the patients shown (for the audit)."""
    after = req.after
    if after is not None and not (
        isinstance(after, list) and len(after) == 3 and parse_datetime(str(after[0])) is not None
    ):
        raise BadRequest("Invalid paging cursor.", expression="_cursor")
    limit = req.count + 1
    since = {} if req.since is None else {"gte": req.since}

    def newest(qs, field, rank):
        qs = qs.filter(**{f"{field}__{k}": v for k, v in since.items()})
        qs = qs.filter(_after_q(rank, field, req.after)).order_by(f"-{field}", "-pk")
        return qs[:limit]

    current = [
        (p.updated_at, CURRENT, p.pk, p.pk, p)
        for p in newest(visible.select_related("province", "commune"), "updated_at", CURRENT)
    ]
    past_rows = [
        (s.valid_from, PAST, s.pk, s.patient_id, s)
        for s in newest(
            PatientVersion.objects.filter(patient__in=visible.values("pk")), "valid_from", PAST
        )
    ]
    visible_ids = visible.annotate(sid=Cast("pk", CharField())).values("sid")
    extras_rows = [
        (r.recorded_at, EXTRAS, r.pk, int(r.resource_id), r)
        for r in newest(
            ResourceExtraVersion.objects.filter(
                resource_type=TYPE, only_extras=True, resource_id__in=visible_ids
            ),
            "recorded_at",
            EXTRAS,
        )
    ]
    key = lambda e: (e[0], e[1], e[2])  # noqa: E731
    events = list(heapq.merge(current, extras_rows, past_rows, key=key, reverse=True))[:limit]
    more = len(events) > req.count
    events = events[: req.count]
    next_after = None
    if more and events:
        last = events[-1]
        next_after = [last[0].isoformat(), last[1], last[2]]

    patient_ids = list(dict.fromkeys(e[3] for e in events))
    patients = {p.pk: p for p in (e[4] for e in current) if p.pk in patient_ids}
    missing = [i for i in patient_ids if i not in patients]
    if missing:
        for p in visible.filter(pk__in=missing).select_related("province", "commune"):
            patients[p.pk] = p
    _prefetch_identifiers([patients[i] for i in patient_ids if i in patients])
    steps = timelines(list(patients.values()))

    chosen: list[tuple[Patient, Step]] = []
    for _when, rank, _pk, patient_id, row in events:
        patient = patients.get(patient_id)
        if patient is None:
            continue
        if rank == EXTRAS:
            step = next((s for s in steps[patient_id] if s.version == row.version), None)
        else:
            base = patient.version if rank == CURRENT else row.version
            step = next(
                (s for s in steps[patient_id] if s.base == base and s.extras_row is None), None
            )
        if step is not None:
            chosen.append((patient, step))
    loaded = {(r.patient_id, r.version): r for _w, rank, _p, _i, r in events if rank == PAST}
    wanted = {(p.pk, s.base) for p, s in chosen if s.base != p.version}
    past = {**loaded, **snapshots(wanted - set(loaded))}
    places = Places.of([past[k] for k in wanted if k in past])
    entries = [e for p, s in chosen if (e := render(p, s, past, places)) is not None]
    return entries, next_after, patient_ids


def _prefetch_identifiers(patients: list[Patient]) -> None:
    by_patient: dict[int, list] = {p.pk: [] for p in patients}
    rows = (
        PatientIdentifier.objects.filter(patient_id__in=list(by_patient), voided_at__isnull=True)
        .select_related("facility")
        .order_by("system", "id")
    )
    for ident in rows:
        by_patient[ident.patient_id].append(ident)
    for p in patients:
        p.live_identifiers = by_patient[p.pk]
