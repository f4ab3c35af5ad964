"""The city-wide patient registry: identity, identifiers, duplicates, merges, bed occupancy."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from patients.choices import (
    CITY_UNIQUE_SYSTEMS,
    AddressScheme,
    IdentifierSystem,
    PatientStatus,
    Sex,
)


class Patient(models.Model):
    """One person, one record across every health unit of the city.

    Names keep their Vietnamese diacritics (NFC); search ignores them through PostgreSQL unaccent
    and a trigram index on `f_unaccent(lower(full_name))` (see migration 0002).
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    full_name = models.CharField(_("họ và tên"), max_length=255)
    birth_date = models.DateField(_("ngày sinh"), null=True, blank=True)
    birth_year = models.PositiveSmallIntegerField(_("năm sinh"))
    sex = models.CharField(_("giới tính"), max_length=1, choices=Sex.choices)
    ethnicity_code = models.CharField(_("dân tộc"), max_length=2, blank=True)
    nationality_code = models.CharField(_("quốc tịch"), max_length=3, default="VN")
    occupation = models.CharField(_("nghề nghiệp"), max_length=255, blank=True)
    occupation_code = models.CharField(_("mã nghề nghiệp"), max_length=5, blank=True)
    phone = models.CharField(_("điện thoại"), max_length=15, blank=True)

    address_scheme = models.CharField(
        _("kiểu địa chỉ"),
        max_length=10,
        choices=AddressScheme.choices,
        default=AddressScheme.TWO_LEVEL,
    )
    address_line = models.CharField(_("số nhà, đường, thôn/tổ"), max_length=500, blank=True)
    province = models.ForeignKey(
        "core.Province", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    commune = models.ForeignKey(
        "core.AdminUnit", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    legacy_address = models.CharField(
        _("địa chỉ cũ (ba cấp, ghi nguyên văn)"), max_length=1024, blank=True
    )

    emergency_contact_name = models.CharField(
        _("người liên hệ khẩn cấp"), max_length=255, blank=True
    )
    emergency_contact_phone = models.CharField(
        _("điện thoại người liên hệ"), max_length=15, blank=True
    )
    emergency_contact_relation = models.CharField(_("quan hệ"), max_length=50, blank=True)

    status = models.CharField(
        _("trạng thái"), max_length=10, choices=PatientStatus.choices, default=PatientStatus.ACTIVE
    )
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_records"
    )
    version = models.PositiveIntegerField(_("phiên bản"), default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at_facility = models.ForeignKey(
        "core.Facility", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["full_name", "id"]
        permissions = [
            ("search_patient", "Tìm kiếm người bệnh"),
            ("merge_patient", "Gộp và tách hồ sơ người bệnh"),
            ("share_patient", "Chia sẻ hồ sơ với cơ sở khác"),
        ]
        indexes = [
            models.Index(fields=["birth_year"], name="patient_birth_year"),
            models.Index(fields=["phone"], name="patient_phone"),
            models.Index(fields=["updated_at", "id"], name="patient_updated_at"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=PatientStatus.ACTIVE, merged_into__isnull=True)
                | Q(status=PatientStatus.MERGED, merged_into__isnull=False),
                name="patient_merge_state_consistent",
            ),
            models.CheckConstraint(
                condition=Q(birth_date__isnull=True)
                | Q(birth_year=models.functions.ExtractYear("birth_date")),
                name="patient_birth_year_matches_date",
            ),
        ]
        verbose_name = _("người bệnh")
        verbose_name_plural = _("người bệnh")

    def __str__(self) -> str:
        return f"#{self.pk}"  # no PHI in logs and exception messages


class PatientVersion(models.Model):
    """A past version of a patient's record, kept when the next version replaces it.

    `data` holds the registry fields (`FIELDS`) and `identifiers` the live identifiers
    (`{"system", "value", "facility_id"}`) as they were; `valid_from` is when that version was
    made (the record's `updated_at` then); `recorded_at` and `recorded_by` say when and by whom it
    was replaced. The current version is the Patient row itself, so a record never changed (a
    bulk seed) has no row here. Written by `patients.versions` inside the writing service.
    """

    FIELDS = (
        "full_name",
        "birth_date",
        "birth_year",
        "sex",
        "ethnicity_code",
        "nationality_code",
        "occupation",
        "occupation_code",
        "phone",
        "address_scheme",
        "address_line",
        "province_id",
        "commune_id",
        "legacy_address",
        "emergency_contact_name",
        "emergency_contact_phone",
        "emergency_contact_relation",
        "status",
        "merged_into_id",
    )

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="past_versions")
    version = models.PositiveIntegerField()
    data = models.JSONField()
    identifiers = models.JSONField(default=list)
    valid_from = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["patient", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "version"], name="patient_version_unique")
        ]
        indexes = [
            models.Index(fields=["valid_from", "id"], name="patient_version_valid_from"),
        ]
        verbose_name = _("phiên bản cũ của hồ sơ")
        verbose_name_plural = _("phiên bản cũ của hồ sơ")

    def __str__(self) -> str:
        return f"#{self.patient_id} v{self.version}"

    def as_patient(self) -> Patient:
        """The record as it was (unsaved; its relations are not loaded)."""
        patient = Patient(pk=self.patient_id, version=self.version, updated_at=self.valid_from)
        for name in self.FIELDS:
            field = Patient._meta.get_field(name.removesuffix("_id"))
            value = self.data.get(name)
            setattr(patient, field.attname, None if value is None else field.to_python(value))
        return patient

    def as_identifiers(self) -> list[PatientIdentifier]:
        """The live identifiers as they were (unsaved; `facility_id` set, not `facility`)."""
        return [
            PatientIdentifier(
                patient_id=self.patient_id,
                system=i["system"],
                value=i["value"],
                facility_id=i.get("facility_id"),
            )
            for i in self.identifiers
        ]


class PatientIdentifier(models.Model):
    """An identifier of a patient. City-wide identifiers are unique among live rows (DB constraint)."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="identifiers")
    system = models.CharField(_("loại định danh"), max_length=10, choices=IdentifierSystem.choices)
    value = models.CharField(_("giá trị"), max_length=30)
    facility = models.ForeignKey(
        "core.Facility", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    void_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["system", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["system", "value"],
                condition=Q(voided_at__isnull=True, system__in=CITY_UNIQUE_SYSTEMS),
                name="identifier_city_unique",
            ),
            models.UniqueConstraint(
                fields=["facility", "value"],
                condition=Q(voided_at__isnull=True, system=IdentifierSystem.MRN),
                name="identifier_mrn_unique_per_facility",
            ),
            models.CheckConstraint(
                condition=Q(system=IdentifierSystem.MRN, facility__isnull=False)
                | (~Q(system=IdentifierSystem.MRN) & Q(facility__isnull=True)),
                name="identifier_facility_only_for_mrn",
            ),
        ]
        indexes = [
            models.Index(fields=["patient", "system"], name="identifier_patient_system"),
            models.Index(fields=["value"], name="identifier_value"),
            # Visibility probe "has this patient a live record number at one of my facilities?"
            models.Index(
                fields=["patient", "facility"],
                condition=Q(system=IdentifierSystem.MRN, voided_at__isnull=True),
                name="identifier_live_mrn_patient",
            ),
        ]
        verbose_name = _("định danh")
        verbose_name_plural = _("định danh")

    def __str__(self) -> str:
        return f"{self.system}:{self.pk}"


class DuplicateCandidate(models.Model):
    """A ranked possible duplicate of a patient, recomputed by a Celery task."""

    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="duplicate_candidates"
    )
    candidate = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="+")
    score = models.DecimalField(max_digits=5, decimal_places=3)
    reasons = models.JSONField(default=list)
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-score"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "candidate"], name="duplicate_pair_unique"),
            models.CheckConstraint(
                condition=~Q(patient=models.F("candidate")), name="duplicate_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.patient_id}~{self.candidate_id} ({self.score})"


class PatientMerge(models.Model):
    """The merge of `merged` into `survivor`: what moved, so that an admin can reverse it."""

    survivor = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="merges_received")
    merged = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="merges_given")
    reason = models.CharField(_("lý do"), max_length=500)
    moved = models.JSONField(default=dict, help_text="model label -> list of primary keys moved")
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    merged_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reverse_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-merged_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["merged"],
                condition=Q(reversed_at__isnull=True),
                name="merge_one_open_per_record",
            ),
            models.CheckConstraint(
                condition=~Q(merged=models.F("survivor")), name="merge_not_self"
            ),
        ]

    def __str__(self) -> str:
        return f"merge {self.merged_id}->{self.survivor_id}"


class RecordNumberCounter(models.Model):
    """The last record number (MRN) handed out at a facility.

    Incremented by one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING` statement, whose row lock is
    held until the registration commits: numbers are never handed out twice, and a rolled-back
    registration gives its number back.
    """

    facility = models.OneToOneField(
        "core.Facility", on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    last_number = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(last_number__gte=0), name="record_counter_positive")
        ]

    def __str__(self) -> str:
        return f"{self.facility_id}: {self.last_number}"


class BedOccupancy(models.Model):
    """A patient in a bed from `started_at` until `ended_at`. One open occupancy per bed and per
    patient is a database constraint, safe under two nurses clicking at once."""

    bed = models.ForeignKey("core.Bed", on_delete=models.PROTECT, related_name="occupancies")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="bed_occupancies")
    encounter = models.ForeignKey(
        "patients.Encounter",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bed_occupancies",
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["bed"], condition=Q(ended_at__isnull=True), name="bed_holds_one_patient"
            ),
            models.UniqueConstraint(
                fields=["patient"], condition=Q(ended_at__isnull=True), name="patient_in_one_bed"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="occupancy_range_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"bed {self.bed_id}: patient {self.patient_id}"


class PatientUserObjectPermission(UserObjectPermissionBase):
    """A patient shared with one user (django-guardian, direct foreign key)."""

    content_object = models.ForeignKey(Patient, on_delete=models.CASCADE)


class PatientGroupObjectPermission(GroupObjectPermissionBase):
    """A patient shared with a group, e.g. the staff of another facility after a referral."""

    content_object = models.ForeignKey(Patient, on_delete=models.CASCADE)
