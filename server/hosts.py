"""Which Host names the server answers to, and what ``serve`` warns about its exposure.

DNS rebinding: a page on any site can point a name it controls at 127.0.0.1 and then drive
the local server from the browser, same-origin under that name. The browser still sends
that name as ``Host``, so only names we know are ours are served: localhost, 127.0.0.1 and
[::1] (any port), plus the names listed in ``READINGROOM_ALLOWED_HOSTS``. Any other Host
answers 400 in the one error shape, before the app sees the request.
"""

from __future__ import annotations

import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from server.config import Settings
from server.limits import send_error

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]"})


def normalise_host_name(value: str) -> str:
    """The name of a Host header value or a configured name: lower case, no port or dot."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    if value.count(":") > 1:  # a bare IPv6 address in a setting
        return f"[{value}]"
    name, _, port = value.rpartition(":")
    if name and port.isdigit():
        value = name
    return value.rstrip(".")


def host_name(scope: Scope) -> str:
    """The request's Host name, normalised (the last Host header, if it came more than once)."""
    raw = dict(scope.get("headers", [])).get(b"host", b"")
    return normalise_host_name(raw.decode("latin-1"))


def allowed_hosts(settings: Settings) -> frozenset[str]:
    return LOOPBACK_NAMES | {normalise_host_name(n) for n in settings.allowed_host_names()}


class HostAllowList:
    """Serve only requests whose Host is one of ``allowed``; others get 400."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = host_name(scope)
        if host in self.allowed:
            await self.app(scope, receive, send)
            return
        shown = host[:100] or "(none)"
        message = (
            f"this server does not answer to the Host '{shown}'; "
            "list the name in READINGROOM_ALLOWED_HOSTS to serve it"
        )
        await send_error(send, 400, "bad_host", message)


def is_loopback_bind(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_warnings(settings: Settings) -> list[str]:
    """What ``serve`` says at start about who can reach it and how."""
    if is_loopback_bind(settings.host):
        return []
    if settings.mode == "local":
        return [
            f"local mode has no login; serving on {settings.host} lets anyone who can reach "
            "this machine read and write as the local learner"
        ]
    warnings = []
    if not settings.behind_https_proxy:
        warnings.append(
            f"team mode on {settings.host} without https: bearer tokens and notes cross the "
            "network in clear; serve behind a TLS-terminating proxy and set "
            "READINGROOM_BEHIND_HTTPS_PROXY=true"
        )
    if not settings.allowed_host_names():
        warnings.append(
            "READINGROOM_ALLOWED_HOSTS is empty: only requests for localhost, 127.0.0.1 and "
            "[::1] are served; list the names people use to reach this server"
        )
    return warnings
