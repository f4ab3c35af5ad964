"""Demo BHYT cards: the `insurance.InsuranceCard` rows of the seeded patients (synthetic data).

`ehealth.core.demo.patients_seed` gives most patients a card code (registry identifier `bhyt`),
and `patients.clinical.demo.encounters_seed` writes each visit with that code, valid for the
calendar year of the visit. Billing (`card_for_visit`) and the claim dossiers read the card that
pays from `InsuranceCard`, so the demo records, for every live `bhyt` identifier, one card per
calendar year of the window (a card renewed every 1 January: valid 01/01 to 31/12), split into its
parts as `card_split` does, registered (nơi ĐKKCB ban đầu) at the facility that enrolled the
patient, unchecked at the portal.

One INSERT ... SELECT on the server (no rows through Python), idempotent: a (code, start date)
already recorded is skipped. One audit entry records the seed (the records are synthetic).
"""

from __future__ import annotations

from django.db import connection, transaction
from django.utils import timezone

from ehealth.core.audit import audit_record
from ehealth.core.models import Facility
from insurance.models import CardSource, CardVerification, InsuranceCard
from patients.choices import IdentifierSystem
from patients.models import Patient, PatientIdentifier

DEMO_CARD_YEARS = 3  # the encounter seed's window: today back to the same day three years ago

_INSERT = """
INSERT INTO {card} (
    patient_id, code, group_code, benefit_digit, province_code, social_insurance_number,
    valid_from, valid_to, registered_facility_code, region_code, source, verification,
    created_at, version, void_reason
)
SELECT i.patient_id, i.value, substr(i.value, 1, 2), substr(i.value, 3, 1)::smallint,
       substr(i.value, 4, 2), substr(i.value, 6, 10),
       make_date(y, 1, 1), make_date(y, 12, 31), COALESCE(f.code, ''), '', %(source)s,
       %(verification)s, %(now)s, 1, ''
FROM {ident} i
JOIN {patient} p ON p.id = i.patient_id
LEFT JOIN {facility} f ON f.id = p.created_at_facility_id
CROSS JOIN generate_series(%(first)s::int, %(last)s::int) AS y
WHERE i.system = %(system)s AND i.voided_at IS NULL
  AND i.value ~ '^[A-Z]{{2}}[1-5][0-9]{{12}}$'
  AND NOT EXISTS (
      SELECT 1 FROM {card} c
      WHERE c.code = i.value AND c.valid_from = make_date(y, 1, 1) AND c.voided_at IS NULL
  )
ORDER BY i.patient_id, y
"""


@transaction.atomic
def demo_cards_seed(*, years: int = DEMO_CARD_YEARS) -> int:
    """Record the yearly cards of every patient with a BHYT card code, from the year `years`
    years ago to this year (local calendar); returns how many rows were written."""
    this_year = timezone.localdate().year  # TIME_ZONE: Asia/Ho_Chi_Minh
    sql = _INSERT.format(
        card=InsuranceCard._meta.db_table,
        ident=PatientIdentifier._meta.db_table,
        patient=Patient._meta.db_table,
        facility=Facility._meta.db_table,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "source": CardSource.TYPED.value,
                "verification": CardVerification.UNCHECKED.value,
                "now": timezone.now(),
                "first": this_year - max(years, 0),
                "last": this_year,
                "system": IdentifierSystem.BHYT.value,
            },
        )
        written = cursor.rowcount
    if written:
        audit_record(
            actor=None,
            action="insurance_card.seed_demo",
            detail={"cards": written, "years": [this_year - max(years, 0), this_year]},
        )
    return written


__all__ = ["DEMO_CARD_YEARS", "demo_cards_seed"]
