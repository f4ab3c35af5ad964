"""The FHIR part of `manage.py rundemo` (settings DEMO_SERVICES names `start_for_demo`).

A partner client for the demo, with a fixed client id and secret so that the curl examples of
docs/fhir.md work as written: it belongs to the main demo hospital and holds `system/*.cruds`.
Only the demo runs this; a real deployment registers clients with `manage.py fhir_client_create`.
"""

from __future__ import annotations

from oauth2_provider.models import get_application_model

from ehealth.core.demo import MAIN_HOSPITAL
from ehealth.core.models import Facility
from fhir_api.clients import CLIENT_ROLES, fhir_client_register

DEMO_CLIENT_ID = "demo-his-bvdn"
DEMO_CLIENT_SECRET = "demo-secret-chi-dung-cho-demo"  # noqa: S105 - a published demo value
DEMO_SCOPES = "system/*.cruds"


def demo_client_ensure() -> bool:
    """Register the demo client once; False when there is no demo hospital (nothing seeded)."""
    if get_application_model().objects.filter(client_id=DEMO_CLIENT_ID).exists():
        return True
    facility = Facility.objects.filter(name=MAIN_HOSPITAL).order_by("pk").first()
    if facility is None:
        return False
    fhir_client_register(
        facility=facility,
        name="HIS mô phỏng (demo)",
        scopes=DEMO_SCOPES,
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        roles=CLIENT_ROLES,  # the demo partner HIS also writes vitals, diagnoses, admissions
    )
    return True


def start_for_demo() -> str:
    """Make sure the demo client exists; returns the line rundemo prints."""
    if not demo_client_ensure():
        return "FHIR R4: chưa có bệnh viện demo, chưa tạo client đối tác."
    return (
        f"FHIR R4 tại /fhir/R4/ – client đối tác demo ({MAIN_HOSPITAL}, {DEMO_SCOPES}): "
        f"client_id={DEMO_CLIENT_ID} client_secret={DEMO_CLIENT_SECRET}; token tại /o/token/ "
        "(ví dụ curl trong docs/fhir.md)."
    )


__all__ = ["DEMO_CLIENT_ID", "DEMO_CLIENT_SECRET", "start_for_demo"]
