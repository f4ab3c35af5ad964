"""Billing benchmark (issue 4): the benefit engine, charge derivation + invoice, receipt PDF.

    .venv/bin/python benchmarks/billing.py [--quick] [--only engine|invoice|receipt] [--lines N]

Parts (each a function `bench_<part>(args) -> dict[str, figure]`, listed in PARTS; a figure is
`{"value": ..., "target": ..., "ok": ...}` plus any detail):

- `engine` — `insurance.benefits.engine.split_lines` on synthetic visits, in this process on one
  core (pinned with `sched_setaffinity` where the OS allows). The workload is fixed by `--seed`:
  outpatient visits of 1–30 lines and inpatient stays of 100–2,000 lines, cards of every digit
  (and visits without a card), every route and facility level, dates from 2024 to 2026, price
  differences, TYLE_TT_DV/TYLE_TT_BH below 100, out-of-scope lines, supplies, other sources.
  The parameters of each visit are resolved before the clock starts (as `benefit_params` caches
  them per date); the clock covers building every line's split and the totals. Best of
  `--rounds` runs. Target: >= 50,000 lines/s. Needs no database.
- `invoice` — `billing.charges.charges_derive` + `billing.invoices.invoice_build` for a
  discharged inpatient stay with a BHYT card whose record asks for `--stay-lines` (2,000) charge
  lines: 30 bed-days, daily service orders and daily drug orders over 30 days. Timed from the
  first statement to the invoice (both services, as the cashier's "work out the bill" runs
  them), best of `--rounds` fresh stays, then a re-run on the same stay (idempotent: nothing
  changes). Queries are counted for the 2,000-line stay and for a 200-line one: the figure is ok
  only when both counts are equal. Target: under 1 s.
- `receipt` — `billing.selectors.receipt_data` + `billing.pdf.receipt.render_receipt` for a
  paid outpatient visit (examination, 6 services, 5 drugs; BHYT card, VietQR), `--receipts`
  times after a warm-up; median and p95. Target: under 100 ms each.

`invoice` and `receipt` use a dedicated database, `ehealth_bench_billing` (`--db-name`), prepared
like `registry.py`'s (created and migrated when missing, reference data and demo staff loaded,
patient tables emptied — which empties the clinical and billing rows of earlier runs too).

Output: readable lines, then as the LAST line one JSON object, each figure beside its target, and
"context" with the run's parameters.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, where benchmarks/fhir.py would shadow the
# `fhir` package (fhir.resources): the project root takes its place.
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != ROOT / "benchmarks"]

ENGINE_TARGET_LINES_PER_S = 50_000
INVOICE_TARGET_S = 1.0
RECEIPT_TARGET_MS = 100


def _pin_one_core() -> str:
    """Run on one core (the first the process may use); say which, or why not."""
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity)"
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    return f"cpu {cpu}"


def engine_workload(*, lines: int, seed: int) -> list[tuple]:
    """Synthetic visits totalling about `lines` lines: (card, visit, lines, params) each."""
    from insurance.benefits.defaults import default_params
    from insurance.benefits.types import CardContext, ChargeLineInput, OtherSources, VisitContext

    rng = random.Random(seed)
    groups = [("DN", 4), ("HT", 3), ("TE", 1), ("CN", 3), ("LH", 4), ("CC", 1), ("QN", 5)]
    groups += [("HS", 4), ("CB", 2), ("GD", 4)]
    levels = ["central", "provincial", "basic", "primary"]
    routes = ["correct", "correct", "correct", "referral", "emergency", "self_referred"]
    first, span = date(2024, 1, 1), 365 * 3
    params_by_date: dict[date, object] = {}
    visits = []
    made = 0
    n = 0
    while made < lines:
        n += 1
        on = first + timedelta(days=rng.randrange(span))
        params = params_by_date.get(on)
        if params is None:
            params = params_by_date[on] = default_params(on=on)
        group, digit = rng.choice(groups)
        card = None
        if rng.random() > 0.08:
            exempt = date(on.year, 1, 15) if rng.random() < 0.05 else None
            card = CardContext(
                group_code=group,
                benefit_digit=digit,
                valid_from=date(2020, 1, 1),
                valid_to=date(2030, 12, 31),
                five_years_date=date(2022, 1, 1) if exempt else None,
                copay_exempt_from=exempt,
            )
        inpatient = rng.random() < 0.05
        kind = "inpatient" if inpatient else "outpatient"
        level = rng.choice(levels)
        visit = VisitContext(
            on=on,
            kind=kind,
            route=rng.choice(routes),
            facility_level=level,
            facility_kind="commune_station" if level == "primary" else "hospital",
            facility_code="48001",
            basic_level_score=rng.choice([None, 40, 60, 80]),
            former_level=rng.choice(["", "", "provincial"]),
        )
        size = rng.randint(100, 2000) if inpatient else rng.randint(1, 30)
        items = []
        for i in range(size):
            hospital = Decimal(rng.randrange(5, 5000) * 1000)
            roll = rng.random()
            bhyt = hospital if roll < 0.7 else (None if roll < 0.75 else hospital * Decimal("0.9"))
            cost_group = rng.choice((1, 2, 3, 4, 4, 4, 10, 13, 15, 18))
            sources = OtherSources()
            if rng.random() < 0.03:
                sources = OtherSources(nsnn=Decimal(rng.randrange(1, 500) * 1000))
            items.append(
                ChargeLineInput(
                    ref=f"{n}-{i}",
                    cost_group=cost_group,
                    quantity=Decimal(rng.choice((1, 1, 1, 2, 3, 10, "0.5", "1.25"))),
                    hospital_price=hospital,
                    bhyt_price=bhyt,
                    in_scope=rng.random() > 0.05,
                    service_ratio=Decimal(30) if rng.random() < 0.05 else Decimal(100),
                    bhyt_ratio=Decimal(50) if rng.random() < 0.05 else Decimal(100),
                    other_sources=sources,
                )
            )
        visits.append((card, visit, items, params))
        made += size
    return visits


def bench_engine(args: argparse.Namespace) -> dict:
    """Lines per second of the benefit engine on one core (target >= 50,000)."""
    from insurance.benefits.engine import split_lines

    pinned = _pin_one_core()
    workload = engine_workload(lines=args.lines, seed=args.seed)
    total = sum(len(items) for _, _, items, _ in workload)
    best = None
    for round_no in range(args.rounds):
        started = time.perf_counter()
        for card, visit, items, params in workload:
            split_lines(card=card, visit=visit, lines=items, params=params)
        seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
        if not args.quiet:
            print(
                f"engine round {round_no + 1}: {total:,} lines in {seconds:.3f} s "
                f"({total / seconds:,.0f} lines/s)"
            )
    rate = round(total / best)
    print(f"benefit engine: {rate:,} lines/s (best of {args.rounds}, {pinned})")
    return {
        "engine_lines_per_s": {
            "value": rate,
            "target": f">={ENGINE_TARGET_LINES_PER_S}",
            "ok": rate >= ENGINE_TARGET_LINES_PER_S,
            "lines": total,
            "visits": len(workload),
            "core": pinned,
        }
    }


# --- parts on a database ----------------------------------------------------------------------

_DB_READY: dict = {}


def _database(args: argparse.Namespace) -> dict:
    """Set Django up on the benchmark database once per run; the bench catalog and staff."""
    if _DB_READY:
        return _DB_READY
    from benchmarks.registry import prepare, seed, setup_django

    setup_django(args.db_name)
    prepare(verbose=not args.quiet)
    seed(patients=50, chunk=50, verbose=False)

    from ehealth.core.demo import MAIN_HOSPITAL
    from ehealth.core.models import (
        Department,
        Drug,
        DrugPrice,
        Facility,
        MedicalService,
        ServicePrice,
        User,
    )
    from ehealth.core.models.catalogs import CostGroup

    facility = Facility.objects.get(name=MAIN_HOSPITAL)
    department = Department.objects.filter(facility=facility).order_by("code").first()
    since = date(2024, 1, 1)
    services = []
    groups = [CostGroup.LAB, CostGroup.IMAGING, CostGroup.FUNCTIONAL, CostGroup.PROCEDURE]
    for n in range(60):
        service, made = MedicalService.objects.get_or_create(
            code=f"BENCH.DV{n:03d}",
            defaults={"name": f"Dịch vụ đo hiệu năng {n}", "unit": "lần", "group": groups[n % 4]},
        )
        if made:
            price = Decimal(20_000 + 7_300 * n)
            ServicePrice.objects.create(
                item=service, hospital_price=price, bhyt_price=price, valid_from=since
            )
        services.append(service)
    drugs = []
    for n in range(40):
        drug, made = Drug.objects.get_or_create(
            code=f"BENCH.TH{n:03d}",
            defaults={
                "name": f"Thuốc đo hiệu năng {n}",
                "unit": "viên",
                "in_bhyt_list": n % 9 != 0,
            },
        )
        if made:
            price = Decimal(1_000 + 450 * n)
            DrugPrice.objects.create(
                item=drug, hospital_price=price, bhyt_price=price, valid_from=since
            )
        drugs.append(drug)
    exam = MedicalService.objects.get(code=settings_value("BILLING_DEFAULT_EXAMINATION_SERVICE"))
    _DB_READY.update(
        facility=facility,
        department=department,
        services=services,
        drugs=drugs,
        exam=exam,
        doctor=User.objects.get(username="bacsi.bvdn"),
        cashier=User.objects.get(username="thungan.bvdn"),
        patients=_patients_at(facility),
    )
    return _DB_READY


def settings_value(name: str):
    from django.conf import settings

    return getattr(settings, name)


def _patients_at(facility) -> list:
    from patients.models import Patient, PatientIdentifier

    ids = PatientIdentifier.objects.filter(
        system="mrn", facility=facility, voided_at__isnull=True
    ).values_list("patient_id", flat=True)
    return list(Patient.objects.filter(pk__in=list(ids)).order_by("pk"))


def _card(patient, *, serial: int):
    """A DN4 card (80 %) of the patient, registered elsewhere, valid through the stays."""
    from insurance.cards import card_split
    from insurance.models import InsuranceCard

    parts = card_split(f"DN448{serial:010d}")
    card, _ = InsuranceCard.objects.get_or_create(
        code=parts.code,
        defaults={
            "patient": patient,
            "group_code": parts.group_code,
            "benefit_digit": parts.benefit_digit,
            "province_code": parts.province_code,
            "social_insurance_number": parts.social_insurance_number,
            "valid_from": date(2024, 1, 1),
            "valid_to": date(2030, 12, 31),
        },
    )
    return card


def _stay_with_lines(db: dict, *, lines: int, patient, serial: int):
    """A discharged 30-day stay with a card whose record asks for about `lines` charge lines:
    30 bed-days, then service orders and drug items spread over the days (bulk inserts)."""
    from datetime import datetime
    from datetime import time as dtime

    from patients.clinical_choices import (
        ArrivalMode,
        EncounterKind,
        EncounterStatus,
        PrescriptionStatus,
        VisitType,
    )
    from patients.models import Encounter, Prescription, PrescriptionItem, ServiceOrder
    from patients.validation import VN_TZ

    days = 30
    first = date(2026, 9, 1)

    def at(day: date, hour: int) -> datetime:
        return datetime.combine(day, dtime(hour, 0), tzinfo=VN_TZ)

    card = _card(patient, serial=serial)
    encounter = Encounter.objects.create(
        patient=patient,
        facility=db["facility"],
        department=db["department"],
        kind=EncounterKind.INPATIENT,
        visit_type=VisitType.INPATIENT,
        arrival_mode=ArrivalMode.EMERGENCY,
        status=EncounterStatus.DISCHARGED,
        started_at=at(first, 9),
        admitted_at=at(first, 9),
        ended_at=at(first + timedelta(days=days - 1), 10),
        insurance_card_code=card.code,
        insurance_card_valid_from=card.valid_from,
        insurance_card_valid_to=card.valid_to,
    )
    remaining = max(lines - days, 0)
    n_orders = remaining * 3 // 5
    n_items = remaining - n_orders
    services, drugs, doctor = db["services"], db["drugs"], db["doctor"]
    ServiceOrder.objects.bulk_create(
        ServiceOrder(
            encounter=encounter,
            service=services[i % len(services)],
            quantity=Decimal(1 + i % 2),
            ordered_by=doctor,
            ordered_at=at(first + timedelta(days=i % days), 8),
            for_day=first + timedelta(days=i % days),
            ordering_department=db["department"],
        )
        for i in range(n_orders)
    )
    prescriptions = Prescription.objects.bulk_create(
        Prescription(
            encounter=encounter,
            status=PrescriptionStatus.ISSUED,
            prescribed_by=doctor,
            prescribed_at=at(first + timedelta(days=d), 8),
            for_day=first + timedelta(days=d),
        )
        for d in range(days)
    )
    PrescriptionItem.objects.bulk_create(
        PrescriptionItem(
            prescription=prescriptions[i % days],
            drug=drugs[(i // days) % len(drugs)],
            dose=Decimal(1),
            dose_unit="viên",
            route="uống",
            times_per_day=2,
            days=1,
            quantity=Decimal(2),
        )
        for i in range(n_items)
    )
    return encounter


def _derive_and_invoice(db: dict, encounter):
    from billing.charges import charges_derive
    from billing.invoices import invoice_build

    report = charges_derive(encounter_id=encounter.pk)
    invoice = invoice_build(actor=db["cashier"], facility=db["facility"], encounter=encounter)
    return report, invoice


def _count_queries(fn) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        fn()
    return len(captured.captured_queries)


def bench_invoice(args: argparse.Namespace) -> dict:
    """Charge derivation + invoice for a 2,000-line stay (target < 1 s, constant query count)."""
    db = _database(args)
    from billing.models import ChargeLine

    patients = db["patients"]
    best, lines, total = None, 0, None
    for round_no in range(args.rounds):
        encounter = _stay_with_lines(
            db, lines=args.stay_lines, patient=patients[round_no], serial=round_no + 1
        )
        started = time.perf_counter()
        report, invoice = _derive_and_invoice(db, encounter)
        seconds = time.perf_counter() - started
        best = seconds if best is None else min(best, seconds)
        lines = ChargeLine.objects.filter(encounter=encounter, status="active").count()
        total = invoice.total_hospital
        if not args.quiet:
            print(f"invoice round {round_no + 1}: {lines:,} lines in {seconds:.3f} s")
    # Idempotent: running it again on the last stay adds and drops nothing.
    started = time.perf_counter()
    again, invoice_again = _derive_and_invoice(db, encounter)
    rerun = time.perf_counter() - started
    unchanged = invoice_again.total_hospital == total and not (
        again.created or again.updated or again.dropped
    )
    # Query counts: a 200-line stay and a 2,000-line one (fresh stays, same shape).
    small = _stay_with_lines(db, lines=200, patient=patients[-1], serial=900)
    large = _stay_with_lines(db, lines=args.stay_lines, patient=patients[-2], serial=901)
    q_small = _count_queries(lambda: _derive_and_invoice(db, small))
    q_large = _count_queries(lambda: _derive_and_invoice(db, large))
    print(
        f"charge derivation + invoice, {lines:,} lines: {best:.3f} s (best of {args.rounds}); "
        f"re-run {rerun:.3f} s, unchanged: {unchanged}; queries {q_small} (200 lines) / "
        f"{q_large} ({args.stay_lines:,} lines)"
    )
    return {
        "invoice_stay_s": {
            "value": round(best, 3),
            "target": f"<{INVOICE_TARGET_S:g}",
            "ok": best < INVOICE_TARGET_S,
            "lines": lines,
            "total_hospital": str(total),
        },
        "invoice_rerun_s": {
            "value": round(rerun, 3),
            "target": "idempotent",
            "ok": unchanged,
        },
        "invoice_queries": {
            "value": q_large,
            "target": "constant",
            "ok": q_small == q_large,
            "with_200_lines": q_small,
            f"with_{args.stay_lines}_lines": q_large,
        },
    }


def _paid_visit(db: dict):
    """A concluded outpatient visit with a card: examination, 6 services, 5 drugs; paid."""
    import uuid

    from django.utils import timezone

    from billing.models import CashierShift
    from billing.services.payments import payment_take
    from billing.services.shifts import shift_open
    from patients.clinical_choices import ArrivalMode, EncounterStatus, PrescriptionStatus
    from patients.models import Encounter, Prescription, PrescriptionItem, ServiceOrder

    patient = db["patients"][len(db["patients"]) // 2]
    card = _card(patient, serial=950)
    now = timezone.now()
    encounter = Encounter.objects.create(
        patient=patient,
        facility=db["facility"],
        department=db["department"],
        arrival_mode=ArrivalMode.REGISTERED,
        status=EncounterStatus.CONCLUDED,
        started_at=now - timedelta(hours=1),
        ended_at=now,
        insurance_card_code=card.code,
        insurance_card_valid_from=card.valid_from,
        insurance_card_valid_to=card.valid_to,
        registered_facility_code=db["facility"].code,
    )
    for service in db["services"][40:46]:
        ServiceOrder.objects.create(
            encounter=encounter, service=service, ordered_by=db["doctor"], ordered_at=now
        )
    rx = Prescription.objects.create(
        encounter=encounter,
        status=PrescriptionStatus.ISSUED,
        prescribed_by=db["doctor"],
        prescribed_at=now,
    )
    for drug in db["drugs"][0:5]:  # drug 0 is outside the BHYT list: self-pay
        PrescriptionItem.objects.create(
            prescription=rx,
            drug=drug,
            dose=Decimal(1),
            dose_unit="viên",
            route="uống",
            times_per_day=2,
            days=5,
            quantity=Decimal(10),
        )
    _, invoice = _derive_and_invoice(db, encounter)
    cashier = db["cashier"]
    shift = CashierShift.objects.filter(
        opened_by=cashier, facility=db["facility"], status="open"
    ).first() or shift_open(actor=cashier, facility=db["facility"])
    return payment_take(
        actor=cashier,
        facility=db["facility"],
        shift=shift,
        invoice=invoice,
        amount=invoice.amount_due,
        method="transfer",
        idempotency_key=uuid.uuid4().hex,
    )


def bench_receipt(args: argparse.Namespace) -> dict:
    """Receipt PDF of an outpatient payment, data + rendering (target < 100 ms each)."""
    import statistics

    db = _database(args)
    from billing.pdf.receipt import render_receipt
    from billing.selectors import receipt_data

    payment = _paid_visit(db)
    for _ in range(3):  # warm-up: fonts registered, code paths loaded
        render_receipt(receipt_data(payment=payment))
    timings, render_only, size = [], [], 0
    for _ in range(args.receipts):
        started = time.perf_counter()
        data = receipt_data(payment=payment)
        middle = time.perf_counter()
        pdf = render_receipt(data)
        ended = time.perf_counter()
        timings.append((ended - started) * 1000)
        render_only.append((ended - middle) * 1000)
        size = len(pdf)
    median = statistics.median(timings)
    p95 = sorted(timings)[max(0, round(0.95 * len(timings)) - 1)]
    print(
        f"receipt PDF ({len(data.lines)} lines, {size:,} bytes): median {median:.1f} ms, "
        f"p95 {p95:.1f} ms (rendering alone {statistics.median(render_only):.1f} ms), "
        f"{len(timings)} receipts"
    )
    return {
        "receipt_median_ms": {
            "value": round(median, 1),
            "target": f"<{RECEIPT_TARGET_MS}",
            "ok": median < RECEIPT_TARGET_MS,
            "render_only_ms": round(statistics.median(render_only), 1),
            "lines": len(data.lines),
            "bytes": size,
        },
        "receipt_p95_ms": {"value": round(p95, 1), "target": None, "ok": None},
    }


PARTS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "engine": bench_engine,
    "invoice": bench_invoice,
    "receipt": bench_receipt,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run (smoke test)")
    parser.add_argument("--only", choices=sorted(PARTS), action="append", help="parts to run")
    parser.add_argument("--lines", type=int, default=None, help="engine lines (default 500,000)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 3)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--stay-lines", type=int, default=2000, help="charge lines of the stay")
    parser.add_argument("--receipts", type=int, default=None, help="receipts (default 50)")
    parser.add_argument("--db-name", default="ehealth_bench_billing")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.lines is None:
        args.lines = 20_000 if args.quick else 500_000
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.receipts is None:
        args.receipts = 10 if args.quick else 50
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    summary: dict = {}
    for name in args.only or list(PARTS):
        summary.update(PARTS[name](args))
    summary["context"] = {
        "quick": args.quick,
        "parts": args.only or list(PARTS),
        "engine_lines": args.lines,
        "rounds": args.rounds,
        "stay_lines": args.stay_lines,
        "receipts": args.receipts,
        "seed": args.seed,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
