"""seed_demo: units, staff of every role, patients with valid identifiers, once; by default a
working day (queues, cards, unpaid invoices of today, claim dossiers of last month)."""

from __future__ import annotations

import ast
import io
from datetime import date, datetime, time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from billing.models import Invoice, InvoiceStatus
from ehealth.core.demo import MAIN_HOSPITAL
from ehealth.core.models import Bed, Department, Facility, Role, StaffMembership, User
from insurance.claims.demo_seed import previous_period
from insurance.claims.models import Dossier
from insurance.claims.signing import demo_certificate_make
from insurance.models import InsuranceCard
from patients.choices import IdentifierSystem
from patients.identifiers import validate_bhyt_card, validate_cccd
from patients.models import Patient, PatientIdentifier, QueueTicket, RecordNumberCounter
from patients.validation import VN_TZ

REPO = Path(__file__).resolve().parents[2]


def _seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_seed_demo_creates_every_role_units_and_patients_with_valid_identifiers():
    # when
    output = _seed("--patients", "50", "--seed", "7", "--encounters", "0")

    # then every role has an account that logs in with the demo password
    roles = set(StaffMembership.objects.values_list("role", flat=True))
    assert roles == set(Role.values)
    for username in ["letan.bvdn", "bacsi.bvdn", "thungan.bvdn", "giamdinh.bvdn"]:
        assert User.objects.get(username=username).check_password(settings.DEMO_PASSWORD)
    assert User.objects.get(username="so.yte").memberships.get().facility.kind == (
        Facility.Kind.HEALTH_AUTHORITY
    )
    quantri = set(
        StaffMembership.objects.filter(role=Role.UNIT_ADMIN).values_list("facility", flat=True)
    )
    assert len(quantri) >= 2
    doctor = User.objects.get(username="bacsi.bvdn")
    assert doctor.groups.filter(name__startswith="facility:").exists()  # staff_groups_sync ran
    # departments everywhere but the authority, beds in hospitals
    assert Department.objects.filter(facility__name="Bệnh viện Đà Nẵng", code="K01").exists()
    assert Bed.objects.filter(ward__department__facility__name="Bệnh viện Đà Nẵng").count() > 10
    # output: a login per role, the URL, and the placeholder warning
    assert "http://127.0.0.1:8000" in output and "so.yte" in output
    assert settings.DEMO_PASSWORD in output and "GIẢ ĐỊNH" in output

    # and 50 patients with valid identifiers consistent with sex and birth year
    assert Patient.objects.count() == 50
    for patient in Patient.objects.prefetch_related("identifiers"):
        assert patient.full_name == patient.full_name.strip() and " " in patient.full_name
        by_system = {}
        for ident in patient.identifiers.all():
            by_system.setdefault(ident.system, []).append(ident)
        assert by_system[IdentifierSystem.MRN], "every patient is enrolled somewhere"
        assert all(i.facility_id for i in by_system[IdentifierSystem.MRN])
        for ident in by_system.get(IdentifierSystem.CCCD, []):
            validate_cccd(ident.value, sex=patient.sex, birth_year=patient.birth_year)
        for ident in by_system.get(IdentifierSystem.BHYT, []):
            validate_bhyt_card(ident.value)
    assert PatientIdentifier.objects.filter(system=IdentifierSystem.CCCD).count() > 10
    assert PatientIdentifier.objects.filter(system=IdentifierSystem.BHYT).count() > 25
    assert Patient.objects.filter(full_name__regex=r"[ăâđêôơưẠ-ỹ]").exists()  # diacritics kept


@pytest.mark.django_db
def test_seed_demo_runs_once_and_force_adds_patients_without_clashes():
    # given a seeded demo
    _seed("--patients", "30", "--encounters", "0")

    # when it runs again
    output = _seed("--patients", "30", "--encounters", "0")

    # then it says so and adds nothing
    assert "đã có" in output
    assert Patient.objects.count() == 30

    # and --force adds more, with unique identifiers and counters past every record number
    _seed("--patients", "40", "--force", "--encounters", "0")
    assert Patient.objects.count() == 70
    values = list(
        PatientIdentifier.objects.exclude(system=IdentifierSystem.MRN).values_list(
            "system", "value"
        )
    )
    assert len(values) == len(set(values))
    for counter in RecordNumberCounter.objects.select_related("facility"):
        numbers = [
            int(v.rsplit("-", 1)[1])
            for v in PatientIdentifier.objects.filter(
                system=IdentifierSystem.MRN, facility=counter.facility
            ).values_list("value", flat=True)
        ]
        assert counter.last_number == max(numbers)


@pytest.mark.django_db
def test_the_demo_is_a_working_day_for_the_doctor_the_cashier_and_the_officer(settings, tmp_path):
    # given the demo's settings: illustrative drug prices billed, a signing certificate
    settings.BILLING_ACCEPT_ILLUSTRATIVE_PRICES = True
    key_path, cert_path = demo_certificate_make(directory=tmp_path)
    settings.CLAIMS_SIGNING_KEY_FILE = str(key_path)
    settings.CLAIMS_SIGNING_CERT_FILE = str(cert_path)

    # when
    output = _seed("--patients", "80", "--encounters", "1500", "--claims", "4", "--seed", "11")

    # then every patient with a card code holds a card per year, this year's included
    this_year = timezone.localdate().year
    carded = set(
        PatientIdentifier.objects.filter(system=IdentifierSystem.BHYT).values_list(
            "patient_id", "value"
        )
    )
    assert len(carded) > 40
    cards = set(InsuranceCard.objects.values_list("patient_id", "code", "valid_from", "valid_to"))
    assert len(cards) == len(carded) * 4
    for patient_id, code in carded:
        assert (patient_id, code, date(this_year, 1, 1), date(this_year, 12, 31)) in cards
    # the demo doctor's room (first room of the main hospital) has today's queue
    today = timezone.localdate(timezone=VN_TZ)
    doctor = User.objects.get(username="bacsi.bvdn")
    main = doctor.memberships.get().facility
    assert main.name == MAIN_HOSPITAL
    first_room = QueueTicket.objects.filter(day=today, room__department__facility=main).order_by(
        "room_id"
    )
    assert first_room.filter(room_id=first_room.first().room_id).count() == 20
    # the cashier's facility has unpaid invoices of today, split by the card presented
    cashier = User.objects.get(username="thungan.bvdn")
    assert cashier.memberships.get().facility == main
    start = datetime.combine(today, time.min, tzinfo=VN_TZ)
    todays = Invoice.objects.filter(facility=main, encounter__started_at__gte=start)
    assert todays.filter(status=InvoiceStatus.OPEN, patient_amount__gt=0).exists()
    assert todays.filter(card__isnull=False, total_fund__gt=0).exists()
    assert not Invoice.objects.filter(
        encounter__insurance_card_code__gt="", card__isnull=True
    ).exists()  # every card presented is recorded for that day
    # the officer's facility has dossiers of last month (at most --claims), each with its invoice
    officer = User.objects.get(username="giamdinh.bvdn")
    assert officer.memberships.get().facility == main
    last = previous_period()
    dossiers = Dossier.objects.filter(
        facility=main, settlement_year=last.year, settlement_month=last.month
    )
    assert 1 <= dossiers.count() <= 4
    assert Dossier.objects.count() == dossiers.count()
    assert all(d.current_version == 1 for d in dossiers)
    assert Invoice.objects.filter(encounter__claim_dossier__in=dossiers).count() == dossiers.count()
    # and one line per step
    assert "Thẻ BHYT:" in output and "Hoá đơn hôm nay" in output
    assert f"Hồ sơ giám định tháng {last.month:02d}/{last.year}" in output


def _imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", ["ehealth", "patients"])
def test_the_lower_layers_never_import_insurance_billing_or_fhir(package):
    # given every module of the layer (seed_demo calls the insurance seed by name only)
    modules = sorted((REPO / package).rglob("*.py"))
    assert any(m.name == "seed_demo.py" for m in modules) or package == "patients"

    # when
    upward = {
        f"{m.relative_to(REPO)}: {name}"
        for m in modules
        for name in _imported_modules(m)
        if name.split(".")[0] in ("insurance", "billing", "fhir_api")
    }

    # then
    assert upward == set()
