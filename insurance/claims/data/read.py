"""Reading encounters into `DossierData`: one (`dossier_data`) or a chunk (`dossier_data_many`).

Both read the clinical record (`patients/models/*`) and billing's split charge lines (through
billing's selectors) with a fixed number of queries, whatever the number of lines, into the rows
of `insurance.claims.data.rows`, which `assemble` turns into a DossierData. `dossier_data` reads
model instances (one encounter); `dossier_data_many` reads columns (`values_list`) for many at
once, about fourteen queries per chunk: the same result for each encounter (a test checks it).
"""

from __future__ import annotations

from datetime import datetime

from insurance.claims.data.rows import (
    ENCOUNTER_NULLABLE_TEXT,
    ENCOUNTER_VALUES,
    CardRow,
    CatalogRow,
    DiagnosisRow,
    EncounterRow,
    ItemRow,
    Loaded,
    OrderRow,
    assemble,
    claim_diagnoses,
    consultation_note,
    icd_by_code,
    practitioner_code,
    progress_note,
)
from insurance.claims.data.snapshot import ZERO, ChargeInput, DossierData, Money


def _charge_input(line) -> ChargeInput:
    """One of billing's split charge lines (`billing.ChargeLine`) as the dossier reads it."""
    return ChargeInput(
        source_kind=line.source_kind,
        source_id=line.source_id,
        service_date=line.service_date,
        cost_group=line.cost_group,
        quantity=line.quantity,
        hospital_price=line.hospital_price,
        bhyt_price=line.bhyt_price,
        money=Money(
            hospital_amount=line.hospital_amount,
            bhyt_amount=line.bhyt_amount,
            benefit_rate=line.benefit_rate or ZERO,
            fund=line.fund,
            copay=line.copay,
            self_pay=line.self_pay,
            other_cl=line.other,
        ),
        service_ratio=line.service_ratio,
        bhyt_ratio=line.bhyt_ratio,
        in_scope=line.in_scope,
        item_code=line.item_code,
        item_name=line.item_name,
        unit=line.unit,
        department_code=line.department.code if line.department_id else "",
        service_id=line.service_id,
        drug_id=line.drug_id,
        supply_id=line.supply_id,
    )


def charges_from_billing(*, encounter_id: int) -> tuple[list[ChargeInput], datetime | None]:
    """The active, split charge lines of the encounter's invoice, and when it was settled.

    Reads through billing's selectors (ARCHITECTURE: claims reads charges via billing). Billing
    keeps only the total of other sources; it is reported as T_NGUONKHAC_CL (UNCONFIRMED).
    """
    from billing.selectors import invoice_for_encounter, invoice_lines

    invoice = invoice_for_encounter(encounter_id=encounter_id)
    if invoice is None:
        return [], None
    charges = [
        _charge_input(line)
        for line in invoice_lines(invoice=invoice).select_related("department")
        if line.status == "active"
    ]
    return charges, invoice.settled_at


_CHARGE_VALUES = (
    "invoice_id", "source_kind", "source_id", "service_date", "cost_group", "quantity",
    "hospital_price", "bhyt_price", "hospital_amount", "bhyt_amount", "benefit_rate", "fund",
    "copay", "self_pay", "other", "service_ratio", "bhyt_ratio", "in_scope", "item_code",
    "item_name", "unit", "department__code", "service_id", "drug_id", "supply_id",
)  # fmt: skip


def _charges_from_billing_many(
    encounter_ids: list[int],
) -> dict[int, tuple[list[ChargeInput], datetime | None]]:
    """`charges_from_billing` for several encounters in two queries (an encounter without an
    invoice is left out: it reads as no charges, not settled)."""
    from billing.selectors import invoices_for_encounters, invoices_lines

    invoices = invoices_for_encounters(encounter_ids=encounter_ids)
    by_invoice: dict[int, list[ChargeInput]] = {invoice.pk: [] for invoice in invoices.values()}
    lines = invoices_lines(invoices=invoices.values()).values_list(*_CHARGE_VALUES)
    for (invoice_id, kind, source_id, day, group, quantity, price, bhyt_price, bv, bh, rate,
         fund, copay, self_pay, other, service_ratio, bhyt_ratio, in_scope, code, name, unit,
         department, service_id, drug_id, supply_id) in lines:  # fmt: skip
        by_invoice[invoice_id].append(
            ChargeInput(
                source_kind=kind,
                source_id=source_id,
                service_date=day,
                cost_group=group,
                quantity=quantity,
                hospital_price=price,
                bhyt_price=bhyt_price,
                money=Money(bv, bh, rate or ZERO, fund, copay, self_pay, other_cl=other),
                service_ratio=service_ratio,
                bhyt_ratio=bhyt_ratio,
                in_scope=in_scope,
                item_code=code,
                item_name=name,
                unit=unit,
                department_code=department or "",
                service_id=service_id,
                drug_id=drug_id,
                supply_id=supply_id,
            )
        )
    return {
        encounter_id: (by_invoice[invoice.pk], invoice.settled_at)
        for encounter_id, invoice in invoices.items()
    }


def dossier_data(
    *,
    encounter,
    charges: list[ChargeInput] | None = None,
    paid_at: datetime | None = None,
) -> DossierData:
    """Read one encounter's record into a DossierData with a fixed number of queries.

    `charges` default to billing's split charge lines (`charges_from_billing`); tests and the
    benchmark may pass them in. Many encounters at once: `dossier_data_many`.
    """
    from ehealth.core.models import IcdCode, MedicalService, Supply
    from insurance.models import InsuranceCard
    from patients.models import (
        Consultation,
        Diagnosis,
        Encounter,
        PatientIdentifier,
        PrescriptionItem,
        ProgressNote,
        ServiceOrder,
    )

    enc = Encounter.objects.select_related(
        "patient__province", "patient__commune", "facility", "department", "attending", "closed_by"
    ).get(pk=encounter.pk)
    if charges is None:
        charges, paid_at = charges_from_billing(encounter_id=enc.pk)
    patient = enc.patient
    idents = {
        (i.system, i.facility_id): i.value
        for i in PatientIdentifier.objects.filter(patient=patient, voided_at__isnull=True)
    }
    card = (
        InsuranceCard.objects.filter(
            patient=patient, code=enc.insurance_card_code, voided_at__isnull=True
        )
        .order_by("-valid_from")
        .first()
    )
    diagnoses = list(Diagnosis.objects.filter(encounter=enc, voided_at__isnull=True))
    orders = {
        o.pk: o
        for o in ServiceOrder.objects.filter(encounter=enc)
        .select_related("service", "ordered_by", "performed_by", "performing_department")
        .prefetch_related("values")
    }
    rx_items = {
        i.pk: i
        for i in PrescriptionItem.objects.filter(prescription__encounter=enc).select_related(
            "drug", "prescription__prescribed_by"
        )
    }
    service_ids = {c.service_id for c in charges if c.service_id} - {
        o.service_id for o in orders.values()
    }
    services = {s.pk: s for s in MedicalService.objects.filter(pk__in=service_ids)}
    services.update({o.service_id: o.service for o in orders.values()})
    supplies = {
        s.pk: s for s in Supply.objects.filter(pk__in={c.supply_id for c in charges if c.supply_id})
    }
    notes = list(
        ProgressNote.objects.filter(encounter=enc, voided_at__isnull=True).select_related("author")
    )
    consultations = list(Consultation.objects.filter(encounter=enc).select_related("requested_by"))
    codes = {d.code for d in claim_diagnoses(enc, diagnoses)[0]}
    on = (enc.ended_at or enc.started_at).date()
    icd_rows = icd_by_code(
        IcdCode.objects.filter(code__in=codes, billable=True, valid_from__lte=on)
        .exclude(valid_to__lt=on)
        .values_list("code", "valid_from", "valid_to")
    )

    def catalog(item) -> CatalogRow:
        return CatalogRow(item.moh_code, item.name, item.unit, getattr(item, "package", ""))

    return assemble(
        Loaded(
            enc=EncounterRow(
                *(getattr(enc, f) for f in ENCOUNTER_VALUES[:25]),
                facility_code=enc.facility.code,
                department_code=enc.department.code if enc.department_id else "",
                attending_code=practitioner_code(enc.attending),
                closed_by_code=practitioner_code(enc.closed_by),
                closed_by_name=enc.closed_by.full_name if enc.closed_by_id else "",
                patient_id=patient.pk,
                full_name=patient.full_name,
                birth_date=patient.birth_date,
                birth_year=patient.birth_year,
                sex=patient.sex,
                nationality_code=patient.nationality_code,
                ethnicity_code=patient.ethnicity_code,
                occupation_code=patient.occupation_code,
                phone=patient.phone,
                address_line=patient.address_line,
                commune_name=patient.commune.name if patient.commune_id else "",
                province_name=patient.province.name if patient.province_id else "",
                province_id=patient.province_id,
                commune_id=patient.commune_id,
            ),
            charges=charges,
            paid_at=paid_at,
            idents=idents,
            card=card
            and CardRow(
                card.registered_facility_code,
                card.valid_from,
                card.valid_to,
                card.copay_exempt_from,
                card.five_years_date,
                card.region_code,
            ),
            diagnoses=[DiagnosisRow(d.phase, d.icd_code, d.text, d.rank) for d in diagnoses],
            orders={
                pk: OrderRow(
                    pk=o.pk,
                    service_id=o.service_id,
                    service=catalog(o.service),
                    status=o.status,
                    cancelled_at=o.cancelled_at,
                    ordered_at=o.ordered_at,
                    ordered_by_code=practitioner_code(o.ordered_by),
                    performed_at=o.performed_at,
                    performed_by_code=practitioner_code(o.performed_by),
                    resulted_at=o.resulted_at,
                    result_description=o.result_description,
                    result_conclusion=o.result_conclusion,
                    values=[(v.code, v.name, v.value, v.unit) for v in o.values.all()],
                )
                for pk, o in orders.items()
            },
            rx_items={
                pk: ItemRow(
                    i.drug.active_ingredient_code,
                    i.drug.name,
                    i.drug.unit,
                    i.drug.strength,
                    i.drug.route_code,
                    i.drug.dosage_form,
                    i.drug.registration_number,
                    i.dose,
                    i.dose_unit,
                    i.times_per_day,
                    i.days,
                    i.instructions,
                    practitioner_code(i.prescription.prescribed_by),
                    i.prescription.prescribed_at,
                )
                for pk, i in rx_items.items()
            },
            services={pk: catalog(s) for pk, s in services.items()},
            supplies={pk: catalog(s) for pk, s in supplies.items()},
            notes=[
                progress_note(
                    n.clinical_course, n.disease_stage, n.noted_at, practitioner_code(n.author)
                )
                for n in notes
            ],  # fmt: skip
            consultations=[
                consultation_note(
                    c.reason, c.conclusion, c.held_at, practitioner_code(c.requested_by)
                )
                for c in consultations
            ],  # fmt: skip
            icd_rows=icd_rows,
        )
    )


def dossier_data_many(*, encounter_ids: list[int]) -> list[DossierData]:
    """`dossier_data` for several encounters (charges from billing), in the order of
    `encounter_ids`, with a fixed number of queries for the whole list (14 at most, whatever the
    number of encounters and lines) and no model instances: the bulk reader of claim runs and
    the benchmark. Each result equals `dossier_data(encounter=...)`'s. Unknown ids are left out.
    """
    from ehealth.core.models import IcdCode, MedicalService, Supply
    from insurance.models import InsuranceCard
    from patients.models import (
        Consultation,
        Diagnosis,
        Encounter,
        PatientIdentifier,
        PrescriptionItem,
        ProgressNote,
        ResultValue,
        ServiceOrder,
    )

    encounters = {}
    for row in Encounter.objects.filter(pk__in=list(encounter_ids)).values_list(*ENCOUNTER_VALUES):
        row = list(row)
        for n in ENCOUNTER_NULLABLE_TEXT:
            row[n] = row[n] or ""
        encounters[row[0]] = EncounterRow(*row)
    ids = [pk for pk in dict.fromkeys(encounter_ids) if pk in encounters]
    if not ids:
        return []
    billed = _charges_from_billing_many(ids)
    patient_ids = {e.patient_id for e in encounters.values()}

    idents: dict[int, dict] = {pk: {} for pk in patient_ids}
    for patient_id, system, facility_id, value in (
        PatientIdentifier.objects.filter(patient_id__in=patient_ids, voided_at__isnull=True)
        .order_by("patient_id", "system", "id")
        .values_list("patient_id", "system", "facility_id", "value")
    ):
        idents[patient_id][(system, facility_id)] = value
    cards: dict[tuple[int, str], CardRow] = {}
    for patient_id, code, *card in (
        InsuranceCard.objects.filter(
            patient_id__in=patient_ids,
            code__in={e.insurance_card_code for e in encounters.values()},
            voided_at__isnull=True,
        )
        .order_by("patient_id", "code", "-valid_from")
        .values_list(
            "patient_id",
            "code",
            "registered_facility_code",
            "valid_from",
            "valid_to",
            "copay_exempt_from",
            "five_years_date",
            "region_code",
        )  # fmt: skip
    ):
        cards.setdefault((patient_id, code), CardRow(*card))  # the latest valid_from first
    diagnoses: dict[int, list] = {pk: [] for pk in ids}
    for encounter_id, *d in Diagnosis.objects.filter(
        encounter_id__in=ids, voided_at__isnull=True
    ).values_list("encounter_id", "phase", "icd_code", "text", "rank"):
        diagnoses[encounter_id].append(DiagnosisRow(*d))
    orders: dict[int, dict[int, OrderRow]] = {pk: {} for pk in ids}
    by_pk: dict[int, OrderRow] = {}
    for (encounter_id, pk, service_id, moh_code, name, unit, status, cancelled_at, ordered_at,
         ordered_by, performed_at, performed_by, resulted_at, description,
         conclusion) in (
        ServiceOrder.objects.filter(encounter_id__in=ids)
        .order_by("encounter_id", "ordered_at", "id")
        .values_list(
            "encounter_id", "pk", "service_id", "service__moh_code", "service__name",
            "service__unit", "status", "cancelled_at", "ordered_at",
            "ordered_by__practitioner_code", "performed_at", "performed_by__practitioner_code",
            "resulted_at", "result_description", "result_conclusion",
        )
    ):  # fmt: skip
        by_pk[pk] = orders[encounter_id][pk] = OrderRow(
            pk, service_id, CatalogRow(moh_code, name, unit), status, cancelled_at, ordered_at,
            ordered_by or "", performed_at, performed_by or "", resulted_at, description,
            conclusion, [],
        )  # fmt: skip
    if by_pk:
        for order_id, *value in (
            ResultValue.objects.filter(order__encounter_id__in=ids)
            .order_by("order_id", "id")
            .values_list("order_id", "code", "name", "value", "unit")
        ):
            by_pk[order_id].values.append(tuple(value))
    rx_items: dict[int, dict[int, ItemRow]] = {pk: {} for pk in ids}
    for encounter_id, pk, *item in PrescriptionItem.objects.filter(
        prescription__encounter_id__in=ids
    ).values_list(
        "prescription__encounter_id", "pk", "drug__active_ingredient_code", "drug__name",
        "drug__unit", "drug__strength", "drug__route_code", "drug__dosage_form",
        "drug__registration_number", "dose", "dose_unit", "times_per_day", "days",
        "instructions", "prescription__prescribed_by__practitioner_code",
        "prescription__prescribed_at",
    ):  # fmt: skip
        item[12] = item[12] or ""  # the doctor's practitioner code
        rx_items[encounter_id][pk] = ItemRow(*item)
    notes: dict[int, list] = {pk: [] for pk in ids}
    for encounter_id, *note in (
        ProgressNote.objects.filter(encounter_id__in=ids, voided_at__isnull=True)
        .order_by("encounter_id", "noted_at", "id")
        .values_list("encounter_id", "clinical_course", "disease_stage", "noted_at", "author__practitioner_code")
    ):  # fmt: skip
        notes[encounter_id].append(progress_note(*note))
    consultations: dict[int, list] = {pk: [] for pk in ids}
    for encounter_id, *consultation in (
        Consultation.objects.filter(encounter_id__in=ids)
        .order_by("encounter_id", "held_at", "id")
        .values_list("encounter_id", "reason", "conclusion", "held_at", "requested_by__practitioner_code")
    ):  # fmt: skip
        consultations[encounter_id].append(consultation_note(*consultation))

    no_charges: tuple[list[ChargeInput], None] = ([], None)
    ordered = {o.service_id: o.service for o in by_pk.values()}
    lines = [c for pk in ids for c in billed.get(pk, no_charges)[0]]
    services = {
        pk: CatalogRow(*row)
        for pk, *row in MedicalService.objects.filter(
            pk__in={c.service_id for c in lines if c.service_id} - set(ordered)
        ).values_list("pk", "moh_code", "name", "unit")
    }
    services.update(ordered)
    supplies = {
        pk: CatalogRow(*row)
        for pk, *row in Supply.objects.filter(
            pk__in={c.supply_id for c in lines if c.supply_id}
        ).values_list("pk", "moh_code", "name", "unit", "package")
    }
    codes = {d.icd_code for per in diagnoses.values() for d in per}
    icd_rows = icd_by_code(
        IcdCode.objects.filter(code__in=codes, billable=True).values_list(
            "code", "valid_from", "valid_to"
        )
    )
    result = []
    for pk in ids:
        enc = encounters[pk]
        charges, paid_at = billed.get(pk, no_charges)
        result.append(
            assemble(
                Loaded(
                    enc=enc,
                    charges=charges,
                    paid_at=paid_at,
                    idents=idents[enc.patient_id],
                    card=cards.get((enc.patient_id, enc.insurance_card_code)),
                    diagnoses=diagnoses[pk],
                    orders=orders[pk],
                    rx_items=rx_items[pk],
                    services=services,
                    supplies=supplies,
                    notes=notes[pk],
                    consultations=consultations[pk],
                    icd_rows=icd_rows,
                )
            )
        )
    return result
