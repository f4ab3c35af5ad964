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
from fhir_api.ratelimit import rate_limit_check

SOFTWARE_VERSION = "0.1"


def query_items(query) -> list[tuple[str, str]]:
    """Every (name, value) of a QueryDict, a repeated parameter once per value (AND)."""
    return [(name, value) for name, values in query.lists() for value in values]


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
        if principal is not None:
            rate_limit_check(principal)  # 429 + Retry-After over the caller's limit
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
    if not getattr(error, "audit", True):  # e.g. a throttled flood: its first refusal only
        return
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
def base_endpoint(request):
    """`POST [base]`: a batch or transaction Bundle (fhir_api.bundles)."""
    if request.method != "POST":
        return _serve(
            request, None, None, _raise(MethodNotAllowed("POST a batch or transaction Bundle."))
        )
    from fhir_api.bundles import bundle_process

    return _serve(request, "transaction", None, lambda call, _r: bundle_process(call))


def _operation_handler(resource_type: str, resource_id: str, operation: str, method: str):
    """The handler of `[type]/$op` or `[type]/[id]/$op` (fhir_api.operations)."""
    from fhir_api import operations

    def handler(call, _r):
        resource = _resource(resource_type)
        names = {o.name for o in resource.operations}
        if operation not in names:
            raise NotFound(
                f"${operation} is not an operation of {resource_type} here.",
                expression=f"${operation}",
            )
        if operation == "everything" and resource_id:
            if method not in ("GET", "HEAD"):
                raise MethodNotAllowed("Use GET for $everything.", headers={"Allow": "GET"})
            return operations.everything(call, resource_id, query_items(call.request.GET))
        if operation == "validate":
            if method != "POST":
                raise MethodNotAllowed("POST the resource to $validate.", headers={"Allow": "POST"})
            return operations.validate_resource(call, resource_type, resource_id)
        raise NotFound(f"${operation} is not served at this level.", expression=f"${operation}")

    return handler


@csrf_exempt
def type_operation(request, resource_type: str, operation: str):
    return _serve(
        request, "operation", None, _operation_handler(resource_type, "", operation, request.method)
    )


@csrf_exempt
def instance_operation(request, resource_type: str, resource_id: str, operation: str):
    return _serve(
        request,
        "operation",
        None,
        _operation_handler(resource_type, resource_id, operation, request.method),
        resource_id=resource_id,
    )


@csrf_exempt
def type_endpoint(request, resource_type: str):
    if request.method in ("GET", "HEAD"):
        return _serve(
            request,
            "search-type",
            resource_type,
            lambda call, r: r.provider.search_type(call, query_items(request.GET)),
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
        return r.provider.search_type(call, [*query_items(request.GET), *query_items(request.POST)])

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
    if request.method == "DELETE":
        return _serve(
            request,
            "delete",
            resource_type,
            lambda call, r: r.provider.delete(call, resource_id),
            resource_id=resource_id,
        )
    interaction = {"PATCH": "patch"}.get(request.method, "patch")
    return _serve(
        request,
        interaction,
        resource_type,
        _raise(MethodNotAllowed(f"{request.method} is not supported.")),
        resource_id=resource_id,
    )


@csrf_exempt
def instance_history_endpoint(request, resource_type: str, resource_id: str):
    """`GET [type]/[id]/_history`: every version of one resource, newest first."""
    if request.method not in ("GET", "HEAD"):
        return _serve(request, None, None, _raise(MethodNotAllowed("History is read with GET.")))
    return _serve(
        request,
        "history-instance",
        resource_type,
        lambda call, r: r.provider.history_instance(call, resource_id),
        resource_id=resource_id,
    )


@csrf_exempt
def type_history_endpoint(request, resource_type: str):
    """`GET [type]/_history`: the versions of every resource of a type, newest first."""
    if request.method not in ("GET", "HEAD"):
        return _serve(request, None, None, _raise(MethodNotAllowed("History is read with GET.")))
    return _serve(
        request, "history-type", resource_type, lambda call, r: r.provider.history_type(call)
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


__all__ = [
    "base_endpoint",
    "instance_endpoint",
    "instance_operation",
    "instance_history_endpoint",
    "metadata",
    "search_endpoint",
    "type_endpoint",
    "type_operation",
    "type_history_endpoint",
    "version_endpoint",
]
