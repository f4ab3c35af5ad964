"""Services of the claim dossiers, step 1: build (and rebuild after a rejection) a version.

`dossier_build` reads the record (`data.dossier_data`), builds the tables (`builders`),
validates them (`validation`), signs the GIAMDINHHS envelope (`envelope`, `signing`) and stores
a new `DossierVersion`; the dossier becomes `invalid` (errors listed) or `ready`. A dossier that
is sent, accepted or paid is never rebuilt; a rejected one is corrected into a new version while
the old versions stay readable (issue 5 "Dossiers").
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record
from ehealth.core.exceptions import DomainError
from insurance.claims.batch_models import LIVE_ITEM_STATES
from insurance.claims.builders import LOCAL, build_tables, totals
from insurance.claims.data import ChargeInput, dossier_data
from insurance.claims.envelope import envelope_element, envelope_sign
from insurance.claims.models import BUILDABLE, Dossier, DossierStatus, DossierVersion
from insurance.claims.signing import SigningMaterial, signing_material
from insurance.claims.validation import dossier_validate

CLAIMABLE_STATUSES = ("concluded", "discharged")


class DossierNotBuildable(DomainError):
    """The encounter cannot (or can no longer) be made into a new dossier version."""


def _require_claims_perm(actor, facility) -> None:
    from patients.clinical.common import require_perm

    require_perm(actor, "insurance.manage_claims", facility.pk)


@transaction.atomic
def dossier_build(
    *,
    actor,
    facility,
    encounter,
    reason: str = "",
    charges: list[ChargeInput] | None = None,
    material: SigningMaterial | None = None,
) -> DossierVersion:
    """Build a new version of the encounter's dossier (creating the dossier the first time)."""
    from patients.models import Encounter

    _require_claims_perm(actor, facility)
    enc = Encounter.objects.select_for_update(of=("self",)).filter(pk=encounter.pk).first()
    if enc is None or enc.voided_at is not None or enc.facility_id != facility.pk:
        raise Http404
    if enc.status not in CLAIMABLE_STATUSES:
        raise DossierNotBuildable(_("Chỉ lập hồ sơ cho lượt khám đã kết thúc hoặc đã ra viện."))
    if not enc.insurance_card_code:
        raise DossierNotBuildable(_("Lượt khám không dùng thẻ BHYT: không lập hồ sơ giám định."))
    dossier = Dossier.objects.select_for_update().filter(encounter=enc).first()
    if dossier is None:
        try:
            with transaction.atomic():
                dossier = Dossier.objects.create(
                    encounter=enc, facility=facility, claim_key=enc.claim_key
                )
        except IntegrityError:
            dossier = Dossier.objects.select_for_update().get(encounter=enc)
    if dossier.status not in BUILDABLE:
        raise DossierNotBuildable(
            _("Hồ sơ đang ở trạng thái “%(status)s”: không lập lại được.")
            % {"status": dossier.get_status_display()}
        )
    if dossier.pk and dossier.batch_items.filter(state__in=LIVE_ITEM_STATES).exists():
        raise DossierNotBuildable(
            _("Hồ sơ đang nằm trong một lô chờ gửi: huỷ lô hoặc chờ kết quả rồi mới lập lại.")
        )
    if dossier.status == DossierStatus.REJECTED and not reason.strip():
        raise DossierNotBuildable(_("Ghi lý do sửa hồ sơ sau khi bị từ chối."))

    data = dossier_data(encounter=enc, charges=charges)
    tables = build_tables(data)
    issues = dossier_validate(tables, accepted_icd=data.accepted_icd)
    material = material or signing_material()
    body = {code: xml for code, xml in tables.items() if code != "XML0"}
    envelope = envelope_sign(
        envelope_element(
            facility_code=facility.code,
            made_on=timezone.now().astimezone(LOCAL).date(),
            dossiers=[body],
        ),
        key_pem=material.key_pem,
        cert_pem=material.cert_pem,
    )
    number = dossier.current_version + 1
    version = DossierVersion.objects.create(
        dossier=dossier,
        number=number,
        tables={code: xml.decode("utf-8") for code, xml in tables.items()},
        envelope=envelope.decode("utf-8"),
        errors=[i.as_dict() for i in issues],
        reason=reason.strip(),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    t = totals(data)
    period = (enc.ended_at or enc.started_at).astimezone(LOCAL)
    dossier.move_to(DossierStatus.INVALID if issues else DossierStatus.READY)
    dossier.current_version = number
    dossier.visit_type = enc.visit_type
    dossier.department_code = data.encounter.department_code
    dossier.settlement_year, dossier.settlement_month = period.year, period.month
    dossier.total_hospital, dossier.total_fund = t.hospital, t.fund
    dossier.row_version += 1
    dossier.save()
    audit_record(
        actor=actor,
        action="claims.dossier_build",
        target=dossier,
        patient_id=enc.patient_id,
        detail={"version": number, "errors": len(issues), "status": dossier.status},
    )
    return version


def dossier_version(*, actor, dossier: Dossier, number: int | None = None) -> DossierVersion:
    """One version of a dossier (the current one by default); older versions stay readable.

    Reading a dossier is reading patient data: audited."""
    _require_claims_perm(actor, dossier.facility)
    version = dossier.versions.get(number=number or dossier.current_version)
    audit_record(
        actor=actor,
        action="claims.dossier_view",
        target=dossier,
        patient_id=dossier.encounter.patient_id,
        detail={"version": version.number},
    )
    return version
