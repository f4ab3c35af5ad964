"""Pure builders of the claim tables (domain brief 3.2–3.7) from a `DossierData`.

Each `build_xmlN(data) -> bytes | None` returns the UTF-8 inner XML of one table (None when the
encounter has nothing for it: no drugs, no results, no course notes, not a discharged stay).
Formats (brief 3.2): date-times yyyymmddHHMM in Asia/Ho_Chi_Minh, dates yyyymmdd, '.' decimals,
quantities 3 decimals, amounts 2, lists ';', codes as strings. Element order comes from
`insurance.claims.fields`, so a value dict cannot reorder the standard.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter
from zoneinfo import ZoneInfo

from insurance.claims.data import ZERO, DossierData, DrugLine, Money, ServiceLine
from insurance.claims.fields import TABLES, XML0, XML1, XML2, XML3, XML4, XML5, XML7, Table

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
MAX_SECONDARY = 12  # MA_BENH_KT: at most 12 codes (brief 3.3)
SUPPLY_GROUP = 10  # MA_NHOM 10 = medical supplies (brief 3.4)


# --- Formats ------------------------------------------------------------------------------------


CENT, MILLI = Decimal("0.01"), Decimal("0.001")


def fmt_dt(value: datetime | None) -> str:
    """yyyymmddHHMM in Asia/Ho_Chi_Minh."""
    if not value:
        return ""
    v = value.astimezone(LOCAL)  # formatted by hand: strftime is several times slower
    return f"{v.year:04d}{v.month:02d}{v.day:02d}{v.hour:02d}{v.minute:02d}"


def fmt_date(value: date | None) -> str:
    return f"{value.year:04d}{value.month:02d}{value.day:02d}" if value else ""


_MONEY_TEXT: dict[Decimal, str] = {}  # the same amounts come back line after line


def fmt_money(value: Decimal | None) -> str:
    """Amount with 2 decimals, '.' separator."""
    if value is None:
        return ""
    if type(value) is Decimal and not value:  # a zero: only its sign shows (0 and -0 are equal)
        return "-0.00" if value.is_signed() else "0.00"
    # Finite Decimals are remembered: equal ones write the same text.
    cached = type(value) is Decimal and value.is_finite()
    text = _MONEY_TEXT.get(value) if cached else None
    if text is None:
        # str() of a Decimal with exponent -2 is plain notation: the same text as format 'f'.
        text = str(Decimal(value).quantize(CENT, ROUND_HALF_UP))
        if cached:
            if len(_MONEY_TEXT) >= 20_000:  # bounded: a long run must not grow with it
                _MONEY_TEXT.clear()
            _MONEY_TEXT[value] = text
    return text


def fmt_qty(value: Decimal) -> str:
    """Quantity with 3 decimals."""
    return str(Decimal(value).quantize(MILLI, ROUND_HALF_UP))


def fmt_int(value: Decimal | int | None) -> str:
    """A ratio or rate: integral values without decimals (TYLE_TT_*, MUC_HUONG)."""
    if value is None:
        return ""
    d = Decimal(value)
    return f"{d.quantize(Decimal(1)):f}" if d == d.to_integral_value() else f"{d.normalize():f}"


def fmt_birth(data: DossierData) -> str:
    """NGAY_SINH C12: yyyymmdd0000; a year alone as yyyy00000000."""
    p = data.patient
    return f"{fmt_date(p.birth_date)}0000" if p.birth_date else f"{p.birth_year:04d}00000000"


# --- XML writing -------------------------------------------------------------------------------


# The document is written as text, byte for byte what lxml's `etree.tostring(root,
# xml_declaration=True, encoding="utf-8")` gives for the same elements (a test compares both):
# text escaped as libxml2 does (&, <, >, and CR as &#13;), an empty value as <X></X>, and a
# character XML cannot carry refused with lxml's ValueError. About ten times faster than
# building the tree element by element.
_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"
_SPECIAL = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})


@dataclass(frozen=True)
class _Layout:
    """How one table's rows are written, worked out once per table."""

    table: Table
    tags: tuple[tuple[str, str, str], ...]  # (name, opening tag, closing tag) per field
    template: str  # `str.format` template of a whole row (values put in as they are)
    blank: dict[str, str]  # every field, empty
    pick: Callable[[Mapping[str, str]], tuple]  # the values of a full row, in field order


_LAYOUTS: dict[str, _Layout] = {}


def _layout(table: Table) -> _Layout:
    layout = _LAYOUTS.get(table.code)
    if layout is None or layout.table is not table:
        names = table.names
        tags = tuple((n, f"<{n}>", f"</{n}>") for n in names)
        template = "".join(f"{o}{{}}{c}" for _, o, c in tags)
        if table.has_rows:
            template = f"<{table.path[2]}>{template}</{table.path[2]}>"
        pick = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
        layout = _Layout(table, tags, template, dict.fromkeys(names, ""), pick)
        _LAYOUTS[table.code] = layout
    return layout


def _escaped(value: str) -> str:
    bad = _NOT_XML.search(value)
    if bad is not None:
        if "\ud800" <= bad.group() <= "\udfff":
            value.encode("utf-8")  # a lone surrogate: UnicodeEncodeError, as lxml raises
        raise ValueError(
            "All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control "
            "characters"
        )
    return value.translate(_ESCAPES)


def table_xml(table: Table, rows: Iterable[Mapping[str, str]]) -> bytes:
    """Serialize rows in the table's element order; absent fields are written empty."""
    layout = _layout(table)
    tags, template, blank, pick = layout.tags, layout.template, layout.blank, layout.pick
    body: list[str] = []
    for row in rows:
        values = pick({**blank, **row})  # absent fields are written empty
        if None not in values:
            if _SPECIAL.search("".join(values)):
                values = [_escaped(v) for v in values]
            body.append(template.format(*values))
            continue
        # A None value is written as an empty element <X/> (lxml's text = None).
        values = [None if v is None else _escaped(v) for v in values]
        cells = "".join(
            f"<{name}/>" if v is None else f"{o}{v}{c}"
            for (name, o, c), v in zip(tags, values, strict=True)
        )
        body.append(f"<{table.path[2]}>{cells}</{table.path[2]}>" if table.has_rows else cells)
    if table.has_rows:
        inner = f"<{table.path[1]}>{''.join(body)}</{table.path[1]}>" if body else ""
        body = [inner or f"<{table.path[1]}/>"]
    root = table.path[0]
    xml = f"{_DECLARATION}<{root}>{''.join(body)}</{root}>" if body else f"{_DECLARATION}<{root}/>"
    return xml.encode("utf-8")


def _money_fields(m: Money) -> dict[str, str]:
    return {
        "THANH_TIEN_BV": fmt_money(m.hospital_amount),
        "THANH_TIEN_BH": fmt_money(m.bhyt_amount),
        "T_NGUONKHAC_NSNN": fmt_money(m.other_nsnn),
        "T_NGUONKHAC_VTNN": fmt_money(m.other_vtnn),
        "T_NGUONKHAC_VTTN": fmt_money(m.other_vttn),
        "T_NGUONKHAC_CL": fmt_money(m.other_cl),
        "T_NGUONKHAC": fmt_money(m.other),
        "MUC_HUONG": fmt_int(m.benefit_rate),
        "T_BNTT": fmt_money(m.self_pay),
        "T_BNCCT": fmt_money(m.copay),
        "T_BHTT": fmt_money(m.fund),
    }


# --- Totals (brief 3.7) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """XML1's money totals, sums over XML2 and XML3 lines (brief 3.7)."""

    drugs: Decimal  # T_THUOC
    supplies: Decimal  # T_VTYT
    hospital: Decimal  # T_TONGCHI_BV
    bhyt: Decimal  # T_TONGCHI_BH
    self_pay: Decimal  # T_BNTT
    copay: Decimal  # T_BNCCT
    fund: Decimal  # T_BHTT
    other: Decimal  # T_NGUONKHAC
    fund_fee_for_service: Decimal  # T_BHTT_GDV (MA_PTTT = 1)


def totals(data: DossierData) -> Totals:
    lines: list[DrugLine | ServiceLine] = [*data.drugs, *data.services]

    def total(pick) -> Decimal:
        return sum((pick(x) for x in lines), ZERO)

    return Totals(
        drugs=sum((d.money.hospital_amount for d in data.drugs), ZERO),
        supplies=sum((s.money.hospital_amount for s in data.services if s.is_supply), ZERO),
        hospital=total(lambda x: x.money.hospital_amount),
        bhyt=total(lambda x: x.money.bhyt_amount),
        self_pay=total(lambda x: x.money.self_pay),
        copay=total(lambda x: x.money.copay),
        fund=total(lambda x: x.money.fund),
        other=total(lambda x: x.money.other),
        fund_fee_for_service=total(lambda x: x.money.fund if x.payment_method == 1 else ZERO),
    )


def treatment_days(data: DossierData) -> int:
    """SO_NGAY_DTRI (brief 3.3): 0 for 01/07/09; out − in + 1 for 02/03/04/06; drug days for 05;
    service days for 08."""
    e = data.encounter
    if e.visit_type in ("02", "03", "04", "06") and e.ended_at:
        start = (e.admitted_at or e.started_at).astimezone(LOCAL).date()
        return (e.ended_at.astimezone(LOCAL).date() - start).days + 1
    if e.visit_type == "05":
        return max((d.days for d in data.drugs), default=0)
    if e.visit_type == "08":
        return len({s.ordered_at.astimezone(LOCAL).date() for s in data.services})
    return 0


def _discharge_kind(data: DossierData) -> str:
    e = data.encounter
    if e.discharge_type:
        return e.discharge_type
    return "2" if e.conclusion == "transfer" else "1"


def _diagnosis_text(data: DossierData) -> str:
    return "; ".join(d.text for d in (data.main_diagnosis, *data.secondary_diagnoses) if d)


# --- Tables ---------------------------------------------------------------------------------


def build_xml1(data: DossierData) -> bytes:
    """XML1 TONG_HOP: the summary (brief 3.3)."""
    from insurance.claims.data import VISIT_CATEGORY

    p, c, e = data.patient, data.card, data.encounter
    t = totals(data)
    main = data.main_diagnosis
    period = (e.ended_at or e.started_at).astimezone(LOCAL)
    row = {
        "MA_LK": e.claim_key,
        "STT": "1",
        "MA_BN": p.record_number,
        "HO_TEN": p.full_name,
        "SO_CCCD": p.cccd,
        "NGAY_SINH": fmt_birth(data),
        "GIOI_TINH": p.sex_code,
        "MA_QUOCTICH": p.nationality_code,
        "MA_DANTOC": p.ethnicity_code,
        "MA_NGHE_NGHIEP": p.occupation_code,
        "DIA_CHI": p.address,
        "MATINH_CU_TRU": p.province_code,
        "MAHUYEN_CU_TRU": p.district_code,
        "MAXA_CU_TRU": p.commune_code,
        "DIEN_THOAI": p.phone,
        "MA_THE_BHYT": c.code,
        "MA_DKBD": c.registered_facility_code,
        "GT_THE_TU": fmt_date(c.valid_from),
        "GT_THE_DEN": fmt_date(c.valid_to),
        "NGAY_MIEN_CCT": fmt_date(c.copay_exempt_from),
        "LY_DO_VV": "" if e.inpatient else e.reason,
        "LY_DO_VNT": e.reason if e.inpatient else "",
        "CHAN_DOAN_VAO": data.admission_diagnosis,
        "CHAN_DOAN_RV": _diagnosis_text(data),
        "MA_BENH_CHINH": main.code if main else "",
        "MA_BENH_KT": ";".join(d.code for d in data.secondary_diagnoses),
        "MA_DOITUONG_KCB": VISIT_CATEGORY.get(e.arrival_mode, ""),
        "MA_NOI_DI": e.referral_from_code,
        "MA_NOI_DEN": e.transfer_to_code,
        "NGAY_VAO": fmt_dt(e.started_at),
        "NGAY_VAO_NOI_TRU": fmt_dt(e.admitted_at) if e.inpatient else "",
        "NGAY_RA": fmt_dt(e.ended_at),
        "GIAY_CHUYEN_TUYEN": e.referral_paper_number,
        "SO_NGAY_DTRI": str(treatment_days(data)),
        "PP_DIEU_TRI": e.treatment_method,
        "KET_QUA_DTRI": e.treatment_result or "7",  # 7 = undetermined when none was recorded
        "MA_LOAI_RV": _discharge_kind(data),
        "GHI_CHU": e.note,
        "NGAY_TTOAN": fmt_dt(e.paid_at),
        "T_THUOC": fmt_money(t.drugs),
        "T_VTYT": fmt_money(t.supplies),
        "T_TONGCHI_BV": fmt_money(t.hospital),
        "T_TONGCHI_BH": fmt_money(t.bhyt),
        "T_BNTT": fmt_money(t.self_pay),
        "T_BNCCT": fmt_money(t.copay),
        "T_BHTT": fmt_money(t.fund),
        "T_NGUONKHAC": fmt_money(t.other),
        "T_BHTT_GDV": fmt_money(t.fund_fee_for_service),
        "NAM_QT": str(period.year),
        "THANG_QT": str(period.month),
        "MA_LOAI_KCB": e.visit_type,
        "MA_KHOA": e.department_code,
        "MA_CSKCB": e.facility_code,
        "MA_KHUVUC": c.region_code,
        "NAM_NAM_LIEN_TUC": fmt_date(c.five_years_date),
        "NGAY_TAI_KHAM": fmt_date(e.follow_up_date),
        "MA_HSBA": e.archive_number or p.record_number,
    }
    return table_xml(XML1, [row])


def build_xml2(data: DossierData) -> bytes | None:
    """XML2: one line per drug charge (brief 3.4)."""
    if not data.drugs:
        return None
    rows = []
    for n, d in enumerate(data.drugs, start=1):
        row = {
            "MA_LK": data.encounter.claim_key,
            "STT": str(n),
            "MA_THUOC": d.drug_code,
            "MA_NHOM": str(d.cost_group),
            "TEN_THUOC": d.name,
            "DON_VI_TINH": d.unit,
            "HAM_LUONG": d.strength,
            "DUONG_DUNG": d.route_code,
            "DANG_BAO_CHE": d.dosage_form,
            "LIEU_DUNG": d.dose_text,
            "CACH_DUNG": d.usage,
            "SO_DANG_KY": d.registration_number,
            "TT_THAU": d.tender,
            "PHAM_VI": "1" if d.in_scope else "2",
            "TYLE_TT_BH": fmt_int(d.bhyt_ratio),
            "SO_LUONG": fmt_qty(d.quantity),
            "DON_GIA": fmt_money(d.unit_price),
            **_money_fields(d.money),
            "MA_KHOA": d.department_code,
            "MA_BAC_SI": d.doctor_code,
            "NGAY_YL": fmt_dt(d.ordered_at),
            "NGAY_TH_YL": fmt_dt(d.performed_at),
            "MA_PTTT": str(d.payment_method),
            "NGUON_CTRA": str(d.funding_source),
        }
        rows.append(row)
    return table_xml(XML2, rows)


def build_xml3(data: DossierData) -> bytes | None:
    """XML3: one line per service or supply charge (brief 3.5)."""
    if not data.services:
        return None
    main = data.main_diagnosis
    rows = []
    for n, s in enumerate(data.services, start=1):
        rows.append(
            {
                "MA_LK": data.encounter.claim_key,
                "STT": str(n),
                "MA_DICH_VU": s.service_code,
                "MA_VAT_TU": s.supply_code,
                "MA_NHOM": str(s.cost_group),
                "GOI_VTYT": s.package,
                "TEN_VAT_TU": s.supply_name,
                "TEN_DICH_VU": s.name,
                "DON_VI_TINH": s.unit,
                "PHAM_VI": "1" if s.in_scope else "2",
                "SO_LUONG": fmt_qty(s.quantity),
                "DON_GIA_BV": fmt_money(s.hospital_price),
                "DON_GIA_BH": fmt_money(s.bhyt_price),
                "TYLE_TT_DV": fmt_int(s.service_ratio),
                "TYLE_TT_BH": fmt_int(s.bhyt_ratio),
                "T_TRANTT": fmt_money(s.cap),
                **_money_fields(s.money),
                "MA_KHOA": s.department_code,
                "MA_GIUONG": s.bed_code,
                "MA_BAC_SI": s.doctor_code,
                "NGUOI_THUC_HIEN": s.performer_code,
                "MA_BENH": main.code if main else "",
                "NGAY_YL": fmt_dt(s.ordered_at),
                "NGAY_TH_YL": fmt_dt(s.performed_at),
                "NGAY_KQ": fmt_dt(s.resulted_at),
                "MA_PTTT": str(s.payment_method),
            }
        )
    return table_xml(XML3, rows)


def build_xml4(data: DossierData) -> bytes | None:
    """XML4: paraclinical results (brief 3.6)."""
    if not data.results:
        return None
    rows = [
        {
            "MA_LK": data.encounter.claim_key,
            "STT": str(n),
            "MA_DICH_VU": r.service_code,
            "MA_CHI_SO": r.index_code,
            "TEN_CHI_SO": r.index_name,
            "GIA_TRI": r.value,
            "DON_VI_DO": r.unit,
            "MO_TA": r.description,
            "KET_LUAN": r.conclusion,
            "NGAY_KQ": fmt_dt(r.resulted_at),
            "MA_BS_DOC_KQ": r.reader_code,
        }
        for n, r in enumerate(data.results, start=1)
    ]
    return table_xml(XML4, rows)


def build_xml5(data: DossierData) -> bytes | None:
    """XML5: clinical course (brief 3.6)."""
    if not data.notes:
        return None
    rows = [
        {
            "MA_LK": data.encounter.claim_key,
            "STT": str(n),
            "DIEN_BIEN_LS": note.text,
            "GIAI_DOAN_BENH": note.stage,
            "HOI_CHAN": note.consultation,
            "PHAU_THUAT": note.surgery,
            "THOI_DIEM_DBLS": fmt_dt(note.at),
            "NGUOI_THUC_HIEN": note.author_code,
        }
        for n, note in enumerate(data.notes, start=1)
    ]
    return table_xml(XML5, rows)


def build_xml7(data: DossierData) -> bytes | None:
    """XML7: the discharge paper of a discharged stay (brief 3.6)."""
    e = data.encounter
    if not e.inpatient or e.ended_at is None:
        return None
    row = {
        "MA_LK": e.claim_key,
        "SO_LUU_TRU": e.archive_number,
        "MA_YTE": data.patient.record_number,
        "MA_KHOA_RV": e.department_code,
        "NGAY_VAO": fmt_dt(e.admitted_at or e.started_at),
        "NGAY_RA": fmt_dt(e.ended_at),
        "CHAN_DOAN_RV": _diagnosis_text(data),
        "PP_DIEUTRI": e.treatment_method,
        "GHI_CHU": e.note,
        "MA_BS": e.closing_doctor_code,
        "TEN_BS": e.closing_doctor_name,
        "NGAY_CT": fmt_date(e.ended_at.astimezone(LOCAL).date()),
    }
    return table_xml(XML7, [row])


def build_xml0(data: DossierData) -> bytes | None:
    """XML0 check-in, at the first cost of the visit; never for emergencies (brief 3.2)."""
    from insurance.claims.data import VISIT_CATEGORY

    p, c, e = data.patient, data.card, data.encounter
    category = VISIT_CATEGORY.get(e.arrival_mode, "")
    if category == "2":
        return None
    firsts = sorted([*data.services, *data.drugs], key=lambda x: x.ordered_at)
    first = firsts[0] if firsts else None
    row = {
        "MA_LK": e.claim_key,
        "STT": "1",
        "MA_BN": p.record_number,
        "HO_TEN": p.full_name,
        "SO_CCCD": p.cccd,
        "NGAY_SINH": fmt_birth(data),
        "GIOI_TINH": p.sex_code,
        "MA_THE_BHYT": c.code,
        "MA_DKBD": c.registered_facility_code,
        "GT_THE_TU": fmt_date(c.valid_from),
        "GT_THE_DEN": fmt_date(c.valid_to),
        "MA_DOITUONG_KCB": category,
        "NGAY_VAO": fmt_dt(e.started_at),
        "NGAY_VAO_NOI_TRU": fmt_dt(e.admitted_at) if e.inpatient else "",
        "LY_DO_VNT": e.reason if e.inpatient else "",
        "MA_LOAI_KCB": e.visit_type,
        "MA_CSKCB": e.facility_code,
    }
    if isinstance(first, ServiceLine):
        row.update(
            MA_DICH_VU=first.service_code,
            TEN_DICH_VU=first.name,
            MA_VAT_TU=first.supply_code,
            TEN_VAT_TU=first.supply_name,
            NGAY_YL=fmt_dt(first.ordered_at),
        )
    elif isinstance(first, DrugLine):
        row.update(MA_THUOC=first.drug_code, TEN_THUOC=first.name, NGAY_YL=fmt_dt(first.ordered_at))
    return table_xml(XML0, [row])


BUILDERS = {
    "XML0": build_xml0,
    "XML1": build_xml1,
    "XML2": build_xml2,
    "XML3": build_xml3,
    "XML4": build_xml4,
    "XML5": build_xml5,
    "XML7": build_xml7,
}


def build_tables(data: DossierData) -> dict[str, bytes]:
    """Every table the encounter has, keyed by LOAIHOSO (XML0 is the separate check-in message)."""
    tables = {}
    for code in TABLES:
        xml = BUILDERS[code](data)
        if xml is not None:
            tables[code] = xml
    return tables
