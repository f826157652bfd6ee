"""A stub OpenWhisk API on 127.0.0.1 that records requests and answers canned JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

AUTH = "23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU"
NOT_FOUND = {"error": "The requested resource does not exist.", "code": "notfound1"}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class Stub:
    """Routes: (METHOD, path) → (status, JSON body or None); every request is recorded."""

    url: str
    routes: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)

    def on(self, method: str, path: str, status: int, body: Any) -> None:
        self.routes[(method, path)] = (status, body)

    @property
    def last(self) -> Recorded:
        return self.requests[-1]


def _handler(stub: Stub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            stub.requests.append(
                Recorded(
                    method=self.command,
                    path=url.path,
                    query={k: v[-1] for k, v in parse_qs(url.query).items()},
                    body=json.loads(raw) if raw else None,
                    headers={k.lower(): v for k, v in self.headers.items()},
                )
            )
            status, body = stub.routes.get((self.command, url.path), (404, NOT_FOUND))
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = _answer  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stub]:
    """The stub server, and a properties file pointing at it (namespace left unset)."""
    the_stub = Stub(url="")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(the_stub))
    the_stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    props = tmp_path / "wskprops"
    props.write_text(f"APIHOST={the_stub.url}\nAUTH={AUTH}\n")
    monkeypatch.setenv("WSK_CONFIG_FILE", str(props))
    monkeypatch.chdir(tmp_path)
    try:
        yield the_stub
    finally:
        server.shutdown()
        server.server_close()
