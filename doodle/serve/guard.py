"""Who may drive the server: the Host and Origin checks, as ASGI middleware.

A page on another site can make the browser send requests to 127.0.0.1 (a form's
POST), and a name it controls can be pointed at 127.0.0.1 once the page has loaded
(DNS rebinding): then its scripts read our answers as its own. So every request's
``Host`` must be a name of this server (loopback names, or for another ``--host``
that address and the machine's names), and a request that carries an ``Origin`` (all
cross-site ones do) must come from the page this server served.
"""
from __future__ import annotations

import json
import socket
from typing import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def allowed_hosts(host: str) -> set[str]:
    """The host names (no port) a request may name for a server bound to ``host``."""
    names = {*LOOPBACK, host.lower()}
    if host not in LOOPBACK:
        try:
            names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
            names |= set(socket.gethostbyname_ex(socket.gethostname())[2])
        except OSError:  # no resolver: the address and the loopback names still work
            pass
    return names


def host_name(value: str) -> str:
    """"127.0.0.1:8000" -> "127.0.0.1", "[::1]:80" -> "::1", "Example.COM" -> "example.com"."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def is_ip(name: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, name)
            return True
        except OSError:
            continue
    return False


class Guard:
    """Refuses (403, one JSON line) a request with a foreign Host, or an Origin that is
    not this server's own page. ``any_address``: bound to all interfaces, where any
    IP address is a name of the server (a rebinding attack needs a domain name)."""

    def __init__(self, app: Callable, hosts: Iterable[str], any_address: bool = False) -> None:
        self.app = app
        self.hosts = set(hosts)
        self.any_address = any_address

    def _host_ok(self, host: str) -> bool:
        name = host_name(host)
        return name in self.hosts or (self.any_address and is_ip(name))

    async def __call__(self, scope: dict, receive: Callable, send: Callable[[dict], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if not self._host_ok(host):
            await _refuse(send, f"this server does not answer to the name {host[:80]!r}.",
                          "Open it at the address it printed, e.g. http://127.0.0.1:8000/.")
            return
        origin = headers.get("origin")
        if origin is not None:
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or parts.netloc.lower() != host.lower():
                await _refuse(send, f"requests from another site ({origin[:80]}) are refused.",
                              "Use the page this server serves.")
                return
        await self.app(scope, receive, send)


async def _refuse(send: Callable[[dict], Awaitable[None]], error: str, hint: str) -> None:
    body = json.dumps({"error": error, "hint": hint}).encode()
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
