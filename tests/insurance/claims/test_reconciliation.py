"""Reconciliation with the insurer's settlement: the import (CSV/XLSX, every bad row reported with
its row and column, nothing stored when one is bad, a file imported twice refused), matching to
our dossiers (accepted ones become paid), and the differences claimed versus approved per
dossier, department and cost group, with a fixed number of queries on the page."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ehealth.core.models import AuditEvent, Role
from insurance.claims import reconciliation as recon
from insurance.claims.batch_models import Settlement, SettlementLine
from insurance.claims.models import Dossier, DossierStatus
from insurance.claims.workspace import Period
from tests.core.factories import DepartmentFactory, make_staff
from tests.insurance.claims.workspace_records import build, claimable_visit

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("signing")]

D = Decimal


@pytest.fixture
def officer(facility):
    return make_staff(facility, Role.INSURANCE_OFFICER)


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


def sent(officer, facility, *, status=DossierStatus.ACCEPTED, name="Nguyễn Thị Ánh", department=None):  # fmt: skip
    """A dossier of this month (1,000,000 claimed at the hospital, 800,000 from the fund: 40,480
    for the examination, 759,520 for the blood count) as the insurer answered it."""
    dossier = build(officer, claimable_visit(facility, name=name, department=department)).dossier
    Dossier.objects.filter(pk=dossier.pk).update(status=status)
    dossier.refresh_from_db()
    return dossier


def csv_file(rows: list[list[str]], header=("ma_lk", "so_tien_duyet")) -> bytes:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def xlsx_file(rows: list[list], header: list[str]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def upload(client, content: bytes, name="quyet-toan.csv", month=None, dry_run=False):
    data = {
        "month": month or Period.current().value,
        "file": SimpleUploadedFile(name, content),
    }
    if dry_run:
        data["dry_run"] = "on"
    return client.post(reverse("claims:settlement_import"), data)


# --- Import -------------------------------------------------------------------------------------


def test_import_matches_rows_pays_accepted_dossiers_and_shows_the_differences(
    officer_client, officer, facility
):
    # given two accepted dossiers and one rejected
    full = sent(officer, facility, name="Đủ Tiền")
    short = sent(officer, facility, name="Thiếu Tiền")
    refused = sent(officer, facility, name="Bị Từ Chối", status=DossierStatus.REJECTED)
    content = csv_file(
        [[full.claim_key, "800000"], [short.claim_key, "700.000"], [refused.claim_key, "0"]]
    )

    # when
    response = upload(officer_client, content)

    # then stored and matched
    assert response.status_code == 302
    settlement = Settlement.objects.get()
    assert (settlement.line_count, settlement.total_approved) == (3, D("1500000.00"))
    lines = {line.claim_key: line for line in SettlementLine.objects.all()}
    assert lines[short.claim_key].dossier == short
    assert lines[short.claim_key].amount_claimed == D("800000.00")
    assert Dossier.objects.get(pk=full.pk).status == DossierStatus.PAID
    assert Dossier.objects.get(pk=short.pk).status == DossierStatus.PAID
    assert Dossier.objects.get(pk=refused.pk).status == DossierStatus.REJECTED
    assert AuditEvent.objects.filter(action="claims.settlement_import").count() == 1

    # and the page shows the differences per dossier, per department and per cost group
    page = officer_client.get(response["Location"]).content.decode()
    assert "2 hồ sơ chuyển sang “Đã thanh toán”" in page
    assert 'id="total-claimed">2.400.000<' in page
    assert 'id="total-approved">1.500.000<' in page
    assert 'id="total-difference">-900.000<' in page
    row = page[page.index(f'id="recon-{short.pk}"') :]
    assert "800.000" in row[:1500] and "700.000" in row[:1500] and "-100.000" in row[:1500]
    department = page[page.index('id="by-department-K01"') :]
    assert "2.400.000" in department[:600] and "1.500.000" in department[:600]
    # the short dossier's 700,000 shared 40,480 : 759,520 between examination and lab
    exam = page[page.index('id="by-group-13"') :]
    assert "121.440" in exam[:600] and "75.900" in exam[:600] and "-45.540" in exam[:600]
    lab = page[page.index('id="by-group-1"') :]
    assert "2.278.560" in lab[:600] and "1.424.100" in lab[:600]


def test_import_from_xlsx_takes_the_approved_amounts_per_cost_group_as_given(officer, facility):
    # given
    dossier = sent(officer, facility)
    content = xlsx_file(
        [[dossier.claim_key, 790000, 30480, 759520]],
        ["MA_LK", "so_tien_duyet", "nhom_13", "nhom_1"],
    )

    # when
    report = recon.settlement_import(
        actor=officer,
        facility=facility,
        period=Period.current(),
        file_name="qt.xlsx",
        content=content,
    )
    data = recon.reconciliation(actor=officer, facility=facility, period=Period.current())

    # then
    assert report.ok and report.settlement is not None
    groups = {g.key: g for g in data.groups}
    assert (groups["13"].claimed, groups["13"].approved) == (D("40480.00"), D("30480"))
    assert (groups["1"].claimed, groups["1"].approved) == (D("759520.00"), D("759520"))
    assert data.total.difference == D("-10000.00")


def test_bad_rows_are_each_reported_and_nothing_is_stored(officer_client, officer, facility):
    # given
    good = sent(officer, facility, name="Tốt")
    ready = build(officer, claimable_visit(facility, name="Chưa Gửi")).dossier
    content = csv_file(
        [
            [good.claim_key, "800000"],  # row 2: fine
            ["", "100"],  # row 3: no MA_LK
            [good.claim_key, "5"],  # row 4: duplicate
            ["KHONG-CO-HO-SO", "100"],  # row 5: not ours
            [ready.claim_key, "100"],  # row 6: never sent
            [good.claim_key + "X", "-5"],  # row 7: negative (and not ours)
            [good.claim_key + "Y", "12x5"],  # row 8: not a number (and not ours)
        ]
    )

    # when
    response = upload(officer_client, content)

    # then
    assert response.status_code == 200
    html = unescape(response.content.decode())
    assert "Tệp có 6 dòng lỗi: không có gì được lưu." in html
    rows = {n: html[html.index(f'id="row-{n}"') :][:1500] for n in range(2, 9)}
    assert "Hợp lệ" in rows[2]
    assert 'Cột "ma_lk": bắt buộc' in rows[3]
    assert "trùng với dòng 2" in rows[4]
    assert "không khớp hồ sơ giám định nào của cơ sở" in rows[5]
    assert "chưa được gửi cổng BHXH (trạng thái: Sẵn sàng gửi)" in rows[6]
    assert "số tiền không được âm" in rows[7]
    assert "không phải số tiền" in rows[8]
    assert not Settlement.objects.exists() and not SettlementLine.objects.exists()
    assert Dossier.objects.get(pk=good.pk).status == DossierStatus.ACCEPTED
    assert not AuditEvent.objects.filter(action="claims.settlement_import").exists()


def test_a_file_without_the_required_columns_or_not_csv_is_refused(officer_client, officer, facility):  # fmt: skip
    # when
    missing = upload(officer_client, csv_file([["x"]], header=("ma_lk",)))
    wrong = upload(officer_client, b"%PDF-1.4", name="qt.pdf")

    # then
    assert "Thiếu cột bắt buộc: so_tien_duyet" in missing.content.decode()
    assert "Tệp phải có đuôi .csv hoặc .xlsx." in wrong.content.decode()
    assert not Settlement.objects.exists()


def test_the_same_file_twice_is_refused_and_a_dry_run_stores_nothing(
    officer_client, officer, facility
):
    # given
    dossier = sent(officer, facility)
    content = csv_file([[dossier.claim_key, "800000"]])

    # when
    dry = upload(officer_client, content, dry_run=True)
    first = upload(officer_client, content)
    again = upload(officer_client, content)

    # then
    assert "Chỉ kiểm tra trước: tệp hợp lệ, chưa có gì được lưu." in dry.content.decode()
    assert first.status_code == 302
    assert "đã được nhập cho kỳ" in again.content.decode()
    assert Settlement.objects.count() == 1


def test_a_cost_group_split_that_does_not_add_up_is_a_row_error(officer, facility):
    # given
    dossier = sent(officer, facility)
    content = csv_file([[dossier.claim_key, "800000", "1", "2"]], header=("ma_lk", "so_tien_duyet", "nhom_13", "nhom_1"))  # fmt: skip

    # when
    report = recon.settlement_import(
        actor=officer,
        facility=facility,
        period=Period.current(),
        file_name="qt.csv",
        content=content,  # fmt: skip
    )

    # then
    assert not report.ok and report.settlement is None
    assert "phải bằng so_tien_duyet" in report.errors[0].messages[0]


# --- The page -----------------------------------------------------------------------------------


def test_without_a_settlement_every_sent_dossier_shows_as_not_yet_approved(
    officer_client, officer, facility
):
    # given
    dossier = sent(officer, facility, status=DossierStatus.SENT)
    build(officer, claimable_visit(facility, name="Chưa Gửi"))

    # when
    html = officer_client.get(reverse("claims:reconciliation")).content.decode()

    # then
    assert 'id="no-settlement"' in html
    assert f'id="recon-{dossier.pk}"' in html and "Chưa Gửi" not in html
    assert 'id="total-difference">-800.000<' in html


def test_the_page_can_show_only_the_dossiers_with_a_difference(officer_client, officer, facility):
    # given
    equal = sent(officer, facility, name="Bằng Nhau")
    short = sent(officer, facility, name="Chênh Lệch")
    upload(officer_client, csv_file([[equal.claim_key, "800000"], [short.claim_key, "1"]]))

    # when
    html = officer_client.get(reverse("claims:reconciliation"), {"diff": "1"}).content.decode()

    # then
    assert f'id="recon-{short.pk}"' in html and f'id="recon-{equal.pk}"' not in html


def test_the_reconciliation_page_runs_a_fixed_number_of_queries_and_audits_patients(
    officer_client, officer, facility
):
    # given one dossier in the settlement, then five
    k02 = DepartmentFactory(facility=facility, code="K02")
    first = sent(officer, facility, department=k02)
    upload(officer_client, csv_file([[first.claim_key, "800000"]]), month=Period.current().value)
    url = reverse("claims:reconciliation")
    officer_client.get(url)
    with CaptureQueriesContext(connection) as few:
        officer_client.get(url)
    for n in range(4):
        sent(officer, facility, name=f"Người {n}", department=k02)

    # when
    with CaptureQueriesContext(connection) as many:
        html = officer_client.get(url).content.decode()

    # then
    assert len(re.findall(r'id="recon-\d+"', html)) == 5
    assert len(many) == len(few)
    assert AuditEvent.objects.filter(
        action="claims.reconciliation_view", patient_id=first.encounter.patient_id
    ).exists()


@pytest.mark.parametrize("role", [Role.CASHIER, Role.DOCTOR])
def test_reconciliation_is_refused_to_other_roles_and_nothing_is_imported(
    client, facility, officer, role
):
    # given
    dossier = sent(officer, facility)
    client.force_login(make_staff(facility, role))

    # when
    page = client.get(reverse("claims:reconciliation"))
    posted = upload(client, csv_file([[dossier.claim_key, "800000"]]))

    # then
    assert page.status_code == 403 and posted.status_code == 403
    assert not Settlement.objects.exists()


def test_a_dossier_of_another_facility_cannot_be_settled_here(officer, facility, other_facility):
    # given
    theirs = sent(make_staff(other_facility, Role.INSURANCE_OFFICER), other_facility)

    # when
    report = recon.settlement_import(
        actor=officer,
        facility=facility,
        period=Period.current(),
        file_name="qt.csv",
        content=csv_file([[theirs.claim_key, "800000"]]),
    )

    # then
    assert report.settlement is None
    assert "không khớp hồ sơ giám định nào của cơ sở" in report.errors[0].messages[0]
    assert Dossier.objects.get(pk=theirs.pk).status == DossierStatus.ACCEPTED
