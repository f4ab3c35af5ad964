"""Who is acting, from where: set once per request (or task), read by the audit trail."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass


@dataclass(frozen=True)
class ActorContext:
    ip_address: str | None = None
    user_agent: str = ""
    channel: str = "web"
    facility_id: int | None = None
    role: str = ""


_DEFAULT = ActorContext(channel="cli")
_current: contextvars.ContextVar[ActorContext | None] = contextvars.ContextVar(
    "ehealth_actor_context", default=None
)


def current() -> ActorContext:
    return _current.get() or _DEFAULT


def set_current(ctx: ActorContext) -> contextvars.Token:
    return _current.set(ctx)


def reset(token: contextvars.Token) -> None:
    _current.reset(token)
