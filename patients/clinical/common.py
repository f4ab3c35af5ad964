"""Helpers shared by the clinical services: permission gate, row lock, version check, lock state,
ICD-10 lookup and state moves with Vietnamese errors.

Concurrency rule (two people editing one visit never lose each other's work): every write of the
encounter row takes the `expected_version` the editor loaded and runs under `select_for_update`.
A stale version is refused with `ConcurrentEditError`, except that a *section* save is merged
when none of the fields it writes changed since that version — the fields each versioned write
touched are read back from the audit trail, which is written in the same transaction (ids and
field names only). So a nurse saving the history while the doctor writes findings both succeed,
but two people rewriting the same section: the second is refused, never silently overwritten.
"""

from __future__ import annotations

from datetime import date
from functools import cache

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core import catalogs, permissions
from ehealth.core.exceptions import ConcurrentEditError, DomainError
from ehealth.core.models import AuditEvent, Facility, IcdCode
from ehealth.core.sqlrows import Prepared, columns
from patients.models import Encounter, IllegalTransition
from patients.validation import VN_TZ

ENCOUNTER_LABEL = Encounter._meta.label
# Audit actions of writes that bump Encounter.version; their detail carries "fields" and "version".
VERSIONED_ACTIONS = (
    "encounter.start_examination",
    "encounter.update_notes",
    "encounter.await_results",
    "encounter.resume_examination",
    "encounter.conclude",
    "encounter.cancel",
    "encounter.discharge",
    "diagnosis.set",
    "diagnosis.add",  # patients.clinical.diagnoses: one diagnosis at a time
    "diagnosis.void",
)


class EncounterLocked(DomainError):
    """The encounter is concluded, discharged or cancelled: corrections go in as addenda."""


def local_today() -> date:
    """Today in Asia/Ho_Chi_Minh (queue days, follow-up dates)."""
    return timezone.localdate(timezone=VN_TZ)


def local_day(moment) -> date:
    return timezone.localdate(moment, timezone=VN_TZ)


def require_perm(actor, perm: str, facility_id: int | None) -> None:
    """PermissionDenied unless the actor holds `perm` through a role at the facility."""
    if not permissions.has_perm_at(actor, perm, facility_id):
        raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))


def encounter_for_update(*, encounter_id: int) -> Encounter:
    """The encounter row, locked for the rest of the transaction (Http404 when missing)."""
    encounter = Encounter.objects.select_for_update(of=("self",)).filter(pk=encounter_id).first()
    if encounter is None or encounter.voided_at is not None:
        raise Http404
    return encounter


def encounters_for_update(ids) -> dict[int, Encounter]:
    """The encounter rows of these ids (voided ones too), locked in id order (two batches never
    wait on each other in a circle), by id: `Encounter.objects.select_for_update(of=("self",))
    .filter(pk__in=ids).order_by("pk")`, written by hand and prepared (the batches of a
    partner's transaction: the ORM compiled it in several times its run)."""
    ids = sorted({i for i in map(int, ids) if 0 < i < 2**63})  # others match no row
    if not ids:
        return {}
    return _encounters_locked_statement().by_pk({"ids": ids}, Encounter)


@cache
def _encounters_locked_statement() -> Prepared:
    sql = (
        f"SELECT {columns(Encounter, 'e')} FROM {Encounter._meta.db_table} e "  # noqa: S608
        f"WHERE e.id = ANY(%(ids)s::bigint[]) ORDER BY e.id FOR UPDATE OF e"
    )
    return Prepared("encounters_for_update", sql)


def require_at_facility(encounter: Encounter, facility: Facility) -> None:
    """Services act on encounters of the acting membership's facility only (else 404)."""
    if encounter.facility_id != facility.pk:
        raise Http404


def ensure_unlocked(encounter: Encounter) -> None:
    if encounter.is_locked:
        raise EncounterLocked(
            _("Lượt khám đã kết thúc và được khoá. Mọi chỉnh sửa phải ghi thành phần bổ sung.")
        )


def stale_message() -> str:
    return _(
        "Hồ sơ lượt khám đã được người khác cập nhật sau khi bạn mở trang. "
        "Vui lòng tải lại để xem thay đổi rồi lưu lại."
    )


def fields_changed_since(encounter: Encounter, version: int) -> set[str] | None:
    """Fields written by versioned saves after `version`, from the audit trail; None when a
    later save did not record its fields (then any stale save is a conflict)."""
    events = AuditEvent.objects.filter(
        patient_id=encounter.patient_id,
        target_type=ENCOUNTER_LABEL,
        target_id=str(encounter.pk),
        action__in=VERSIONED_ACTIONS,
        detail__version__gt=version,
    ).values_list("detail", flat=True)
    changed: set[str] = set()
    seen_versions: set[int] = set()
    for detail in events:
        if "fields" not in detail:
            return None
        changed.update(detail["fields"])
        seen_versions.add(detail["version"])
    # Every version after ours must be accounted for, or we cannot tell what changed.
    if seen_versions != set(range(version + 1, encounter.version + 1)):
        return None
    return changed


def check_version(obj, expected_version: int | None, *, fields: set[str] | None = None) -> None:
    """Refuse a stale `expected_version` (ConcurrentEditError).

    With `fields` (a section save of an encounter), a stale version is accepted when none of
    those fields changed since: the other person's work and ours are both kept.
    """
    try:
        expected = int(expected_version)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConcurrentEditError(stale_message()) from None
    if expected == obj.version:
        return
    if expected > obj.version or fields is None or not isinstance(obj, Encounter):
        raise ConcurrentEditError(stale_message())
    changed = fields_changed_since(obj, expected)
    if changed is None or changed & fields:
        raise ConcurrentEditError(stale_message())


def icd_in_force(code: str, on: date) -> IcdCode | None:
    """The ICD-10 code as in force on `on` (the newest version), or None."""
    code = (code or "").strip().upper()
    if not code:
        return None
    return catalogs.icd_in_force(on=on).filter(code=code).order_by("-valid_from").first()


def move(encounter: Encounter, target: str) -> None:
    """Apply a state move, or raise a Vietnamese ValidationError on `status`."""
    try:
        encounter.move_to(target)
    except IllegalTransition:
        raise ValidationError(
            {
                "status": [
                    _("Không thể chuyển lượt khám từ trạng thái “%(current)s” sang “%(target)s”.")
                    % {
                        "current": encounter.get_status_display(),
                        "target": _status_label(target),
                    }
                ]
            }
        ) from None


def _status_label(value: str) -> str:
    from patients.clinical_choices import EncounterStatus

    try:
        return str(EncounterStatus(value).label)
    except ValueError:
        return value


def locked_encounter(
    *,
    actor,
    facility: Facility,
    encounter: Encounter | int,
    perm: str,
    allow_locked: bool = False,
) -> Encounter:
    """The common opening of an encounter write: permission at the facility, the row locked,
    the encounter belongs to the facility (else 404), not locked (unless allowed)."""
    require_perm(actor, perm, facility.pk)
    encounter_id = encounter.pk if isinstance(encounter, Encounter) else int(encounter)
    row = encounter_for_update(encounter_id=encounter_id)
    require_at_facility(row, facility)
    if not allow_locked:
        ensure_unlocked(row)
    return row
