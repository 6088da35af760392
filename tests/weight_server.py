"""A local HTTP server with Range support, for the download tests."""
from __future__ import annotations

import contextlib
import http.server
import re
import threading
from typing import Iterator

from doodle import weights

class Server:
    """Serves ``files`` on 127.0.0.1 with Range support; logs (path, start, end, bytes sent).

    ``cut_at`` = (start offset, bytes): the next response starting there is cut off
    after that many bytes, once (an interrupted transfer)."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files, self.log, self.cut_at = files, [], None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404)
                    return
                start, end, status = 0, len(data) - 1, 200
                rng = self.headers.get("Range")
                if rng:
                    m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
                    start = int(m.group(1))
                    end = min(int(m.group(2)), len(data) - 1) if m.group(2) else len(data) - 1
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    status = 206
                body = data[start : end + 1]
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
                self.end_headers()
                if server.cut_at is not None and server.cut_at[0] == start:
                    body = body[: server.cut_at[1]]
                    server.cut_at = None
                server.log.append((self.path, start, end, len(body), rng))  # before the client can see the reply
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()



@contextlib.contextmanager
def serving() -> Iterator[Server]:
    s = Server({})
    try:
        yield s
    finally:
        s.close()


def source(server, data: bytes, **kw) -> weights.Source:
    server.files["/w.pkl.bz2"] = data
    base = dict(name="test", url=server.url + "/w.pkl.bz2", filename="vgg19_conv.pkl.bz2", format="lasagne",
                convention="caffe", approx_mb=1, licence="test")
    base.update(kw)
    return weights.Source(**base)
