"""Past versions of a patient's record (PatientVersion) and voiding a record registered in error."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from ehealth.core.exceptions import ConcurrentEditError, DomainError
from ehealth.core.models import AuditEvent, Role
from patients import services
from patients.choices import IdentifierSystem, PatientStatus
from patients.models import Patient, PatientIdentifier, PatientVersion
from patients.selectors import patient_visible_qs
from patients.services import (
    PatientHasEncounters,
    patient_merge,
    patient_merge_reverse,
    patient_register,
    patient_update,
    patient_void,
)
from tests.clinical.factories import make_encounter
from tests.patients.factories import (
    AdminUnitFactory,
    give_record_number,
    make_patient,
    patient_input,
    unique_card,
    unique_cccd,
)

pytestmark = pytest.mark.django_db


def _registered(receptionist, facility, **overrides) -> Patient:
    return patient_register(actor=receptionist, facility=facility, data=patient_input(**overrides))


def _live(patient, system) -> list[str]:
    return list(
        PatientIdentifier.objects.filter(
            patient=patient, system=system, voided_at__isnull=True
        ).values_list("value", flat=True)
    )


# --- snapshots ---------------------------------------------------------------------------------


def test_update_keeps_the_replaced_version_with_its_identifiers(receptionist, facility):
    # given a registered patient with a commune and a CCCD
    commune = AdminUnitFactory()
    patient = _registered(
        receptionist, facility, commune_code=commune.code, province_code=commune.province_id
    )
    old_cccd = _live(patient, IdentifierSystem.CCCD)[0]
    valid_from = Patient.objects.get(pk=patient.pk).updated_at
    data = services.PatientInput.from_patient(patient)
    data.full_name, data.cccd = "Nguyễn Văn Bình", unique_cccd()
    # when reception changes the name and the CCCD
    patient_update(
        actor=receptionist, facility=facility, patient=patient, data=data, expected_version=1
    )
    # then version 1 is kept as it was, by whom and when it was replaced
    kept = PatientVersion.objects.get(patient=patient)
    assert (kept.version, kept.recorded_by, kept.valid_from) == (1, receptionist, valid_from)
    assert kept.data["full_name"] == "Nguyễn Văn An"
    assert kept.data["birth_date"] == "1985-05-12"
    assert kept.data["commune_id"] == commune.code
    assert {"system": IdentifierSystem.CCCD, "value": old_cccd, "facility_id": None} in (
        kept.identifiers
    )
    assert any(i["system"] == IdentifierSystem.MRN for i in kept.identifiers)
    # and the past record reads back as a Patient (unsaved) with its identifiers
    past = kept.as_patient()
    assert (past.pk, past.version, past.full_name) == (patient.pk, 1, "Nguyễn Văn An")
    assert past.birth_date == date(1985, 5, 12) and past.commune_id == commune.code
    assert old_cccd in {i.value for i in kept.as_identifiers()}
    assert Patient.objects.get(pk=patient.pk).full_name == "Nguyễn Văn Bình"


def test_update_that_changes_nothing_keeps_no_version(receptionist, facility):
    patient = _registered(receptionist, facility)
    data = services.PatientInput.from_patient(patient)
    patient_update(
        actor=receptionist, facility=facility, patient=patient, data=data, expected_version=1
    )
    assert not PatientVersion.objects.exists()
    assert Patient.objects.get(pk=patient.pk).version == 1


def test_each_update_keeps_one_version(receptionist, facility):
    patient = _registered(receptionist, facility)
    for version, phone in ((1, "0912000111"), (2, "0912000222"), (3, "0912000333")):
        data = services.PatientInput.from_patient(Patient.objects.get(pk=patient.pk))
        data.phone = phone
        patient_update(
            actor=receptionist,
            facility=facility,
            patient=patient,
            data=data,
            expected_version=version,
        )
    kept = list(PatientVersion.objects.filter(patient=patient).order_by("version"))
    assert [(k.version, k.data["phone"]) for k in kept] == [
        (1, "0905123456"),
        (2, "0912000111"),
        (3, "0912000222"),
    ]
    # each version was valid from the moment the one before it was replaced
    assert kept[1].valid_from >= kept[0].recorded_at


def test_merge_and_its_reversal_keep_the_versions_of_both_records(
    unit_admin, facility, other_facility
):
    survivor = make_patient(facility, identifiers={IdentifierSystem.CCCD: unique_cccd()})
    merged = make_patient(other_facility, identifiers={IdentifierSystem.BHYT: unique_card()})
    give_record_number(merged, facility)
    merge = patient_merge(
        actor=unit_admin, facility=facility, survivor=survivor, merged=merged, reason="Trùng"
    )
    # the versions replaced by the merge are kept, each on its own record (never moved)
    assert set(PatientVersion.objects.values_list("patient_id", "version")) == {
        (survivor.pk, 1),
        (merged.pk, 1),
    }
    merged_v1 = PatientVersion.objects.get(patient=merged, version=1)
    assert merged_v1.data["status"] == PatientStatus.ACTIVE
    assert any(i["system"] == IdentifierSystem.BHYT for i in merged_v1.identifiers)
    patient_merge_reverse(actor=unit_admin, facility=facility, merge=merge, reason="Nhầm")
    merged_v2 = PatientVersion.objects.get(patient=merged, version=2)
    assert merged_v2.data["status"] == PatientStatus.MERGED
    assert merged_v2.data["merged_into_id"] == survivor.pk
    assert PatientVersion.objects.filter(patient=survivor).count() == 2


# --- void --------------------------------------------------------------------------------------


def test_void_of_a_record_registered_in_error(receptionist, facility):
    # given a patient registered by mistake, with a CCCD and a card
    patient = _registered(receptionist, facility, bhyt_card=unique_card())
    cccd = _live(patient, IdentifierSystem.CCCD)[0]
    # when reception voids it with a reason
    voided = patient_void(
        actor=receptionist, facility=facility, patient=patient, reason="  Đăng ký nhầm  "
    )
    # then the record is voided as a new version, with who and why
    voided.refresh_from_db()
    assert voided.voided_at is not None and voided.voided_by == receptionist
    assert (voided.void_reason, voided.version) == ("Đăng ký nhầm", 2)
    assert PatientVersion.objects.get(patient=patient).version == 1
    # its city-wide identifiers are freed; its record number stays
    assert _live(patient, IdentifierSystem.CCCD) == []
    assert _live(patient, IdentifierSystem.BHYT) == []
    assert len(_live(patient, IdentifierSystem.MRN)) == 1
    assert PatientIdentifier.objects.get(value=cccd).void_reason == "Đăng ký nhầm"
    # reads and searches no longer find it, unless asked for voided records
    assert not patient_visible_qs(user=receptionist).filter(pk=patient.pk).exists()
    assert patient_visible_qs(user=receptionist, include_voided=True).filter(pk=patient.pk)
    event = AuditEvent.objects.get(action="patient.void")
    assert event.patient_id == patient.pk and event.detail["version"] == 2
    # and the person can be registered again with the same CCCD
    again = _registered(receptionist, facility, cccd=cccd)
    assert _live(again, IdentifierSystem.CCCD) == [cccd]


def test_void_of_a_patient_with_encounters_is_refused(receptionist, facility):
    patient = _registered(receptionist, facility)
    make_encounter(facility=facility, patient=patient)
    with pytest.raises(PatientHasEncounters) as refused:
        patient_void(actor=receptionist, facility=facility, patient=patient, reason="Nhầm")
    assert refused.value.count == 1
    patient.refresh_from_db()
    assert patient.voided_at is None and patient.version == 1
    assert not PatientVersion.objects.exists()


def test_void_needs_a_reason_the_current_version_and_a_record_here(
    receptionist, facility, other_facility, staff_factory
):
    patient = _registered(receptionist, facility)
    with pytest.raises(ValidationError):
        patient_void(actor=receptionist, facility=facility, patient=patient, reason="  ")
    with pytest.raises(ConcurrentEditError):
        patient_void(
            actor=receptionist,
            facility=facility,
            patient=patient,
            reason="Nhầm",
            expected_version=2,
        )
    elsewhere = staff_factory(other_facility, Role.RECEPTIONIST)
    with pytest.raises(PermissionDenied):
        patient_void(actor=elsewhere, facility=other_facility, patient=patient, reason="Nhầm")
    patient_void(
        actor=receptionist, facility=facility, patient=patient, reason="Nhầm", expected_version=1
    )
    with pytest.raises(DomainError):  # already voided
        patient_void(actor=receptionist, facility=facility, patient=patient, reason="Nhầm")
    assert Patient.objects.get(pk=patient.pk).version == 2
