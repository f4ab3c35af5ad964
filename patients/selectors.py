"""Reads of the patient registry: visibility, search, summary. Every read of a chart is audited.

Visibility: active patients with a record number at a facility where the user may view patients,
plus patients shared (django-guardian direct-FK object permissions) with the user or with the staff
group of such a facility. City admins hold no patient permission and see no chart. Anything else
answers 404, exactly like a record that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.db.models.query import RawQuerySet
from django.http import Http404

from ehealth.core import permissions
from ehealth.core.audit import (
    audit_insert_params,
    audit_insert_sql,
    audit_record,
    audit_record_many,
)
from ehealth.core.models import Facility
from ehealth.core.sqlrows import Prepared, Row, columns
from patients import identifiers as idchecks
from patients.choices import CITY_UNIQUE_SYSTEMS, IdentifierSystem, PatientStatus
from patients.duplicates import Candidate, Probe, similar_candidates
from patients.models import (
    DuplicateCandidate,
    Encounter,
    Patient,
    PatientGroupObjectPermission,
    PatientIdentifier,
    PatientMerge,
    PatientUserObjectPermission,
)
from patients.normalize import clean_text, name_words, normalize_phone

VIEW_PERM = "patients.view_patient"
SEARCH_PERM = "patients.search_patient"
NAME_RANK_CAP = 2000

_CARD_RE = re.compile(r"^[A-Z]{2}[1-5]\d{12}$")
_RECORD_NUMBER_RE = re.compile(r"^[0-9A-Z]{5}-\d{1,15}$")
_SHORT_NUMBER_RE = re.compile(r"^\d{1,9}$")
_PHONE_RE = re.compile(r"^(?:\+84|84|0)\d{9,10}$")
_PASSPORT_RE = re.compile(r"^(?=.*\d)(?=.*[A-Z])[A-Z0-9]{6,20}$")


def _view_permission_id() -> Subquery:
    return Subquery(
        Permission.objects.filter(codename="view_patient", content_type__app_label="patients")
        .order_by()
        .values("pk")[:1]
    )


@dataclass(frozen=True)
class _Scope:
    facility_ids: list[int]
    group_ids: list[int]
    view_permission_id: int | None


def _scope(user) -> _Scope:
    """Facilities, staff groups and the view permission id behind the user's visibility.

    Cached on the user object next to the permission map of `ehealth.core.permissions` (and
    dropped with it), so that a page or a benchmark loop compiles a small query.
    """
    facility_ids = permissions.facility_ids_with_perm(user, VIEW_PERM)
    perm_map = getattr(user, "_ehealth_perm_map", None)  # rebuilt when permissions change
    cached = getattr(user, "_ehealth_patient_scope", None)
    if cached is not None and cached[0] is perm_map:
        return cached[1]
    group_ids: list[int] = []
    perm_id = None
    if facility_ids:  # read with the permission map (`permissions.access`): no query of its own
        known = permissions.access(user)
        perm_id = known.perm_ids.get(VIEW_PERM)
        prefix = permissions.facility_group_name(Facility(code=""))
        names = [prefix + known.facility_codes[f] for f in facility_ids]
        group_ids = sorted(known.group_ids[n] for n in names if n in known.group_ids)
    scope = _Scope(facility_ids=facility_ids, group_ids=group_ids, view_permission_id=perm_id)
    user._ehealth_patient_scope = (perm_map, scope)
    return scope


def patient_visible_qs(*, user, include_voided: bool = False) -> QuerySet[Patient]:
    """Active patients the user may see: own facilities' records plus explicit shares.

    `include_voided` adds the records voided in error that the user could see before (their
    record numbers stay): for answering "gone" rather than "unknown", and for their history.
    """
    base = Patient.objects.filter(status=PatientStatus.ACTIVE)
    if not include_voided:
        base = base.filter(voided_at__isnull=True)
    if user is None or not getattr(user, "is_authenticated", False):
        return base.none()
    scope = _scope(user)
    if not scope.facility_ids:
        return base.none()  # city admins and staff without a patient role see no chart
    visible = Exists(
        PatientIdentifier.objects.filter(
            patient_id=OuterRef("pk"),
            system=IdentifierSystem.MRN,
            voided_at__isnull=True,
            facility_id__in=scope.facility_ids,
        )
    ) | Exists(
        PatientUserObjectPermission.objects.filter(
            content_object_id=OuterRef("pk"),
            user_id=user.pk,
            permission_id=scope.view_permission_id,
        )
    )
    if scope.group_ids:
        visible |= Exists(
            PatientGroupObjectPermission.objects.filter(
                content_object_id=OuterRef("pk"),
                group_id__in=scope.group_ids,
                permission_id=scope.view_permission_id,
            )
        )
    return base.filter(visible)


def patient_get(*, user, pk, audit_action: str = "patient.view") -> Patient:
    """One visible patient, or Http404 (missing and not visible alike). The read is audited."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    if not 0 < pk < 2**63 or not getattr(user, "is_authenticated", False):
        raise Http404
    scope = _scope(user)
    if not scope.facility_ids:
        raise Http404  # city admins and staff without a patient role see no chart
    params = {
        "pk": pk,
        **_visible_params(user, scope),
        **audit_insert_params(actor=user, action=audit_action),
    }
    with connection.cursor() as cursor:
        _patient_get_statement().execute(cursor, params)  # the read and its audit entry
        found = cursor.fetchone()
    if found is None:
        raise Http404
    row = Row(found)
    row.take(None)  # the audited id
    patient = row.take(Patient)
    for fk in _GET_RELATED:  # as select_related("province", "commune")
        setattr(patient, fk.name, row.take(fk.related_model))
    return patient


_GET_RELATED = [Patient._meta.get_field(n) for n in ("province", "commune")]


@cache
def _patient_get_statement() -> Prepared:
    """patient_get's query: exactly `patient_visible_qs(...).select_related(...).filter(pk=...)`,
    written by hand and prepared (the ORM compiled its visibility subqueries in ~5 ms for a
    0.3 ms query), with the read's audit entry appended by the same statement when the patient
    is found (`audit_insert_sql`: one round trip, not two)."""
    aliases = [f"r{i}" for i in range(len(_GET_RELATED))]
    selected = [columns(Patient, "p")]
    joins = []
    for alias, fk in zip(aliases, _GET_RELATED, strict=True):
        target = fk.related_model
        selected.append(columns(target, alias))
        joins.append(
            f'LEFT JOIN {target._meta.db_table} {alias} ON {alias}."{target._meta.pk.column}" '
            f'= p."{fk.column}"'
        )
    sql = (
        f"SELECT p.id AS audited_id, {', '.join(selected)} "  # noqa: S608
        f"FROM {_P} p {' '.join(joins)} WHERE p.id = %(pk)s AND {_visible_sql('p')}"
    )
    audit = audit_insert_sql("found", "audited_id", Patient._meta.label)
    return Prepared(
        "patient_get_audited",
        f"WITH found AS ({sql}), audit AS ({audit}) SELECT * FROM found",  # noqa: S608
    )


def _ids(pks) -> list[int]:
    """The valid primary keys among `pks` (others match nothing, as an ORM `pk__in` lookup of a
    value no row holds)."""
    ids = set()
    for pk in pks:
        try:
            pk = int(pk)
        except (TypeError, ValueError):
            continue
        if 0 < pk < 2**63:
            ids.add(pk)
    return sorted(ids)


def _visible_among(user, statement: Prepared, pks, model, only=None) -> dict:
    """The instances by id of a statement over `_visible_sql` for these primary keys
    (`%(pks)s`)."""
    ids = _ids(pks)
    if not ids or not getattr(user, "is_authenticated", False):
        return {}
    scope = _scope(user)
    if not scope.facility_ids:
        return {}  # city admins and staff without a patient role see no chart
    return statement.by_pk({"pks": ids, **_visible_params(user, scope)}, model, only=only)


def patients_visible_among(*, user, pks) -> dict[int, Patient]:
    """The patients among `pks` that the user may see, by id: exactly
    `patient_visible_qs(user=user).filter(pk__in=pks).in_bulk()`, written by hand and prepared (a
    partner's transaction asks it for the patients of its visits; the ORM compiled its
    visibility subqueries in several times the query's own time)."""
    return _visible_among(user, _patients_among_statement(), pks, Patient)


@cache
def _patients_among_statement() -> Prepared:
    sql = (
        f"SELECT {columns(Patient, 'p')} FROM {_P} p "  # noqa: S608
        f"WHERE p.id = ANY(%(pks)s::bigint[]) AND {_visible_sql('p')}"
    )
    return Prepared("patients_visible_among", sql)


_ENCOUNTER_KEYS = ("patient_id", "facility_id")


def patient_encounters_visible_among(*, user, pks) -> dict[int, Encounter]:
    """The encounters among `pks` that are not voided and whose patient the user may see, by id,
    with only their id, patient_id and facility_id loaded: exactly
    `Encounter.objects.filter(voided_at__isnull=True, patient__in=patient_visible_qs(user=user)
    .values("pk"), pk__in=pks).only("id", "patient_id", "facility_id").in_bulk()`, written by
    hand and prepared (the check of a partner's Observations and Conditions)."""
    return _visible_among(user, _encounters_among_statement(), pks, Encounter, _ENCOUNTER_KEYS)


@cache
def _encounters_among_statement() -> Prepared:
    table = Encounter._meta.db_table
    sql = (
        f"SELECT {columns(Encounter, 'e', _ENCOUNTER_KEYS)} FROM {table} e "  # noqa: S608
        f"JOIN {_P} p ON p.id = e.patient_id WHERE e.id = ANY(%(pks)s::bigint[]) "
        f"AND e.voided_at IS NULL AND {_visible_sql('p')}"
    )
    return Prepared("patient_encounters_visible_among", sql)


def _visible_params(user, scope: _Scope) -> dict:
    """The parameters of `_visible_sql`."""
    return {
        "active": PatientStatus.ACTIVE,
        "mrn": IdentifierSystem.MRN,
        "facilities": scope.facility_ids,
        "user": user.pk,
        "perm": scope.view_permission_id,
        "groups": scope.group_ids,
    }


# --- Search ----------------------------------------------------------------------------------


def _classify(query: str) -> tuple[str, str]:
    """What the one search box holds: (kind, normalised value)."""
    text = clean_text(query)
    if _RECORD_NUMBER_RE.match(text.replace(" ", "").upper()):
        return "record_number", text.replace(" ", "").upper()
    compact = idchecks.normalize(text).replace("(", "").replace(")", "")
    if re.fullmatch(r"\d{12}", compact):
        return "cccd", compact
    if _CARD_RE.match(compact):
        return "bhyt", compact
    if re.fullmatch(r"\d{10}", compact):
        return "bhxh_or_phone", compact
    if _PHONE_RE.match(compact):
        return "phone", normalize_phone(compact)
    if _SHORT_NUMBER_RE.match(compact):
        return "record_serial", compact
    if _PASSPORT_RE.match(compact) and " " not in text:
        return "passport", compact
    return "name", " ".join(name_words(text))


# The search is hand-written SQL (the same visibility rule as patient_visible_qs): compiling the
# equivalent ORM query costs several times the 0.1 ms that an exact lookup takes in PostgreSQL.
_P = Patient._meta.db_table
_I = PatientIdentifier._meta.db_table
_SU = PatientUserObjectPermission._meta.db_table
_SG = PatientGroupObjectPermission._meta.db_table


def _visible_sql(alias: str) -> str:
    # Only constant table names and aliases are formatted in; every value is a bound parameter.
    return (
        f"{alias}.status = %(active)s AND {alias}.voided_at IS NULL AND ("  # noqa: S608
        f"EXISTS (SELECT 1 FROM {_I} m WHERE m.patient_id = {alias}.id AND m.system = %(mrn)s "
        f"AND m.voided_at IS NULL AND m.facility_id = ANY(%(facilities)s)) "
        f"OR EXISTS (SELECT 1 FROM {_SU} su WHERE su.content_object_id = {alias}.id "
        f"AND su.user_id = %(user)s AND su.permission_id = %(perm)s) "
        f"OR EXISTS (SELECT 1 FROM {_SG} sg WHERE sg.content_object_id = {alias}.id "
        f"AND sg.group_id = ANY(%(groups)s) AND sg.permission_id = %(perm)s))"
    )


_IDENTIFIER_SQL = (
    f"SELECT p.* FROM {_P} p WHERE p.id IN (SELECT i.patient_id FROM {_I} i "  # noqa: S608
    f"WHERE i.system = %(system)s AND i.value = ANY(%(values)s) AND i.voided_at IS NULL) "
    f"AND {_visible_sql('p')} ORDER BY p.full_name, p.id LIMIT %(limit)s"
)
_PHONE_SQL = (
    f"SELECT p.* FROM {_P} p WHERE p.id IN ("  # noqa: S608
    f"SELECT x.id FROM {_P} x WHERE x.phone = %(value)s UNION ALL "
    f"SELECT i.patient_id FROM {_I} i WHERE i.system = %(system)s AND i.value = %(value)s "
    f"AND i.voided_at IS NULL) AND {_visible_sql('p')} ORDER BY p.full_name, p.id LIMIT %(limit)s"
)
_FOLDED = "f_unaccent(lower({alias}.full_name))"


def _name_sql(word_count: int) -> str:
    # Each word is the start of a word of the name ("nguyen van" finds "Nguyễn Văn An"); the
    # regexes on f_unaccent(lower(full_name)) are answered by the trigram GIN index. At most
    # NAME_RANK_CAP matches are ranked: a full name has far fewer, and a bare family name
    # ("nguyen": a third of the city) must not sort the whole city by similarity.
    words = " AND ".join(f"{_FOLDED.format(alias='c')} ~ %(w{n})s" for n in range(word_count))
    return (
        f"SELECT p.*, similarity({_FOLDED.format(alias='p')}, %(q)s) AS rank FROM {_P} p "  # noqa: S608
        f"WHERE p.id IN (SELECT c.id FROM {_P} c WHERE {words} AND {_visible_sql('c')} "
        f"LIMIT %(cap)s) ORDER BY rank DESC, p.id LIMIT %(limit)s"
    )


def patient_search_sql(*, user, query: str, limit: int = 50) -> tuple[str, str, dict] | None:
    """(kind, SQL, params) answering the search box, or None when nothing can match.

    The benchmark times this SQL bare against `patient_search`."""
    kind, value = _classify(query)
    scope = _scope(user) if getattr(user, "is_authenticated", False) else None
    if scope is None or not scope.facility_ids:
        return None
    params: dict = {**_visible_params(user, scope), "limit": max(1, min(int(limit), 200))}
    systems = {
        "cccd": IdentifierSystem.CCCD,
        "bhyt": IdentifierSystem.BHYT,
        "passport": IdentifierSystem.PASSPORT,
        "record_number": IdentifierSystem.MRN,
    }
    if kind in systems:
        params.update(system=systems[kind], values=[value])
        return kind, _IDENTIFIER_SQL, params
    if kind == "record_serial":
        from patients.services import record_number_format

        codes = Facility.objects.filter(pk__in=scope.facility_ids).values_list("code", flat=True)
        params.update(
            system=IdentifierSystem.MRN,
            values=[record_number_format(c, int(value)) for c in codes],
        )
        return kind, _IDENTIFIER_SQL, params
    if kind in ("bhxh_or_phone", "phone"):
        # a phone-like value is never a BHXH number; the system then matches no identifier row
        system = IdentifierSystem.SOCIAL_INSURANCE if kind == "bhxh_or_phone" else "-"
        params.update(system=system, value=value)
        return kind, _PHONE_SQL, params
    words = value.split()
    if not words:
        return None
    params.update({f"w{n}": f"(^| ){w}" for n, w in enumerate(words)})
    params.update(q=value, cap=NAME_RANK_CAP)
    return kind, _name_sql(len(words)), params


def patient_search_queryset(*, user, query: str, limit: int = 50) -> RawQuerySet:
    """The query that answers the search box, as a RawQuerySet (not audited; for benchmarks)."""
    planned = patient_search_sql(user=user, query=query, limit=limit)
    if planned is None:
        return Patient.objects.raw(f"SELECT * FROM {_P} WHERE false")  # noqa: S608
    return Patient.objects.raw(planned[1], planned[2])


def patient_search(*, user, query: str, limit: int = 50) -> list[Patient]:
    """One search box: CCCD, card, BHXH number, phone, record number or name (diacritics optional).

    Visible patients only, best first; each patient returned gets an audit entry.
    """
    if not permissions.has_perm_anywhere(user, SEARCH_PERM):
        raise PermissionDenied
    planned = patient_search_sql(user=user, query=query, limit=limit)
    if planned is None:
        return []
    kind, sql, params = planned
    results = list(Patient.objects.raw(sql, params))
    if results:
        audit_record_many(
            actor=user,
            action="patient.search",
            patient_ids=[p.pk for p in results],
            detail={"kind": kind, "count": len(results)},
        )
    return results


def patient_find_by_identifier(*, system: str, value: str, actor=None) -> Patient | None:
    """City-wide exact lookup (e.g. reception finds a patient registered at another unit before
    enrolling them). With `actor`, the lookup that found someone is audited."""
    if system not in (*CITY_UNIQUE_SYSTEMS, IdentifierSystem.MRN):
        return None
    value = idchecks.normalize(value)
    if not value:
        return None
    ident = (
        PatientIdentifier.objects.filter(system=system, value=value, voided_at__isnull=True)
        .select_related("patient")
        .order_by("id")
        .first()
    )
    if ident is None:
        return None
    patient = ident.patient
    while patient.status == PatientStatus.MERGED and patient.merged_into_id:
        patient = patient.merged_into
    if actor is not None:
        audit_record(
            actor=actor,
            action="patient.find_by_identifier",
            target=patient,
            patient_id=patient.pk,
            detail={"system": system},
        )
    return patient


def patient_similar(*, data, exclude_id: int | None = None, limit: int = 10) -> list[Candidate]:
    """Possible duplicates of the entered demographics (a PatientInput), best first."""
    birth_year = data.birth_date.year if data.birth_date else data.birth_year
    probe = Probe(
        full_name=clean_text(data.full_name),
        sex=data.sex,
        birth_date=data.birth_date,
        birth_year=birth_year,
        commune_id=(data.commune_code or "").strip() or None,
        address_line=clean_text(data.address_line),
        legacy_address=clean_text(data.legacy_address),
        phone=normalize_phone(data.phone),
    )
    return similar_candidates(probe, exclude_ids=[exclude_id] if exclude_id else None, limit=limit)


# --- Summary ---------------------------------------------------------------------------------


@dataclass
class PatientSummary:
    """What the patient summary page shows."""

    patient: Patient
    identifiers: list[PatientIdentifier] = field(default_factory=list)
    record_numbers: list[PatientIdentifier] = field(default_factory=list)
    shared_with: list[Facility] = field(default_factory=list)
    open_merges: list[PatientMerge] = field(default_factory=list)
    duplicate_candidates: list[DuplicateCandidate] = field(default_factory=list)
    own_facility_ids: list[int] = field(default_factory=list)

    @property
    def record_number_here(self) -> dict[int, str]:
        return {r.facility_id: r.value for r in self.record_numbers}


def patient_summary(*, user, pk) -> PatientSummary:
    """The patient with live identifiers, record numbers, shares and open merges (audited)."""
    patient = patient_get(user=user, pk=pk, audit_action="patient.view_summary")
    live = list(
        patient.identifiers.filter(voided_at__isnull=True)
        .select_related("facility")
        .order_by("system", "id")
    )
    group_names = PatientGroupObjectPermission.objects.filter(
        content_object=patient, permission_id=_view_permission_id()
    ).values_list("group__name", flat=True)
    codes = [n.removeprefix("facility:") for n in group_names if n.startswith("facility:")]
    record_numbers = [i for i in live if i.system == IdentifierSystem.MRN]
    return PatientSummary(
        patient=patient,
        identifiers=[i for i in live if i.system != IdentifierSystem.MRN],
        record_numbers=record_numbers,
        shared_with=list(Facility.objects.filter(code__in=codes).order_by("code")),
        open_merges=list(
            PatientMerge.objects.filter(survivor=patient, reversed_at__isnull=True)
            .select_related("merged", "merged_by")
            .order_by("-merged_at")
        ),
        duplicate_candidates=list(
            DuplicateCandidate.objects.filter(
                patient=patient,
                candidate__in=patient_visible_qs(user=user),
            )
            .select_related("candidate")
            .order_by("-score", "candidate_id")
        ),
        own_facility_ids=sorted(
            {
                r.facility_id
                for r in record_numbers
                if permissions.has_perm_at(user, VIEW_PERM, r.facility_id)
            }
        ),
    )


__all__ = [
    "PatientSummary",
    "patient_find_by_identifier",
    "patient_get",
    "patient_search",
    "patient_search_queryset",
    "patient_similar",
    "patient_summary",
    "patient_visible_qs",
]
