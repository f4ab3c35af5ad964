"""Billing benchmark (issue 4): the benefit engine now; charges/invoice and receipt PDF to come.

    .venv/bin/python benchmarks/billing.py [--quick] [--only engine] [--lines N] [--rounds R]

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
- (to add) `invoice` — charge derivation + invoice for an inpatient stay of 2,000 lines: under
  1 s, query count independent of the number of lines.
- (to add) `receipt` — receipt PDF rendering: under 100 ms each.

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
sys.path.insert(0, str(ROOT))

ENGINE_TARGET_LINES_PER_S = 50_000


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


PARTS: dict[str, Callable[[argparse.Namespace], dict]] = {"engine": bench_engine}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small run (smoke test)")
    parser.add_argument("--only", choices=sorted(PARTS), action="append", help="parts to run")
    parser.add_argument("--lines", type=int, default=None, help="engine lines (default 500,000)")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 3)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    if args.lines is None:
        args.lines = 20_000 if args.quick else 500_000
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
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
        "seed": args.seed,
    }
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
