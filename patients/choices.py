"""Code lists of the patient registry."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Sex(models.TextChoices):
    """GIOI_TINH of QĐ 130: 1 male, 2 female, 3 unknown."""

    MALE = "1", _("Nam")
    FEMALE = "2", _("Nữ")
    UNKNOWN = "3", _("Chưa xác định")


class IdentifierSystem(models.TextChoices):
    CCCD = "cccd", _("Số CCCD/định danh cá nhân")
    BHYT = "bhyt", _("Mã thẻ BHYT")
    SOCIAL_INSURANCE = "bhxh", _("Mã số BHXH")
    PASSPORT = "passport", _("Hộ chiếu")
    MRN = "mrn", _("Mã người bệnh tại cơ sở")


# Identifiers that name one person city-wide: a value can belong to one patient only.
CITY_UNIQUE_SYSTEMS = [
    IdentifierSystem.CCCD,
    IdentifierSystem.BHYT,
    IdentifierSystem.SOCIAL_INSURANCE,
    IdentifierSystem.PASSPORT,
]


class PatientStatus(models.TextChoices):
    ACTIVE = "active", _("Đang dùng")
    MERGED = "merged", _("Đã gộp vào hồ sơ khác")


class AddressScheme(models.TextChoices):
    TWO_LEVEL = "2025", _("Tỉnh – xã/phường (từ 01/7/2025)")
    LEGACY = "legacy", _("Địa chỉ cũ ba cấp (ghi nguyên văn)")
