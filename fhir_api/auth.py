"""Who is calling the FHIR API, and may they do this interaction on this resource type?

Two kinds of caller:
- a partner system with an OAuth2 bearer token (client credentials): its FhirClient's unit, its
  service account (`application.user`, which holds a staff role at the unit), and the token's
  SMART scopes, narrowed to what the client is still allowed today;
- a member of staff signed in on the web pages: reads only (read, vread, search), within their own
  permissions (the registry's selectors decide which records).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.middleware.csrf import CsrfViewMiddleware
from oauth2_provider.oauth2_backends import get_oauthlib_core

from ehealth.core import context
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


def authenticate(request) -> Principal:
    """The caller, or NotAuthenticated (401) / Forbidden (403)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:7].lower() == "bearer ":
        valid, oauth_request = get_oauthlib_core().verify_request(request, scopes=[])
        token = getattr(oauth_request, "access_token", None) if valid else None
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
