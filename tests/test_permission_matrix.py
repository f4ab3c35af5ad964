"""The permission matrix of the registry at service/selector level:
each role x register/search/view/update/merge/share x own facility / other facility / shared.

- own: the patient has a record number at the actor's facility, and the actor acts there;
- other: the patient belongs to another facility only (for register: the actor registers at a
  facility where they hold no role);
- shared: the patient belongs to another facility and was shared with the actor's facility (for
  register: enrolling that patient here).
On every denial nothing is written: no patient, identifier, share or merge, and no audit entry.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from ehealth.core.models import AuditEvent, Role
from ehealth.core.permissions import share_with_facility
from patients.choices import IdentifierSystem, PatientStatus, Sex
from patients.models import Patient, PatientGroupObjectPermission, PatientIdentifier
from patients.selectors import patient_get, patient_search
from patients.services import (
    PatientInput,
    patient_enroll,
    patient_merge,
    patient_register,
    patient_share_with_facility,
    patient_update,
)
from tests.core.factories import FacilityFactory, make_staff
from tests.patients.factories import make_patient, patient_input, unique_cccd

pytestmark = pytest.mark.django_db

ROLES = [
    Role.RECEPTIONIST,
    Role.DOCTOR,
    Role.NURSE,
    Role.CASHIER,
    Role.INSURANCE_OFFICER,
    Role.UNIT_ADMIN,
    Role.CITY_ADMIN,
]
READERS = {Role.RECEPTIONIST, Role.DOCTOR, Role.NURSE, Role.CASHIER, Role.INSURANCE_OFFICER,
           Role.UNIT_ADMIN}  # fmt: skip

ALLOWED: dict[tuple[str, str], set[str]] = {
    ("register", "own"): {Role.RECEPTIONIST},
    ("register", "other"): set(),
    ("register", "shared"): {Role.RECEPTIONIST},
    ("search", "own"): READERS,
    ("search", "other"): set(),
    ("search", "shared"): READERS,
    ("view", "own"): READERS,
    ("view", "other"): set(),
    ("view", "shared"): READERS,
    ("update", "own"): {Role.RECEPTIONIST, Role.DOCTOR},
    ("update", "other"): set(),
    ("update", "shared"): set(),  # a share is read-only
    ("merge", "own"): {Role.UNIT_ADMIN},
    ("merge", "other"): set(),
    ("merge", "shared"): {Role.UNIT_ADMIN},  # both records visible to the admin
    ("share", "own"): {Role.DOCTOR, Role.UNIT_ADMIN},
    ("share", "other"): set(),
    ("share", "shared"): set(),  # only the facility holding the record shares it onward
}


@pytest.fixture
def world(facility, other_facility):
    """The actor's facility, another one, a third one to share with, and one patient per scope."""
    cccd = unique_cccd()
    own = make_patient(
        facility,
        full_name="Trịnh Văn Sáu",
        sex=Sex.MALE,
        birth_date=date(1985, 5, 12),
        identifiers={IdentifierSystem.CCCD: cccd},
    )
    other = make_patient(other_facility, full_name="Trịnh Văn Sáu")
    shared = make_patient(other_facility, full_name="Trịnh Văn Sáu")
    share_with_facility(perm="patients.view_patient", obj=shared, facility=facility)
    own_twin = make_patient(facility, full_name="Trịnh Văn Sáu")
    return {
        "facility": facility,
        "other_facility": other_facility,
        "third": FacilityFactory(),
        "patients": {"own": own, "other": other, "shared": shared},
        "own_twin": own_twin,
    }


def _snapshot():
    return (
        Patient.objects.filter(status=PatientStatus.ACTIVE).count(),
        PatientIdentifier.objects.count(),
        PatientGroupObjectPermission.objects.count(),
        sorted(Patient.objects.values_list("pk", "version")),
    )


def _attempt(action: str, scope: str, actor, world) -> bool:
    """Run the action; True when allowed, False when refused the documented way."""
    facility = world["facility"]
    patient = world["patients"][scope]
    try:
        if action == "register":
            if scope == "shared":
                patient_enroll(actor=actor, facility=facility, patient=patient)
            else:
                at = facility if scope == "own" else world["other_facility"]
                patient_register(
                    actor=actor, facility=at, data=patient_input(full_name="Mới Đăng Ký")
                )
        elif action == "search":
            return patient.pk in [p.pk for p in patient_search(user=actor, query="trinh van sau")]
        elif action == "view":
            patient_get(user=actor, pk=patient.pk)
        elif action == "update":
            data = PatientInput.from_patient(patient)
            data.occupation = "Kỹ sư"
            patient_update(
                actor=actor, facility=facility, patient=patient, data=data, expected_version=1
            )
        elif action == "merge":
            patient_merge(
                actor=actor,
                facility=facility,
                survivor=world["own_twin"],
                merged=patient,
                reason="Trùng người",
            )
        elif action == "share":
            patient_share_with_facility(
                actor=actor,
                facility=facility,
                patient=patient,
                target_facility=world["third"],
                reason="Chuyển tuyến",
            )
    except (PermissionDenied, Http404):
        return False
    return True


@pytest.mark.parametrize("scope", ["own", "other", "shared"])
@pytest.mark.parametrize("action", ["register", "search", "view", "update", "merge", "share"])
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(role, action, scope, world):
    # given a member of staff with one role at the facility
    actor = make_staff(world["facility"], role)
    target = world["patients"][scope]
    before = _snapshot()
    audit_before = AuditEvent.objects.count()
    target_audit_before = AuditEvent.objects.filter(patient_id=target.pk).count()
    expected = role in ALLOWED[(action, scope)]
    # when
    allowed = _attempt(action, scope, actor, world)
    # then
    assert allowed is expected
    if not expected:
        assert _snapshot() == before  # nothing written
        assert AuditEvent.objects.filter(patient_id=target.pk).count() == target_audit_before
        if action != "search":  # a refused search may still list (and audit) other patients
            assert AuditEvent.objects.count() == audit_before
    elif action in ("view", "search"):
        assert AuditEvent.objects.filter(actor=actor, patient_id=target.pk).exists()


def test_record_number_of_the_matrix_patient_is_at_the_actor_facility(world):
    own = world["patients"]["own"]
    assert own.identifiers.get(system=IdentifierSystem.MRN).facility == world["facility"]
