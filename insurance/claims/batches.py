"""Batches of claim dossiers: the insurance officer's services.

`batch_create`, `batch_submit`, `batch_cancel`, `batch_answers_request`, `exchange_review`: each
one transaction, permission `insurance.manage_claims` at the batch's facility, audited. Sending and
answers run in the worker (`insurance.claims.sending`, re-exported here for convenience).
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from functools import partial
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record, audit_record_many
from ehealth.core.exceptions import ConcurrentEditError, DomainError
from insurance.claims.batch_models import (
    HOLDING_ITEM_STATES,
    UNSENT_ITEM_STATES,
    BatchItem,
    BatchStatus,
    ClaimBatch,
    ItemState,
    PortalExchangeLog,
)
from insurance.claims.models import Dossier, DossierStatus, DossierVersion
from insurance.claims.sending import (  # noqa: F401 - re-exported for the tasks, pages and tests
    ACCOUNT,
    EXCLUDED,
    REFUSED,
    SENT_OK,
    SKIPPED,
    TRANSIENT,
    AnswersSummary,
    SendSummary,
    answers_fetch,
    batch_after_answers,
    batch_recount,
    batch_send,
    batch_send_finish,
    batches_resume_stale,
    claims_client,
    idempotency_key,
    issue,
    item_exclude,
    item_send,
)

logger = logging.getLogger(__name__)


class BatchError(DomainError):
    """A batch operation refused, with a Vietnamese message for the officer."""


def _require_claims_perm(actor, facility) -> None:
    from patients.clinical.common import require_perm

    require_perm(actor, "insurance.manage_claims", facility.pk)


def _now() -> datetime:
    return timezone.now()


def _batch_for_update(batch: ClaimBatch, *, row_version: int | None) -> ClaimBatch:
    locked = (
        ClaimBatch.objects.select_for_update(of=("self",))
        .select_related("facility")
        .filter(pk=batch.pk, facility_id=batch.facility_id)
        .first()
    )
    if locked is None:
        raise Http404
    if row_version is not None and int(row_version) != locked.row_version:
        raise ConcurrentEditError(
            _("Lô hồ sơ vừa được người khác thay đổi: tải lại trang rồi thử lại.")
        )
    return locked


# --- selectors used by the services (and the pages) ------------------------------------------


def ready_dossiers(
    *,
    facility,
    year: int,
    month: int,
    department_code: str | None = None,
    visit_type: str | None = None,
):
    """READY dossiers of a facility and settlement period not held by a live batch."""
    qs = Dossier.objects.filter(
        facility=facility,
        settlement_year=year,
        settlement_month=month,
        status=DossierStatus.READY,
    )
    if department_code:
        qs = qs.filter(department_code=department_code)
    if visit_type:
        qs = qs.filter(visit_type=visit_type)
    held = BatchItem.objects.filter(state__in=HOLDING_ITEM_STATES).values("dossier_id")
    return qs.exclude(pk__in=held).order_by("id")


# --- officer services ------------------------------------------------------------------------


@transaction.atomic
def batch_create(
    *,
    actor,
    facility,
    year: int,
    month: int,
    department_code: str | None = None,
    visit_type: str | None = None,
) -> ClaimBatch:
    """Group the READY dossiers of a period (optionally one department, one visit type) into a
    draft batch. A dossier already in a live batch is left out."""
    _require_claims_perm(actor, facility)
    try:
        year, month = int(year), int(month)
    except (TypeError, ValueError):
        raise BatchError(_("Kỳ quyết toán không hợp lệ.")) from None
    if not (1 <= month <= 12 and 2000 <= year <= 2100):
        raise BatchError(_("Kỳ quyết toán không hợp lệ."))
    department_code = (department_code or "").strip()
    visit_type = (visit_type or "").strip()
    candidates = list(
        ready_dossiers(
            facility=facility,
            year=year,
            month=month,
            department_code=department_code,
            visit_type=visit_type,
        )
        .select_for_update(of=("self",))
        .select_related("encounter")
    )
    # Another officer's batch may have taken some while we waited for the locks: a new statement
    # sees what they committed.
    taken = set(
        BatchItem.objects.filter(
            dossier_id__in=[d.pk for d in candidates], state__in=HOLDING_ITEM_STATES
        ).values_list("dossier_id", flat=True)
    )
    dossiers = [d for d in candidates if d.pk not in taken and d.status == DossierStatus.READY]
    if not dossiers:
        raise BatchError(
            _("Không có hồ sơ sẵn sàng gửi cho kỳ %(month)s/%(year)s với điều kiện đã chọn.")
            % {"month": month, "year": year}
        )
    user = actor if getattr(actor, "is_authenticated", False) else None
    batch = ClaimBatch.objects.create(
        facility=facility,
        year=year,
        month=month,
        department_code=department_code,
        visit_type=visit_type,
        created_by=user,
    )
    BatchItem.objects.bulk_create(
        [
            BatchItem(
                batch=batch,
                dossier=d,
                version_number=d.current_version,
                idempotency_key=idempotency_key(
                    facility_code=facility.code, claim_key=d.claim_key, version=d.current_version
                ),
                amount_hospital=d.total_hospital,
                amount_claimed=d.total_fund,
            )
            for d in dossiers
        ]
    )
    batch_recount(batch.pk)
    batch.refresh_from_db()
    audit_record(
        actor=actor,
        action="claims.batch_create",
        target=batch,
        detail={
            "year": year,
            "month": month,
            "department_code": department_code,
            "visit_type": visit_type,
            "dossiers": len(dossiers),
        },
    )
    audit_record_many(
        actor=actor,
        action="claims.batch_add_dossier",
        patient_ids=[d.encounter.patient_id for d in dossiers],
        detail={"batch_id": batch.pk},
    )
    return batch


def _accepted_icd(tables: dict[str, bytes], on: date) -> frozenset[str]:
    from lxml import etree

    from ehealth.core.models import IcdCode

    root = etree.fromstring(tables["XML1"])
    codes = {(root.findtext(".//MA_BENH_CHINH") or "").strip()}
    codes |= {c.strip() for c in (root.findtext(".//MA_BENH_KT") or "").split(";")}
    codes.discard("")
    return frozenset(
        IcdCode.objects.filter(code__in=codes, billable=True, valid_from__lte=on)
        .exclude(valid_to__lt=on)
        .values_list("code", flat=True)
    )


def dossier_revalidate(*, dossier: Dossier, version: DossierVersion) -> list[dict]:
    """Check a stored version again before it is sent: the envelope's signature (when the unit's
    certificate is configured), the envelope's tables equal the stored ones, and every rule of
    `dossier_validate` with the ICD-10 catalog as it is now. Errors as ValidationIssue dicts."""
    from insurance.claims.envelope import EnvelopeError, envelope_tables, envelope_verify
    from insurance.claims.validation import dossier_validate

    if not version.envelope:
        return [issue("ENVELOPE_MISSING", _("Hồ sơ chưa có tệp GIAMDINHHS đã ký: lập lại hồ sơ."))]
    envelope = version.envelope.encode("utf-8")
    cert_file = getattr(settings, "CLAIMS_SIGNING_CERT_FILE", "")
    try:
        if cert_file:
            signed = envelope_verify(envelope, cert_pem=Path(cert_file).read_bytes())
        else:
            signed = envelope
        decoded = envelope_tables(signed)
    except (EnvelopeError, OSError, ValueError) as exc:
        logger.warning("claims: envelope check failed for dossier id=%s: %s", dossier.pk, exc)
        return [
            issue(
                "SIGNATURE",
                _("Chữ ký số của hồ sơ không hợp lệ hoặc tệp đã bị sửa: lập lại hồ sơ."),
                "CHUKYDONVI",
            )
        ]
    stored = {code: xml.encode("utf-8") for code, xml in version.tables.items() if code != "XML0"}
    if len(decoded) != 1 or decoded[0] != stored:
        return [
            issue(
                "ENVELOPE_MISMATCH",
                _("Nội dung tệp GIAMDINHHS khác các bảng đã lưu: lập lại hồ sơ."),
            )
        ]
    enc = dossier.encounter
    on = (enc.ended_at or enc.started_at).date()  # as `insurance.claims.data` reads the catalog
    tables = {code: xml.encode("utf-8") for code, xml in version.tables.items()}
    return [i.as_dict() for i in dossier_validate(tables, accepted_icd=_accepted_icd(tables, on))]


@transaction.atomic
def batch_submit(*, actor, batch: ClaimBatch, row_version: int | None = None) -> ClaimBatch:
    """Submit a draft batch (or a failed one again): each pending dossier is validated again and
    an invalid one is excluded with its errors (never sent); the batch becomes `submitting` and
    the sending task is queued once the transaction commits."""
    from insurance.claims.tasks import batch_send_task

    _require_claims_perm(actor, batch.facility)
    batch = _batch_for_update(batch, row_version=row_version)
    if batch.status not in (BatchStatus.DRAFT, BatchStatus.FAILED):
        raise BatchError(
            _("Lô đang ở trạng thái “%(status)s”: không gửi được.")
            % {"status": batch.get_status_display()}
        )
    if not settings.INSURER_PORTAL_URL:
        raise BatchError(_("Chưa cấu hình địa chỉ cổng BHXH: chưa gửi được hồ sơ."))
    items = list(
        BatchItem.objects.select_for_update(of=("self",))
        .filter(batch=batch, state=ItemState.PENDING)
        .order_by("id")
    )
    dossiers = {
        d.pk: d
        for d in Dossier.objects.select_for_update(of=("self",))
        .select_related("encounter")
        .filter(pk__in=[i.dossier_id for i in items])
        .order_by("id")
    }
    versions = {
        (v.dossier_id, v.number): v
        for v in DossierVersion.objects.filter(
            dossier_id__in=list(dossiers), number__in={d.current_version for d in dossiers.values()}
        )
    }
    excluded = 0
    for item in items:
        dossier = dossiers[item.dossier_id]
        if dossier.status != DossierStatus.READY:
            item_exclude(
                item,
                dossier,
                [
                    issue(
                        "NOT_READY",
                        _("Hồ sơ không còn ở trạng thái sẵn sàng gửi (hiện: %(status)s).")
                        % {"status": dossier.get_status_display()},
                    )
                ],
                invalidate=False,
            )
            excluded += 1
            continue
        if item.version_number != dossier.current_version:  # rebuilt since the batch was made
            item.version_number = dossier.current_version
            item.idempotency_key = idempotency_key(
                facility_code=batch.facility.code,
                claim_key=dossier.claim_key,
                version=dossier.current_version,
            )
            item.amount_hospital, item.amount_claimed = dossier.total_hospital, dossier.total_fund
            item.save()
        version = versions.get((dossier.pk, dossier.current_version))
        errors = (
            dossier_revalidate(dossier=dossier, version=version)
            if version is not None
            else [issue("VERSION_MISSING", _("Không tìm thấy phiên bản hồ sơ: lập lại hồ sơ."))]
        )
        if errors:
            item_exclude(item, dossier, errors, invalidate=True)
            excluded += 1
    sendable = BatchItem.objects.filter(batch=batch, state__in=UNSENT_ITEM_STATES).exists()
    now = _now()
    if sendable:
        batch.move_to(BatchStatus.SUBMITTING)
        batch.last_error = ""
    else:
        # Nothing left to send (every dossier excluded): the batch stops here, failed.
        batch.status = BatchStatus.FAILED
        batch.last_error = _("Không còn hồ sơ nào gửi được: mọi hồ sơ trong lô đều có lỗi.")
        batch.finished_at = now
    batch.submitted_by = actor if getattr(actor, "is_authenticated", False) else None
    batch.submitted_at = now
    batch.row_version += 1
    batch.save()
    batch_recount(batch.pk)
    batch.refresh_from_db()
    audit_record(
        actor=actor,
        action="claims.batch_submit",
        target=batch,
        detail={"excluded": excluded, "status": batch.status, "row_version": batch.row_version},
    )
    if sendable:
        transaction.on_commit(partial(batch_send_task.delay, batch.pk))
    return batch


@transaction.atomic
def batch_cancel(*, actor, batch: ClaimBatch, row_version: int | None = None) -> ClaimBatch:
    """Cancel a draft batch: its dossiers are free to go into another batch."""
    _require_claims_perm(actor, batch.facility)
    batch = _batch_for_update(batch, row_version=row_version)
    if not batch.can_move_to(BatchStatus.CANCELLED):
        raise BatchError(_("Chỉ hủy được lô chưa gửi."))
    BatchItem.objects.filter(batch=batch, state=ItemState.PENDING).update(
        state=ItemState.EXCLUDED, last_error=_("Lô đã hủy."), updated_at=_now()
    )
    batch.move_to(BatchStatus.CANCELLED)
    batch.finished_at = _now()
    batch.row_version += 1
    batch.save()
    batch_recount(batch.pk)
    batch.refresh_from_db()
    audit_record(actor=actor, action="claims.batch_cancel", target=batch)
    return batch


@transaction.atomic
def batch_answers_request(*, actor, batch: ClaimBatch) -> None:
    """Ask for the insurer's answers of a batch now (queued; the periodic poll does it anyway)."""
    from insurance.claims.tasks import answers_fetch_task

    _require_claims_perm(actor, batch.facility)
    audit_record(actor=actor, action="claims.batch_answers_request", target=batch)
    transaction.on_commit(partial(answers_fetch_task.delay, batch.pk))


@transaction.atomic
def exchange_review(*, actor, exchange: PortalExchangeLog, note: str = "") -> PortalExchangeLog:
    """Mark an exchange with the gateway as looked at (the only change its log allows)."""
    if exchange.facility_id is None:
        raise Http404
    from ehealth.core.models import Facility

    _require_claims_perm(actor, Facility(pk=exchange.facility_id))
    row = PortalExchangeLog.objects.select_for_update().get(pk=exchange.pk)
    row.reviewed = True
    row.reviewed_by = actor if getattr(actor, "is_authenticated", False) else None
    row.reviewed_at = _now()
    row.review_note = (note or "").strip()[:1000]
    row.save(update_fields=list(PortalExchangeLog.REVIEW_FIELDS))
    audit_record(actor=actor, action="claims.exchange_review", target=row)
    return row
