"""The clinical pages, under /clinic/ (namespace `clinic`)."""

from django.urls import path

from patients.views_clinical import documents, reception, record, results, visit, ward

app_name = "clinic"
urlpatterns = [
    # Reception
    path("checkin/<int:patient_id>/", reception.checkin, name="checkin"),
    path(
        "checkin/<int:patient_id>/card/",
        reception.checkin_card_check,
        name="checkin_card_check",
    ),
    path("record/<int:patient_id>/", record.patient_record, name="patient_record"),
    path("queue/", reception.queue_index, name="queue_index"),
    path("queue/<int:room_id>/", reception.queue, name="queue"),
    # The doctor
    path("worklist/", visit.worklist, name="worklist"),
    path("visit/<int:encounter_id>/", visit.visit, name="visit"),
    path("visit/<int:encounter_id>/start/", visit.start_examination, name="start"),
    path("visit/<int:encounter_id>/await/", visit.await_results, name="await_results"),
    path("visit/<int:encounter_id>/results/", visit.results_panel, name="results_panel"),
    path("visit/<int:encounter_id>/admit/", visit.admit_from_visit, name="admit_from_visit"),
    path(
        "visit/<int:encounter_id>/section/<slug:section>/",
        visit.visit_section,
        name="visit_section",
    ),
    path("icd/", visit.icd_lookup, name="icd_search"),
    # Documents
    path(
        "visit/<int:encounter_id>/prescription.pdf",
        documents.prescription_pdf,
        name="prescription_pdf",
    ),
    path(
        "visit/<int:encounter_id>/lab-results.pdf",
        documents.lab_results_pdf,
        name="lab_results_pdf",
    ),
    path(
        "visit/<int:encounter_id>/transfer-paper.pdf",
        documents.transfer_paper_pdf,
        name="transfer_paper_pdf",
    ),
    path(
        "visit/<int:encounter_id>/discharge-paper.pdf",
        documents.discharge_paper_pdf,
        name="discharge_paper_pdf",
    ),
    # Results entry
    path("orders/", results.orders, name="orders"),
    path("orders/<int:order_id>/result/", results.result_entry, name="result_entry"),
    # Wards
    path("ward/", ward.ward_index, name="ward_index"),
    path("ward/<int:department_id>/", ward.ward, name="ward"),
    path("ward/<int:department_id>/admit/", ward.admit, name="admit"),
    path("stay/<int:encounter_id>/", ward.stay, name="stay"),
    path("stay/<int:encounter_id>/transfer/", ward.stay_transfer, name="stay_transfer"),
    path("stay/<int:encounter_id>/observation/", ward.stay_observation, name="stay_observation"),
    path("stay/<int:encounter_id>/notes/", ward.stay_note_add, name="stay_note_add"),
    path(
        "stay/<int:encounter_id>/notes/<int:note_id>/",
        ward.stay_note_edit,
        name="stay_note_edit",
    ),
    path("stay/<int:encounter_id>/discharge/", ward.stay_discharge, name="stay_discharge"),
    path(
        "stay/<int:encounter_id>/diagnosis-correction/",
        ward.stay_diagnosis_correct,
        name="stay_diagnosis_correct",
    ),
]
