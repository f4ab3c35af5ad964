"""Keep what the domain does not model: a generic diff and merge of FHIR JSON.

At a write, `extras_diff(sent, stored)` compares what the partner sent with what the domain now
renders (`stored`, the mapper's output after the service saved) and keeps what would otherwise be
lost: elements the domain does not render, sub-elements of matching repeats (an identifier's
`type`, a name's `use`), and whole repeats it does not render (a second phone, an identifier of
an unknown system). At a read, `extras_apply(rendered, extras)` puts them back.

Repeats are matched by `system` (Identifier, ContactPoint, Coding), else `url` (Extension), else
position, counting occurrences of each key. Where a value differs, the domain wins: it is the
normalised form of what was sent (a phone "+84 905..." stored as "0905..."), or a later change
made on the web pages. `id` and `meta` belong to the server and are never kept.
"""

from __future__ import annotations

import copy
from typing import Any

SERVER_OWNED = ("id", "meta", "resourceType")
_MATCHED = "__matched__"
_APPENDED = "__appended__"


def _key(item: Any) -> str:
    if isinstance(item, dict):
        for name in ("system", "url"):
            value = item.get(name)
            if isinstance(value, str):
                return f"{name}:{value}"
    return ""


def _keyed(items: list) -> list[tuple[str, int]]:
    seen: dict[str, int] = {}
    keys = []
    for item in items:
        k = _key(item)
        keys.append((k, seen.get(k, 0)))
        seen[k] = seen.get(k, 0) + 1
    return keys


def _diff(sent: Any, stored: Any) -> Any:
    """What of `sent` is missing from `stored` (None when nothing is)."""
    if isinstance(sent, dict) and isinstance(stored, dict):
        out = {}
        for name, value in sent.items():
            if name not in stored:
                out[name] = copy.deepcopy(value)
            else:
                sub = _diff(value, stored[name])
                if sub is not None:
                    out[name] = sub
        return out or None
    if isinstance(sent, list) and isinstance(stored, list):
        if not any(isinstance(i, dict) for i in sent):
            return None  # a list of primitives: the domain's value stands
        stored_at = dict(zip(_keyed(stored), stored, strict=True))
        matched, appended = [], []
        for key, item in zip(_keyed(sent), sent, strict=True):
            if key in stored_at:
                sub = _diff(item, stored_at[key])
                if sub is not None:
                    matched.append([key[0], key[1], sub])
            else:
                appended.append(copy.deepcopy(item))
        if not matched and not appended:
            return None
        return {_MATCHED: matched, _APPENDED: appended}
    return None  # a primitive, or a change of type: the domain's value stands


def extras_diff(sent: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """The elements of `sent` (a resource as the partner wrote it) that `stored` lacks."""
    sent = {k: v for k, v in sent.items() if k not in SERVER_OWNED}
    return _diff(sent, stored) or {}


def _apply(target: Any, extra: Any) -> Any:
    if isinstance(extra, dict) and _MATCHED in extra:
        items = list(target) if isinstance(target, list) else []
        position = dict(zip(_keyed(items), range(len(items)), strict=True))
        for key, occurrence, sub in extra[_MATCHED]:
            index = position.get((key, occurrence))
            if index is not None:  # a repeat the domain no longer renders takes its details along
                items[index] = _apply(items[index], sub)
        for item in extra[_APPENDED]:
            if item not in items:
                items.append(copy.deepcopy(item))
        return items
    if isinstance(extra, dict) and isinstance(target, dict):
        out = dict(target)
        for name, value in extra.items():
            if name in out:
                out[name] = _apply(out[name], value)
            elif isinstance(value, dict) and _MATCHED in value:
                merged = _apply([], value)
                if merged:
                    out[name] = merged
            else:
                out[name] = copy.deepcopy(value)
        return out
    return target


def extras_apply(rendered: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    """`rendered` (the mapper's output) with the kept elements merged back."""
    if not extras:
        return rendered
    return _apply(rendered, extras)
