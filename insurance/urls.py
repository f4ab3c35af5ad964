"""The insurance officer's pages, under /claims/ (namespace `claims`)."""

from django.urls import path

from insurance.views import batches, dossiers, reconciliation

app_name = "claims"
urlpatterns = [
    # Dossiers
    path("", dossiers.dossier_list, name="index"),
    path("build/", dossiers.build_period, name="build_period"),
    path("summary.pdf", dossiers.summary_pdf, name="summary_pdf"),
    path("dossier/<int:dossier_id>/", dossiers.dossier_detail, name="dossier"),
    path("dossier/<int:dossier_id>/rebuild/", dossiers.dossier_rebuild, name="rebuild"),
    path(
        "dossier/<int:dossier_id>/version/<int:number>/",
        dossiers.dossier_detail,
        name="dossier_version",
    ),
    path(
        "dossier/<int:dossier_id>/version/<int:number>/envelope.xml",
        dossiers.envelope_download,
        name="envelope",
    ),
    # Batches
    path("batches/", batches.batch_list, name="batches"),
    path("batches/new/", batches.batch_create, name="batch_create"),
    path("batches/<int:batch_id>/", batches.batch_detail, name="batch"),
    path("batches/<int:batch_id>/progress/", batches.batch_progress, name="batch_progress"),
    path("batches/<int:batch_id>/submit/", batches.batch_submit, name="batch_submit"),
    path("batches/<int:batch_id>/cancel/", batches.batch_cancel, name="batch_cancel"),
    path("batches/<int:batch_id>/answers/", batches.batch_answers, name="batch_answers"),
    path("batches/<int:batch_id>/export.zip", batches.batch_export, name="batch_export"),
    path(
        "batches/<int:batch_id>/exchanges/<int:exchange_id>/review/",
        batches.exchange_review,
        name="exchange_review",
    ),
    # Reconciliation with the insurer's settlement
    path("reconciliation/", reconciliation.reconciliation, name="reconciliation"),
    path("reconciliation/import/", reconciliation.settlement_import, name="settlement_import"),
]
