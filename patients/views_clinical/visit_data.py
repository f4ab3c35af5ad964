"""What the visit page shows of an encounter: from `encounter_chart` (the audited read) on a
page load, or reloaded after a section save of an encounter already fetched (and audited) by
`encounter_get` in the same request.

A fixed number of queries, however many vitals, orders or drug lines the visit has.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Prefetch

from patients.clinical_choices import DiagnosisPhase, OrderStatus, PrescriptionStatus
from patients.models import (
    Addendum,
    Allergy,
    Diagnosis,
    Encounter,
    Prescription,
    PrescriptionItem,
    ServiceOrder,
    VitalSigns,
)


@dataclass
class VisitData:
    vitals: list[VitalSigns] = field(default_factory=list)
    diagnoses: list[Diagnosis] = field(default_factory=list)
    allergies: list[Allergy] = field(default_factory=list)
    orders: list[ServiceOrder] = field(default_factory=list)
    prescriptions: list[Prescription] = field(default_factory=list)
    addenda: list[Addendum] = field(default_factory=list)

    @property
    def latest_vitals(self) -> VitalSigns | None:
        return self.vitals[-1] if self.vitals else None

    @property
    def main_diagnosis(self) -> Diagnosis | None:
        return next((d for d in self.diagnoses if d.rank == 0), None)

    @property
    def secondary_diagnoses(self) -> list[Diagnosis]:
        return [d for d in self.diagnoses if d.rank > 0]

    @property
    def live_orders(self) -> list[ServiceOrder]:
        return [o for o in self.orders if o.status != OrderStatus.CANCELLED]

    @property
    def resulted_orders(self) -> list[ServiceOrder]:
        return [o for o in self.orders if o.status == OrderStatus.RESULTED]

    @property
    def pending_orders(self) -> list[ServiceOrder]:
        return [
            o for o in self.orders if o.status in (OrderStatus.ORDERED, OrderStatus.IN_PROGRESS)
        ]

    @property
    def items(self) -> list[PrescriptionItem]:
        return [
            item
            for p in self.prescriptions
            if p.status != PrescriptionStatus.CANCELLED
            for item in p.items.all()
        ]


def from_chart(chart, *, phase: str = DiagnosisPhase.ENCOUNTER) -> VisitData:
    """The page's view of `patients.clinical.selectors.encounter_chart` (the audited read)."""
    return VisitData(
        vitals=list(chart.vitals),
        diagnoses=[d for d in chart.diagnoses if d.phase == phase],
        allergies=list(chart.allergies),
        orders=list(chart.orders),
        prescriptions=list(chart.prescriptions),
        addenda=list(chart.addenda),
    )


def visit_data(encounter: Encounter, *, phase: str = DiagnosisPhase.ENCOUNTER) -> VisitData:
    """Vitals, diagnoses of `phase`, the patient's active allergies, orders with their values,
    prescriptions with their live lines, addenda."""
    return VisitData(
        vitals=list(
            VitalSigns.objects.filter(encounter=encounter, voided_at__isnull=True)
            .select_related("recorded_by")
            .order_by("recorded_at", "id")
        ),
        diagnoses=list(
            Diagnosis.objects.filter(
                encounter=encounter, phase=phase, voided_at__isnull=True
            ).order_by("rank")
        ),
        allergies=list(
            Allergy.objects.filter(patient_id=encounter.patient_id, voided_at__isnull=True)
            .select_related("drug")
            .order_by("substance", "id")
        ),
        orders=list(
            ServiceOrder.objects.filter(encounter=encounter)
            .select_related("service", "performing_department", "ordered_by")
            .prefetch_related("values")
            .order_by("ordered_at", "id")
        ),
        prescriptions=list(
            Prescription.objects.filter(encounter=encounter)
            .prefetch_related(
                Prefetch(
                    "items",
                    queryset=PrescriptionItem.objects.filter(voided_at__isnull=True)
                    .select_related("drug")
                    .order_by("id"),
                )
            )
            .order_by("prescribed_at", "id")
        ),
        addenda=list(
            Addendum.objects.filter(encounter=encounter)
            .select_related("author")
            .order_by("created_at", "id")
        ),
    )
