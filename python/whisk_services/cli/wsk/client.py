"""A small HTTP client for the OpenWhisk REST API: JSON in and out, Basic auth, typed errors."""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import sys
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

USER_AGENT = "OpenWhisk-CLI/1.0 (whisk_services)"


class WhiskError(Exception):
    """A failure the CLI reports; `exit_code` is what the process exits with."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class WhiskHttpError(WhiskError):
    """A non-2xx answer. `error` and `code` come from the server's error body, if any.

    As in the Go client, the exit code is the HTTP status minus 256 (404 → 148).
    """

    def __init__(self, status: int, error: str, code: str | None, body: Any) -> None:
        message = f"{error} (code {code})" if code else error
        super().__init__(message, exit_code=status - 256 if status >= 256 else 1)
        self.status = status
        self.error = error
        self.code = code
        self.body = body


class WhiskNetworkError(WhiskError):
    """The server could not be reached (exit code 3, as the Go client)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, exit_code=3)


def quote_path(*segments: str) -> str:
    """Join path segments with '/', percent-encoding each (a segment may hold `pkg/name`)."""
    parts: list[str] = []
    for segment in segments:
        parts.extend(quote(piece, safe="@&") for piece in segment.split("/") if piece)
    return "/" + "/".join(parts)


def _error_fields(status: int, reason: str, body: Any) -> tuple[str, str | None]:
    if isinstance(body, dict) and "error" in body:
        error = body["error"]
        code = body.get("code")
        text = error if isinstance(error, str) else json.dumps(error)
        return text, None if code is None else str(code)
    if isinstance(body, str) and body.strip():
        return body.strip(), None
    return f"The server answered {status} {reason}".strip(), None


class WhiskClient:
    """One job: send a request to `{base_url}{path}` and decode the JSON answer."""

    def __init__(
        self,
        base_url: str,
        auth: str | None,
        *,
        insecure: bool = False,
        debug: bool = False,
        timeout: float = 90.0,
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise WhiskError(f"The API host '{base_url}' is invalid")
        self.scheme = url.scheme
        self.host = url.hostname
        self.port = url.port
        self.base_path = url.path.rstrip("/")
        self.auth = auth
        self.insecure = insecure
        self.debug = debug
        self.timeout = timeout

    def _connection(self) -> http.client.HTTPConnection:
        if self.scheme == "http":
            return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        context = ssl.create_default_context()
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return http.client.HTTPSConnection(
            self.host, self.port, timeout=self.timeout, context=context
        )

    def _headers(self, has_body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if has_body:
            headers["Content-Type"] = "application/json"
        if self.auth:
            token = base64.b64encode(self.auth.encode("utf-8")).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, Any]:
        """Return (status, decoded JSON or None); raise WhiskHttpError for non-2xx."""
        target = self.base_path + path
        if query:
            target += "?" + urlencode(query)
        payload = None if body is None else json.dumps(body).encode("utf-8")
        self._debug(f"Req {method} {target}", payload)
        conn = self._connection()
        try:
            conn.request(method, target, body=payload, headers=self._headers(payload is not None))
            resp = conn.getresponse()
            raw = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            raise WhiskNetworkError(
                f"Unable to connect to {self.scheme}://{self.host}: {exc}"
            ) from exc
        finally:
            conn.close()
        self._debug(f"Resp {resp.status} {resp.reason}", raw)
        decoded = self._decode(raw)
        if not 200 <= resp.status <= 299:
            error, code = _error_fields(resp.status, resp.reason, decoded)
            raise WhiskHttpError(resp.status, error, code, decoded)
        return resp.status, decoded

    @staticmethod
    def _decode(raw: bytes) -> Any:
        if not raw:
            return None
        text = raw.decode("utf-8", errors="replace")
        try:
            return json.loads(text)
        except ValueError:
            return text

    def _debug(self, line: str, payload: bytes | None) -> None:
        if not self.debug:
            return
        sys.stderr.write(line + "\n")
        if payload:
            sys.stderr.write(payload.decode("utf-8", errors="replace") + "\n")
