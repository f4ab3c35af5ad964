"""What the server implements: resource types, their interactions, search parameters, operations.

The CapabilityStatement (`/metadata`) and the router are generated from this registry, so the
server never claims what it does not do: an interaction is listed only if its provider implements
it, and a search parameter only if the resource's search table answers it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Interaction -> SMART v2 scope letter that grants it.
INTERACTION_SCOPE = {
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "history-type": "s",  # SMART v2: `s` grants type-level search and type-level history
    "search-type": "s",
    "create": "c",
    "update": "u",
    "patch": "u",
    "delete": "d",
}
READ_INTERACTIONS = frozenset({"read", "vread", "history-instance", "history-type", "search-type"})


@dataclass(frozen=True)
class SearchParam:
    """A search parameter of a resource: FHIR type (token, string, date, ...) and documentation."""

    name: str
    type: str
    documentation: str = ""
    definition: str = ""
    modifiers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Operation:
    name: str
    definition: str
    scope_letter: str = "r"


VALIDATE = Operation(
    "validate", "http://hl7.org/fhir/OperationDefinition/Resource-validate", scope_letter="c"
)
EVERYTHING = Operation(
    "everything", "http://hl7.org/fhir/OperationDefinition/Patient-everything", scope_letter="r"
)


@dataclass
class ResourceDef:
    """A resource type the server serves, with the provider that implements its interactions."""

    type: str
    provider: object
    interactions: tuple[str, ...]
    search_params: dict[str, SearchParam] = field(default_factory=dict)
    operations: tuple[Operation, ...] = ()
    conditional_create: bool = False
    profile: str = ""
    # The search's shared features (fhir_api.search.refine.SearchSpec): `_lastUpdated` is
    # declared in the CapabilityStatement only where the spec answers it.
    spec: object | None = None


# Result parameters understood for every type (not resource search parameters).
CONTROL_PARAMS = frozenset(
    {
        "_count",
        "_summary",
        "_format",
        "_cursor",
        "_pretty",
        "_include",
        "_revinclude",
        "_elements",
        "_sort",
        "_total",
    }
)
COMMON_PARAMS = {
    "_id": SearchParam("_id", "token", "Logical id of the resource."),
    "_lastUpdated": SearchParam(
        "_lastUpdated",
        "date",
        "When the resource last changed (meta.lastUpdated); prefixes eq ne lt gt le ge sa eb; "
        "days are UTC.",
        "http://hl7.org/fhir/SearchParameter/Resource-lastUpdated",
    ),
}

_REGISTRY: dict[str, ResourceDef] = {}
_LOADED = False


def register(resource: ResourceDef) -> ResourceDef:
    for interaction in resource.interactions:
        method = interaction.replace("-", "_")
        if interaction not in INTERACTION_SCOPE or not callable(
            getattr(resource.provider, method, None)
        ):
            raise ValueError(f"{resource.type}: provider does not implement {interaction}")
    # $validate (fhir_api/operations.py) is a trial create/update: every writable type has it.
    if {"create", "update"} & set(resource.interactions) and VALIDATE not in resource.operations:
        resource.operations = (*resource.operations, VALIDATE)
    _REGISTRY[resource.type] = resource
    return resource


def get(resource_type: str) -> ResourceDef | None:
    _load()
    return _REGISTRY.get(resource_type)


def all_resources() -> list[ResourceDef]:
    _load()
    return sorted(_REGISTRY.values(), key=lambda r: r.type)


def _load() -> None:
    # A flag, not `if not _REGISTRY`: importing one provider module directly (a test, a task)
    # registers that type alone and must not stop the others from loading.
    global _LOADED
    if not _LOADED:
        import importlib
        import pkgutil

        import fhir_api.providers as providers

        # Each provider module registers itself on import; `base` and modules whose name starts
        # with an underscore hold shared pieces only.
        for module in pkgutil.iter_modules(providers.__path__):
            if module.name != "base" and not module.name.startswith("_"):
                importlib.import_module(f"fhir_api.providers.{module.name}")
        _LOADED = True
