"""The catalog import page: who may use it, the per-row report, dry run, XLSX, templates."""

from __future__ import annotations

import html
import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import Workbook

from ehealth.core import views_catalogs
from ehealth.core.catalogs import COLUMNS, catalog_import
from ehealth.core.forms import CATALOG_IMPORT_MAX_BYTES
from ehealth.core.models import AuditEvent, Facility, MedicalService, Role, ServicePrice
from tests.core.factories import FacilityFactory, make_staff

pytestmark = pytest.mark.django_db

URL = "/catalogs/import/"
SERVICES_CSV = (
    "code,name,group,unit\n"
    "18.0119.0028,Chụp X-quang ngực thẳng,2,lần\n"  # row 2: good
    "02.0085.1778,Điện tim thường,99,lần\n"  # row 3: group 99 does not exist
)


@pytest.fixture
def city_admin(db):
    authority = FacilityFactory(kind=Facility.Kind.HEALTH_AUTHORITY, name="Sở Y tế Đà Nẵng")
    return make_staff(authority, Role.CITY_ADMIN)


def _upload(name: str, content: bytes | str) -> SimpleUploadedFile:
    if isinstance(content, str):
        content = content.encode("utf-8")
    return SimpleUploadedFile(name, content)


def _post(client, *, kind: str, name: str, content, dry_run: bool = False):
    data = {"kind": kind, "file": _upload(name, content)}
    if dry_run:
        data["dry_run"] = "on"
    return client.post(URL, data)


def _text(response) -> str:
    return html.unescape(response.content.decode())


def test_the_url_is_named_catalog_import():
    assert reverse("catalog-import") == URL


def test_anonymous_visitor_is_sent_to_login(client):
    # when
    response = client.get(URL)
    # then
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_receptionist_gets_404_and_cannot_import(client, receptionist):
    # given a receptionist signed in
    client.force_login(receptionist)
    # when they open the page, ask for a template, or post a file
    get = client.get(URL)
    template = client.get(URL, {"template": "services"})
    post = _post(client, kind="services", name="dv.csv", content=SERVICES_CSV)
    # then each is answered as if the page did not exist, and nothing is saved
    assert (get.status_code, template.status_code, post.status_code) == (404, 404, 404)
    assert not MedicalService.objects.exists()
    assert not AuditEvent.objects.filter(action="catalog.import").exists()


def test_city_admin_import_saves_good_row_and_reports_bad_row_with_reason(client, city_admin):
    # given a city admin on the page
    client.force_login(city_admin)
    # when they import a services file with one good row and one bad row
    response = _post(client, kind="services", name="dich-vu.csv", content=SERVICES_CSV)
    # then the good row is saved and the bad one is not
    assert response.status_code == 200
    assert list(MedicalService.objects.values_list("code", flat=True)) == ["18.0119.0028"]
    # and the table lists the bad row by number, with its Vietnamese reason, and the totals
    report = response.context["report"]
    assert [(r.row, r.status) for r in report.rows] == [(2, "created"), (3, "error")]
    body = _text(response)
    assert '<tr class="import-row import-row--error">' in body
    row_3 = body.split('import-row--error">', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">3</td>' in row_3
    assert 'Cột "group": "99" không phải mã nhóm chi phí (MA_NHOM) hợp lệ.' in row_3
    assert "1 thêm mới · 0 cập nhật · 0 không đổi · 1 lỗi" in body
    assert AuditEvent.objects.get(action="catalog.import").actor == city_admin


def test_an_updated_row_shows_its_changed_fields(client, city_admin):
    # given an existing service
    MedicalService.objects.create(code="02.0314.0001", name="Siêu âm ổ bụng", group=2, unit="lần")
    client.force_login(city_admin)
    # when a file renames it
    response = _post(
        client,
        kind="services",
        name="dv.csv",
        content="code,name,group,unit\n02.0314.0001,Siêu âm ổ bụng tổng quát,2,lần\n",
    )
    # then the row says "updated", names the field, and shows the old and new value
    body = _text(response)
    row = body.split('import-row--updated">', 1)[1].split("</tr>", 1)[0]
    assert "<td>name</td>" in row
    assert "name: Siêu âm ổ bụng → Siêu âm ổ bụng tổng quát" in row
    assert MedicalService.objects.get(code="02.0314.0001").name == "Siêu âm ổ bụng tổng quát"


def test_dry_run_reports_but_saves_nothing(client, city_admin):
    # given
    client.force_login(city_admin)
    # when the file is only checked
    response = _post(client, kind="services", name="dv.csv", content=SERVICES_CSV, dry_run=True)
    # then the same report is shown, marked as a check, and nothing is saved or audited
    assert response.status_code == 200
    report = response.context["report"]
    assert report.dry_run and report.counts["created"] == 1 and report.counts["error"] == 1
    assert "Chỉ kiểm tra trước: chưa có gì được lưu." in _text(response)
    assert not MedicalService.objects.exists()
    assert not AuditEvent.objects.filter(action="catalog.import").exists()


def test_a_long_report_shows_every_error_row_and_says_how_many_rows_it_hides(
    client, city_admin, monkeypatch
):
    # given a table limit of 2 rows and a file of 3 good rows then a bad one
    monkeypatch.setattr(views_catalogs, "MAX_SHOWN_ROWS", 2)
    client.force_login(city_admin)
    content = "code,name,group\nA1,Một,1\nA2,Hai,1\nA3,Ba,1\nA4,Bốn,99\n"
    # when
    response = _post(client, kind="services", name="dv.csv", content=content, dry_run=True)
    # then the bad row is shown with the first good one, and the page counts the rest
    assert [r.row for r in response.context["shown_rows"]] == [2, 5]
    assert "số dòng hợp lệ không được hiện: 2." in _text(response)
    assert response.context["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "error": 1}


def test_the_form_checks_dry_run_by_default(client, city_admin):
    client.force_login(city_admin)
    body = client.get(URL).content.decode()
    assert 'name="dry_run"' in body
    assert 'id="id_dry_run" checked' in body or 'checked id="id_dry_run"' in body


def test_xlsx_upload_imports_prices_with_number_and_date_cells(client, city_admin):
    # given a service and an XLSX price list with a number and a date cell
    service = MedicalService.objects.create(code="KB.HANG1", name="Khám bệnh", group=13)
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["item_type", "item_code", "hospital_price", "bhyt_price", "valid_from"])
    sheet.append(["service", "KB.HANG1", 50600, 50600, date(2026, 1, 1)])
    buffer = io.BytesIO()
    workbook.save(buffer)
    client.force_login(city_admin)
    # when
    response = _post(client, kind="prices", name="gia.xlsx", content=buffer.getvalue())
    # then the city-wide price is saved as Decimal with its date
    assert response.context["report"].counts["created"] == 1
    price = ServicePrice.objects.get(item=service)
    assert price.facility_id is None
    assert price.hospital_price == Decimal("50600")
    assert price.valid_from == date(2026, 1, 1)


def test_unit_admin_is_refused_a_city_wide_catalog_and_nothing_changes(client, unit_admin):
    # given a unit admin at a hospital
    client.force_login(unit_admin)
    # when they post a services file (a city-wide catalog)
    response = _post(client, kind="services", name="dv.csv", content=SERVICES_CSV)
    # then the page says why, beside the field, and nothing is saved
    assert response.status_code == 200
    form = response.context["form"]
    assert "quản trị đơn vị chỉ nhập bảng giá của cơ sở mình" in form.errors["kind"][0]
    assert "quản trị đơn vị chỉ nhập bảng giá của cơ sở mình" in _text(response)
    assert response.context["report"] is None
    assert not MedicalService.objects.exists()
    assert not AuditEvent.objects.filter(action="catalog.import").exists()
    # and the kind list offers them only the price list
    assert [value for value, _label in form.fields["kind"].choices] == ["prices"]


def test_unit_admin_imports_own_prices_and_city_wide_price_rows_are_refused(
    client, unit_admin, facility
):
    # given a service, and a unit admin at `facility`
    service = MedicalService.objects.create(code="KB.HANG1", name="Khám bệnh", group=13)
    client.force_login(unit_admin)
    content = (
        "item_type,item_code,facility_code,hospital_price,valid_from\n"
        f"service,KB.HANG1,{facility.code},52000,01/01/2026\n"
        "service,KB.HANG1,,50600,01/01/2026\n"
    )
    # when they import a price of their own facility and a city-wide one
    response = _post(client, kind="prices", name="gia.csv", content=content)
    # then only their facility's price is saved; the city-wide row is refused with its reason
    assert list(ServicePrice.objects.values_list("item", "facility")) == [(service.pk, facility.pk)]
    errors = {r.row: r.messages for r in response.context["report"].errors()}
    assert list(errors) == [3]
    assert "chỉ do Sở Y tế nhập" in errors[3][0]
    assert "chỉ do Sở Y tế nhập" in _text(response)


def test_a_refusal_from_the_service_is_shown_as_a_message_not_a_500(
    client, unit_admin, monkeypatch
):
    # given the service refuses (the role was withdrawn between the page and the post)
    def refuse(**kwargs):
        raise PermissionDenied("no")

    monkeypatch.setattr(views_catalogs, "catalog_import_service", refuse)
    client.force_login(unit_admin)
    # when
    response = _post(client, kind="prices", name="gia.csv", content="item_type\n")
    # then the page explains in Vietnamese
    assert response.status_code == 200
    assert "Bạn không có quyền nhập danh mục này" in response.context["form"].errors["kind"][0]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("dv.txt", SERVICES_CSV, "Tệp phải có đuôi .csv hoặc .xlsx."),
        ("dv.csv", b"", "Tệp được gửi lên không có nội dung."),
        ("dv.csv", b"x" * (CATALOG_IMPORT_MAX_BYTES + 1), "vượt giới hạn 5 MB"),
    ],
)
def test_a_bad_file_is_refused_beside_the_field(client, city_admin, name, content, message):
    # given
    client.force_login(city_admin)
    # when
    response = _post(client, kind="services", name=name, content=content)
    # then
    assert response.status_code == 200
    assert message in response.context["form"].errors["file"][0]
    assert response.context["report"] is None
    assert not MedicalService.objects.exists()


def test_an_unreadable_file_is_reported_and_nothing_saved(client, city_admin):
    client.force_login(city_admin)
    response = _post(client, kind="services", name="dv.xlsx", content=b"not a workbook")
    assert response.status_code == 200
    assert "Không đọc được tệp XLSX" in _text(response)
    assert not MedicalService.objects.exists()


@pytest.mark.parametrize("kind", list(COLUMNS))
def test_template_download_is_the_header_the_importer_expects(client, city_admin, kind):
    # given
    client.force_login(city_admin)
    # when the template is downloaded
    response = client.get(URL, {"template": kind})
    # then it is a CSV whose header lists the required columns, then the optional ones
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    required, optional = COLUMNS[kind]
    assert response.content.decode("utf-8-sig").strip() == ",".join(required + optional)
    # and the importer takes it as it is: no missing column, no ignored one
    report = catalog_import(
        actor=None, kind=kind, file_name="mau.csv", content=response.content, dry_run=True
    )
    assert report.file_errors == [] and report.warnings == []


def test_unknown_template_kind_is_404(client, city_admin):
    client.force_login(city_admin)
    assert client.get(URL, {"template": "patients"}).status_code == 404


def test_the_page_is_linked_from_the_menu_home_and_admin_catalogs(
    client, city_admin, unit_admin, receptionist
):
    # given a city admin and a unit admin, then a receptionist
    for user in (city_admin, unit_admin):
        client.force_login(user)
        # then the menu and the home page link the import page
        home = client.get(reverse("home")).content.decode()
        assert home.count(f'href="{URL}"') == 2
        # and so do the admin's catalog and price lists
        for name in ("admin:core_medicalservice_changelist", "admin:core_serviceprice_changelist"):
            assert f'href="{URL}"' in client.get(reverse(name)).content.decode()
    client.force_login(receptionist)
    assert URL not in client.get(reverse("home")).content.decode()


def test_page_and_report_use_a_bounded_number_of_queries(
    client, city_admin, django_assert_max_num_queries
):
    # given
    client.force_login(city_admin)
    # then the form page is a handful of queries
    with django_assert_max_num_queries(8):
        assert client.get(URL).status_code == 200
    # and rendering a report adds nothing per row beyond the import itself
    few = "code,name,group\n" + "".join(f"X{i},Dịch vụ {i},1\n" for i in range(2))
    many = "code,name,group\n" + "".join(f"Y{i},Dịch vụ {i},1\n" for i in range(20))
    with CaptureQueriesContext(connection) as small:
        _post(client, kind="services", name="a.csv", content=few, dry_run=True)
    with CaptureQueriesContext(connection) as large:
        _post(client, kind="services", name="b.csv", content=many, dry_run=True)
    per_row = (len(large) - len(small)) / 18
    assert per_row <= 4  # the importer's own lookup/insert/savepoint per row, no template queries
