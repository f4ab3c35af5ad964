"""The permission gate and small helpers shared by the insurance officer's pages."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from insurance.claims.workspace import MANAGE_CLAIMS
from patients.clinical.corrections import CORRECTION_ANCHOR
from patients.views_clinical.base import (  # noqa: F401  (re-exported for the claims views)
    can,
    clinic_permission_required,
    facility_of,
    is_htmx,
    pdf_response,
)

claims_required = clinic_permission_required(MANAGE_CLAIMS)

# Rules whose defect lies in the money of the lines: fixed by recalculating the bill.
MONEY_RULES = {"LINE_MONEY_IDENTITY", "OTHER_SOURCES_SUM", "TOTAL_MISMATCH"}
# Fields of the coded diagnoses: on a locked encounter they are corrected in the page's
# "Sửa chẩn đoán (sau khi kết thúc)" section.
DIAGNOSIS_FIELDS = {"MA_BENH_CHINH", "MA_BENH_KT", "CHAN_DOAN_RV"}


def query(**params) -> str:
    """'?a=1&b=2' without the empty parameters."""
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(kept) if kept else ""


def fix_link(issue: dict, encounter) -> tuple[str, str]:
    """The page where the record behind a validation issue is corrected, and its name.

    The issue carries a URL-name hint (`fix_url_name_hint`, from `insurance.claims.validation`);
    a diagnosis or record defect opens the visit page (the stay page for an inpatient stay), an
    identity or card defect the patient's record, a catalog code the catalog, and a money defect
    the cashier's bill of the encounter, where the charges are recalculated.
    """
    hint = issue.get("fix_url_name_hint") or ""
    rule = issue.get("rule_code") or ""
    try:
        if rule in MONEY_RULES or hint.startswith("cashier:"):
            return (
                reverse("cashier:bill", kwargs={"encounter_id": encounter.pk}),
                _("Bảng viện phí (thu ngân)"),
            )
        if hint == "patients:edit":
            return (
                reverse("patients:edit", kwargs={"pk": encounter.patient_id}),
                _("Thông tin hành chính của người bệnh"),
            )
        if hint.startswith("admin:"):
            return reverse(hint), _("Danh mục dịch vụ, thuốc, vật tư")
    except NoReverseMatch:
        pass
    anchor = ""
    if issue.get("field") in DIAGNOSIS_FIELDS and encounter.is_locked:
        anchor = f"#{CORRECTION_ANCHOR}"
    if encounter.kind == "inpatient":
        return (
            reverse("clinic:stay", kwargs={"encounter_id": encounter.pk}) + anchor,
            _("Trang đợt điều trị nội trú"),
        )
    url = reverse("clinic:visit", kwargs={"encounter_id": encounter.pk}) + anchor
    return url, _("Trang khám bệnh")


def reason_links(encounter) -> list[tuple[str, str]]:
    """Where the source of an insurer's rejection is corrected: the clinical record (visit or
    stay page), the patient's administrative record, the bill. The insurer's reasons name no
    field, so all three are offered."""
    record = (
        reverse("clinic:stay", kwargs={"encounter_id": encounter.pk})
        if encounter.kind == "inpatient"
        else reverse("clinic:visit", kwargs={"encounter_id": encounter.pk})
    )
    correction = (
        [(f"{record}#{CORRECTION_ANCHOR}", _("Sửa chẩn đoán (sau khi kết thúc)"))]
        if encounter.is_locked
        else []
    )
    return [
        (record, _("Hồ sơ khám chữa bệnh (chẩn đoán, chỉ định)")),
        *correction,
        (
            reverse("patients:detail", kwargs={"pk": encounter.patient_id}),
            _("Thông tin hành chính người bệnh"),
        ),
        (reverse("cashier:bill", kwargs={"encounter_id": encounter.pk}), _("Bảng viện phí")),
    ]
