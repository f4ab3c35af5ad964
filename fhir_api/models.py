"""Partner clients of the FHIR API, the FHIR elements the domain does not model, export jobs."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from oauth2_provider.settings import oauth2_settings


class FhirClient(models.Model):
    """A partner system: an OAuth2 application that belongs to one health unit, with the SMART v2
    system scopes it may be granted (space-separated, e.g. "system/Patient.rs").

    Its service account (`application.user`) holds a staff role at the unit, so FHIR writes pass
    the same domain permission checks as the web pages and are attributed to the client.
    """

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="fhir_client",
    )
    facility = models.ForeignKey(
        "core.Facility", on_delete=models.PROTECT, related_name="fhir_clients"
    )
    scopes = models.TextField(_("phạm vi (SMART v2)"))
    is_active = models.BooleanField(_("đang hoạt động"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("hệ thống đối tác FHIR")
        verbose_name_plural = _("hệ thống đối tác FHIR")

    def __str__(self) -> str:
        return f"fhir-client #{self.pk}"

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()


class ResourceExtra(models.Model):
    """FHIR elements a partner sent that the domain does not model, kept beside the record and
    merged back on read (see `fhir_api.extras`). `revision` counts writes that changed only these
    elements: the FHIR version of a resource is the domain version plus this revision."""

    resource_type = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=64)
    content = models.JSONField(default=dict)
    revision = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["resource_type", "resource_id"], name="fhir_extra_one_per_resource"
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.resource_id}"


class ResourceExtraVersion(models.Model):
    """The kept elements of a resource from FHIR version `version` on, written at each FHIR write
    that changed them, so that vread and history render old versions with them too.

    `base_version` is the domain version then; `only_extras` marks a write that changed nothing
    else (it made FHIR version `version` by itself: `ResourceExtra.revision` went up by one).
    """

    resource_type = models.CharField(max_length=64)
    resource_id = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    base_version = models.PositiveIntegerField()
    only_extras = models.BooleanField(default=False)
    content = models.JSONField(default=dict)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["resource_type", "resource_id", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["resource_type", "resource_id", "version"],
                name="fhir_extra_version_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["resource_type", "recorded_at", "id"],
                condition=models.Q(only_extras=True),
                name="fhir_extra_version_history",
            )
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.resource_id}/_history/{self.version}"


class ExportJob(models.Model):
    """One FHIR Bulk Data `$export` request of a partner client (see `fhir_api.bulk`).

    The Celery task `fhir_api.tasks.export_task` writes the NDJSON files under `directory`;
    `output` and `errors` list them ({"type", "file", "count"}) once the job has completed.
    """

    class Level(models.TextChoices):
        SYSTEM = "system", "system"
        PATIENT = "patient", "Patient"
        GROUP = "group", "Group"

    class Status(models.TextChoices):
        QUEUED = "queued", _("đang chờ")
        RUNNING = "running", _("đang chạy")
        COMPLETED = "completed", _("hoàn tất")
        FAILED = "failed", _("lỗi")
        CANCELLED = "cancelled", _("đã hủy")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client = models.ForeignKey(FhirClient, on_delete=models.CASCADE, related_name="export_jobs")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    level = models.CharField(max_length=10, choices=Level.choices)
    group_id = models.CharField(max_length=64, blank=True)
    types = models.JSONField(default=list)
    since = models.DateTimeField(null=True, blank=True)
    output_format = models.CharField(max_length=40, default="application/fhir+ndjson")
    scopes = models.TextField(blank=True)  # the token's scopes at kick-off
    request_url = models.TextField()
    base_url = models.TextField()
    directory = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    output = models.JSONField(default=list)
    errors = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)  # the manifest's transactionTime
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("yêu cầu xuất dữ liệu FHIR")
        verbose_name_plural = _("yêu cầu xuất dữ liệu FHIR")
        indexes = [models.Index(fields=["client", "status"], name="fhir_export_client_status")]

    def __str__(self) -> str:
        return f"fhir-export {self.pk}"

    @property
    def active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)
