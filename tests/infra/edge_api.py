"""The platform's REST API as the guest reaches it through the edge from this machine: the
API host and key of the .wskprops the deployment's script wrote. TLS is not verified here (as
`wsk -i`): test_edge.py checks the edge's certificate and protocols."""

from __future__ import annotations

import base64
import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class EdgeApi:
    """`call` makes one request under /api/v1 as the guest and returns its status and JSON."""

    host: str
    auth: tuple[str, str]
    timeout_s: float = 90.0

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        token = base64.b64encode(":".join(self.auth).encode()).decode()
        request = urllib.request.Request(  # noqa: S310 (the deployment's own https API host)
            f"{self.host}/api/v1{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Basic {token}", "Content-Type": "application/json"},
        )
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s, context=context) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
