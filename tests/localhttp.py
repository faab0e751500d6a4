"""A local HTTP server on 127.0.0.1 for download tests: Range support, dropped connections, corruption.

Never reaches outside the machine: it binds 127.0.0.1 on a free port and serves bytes held
in memory.
"""

from __future__ import annotations

import contextlib
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Served:
    body: bytes
    content_type: str = "application/octet-stream"
    drop_after: int | None = None  # close the connection after this many body bytes ...
    drop_times: int = 0  # ... on this many requests
    corrupt_times: int = 0  # serve flipped bytes on this many requests
    status: int = 200  # e.g. 404, 503
    requests: list = field(default_factory=list)  # the Range header of each request (or None)


class _Handler(BaseHTTPRequestHandler):
    files: dict[str, Served]

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        served = self.server.files.get(self.path)
        if served is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        served.requests.append(rng)
        if served.status != 200:
            self.send_error(served.status)
            return
        body = served.body
        if served.corrupt_times > 0:
            served.corrupt_times -= 1
            body = bytes(b ^ 0xFF for b in body[:64]) + body[64:]
        start, status = 0, 200
        if rng:
            m = re.match(r"bytes=(\d+)-$", rng)
            start = int(m.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            status = 206
        chunk = body[start:]
        self.send_response(status)
        self.send_header("Content-Type", served.content_type)
        self.send_header("Content-Length", str(len(chunk)))
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.end_headers()
        if served.drop_times > 0 and served.drop_after is not None:
            served.drop_times -= 1
            self.wfile.write(chunk[: served.drop_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(chunk)


@contextlib.contextmanager
def serve(files: dict[str, Served]):
    """Serve ``files`` (URL path -> Served) on 127.0.0.1; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files = files
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """Requests to 127.0.0.1 bypass any proxy of the environment (autouse where imported)."""
    for k in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1")
