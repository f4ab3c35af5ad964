"""ehealth.core.bulk.bulk_insert: rows as Django would save them, keys set, odd fields refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.models import ChargeLine, ChargeSource
from ehealth.core.bulk import bulk_insert
from ehealth.core.models import AuditEvent
from tests.billing.factories import make_service, visit
from tests.core.factories import FacilityFactory

pytestmark = pytest.mark.django_db


def _line(encounter, service, n: int, quantity: str) -> ChargeLine:
    return ChargeLine(
        encounter=encounter,
        facility_id=encounter.facility_id,
        source_kind=ChargeSource.SERVICE_ORDER,
        source_id=n,
        service_date=date(2026, 9, 1),
        service=service,
        item_code=service.code,
        item_name="Xét nghiệm máu",
        unit="lần",
        cost_group=service.group,
        quantity=Decimal(quantity),
        hospital_price=Decimal("120000.00"),
        bhyt_price=Decimal("97200.00"),
    )


def test_rows_are_saved_with_keys_stamps_defaults_and_rounded_decimals():
    # given three unsaved lines, one with more decimals than its column (3)
    facility = FacilityFactory()
    encounter = visit(facility)
    service = make_service()
    lines = [_line(encounter, service, n, q) for n, q in enumerate(["1", "2.5", "1.2345"])]
    # when inserted in statements of two rows
    bulk_insert(ChargeLine, lines, chunk=2)
    # then each got its key, and reading back gives what was meant
    assert all(line.pk for line in lines) and len({line.pk for line in lines}) == 3
    saved = {c.pk: c for c in ChargeLine.objects.filter(encounter=encounter)}
    assert [saved[line.pk].quantity for line in lines] == [
        Decimal("1.000"),
        Decimal("2.500"),
        Decimal("1.234"),  # half-even, as Django's DecimalField rounds
    ]
    first = saved[lines[0].pk]
    assert first.item_name == "Xét nghiệm máu" and first.status == "active"
    assert first.service_ratio == Decimal("100") and first.in_scope is True
    assert first.created_at is not None and first.created_at == first.updated_at
    assert lines[0]._state.adding is False


def test_a_model_with_a_json_field_is_refused_before_anything_is_sent():
    # given an audit event (JSON detail, an IP address: fields that need Django's preparation)
    # when / then
    with pytest.raises(TypeError, match="needs Django.s preparation"):
        bulk_insert(AuditEvent, [AuditEvent(action="x", detail={"a": 1})])
    assert not AuditEvent.objects.filter(action="x").exists()


def test_a_constant_database_default_is_sent_for_an_unset_field():
    # an Encounter built unsaved holds Django's DatabaseDefault marker in its db_default fields
    from patients.models import Encounter

    template = visit(FacilityFactory())
    row = Encounter(
        patient_id=template.patient_id,
        facility_id=template.facility_id,
        department_id=template.department_id,
        kind=template.kind,
        visit_type=template.visit_type,
        status=template.status,
        started_at=template.started_at,
    )
    bulk_insert(Encounter, [row])
    stored = Encounter.objects.get(pk=row.pk)
    assert stored.archive_number == "" and stored.transfer_condition == ""
    assert row.archive_number == ""  # the object holds what was written, as after a save
