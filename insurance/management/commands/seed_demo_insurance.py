"""`manage.py seed_demo_insurance [--years Y] [--claims N]`: the insurance and billing part of the demo.

Called by name from `seed_demo` (core imports neither insurance nor billing), after the patients,
the staff and the encounters:

1. BHYT cards (`insurance.InsuranceCard`, one per calendar year over the last Y years) for every
   demo patient with a card code, so invoices are split by the benefit engine
   (`insurance.cards.demo`);
2. at the main demo hospital, the invoices of today's concluded visits (and of its stays discharged
   this week), built by the demo cashier and left unpaid: the cashier's desk has patients to
   collect from (`billing.demo`);
3. at the same hospital, last month's claimable visits (at most N) billed and made into claim
   dossiers by the demo insurance officer, signed with the unit's certificate (the DEMO one that
   `rundemo` uses when none is configured): the claims workspace has dossiers to batch
   (`insurance.claims.demo_seed`).

Encounters that cannot be priced are skipped and counted. Running it again adds only what is
missing.
"""

from __future__ import annotations

import time
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.demo import demo_invoices_build, desk_encounters
from billing.models import InvoiceStatus
from ehealth.core.demo import MAIN_HOSPITAL
from ehealth.core.models import Facility, Role, StaffMembership
from insurance.cards.demo import DEMO_CARD_YEARS, demo_cards_seed
from insurance.claims.demo import CERT_NAME, KEY_NAME, demo_certificate_dir
from insurance.claims.demo_seed import DEMO_DOSSIER_LIMIT, demo_dossiers_build, previous_period
from insurance.claims.signing import SigningMaterial, demo_certificate_make, signing_material


def first_staff(facility: Facility, role: str):
    """The facility's first active account of the role (the one seed_demo printed), or None."""
    membership = (
        StaffMembership.objects.filter(
            facility=facility, role=role, is_active=True, user__is_active=True
        )
        .select_related("user")
        .order_by("pk")
        .first()
    )
    return membership.user if membership else None


def demo_signing_material() -> SigningMaterial:
    """The configured certificate, else the DEMO one that rundemo signs with when none is
    configured (`insurance.claims.demo`: made once, outside the repository), so that the batches
    rundemo sends verify. The settings are left alone (rundemo points them at it when it serves)."""
    if settings.CLAIMS_SIGNING_KEY_FILE and settings.CLAIMS_SIGNING_CERT_FILE:
        return signing_material()
    directory = demo_certificate_dir()
    key_path, cert_path = directory / KEY_NAME, directory / CERT_NAME
    if not (key_path.exists() and cert_path.exists()):
        key_path, cert_path = demo_certificate_make(
            directory=directory, common_name="Co so KCB DEMO (tu ky)"
        )
    return SigningMaterial(key_path.read_bytes(), cert_path.read_bytes())


class Command(BaseCommand):
    help = (
        "Dữ liệu mẫu BHYT và viện phí: thẻ BHYT của người bệnh mẫu, hoá đơn chưa thu của lượt "
        "khám hôm nay và hồ sơ giám định tháng trước tại bệnh viện mẫu chính."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--years",
            type=int,
            default=DEMO_CARD_YEARS,
            help="Số năm thẻ BHYT mỗi người bệnh (mỗi năm một thẻ, đến năm nay).",
        )
        parser.add_argument(
            "--claims",
            type=int,
            default=DEMO_DOSSIER_LIMIT,
            help="Số hồ sơ giám định tháng trước tối đa (0: không lập).",
        )

    def handle(self, *args, years, claims, **options):
        if years < 0 or claims < 0:
            raise CommandError("--years và --claims phải là số không âm.")
        started = time.perf_counter()
        cards = demo_cards_seed(years=years)
        self.stdout.write(
            f"Thẻ BHYT: {cards:,} thẻ (mỗi năm một thẻ, {years + 1} năm), "
            f"{time.perf_counter() - started:.1f} giây."
        )

        facility = Facility.objects.filter(name=MAIN_HOSPITAL).first()
        cashier = first_staff(facility, Role.CASHIER) if facility else None
        if cashier is None:
            self.stdout.write("Hoá đơn mẫu: chưa có thu ngân tại bệnh viện mẫu chính, bỏ qua.")
            return
        started = time.perf_counter()
        today = demo_invoices_build(
            actor=cashier, facility=facility, encounters=desk_encounters(facility=facility)
        )
        waiting = [i for i in today.invoices if i.status == InvoiceStatus.OPEN]
        owed = sum((i.patient_amount for i in waiting), Decimal(0))
        self.stdout.write(
            f"Hoá đơn hôm nay tại {facility.name} ({cashier.username}): {today.built:,} lập, "
            f"{len(waiting):,} chờ thu ({owed:,.0f} đồng), bỏ qua {today.skipped:,} lượt chưa "
            f"tính được chi phí, {time.perf_counter() - started:.1f} giây."
        )

        officer = first_staff(facility, Role.INSURANCE_OFFICER)
        if officer is None or claims == 0:
            return
        started = time.perf_counter()
        made = demo_dossiers_build(
            cashier=cashier,
            officer=officer,
            facility=facility,
            period=previous_period(),
            material=demo_signing_material,
            limit=claims,
        )
        self.stdout.write(
            f"Hồ sơ giám định tháng {made.period.month:02d}/{made.period.year} tại "
            f"{facility.name} ({officer.username}): {made.ready:,} sẵn sàng gửi, "
            f"{made.invalid:,} có lỗi, bỏ qua {made.uncharged + made.refused:,}, "
            f"{time.perf_counter() - started:.1f} giây."
        )
