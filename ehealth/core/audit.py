"""Writing the audit trail. Call `audit_record` inside the transaction of the change it records."""

from __future__ import annotations

import json
from typing import Any

from django.db import connection, models
from django.utils import timezone

from ehealth.core import context
from ehealth.core.models import AuditEvent


def audit_record(
    *,
    actor: Any,
    action: str,
    target: models.Model | None = None,
    patient_id: int | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    """Append one audit entry: who (and in which role and facility), what, on which record, from where.

    `detail` must hold ids and codes, never names or other identifying text.
    """
    ctx = context.current()
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return AuditEvent.objects.create(
        actor=actor_obj,
        actor_username=getattr(actor_obj, "username", "") or "",
        role=ctx.role,
        facility_id=ctx.facility_id,
        action=action,
        target_type=target._meta.label if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        patient_id=patient_id,
        ip_address=ctx.ip_address,
        user_agent=ctx.user_agent,
        channel=ctx.channel,
        detail=detail or {},
    )


def audit_insert_sql(source: str, id_column: str, target_type: str) -> str:
    """An INSERT appending `audit_record`'s entry for each row of `source` (a CTE of the same
    statement), the record and patient being its `id_column`: the read and its audit entry in
    one statement, one round trip (a FHIR read's). Parameters: `audit_insert_params`."""
    return (
        f"INSERT INTO {AuditEvent._meta.db_table} (at, actor_id, actor_username, role, "  # noqa: S608
        "facility_id, action, target_type, target_id, patient_id, ip_address, user_agent, "
        "channel, detail) SELECT %(audit_at)s::timestamptz, %(audit_actor)s::bigint, "
        "%(audit_username)s::text, %(audit_role)s::text, %(audit_facility)s::bigint, "
        f"%(audit_action)s::text, '{target_type}', {source}.{id_column}::text, "
        f"{source}.{id_column}, %(audit_ip)s::inet, %(audit_agent)s::text, "
        f"%(audit_channel)s::text, '{{}}'::jsonb FROM {source}"
    )


def audit_insert_params(*, actor: Any, action: str) -> dict[str, Any]:
    """The values `audit_record` would write (no detail), for `audit_insert_sql`."""
    ctx = context.current()
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    return {
        "audit_at": timezone.now(),
        "audit_actor": getattr(actor_obj, "pk", None),
        "audit_username": getattr(actor_obj, "username", "") or "",
        "audit_role": ctx.role,
        "audit_facility": ctx.facility_id,
        "audit_action": action,
        "audit_ip": ctx.ip_address,
        "audit_agent": ctx.user_agent,
        "audit_channel": ctx.channel,
    }


_INSERT_MANY = """
INSERT INTO core_auditevent (at, actor_id, actor_username, role, facility_id, action, target_type,
                             target_id, patient_id, ip_address, user_agent, channel, detail)
SELECT now(), %s, %s, %s, %s, %s, 'patients.Patient', pid::text, pid, %s::inet, %s, %s, %s::jsonb
FROM unnest(%s::bigint[]) AS pid
"""


def audit_record_many(
    *, actor: Any, action: str, patient_ids: list[int], detail: dict | None = None
) -> None:
    """One entry per patient shown (a search result page, a list): each chart's trail stays complete.

    One INSERT statement for all rows (atomic on its own, one round trip): search pages are hot.
    """
    if not patient_ids:
        return
    ctx = context.current()
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_MANY,
            [
                getattr(actor_obj, "pk", None),
                getattr(actor_obj, "username", "") or "",
                ctx.role,
                ctx.facility_id,
                action,
                ctx.ip_address,
                ctx.user_agent,
                ctx.channel,
                json.dumps(detail or {}),
                list(patient_ids),
            ],
        )


_INSERT_EACH = """
INSERT INTO core_auditevent (at, actor_id, actor_username, role, facility_id, action, target_type,
                             target_id, patient_id, ip_address, user_agent, channel, detail)
SELECT %s, %s, %s, %s, %s, %s, t.target_type, t.target_id, t.patient_id, %s, %s, %s, t.detail
FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::jsonb[])
     AS t(target_type, target_id, patient_id, detail)
"""


def audit_record_each(
    *, actor: Any, action: str, entries: list[tuple[models.Model | None, int | None, dict]]
) -> None:
    """One entry per (target, patient id, detail), each as `audit_record` writes it, in one INSERT
    (a batch of registrations: one statement instead of one per record)."""
    if not entries:
        return
    ctx = context.current()
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    ip_field = AuditEvent._meta.get_field("ip_address")
    with connection.cursor() as cursor:
        cursor.execute(
            _INSERT_EACH,
            [
                timezone.now(),
                getattr(actor_obj, "pk", None),
                getattr(actor_obj, "username", "") or "",
                ctx.role,
                ctx.facility_id,
                action,
                ip_field.get_db_prep_save(ctx.ip_address, connection),
                ctx.user_agent,
                ctx.channel,
                [target._meta.label if target is not None else "" for target, _p, _d in entries],
                [str(target.pk) if target is not None else "" for target, _p, _d in entries],
                [patient_id for _t, patient_id, _d in entries],
                [json.dumps(detail or {}) for _t, _p, detail in entries],
            ],
        )
