"""Registering partner systems (OAuth2 client credentials) for the FHIR API."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import get_application_model

from ehealth.core.audit import audit_record
from ehealth.core.models import Facility, Role, StaffMembership, User
from ehealth.core.permissions import staff_groups_sync
from fhir_api.models import FhirClient
from fhir_api.scopes import is_valid_scope

# The staff role the client's service account holds at its unit by default: it decides what the
# domain's services let the client do there (register, update patients, check visits in); the
# scopes narrow it per resource type. A client that writes clinical data (vitals, diagnoses,
# examinations, admissions) is given the doctor and/or nurse role too (`roles`).
CLIENT_ROLE = Role.RECEPTIONIST
CLIENT_ROLES = (Role.RECEPTIONIST, Role.DOCTOR, Role.NURSE)


@dataclass(frozen=True)
class RegisteredClient:
    client: FhirClient
    client_id: str
    client_secret: str  # shown once: only its hash is stored


@transaction.atomic
def fhir_client_register(
    *,
    facility: Facility,
    name: str,
    scopes: str,
    actor=None,
    client_secret: str | None = None,
    client_id: str | None = None,
    roles: tuple[str, ...] = (CLIENT_ROLE,),
) -> RegisteredClient:
    """Create the OAuth2 application, its service account at `facility`, and the FhirClient.

    `client_id` and `client_secret` may be given (the demo uses fixed ones); otherwise they are
    generated. `roles`: the staff roles of its service account at the unit (any of
    CLIENT_ROLES; receptionist by default).
    """
    items = scopes.split()
    bad = [s for s in items if not is_valid_scope(s)]
    if not items or bad:
        raise ValueError(f"Invalid SMART system scopes: {' '.join(bad) or '(none)'}")
    wrong = [r for r in roles if r not in CLIENT_ROLES]
    if not roles or wrong:
        allowed = ", ".join(CLIENT_ROLES)
        raise ValueError(
            f"Roles of a client are among {allowed}, not {' '.join(wrong) or '(none)'}"
        )
    client_id = client_id or generate_client_id()
    secret = client_secret or generate_client_secret()
    user = User.objects.create(username=f"fhir-client-{client_id}", full_name=name[:255])
    user.set_unusable_password()
    user.save(update_fields=["password"])
    for role in dict.fromkeys(roles):
        StaffMembership.objects.create(user=user, facility=facility, role=role)
    staff_groups_sync(user)
    application = get_application_model().objects.create(
        name=name,
        client_id=client_id,
        client_secret=secret,
        client_type="confidential",
        authorization_grant_type="client-credentials",
        user=user,
    )
    client = FhirClient.objects.create(
        application=application, facility=facility, scopes=" ".join(items)
    )
    audit_record(
        actor=actor,
        action="fhir.client.register",
        target=client,
        detail={"facility_id": facility.pk, "scopes": items, "roles": list(roles)},
    )
    return RegisteredClient(client=client, client_id=client_id, client_secret=secret)
