"""The FHIR endpoints: one wrapper authenticates, routes to the registry's provider and turns every
error into an OperationOutcome (`fhir_api.outcomes`); handlers stay a few lines each."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from ehealth.core import context
from ehealth.core.audit import audit_record
from fhir_api import registry
from fhir_api.auth import Principal, authenticate, client_context
from fhir_api.capability import capability_statement
from fhir_api.http import Call, FhirResult, check_format, json_response, parse_prefer
from fhir_api.outcomes import (
    FhirError,
    MethodNotAllowed,
    NotFound,
    operation_outcome,
    outcome_for_exception,
)

SOFTWARE_VERSION = "0.1"


def _base_url(request) -> str:
    return request.build_absolute_uri(reverse("fhir:metadata")).removesuffix("metadata")


def _resource(resource_type: str) -> registry.ResourceDef:
    resource = registry.get(resource_type)
    if resource is None:
        raise NotFound(f"Resource type '{resource_type}' is not served.", expression=resource_type)
    return resource


def _serve(
    request,
    interaction: str | None,
    resource_type: str | None,
    handler: Callable[[Call, registry.ResourceDef | None], FhirResult],
    *,
    resource_id: str = "",
):
    """Authenticate, check the scope, run the handler; any error becomes an OperationOutcome."""
    principal: Principal | None = None
    token = None
    resource = None
    try:
        check_format(request)
        if resource_type is not None:
            resource = _resource(resource_type)
            if interaction not in resource.interactions:
                raise MethodNotAllowed(
                    f"{interaction} is not supported on {resource_type}.",
                    headers={"Allow": _allowed(resource, resource_id)},
                )
        principal = authenticate(request) if interaction is not None else None
        if principal is not None and principal.kind == "client":
            token = context.set_current(client_context(request, principal))
        if principal is not None and resource_type is not None:
            principal.require(resource_type, interaction)
        call = Call(
            request=request,
            principal=principal,
            base_url=_base_url(request),
            prefer=parse_prefer(request.META.get("HTTP_PREFER", "")),
        )
        result = handler(call, resource)
        return json_response(result.status, result.body, result.headers)
    except Exception as exc:  # noqa: BLE001 - every error is answered as an OperationOutcome
        paths = getattr(getattr(resource, "provider", None), "field_paths", None)
        error = outcome_for_exception(exc, field_paths=paths)
        _audit_error(principal, error, interaction, resource_type, resource_id)
        return json_response(error.status, operation_outcome(error.issues), error.headers)
    finally:
        if token is not None:
            context.reset(token)


def _allowed(resource: registry.ResourceDef, resource_id: str) -> str:
    if resource_id:
        methods = {"read": "GET", "update": "PUT", "delete": "DELETE"}
    else:
        methods = {"search-type": "GET", "create": "POST"}
    return ", ".join(sorted({m for i, m in methods.items() if i in resource.interactions}))


def _audit_error(principal, error: FhirError, interaction, resource_type, resource_id) -> None:
    """Refused and failed accesses are audited too (ids only), outside the failed transaction."""
    if error.status == 401 or interaction is None:
        actor = None
    else:
        actor = principal.user if principal is not None else None
    audit_record(
        actor=actor,
        action="fhir.refused" if error.status < 500 else "fhir.error",
        detail={
            "status": error.status,
            "interaction": interaction or "",
            "type": resource_type or "",
            "id": resource_id[:64],
            **(principal.audit_detail if principal is not None else {}),
        },
    )


@csrf_exempt
def metadata(request):
    if request.method not in ("GET", "HEAD"):
        return _serve(request, None, None, _raise(MethodNotAllowed("Use GET /metadata.")))

    def handler(call, _resource):
        token_url = request.build_absolute_uri(reverse("oauth2_provider:token"))
        body = capability_statement(
            base_url=call.base_url, token_url=token_url, software_version=SOFTWARE_VERSION
        )
        return FhirResult(200, body)

    return _serve(request, None, None, handler)


def _raise(error: FhirError):
    def handler(call, resource):
        raise error

    return handler


@csrf_exempt
def type_endpoint(request, resource_type: str):
    if request.method in ("GET", "HEAD"):
        return _serve(
            request,
            "search-type",
            resource_type,
            lambda call, r: r.provider.search_type(call, list(request.GET.items())),
        )
    if request.method == "POST":
        return _serve(request, "create", resource_type, lambda call, r: r.provider.create(call))
    return _serve(
        request,
        "delete" if request.method == "DELETE" else "patch",
        resource_type,
        _raise(MethodNotAllowed(f"{request.method} is not supported here.")),
    )


@csrf_exempt
def search_endpoint(request, resource_type: str):
    if request.method != "POST":
        return _serve(request, None, None, _raise(MethodNotAllowed("Use POST for _search.")))
    ctype = request.META.get("CONTENT_TYPE", "").split(";")[0].strip()

    def handler(call, r):
        if ctype != "application/x-www-form-urlencoded":
            raise FhirError(
                "POST _search takes application/x-www-form-urlencoded.",
                status=415,
                code="not-supported",
            )
        return r.provider.search_type(call, [*request.GET.items(), *request.POST.items()])

    return _serve(request, "search-type", resource_type, handler)


@csrf_exempt
def instance_endpoint(request, resource_type: str, resource_id: str):
    if request.method in ("GET", "HEAD"):
        return _serve(
            request,
            "read",
            resource_type,
            lambda call, r: r.provider.read(call, resource_id),
            resource_id=resource_id,
        )
    if request.method == "PUT":
        return _serve(
            request,
            "update",
            resource_type,
            lambda call, r: r.provider.update(call, resource_id),
            resource_id=resource_id,
        )
    interaction = {"DELETE": "delete", "PATCH": "patch"}.get(request.method, "patch")
    return _serve(
        request,
        interaction,
        resource_type,
        _raise(MethodNotAllowed(f"{request.method} is not supported.")),
        resource_id=resource_id,
    )


@csrf_exempt
def version_endpoint(request, resource_type: str, resource_id: str, version_id: str):
    if request.method not in ("GET", "HEAD"):
        return _serve(
            request,
            None,
            None,
            _raise(MethodNotAllowed("A version is read-only.")),
            resource_id=resource_id,
        )
    return _serve(
        request,
        "vread",
        resource_type,
        lambda call, r: r.provider.vread(call, resource_id, version_id),
        resource_id=resource_id,
    )


__all__ = ["instance_endpoint", "metadata", "search_endpoint", "type_endpoint", "version_endpoint"]
