"""The insurance officer's pages: the gate (403 for other roles, 404 for another facility's
dossier), the list of a period with its filters, counts and amounts per status and a fixed number
of queries, every patient shown audited; building the period's dossiers; a dossier's detail with
its lines, errors linked to the page where they are fixed, escaped XML, the signed envelope,
versions and rejection reasons; "Lập lại hồ sơ" after a rejection."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ehealth.core.models import AuditEvent, Role
from insurance.claims.envelope import envelope_tables, envelope_verify
from insurance.claims.models import Dossier, DossierStatus, DossierVersion
from insurance.claims.workspace import Period
from patients.models import Diagnosis
from tests.core.factories import DepartmentFactory, make_staff
from tests.insurance.claims.workspace_records import FUND, HOSPITAL, build, claimable_visit, icd

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
INDEX = "claims:index"


@pytest.fixture
def officer(facility):
    return make_staff(facility, Role.INSURANCE_OFFICER, full_name="Giám Định Viên")


@pytest.fixture
def officer_client(client, officer):
    client.force_login(officer)
    return client


def last_month_moment():
    return Period.current().start - timedelta(days=3)


def rejected(version, reasons=None):
    """The insurer's answer, as the submission step records it."""
    dossier = version.dossier
    dossier.move_to(DossierStatus.SENT)
    dossier.move_to(DossierStatus.REJECTED)
    dossier.rejection_reasons = reasons or [
        {"code": "ICD", "message": "Mã bệnh chính không phù hợp với dịch vụ đã chỉ định"}
    ]
    dossier.save()
    return dossier


def rows(html: str) -> int:
    """How many dossier rows the list shows."""
    return len(re.findall(r'id="dossier-\d+"', html))


def dossier_url(dossier, name="claims:dossier", **kw):
    return reverse(name, kwargs={"dossier_id": dossier.pk, **kw})


# --- Gate ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [None, Role.CASHIER, Role.DOCTOR, Role.RECEPTIONIST])
def test_the_workspace_is_refused_to_anonymous_and_to_roles_without_the_claims_permission(
    client, facility, role
):
    # given
    if role is not None:
        client.force_login(make_staff(facility, role))

    # when
    responses = [
        client.get(reverse(INDEX)),
        client.get(reverse("claims:summary_pdf")),
        client.post(reverse("claims:build_period"), {"month": Period.current().value}),
    ]

    # then
    for response in responses:
        if role is None:
            assert response.status_code == 302 and "/login/" in response["Location"]
        else:
            assert response.status_code == 403
    assert not Dossier.objects.exists()


def test_a_dossier_of_another_facility_is_not_found_and_not_changed(
    officer_client, other_facility, signing
):
    # given a dossier at another facility
    other_officer = make_staff(other_facility, Role.INSURANCE_OFFICER)
    version = build(other_officer, claimable_visit(other_facility))
    dossier = version.dossier

    # when
    responses = [
        officer_client.get(dossier_url(dossier)),
        officer_client.get(dossier_url(dossier, "claims:dossier_version", number=1)),
        officer_client.get(dossier_url(dossier, "claims:envelope", number=1)),
        officer_client.post(dossier_url(dossier, "claims:rebuild"), {"reason": "thử"}),
    ]

    # then
    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert DossierVersion.objects.filter(dossier=dossier).count() == 1
    assert not AuditEvent.objects.filter(action="claims.dossier_view").exists()


def test_the_menu_entry_and_home_card_show_for_the_insurance_officer_only(
    client, officer, facility
):
    # given / when
    client.force_login(officer)
    home_officer = client.get(reverse("home")).content.decode()
    client.force_login(make_staff(facility, Role.CASHIER))
    home_cashier = client.get(reverse("home")).content.decode()

    # then
    url = reverse(INDEX)
    assert f'href="{url}"' in home_officer and 'id="card-claims"' in home_officer
    assert f'href="{url}"' not in home_cashier and 'id="card-claims"' not in home_cashier


# --- The list -----------------------------------------------------------------------------------


def test_the_list_shows_this_months_dossiers_with_counts_and_amounts_per_status(
    officer_client, officer, facility, signing
):
    # given two ready dossiers and one with an error this month, one last month
    for name in ("Nguyễn Thị Ánh", "Lê Văn Hùng"):
        build(officer, claimable_visit(facility, name=name))
    bad = build(officer, claimable_visit(facility, name="Phạm Văn Lỗi", diagnosis="Q99.9"))
    old = build(
        officer, claimable_visit(facility, name="Tháng Trước", ended_at=last_month_moment())
    )

    # when
    html = officer_client.get(reverse(INDEX)).content.decode()

    # then this month's three, not last month's
    assert "Nguyễn Thị Ánh" in html and "Lê Văn Hùng" in html and "Phạm Văn Lỗi" in html
    assert "Tháng Trước" not in html
    assert bad.dossier.status == DossierStatus.INVALID
    ready = html[html.index('id="status-ready"') :]
    assert '<span class="stat__value">2</span>' in ready[:200]
    assert "2.000.000" in ready[:600] and "1.600.000" in ready[:600]
    invalid = html[html.index('id="status-invalid"') :]
    assert '<span class="stat__value">1</span>' in invalid[:200]
    everything = html[html.index('id="status-all"') :]
    assert '<span class="stat__value">3</span>' in everything[:200]
    assert "3.000.000" in everything[:600] and "2.400.000" in everything[:600]
    row = html[html.index(f'id="dossier-{bad.dossier_id}"') :]
    assert 'class="errors-count">1<' in row[:3000]
    # and last month's is one click away
    month = f"{old.dossier.settlement_year}-{old.dossier.settlement_month:02d}"
    past = officer_client.get(reverse(INDEX), {"month": month}).content.decode()
    assert "Tháng Trước" in past and "Nguyễn Thị Ánh" not in past


def test_filters_by_department_visit_type_status_and_errors(
    officer_client, officer, facility, signing
):
    # given
    k02 = DepartmentFactory(facility=facility, code="K02", name="Khoa Khám bệnh")
    k03 = DepartmentFactory(facility=facility, code="K03", name="Khoa Nội")
    a = build(officer, claimable_visit(facility, name="Khoa Hai", department=k02)).dossier
    b = build(officer, claimable_visit(facility, name="Khoa Ba", department=k03)).dossier
    c = build(officer, claimable_visit(facility, name="Có Lỗi", department=k03, diagnosis="Q99.9")).dossier  # fmt: skip
    Dossier.objects.filter(pk=b.pk).update(visit_type="02")
    month = Period.current().value

    def shown(**params):
        html = officer_client.get(reverse(INDEX), {"month": month, **params}).content.decode()
        return {d.pk for d in (a, b, c) if f'id="dossier-{d.pk}"' in html}

    # when / then
    assert shown() == {a.pk, b.pk, c.pk}
    assert shown(department="K03") == {b.pk, c.pk}
    assert shown(visit_type="02") == {b.pk}
    assert shown(status="ready") == {a.pk, b.pk}
    assert shown(status="invalid") == {c.pk}
    assert shown(errors="yes") == {c.pk}
    assert shown(errors="no") == {a.pk, b.pk}
    assert shown(department="K03", errors="no") == {b.pk}
    # a bad value is ignored, never an error page
    assert shown(status="nonsense", month="2026-13") == {a.pk, b.pk, c.pk}


def test_counts_per_status_follow_the_other_filters_but_not_the_status(
    officer_client, officer, facility, signing
):
    # given
    k02 = DepartmentFactory(facility=facility, code="K02")
    k03 = DepartmentFactory(facility=facility, code="K03")
    build(officer, claimable_visit(facility, department=k02))
    build(officer, claimable_visit(facility, department=k03))
    build(officer, claimable_visit(facility, department=k03, diagnosis="Q99.9"))

    # when
    html = officer_client.get(reverse(INDEX), {"department": "K03", "status": "ready"}).content.decode()  # fmt: skip

    # then
    ready = html[html.index('id="status-ready"') :]
    invalid = html[html.index('id="status-invalid"') :]
    assert '<span class="stat__value">1</span>' in ready[:200]
    assert '<span class="stat__value">1</span>' in invalid[:200]
    assert "status=invalid" in html and "department=K03" in html


def test_the_filter_answers_htmx_with_the_results_only(officer_client, officer, facility, signing):
    # given
    build(officer, claimable_visit(facility))

    # when
    html = officer_client.get(reverse(INDEX), {"status": "ready"}, **HTMX).content.decode()

    # then
    assert "<html" not in html and 'id="dossier-table"' in html and "Nguyễn Thị Ánh" in html


def test_the_list_runs_a_fixed_number_of_queries_and_audits_every_patient_shown(
    officer_client, officer, facility, signing
):
    # given one dossier, then six
    dept = DepartmentFactory(facility=facility, code="K02")
    first = build(officer, claimable_visit(facility, department=dept))
    url = reverse(INDEX)
    officer_client.get(url)
    with CaptureQueriesContext(connection) as few:
        officer_client.get(url)
    for n in range(5):
        build(officer, claimable_visit(facility, name=f"Người Bệnh {n}", department=dept))

    # when
    with CaptureQueriesContext(connection) as many:
        response = officer_client.get(url)

    # then
    assert rows(response.content.decode()) == 6
    assert len(many) == len(few)
    patients = set(
        AuditEvent.objects.filter(action="claims.dossier_list", actor=officer).values_list(
            "patient_id", flat=True
        )
    )
    assert first.dossier.encounter.patient_id in patients
    assert len(patients) == 6


def test_the_list_is_paginated_and_keeps_its_filters(officer_client, officer, facility, signing):
    # given more dossiers than a page holds
    from insurance.claims import workspace

    for n in range(3):
        build(officer, claimable_visit(facility, name=f"Trang {n}"))
    old_size = workspace.PAGE_SIZE

    # when
    try:
        workspace.PAGE_SIZE = 2
        first = officer_client.get(reverse(INDEX), {"status": "ready"}).content.decode()
        second = officer_client.get(reverse(INDEX), {"status": "ready", "page": 2}).content.decode()
    finally:
        workspace.PAGE_SIZE = old_size

    # then
    assert rows(first) == 2 and rows(second) == 1
    assert "page=2" in first and "status=ready" in first[first.index('rel="next"') - 200 :]


# --- Building the period's dossiers -------------------------------------------------------------


def test_build_makes_dossiers_for_the_months_claimable_encounters_only(
    officer_client, officer, facility, signing, django_capture_on_commit_callbacks
):
    # given three encounters of this month without dossier (one with an unknown diagnosis), one
    # whose dossier is already ready, one of last month and one without a card
    new = [claimable_visit(facility, name=f"Mới {n}") for n in range(2)]
    bad = claimable_visit(facility, name="Sai Mã", diagnosis="Q99.9")
    done = build(officer, claimable_visit(facility, name="Đã Có")).dossier
    old = claimable_visit(facility, name="Cũ", ended_at=last_month_moment())
    no_card = claimable_visit(facility, name="Không Thẻ")
    no_card.insurance_card_code = ""
    no_card.save(update_fields=["insurance_card_code"])
    page = officer_client.get(reverse(INDEX)).content.decode()

    # when (the build task runs in-process once the transaction commits: eager mode)
    with django_capture_on_commit_callbacks(execute=True):
        response = officer_client.post(
            reverse("claims:build_period"), {"month": Period.current().value}
        )

    # then the page shows the run's result
    assert "có 3 lượt khám" in page
    html = officer_client.get(response["Location"]).content.decode()
    assert 'id="build-ready">2<' in html and 'id="build-invalid">1<' in html
    assert 'id="build-failed">0<' in html and "Đã xử lý 3/3 lượt khám" in html
    made = {d.encounter_id: d for d in Dossier.objects.all()}
    assert {e.pk for e in new + [bad]} <= set(made)
    assert old.pk not in made and no_card.pk not in made
    assert made[bad.pk].status == DossierStatus.INVALID
    assert DossierVersion.objects.filter(dossier=done).count() == 1
    # and a second click has nothing left but the invalid one, rebuilt as version 2
    with django_capture_on_commit_callbacks(execute=True):
        officer_client.post(reverse("claims:build_period"), {"month": Period.current().value})
    assert DossierVersion.objects.filter(dossier=made[bad.pk]).count() == 2
    assert DossierVersion.objects.filter(dossier=made[new[0].pk]).count() == 1


def test_build_without_the_signing_certificate_says_so_and_makes_nothing(
    officer_client, facility, settings
):
    # given
    claimable_visit(facility)
    settings.CLAIMS_SIGNING_KEY_FILE = settings.CLAIMS_SIGNING_CERT_FILE = ""

    # when
    response = officer_client.post(
        reverse("claims:build_period"), {"month": Period.current().value}, follow=True
    )

    # then
    assert response.status_code == 200
    assert "Chưa cấu hình chứng thư số" in response.content.decode()
    assert not Dossier.objects.exists()


def test_build_with_a_bad_month_is_refused_with_a_message(officer_client, facility, signing):
    # when
    response = officer_client.post(reverse("claims:build_period"), {"month": "x"}, follow=True)

    # then
    assert response.status_code == 200
    assert "Chọn tháng cần lập hồ sơ" in response.content.decode()


# --- One dossier --------------------------------------------------------------------------------


def test_detail_shows_summary_lines_with_money_escaped_xml_and_versions_and_is_audited(
    officer_client, officer, facility, signing
):
    # given
    version = build(officer, claimable_visit(facility))
    dossier = version.dossier

    # when
    html = officer_client.get(dossier_url(dossier)).content.decode()

    # then the summary and the lines (examination, blood count) with their split
    assert dossier.claim_key in html and "Nguyễn Thị Ánh" in html
    assert 'id="xml1-T_TONGCHI_BV">1.000.000 đ' in html
    assert 'id="xml1-T_BHTT">800.000 đ' in html
    services = html[html.index('id="xml3"') : html.index('id="xml-title"')]
    assert "Tổng phân tích tế bào máu" in services and "949.400" in services
    assert "759.520" in services  # 80 % of 949,400 from the fund
    assert "1.000.000" in services[services.index("lines-total") :]
    # the XML of each table, escaped, and the versions
    assert "&lt;MA_LK&gt;" in html and "<MA_LK>" not in html
    assert 'id="xml-XML1"' in html and 'id="xml-XML3"' in html
    assert 'id="version-1"' in html
    assert "Không có lỗi" in html
    assert AuditEvent.objects.filter(
        action="claims.dossier_view", target_id=str(dossier.pk), actor=officer
    ).exists()


def test_the_signed_envelope_downloads_and_verifies(officer_client, officer, facility, signing):
    # given
    version = build(officer, claimable_visit(facility))

    # when
    response = officer_client.get(dossier_url(version.dossier, "claims:envelope", number=1))

    # then
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="{version.dossier.claim_key}_v1.xml"'
    )
    verified = envelope_verify(response.content, cert_pem=signing.cert_pem)
    (tables,) = envelope_tables(verified)
    assert tables["XML1"].decode() == version.tables["XML1"]


def test_errors_name_table_field_line_rule_and_link_to_the_page_that_fixes_them(
    officer_client, officer, facility, signing
):
    # given a visit whose main diagnosis is not in the ICD-10 catalog
    enc = claimable_visit(facility, diagnosis="Q99.9")
    version = build(officer, enc)

    # when
    html = officer_client.get(dossier_url(version.dossier)).content.decode()

    # then
    errors = html[html.index('id="errors"') : html.index('id="rebuild"')]
    assert "Lỗi kiểm tra: 1" in errors
    assert "Bảng XML1 · trường MA_BENH_CHINH · tổng hợp · quy tắc ICD_NOT_ACCEPTED" in errors
    assert "Q99.9 không có trong danh mục ICD-10" in errors
    visit_url = reverse("clinic:visit", kwargs={"encounter_id": enc.pk})
    assert f'href="{visit_url}#diagnosis-correction"' in errors
    assert "Sửa tại: Trang khám bệnh" in errors


def test_a_line_defect_names_its_line_and_links_to_the_catalog_or_bill(
    officer_client, officer, facility, signing
):
    # given the blood count has lost its MoH code
    from tests.insurance.claims.workspace_records import lab_service

    enc = claimable_visit(facility)
    service = lab_service()
    service.moh_code = ""
    service.save(update_fields=["moh_code"])
    version = build(officer, enc)

    # when
    html = officer_client.get(dossier_url(version.dossier)).content.decode()

    # then
    errors = html[html.index('id="errors"') : html.index('id="rebuild"')]
    assert "Bảng XML3 · trường MA_DICH_VU · dòng 1 · quy tắc LINE_NO_CODE" in errors
    assert "XML3 dòng 1: dòng không có mã dịch vụ" in errors
    assert reverse("admin:core_medicalservice_changelist") in errors


def test_a_rejected_dossier_shows_the_reasons_and_is_rebuilt_only_with_a_reason(
    officer_client, officer, facility, signing
):
    # given a dossier rejected by the insurer, then the doctor's diagnosis corrected
    enc = claimable_visit(facility)
    dossier = rejected(build(officer, enc))
    icd("J20.9", "Viêm phế quản cấp")
    Diagnosis.objects.filter(encounter=enc, rank=0).update(icd_code="J20.9")
    url = dossier_url(dossier)

    # when the officer opens it
    html = officer_client.get(url).content.decode()

    # then the reason is shown
    box = html[html.index('id="rejection-reasons"') :]
    assert "Cơ quan BHXH từ chối hồ sơ" in box[:300]
    assert "Mã bệnh chính không phù hợp với dịch vụ đã chỉ định" in box[:600]

    # when they rebuild without a reason
    refused = officer_client.post(dossier_url(dossier, "claims:rebuild"), {"reason": ""})

    # then it is refused beside the field, nothing made
    assert refused.status_code == 200
    assert "Ghi lý do sửa hồ sơ sau khi bị từ chối" in refused.content.decode()
    assert DossierVersion.objects.filter(dossier=dossier).count() == 1

    # when they give the reason
    done = officer_client.post(
        dossier_url(dossier, "claims:rebuild"), {"reason": "Sửa mã bệnh chính theo giám định"}
    )

    # then version 2 is ready with the corrected code, version 1 stays readable
    assert done.status_code == 302 and done["Location"] == url
    dossier.refresh_from_db()
    assert (dossier.status, dossier.current_version) == (DossierStatus.READY, 2)
    page = officer_client.get(url).content.decode()
    assert "Đã lập phiên bản 2: hồ sơ sẵn sàng gửi." in page
    assert "J20.9" in page and "Sửa mã bệnh chính theo giám định" in page
    old = officer_client.get(dossier_url(dossier, "claims:dossier_version", number=1))
    old_html = old.content.decode()
    assert 'id="old-version"' in old_html and "J06.9" in old_html
    assert 'id="xml1-MA_BENH_CHINH">J06.9<' in old_html
    assert officer_client.get(dossier_url(dossier, "claims:dossier_version", number=3)).status_code == 404  # fmt: skip


def test_a_sent_dossier_offers_no_rebuild_and_a_forced_post_changes_nothing(
    officer_client, officer, facility, signing
):
    # given
    version = build(officer, claimable_visit(facility))
    Dossier.objects.filter(pk=version.dossier_id).update(status=DossierStatus.SENT)

    # when
    html = officer_client.get(dossier_url(version.dossier)).content.decode()
    forced = officer_client.post(dossier_url(version.dossier, "claims:rebuild"), {"reason": "x"})

    # then
    assert 'id="btn-rebuild"' not in html
    assert forced.status_code == 200 and "không lập lại được" in forced.content.decode()
    assert DossierVersion.objects.filter(dossier_id=version.dossier_id).count() == 1


def test_amounts_on_the_list_are_the_dossiers_totals(officer_client, officer, facility, signing):
    # given
    dossier = build(officer, claimable_visit(facility)).dossier

    # when
    html = officer_client.get(reverse(INDEX)).content.decode()

    # then
    assert (dossier.total_hospital, dossier.total_fund) == (HOSPITAL, FUND)
    row = html[html.index(f'id="dossier-{dossier.pk}"') :]
    assert '<td class="num">1.000.000</td>' in row[:3000]
    assert '<td class="num">800.000</td>' in row[:3000]


def test_an_unknown_version_or_a_bad_id_is_not_found(officer_client, officer, facility, signing):
    # given
    version = build(officer, claimable_visit(facility))

    # when / then
    assert officer_client.get(dossier_url(version.dossier, "claims:envelope", number=9)).status_code == 404  # fmt: skip
    assert officer_client.get("/claims/dossier/999999/").status_code == 404


def test_dossiers_seen_on_the_list_are_this_facilitys_only(
    officer_client, officer, facility, other_facility, signing
):
    # given a dossier here and one at another facility
    build(officer, claimable_visit(facility, name="Ở Đây"))
    build(make_staff(other_facility, Role.INSURANCE_OFFICER), claimable_visit(other_facility, name="Nơi Khác"))  # fmt: skip

    # when
    html = officer_client.get(reverse(INDEX)).content.decode()

    # then
    assert "Ở Đây" in html and "Nơi Khác" not in html
