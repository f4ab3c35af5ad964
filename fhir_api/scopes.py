"""SMART App Launch v2 system scopes: `system/<Type|*>.<cruds>` (v1 `.read`/`.write`/`.*` too)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SCOPE_RE = re.compile(r"^system/(\*|[A-Z][A-Za-z]+)\.(\*|read|write|c?r?u?d?s?)$")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}


@dataclass(frozen=True)
class Scope:
    resource_type: str  # "*" for every type
    letters: frozenset[str]

    def allows(self, resource_type: str, letter: str) -> bool:
        return self.resource_type in ("*", resource_type) and letter in self.letters

    def covers(self, other: Scope) -> bool:
        return self.resource_type in ("*", other.resource_type) and other.letters <= self.letters


def parse_scope(text: str) -> Scope | None:
    """A scope, or None for anything that is not a SMART system scope (ignored)."""
    m = _SCOPE_RE.match(text.strip())
    if not m or not m.group(2):
        return None
    return Scope(m.group(1), frozenset(_V1.get(m.group(2), m.group(2))))


def parse_scopes(text: str | list[str]) -> list[Scope]:
    items = text.split() if isinstance(text, str) else text
    return [s for s in (parse_scope(i) for i in items) if s is not None]


def is_valid_scope(text: str) -> bool:
    return parse_scope(text) is not None


def scopes_allow(scopes: list[Scope], resource_type: str, letter: str) -> bool:
    return any(s.allows(resource_type, letter) for s in scopes)


def scopes_cover(granted: list[Scope], requested: list[Scope]) -> bool:
    """Every requested scope is within one granted scope (a request may narrow, never widen)."""
    return all(any(g.covers(r) for g in granted) for r in requested)
