"""Catalog import (CSV/XLSX, per-row report) and the price in force on a day."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from openpyxl import Workbook

from ehealth.core.catalogs import catalog_import, price_in_force
from ehealth.core.models import (
    AuditEvent,
    Facility,
    IcdCode,
    MedicalService,
    Role,
    ServicePrice,
)
from tests.core.factories import FacilityFactory, make_staff

SERVICES_HEADER = "code,name,group,unit\n"


def _csv(text: str) -> bytes:
    return text.encode("utf-8")


def _service(code="22.0121.1369", name="Tổng phân tích tế bào máu", group=1, unit="lần"):
    return MedicalService.objects.create(code=code, name=name, group=group, unit=unit)


def _import(kind: str, text: str, **kwargs):
    return catalog_import(
        actor=None, kind=kind, file_name=f"{kind}.csv", content=_csv(text), **kwargs
    )


PRICES_HEADER = (
    "item_type,item_code,facility_code,hospital_price,bhyt_price,valid_from,valid_to,source\n"
)


@pytest.mark.django_db
def test_bad_row_is_reported_with_row_number_and_reason_and_good_rows_are_saved():
    # given an existing service and a file with two good rows and two bad ones
    existing = _service(code="KB.HANG1", name="Khám bệnh hạng I", group=13)
    content = (
        SERVICES_HEADER
        + "18.0119.0028,Chụp X-quang ngực thẳng,2,lần\n"
        + "KB.HANG1,,13,lần\n"  # row 3: empty name
        + "02.0085.1778,Điện tim thường,99,lần\n"  # row 4: group 99 does not exist
        + "02.0314.0001,Siêu âm ổ bụng,2,lần\n"
    )

    # when it is imported
    report = _import("services", content)

    # then the good rows are saved, each bad row names its row, column and rule
    assert report.counts == {"created": 2, "updated": 0, "unchanged": 0, "error": 2}
    errors = {r.row: r.messages for r in report.errors()}
    assert set(errors) == {3, 4}
    assert 'Cột "name": bắt buộc' in errors[3][0]
    assert 'Cột "group"' in errors[4][0] and "MA_NHOM" in errors[4][0]
    assert set(MedicalService.objects.values_list("code", flat=True)) == {
        "KB.HANG1",
        "18.0119.0028",
        "02.0314.0001",
    }
    # and the existing item the bad row pointed at is untouched
    existing.refresh_from_db()
    assert existing.name == "Khám bệnh hạng I"
    audit = AuditEvent.objects.get(action="catalog.import")
    assert audit.detail["kind"] == "services"
    assert audit.detail["error"] == 2 and audit.detail["created"] == 2


@pytest.mark.django_db
def test_a_row_that_changes_an_item_is_reported_as_updated_with_the_changed_fields():
    # given
    _service(code="02.0314.0001", name="Siêu âm ổ bụng", group=2, unit="lần")
    _service(code="02.0085.1778", name="Điện tim thường", group=3, unit="lần")

    # when one row renames and re-units an item and the other repeats what is there
    report = _import(
        "services",
        SERVICES_HEADER
        + "02.0314.0001,Siêu âm ổ bụng tổng quát,2,ca\n"
        + "02.0085.1778,Điện tim thường,3,lần\n",
    )

    # then
    updated, unchanged = report.rows
    assert updated.status == "updated" and updated.changed == ["name", "unit"]
    assert any("Siêu âm ổ bụng tổng quát" in m for m in updated.messages)
    assert unchanged.status == "unchanged" and unchanged.changed == []
    assert MedicalService.objects.get(code="02.0314.0001").unit == "ca"


@pytest.mark.django_db
def test_a_column_missing_from_the_file_leaves_the_field_as_it_is():
    # given a service with a unit, and a file without the unit column
    _service(code="02.0314.0001", name="Siêu âm", group=2, unit="lần")

    # when
    report = _import("services", "code,name,group\n02.0314.0001,Siêu âm,2\n")

    # then
    assert report.rows[0].status == "unchanged"
    assert MedicalService.objects.get(code="02.0314.0001").unit == "lần"


@pytest.mark.django_db
def test_missing_required_column_rejects_the_file_and_saves_nothing():
    report = _import("services", "code,name\nX1,Dịch vụ\n")

    assert report.file_errors and "group" in report.file_errors[0]
    assert not MedicalService.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["1,5e3", "1.5e3", "-5000", "abc", "50.600", "12 000,5"])
def test_price_must_be_a_plain_non_negative_decimal(bad):
    # given
    _service()

    # when
    report = _import(
        "prices", PRICES_HEADER + f'service,22.0121.1369,,"{bad}",,01/01/2025,,QĐ test\n'
    )

    # then
    (row,) = report.rows
    assert row.status == "error"
    assert (
        'Cột "hospital_price"' in row.messages[0] and "không phải số tiền hợp lệ" in row.messages[0]
    )
    assert not ServicePrice.objects.exists()


@pytest.mark.django_db
def test_prices_are_decimal_and_dates_accept_both_formats():
    # given
    item = _service()

    # when
    report = _import(
        "prices",
        PRICES_HEADER
        + "service,22.0121.1369,,49700.50,43500,01/01/2025,2025-06-30,QĐ 3500\n"
        + "service,22.0121.1369,,50000,,2025-07-01,,QĐ mới\n",
    )

    # then
    assert report.counts["created"] == 2
    first, second = item.prices.order_by("valid_from")
    assert first.hospital_price == Decimal("49700.50") and first.bhyt_price == Decimal("43500")
    assert first.valid_to == date(2025, 6, 30)
    assert second.bhyt_price is None


@pytest.mark.django_db
def test_bad_dates_are_reported_naming_the_column():
    _service()

    report = _import(
        "prices",
        PRICES_HEADER + "service,22.0121.1369,,1000,,31/02/2025,,x\n"
        "service,22.0121.1369,,1000,,01/03/2025,01/01/2025,x\n",
    )

    first, second = report.rows
    assert first.status == "error" and 'Cột "valid_from"' in first.messages[0]
    assert second.status == "error" and 'Cột "valid_to"' in second.messages[0]


@pytest.mark.django_db
def test_an_overlapping_price_period_is_rejected_and_the_existing_price_kept():
    # given a closed price period for 2025
    item = _service()
    _import("prices", PRICES_HEADER + "service,22.0121.1369,,40000,40000,01/01/2025,31/12/2025,A\n")

    # when a new period starting inside it is imported
    report = _import("prices", PRICES_HEADER + "service,22.0121.1369,,45000,45000,01/06/2025,,B\n")

    # then it is an error naming the clash, and nothing changed
    (row,) = report.rows
    assert row.status == "error"
    assert "chồng lấn" in row.messages[0] and "01/01/2025" in row.messages[0]
    assert list(item.prices.values_list("hospital_price", "valid_to")) == [
        (Decimal("40000.00"), date(2025, 12, 31))
    ]


@pytest.mark.django_db
def test_a_new_period_closes_the_open_one_before_it_and_says_so():
    # given an open price since 2025
    item = _service()
    _import("prices", PRICES_HEADER + "service,22.0121.1369,,40000,40000,01/01/2025,,A\n")

    # when a price from 1 July 2026 is imported
    report = _import("prices", PRICES_HEADER + "service,22.0121.1369,,45000,45000,01/07/2026,,B\n")

    # then the old one ends on 30 June 2026, reported
    (row,) = report.rows
    assert row.status == "created"
    assert any("30/06/2026" in m for m in row.messages)
    old = item.prices.get(valid_from=date(2025, 1, 1))
    assert old.valid_to == date(2026, 6, 30)

    # and a period starting before the open one does not close it: it overlaps
    late = _import("prices", PRICES_HEADER + "service,22.0121.1369,,1,1,01/01/2024,,C\n")
    assert late.rows[0].status == "error"


@pytest.mark.django_db
def test_the_database_refuses_overlapping_prices_even_outside_the_importer():
    item = _service()
    ServicePrice.objects.create(item=item, hospital_price=1, valid_from=date(2025, 1, 1))

    with pytest.raises(IntegrityError), transaction.atomic():
        ServicePrice.objects.create(item=item, hospital_price=2, valid_from=date(2025, 5, 1))


@pytest.mark.django_db
def test_price_in_force_by_date_with_facility_price_first_then_city_wide():
    # given a city-wide price that changed on 1 July 2026 and one facility's own price
    item = _service()
    hospital = FacilityFactory(code="48777")
    other = FacilityFactory(code="48778")
    _import(
        "prices",
        PRICES_HEADER
        + "service,22.0121.1369,,40000,40000,01/01/2025,30/06/2026,city-1\n"
        + "service,22.0121.1369,,45000,45000,01/07/2026,,city-2\n"
        + "service,22.0121.1369,48777,60000,45000,01/01/2026,,own\n",
    )

    # then
    assert price_in_force(item=item, facility=other, on=date(2026, 6, 30)).source == "city-1"
    assert price_in_force(item=item, facility=other, on=date(2026, 7, 1)).source == "city-2"
    assert price_in_force(item=item, facility=hospital, on=date(2025, 12, 31)).source == "city-1"
    assert price_in_force(item=item, facility=hospital, on=date(2026, 1, 1)).source == "own"
    assert price_in_force(item=item, facility=None, on=date(2024, 12, 31)) is None


@pytest.mark.django_db
def test_xlsx_import_reads_numbers_and_date_cells():
    # given a workbook with a numeric price, a date cell and a text date
    _service()
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["item_type", "item_code", "hospital_price", "bhyt_price", "valid_from", "source"])
    sheet.append(["service", "22.0121.1369", 49700, 43500.5, date(2025, 1, 1), "QĐ 3500"])
    sheet.append(["service", "22.0121.1369", "-1", None, "01/01/2026", "bad"])
    buffer = io.BytesIO()
    workbook.save(buffer)

    # when
    report = catalog_import(
        actor=None, kind="prices", file_name="gia.xlsx", content=buffer.getvalue()
    )

    # then
    assert [r.status for r in report.rows] == ["created", "error"]
    assert report.rows[1].row == 3
    price = ServicePrice.objects.get()
    assert price.hospital_price == Decimal("49700") and price.bhyt_price == Decimal("43500.5")
    assert price.valid_from == date(2025, 1, 1)


@pytest.mark.django_db
def test_dry_run_reports_but_changes_nothing():
    report = _import("services", SERVICES_HEADER + "X.1,Dịch vụ X,1,lần\n", dry_run=True)

    assert report.counts["created"] == 1
    assert not MedicalService.objects.exists()
    assert not AuditEvent.objects.filter(action="catalog.import").exists()


@pytest.mark.django_db
def test_duplicate_key_in_one_file_is_an_error_not_a_silent_overwrite():
    report = _import("services", SERVICES_HEADER + "X.1,Dịch vụ X,1,lần\nX.1,Dịch vụ khác,1,lần\n")

    assert [r.status for r in report.rows] == ["created", "error"]
    assert "dòng 2" in report.rows[1].messages[0]
    assert MedicalService.objects.get(code="X.1").name == "Dịch vụ X"


@pytest.mark.django_db
def test_unit_admin_imports_own_facility_prices_only_and_no_city_catalog():
    # given a unit admin of one hospital
    item = _service()
    own = FacilityFactory(code="48771")
    FacilityFactory(code="48772")
    admin = make_staff(own, Role.UNIT_ADMIN)

    # when they import prices for their facility, another one and city-wide
    report = catalog_import(
        actor=admin,
        kind="prices",
        file_name="gia.csv",
        content=_csv(
            PRICES_HEADER
            + "service,22.0121.1369,48771,1000,,01/01/2026,,own\n"
            + "service,22.0121.1369,48772,1000,,01/01/2026,,other\n"
            + "service,22.0121.1369,,1000,,01/01/2026,,city\n"
        ),
    )

    # then only their own row is saved
    assert [r.status for r in report.rows] == ["created", "error", "error"]
    assert "48772" in report.rows[1].messages[0]
    assert list(item.prices.values_list("source", flat=True)) == ["own"]
    # and the city-wide catalog is not theirs to change
    with pytest.raises(PermissionDenied):
        catalog_import(
            actor=admin,
            kind="services",
            file_name="dv.csv",
            content=_csv(SERVICES_HEADER + "X.1,X,1,lần\n"),
        )


@pytest.mark.django_db
def test_city_admin_imports_city_catalog():
    authority = FacilityFactory(code="48770", kind=Facility.Kind.HEALTH_AUTHORITY)
    city_admin = make_staff(authority, Role.CITY_ADMIN)

    report = catalog_import(
        actor=city_admin,
        kind="services",
        file_name="dv.csv",
        content=_csv(SERVICES_HEADER + "X.1,Dịch vụ X,1,lần\n"),
    )

    assert report.ok and MedicalService.objects.filter(code="X.1").exists()
    assert AuditEvent.objects.get(action="catalog.import").actor == city_admin


@pytest.mark.django_db
def test_icd_versions_do_not_overlap_and_a_new_version_closes_the_old():
    _import("icd10", "code,name_vi,valid_from\nA97,Sốt xuất huyết Dengue,2020-10-28\n")

    report = _import(
        "icd10",
        "code,name_vi,billable,valid_from\nA97,Bệnh sốt xuất huyết Dengue,no,2026-07-01\n"
        "97A.0,Sai mã,yes,2026-07-01\n",
    )

    assert [r.status for r in report.rows] == ["created", "error"]
    assert 'Cột "code"' in report.rows[1].messages[0]
    versions = IcdCode.objects.filter(code="A97").order_by("valid_from")
    assert [(v.valid_to, v.billable) for v in versions] == [
        (date(2026, 6, 30), True),
        (None, False),
    ]


@pytest.mark.django_db
def test_import_catalog_command_prints_the_row_report_and_fails_on_bad_rows(tmp_path):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    # given a file with a good row and a bad one
    path = tmp_path / "dichvu.csv"
    path.write_text(SERVICES_HEADER + "X.1,Dịch vụ X,1,lần\nX.2,,1,lần\n", encoding="utf-8")
    out = io.StringIO()

    # when it is imported from the command line
    with pytest.raises(CommandError):
        call_command("import_catalog", "services", str(path), stdout=out)

    # then the report names the bad row, and the good row is saved
    assert 'dòng 3 [error] X.2: Cột "name"' in out.getvalue()
    assert MedicalService.objects.filter(code="X.1").exists()
