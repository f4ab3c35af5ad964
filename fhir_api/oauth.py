"""django-oauth-toolkit glue: SMART system scopes granted per client (see FhirClient.scopes).

A token request may ask for any scopes within the client's allowed ones (`system/Patient.r`
under `system/*.cruds`); without a `scope` parameter it gets all of them.
"""

from __future__ import annotations

from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes

from fhir_api.scopes import parse_scopes, scopes_cover


def _client_scopes(application) -> list[str]:
    client = getattr(application, "fhir_client", None) if application is not None else None
    if client is None or not client.is_active:
        return []
    return client.scope_list


class FhirScopes(BaseScopes):
    """Scopes backend: what each client may be granted comes from its FhirClient row."""

    def get_all_scopes(self):
        return {"system/*.cruds": "All resources (SMART v2 system scope)"}

    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        return _client_scopes(application)

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return _client_scopes(application)


class FhirOAuth2Validator(OAuth2Validator):
    """Requested SMART scopes are checked by meaning (narrower is fine), not by string."""

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        allowed = _client_scopes(client)
        requested = parse_scopes(list(scopes))
        if not allowed or len(requested) != len(list(scopes)):
            return False
        return scopes_cover(parse_scopes(allowed), requested)
