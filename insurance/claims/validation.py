"""Validation of a dossier's tables before anything is sent (issue 5; domain brief 3.3–3.7).

Two layers, both on the generated XML (what would be sent), not on the source objects:
1. the XSD of each table (`insurance.claims.schemas`, derived from the standard's tables);
2. the cross-table rules: required fields, one main ICD-10 code accepted by the catalog in
   force, at most 12 secondary codes, each XML3 line has MA_DICH_VU or MA_VAT_TU, per-line money
   identity THANH_TIEN_BV = T_BHTT + T_BNCCT + T_BNTT + T_NGUONKHAC (brief 3.7), T_NGUONKHAC =
   its four parts, XML1 totals = sums over XML2 and XML3 (brief 3.7), one MA_LK everywhere.
Every issue names the table, the field, the line (STT, None for XML1) and the rule, in
Vietnamese, with the name of the page where it can be fixed. One issue per (table, field,
line): a schema error on a field that a specific rule already reported is not repeated.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from operator import itemgetter

from django.utils.translation import gettext as _
from lxml import etree

from insurance.claims.fields import TABLES, XML1
from insurance.claims.schemas import schema, xsd_path

MAX_SECONDARY = 12
ICD_FORMAT = re.compile(r"^[A-Z]\d{2}(\.?[0-9A-Z]{1,2})?$")

# Pages where a defect is fixed (URL names; the claims pages of step 2 link them).
FIX_DIAGNOSIS = "clinic:visit"
FIX_PATIENT = "patients:edit"
FIX_CATALOG = "admin:core_medicalservice_changelist"
FIX_CHARGES = "cashier:bill"
FIX_RECORD = "clinic:visit"

_FIX_BY_FIELD = {
    "MA_BENH_CHINH": FIX_DIAGNOSIS,
    "MA_BENH_KT": FIX_DIAGNOSIS,
    "CHAN_DOAN_RV": FIX_DIAGNOSIS,
    "HO_TEN": FIX_PATIENT,
    "MA_BN": FIX_PATIENT,
    "NGAY_SINH": FIX_PATIENT,
    "GIOI_TINH": FIX_PATIENT,
    "SO_CCCD": FIX_PATIENT,
    "MA_THE_BHYT": FIX_PATIENT,
    "MA_DKBD": FIX_PATIENT,
    "GT_THE_TU": FIX_PATIENT,
    "MA_DICH_VU": FIX_CATALOG,
    "MA_VAT_TU": FIX_CATALOG,
    "MA_THUOC": FIX_CATALOG,
}

TOTAL_RULES = (
    # (XML1 total, (table, line field) pairs summed, line filter)
    ("T_TONGCHI_BV", "THANH_TIEN_BV", ("XML2", "XML3")),
    ("T_TONGCHI_BH", "THANH_TIEN_BH", ("XML2", "XML3")),
    ("T_THUOC", "THANH_TIEN_BV", ("XML2",)),
    ("T_BNTT", "T_BNTT", ("XML2", "XML3")),
    ("T_BNCCT", "T_BNCCT", ("XML2", "XML3")),
    ("T_BHTT", "T_BHTT", ("XML2", "XML3")),
    ("T_NGUONKHAC", "T_NGUONKHAC", ("XML2", "XML3")),
)


@dataclass(frozen=True)
class ValidationIssue:
    """One defect: where (table, field, line = STT or None) and which rule, in Vietnamese."""

    table: str
    field: str
    line: int | None
    rule_code: str
    message_vi: str
    fix_url_name_hint: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _issue(table, field, line, rule, message) -> ValidationIssue:
    return ValidationIssue(table, field, line, rule, message, _FIX_BY_FIELD.get(field, FIX_RECORD))


@cache
def fast_schema(code: str) -> etree.XMLSchema:
    """The same XSD file as `schemas.schema(code)`, compiled by libxml2 (lxml): it says whether a
    table is valid about a hundred times faster than xmlschema. Only when it is not, xmlschema
    is asked for the errors, so every message stays xmlschema's (a test checks both agree)."""
    return etree.XMLSchema(etree.parse(str(xsd_path(code))))


def _rows(table_code: str, root: etree._Element, valid: bool = False) -> list[dict[str, str]]:
    """The rows of a table (field -> text). `valid`: the table passed its XSD, so each row holds
    exactly the table's fields in order and the names need not be read from the tree."""
    spec = TABLES[table_code]
    holders = [root] if not spec.has_rows else root.findall(f"{spec.path[1]}/{spec.path[2]}")
    if not valid:
        return [{child.tag: (child.text or "") for child in holder} for holder in holders]
    names, rows = spec.names, []
    for holder in holders:
        texts = [child.text or "" for child in holder]
        if len(texts) == len(names):
            rows.append(dict(zip(names, texts, strict=True)))
        else:  # a comment or processing instruction among the fields
            rows.append({child.tag: (child.text or "") for child in holder})
    return rows


def _line_no(row: Mapping[str, str], index: int) -> int:
    try:
        return int(row.get("STT") or index)
    except ValueError:
        return index


def _dec(value: str) -> Decimal | None:
    try:
        return Decimal(value) if value != "" else Decimal(0)
    except InvalidOperation:
        return None


def _where(table: str, line: int | None) -> str:
    return table if line is None else _("%(table)s dòng %(line)s") % {"table": table, "line": line}


def _xsd_issues(code: str, xml: bytes) -> list[ValidationIssue]:
    spec = TABLES[code]
    issues = []
    for error in schema(code).iter_errors(xml):
        path = (error.path or "").strip("/").split("/")
        field = path[-1] if path else ""
        field = re.sub(r"\[\d+\]$", "", field)
        line = None
        if spec.has_rows and len(path) >= 3:
            m = re.search(r"\[(\d+)\]$", path[2])
            line = int(m.group(1)) if m else 1
        reason = (error.reason or "").split("\n")[0][:200]
        issues.append(
            _issue(
                code,
                field,
                line,
                "XSD",
                _("%(where)s, trường %(field)s: sai định dạng theo chuẩn (%(reason)s).")
                % {"where": _where(code, line), "field": field, "reason": reason},
            )
        )
    return issues


# A value that is empty or only whitespace, among values joined by NUL (which XML cannot carry).
_BLANK = re.compile(r"(?:^|\x00)\s*(?:\x00|$)")


@cache
def _required(code: str) -> tuple[tuple[str, ...], Callable]:
    """The required fields of a table, and a function picking their values from a row."""
    names = tuple(f.name for f in TABLES[code].fields if f.required)
    return names, itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))


def _missing(code: str, row: Mapping[str, str]) -> list[str]:
    """The required fields of the row that are absent, empty or only whitespace."""
    names, pick = _required(code)
    try:
        if not _BLANK.search("\x00".join(pick(row))):
            return []  # the usual case, checked in one pass
    except (KeyError, TypeError):
        pass
    return [name for name in names if not row.get(name, "").strip()]


def _required_issues(code: str, rows: list[dict[str, str]]) -> list[ValidationIssue]:
    spec = TABLES[code]
    issues = []
    for index, row in enumerate(rows, start=1):
        missing = _missing(code, row)
        if not missing:
            continue
        line = _line_no(row, index) if spec.has_rows else None
        for name in missing:
            issues.append(
                _issue(
                    code,
                    name,
                    line,
                    "REQUIRED",
                    _("%(where)s: thiếu trường bắt buộc %(field)s.")
                    % {"where": _where(code, line), "field": name},
                )
            )
    return issues


def _diagnosis_issues(summary: dict[str, str], accepted_icd: frozenset[str]) -> list:
    issues = []
    main = summary.get("MA_BENH_CHINH", "").strip()
    if main:
        if ";" in main or not ICD_FORMAT.match(main):
            issues.append(
                _issue(
                    "XML1",
                    "MA_BENH_CHINH",
                    None,
                    "ICD_MAIN_ONE",
                    _("XML1: MA_BENH_CHINH phải là đúng một mã ICD-10 (đang là “%(code)s”).")
                    % {"code": main},
                )
            )
        elif main not in accepted_icd:
            issues.append(
                _issue(
                    "XML1",
                    "MA_BENH_CHINH",
                    None,
                    "ICD_NOT_ACCEPTED",
                    _(
                        "XML1: mã bệnh chính %(code)s không có trong danh mục ICD-10 đang áp "
                        "dụng (hoặc không được dùng để thanh toán)."
                    )
                    % {"code": main},
                )
            )
    secondary = [c for c in summary.get("MA_BENH_KT", "").split(";") if c.strip()]
    if len(secondary) > MAX_SECONDARY:
        issues.append(
            _issue(
                "XML1",
                "MA_BENH_KT",
                None,
                "ICD_SECONDARY_MAX",
                _("XML1: MA_BENH_KT có %(n)s mã, tối đa 12 mã.") % {"n": len(secondary)},
            )
        )
    for c in secondary:
        if c not in accepted_icd:
            issues.append(
                _issue(
                    "XML1",
                    "MA_BENH_KT",
                    None,
                    "ICD_NOT_ACCEPTED",
                    _(
                        "XML1: mã bệnh kèm theo %(code)s không có trong danh mục ICD-10 đang áp dụng."
                    )
                    % {"code": c},
                )
            )
    return issues


_PARTS = ("T_NGUONKHAC_NSNN", "T_NGUONKHAC_VTNN", "T_NGUONKHAC_VTTN", "T_NGUONKHAC_CL")


class _Numbers:
    """The money columns of XML2 and XML3 as numbers (None where a value is not one), each
    read once and shared by the line rules and the totals."""

    def __init__(self, rows: Mapping[str, list[dict[str, str]]]):
        self.rows = rows
        self.columns: dict[tuple[str, str], list[Decimal | None]] = {}

    def column(self, table: str, field: str) -> list[Decimal | None]:
        column = self.columns.get((table, field))
        if column is None:
            column = [_dec(row.get(field, "")) for row in self.rows.get(table, [])]
            self.columns[(table, field)] = column
        return column


def _line_issues(code: str, rows: list[dict[str, str]], numbers: _Numbers) -> list:
    issues = []
    zero = Decimal(0)
    columns = zip(
        *(numbers.column(code, f) for f in ("THANH_TIEN_BV", "T_BHTT", "T_BNCCT", "T_BNTT")),
        zip(*(numbers.column(code, f) for f in _PARTS), strict=True),
        numbers.column(code, "T_NGUONKHAC"),
        strict=True,
    )
    for index, (row, (bv, fund, copay, self_pay, parts, other)) in enumerate(
        zip(rows, columns, strict=True), start=1
    ):
        line = _line_no(row, index)
        if (
            code == "XML3"
            and not row.get("MA_DICH_VU", "").strip()
            and not row.get("MA_VAT_TU", "").strip()
        ):
            issues.append(
                _issue(
                    code,
                    "MA_DICH_VU",
                    line,
                    "LINE_NO_CODE",
                    _("%(where)s: dòng không có mã dịch vụ (MA_DICH_VU) hay mã vật tư (MA_VAT_TU).")
                    % {"where": _where(code, line)},
                )
            )
        if None in (bv, fund, copay, self_pay, other) or None in parts:
            continue  # the schema reports the malformed number
        if bv != fund + copay + self_pay + other:
            issues.append(
                _issue(
                    code,
                    "THANH_TIEN_BV",
                    line,
                    "LINE_MONEY_IDENTITY",
                    _(
                        "%(where)s: THANH_TIEN_BV (%(bv)s) phải bằng T_BHTT + T_BNCCT + T_BNTT + "
                        "T_NGUONKHAC (%(sum)s)."
                    )
                    % {
                        "where": _where(code, line),
                        "bv": bv,
                        "sum": fund + copay + self_pay + other,
                    },
                )
            )
        if other != sum(parts, zero):
            issues.append(
                _issue(
                    code,
                    "T_NGUONKHAC",
                    line,
                    "OTHER_SOURCES_SUM",
                    _("%(where)s: T_NGUONKHAC phải bằng tổng NSNN + VTNN + VTTN + CL.")
                    % {"where": _where(code, line)},
                )
            )
    return issues


def _total_issues(
    summary: dict[str, str], lines: Mapping[str, list[dict[str, str]]], numbers: _Numbers
) -> list:
    issues = []
    supply = [bool(r.get("MA_VAT_TU") or r.get("MA_NHOM") == "10") for r in lines.get("XML3", [])]
    fee_for_service = {
        table: [r.get("MA_PTTT") == "1" for r in lines.get(table, [])] for table in ("XML2", "XML3")
    }

    def total(field: str, tables: tuple[str, ...], keep=None) -> Decimal | None:
        values: list[Decimal | None] = []
        for table in tables:
            column = numbers.column(table, field)
            if keep is None:
                values += column
            else:
                values += [v for v, k in zip(column, keep[table], strict=True) if k]
        return None if None in values else sum(values, Decimal(0))

    checks = [(name, total(field, tables)) for name, field, tables in TOTAL_RULES]
    checks.append(("T_VTYT", total("THANH_TIEN_BV", ("XML3",), {"XML3": supply})))
    checks.append(("T_BHTT_GDV", total("T_BHTT", ("XML2", "XML3"), fee_for_service)))
    for name, expected in checks:
        stated = _dec(summary.get(name, ""))
        if expected is None or stated is None or stated == expected:
            continue
        issues.append(
            _issue(
                "XML1",
                name,
                None,
                "TOTAL_MISMATCH",
                _("XML1: %(field)s = %(stated)s nhưng tổng các dòng XML2/XML3 là %(expected)s.")
                % {"field": name, "stated": stated, "expected": expected},
            )
        )
    return issues


def dossier_validate(
    tables: Mapping[str, bytes], *, accepted_icd: frozenset[str]
) -> list[ValidationIssue]:
    """All defects of a dossier's tables; an empty list means it may be sent."""
    if "XML1" not in tables:
        return [_issue("XML1", "", None, "TABLE_MISSING", _("Thiếu bảng XML1 (tổng hợp)."))]
    roots = {code: etree.fromstring(xml) for code, xml in tables.items()}
    valid = {code: fast_schema(code).validate(root) for code, root in roots.items()}
    rows = {code: _rows(code, root, valid[code]) for code, root in roots.items()}
    summary = rows["XML1"][0]
    specific: list[ValidationIssue] = []
    for code in tables:
        specific += _required_issues(code, rows[code])
    specific += _diagnosis_issues(summary, accepted_icd)
    numbers = _Numbers(rows)
    for code in ("XML2", "XML3"):
        specific += _line_issues(code, rows.get(code, []), numbers)
    specific += _total_issues(summary, rows, numbers)
    key = summary.get(XML1.fields[0].name, "")
    for code, table_rows in rows.items():
        for index, row in enumerate(table_rows, start=1):
            if row.get("MA_LK", key) != key:
                line = _line_no(row, index) if TABLES[code].has_rows else None
                specific.append(
                    _issue(
                        code,
                        "MA_LK",
                        line,
                        "MA_LK_MISMATCH",
                        _("%(where)s: MA_LK khác với XML1.") % {"where": _where(code, line)},
                    )
                )
    seen = {(i.table, i.field, i.line) for i in specific}
    schema_issues = [
        i
        for code, xml in tables.items()
        if not valid[code]
        for i in _xsd_issues(code, xml)
        if (i.table, i.field, i.line) not in seen
    ]
    order = {code: n for n, code in enumerate(TABLES)}
    return sorted(specific + schema_issues, key=lambda i: (order.get(i.table, 99), i.line or 0))
