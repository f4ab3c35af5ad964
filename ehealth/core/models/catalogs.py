"""Reference catalogs with effective dates: ICD-10, medical services, drugs, supplies and prices.

Catalog items are city-wide; prices are per facility (or city-wide when `facility` is empty) and
carry the dates they are in force. A price is looked up by the day of service.
"""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateRangeField, RangeBoundary, RangeOperators
from django.db import models
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _


class DateRange(models.Func):
    """daterange(lower, upper, '[]'): both ends inclusive; a NULL upper end is open."""

    function = "DATERANGE"
    output_field = DateRangeField()

    def __init__(self, lower, upper):
        super().__init__(lower, upper, RangeBoundary(inclusive_lower=True, inclusive_upper=True))


def _no_overlap(name: str) -> ExclusionConstraint:
    """Two prices of one item at one facility (or both city-wide) never cover the same day."""
    return ExclusionConstraint(
        name=name,
        expressions=[
            ("item", RangeOperators.EQUAL),
            (Coalesce("facility", models.Value(0)), RangeOperators.EQUAL),
            (DateRange("valid_from", "valid_to"), RangeOperators.OVERLAPS),
        ],
    )


class IcdCode(models.Model):
    """An ICD-10 code of the MoH list in force between `valid_from` and `valid_to`."""

    code = models.CharField(_("mã ICD-10"), max_length=10)
    name_vi = models.CharField(_("tên tiếng Việt"), max_length=500, blank=True)
    name_en = models.CharField(_("tên tiếng Anh (WHO)"), max_length=500, blank=True)
    billable = models.BooleanField(
        _("dùng được"), default=True, help_text=_("Sai khi danh mục yêu cầu dùng mã chi tiết hơn.")
    )
    valid_from = models.DateField(_("hiệu lực từ"))
    valid_to = models.DateField(_("hiệu lực đến"), null=True, blank=True)
    source = models.CharField(_("nguồn"), max_length=255, blank=True)

    class Meta:
        ordering = ["code", "-valid_from"]
        constraints = [
            models.UniqueConstraint(fields=["code", "valid_from"], name="icd_code_from_unique"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="icd_valid_range",
            ),
        ]
        verbose_name = _("mã ICD-10")
        verbose_name_plural = _("mã ICD-10")

    def __str__(self) -> str:
        return f"{self.code} – {self.display_name}"

    @property
    def display_name(self) -> str:
        """The Vietnamese name, or the WHO English title where no Vietnamese name was collected."""
        return self.name_vi or self.name_en


class CostGroup(models.IntegerChoices):
    """MA_NHOM cost groups (Appendix 3 of QĐ 5937/QĐ-BYT 2021)."""

    LAB = 1, _("Xét nghiệm")
    IMAGING = 2, _("Chẩn đoán hình ảnh")
    FUNCTIONAL = 3, _("Thăm dò chức năng")
    DRUG = 4, _("Thuốc")
    BLOOD = 7, _("Máu")
    SURGERY = 8, _("Phẫu thuật")
    SUPPLY = 10, _("Vật tư y tế")
    TRANSPORT = 12, _("Vận chuyển")
    EXAMINATION = 13, _("Khám bệnh")
    DAY_BED = 14, _("Giường ban ngày")
    INPATIENT_BED = 15, _("Giường điều trị nội trú")
    OBSERVATION_BED = 16, _("Giường lưu")
    BLOOD_PRODUCT = 17, _("Chế phẩm máu")
    PROCEDURE = 18, _("Thủ thuật")


class CatalogItem(models.Model):
    """Common fields of services, drugs and supplies."""

    code = models.CharField(_("mã"), max_length=60, unique=True)
    name = models.CharField(_("tên"), max_length=500)
    unit = models.CharField(_("đơn vị tính"), max_length=50, blank=True)
    is_active = models.BooleanField(_("đang dùng"), default=True)

    class Meta:
        abstract = True
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class MedicalService(CatalogItem):
    """A medical service (dịch vụ kỹ thuật, khám, giường) with its MoH shared code where known."""

    moh_code = models.CharField(_("mã tương đương (DMDC)"), max_length=60, blank=True)
    group = models.PositiveSmallIntegerField(_("nhóm chi phí"), choices=CostGroup.choices)

    class Meta(CatalogItem.Meta):
        verbose_name = _("dịch vụ kỹ thuật")
        verbose_name_plural = _("dịch vụ kỹ thuật")


class Drug(CatalogItem):
    """A drug of the catalog, at the generic level with its active-ingredient code (MA_THUOC)."""

    active_ingredient_code = models.CharField(_("mã hoạt chất"), max_length=255, blank=True)
    active_ingredient = models.CharField(_("hoạt chất"), max_length=255, blank=True)
    strength = models.CharField(_("hàm lượng"), max_length=100, blank=True)
    dosage_form = models.CharField(_("dạng bào chế"), max_length=255, blank=True)
    route = models.CharField(_("đường dùng"), max_length=100, blank=True)
    route_code = models.CharField(_("mã đường dùng"), max_length=4, blank=True)
    registration_number = models.CharField(_("số đăng ký"), max_length=255, blank=True)
    in_bhyt_list = models.BooleanField(_("thuộc danh mục BHYT"), null=True, blank=True)

    class Meta(CatalogItem.Meta):
        verbose_name = _("thuốc")
        verbose_name_plural = _("thuốc")


class Supply(CatalogItem):
    """A medical supply (vật tư y tế) with the code issued by the portal (QĐ 5086/QĐ-BYT)."""

    moh_code = models.CharField(_("mã vật tư (cổng BHXH)"), max_length=255, blank=True)
    package = models.CharField(_("gói vật tư"), max_length=3, blank=True)

    class Meta(CatalogItem.Meta):
        verbose_name = _("vật tư y tế")
        verbose_name_plural = _("vật tư y tế")


class PriceBase(models.Model):
    """A price in force from `valid_from` to `valid_to` (inclusive), at one facility or city-wide."""

    facility = models.ForeignKey(
        "core.Facility", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    hospital_price = models.DecimalField(_("giá bệnh viện"), max_digits=15, decimal_places=2)
    bhyt_price = models.DecimalField(
        _("giá BHYT"), max_digits=15, decimal_places=2, null=True, blank=True
    )
    valid_from = models.DateField(_("áp dụng từ"))
    valid_to = models.DateField(_("áp dụng đến"), null=True, blank=True)
    source = models.CharField(_("căn cứ"), max_length=500, blank=True)

    class Meta:
        abstract = True
        ordering = ["-valid_from"]

    def __str__(self) -> str:
        return f"{self.hospital_price} ({self.valid_from:%d/%m/%Y}–)"


class ServicePrice(PriceBase):
    """The price of a medical service over a period."""

    item = models.ForeignKey(MedicalService, on_delete=models.PROTECT, related_name="prices")

    class Meta(PriceBase.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["item", "facility", "valid_from"],
                name="service_price_unique_start",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=Q(hospital_price__gte=0)
                & (Q(bhyt_price__isnull=True) | Q(bhyt_price__gte=0)),
                name="service_price_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="service_price_valid_range",
            ),
            _no_overlap("service_price_no_overlap"),
        ]
        verbose_name = _("giá dịch vụ")
        verbose_name_plural = _("giá dịch vụ")


class DrugPrice(PriceBase):
    """The price of a drug over a period."""

    item = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="prices")

    class Meta(PriceBase.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["item", "facility", "valid_from"],
                name="drug_price_unique_start",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=Q(hospital_price__gte=0)
                & (Q(bhyt_price__isnull=True) | Q(bhyt_price__gte=0)),
                name="drug_price_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="drug_price_valid_range",
            ),
            _no_overlap("drug_price_no_overlap"),
        ]
        verbose_name = _("giá thuốc")
        verbose_name_plural = _("giá thuốc")


class SupplyPrice(PriceBase):
    """The price of a supply over a period."""

    item = models.ForeignKey(Supply, on_delete=models.PROTECT, related_name="prices")

    class Meta(PriceBase.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["item", "facility", "valid_from"],
                name="supply_price_unique_start",
                nulls_distinct=False,
            ),
            models.CheckConstraint(
                condition=Q(hospital_price__gte=0)
                & (Q(bhyt_price__isnull=True) | Q(bhyt_price__gte=0)),
                name="supply_price_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="supply_price_valid_range",
            ),
            _no_overlap("supply_price_no_overlap"),
        ]
        verbose_name = _("giá vật tư")
        verbose_name_plural = _("giá vật tư")
