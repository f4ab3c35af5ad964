"""The tables of an outpatient and an inpatient dossier, field by field (domain brief 3.3–3.7).

Expected values are worked out by hand from the records in `records.py` and written literally.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from insurance.claims.builders import build_tables, fmt_money, fmt_qty, totals
from insurance.claims.data import dossier_data
from insurance.claims.fields import XML1
from insurance.claims.schemas import schema
from insurance.claims.validation import dossier_validate
from tests.insurance.claims.records import inpatient_stay, outpatient_visit

pytestmark = pytest.mark.django_db


def rows(xml: bytes) -> list[dict[str, str]]:
    root = etree.fromstring(xml)
    holders = [root] if root.tag in ("TONG_HOP", "CHI_TIEU_DU_LIEU_GIAY_RA_VIEN") else root[0]
    return [{c.tag: c.text or "" for c in h} for h in holders]


def test_formats_follow_the_standard():
    # given / when / then: '.' decimals, amounts 2 decimals, quantities 3 (brief 3.2)
    assert fmt_money(Decimal("1234.5")) == "1234.50"
    assert fmt_money(Decimal("0.005")) == "0.01"
    assert fmt_qty(Decimal("10")) == "10.000"
    assert fmt_qty(Decimal("0.3333")) == "0.333"


def test_outpatient_summary_xml1_field_by_field():
    # given
    s = outpatient_visit()
    key = s.encounter.claim_key
    # when
    tables = build_tables(dossier_data(encounter=s.encounter, charges=s.charges))
    xml1 = rows(tables["XML1"])[0]
    # then: every element of XML1 in the standard's order
    assert list(xml1) == list(XML1.names)
    expected = {
        "MA_LK": key, "STT": "1", "MA_BN": "BN-000042", "HO_TEN": "Trần Thị Bình",
        "SO_CCCD": "048190000123", "NGAY_SINH": "199003040000", "GIOI_TINH": "2",
        "NHOM_MAU": "", "MA_QUOCTICH": "VN", "MA_DANTOC": "01", "MA_NGHE_NGHIEP": "",
        "DIA_CHI": "12 Lê Duẩn, Phường Hải Châu, Thành phố Đà Nẵng", "MATINH_CU_TRU": "48",
        "MAHUYEN_CU_TRU": "", "MAXA_CU_TRU": "20194", "DIEN_THOAI": "0905111222",
        "MA_THE_BHYT": "DN4480123456789", "MA_DKBD": "48901", "GT_THE_TU": "20260101",
        "GT_THE_DEN": "20261231", "NGAY_MIEN_CCT": "", "LY_DO_VV": "Sốt, ho 3 ngày",
        "LY_DO_VNT": "", "MA_LY_DO_VNT": "", "CHAN_DOAN_VAO": "",
        "CHAN_DOAN_RV": "Nhiễm trùng hô hấp trên cấp; Tăng huyết áp vô căn",
        "MA_BENH_CHINH": "J06.9", "MA_BENH_KT": "I10", "MA_BENH_YHCT": "", "MA_PTTT_QT": "",
        "MA_DOITUONG_KCB": "1", "MA_NOI_DI": "", "MA_NOI_DEN": "", "MA_TAI_NAN": "",
        "NGAY_VAO": "202611200815", "NGAY_VAO_NOI_TRU": "", "NGAY_RA": "202611200940",
        "GIAY_CHUYEN_TUYEN": "", "SO_NGAY_DTRI": "0", "PP_DIEU_TRI": "", "KET_QUA_DTRI": "7",
        "MA_LOAI_RV": "1", "GHI_CHU": "Uống thuốc theo đơn", "NGAY_TTOAN": "",
        "T_THUOC": "10000.00", "T_VTYT": "0.00", "T_TONGCHI_BV": "150000.00",
        "T_TONGCHI_BH": "140000.00", "T_BNTT": "10000.00", "T_BNCCT": "0.00",
        "T_BHTT": "140000.00", "T_NGUONKHAC": "0.00", "T_BHTT_GDV": "140000.00",
        "NAM_QT": "2026", "THANG_QT": "11", "MA_LOAI_KCB": "01", "MA_KHOA": "K02",
        "MA_CSKCB": "48901", "MA_KHUVUC": "", "CAN_NANG": "", "CAN_NANG_CON": "",
        "NAM_NAM_LIEN_TUC": "", "NGAY_TAI_KHAM": "", "MA_HSBA": "BN-000042", "MA_TTDV": "",
        "DU_PHONG": "",
    }  # fmt: skip
    assert xml1 == expected


def test_outpatient_lines_xml2_xml3_xml4_and_checkin_xml0():
    # given
    s = outpatient_visit()
    key = s.encounter.claim_key
    # when
    tables = build_tables(dossier_data(encounter=s.encounter, charges=s.charges))
    # then: no course notes, no discharge paper for a visit
    assert sorted(tables) == ["XML0", "XML1", "XML2", "XML3", "XML4"]
    (drug,) = rows(tables["XML2"])
    assert {k: drug[k] for k in (
        "MA_LK", "STT", "MA_THUOC", "MA_NHOM", "TEN_THUOC", "DON_VI_TINH", "HAM_LUONG",
        "DUONG_DUNG", "DANG_BAO_CHE", "LIEU_DUNG", "CACH_DUNG", "SO_DANG_KY", "PHAM_VI",
        "TYLE_TT_BH", "SO_LUONG", "DON_GIA", "THANH_TIEN_BV", "THANH_TIEN_BH", "T_NGUONKHAC",
        "MUC_HUONG", "T_BNTT", "T_BNCCT", "T_BHTT", "MA_KHOA", "MA_BAC_SI", "NGAY_YL", "MA_PTTT",
        "NGUON_CTRA",
    )} == {
        "MA_LK": key, "STT": "1", "MA_THUOC": "40.48", "MA_NHOM": "4",
        "TEN_THUOC": "Paracetamol 500mg", "DON_VI_TINH": "viên", "HAM_LUONG": "500mg",
        "DUONG_DUNG": "1.01", "DANG_BAO_CHE": "Viên nén",
        "LIEU_DUNG": "1 viên x 2 lần/ngày x 5 ngày", "CACH_DUNG": "Uống sau ăn",
        "SO_DANG_KY": "VD-12345-20", "PHAM_VI": "1", "TYLE_TT_BH": "100", "SO_LUONG": "10.000",
        "DON_GIA": "1000.00", "THANH_TIEN_BV": "10000.00", "THANH_TIEN_BH": "10000.00",
        "T_NGUONKHAC": "0.00", "MUC_HUONG": "100", "T_BNTT": "0.00", "T_BNCCT": "0.00",
        "T_BHTT": "10000.00", "MA_KHOA": "K02", "MA_BAC_SI": "000123/DNA-CCHN",
        "NGAY_YL": "202611200920", "MA_PTTT": "1", "NGUON_CTRA": "1",
    }  # fmt: skip
    exam, cbc = rows(tables["XML3"])
    assert (exam["STT"], exam["MA_DICH_VU"], exam["MA_NHOM"], exam["TEN_DICH_VU"]) == (
        "1", "02.1896", "13", "Khám Nội",
    )  # fmt: skip
    assert (exam["NGAY_YL"], exam["THANH_TIEN_BV"], exam["T_BHTT"]) == (
        "202611200815", "50000.00", "50000.00",
    )  # fmt: skip
    assert {k: cbc[k] for k in (
        "STT", "MA_DICH_VU", "MA_VAT_TU", "MA_NHOM", "SO_LUONG", "DON_GIA_BV", "DON_GIA_BH",
        "TYLE_TT_DV", "TYLE_TT_BH", "THANH_TIEN_BV", "THANH_TIEN_BH", "MUC_HUONG", "T_BNTT",
        "T_BNCCT", "T_BHTT", "MA_BENH", "NGAY_YL", "NGAY_TH_YL", "NGAY_KQ", "NGUOI_THUC_HIEN",
    )} == {
        "STT": "2", "MA_DICH_VU": "22.0120.1370", "MA_VAT_TU": "", "MA_NHOM": "1",
        "SO_LUONG": "1.000", "DON_GIA_BV": "90000.00", "DON_GIA_BH": "80000.00",
        "TYLE_TT_DV": "100", "TYLE_TT_BH": "100", "THANH_TIEN_BV": "90000.00",
        "THANH_TIEN_BH": "80000.00", "MUC_HUONG": "100", "T_BNTT": "10000.00",
        "T_BNCCT": "0.00", "T_BHTT": "80000.00", "MA_BENH": "J06.9",
        "NGAY_YL": "202611200830", "NGAY_TH_YL": "202611200845", "NGAY_KQ": "202611200910",
        "NGUOI_THUC_HIEN": "000123/DNA-CCHN",
    }  # fmt: skip
    (result,) = rows(tables["XML4"])
    assert {k: result[k] for k in (
        "STT", "MA_DICH_VU", "MA_CHI_SO", "TEN_CHI_SO", "GIA_TRI", "DON_VI_DO", "KET_LUAN",
        "NGAY_KQ",
    )} == {
        "STT": "1", "MA_DICH_VU": "22.0120.1370", "MA_CHI_SO": "WBC",
        "TEN_CHI_SO": "Số lượng bạch cầu", "GIA_TRI": "7.5", "DON_VI_DO": "G/L",
        "KET_LUAN": "Bình thường", "NGAY_KQ": "202611200910",
    }  # fmt: skip
    (checkin,) = rows(tables["XML0"])
    # The first cost of the visit is the examination at 08:15.
    assert (checkin["MA_LK"], checkin["MA_DOITUONG_KCB"], checkin["MA_DICH_VU"]) == (
        key, "1", "02.1896",
    )  # fmt: skip
    assert (checkin["NGAY_VAO"], checkin["NGAY_YL"], checkin["MA_LOAI_KCB"]) == (
        "202611200815", "202611200815", "01",
    )  # fmt: skip


def test_inpatient_stay_tables_field_by_field():
    # given
    s = inpatient_stay()
    key = s.encounter.claim_key
    # when
    tables = build_tables(dossier_data(encounter=s.encounter, charges=s.charges))
    # then: an emergency has no check-in message (brief 3.2); a stay has XML5 and XML7
    assert sorted(tables) == ["XML1", "XML2", "XML3", "XML5", "XML7"]
    xml1 = rows(tables["XML1"])[0]
    assert {k: xml1[k] for k in (
        "MA_THE_BHYT", "LY_DO_VV", "LY_DO_VNT", "CHAN_DOAN_VAO", "CHAN_DOAN_RV", "MA_BENH_CHINH",
        "MA_BENH_KT", "MA_DOITUONG_KCB", "NGAY_VAO", "NGAY_VAO_NOI_TRU", "NGAY_RA",
        "SO_NGAY_DTRI", "PP_DIEU_TRI", "KET_QUA_DTRI", "MA_LOAI_RV", "GHI_CHU", "T_THUOC",
        "T_VTYT", "T_TONGCHI_BV", "T_TONGCHI_BH", "T_BNTT", "T_BNCCT", "T_BHTT", "T_NGUONKHAC",
        "T_BHTT_GDV", "MA_LOAI_KCB", "MA_KHOA", "MA_KHUVUC", "NAM_NAM_LIEN_TUC",
        "NGAY_TAI_KHAM", "MA_HSBA",
    )} == {
        "MA_THE_BHYT": "HT3480987654321", "LY_DO_VV": "", "LY_DO_VNT": "Sốt cao, khó thở",
        "CHAN_DOAN_VAO": "Viêm phổi, không đặc hiệu",
        "CHAN_DOAN_RV": "Viêm phổi, không đặc hiệu; Đái tháo đường típ 2 không biến chứng",
        "MA_BENH_CHINH": "J18.9", "MA_BENH_KT": "E11.9", "MA_DOITUONG_KCB": "2",
        "NGAY_VAO": "202611101000", "NGAY_VAO_NOI_TRU": "202611101000",
        "NGAY_RA": "202611140900", "SO_NGAY_DTRI": "5",
        "PP_DIEU_TRI": "Kháng sinh đường tĩnh mạch", "KET_QUA_DTRI": "2", "MA_LOAI_RV": "1",
        "GHI_CHU": "Tái khám sau 7 ngày",
        "T_THUOC": "300000.00", "T_VTYT": "50000.00", "T_TONGCHI_BV": "1550000.00",
        "T_TONGCHI_BH": "1530000.00", "T_BNTT": "20000.00", "T_BNCCT": "76500.00",
        "T_BHTT": "1453500.00", "T_NGUONKHAC": "0.00", "T_BHTT_GDV": "1453500.00",
        "MA_LOAI_KCB": "03", "MA_KHOA": "K03", "MA_KHUVUC": "K1",
        "NAM_NAM_LIEN_TUC": "20200501", "NGAY_TAI_KHAM": "20261121", "MA_HSBA": "LT-2026-0042",
    }  # fmt: skip
    cef, vit = rows(tables["XML2"])
    assert (cef["SO_LUONG"], cef["DON_GIA"], cef["THANH_TIEN_BV"], cef["MUC_HUONG"]) == (
        "8.000", "35000.00", "280000.00", "95",
    )  # fmt: skip
    assert (cef["T_BHTT"], cef["T_BNCCT"], cef["T_BNTT"], cef["NGAY_YL"]) == (
        "266000.00", "14000.00", "0.00", "202611101100",
    )  # fmt: skip
    assert (vit["PHAM_VI"], vit["THANH_TIEN_BH"], vit["T_BNTT"], vit["T_BHTT"]) == (
        "2", "0.00", "20000.00", "0.00",
    )  # fmt: skip
    bed, catheter = rows(tables["XML3"])
    assert (bed["MA_DICH_VU"], bed["MA_NHOM"], bed["SO_LUONG"], bed["THANH_TIEN_BV"]) == (
        "K03.1911", "15", "4.000", "1200000.00",
    )  # fmt: skip
    assert (bed["T_BHTT"], bed["T_BNCCT"], bed["NGAY_YL"]) == (
        "1140000.00", "60000.00", "202611101000",
    )  # fmt: skip
    assert (catheter["MA_DICH_VU"], catheter["MA_VAT_TU"], catheter["TEN_VAT_TU"]) == (
        "", "N03.05.010", "Kim luồn tĩnh mạch",
    )  # fmt: skip
    assert (catheter["MA_NHOM"], catheter["T_BHTT"], catheter["NGAY_YL"]) == (
        "10", "47500.00", "202611110000",
    )  # fmt: skip
    notes = rows(tables["XML5"])
    assert [(n["STT"], n["THOI_DIEM_DBLS"], n["DIEN_BIEN_LS"], n["GIAI_DOAN_BENH"]) for n in notes] == [
        ("1", "202611110800", "Còn sốt 38,5°C, ran nổ đáy phổi phải", "Cấp"),
        ("2", "202611130800", "Hết sốt, phổi giảm ran", "Ổn định"),
    ]  # fmt: skip
    paper = rows(tables["XML7"])[0]
    assert {k: paper[k] for k in (
        "MA_LK", "SO_LUU_TRU", "MA_YTE", "MA_KHOA_RV", "NGAY_VAO", "NGAY_RA", "CHAN_DOAN_RV",
        "PP_DIEUTRI", "GHI_CHU", "MA_BS", "TEN_BS", "NGAY_CT",
    )} == {
        "MA_LK": key, "SO_LUU_TRU": "LT-2026-0042", "MA_YTE": "BN-000042", "MA_KHOA_RV": "K03",
        "NGAY_VAO": "202611101000", "NGAY_RA": "202611140900",
        "CHAN_DOAN_RV": "Viêm phổi, không đặc hiệu; Đái tháo đường típ 2 không biến chứng",
        "PP_DIEUTRI": "Kháng sinh đường tĩnh mạch", "GHI_CHU": "Tái khám sau 7 ngày",
        "MA_BS": "000123/DNA-CCHN", "TEN_BS": "Lê Văn Cường", "NGAY_CT": "20261114",
    }  # fmt: skip


@pytest.mark.parametrize("scenario", [outpatient_visit, inpatient_stay])
def test_every_table_validates_against_its_xsd_and_rules(scenario):
    # given
    s = scenario()
    data = dossier_data(encounter=s.encounter, charges=s.charges)
    # when
    tables = build_tables(data)
    # then
    for code, xml in tables.items():
        assert list(schema(code).iter_errors(xml)) == [], code
    assert dossier_validate(tables, accepted_icd=data.accepted_icd) == []


@pytest.mark.parametrize("scenario", [outpatient_visit, inpatient_stay])
def test_summary_totals_equal_the_sums_over_drug_and_service_lines(scenario):
    # given
    s = scenario()
    tables = build_tables(dossier_data(encounter=s.encounter, charges=s.charges))
    summary = rows(tables["XML1"])[0]
    lines = rows(tables["XML2"]) + rows(tables["XML3"])

    def total(field):
        return sum((Decimal(r[field]) for r in lines), Decimal(0))

    # then (brief 3.7)
    for xml1_field, line_field in (
        ("T_TONGCHI_BV", "THANH_TIEN_BV"), ("T_TONGCHI_BH", "THANH_TIEN_BH"),
        ("T_BHTT", "T_BHTT"), ("T_BNCCT", "T_BNCCT"), ("T_BNTT", "T_BNTT"),
        ("T_NGUONKHAC", "T_NGUONKHAC"),
    ):  # fmt: skip
        assert Decimal(summary[xml1_field]) == total(line_field), xml1_field
    assert Decimal(summary["T_THUOC"]) == sum(
        (Decimal(r["THANH_TIEN_BV"]) for r in rows(tables["XML2"])), Decimal(0)
    )
    for r in lines:
        assert Decimal(r["THANH_TIEN_BV"]) == sum(
            Decimal(r[f]) for f in ("T_BHTT", "T_BNCCT", "T_BNTT", "T_NGUONKHAC")
        )


def test_reading_the_record_takes_a_fixed_number_of_queries(django_assert_max_num_queries):
    # given: a stay with several lines
    s = inpatient_stay()
    # when / then
    with django_assert_max_num_queries(14):
        data = dossier_data(encounter=s.encounter, charges=s.charges)
    assert totals(data).hospital == Decimal("1550000")
