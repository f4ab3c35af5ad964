"""Routes of the FHIR API, included once from ehealth/urls.py at the site root:
the FHIR R4 base `/fhir/R4/` and the OAuth2 token endpoints `/o/` (client credentials)."""

from django.urls import include, path
from oauth2_provider import views as oauth_views

from fhir_api import bulk, views

fhir_patterns = [
    path("", views.base_endpoint, name="base"),
    path("metadata", views.metadata, name="metadata"),
    # Bulk Data $export (fhir_api/bulk.py): before the generic <resource_type> patterns.
    path("$export", bulk.export_system, name="export"),
    path("Patient/$export", bulk.export_patient, name="export-patient"),
    path("Group/<str:group_id>/$export", bulk.export_group, name="export-group"),
    path("$export-status/<uuid:job_id>", bulk.export_status, name="export-status"),
    path("$export-file/<uuid:job_id>/<str:file_name>", bulk.export_file, name="export-file"),
    path("<str:resource_type>/_search", views.search_endpoint, name="search"),
    path("<str:resource_type>/$<str:operation>", views.type_operation, name="type-operation"),
    path(
        "<str:resource_type>/<str:resource_id>/$<str:operation>",
        views.instance_operation,
        name="instance-operation",
    ),
    path("<str:resource_type>/_history", views.type_history_endpoint, name="history-type"),
    path(
        "<str:resource_type>/<str:resource_id>/_history",
        views.instance_history_endpoint,
        name="history-instance",
    ),
    path(
        "<str:resource_type>/<str:resource_id>/_history/<str:version_id>",
        views.version_endpoint,
        name="vread",
    ),
    path("<str:resource_type>/<str:resource_id>", views.instance_endpoint, name="instance"),
    path("<str:resource_type>", views.type_endpoint, name="type"),
]

# Only the token endpoints: no application-management pages (clients are registered by an
# administrator with `manage.py fhir_client_create`).
oauth_patterns = [
    path("token/", oauth_views.TokenView.as_view(), name="token"),
    path("revoke_token/", oauth_views.RevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", oauth_views.IntrospectTokenView.as_view(), name="introspect"),
]

urlpatterns = [
    path("fhir/R4/", include((fhir_patterns, "fhir"))),
    path("o/", include((oauth_patterns, "oauth2_provider"))),
]
