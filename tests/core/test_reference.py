"""Reference loaders: provinces, communes, facilities with DEMO codes, ICD-10, initial catalogs."""

from __future__ import annotations

from datetime import date

import pytest

from ehealth.core.catalogs import icd_in_force
from ehealth.core.models import (
    AdminUnit,
    Drug,
    Facility,
    IcdCode,
    MedicalService,
    Province,
    ServicePrice,
)
from ehealth.core.reference import ILLUSTRATIVE_SOURCE, reference_load_all


@pytest.fixture
def loaded(db):
    return reference_load_all()


def test_provinces_communes_and_facilities_are_loaded(loaded):
    assert Province.objects.count() == 34
    assert AdminUnit.objects.filter(province_id="48").count() == 94
    assert Facility.objects.get(name="Bệnh viện C Đà Nẵng").level == Facility.Level.CENTRAL
    danang = Facility.objects.get(name="Bệnh viện Đà Nẵng")
    assert danang.kind == Facility.Kind.HOSPITAL and danang.level == Facility.Level.PROVINCIAL
    assert danang.commune.name == "Phường Hải Châu"
    assert Facility.objects.get(name="Trung tâm Y tế quận Cẩm Lệ").level == Facility.Level.BASIC


def test_facility_codes_are_labelled_placeholders_and_demo_stations_say_demo(loaded):
    facilities = Facility.objects.all()
    assert all(f.code_is_placeholder and f.code.startswith("489") for f in facilities)
    assert all("DEMO" in f.source for f in facilities)
    stations = Facility.objects.filter(kind=Facility.Kind.COMMUNE_STATION)
    assert stations.count() >= 3
    assert all("(DEMO)" in s.name and s.level == Facility.Level.PRIMARY for s in stations)
    assert all(s.name.endswith(f"{s.commune.name} (DEMO)") for s in stations)
    authority = Facility.objects.get(kind=Facility.Kind.HEALTH_AUTHORITY)
    assert authority.name == "Sở Y tế thành phố Đà Nẵng"


def test_loading_twice_changes_nothing(loaded):
    # given the counts after a first load
    counts = (Facility.objects.count(), IcdCode.objects.count(), ServicePrice.objects.count())

    # when it runs again
    again = reference_load_all()

    # then nothing is added and every catalog row is reported unchanged
    assert counts == (
        Facility.objects.count(),
        IcdCode.objects.count(),
        ServicePrice.objects.count(),
    )
    for report in again.import_reports():
        assert report.ok
        assert report.counts["created"] == report.counts["updated"] == 0


def test_a_real_facility_code_set_by_an_admin_survives_a_reload(loaded):
    facility = Facility.objects.get(name="Bệnh viện Đà Nẵng")
    facility.code, facility.code_is_placeholder = "48AAA", False
    facility.save()

    reference_load_all()

    facility.refresh_from_db()
    assert facility.code == "48AAA" and not facility.code_is_placeholder


def test_icd10_has_thousands_of_codes_with_vietnamese_names_for_the_csv_ones(loaded):
    assert loaded.icd["who_codes"] > 10_000
    today = date(2026, 11, 27)
    in_force = icd_in_force(on=today)
    assert in_force.count() > 10_000
    assert in_force.values("code").distinct().count() == in_force.count()  # one version per code
    dengue = in_force.get(code="A97")
    assert dengue.name_vi == "Bệnh sốt xuất huyết Dengue" and dengue.billable is False
    assert in_force.get(code="A97.0").billable is True
    assert in_force.filter(code__in=["J00", "I10", "U07.1"]).exclude(name_vi="").count() == 3
    # a code outside the Vietnamese list shows its WHO title
    cholera = in_force.get(code="A00.0")
    assert cholera.name_vi == "" and cholera.display_name.startswith("Cholera")
    # before 1 July 2026 the WHO version of A97 was the one in force
    assert icd_in_force(on=date(2026, 6, 30)).get(code="A97").valid_to == date(2026, 6, 30)


def test_services_get_local_codes_and_no_invented_prices(loaded):
    unpriced = MedicalService.objects.get(code="KB.HANG1")
    assert unpriced.group == 13 and not unpriced.prices.exists()
    special = MedicalService.objects.get(code="KB.HANGDB")
    price = special.prices.get()
    assert price.bhyt_price == 50600 and "Nhi Trung ương" in price.source
    assert price.valid_from == date(2024, 11, 19)
    variant = MedicalService.objects.get(code="10.0506.0459_GT")
    assert variant.moh_code == "10.0506.0459"
    assert MedicalService.objects.count() == 48


def test_drug_prices_are_flagged_illustrative_and_have_no_bhyt_price(loaded):
    paracetamol = Drug.objects.get(code="TH.PARACETAMOL-500-MG")
    price = paracetamol.prices.get()
    assert price.source.startswith(ILLUSTRATIVE_SOURCE) and price.bhyt_price is None
    oxygen = Drug.objects.get(active_ingredient_code="40.17")
    assert not oxygen.prices.exists()
    assert Drug.objects.count() == 40
