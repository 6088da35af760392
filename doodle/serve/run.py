"""Running the app under uvicorn: bind, say where, serve until stopped."""
from __future__ import annotations

import dataclasses
import socket
from pathlib import Path
from typing import Any, Callable, Collection, Optional

from doodle.plan.options import Options


@dataclasses.dataclass(frozen=True)
class Listening:
    host: str
    port: int

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{self.port}/"


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: a free one), so the port is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def server_for(app: Any, log_level: str = "warning") -> Any:
    """A uvicorn server for ``app``, whose shutdown does not wait on progress streams."""
    import uvicorn

    config = uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=2, lifespan="on")
    return uvicorn.Server(config)


def serve_forever(options: Options, unset: Collection[str], keep: Path, *, host: str = "127.0.0.1",
                  port: int = 8000, ready: Optional[Callable[[Listening], None]] = None) -> None:
    """Serve until Ctrl-C: uvicorn stops, then raises KeyboardInterrupt again, here
    with ``dropped`` set (whether a painting was under way). ``ready`` hears where
    it listens once it serves."""
    from doodle.serve.app import create_app

    sock = bind(host, port)
    listening = Listening(host, sock.getsockname()[1])
    app = create_app(options, unset, keep=keep, host=host,
                     started=None if ready is None else (lambda: ready(listening)))
    try:
        server_for(app).run(sockets=[sock])
    except KeyboardInterrupt as e:
        e.dropped = app.server.painter.dropped  # type: ignore[attr-defined]
        raise
