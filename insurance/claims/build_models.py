"""A background build of a period's claim dossiers ("Lập hồ sơ"), with its progress.

One `DossierBuildRun` per click: the Celery task (`insurance.claims.tasks.dossier_build_run_task`)
builds the period's claimable encounters in chunks, each dossier in its own transaction, and adds
to the counts after every chunk; the page polls them. At most one queued or running run per
facility and period (a partial unique index): a second click joins the running one.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

USER = settings.AUTH_USER_MODEL


class BuildRunStatus(models.TextChoices):
    QUEUED = "queued", _("Đang chờ lập")
    RUNNING = "running", _("Đang lập hồ sơ")
    DONE = "done", _("Đã lập xong")
    FAILED = "failed", _("Lập hồ sơ bị dừng")


ACTIVE_BUILD_STATUSES = (BuildRunStatus.QUEUED, BuildRunStatus.RUNNING)


class DossierBuildRun(models.Model):
    """The build of one facility's dossiers for one settlement month, and how far it got."""

    facility = models.ForeignKey("core.Facility", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(_("năm quyết toán"))
    month = models.PositiveSmallIntegerField(_("tháng quyết toán"))
    status = models.CharField(
        max_length=10, choices=BuildRunStatus.choices, default=BuildRunStatus.QUEUED
    )
    total = models.PositiveIntegerField(_("số lượt khám cần lập"), default=0)
    built_ready = models.PositiveIntegerField(_("hồ sơ sẵn sàng gửi"), default=0)
    built_invalid = models.PositiveIntegerField(_("hồ sơ có lỗi"), default=0)
    failed = models.PositiveIntegerField(_("lượt khám không lập được"), default=0)
    # The last encounter id taken by a chunk: the next chunk starts after it (so dossiers that
    # stay invalid are built once per run, and a chunk redelivered to another worker is skipped).
    cursor = models.BigIntegerField(default=0)
    # The first failures ({"encounter_id", "message"}), for the officer to look at.
    failures = models.JSONField(default=list, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    created_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Touched after every chunk: a run silent for long is taken as dead (worker lost).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "year", "month"],
                condition=Q(status__in=("queued", "running")),
                name="dossier_build_run_one_active",
            ),
            models.CheckConstraint(
                condition=Q(month__gte=1, month__lte=12), name="dossier_build_run_month"
            ),
        ]
        indexes = [
            models.Index(
                fields=["facility", "year", "month", "-created_at"], name="build_run_period"
            )
        ]
        verbose_name = _("đợt lập hồ sơ")
        verbose_name_plural = _("đợt lập hồ sơ")

    def __str__(self) -> str:
        return f"build run #{self.pk}"

    @property
    def done(self) -> int:
        return self.built_ready + self.built_invalid + self.failed

    @property
    def built(self) -> int:
        return self.built_ready + self.built_invalid

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_BUILD_STATUSES

    @property
    def percent(self) -> int:
        if self.status == BuildRunStatus.DONE:
            return 100
        if not self.total:
            return 0
        return min(100, self.done * 100 // self.total)
