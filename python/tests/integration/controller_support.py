"""What the controller's integration tests share: a client per subject, error checks, names."""

from __future__ import annotations

import uuid
from typing import Any

import requests

HELLO_JS = "function main() { console.log('Hello World'); return {msg: 'Hello World'}; }"


class Client:
    """A caller of the API with one subject's credentials."""

    def __init__(self, base: str, auth: str) -> None:
        self.base = f"{base}/api/v1"
        user, _, key = auth.partition(":")
        self.session = requests.Session()
        self.session.auth = (user, key)

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, f"{self.base}{path}", timeout=30, **kwargs)


def fresh(prefix: str = "a") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def assert_error(response: requests.Response, status: int, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code"}
    assert body["code"] == response.headers["X-Request-ID"]
    if message is not None:
        assert body["error"] == message


def forbidden(resource: str) -> str:
    """OpenWhisk's 403 message for `resource`."""
    return f"The supplied authentication is not authorized to access '{resource}'."


def ok(response: requests.Response) -> Any:
    """The JSON body of a 200 answer (failing with the body otherwise)."""
    assert response.status_code == 200, response.text
    return response.json()
