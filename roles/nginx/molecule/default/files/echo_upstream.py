"""A stand-in controller for the nginx role's molecule scenario.

Answers every GET and POST with a JSON document describing the request it received (method,
path, headers, body length), so the tests see what nginx forwarded. Usage:
`python3 echo_upstream.py ADDRESS PORT`.
"""

from __future__ import annotations

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class EchoHandler(BaseHTTPRequestHandler):
    """Echoes the request back as JSON, over keep-alive HTTP/1.1, in one write."""

    protocol_version = "HTTP/1.1"

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        received = len(self.rfile.read(length)) if length else 0
        body = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body_bytes": received,
            }
        ).encode()
        head = (
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.wfile.write(head + body)

    def do_GET(self) -> None:
        """Answer a GET."""
        self._echo()

    def do_POST(self) -> None:
        """Answer a POST."""
        self._echo()


if __name__ == "__main__":
    ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), EchoHandler).serve_forever()
