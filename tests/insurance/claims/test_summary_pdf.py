"""The director's monthly summary PDF: the month's dossiers per status, the claimed ones per cost
group in the cost statement's order, totals; read back as text with pypdf."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from ehealth.core.models import Role
from insurance.claims import workspace
from insurance.claims.models import Dossier, DossierStatus
from insurance.claims.workspace import Period
from tests.core.factories import make_staff
from tests.insurance.claims.workspace_records import build, claimable_visit

pytestmark = pytest.mark.django_db


def pdf_text(content: bytes) -> str:
    """The PDF's text with every run of whitespace as one space (table cells come out one per
    line): a table row reads as its cells in order."""
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return " ".join(text.split())


@pytest.fixture
def officer(facility):
    return make_staff(facility, Role.INSURANCE_OFFICER, full_name="Trần Giám Định")


@pytest.fixture
def month(officer, facility, signing):
    """This month: two ready dossiers (each 50,600 examination + 949,400 blood count; the fund
    pays 80 %), one accepted, one with an error; and one dossier of last month."""
    for name in ("Một", "Hai", "Ba"):
        build(officer, claimable_visit(facility, name=f"Nguyễn Văn {name}"))
    Dossier.objects.filter(pk=Dossier.objects.order_by("pk").first().pk).update(
        status=DossierStatus.ACCEPTED
    )
    build(officer, claimable_visit(facility, name="Lỗi", diagnosis="Q99.9"))
    build(
        officer,
        claimable_visit(
            facility, name="Trước", ended_at=Period.current().start - timedelta(days=2)
        ),
    )
    return Period.current()


def test_cost_group_totals_sum_the_claimed_dossiers_lines_in_the_cost_statement_order(
    facility, month
):
    # when
    groups, claimed = workspace.cost_group_totals(facility=facility, period=month)

    # then: examination (13) first, then lab tests (1), as on form 01/KBCB
    assert claimed == 3
    assert [(g.cost_group, g.lines) for g in groups] == [(13, 3), (1, 3)]
    assert groups[0].hospital == Decimal("151800.00")  # 3 × 50,600
    assert groups[1].hospital == Decimal("2848200.00")  # 3 × 949,400
    assert sum(g.fund for g in groups) == Decimal("2400000.00")
    assert sum(g.copay for g in groups) == Decimal("600000.00")
    # and the claimed groups add up to the claimed dossiers' XML1 totals
    claimed_dossiers = Dossier.objects.filter(
        facility=facility,
        settlement_year=month.year,
        settlement_month=month.month,
        status__in=workspace.CLAIMED_STATUSES,
    )
    assert sum(d.total_hospital for d in claimed_dossiers) == sum(g.hospital for g in groups)


def test_the_summary_pdf_prints_statuses_cost_groups_and_totals(client, officer, facility, month):
    # given
    client.force_login(officer)

    # when
    response = client.get(reverse("claims:summary_pdf"), {"month": month.value})

    # then
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert f"tong-hop-bhyt-{facility.code}-{month.value}.pdf" in response["Content-Disposition"]
    text = pdf_text(response.content)
    assert "TỔNG HỢP HỒ SƠ ĐỀ NGHỊ THANH TOÁN BHYT" in text
    assert f"Tháng {month.month:02d} năm {month.year}" in text
    assert facility.name.upper() in text and facility.code in text
    # per status: 2 ready, 1 accepted, 1 with errors; 4 dossiers, 4,000,000 in all
    assert "Sẵn sàng gửi 2 2.000.000 1.600.000" in text
    assert "Được chấp nhận 1 1.000.000 800.000" in text
    assert "Có lỗi 1 1.000.000 800.000" in text
    assert "Tổng cộng 4 4.000.000 3.200.000" in text
    # per cost group, the claimed three (not the one with errors)
    assert "Gồm 3 hồ sơ" in text
    assert "Khám bệnh (13) 3 151.800" in text
    assert "Xét nghiệm (1) 3 2.848.200" in text
    assert "Tổng cộng 6 3.000.000 3.000.000 2.400.000 600.000" in text
    assert "Giám đốc" in text and "Trần Giám Định" in text
    # no patient is named in a director's summary
    assert "Nguyễn Văn" not in text


def test_the_summary_pdf_of_an_empty_month_says_so(client, officer, facility):
    # given
    client.force_login(officer)

    # when
    response = client.get(reverse("claims:summary_pdf"), {"month": "2020-02"})

    # then
    text = pdf_text(response.content)
    assert "Tháng 02 năm 2020" in text
    assert "(Không có hồ sơ đề nghị thanh toán)" in text
    assert "Tổng cộng 0 0 0" in text


def test_the_summary_pdf_is_refused_to_the_cashier(client, facility):
    # given
    client.force_login(make_staff(facility, Role.CASHIER))

    # when / then
    assert client.get(reverse("claims:summary_pdf")).status_code == 403
