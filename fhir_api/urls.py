"""Routes of the FHIR API, included once from ehealth/urls.py at the site root:
the FHIR R4 base `/fhir/R4/` and the OAuth2 token endpoints `/o/` (client credentials)."""

from django.urls import include, path
from oauth2_provider import views as oauth_views

from fhir_api import views

fhir_patterns = [
    path("metadata", views.metadata, name="metadata"),
    path("<str:resource_type>/_search", views.search_endpoint, name="search"),
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
