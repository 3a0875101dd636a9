"""A local stand-in for market data vendors: an HTTP server on 127.0.0.1 (ephemeral port) that
answers with the vendor's documented JSON payloads, kept as files under
``tests/resources/http_responses/<vendor>/`` (the NautilusTrader habit), so each vendor's real
client library is exercised end to end without the internet.

``server.route(path, file, query={...})`` answers GETs of ``path`` (exact, or a compiled regex)
whose query contains ``query``; the route with the most matching query keys wins, so page 2
of a paginated answer is a route keyed on the page token. ``server.fail_next(n, status, ...)``
answers the next ``n`` requests with an error (429 with Retry-After, 500, a vendor's "HTTP 200
but rate limited" body). Every request is recorded (path, query, headers) so tests can assert
that keys were sent and pagination tokens followed.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

RESPONSES = Path(__file__).resolve().parents[3] / "resources" / "http_responses"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-cased names


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Route:
    path: str | re.Pattern[str]
    query: dict[str, str]
    response: Response

    def matches(self, path: str, query: dict[str, str]) -> bool:
        if isinstance(self.path, re.Pattern):
            if not self.path.fullmatch(path):
                return False
        elif self.path != path:
            return False
        return all(query.get(k) == v for k, v in self.query.items())


class VendorServer:
    """One vendor's local HTTP server. Use through the ``vendor_server`` fixture."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.folder = RESPONSES / vendor
        self.requests: list[RecordedRequest] = []
        self._routes: list[Route] = []
        self._scripted: list[tuple[dict[str, str], Response]] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def load(self, file: str) -> Any:
        """The parsed JSON of one payload file (tests compute expectations from it)."""
        return json.loads((self.folder / file).read_text())

    def route(
        self,
        path: str | re.Pattern[str],
        file: str | None = None,
        *,
        query: dict[str, str] | None = None,
        status: int = 200,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._routes.append(
            Route(path, dict(query or {}), self._response(status, file, body, headers))
        )

    def fail_next(
        self,
        n: int,
        status: int,
        file: str | None = None,
        *,
        body: Any = None,
        retry_after: float | str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``n`` requests (whose query contains ``query``, if given; any path)
        with this response instead of their route's."""
        headers = dict(headers or {})
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        response = self._response(status, file, body, headers)
        with self._lock:
            self._scripted.extend([(dict(query or {}), response)] * n)

    def requests_to(self, path: str | re.Pattern[str]) -> list[RecordedRequest]:
        if isinstance(path, re.Pattern):
            return [r for r in self.requests if path.fullmatch(r.path)]
        return [r for r in self.requests if r.path == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # -- internals ------------------------------------------------------------------------
    def _response(
        self, status: int, file: str | None, body: Any, headers: dict[str, str] | None
    ) -> Response:
        if file is not None:
            raw = (self.folder / file).read_bytes()
        elif isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        elif body is not None:
            raw = json.dumps(body).encode()
        else:
            raw = b""
        return Response(status, raw, {"Content-Type": "application/json", **(headers or {})})

    def _answer(self, method: str, target: str, headers: dict[str, str]) -> Response:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        with self._lock:
            self.requests.append(RecordedRequest(method, parts.path, query, headers))
            for i, (wanted, response) in enumerate(self._scripted):
                if all(query.get(k) == v for k, v in wanted.items()):
                    del self._scripted[i]
                    return response
            candidates = [r for r in self._routes if r.matches(parts.path, query)]
        if not candidates:
            return Response(
                404,
                json.dumps({"test_server": f"no route for {parts.path}"}).encode(),
                {"Content-Type": "application/json"},
            )
        return max(candidates, key=lambda r: len(r.query)).response

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                headers = {k.lower(): v for k, v in self.headers.items()}
                response = server._answer("GET", self.path, headers)
                self.send_response(response.status)
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                self.wfile.write(response.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture(autouse=True)
def _no_ingest_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Source configs read ALPHALOOP_INGEST_* variables; a developer's own keys or settings
    must not change what these tests see (tests that want them set them)."""
    for name in list(os.environ):
        if name.startswith("ALPHALOOP_INGEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def vendor_server() -> Iterator[Any]:
    """``vendor_server("alpaca")`` starts a server for that vendor's payload folder."""
    servers: list[VendorServer] = []

    def start(vendor: str) -> VendorServer:
        server = VendorServer(vendor)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()
