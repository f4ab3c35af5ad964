"""The claim tables of QĐ 130/QĐ-BYT (as amended by QĐ 4750 and QĐ 3176): fields, order, types.

One `Field` per element, in the order the standard gives (domain brief 3.3–3.6). These specs are
the single source of the derived XSD files (`insurance/claims/schemas/*.xsd`, written by
`insurance.claims.schemas.xsd_write`) and of the element order in `insurance.claims.builders`.

Types (brief 3.2): C = string (`length` = max length, None = unbounded "Cn"); N = number with
`length` total digits and `decimals` decimals (quantities 3, amounts 2); DT = date-time
yyyymmddHHMM (a C12 of the standard); D = date yyyymmdd. `required` fields must not be empty.

Sizes that are UNCONFIRMED (brief section 8: "QĐ 3176 field sizes (use the portal XSD)"):
- every size below comes from QĐ 130 / 4750 as the brief transcribes them; QĐ 3176 may change
  them and the portal's own XSD was not read;
- `MAXA_CU_TRU` is C5 per QĐ 130; one secondary source says 3 per QĐ 4750 (kept at 5);
- `MUC_HUONG`: N3 in QĐ 130; QĐ 1931/2026 allows 4 characters from 01/07/2026 (single source),
  needed since Law 51's 50 % route rate gives rates such as 95 × 50 % = 47.5: taken as up to
  3 digits with one optional decimal ("80", "100", "47.5");
- XML0's field list is not in the brief; it is taken from a public template (impl) of QĐ 4750;
- fields whose size the brief does not give (marked `sized_by_us=True`), e.g. XML2
  `MA_PP_CHEBIEN`, `HAM_LUONG`, `MA_KHOA`, XML3 `MA_XANG_DAU`, `VI_TRI_TH_DVKT`, XML7 `MA_CHA`,
  take a generous length chosen here;
- date fields the brief lists as "Cn" (`GT_THE_TU`, `GT_THE_DEN`: yyyymmdd, several cards
  `;`-separated) are unbounded strings with a list-of-dates pattern.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Field:
    """One element of a claim table."""

    name: str
    kind: str = "C"  # C, N, DT, D
    length: int | None = None
    decimals: int = 0
    required: bool = False
    sized_by_us: bool = False
    pattern: str = ""  # extra pattern for C fields (anchored, XSD regex syntax)


@dataclass(frozen=True)
class Table:
    """A claim table: its LOAIHOSO code, the path of its root elements and its fields."""

    code: str
    path: tuple[str, ...]  # root[, list, item]: the fields sit under the last element
    fields: tuple[Field, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def has_rows(self) -> bool:
        return len(self.path) == 3


def C(name, length=None, **kw) -> Field:  # noqa: N802
    return Field(name, "C", length, **kw)


def N(name, length, decimals=0, **kw) -> Field:  # noqa: N802
    return Field(name, "N", length, decimals, **kw)


def DT(name, **kw) -> Field:  # noqa: N802
    return Field(name, "DT", 12, **kw)


def D(name, length=8, **kw) -> Field:  # noqa: N802
    return Field(name, "D", length, **kw)


def money(name, **kw) -> Field:
    return N(name, 15, 2, **kw)


DATE_LIST = r"\d{8}(;\d{8})*"
CARD_LIST = r"[A-Z]{2}\d{13}(;[A-Z]{2}\d{13})*"
ICD_LIST = r"[A-Z]\d{2}(\.?[0-9A-Z]{1,2})?(;[A-Z]\d{2}(\.?[0-9A-Z]{1,2})?)*"

# --- XML1, TONG_HOP: 66 fields (brief 3.3) -------------------------------------------------
XML1 = Table(
    "XML1",
    ("TONG_HOP",),
    (
        C("MA_LK", 100, required=True),
        N("STT", 10, required=True),
        C("MA_BN", 100, required=True),
        C("HO_TEN", 255, required=True),
        C("SO_CCCD", 15),
        DT("NGAY_SINH", required=True),
        N("GIOI_TINH", 1, required=True),
        C("NHOM_MAU", 5),
        C("MA_QUOCTICH", 3),
        C("MA_DANTOC", 2),
        C("MA_NGHE_NGHIEP", 5),
        C("DIA_CHI", 1024),
        C("MATINH_CU_TRU", 3),
        C("MAHUYEN_CU_TRU", 3),
        C("MAXA_CU_TRU", 5),
        C("DIEN_THOAI", 15),
        C("MA_THE_BHYT", None, required=True, pattern=CARD_LIST),
        C("MA_DKBD", None, required=True),
        C("GT_THE_TU", None, required=True, pattern=DATE_LIST),
        C("GT_THE_DEN", None, pattern=f"({DATE_LIST})?"),
        C("NGAY_MIEN_CCT", 12, pattern=r"(\d{8}(\d{4})?)?"),
        C("LY_DO_VV"),
        C("LY_DO_VNT"),
        C("MA_LY_DO_VNT", 5),
        C("CHAN_DOAN_VAO"),
        C("CHAN_DOAN_RV"),
        C("MA_BENH_CHINH", 7, required=True),
        C("MA_BENH_KT", 100),
        C("MA_BENH_YHCT", 255),
        C("MA_PTTT_QT", 125),
        C("MA_DOITUONG_KCB", 3),
        C("MA_NOI_DI", 5),
        C("MA_NOI_DEN", 5),
        N("MA_TAI_NAN", 1),
        DT("NGAY_VAO", required=True),
        DT("NGAY_VAO_NOI_TRU"),
        DT("NGAY_RA", required=True),
        C("GIAY_CHUYEN_TUYEN", 50),
        N("SO_NGAY_DTRI", 3, required=True),
        C("PP_DIEU_TRI"),
        N("KET_QUA_DTRI", 1, required=True),
        N("MA_LOAI_RV", 1, required=True),
        C("GHI_CHU"),
        DT("NGAY_TTOAN"),
        money("T_THUOC", required=True),
        money("T_VTYT", required=True),
        money("T_TONGCHI_BV", required=True),
        money("T_TONGCHI_BH", required=True),
        money("T_BNTT", required=True),
        money("T_BNCCT", required=True),
        money("T_BHTT", required=True),
        money("T_NGUONKHAC", required=True),
        money("T_BHTT_GDV", required=True),
        N("NAM_QT", 4, required=True),
        N("THANG_QT", 2, required=True),
        C("MA_LOAI_KCB", 2, required=True, pattern=r"\d{2}"),  # N2, codes kept as strings
        C("MA_KHOA", 50, required=True),
        C("MA_CSKCB", 5, required=True),
        C("MA_KHUVUC", 2),
        C("CAN_NANG", 6),
        C("CAN_NANG_CON", 100),
        D("NAM_NAM_LIEN_TUC"),
        C("NGAY_TAI_KHAM", 50, pattern=f"({DATE_LIST})?"),
        C("MA_HSBA", 100),
        C("MA_TTDV", 10),
        C("DU_PHONG"),
    ),
)

_OTHER_SOURCES = (
    money("T_NGUONKHAC_NSNN"),
    money("T_NGUONKHAC_VTNN"),
    money("T_NGUONKHAC_VTTN"),
    money("T_NGUONKHAC_CL"),
    money("T_NGUONKHAC", required=True),
)

# --- XML2, drugs (brief 3.4) ----------------------------------------------------------------
XML2 = Table(
    "XML2",
    ("CHITIEU_CHITIET_THUOC", "DSACH_CHI_TIET_THUOC", "CHI_TIET_THUOC"),
    (
        C("MA_LK", 100, required=True),
        N("STT", 10, required=True),
        C("MA_THUOC", 255, required=True),
        C("MA_PP_CHEBIEN", 255, sized_by_us=True),
        C("MA_CSKCB_THUOC", 10, sized_by_us=True),
        N("MA_NHOM", 2, required=True),
        C("TEN_THUOC", 1024, required=True),
        C("DON_VI_TINH", 50),
        C("HAM_LUONG", 1024, sized_by_us=True),
        C("DUONG_DUNG", 4),
        C("DANG_BAO_CHE", 1024, sized_by_us=True),
        C("LIEU_DUNG", 1024, sized_by_us=True),
        C("CACH_DUNG", 1024, sized_by_us=True),
        C("SO_DANG_KY", 255),
        C("TT_THAU", 50),
        N("PHAM_VI", 1, required=True),
        N("TYLE_TT_BH", 3, required=True),
        N("SO_LUONG", 10, 3, required=True),
        money("DON_GIA", required=True),
        money("THANH_TIEN_BV", required=True),
        money("THANH_TIEN_BH", required=True),
        *_OTHER_SOURCES,
        N("MUC_HUONG", 4, decimals=1, required=True),
        money("T_BNTT", required=True),
        money("T_BNCCT", required=True),
        money("T_BHTT", required=True),
        C("MA_KHOA", 50, sized_by_us=True),
        C("MA_BAC_SI", 255, sized_by_us=True),
        C("MA_DICH_VU", 255, sized_by_us=True),
        DT("NGAY_YL", required=True),
        DT("NGAY_TH_YL"),
        N("MA_PTTT", 1, required=True),
        N("NGUON_CTRA", 1),
        N("VET_THUONG_TP", 1),
        C("DU_PHONG"),
    ),
)

# --- XML3, services and supplies (brief 3.5) -------------------------------------------------
XML3 = Table(
    "XML3",
    ("CHITIEU_CHITIET_DVKT_VTYT", "DSACH_CHI_TIET_DVKT", "CHI_TIET_DVKT"),
    (
        C("MA_LK", 100, required=True),
        N("STT", 10, required=True),
        C("MA_DICH_VU", 50),
        C("MA_PTTT_QT", 255),
        C("MA_VAT_TU", 255),
        N("MA_NHOM", 2, required=True),
        C("GOI_VTYT", 3),
        C("TEN_VAT_TU", 1024, sized_by_us=True),
        C("TEN_DICH_VU", 1024, sized_by_us=True),
        C("MA_XANG_DAU", 20, sized_by_us=True),
        C("DON_VI_TINH", 50, sized_by_us=True),
        N("PHAM_VI", 1, required=True),
        N("SO_LUONG", 10, 3, required=True),
        money("DON_GIA_BV", required=True),
        money("DON_GIA_BH", required=True),
        C("TT_THAU", 25),
        N("TYLE_TT_DV", 3, required=True),
        N("TYLE_TT_BH", 3, required=True),
        money("THANH_TIEN_BV", required=True),
        money("THANH_TIEN_BH", required=True),
        money("T_TRANTT"),
        N("MUC_HUONG", 4, decimals=1, required=True),
        *_OTHER_SOURCES,
        money("T_BNTT", required=True),
        money("T_BNCCT", required=True),
        money("T_BHTT", required=True),
        C("MA_KHOA", 20),
        C("MA_GIUONG", 50),
        C("MA_BAC_SI", 255, sized_by_us=True),
        C("NGUOI_THUC_HIEN", 255, sized_by_us=True),
        C("MA_BENH", 100, sized_by_us=True),
        C("MA_BENH_YHCT", 255, sized_by_us=True),
        DT("NGAY_YL", required=True),
        DT("NGAY_TH_YL"),
        DT("NGAY_KQ"),
        N("MA_PTTT", 1, required=True),
        N("VET_THUONG_TP", 1),
        N("PP_VO_CAM", 1),
        C("VI_TRI_TH_DVKT", 255, sized_by_us=True),
        C("MA_MAY", 1024, sized_by_us=True),
        C("MA_HIEU_SP", 255, sized_by_us=True),
        N("TAI_SU_DUNG", 1),
        C("DU_PHONG"),
    ),
)

# --- XML4, paraclinical results; XML5, clinical course; XML7, discharge paper (brief 3.6) ------
XML4 = Table(
    "XML4",
    ("CHITIEU_CHITIET_DICHVUCANLAMSANG", "DSACH_CHI_TIET_CLS", "CHI_TIET_CLS"),
    (
        C("MA_LK", 100, required=True),
        N("STT", 10, required=True),
        C("MA_DICH_VU", 15, required=True),
        C("MA_CHI_SO", 50),
        C("TEN_CHI_SO", 255),
        C("GIA_TRI", 50),
        C("DON_VI_DO", 50),
        C("MO_TA"),
        C("KET_LUAN"),
        DT("NGAY_KQ", required=True),
        C("MA_BS_DOC_KQ", 255),
        C("DU_PHONG"),
    ),
)

XML5 = Table(
    "XML5",
    (
        "CHITIEU_CHITIET_DIENBIENLAMSANG",
        "DSACH_CHI_TIET_DIEN_BIEN_BENH",
        "CHI_TIET_DIEN_BIEN_BENH",
    ),
    (
        C("MA_LK", 100, required=True),
        N("STT", 10, required=True),
        C("DIEN_BIEN_LS", required=True),
        C("GIAI_DOAN_BENH"),
        C("HOI_CHAN"),
        C("PHAU_THUAT"),
        DT("THOI_DIEM_DBLS", required=True),
        C("NGUOI_THUC_HIEN", 255),
        C("DU_PHONG"),
    ),
)

XML7 = Table(
    "XML7",
    ("CHI_TIEU_DU_LIEU_GIAY_RA_VIEN",),
    (
        C("MA_LK", 100, required=True),
        C("SO_LUU_TRU", 200),
        C("MA_YTE", 200),
        C("MA_KHOA_RV", 200, sized_by_us=True),
        DT("NGAY_VAO", required=True),
        DT("NGAY_RA", required=True),
        N("MA_DINH_CHI_THAI", 1),
        C("NGUYENNHAN_DINHCHI"),
        DT("THOIGIAN_DINHCHI"),
        N("TUOI_THAI", 2),
        C("CHAN_DOAN_RV", 1500, required=True),
        C("PP_DIEUTRI", 1500),
        C("GHI_CHU", 1500),
        C("MA_TTDV", 10),
        C("MA_BS", 200),
        C("TEN_BS", 255),
        D("NGAY_CT", required=True),
        C("MA_CHA", 10, sized_by_us=True),
        C("MA_ME", 10, sized_by_us=True),
        C("MA_THE_TAM", 15),
        C("HO_TEN_CHA", 255, sized_by_us=True),
        C("HO_TEN_ME", 255, sized_by_us=True),
        N("SO_NGAY_NGHI", 2),
        D("NGOAITRU_TUNGAY"),
        D("NGOAITRU_DENNGAY"),
        C("DU_PHONG"),
    ),
)

# --- XML0, check-in (brief 3.2; field list from a public QĐ 4750 template [impl]) ---------------
XML0 = Table(
    "XML0",
    ("CHI_TIEU_TRANG_THAI_KCB", "DSACH_TRANG_THAI_KCB", "TRANG_THAI_KCB"),
    (
        C("MA_LK", 100, required=True),
        N("STT", 10, required=True),
        C("MA_BN", 100, required=True),
        C("HO_TEN", 255, required=True),
        C("SO_CCCD", 15),
        DT("NGAY_SINH", required=True),
        N("GIOI_TINH", 1, required=True),
        C("MA_THE_BHYT", None, required=True, pattern=CARD_LIST),
        C("MA_DKBD", None, required=True),
        C("GT_THE_TU", None, required=True, pattern=DATE_LIST),
        C("GT_THE_DEN", None, pattern=f"({DATE_LIST})?"),
        C("MA_DOITUONG_KCB", 4),
        DT("NGAY_VAO", required=True),
        DT("NGAY_VAO_NOI_TRU"),
        C("LY_DO_VNT"),
        C("MA_LY_DO_VNT", 5),
        C("MA_LOAI_KCB", 2, required=True, pattern=r"\d{2}"),
        C("MA_CSKCB", 5, required=True),
        C("MA_DICH_VU", 50),
        C("TEN_DICH_VU", 1024, sized_by_us=True),
        C("MA_THUOC", 255),
        C("TEN_THUOC", 1024),
        C("MA_VAT_TU", 255),
        C("TEN_VAT_TU", 1024, sized_by_us=True),
        DT("NGAY_YL"),
        C("DU_PHONG"),
    ),
)

TABLES: dict[str, Table] = {t.code: t for t in (XML0, XML1, XML2, XML3, XML4, XML5, XML7)}
