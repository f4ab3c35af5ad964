"""Partner clients of the FHIR API and the FHIR elements the domain does not model."""

from __future__ import annotations

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
