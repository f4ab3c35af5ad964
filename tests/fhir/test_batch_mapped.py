"""`_writes.batch_mapped`: a batch is validated and mapped in order up to its first failure; with
`unit_of`, a caller of no unit is refused (403) after the first entry's mapping, as `create`."""

from __future__ import annotations

from types import SimpleNamespace

from fhir_api.outcomes import BadRequest, Forbidden
from fhir_api.providers._writes import batch_mapped

GOOD = {"resourceType": "Basic", "code": {"text": "x"}}
BAD = {"resourceType": "Basic"}  # Basic.code is required


def _caller(facility_id):
    principal = SimpleNamespace(facility_id=facility_id, facility=lambda: "unit")
    return SimpleNamespace(principal=principal)


def test_the_entries_before_the_first_failure_are_mapped_and_it_carries_its_index():
    sents, mapped, failed = batch_mapped([GOOD, GOOD, BAD, GOOD], "Basic", lambda s: s["code"])
    assert mapped == [{"text": "x"}] * 2 and len(sents) == 2
    assert isinstance(failed, BadRequest) and failed.batch_index == 2


def test_a_caller_of_no_unit_is_refused_after_the_first_mapping():
    seen = []
    _s, mapped, failed = batch_mapped([GOOD, GOOD], "Basic", seen.append, unit_of=_caller(None))
    assert len(seen) == 1 and mapped == []  # mapped first: a mapping error would answer instead
    assert isinstance(failed, Forbidden) and failed.batch_index == 0
    _s, mapped, failed = batch_mapped([GOOD, BAD], "Basic", seen.append, unit_of=_caller(1))
    assert len(mapped) == 1 and failed.batch_index == 1
