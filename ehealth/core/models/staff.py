"""Staff accounts and their roles at facilities."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """What a member of staff does at a facility; each maps to a Django group of permissions."""

    RECEPTIONIST = "receptionist", _("Tiếp đón")
    DOCTOR = "doctor", _("Bác sĩ")
    NURSE = "nurse", _("Điều dưỡng")
    CASHIER = "cashier", _("Thu ngân")
    INSURANCE_OFFICER = "insurance_officer", _("Giám định BHYT")
    UNIT_ADMIN = "unit_admin", _("Quản trị đơn vị")
    CITY_ADMIN = "city_admin", _("Quản trị Sở Y tế")


class User(AbstractUser):
    """A person who signs in: staff of one or more facilities (partners come later, via OAuth2)."""

    full_name = models.CharField(_("họ và tên"), max_length=255, blank=True)
    practitioner_code = models.CharField(_("mã chứng chỉ hành nghề"), max_length=50, blank=True)
    phone = models.CharField(_("điện thoại"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("người dùng")
        verbose_name_plural = _("người dùng")

    def __str__(self) -> str:
        return self.full_name or self.username


class StaffMembership(models.Model):
    """A user holds a role at a facility (optionally in a department). One row per role."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    facility = models.ForeignKey(
        "core.Facility", on_delete=models.PROTECT, related_name="memberships"
    )
    role = models.CharField(_("vai trò"), max_length=30, choices=Role.choices)
    department = models.ForeignKey(
        "core.Department", on_delete=models.PROTECT, null=True, blank=True, related_name="staff"
    )
    is_active = models.BooleanField(_("đang làm việc"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["facility", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "facility", "role"], name="membership_unique_role"
            )
        ]
        verbose_name = _("phân công")
        verbose_name_plural = _("phân công")

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} @ {self.facility.code}"
