"""The audit trail: who did what to which record, from where. Append-only."""

from functools import cache

from django.conf import settings
from django.db import connections, models
from django.utils.translation import gettext_lazy as _

from ehealth.core.sqlrows import Prepared


@cache
def _insert_statement(model) -> Prepared:
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    return Prepared(
        "audit_event_insert",
        f"INSERT INTO {model._meta.db_table} ({', '.join(f.column for f in fields)}) "  # noqa: S608
        f"VALUES ({', '.join(f'%({f.column})s' for f in fields)}) "
        f"RETURNING {model._meta.pk.column}",
    )


class AuditEventQuerySet(models.QuerySet):
    def create(self, **kwargs):
        """Append one entry: the INSERT `save()` sends (each value prepared by its field,
        `auto_now_add` applied), as one prepared statement: every request writes an entry, and
        compiling the INSERT cost more than running it. No save signals are sent (none is
        connected to this append-only model), as for `bulk_create`."""
        event = self.model(**kwargs)
        if event.pk is not None:
            return super().create(**kwargs)
        fields = [f for f in self.model._meta.concrete_fields if not f.primary_key]
        connection = connections[self.db]
        values = {f.column: f.get_db_prep_save(f.pre_save(event, True), connection) for f in fields}
        with connection.cursor() as cursor:
            _insert_statement(self.model).execute(cursor, values)
            event.pk = cursor.fetchone()[0]
        event._state.adding = False
        event._state.db = self.db
        return event

    def update(self, **kwargs):  # noqa: ARG002
        raise PermissionError("The audit trail is append-only.")

    def delete(self):
        raise PermissionError("The audit trail is append-only.")


class AuditEvent(models.Model):
    """One read or write of protected data. Rows are never updated or deleted by the application
    (the model refuses, and a database trigger refuses UPDATE and DELETE as well)."""

    at = models.DateTimeField(_("thời điểm"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    actor_username = models.CharField(max_length=150, blank=True)
    role = models.CharField(_("vai trò"), max_length=30, blank=True)
    facility = models.ForeignKey(
        "core.Facility",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,  # audit_facility_at leads with it; every access inserts a row
    )
    action = models.CharField(_("hành động"), max_length=80)
    target_type = models.CharField(_("loại đối tượng"), max_length=80, blank=True)
    target_id = models.CharField(_("mã đối tượng"), max_length=64, blank=True)
    patient_id = models.BigIntegerField(_("mã người bệnh"), null=True, blank=True)
    ip_address = models.GenericIPAddressField(_("địa chỉ IP"), null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    channel = models.CharField(_("kênh"), max_length=20, blank=True)  # web, api, fhir, task, cli
    detail = models.JSONField(_("chi tiết"), default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["patient_id", "-at"], name="audit_patient_at"),
            models.Index(fields=["actor", "-at"], name="audit_actor_at"),
            models.Index(fields=["facility", "-at"], name="audit_facility_at"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]
        verbose_name = _("nhật ký truy cập")
        verbose_name_plural = _("nhật ký truy cập")

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username} {self.action} {self.target_type}#{self.target_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("The audit trail is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("The audit trail is append-only.")
