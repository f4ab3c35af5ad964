"""Health units of the city: facilities, their departments, wards and beds; administrative units."""

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _


class Province(models.Model):
    """A province or centrally-run city (34 since 1 July 2025)."""

    code = models.CharField(_("mã tỉnh"), max_length=2, primary_key=True)
    name = models.CharField(_("tên"), max_length=100)
    merged_from = models.CharField(_("sáp nhập từ"), max_length=255, blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("tỉnh/thành phố")
        verbose_name_plural = _("tỉnh/thành phố")

    def __str__(self) -> str:
        return self.name


class AdminUnit(models.Model):
    """A commune, ward or special zone under the two-level administration in force since 1/7/2025."""

    class Kind(models.TextChoices):
        WARD = "phuong", _("Phường")
        COMMUNE = "xa", _("Xã")
        SPECIAL_ZONE = "dac_khu", _("Đặc khu")

    code = models.CharField(_("mã xã"), max_length=5, primary_key=True)
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="units")
    name = models.CharField(_("tên"), max_length=150)
    kind = models.CharField(_("loại"), max_length=10, choices=Kind.choices)
    merged_from = models.TextField(_("sáp nhập từ"), blank=True)

    class Meta:
        ordering = ["province", "name"]
        verbose_name = _("đơn vị hành chính cấp xã")
        verbose_name_plural = _("đơn vị hành chính cấp xã")

    def __str__(self) -> str:
        return self.name


facility_code_validator = RegexValidator(
    r"^[0-9A-Z]{5}$", _("Mã cơ sở KCB gồm đúng 5 ký tự (chữ số hoặc chữ in hoa).")
)


class Facility(models.Model):
    """A health unit (cơ sở khám bệnh, chữa bệnh) identified by its 5-character MoH/BHXH code."""

    class Level(models.TextChoices):
        CENTRAL = "central", _("Trung ương")
        PROVINCIAL = "provincial", _("Tỉnh / chuyên khoa")
        BASIC = "basic", _("Cơ bản")
        PRIMARY = "primary", _("Ban đầu")

    class Kind(models.TextChoices):
        HOSPITAL = "hospital", _("Bệnh viện")
        CLINIC = "clinic", _("Phòng khám / Trung tâm y tế")
        COMMUNE_STATION = "commune_station", _("Trạm y tế xã/phường")
        HEALTH_AUTHORITY = "health_authority", _("Cơ quan quản lý y tế (Sở Y tế)")

    code = models.CharField(
        _("mã cơ sở KCB"), max_length=5, unique=True, validators=[facility_code_validator]
    )
    code_is_placeholder = models.BooleanField(
        _("mã giả định (DEMO)"),
        default=False,
        help_text=_(
            "Mã do hệ thống đặt tạm, không phải mã cơ sở KCB do cơ quan có thẩm quyền cấp; "
            "không được dùng trong hồ sơ gửi cơ quan BHXH."
        ),
    )
    name = models.CharField(_("tên cơ sở"), max_length=255)
    level = models.CharField(_("cấp chuyên môn"), max_length=20, choices=Level.choices)
    kind = models.CharField(_("loại hình"), max_length=20, choices=Kind.choices)
    province = models.ForeignKey(Province, on_delete=models.PROTECT, related_name="facilities")
    commune = models.ForeignKey(
        AdminUnit, on_delete=models.PROTECT, null=True, blank=True, related_name="facilities"
    )
    address = models.CharField(_("địa chỉ"), max_length=500, blank=True)
    phone = models.CharField(_("điện thoại"), max_length=20, blank=True)
    managing_body = models.CharField(_("cơ quan chủ quản"), max_length=255, blank=True)
    # Where patients pay by bank transfer (VietQR on receipts): NAPAS bank BIN and account.
    bank_bin = models.CharField(_("mã BIN ngân hàng"), max_length=6, blank=True, db_default="")
    bank_account = models.CharField(_("số tài khoản"), max_length=19, blank=True, db_default="")
    bank_account_name = models.CharField(
        _("tên tài khoản"), max_length=100, blank=True, db_default=""
    )
    bank_name = models.CharField(_("ngân hàng"), max_length=100, blank=True, db_default="")
    source = models.CharField(_("nguồn dữ liệu"), max_length=500, blank=True)
    is_active = models.BooleanField(_("đang hoạt động"), default=True)

    class Meta:
        ordering = ["code"]
        permissions = [
            ("manage_facilities", "Quản lý danh sách cơ sở, khoa, buồng, giường"),
            ("manage_staff", "Quản lý nhân viên và phân quyền của đơn vị"),
            ("manage_catalog", "Quản lý danh mục và bảng giá"),
            ("view_city_aggregates", "Xem số liệu tổng hợp toàn thành phố"),
        ]
        verbose_name = _("cơ sở y tế")
        verbose_name_plural = _("cơ sở y tế")

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class Department(models.Model):
    """A clinical or paraclinical department (khoa) of a facility, with its MoH department code."""

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="departments")
    code = models.CharField(_("mã khoa (BYT)"), max_length=10)
    name = models.CharField(_("tên khoa"), max_length=255)
    is_active = models.BooleanField(_("đang hoạt động"), default=True)

    class Meta:
        ordering = ["facility", "code"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "code"], name="department_code_unique")
        ]
        verbose_name = _("khoa")
        verbose_name_plural = _("khoa")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Ward(models.Model):
    """A ward or room group (buồng/phòng bệnh) of a department."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="wards")
    code = models.CharField(_("mã buồng"), max_length=20)
    name = models.CharField(_("tên buồng"), max_length=255)

    class Meta:
        ordering = ["department", "code"]
        constraints = [
            models.UniqueConstraint(fields=["department", "code"], name="ward_code_unique")
        ]
        verbose_name = _("buồng bệnh")
        verbose_name_plural = _("buồng bệnh")

    def __str__(self) -> str:
        return self.name


class Bed(models.Model):
    """A bed. Who lies in it is `patients.BedOccupancy`, where one open stay per bed is a DB constraint."""

    ward = models.ForeignKey(Ward, on_delete=models.PROTECT, related_name="beds")
    code = models.CharField(_("mã giường"), max_length=50)
    is_active = models.BooleanField(_("đang sử dụng"), default=True)

    class Meta:
        ordering = ["ward", "code"]
        constraints = [models.UniqueConstraint(fields=["ward", "code"], name="bed_code_unique")]
        verbose_name = _("giường bệnh")
        verbose_name_plural = _("giường bệnh")

    def __str__(self) -> str:
        return self.code


class ClinicRoom(models.Model):
    """An examination room (phòng khám) of a department, where a day's outpatient queue forms."""

    department = models.ForeignKey(Department, on_delete=models.PROTECT, related_name="rooms")
    code = models.CharField(_("mã phòng"), max_length=20)
    name = models.CharField(_("tên phòng"), max_length=255)
    is_active = models.BooleanField(_("đang hoạt động"), default=True)

    class Meta:
        ordering = ["department", "code"]
        constraints = [
            models.UniqueConstraint(fields=["department", "code"], name="clinic_room_code_unique")
        ]
        verbose_name = _("phòng khám")
        verbose_name_plural = _("phòng khám")

    def __str__(self) -> str:
        return self.name
