"""Reference catalogs: import from CSV/XLSX with a per-row report, and the price in force on a day.

Import rules (issue 2, "Reference catalogs"):
- Each row is applied in its own savepoint: a bad row is reported (row number as the spreadsheet
  shows it, header = row 1) with Vietnamese messages naming the column and the rule, and rejects
  nothing else.
- Nothing changes silently: a row that changes an existing record is reported as `updated` with the
  changed fields; a column absent from the file leaves that field as it is.
- Periods (prices; ICD-10 versions) never overlap. A new period may close the open period before it
  (that one then ends the day before), and the report says so; any other overlap is an error.
  PostgreSQL exclusion constraints enforce the same rule for prices.
- Money is Decimal: plain digits with at most 2 decimals after a point; no exponent, no thousands
  separator (so "50.600" is refused rather than read as 50.6), never negative.
- Dates: dd/mm/yyyy or yyyy-mm-dd (or a date cell in XLSX).
- `dry_run=True` runs every check and rolls everything back.

Who may import: city-wide catalogs and city-wide prices need `core.manage_catalog` at the city
health authority (a city admin); a facility's own prices need it at that facility (a unit admin).
`actor=None` is the system itself (reference loaders, seed).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from ehealth.core.audit import audit_record
from ehealth.core.models import (
    Drug,
    DrugPrice,
    Facility,
    IcdCode,
    MedicalService,
    ServicePrice,
    Supply,
    SupplyPrice,
)
from ehealth.core.models.catalogs import CostGroup, PriceBase
from ehealth.core.permissions import facility_ids_with_perm

KINDS = ("icd10", "services", "drugs", "supplies", "prices")

CREATED, UPDATED, UNCHANGED, ERROR = "created", "updated", "unchanged", "error"

MANAGE_CATALOG = "core.manage_catalog"

# item_type column of a price file -> (item model, price model)
ITEM_TYPES: dict[str, tuple[type[models.Model], type[PriceBase]]] = {
    "service": (MedicalService, ServicePrice),
    "drug": (Drug, DrugPrice),
    "supply": (Supply, SupplyPrice),
}
_ITEM_TYPE_ALIASES = {
    "service": "service",
    "dich_vu": "service",
    "dịch vụ": "service",
    "dichvu": "service",
    "drug": "drug",
    "thuoc": "drug",
    "thuốc": "drug",
    "supply": "supply",
    "vat_tu": "supply",
    "vật tư": "supply",
    "vattu": "supply",
}

# Columns per kind: (required, optional). Aliases map the reference files' headers.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "icd10": (("code", "valid_from"), ("name_vi", "name_en", "billable", "valid_to", "source")),
    "services": (("code", "name", "group"), ("moh_code", "unit", "is_active")),
    "drugs": (
        ("code", "name"),
        (
            "active_ingredient_code",
            "active_ingredient",
            "strength",
            "dosage_form",
            "route",
            "route_code",
            "unit",
            "registration_number",
            "in_bhyt_list",
            "is_active",
        ),
    ),
    "supplies": (("code", "name"), ("moh_code", "package", "unit", "is_active")),
    "prices": (
        ("item_type", "item_code", "hospital_price", "valid_from"),
        ("facility_code", "bhyt_price", "valid_to", "source"),
    ),
}
_ALIASES = {"name_vi": "name", "route_vi": "route", "ten": "name", "ma": "code"}

_MONEY_RE = re.compile(r"^\d{1,13}(\.\d{1,2})?$")
_ICD_RE = re.compile(r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$")
_TRUE = {"yes", "y", "true", "1", "có", "co", "x"}
_FALSE = {"no", "n", "false", "0", "không", "khong"}
_UNKNOWN = {"unknown", "chưa rõ", "chua ro", "?"}


@dataclass
class RowReport:
    """What happened to one row of the file."""

    row: int
    status: str
    key: str = ""
    changed: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    """The outcome of one import: one entry per data row, plus file-level errors and warnings."""

    kind: str
    file_name: str
    dry_run: bool
    rows: list[RowReport] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counted = Counter(r.status for r in self.rows)
        return {s: counted.get(s, 0) for s in (CREATED, UPDATED, UNCHANGED, ERROR)}

    @property
    def ok(self) -> bool:
        return not self.file_errors and not any(r.status == ERROR for r in self.rows)

    def errors(self) -> list[RowReport]:
        return [r for r in self.rows if r.status == ERROR]


class RowError(Exception):
    """A row breaks one or more rules; each message names the column and the rule."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


# --- Reading files -------------------------------------------------------------------------------


def read_table(file_name: str, content: bytes) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """Header (normalised names) and data rows with their spreadsheet row numbers.

    Raises RowError with a file-level message when the file cannot be read.
    """
    name = file_name.lower()
    if name.endswith(".xlsx"):
        raw_rows = _xlsx_rows(content)
    elif name.endswith((".csv", ".txt")):
        raw_rows = _csv_rows(content)
    else:
        raise RowError([_("Tệp phải có đuôi .csv hoặc .xlsx.")])
    if not raw_rows:
        raise RowError([_("Tệp không có dòng tiêu đề.")])
    header = [_header_name(h) for h in raw_rows[0]]
    rows = [
        (number, values)
        for number, values in enumerate(raw_rows[1:], start=2)
        if any(v not in (None, "") and str(v).strip() for v in values)
    ]
    return header, rows


def _header_name(value: Any) -> str:
    return unicodedata.normalize("NFC", str(value or "")).strip().lower().replace(" ", "_")


def _apply_aliases(kind: str, header: list[str]) -> list[str]:
    """Map the reference files' names (name_vi, route_vi) onto this kind's columns."""
    required, optional = COLUMNS[kind]
    known = set(required + optional)
    return [_ALIASES[h] if h not in known and _ALIASES.get(h) in known else h for h in header]


def _csv_rows(content: bytes) -> list[list[Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RowError([_("Tệp CSV phải được mã hóa UTF-8.")]) from exc
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    return list(csv.reader(io.StringIO(text), delimiter=delimiter))


def _xlsx_rows(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise RowError([_("Không đọc được tệp XLSX (tệp hỏng hoặc không phải Excel).")]) from exc
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


# --- Cell parsers: each returns the value or appends a Vietnamese message naming the column -------


def _text(
    row: dict, column: str, errors: list[str], *, required: bool = False, max_length: int = 0
) -> str:
    value = row.get(column)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = unicodedata.normalize("NFC", "" if value is None else str(value)).strip()
    if required and not text:
        errors.append(_('Cột "%(col)s": bắt buộc, không được để trống.') % {"col": column})
    elif max_length and len(text) > max_length:
        errors.append(
            _('Cột "%(col)s": dài quá %(max)s ký tự.') % {"col": column, "max": max_length}
        )
    return text


def _money(row: dict, column: str, errors: list[str], *, required: bool = False) -> Decimal | None:
    value = row.get(column)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append(_('Cột "%(col)s": bắt buộc, không được để trống.') % {"col": column})
        return None
    if isinstance(value, bool):
        text = "x"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value).removesuffix(".0")
    else:
        text = str(value).strip().replace(" ", "")
    if not _MONEY_RE.match(text):
        errors.append(
            _(
                'Cột "%(col)s": "%(value)s" không phải số tiền hợp lệ (chỉ gồm chữ số, không âm, '
                "tối đa 2 chữ số thập phân sau dấu chấm, không dùng dấu phân cách hàng nghìn "
                "hay dạng số mũ)."
            )
            % {"col": column, "value": str(value)[:40]}
        )
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern above already excludes it
        errors.append(_('Cột "%(col)s": không phải số.') % {"col": column})
        return None


def _date(row: dict, column: str, errors: list[str], *, required: bool = False) -> date | None:
    value = row.get(column)
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = "" if value is None else str(value).strip()
    if not text:
        if required:
            errors.append(_('Cột "%(col)s": bắt buộc, không được để trống.') % {"col": column})
        return None
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()  # noqa: DTZ007 (a calendar date, no time)
        except ValueError:
            continue
    errors.append(
        _('Cột "%(col)s": "%(value)s" không phải ngày hợp lệ (dạng dd/mm/yyyy hoặc yyyy-mm-dd).')
        % {"col": column, "value": text[:40]}
    )
    return None


def _bool(row: dict, column: str, errors: list[str], *, allow_unknown: bool = False) -> bool | None:
    value = row.get(column)
    if isinstance(value, bool):
        return value
    text = unicodedata.normalize("NFC", "" if value is None else str(value)).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if allow_unknown and text in _UNKNOWN | {""}:
        return None
    errors.append(
        _('Cột "%(col)s": "%(value)s" không hợp lệ (dùng yes/no hoặc có/không%(unknown)s).')
        % {"col": column, "value": text[:40], "unknown": "/unknown" if allow_unknown else ""}
    )
    return None


def _max_len(model: type[models.Model], name: str) -> int:
    return model._meta.get_field(name).max_length or 0


# --- Row parsers: row dict -> clean data (only for columns the file has) ---------------------------


def _parse_item(model: type[models.Model], row: dict, extra: tuple[str, ...]) -> dict:
    errors: list[str] = []
    data: dict[str, Any] = {
        "code": _text(row, "code", errors, required=True, max_length=_max_len(model, "code")),
        "name": _text(row, "name", errors, required=True, max_length=_max_len(model, "name")),
    }
    for column in extra:
        if column not in row:
            continue
        if column == "is_active":
            data[column] = _bool(row, column, errors)
        elif column == "in_bhyt_list":
            data[column] = _bool(row, column, errors, allow_unknown=True)
        elif column == "group":
            text = _text(row, column, errors, required=True)
            if text:
                try:
                    data[column] = CostGroup(int(text)).value
                except ValueError:
                    errors.append(
                        _('Cột "group": "%(value)s" không phải mã nhóm chi phí (MA_NHOM) hợp lệ.')
                        % {"value": text[:20]}
                    )
        else:
            data[column] = _text(row, column, errors, max_length=_max_len(model, column))
    if errors:
        raise RowError(errors)
    return data


def _parse_icd(row: dict) -> dict:
    errors: list[str] = []
    code = _text(row, "code", errors, required=True).upper()
    if code and not _ICD_RE.match(code):
        errors.append(
            _('Cột "code": "%(value)s" không đúng dạng mã ICD-10 (ví dụ A97 hoặc A97.0).')
            % {"value": code[:20]}
        )
    data: dict[str, Any] = {
        "code": code,
        "valid_from": _date(row, "valid_from", errors, required=True),
    }
    for column in ("name_vi", "name_en", "source"):
        if column in row:
            data[column] = _text(row, column, errors, max_length=_max_len(IcdCode, column))
    if not data.get("name_vi") and not data.get("name_en"):
        errors.append(_('Cột "name_vi": cần tên tiếng Việt (hoặc ít nhất tên tiếng Anh name_en).'))
    if "billable" in row:
        data["billable"] = (
            True if _text(row, "billable", []) == "" else _bool(row, "billable", errors)
        )
    if "valid_to" in row:
        data["valid_to"] = _date(row, "valid_to", errors)
    _check_range(data, errors)
    if errors:
        raise RowError(errors)
    return data


def _parse_price(row: dict) -> dict:
    errors: list[str] = []
    raw_type = _text(row, "item_type", errors, required=True).lower()
    item_type = _ITEM_TYPE_ALIASES.get(raw_type)
    if raw_type and item_type is None:
        errors.append(
            _('Cột "item_type": "%(value)s" không hợp lệ (dùng service, drug hoặc supply).')
            % {"value": raw_type[:20]}
        )
    data: dict[str, Any] = {
        "item_type": item_type,
        "item_code": _text(row, "item_code", errors, required=True),
        "facility_code": _text(row, "facility_code", errors).upper(),
        "hospital_price": _money(row, "hospital_price", errors, required=True),
        "valid_from": _date(row, "valid_from", errors, required=True),
    }
    if "bhyt_price" in row:
        data["bhyt_price"] = _money(row, "bhyt_price", errors)
    if "valid_to" in row:
        data["valid_to"] = _date(row, "valid_to", errors)
    if "source" in row:
        data["source"] = _text(row, "source", errors, max_length=_max_len(ServicePrice, "source"))
    _check_range(data, errors)
    if errors:
        raise RowError(errors)
    return data


def _check_range(data: dict, errors: list[str]) -> None:
    start, end = data.get("valid_from"), data.get("valid_to")
    if start and end and end < start:
        errors.append(_('Cột "valid_to": ngày kết thúc phải từ ngày "valid_from" trở đi.'))


# --- Applying rows --------------------------------------------------------------------------------


def _display(value: Any) -> str:
    if value is None or value == "":
        return "(trống)"
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _apply_fields(obj: models.Model, data: dict, fields: list[str]) -> tuple[list[str], list[str]]:
    """Set the given fields on obj; return (changed field names, 'field: old → new' messages)."""
    changed, messages = [], []
    for name in fields:
        if name not in data:
            continue
        old, new = getattr(obj, name), data[name]
        if old != new:
            setattr(obj, name, new)
            changed.append(name)
            messages.append(f"{name}: {_display(old)} → {_display(new)}")
    return changed, messages


def _apply_item(model: type[models.Model], data: dict, report: RowReport) -> None:
    fields = [k for k in data if k != "code"]
    obj = model.objects.select_for_update().filter(code=data["code"]).first()
    if obj is None:
        model.objects.create(**data)
        report.status = CREATED
        return
    changed, messages = _apply_fields(obj, data, fields)
    if changed:
        obj.save(update_fields=changed)
        report.status, report.changed, report.messages = UPDATED, changed, messages
    else:
        report.status = UNCHANGED


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return a_from <= (b_to or date.max) and b_from <= (a_to or date.max)


def _apply_period(
    queryset: models.QuerySet, data: dict, create: dict, fields: list[str], report: RowReport
) -> None:
    """Create or update one dated version among `queryset` (same item/facility or same code)."""
    existing = list(queryset.select_for_update().order_by("valid_from"))
    start = data["valid_from"]
    same = next((p for p in existing if p.valid_from == start), None)
    if same is not None:
        end = data.get("valid_to", same.valid_to)
        clash = [
            p for p in existing if p is not same and _overlaps(p.valid_from, p.valid_to, start, end)
        ]
        if clash:
            raise RowError([_overlap_message(clash[0])])
        changed, messages = _apply_fields(same, data, fields)
        if changed:
            same.save(update_fields=changed)
            report.status, report.changed, report.messages = UPDATED, changed, messages
        else:
            report.status = UNCHANGED
        return

    end = data.get("valid_to")
    clash = [p for p in existing if _overlaps(p.valid_from, p.valid_to, start, end)]
    closable = [p for p in clash if p.valid_to is None and p.valid_from < start]
    others = [p for p in clash if p not in closable]
    if others:
        raise RowError([_overlap_message(others[0])])
    for previous in closable:
        previous.valid_to = start - timedelta(days=1)
        previous.save(update_fields=["valid_to"])
        report.messages.append(
            _("Đã đóng khoảng áp dụng từ %(start)s: nay kết thúc ngày %(end)s.")
            % {"start": _display(previous.valid_from), "end": _display(previous.valid_to)}
        )
    queryset.model.objects.create(**create, **{k: data[k] for k in fields if k in data})
    report.status = CREATED


def _overlap_message(other: Any) -> str:
    return _(
        'Cột "valid_from"/"valid_to": khoảng áp dụng chồng lấn với khoảng đã có từ %(start)s '
        "đến %(end)s (mỗi ngày chỉ được có một giá/phiên bản)."
    ) % {
        "start": _display(other.valid_from),
        "end": _display(other.valid_to) if other.valid_to else _("nay (chưa kết thúc)"),
    }


def _apply_icd(data: dict, report: RowReport) -> None:
    fields = ["name_vi", "name_en", "billable", "valid_to", "source"]
    _apply_period(
        IcdCode.objects.filter(code=data["code"]),
        data,
        {"code": data["code"], "valid_from": data["valid_from"]},
        fields,
        report,
    )


def _apply_price(data: dict, report: RowReport, allowed_facilities: set[int] | None) -> None:
    item_model, price_model = ITEM_TYPES[data["item_type"]]
    item = item_model.objects.select_for_update().filter(code=data["item_code"]).first()
    errors = []
    if item is None:
        errors.append(
            _('Cột "item_code": không có mã %(code)s trong danh mục %(type)s.')
            % {"code": data["item_code"], "type": data["item_type"]}
        )
    facility = None
    if data["facility_code"]:
        facility = Facility.objects.filter(code=data["facility_code"]).first()
        if facility is None:
            errors.append(
                _('Cột "facility_code": không có cơ sở mã %(code)s.')
                % {"code": data["facility_code"]}
            )
    if allowed_facilities is not None:
        if facility is None and not errors:
            errors.append(
                _(
                    'Cột "facility_code": giá áp dụng toàn thành phố chỉ do Sở Y tế nhập; '
                    "hãy ghi mã cơ sở của bạn."
                )
            )
        elif facility is not None and facility.pk not in allowed_facilities:
            errors.append(
                _('Cột "facility_code": bạn không có quyền quản lý bảng giá của cơ sở %(code)s.')
                % {"code": facility.code}
            )
    if errors:
        raise RowError(errors)
    report.key = f"{data['item_type']}:{item.code}@{facility.code if facility else '*'}"
    _apply_period(
        price_model.objects.filter(item=item, facility=facility),
        data,
        {"item": item, "facility": facility, "valid_from": data["valid_from"]},
        ["hospital_price", "bhyt_price", "valid_to", "source"],
        report,
    )


# --- The service ----------------------------------------------------------------------------------


def _permission_scope(actor: Any, kind: str) -> set[int] | None:
    """None = may import anything (system, superuser, city admin); else the facilities whose own
    prices the actor may import. Raises PermissionDenied when the actor may import nothing."""
    if actor is None or getattr(actor, "is_superuser", False):
        return None
    facility_ids = set(facility_ids_with_perm(actor, MANAGE_CATALOG))
    authority_ids = set(
        Facility.objects.filter(
            pk__in=facility_ids, kind=Facility.Kind.HEALTH_AUTHORITY
        ).values_list("pk", flat=True)
    )
    if authority_ids:
        return None
    if kind == "prices" and facility_ids:
        return facility_ids
    raise PermissionDenied(_("Bạn không có quyền nhập danh mục này."))


@transaction.atomic
def catalog_import(
    *, actor: Any, kind: str, file_name: str, content: bytes, dry_run: bool = False
) -> ImportReport:
    """Import one catalog file (CSV or XLSX): every row checked and applied on its own, reported."""
    if kind not in KINDS:
        raise ValueError(f"unknown catalog kind {kind!r}")
    allowed_facilities = _permission_scope(actor, kind)
    report = ImportReport(kind=kind, file_name=file_name, dry_run=dry_run)
    try:
        header, rows = read_table(file_name, content)
    except RowError as exc:
        report.file_errors.extend(exc.messages)
        return report
    header = _apply_aliases(kind, header)

    required, optional = COLUMNS[kind]
    missing = [c for c in required if c not in header]
    if missing:
        report.file_errors.append(_("Thiếu cột bắt buộc: %(cols)s.") % {"cols": ", ".join(missing)})
        return report
    unused = [h for h in header if h and h not in required + optional]
    if unused:
        report.warnings.append(
            _("Các cột sau không được dùng và bị bỏ qua: %(cols)s.") % {"cols": ", ".join(unused)}
        )

    seen: dict[str, int] = {}
    for number, values in rows:
        row = {h: v for h, v in zip(header, values, strict=False) if h}
        raw_key = row.get("code") or row.get("item_code") or ""
        row_report = RowReport(row=number, status=ERROR, key=str(raw_key).strip()[:60])
        report.rows.append(row_report)
        try:
            data = _parse_row(kind, row)
            key = _row_key(kind, data)
            row_report.key = key
            if key in seen:
                raise RowError(
                    [
                        _("Trùng khóa %(key)s với dòng %(row)s của cùng tệp.")
                        % {"key": key, "row": seen[key]}
                    ]
                )
            seen[key] = number
            with transaction.atomic():
                _apply_row(kind, data, row_report, allowed_facilities)
        except RowError as exc:
            row_report.status, row_report.changed = ERROR, []
            row_report.messages = exc.messages
        except IntegrityError:
            row_report.status, row_report.changed = ERROR, []
            row_report.messages = [
                _("Dòng vi phạm ràng buộc dữ liệu (trùng mã hoặc khoảng áp dụng chồng lấn).")
            ]

    if dry_run:
        transaction.set_rollback(True)
    else:
        audit_record(
            actor=actor,
            action="catalog.import",
            detail={"kind": kind, "file_name": file_name[:200], **report.counts},
        )
    return report


def _parse_row(kind: str, row: dict) -> dict:
    if kind == "icd10":
        return _parse_icd(row)
    if kind == "prices":
        return _parse_price(row)
    if kind == "services":
        return _parse_item(MedicalService, row, ("group", "moh_code", "unit", "is_active"))
    if kind == "drugs":
        return _parse_item(Drug, row, COLUMNS["drugs"][1])
    return _parse_item(Supply, row, COLUMNS["supplies"][1])


def _row_key(kind: str, data: dict) -> str:
    if kind == "icd10":
        return f"{data['code']}@{data['valid_from']:%d/%m/%Y}"
    if kind == "prices":
        return (
            f"{data['item_type']}:{data['item_code']}@{data['facility_code'] or '*'}"
            f"#{data['valid_from']:%d/%m/%Y}"
        )
    return data["code"]


def _apply_row(kind: str, data: dict, report: RowReport, allowed: set[int] | None) -> None:
    if kind == "icd10":
        _apply_icd(data, report)
    elif kind == "prices":
        _apply_price(data, report, allowed)
    else:
        model = {"services": MedicalService, "drugs": Drug, "supplies": Supply}[kind]
        _apply_item(model, data, report)


# --- Lookups --------------------------------------------------------------------------------------


def price_in_force(*, item: models.Model, facility: Facility | None, on: date) -> PriceBase | None:
    """The price of a service, drug or supply on a day: the facility's own price first, else the
    city-wide one; None when no price is in force (never a made-up price)."""
    in_force = item.prices.filter(valid_from__lte=on).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=on)
    )
    if facility is not None:
        own = in_force.filter(facility=facility).order_by("-valid_from").first()
        if own is not None:
            return own
    return in_force.filter(facility__isnull=True).order_by("-valid_from").first()


def icd_in_force(*, on: date) -> models.QuerySet:
    """ICD-10 codes in force on a day (one version per code)."""
    return IcdCode.objects.filter(valid_from__lte=on).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=on)
    )
