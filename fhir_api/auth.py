"""Who is calling the FHIR API, and may they do this interaction on this resource type?

Two kinds of caller:
- a partner system with an OAuth2 bearer token (client credentials): its FhirClient's unit, its
  service account (`application.user`, which holds a staff role at the unit), and the token's
  SMART scopes, narrowed to what the client is still allowed today;
- a member of staff signed in on the web pages: reads only (read, vread, search), within their own
  permissions (the registry's selectors decide which records).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache

from django.db import connection
from django.middleware.csrf import CsrfViewMiddleware
from oauth2_provider.bcp import bcp_compliant
from oauth2_provider.models import AbstractApplication, get_access_token_model
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauth2_provider.settings import oauth2_settings

from ehealth.core import context, permissions
from ehealth.core.sqlrows import Prepared, Row, columns
from fhir_api.models import FhirClient
from fhir_api.outcomes import Forbidden, NotAuthenticated
from fhir_api.registry import INTERACTION_SCOPE, READ_INTERACTIONS
from fhir_api.scopes import Scope, parse_scopes, scopes_allow

CLIENT_ROLE = "fhir_client"


@dataclass
class Principal:
    """The caller of one request."""

    user: object
    kind: str  # "client" or "staff"
    facility_id: int | None = None
    client_id: str = ""
    scopes: list[Scope] = field(default_factory=list)

    def facility(self):
        """The caller's health unit (read once per request), or None."""
        if self.facility_id is None:
            return None
        cached = getattr(self, "_facility", None)
        if cached is None or cached.pk != self.facility_id:
            from ehealth.core.models import Facility

            cached = self._facility = Facility.objects.get(pk=self.facility_id)
        return cached

    @property
    def audit_detail(self) -> dict:
        return {"client_id": self.client_id} if self.client_id else {}

    def require(self, resource_type: str, interaction: str) -> None:
        """403 unless the caller may do `interaction` on `resource_type`."""
        if self.kind == "staff":
            if interaction not in READ_INTERACTIONS:
                raise Forbidden(
                    "Staff sessions may read only; writes come from a registered client."
                )
            return
        letter = INTERACTION_SCOPE[interaction]
        if not scopes_allow(self.scopes, resource_type, letter):
            raise Forbidden(
                f"The token's scopes do not allow '{interaction}' on {resource_type} "
                f"(needs system/{resource_type}.{letter})."
            )


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request, reason):
        return reason


def _csrf_failure(request) -> str | None:
    check = _CsrfCheck(lambda r: None)
    check.process_request(request)
    return check.process_view(request, None, (), {})


def _direct_check() -> bool:
    """Whether the bearer token can be checked with one query here (`_access_token`), exactly as
    django-oauth-toolkit's validator would: no introspection server configured, and the
    application model's `is_usable` is the toolkit's own (always true). Else the toolkit's path."""
    application = get_access_token_model().application.field.related_model
    return (
        not oauth2_settings.RESOURCE_SERVER_INTROSPECTION_URL
        and getattr(application, "is_usable", None) is AbstractApplication.is_usable
    )


def _access_token(request, header: str):
    """The valid access token of a bearer Authorization header, with its application, FhirClient
    and service account in ONE query; None when refused.

    The same checks as django-oauth-toolkit's `OAuth2Validator.validate_bearer_token` (behind
    `verify_request`): no token in the query string (RFC 9700 gate), looked up by its SHA-256
    checksum (a revoked token is deleted: not found), not expired, and for a token restricted to
    resources (RFC 8707) this URI among them. Nothing is cached between requests."""
    parts = header.split()
    if len(parts) != 2:
        return None
    if "access_token" in request.GET and bcp_compliant(
        "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT",
        "Presenting an OAuth 2.0 access token in the URI query string",
    ):
        return None
    checksum = hashlib.sha256(parts[1].encode("utf-8")).hexdigest()
    token = _token_with_client(checksum)
    if token is None or not token.is_valid([]):
        return None
    if token.resource and not token.allows_audience(request.build_absolute_uri(request.path)):
        return None
    return token


# What the check reads of the token and its application; their other fields stay deferred.
_TOKEN_FIELDS = ("user", "application", "expires", "scope", "resource", "token_checksum")
_APPLICATION_FIELDS = ("client_id", "name", "user", "client_type", "authorization_grant_type")


@cache
def _token_sql() -> tuple[Prepared, tuple]:
    token_model = get_access_token_model()
    application = token_model.application.field.related_model
    user = application.user.field.related_model
    models = (token_model, application, FhirClient, user)
    t, a, c, u = (m._meta.db_table for m in models)
    sql = (
        f"SELECT {columns(token_model, 't', _TOKEN_FIELDS)}, "  # noqa: S608
        f"{columns(application, 'a', _APPLICATION_FIELDS)}, "
        f"{columns(FhirClient, 'c')}, {columns(user, 'u')}, access.rows FROM {t} t "
        f"LEFT JOIN {a} a ON a.id = t.application_id "
        f"LEFT JOIN {c} c ON c.application_id = a.id "
        f"LEFT JOIN {u} u ON u.id = a.user_id "
        "LEFT JOIN LATERAL (SELECT json_agg(json_build_array(x.f, x.c, x.p, x.g))::text AS rows "
        f"FROM ({permissions.access_sql('u.id')}) AS x(f, c, p, g)) access ON true "
        "WHERE t.token_checksum = %(checksum)s"
    )
    return Prepared("fhir_token", sql), models


def _token_with_client(checksum: str):
    """The access token of a checksum with its application, the application's FhirClient and
    service account attached (as `select_related` would), and the account's permissions read
    with them (`ehealth.core.permissions.access_sql`, cached on the account as its permission
    checks would read them): one row of one hand-written prepared statement instead of a dozen
    ORM queries whose compilation cost more than running them."""
    statement, (token_model, application, _client, user) = _token_sql()
    with connection.cursor() as cursor:
        statement.execute(cursor, {"checksum": checksum, **permissions.access_params()})
        found = cursor.fetchone()
    if found is None:
        return None
    row = Row(found)
    token = row.take(token_model, only=_TOKEN_FIELDS)
    app = row.take(application, only=_APPLICATION_FIELDS)
    client = row.take(FhirClient)
    account = row.take(user)
    access = row.take(None)
    if account is not None:
        permissions.access_load(account, json.loads(access) if access else [])
    if app is not None:
        app.user = account
        FhirClient.application.field.remote_field.set_cached_value(app, client)
        if client is not None:
            client.application = app
    token.application = app
    return token


def _verified_token(request, header: str):
    if _direct_check():
        return _access_token(request, header)
    valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
    return getattr(oauth_request, "access_token", None) if valid else None


def authenticate(request) -> Principal:
    """The caller, or NotAuthenticated (401) / Forbidden (403)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer ":
        token = _verified_token(request, header)
        if token is None:
            raise NotAuthenticated(
                "The access token is invalid or has expired.",
                headers={"WWW-Authenticate": 'Bearer realm="fhir", error="invalid_token"'},
            )
        client = getattr(token.application, "fhir_client", None)
        user = token.application.user if token.application else None
        if client is None or not client.is_active or user is None or not user.is_active:
            raise Forbidden("This client is not registered for the FHIR API or is disabled.")
        granted = parse_scopes(token.scope or "")
        allowed = parse_scopes(client.scope_list)
        # A scope removed from the client since the token was issued no longer applies.
        scopes = [s for s in granted if any(a.covers(s) for a in allowed)]
        return Principal(
            user=user,
            kind="client",
            facility_id=client.facility_id,
            client_id=token.application.client_id,
            scopes=scopes,
        )
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        if request.method not in ("GET", "HEAD", "OPTIONS") and _csrf_failure(request):
            raise Forbidden("CSRF check failed for a signed-in session.")
        membership = getattr(request, "active_membership", None)
        return Principal(
            user=user, kind="staff", facility_id=membership.facility_id if membership else None
        )
    raise NotAuthenticated()


def client_context(request, principal: Principal):
    """Audit context of a client request (the middleware only knows web sessions)."""
    return context.ActorContext(
        ip_address=request.META.get("REMOTE_ADDR"),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:255],
        channel="fhir",
        facility_id=principal.facility_id,
        role=CLIENT_ROLE,
    )
