"""The fast paths of the builders and the validator give exactly what the slow ones gave.

`builders.table_xml` writes the XML as text instead of building an lxml tree, and
`validation.dossier_validate` asks libxml2 (lxml) whether a table is valid before asking xmlschema
for its errors. Both are checked here against the way they were done before.
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal

import pytest
from lxml import etree

from insurance.claims.builders import build_tables, fmt_money, fmt_qty, table_xml
from insurance.claims.data import dossier_data
from insurance.claims.fields import TABLES
from insurance.claims.schemas import schema
from insurance.claims.validation import fast_schema
from tests.insurance.claims.records import inpatient_stay, outpatient_visit


def lxml_table_xml(table, rows) -> bytes:
    """The former `table_xml`: an lxml tree, element by element, then `etree.tostring`."""
    root = etree.Element(table.path[0])
    parent = etree.SubElement(root, table.path[1]) if table.has_rows else root
    for row in rows:
        holder = etree.SubElement(parent, table.path[2]) if table.has_rows else parent
        for name in table.names:
            etree.SubElement(holder, name).text = row.get(name, "")
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def outcome(write, table, rows):
    try:
        return write(table, rows)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        return type(exc)


# Characters libxml2 escapes (& < > CR), quotes it does not, Vietnamese and astral characters,
# characters XML 1.0 cannot carry (refused with ValueError) and a lone surrogate.
ALPHABET = [*"abcXYZ019 .;-&<>\"'\r\n\t", "ế", "Ư", "😀", "\x85", "\u2028", "\x7f"]
FORBIDDEN = ["\x00", "\x01", "\x0b", "\x1f", "\ufffe", "\uffff", "\ud800"]


@pytest.mark.parametrize("code", sorted(TABLES))
def test_table_xml_is_byte_for_byte_what_lxml_wrote(code):
    # given: random rows of the table (missing fields, None, text to escape, forbidden chars)
    rng = random.Random(f"table-xml-{code}")
    table = TABLES[code]
    for _ in range(300):
        rows = []
        for _ in range(rng.choice([0, 1, 1, 2, 4])):
            row: dict = {}
            for name in table.names:
                draw = rng.random()
                if draw < 0.25:
                    continue  # absent: written empty
                if draw < 0.28:
                    row[name] = None
                elif draw < 0.29:
                    row[name] = "x" + rng.choice(FORBIDDEN)
                else:
                    row[name] = "".join(
                        rng.choice(ALPHABET) if rng.random() < 0.25 else rng.choice("abc123")
                        for _ in range(rng.randrange(0, 9))
                    )
            rows.append(row)
        # when / then: the same bytes, or the same exception
        assert outcome(table_xml, table, rows) == outcome(lxml_table_xml, table, rows), rows


def test_amounts_and_quantities_read_as_format_f_of_the_rounded_value_each_time():
    # given: amounts of every sign and exponent, zeros of both signs, each asked for twice (the
    # second time from the remembered text)
    rng = random.Random("money")
    values = [Decimal("0"), Decimal("-0"), Decimal("-0.00"), Decimal("0E+5"), Decimal("0.005")]
    values += [Decimal("-0.005"), Decimal("1E+3"), Decimal("123456789012.345"), 7, 0]
    values += [
        Decimal(rng.randrange(-(10**13), 10**13)).scaleb(-rng.randrange(-3, 6)) for _ in range(3000)
    ]
    for value in values + values:
        # when / then
        expected = f"{Decimal(value).quantize(Decimal('0.01'), ROUND_HALF_UP):f}"
        assert fmt_money(value) == expected, value
        assert fmt_qty(value) == f"{Decimal(value).quantize(Decimal('0.001'), ROUND_HALF_UP):f}"
    assert fmt_money(None) == ""


EDGE_VALUES = [
    "",
    "x",
    "1",
    "-1",
    "1.5",
    "1.234",
    "12345678901234567890",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: a \d for both (Unicode Nd)
    "\uff12",  # FULLWIDTH DIGIT TWO
    " 1",
    "1 ",
    "20261120",
    "202611200815",
    "2026112008151",
    "DN4480123456789",
    "DN4480123456789;HT3480987654321",
    "A00.1",
    "J06.9;I10",
    "ế" * 6,
    "a" * 1100,
]


@pytest.mark.django_db
@pytest.mark.parametrize("scenario", [outpatient_visit, inpatient_stay])
def test_libxml2_and_xmlschema_agree_on_every_field_of_the_tables(scenario):
    # given: the valid tables of a record, and every field of every row set to each edge value
    s = scenario()
    tables = build_tables(dossier_data(encounter=s.encounter, charges=s.charges))
    checked = 0
    for code, xml in tables.items():
        assert fast_schema(code).validate(etree.fromstring(xml))
        assert not list(schema(code).iter_errors(xml))
        holder = etree.fromstring(xml)
        if TABLES[code].has_rows:
            holder = holder[0][0]
        for element in holder:
            for value in EDGE_VALUES:
                # when
                saved, element.text = element.text, value
                mutated = etree.tostring(holder.getroottree(), encoding="utf-8")
                element.text = saved
                fast_ok = fast_schema(code).validate(etree.fromstring(mutated))
                slow_ok = not list(schema(code).iter_errors(mutated))
                # then
                assert fast_ok == slow_ok, (code, element.tag, value)
                checked += 1
    assert checked > 1000
