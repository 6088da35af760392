"""A real ``doodle serve`` app under uvicorn on a free loopback port, in a thread,
and a small HTTP client for it (http.client: any Host or Origin header can be sent)."""
from __future__ import annotations

import base64
import contextlib
import http.client
import json
import threading
import time
from pathlib import Path
from typing import Any, Iterator, Optional

import imageio.v3 as iio
import numpy as np


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(self, method: str, path: str, body: Any = None, headers: Optional[dict] = None,
                raw: Optional[bytes] = None) -> tuple[int, bytes, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"content-type": "application/json"} if data is not None else {}
        all_headers.update(headers or {})
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        return response.status, payload, dict(response.getheaders())

    def json(self, method: str, path: str, body: Any = None, **kw) -> tuple[int, Any]:
        status, payload, _ = self.request(method, path, body, **kw)
        return status, json.loads(payload)

    def events(self, path: str, timeout: float = 120) -> list[dict]:
        """Every server-sent event of a job's stream, to its end."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200, response.read()
        events = []
        while True:
            line = response.fp.readline()
            if not line:
                break
            if line.startswith(b"data:"):
                events.append(json.loads(line[5:]))
        conn.close()
        return events


def png_b64(image: np.ndarray) -> str:
    return "data:image/png;base64," + base64.b64encode(iio.imwrite("<bytes>", image, extension=".png")).decode()


@contextlib.contextmanager
def running(options: Any, keep: Path, unset: Any = None, **kw) -> Iterator[tuple[Client, Any]]:
    """(a client, the app's Server) while a uvicorn server runs the app."""
    from doodle.cli import runtime
    from doodle.serve.app import create_app
    from doodle.serve.run import bind, server_for

    runtime.enable_compile_cache()  # in the tests' private cache: later modules compile less
    app = create_app(options, unset, keep=keep, **kw)
    sock = bind("127.0.0.1", 0)
    server = server_for(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield Client(sock.getsockname()[1]), app.server
    finally:
        server.should_exit = True
        thread.join(10)
