"""The Python 3.11 action proxy: OpenWhisk's action protocol on port 8080, standard library only.

    POST /init  {"value": {"name", "main", "code", "binary", "env"}}
        Loads the action once: `code` is Python source, or (when `binary`) a base64 zip
        holding `__main__.py` (and optionally a `virtualenv/` whose site-packages are added).
        `env` is exported into the environment before the code runs. 200 {"ok": true};
        a second successful /init is refused (403); code that cannot be loaded is 502.
    POST /run   {"value": {...}, "namespace", "action_name", "activation_id", ...}
        Exports every key but `value` as __OW_<KEY> for this run only, calls
        main(value) and answers 200 with the dict or list it returns; any other result, or
        an exception, is 502 {"error": ...}. Before a successful /init it is 502.

After every /run (and after a failed /init) the sentinel line below goes to stdout and to
stderr, flushed, before the response is sent: the invoker reads an activation's logs up to it.

Responses leave in one write on a TCP_NODELAY socket (DESIGN.md §3, the latency trap).
Activations run one at a time (a lock), as OpenWhisk's default concurrency of 1 expects;
connections are served by threads so that an idle keep-alive connection blocks no other.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import os
import site
import sys
import tempfile
import threading
import traceback
import zipfile
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
PORT = 8080
MAX_BODY = 64 * 1024 * 1024  # OpenWhisk's action code limit is 48 MB, base64 makes it larger

Json = Any
Action = Callable[[dict[str, Json]], Json]


class ProxyError(Exception):
    """An error the proxy answers with ``{"error": message}`` and ``status``."""

    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def write_sentinels() -> None:
    for stream in (sys.stdout, sys.stderr):
        stream.write(SENTINEL + "\n")
        stream.flush()


def _zip_root(payload: str) -> Path:
    """Unpack a base64 zip into a new directory and return it."""
    try:
        data = base64.b64decode(payload, validate=False)
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (binascii.Error, ValueError, zipfile.BadZipFile) as error:
        raise ProxyError(HTTPStatus.BAD_GATEWAY, f"Invalid zip file: {error}") from error
    root = Path(tempfile.mkdtemp(prefix="action-"))
    with archive:
        archive.extractall(root)  # zipfile strips absolute paths and '..' components
    return root


def _load(value: dict[str, Json]) -> Action:
    """Run the action's code and return its main function."""
    main_name = value.get("main") or "main"
    code = value.get("code")
    if not isinstance(main_name, str) or not isinstance(code, str):
        raise ProxyError(HTTPStatus.BAD_GATEWAY, "Missing main/no code to execute.")
    if value.get("binary"):
        root = _zip_root(code)
        entry = root / "__main__.py"
        if not entry.is_file():
            raise ProxyError(HTTPStatus.BAD_GATEWAY, "Zip file does not include __main__.py")
        for packages in sorted(root.glob("virtualenv/lib/python3*/site-packages")):
            site.addsitedir(str(packages))
        sys.path.insert(0, str(root))
        os.chdir(root)
        source = entry.read_text(encoding="utf-8")
        filename = str(entry)
    else:
        source = code
        filename = str(Path.cwd() / "__action__.py")
        try:  # on disk, tracebacks show the action's lines
            Path(filename).write_text(source, encoding="utf-8")
        except OSError:
            filename = "<action>"
    namespace: dict[str, Any] = {"__name__": "__action__", "__file__": filename}
    try:
        exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - running it is the job
    except BaseException as error:  # a SystemExit from the action's top level is a failure too
        traceback.print_exc()
        raise ProxyError(
            HTTPStatus.BAD_GATEWAY, f"Initialization has failed due to: {_describe(error)}"
        ) from error
    function = namespace.get(main_name)
    if not callable(function):
        raise ProxyError(
            HTTPStatus.BAD_GATEWAY, f"The action does not define a function named '{main_name}'."
        )
    action: Action = function
    return action


def _describe(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _export(env: dict[str, Json]) -> None:
    for key, item in env.items():
        os.environ[str(key)] = item if isinstance(item, str) else json.dumps(item)


class Runner:
    """The one action this container runs, and the per-run environment."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.action: Action | None = None
        self.run_env: set[str] = set()

    def init(self, message: Json) -> Json:
        if self.action is not None:
            raise ProxyError(HTTPStatus.FORBIDDEN, "Cannot initialize the action more than once.")
        value = message.get("value") if isinstance(message, dict) else None
        if not isinstance(value, dict):
            raise ProxyError(HTTPStatus.BAD_GATEWAY, "Missing main/no code to execute.")
        env = value.get("env")
        if isinstance(env, dict):
            _export(env)
        self.action = _load(value)
        return {"ok": True}

    def run(self, message: Json) -> Json:
        if self.action is None:
            raise ProxyError(HTTPStatus.BAD_GATEWAY, "Cannot invoke an uninitialized action.")
        if not isinstance(message, dict):
            raise ProxyError(HTTPStatus.BAD_REQUEST, "The request body is not a JSON object.")
        args = message.get("value", {})
        if not isinstance(args, dict):
            raise ProxyError(
                HTTPStatus.BAD_REQUEST, "The action did not receive a dictionary as an argument."
            )
        self._set_run_env(message)
        try:
            result = self.action(args)
        except BaseException as error:  # whatever the action raises is its error
            traceback.print_exc()
            raise ProxyError(
                HTTPStatus.BAD_GATEWAY, f"An exception was raised: {_describe(error)}"
            ) from error
        if not isinstance(result, dict | list):
            raise ProxyError(
                HTTPStatus.BAD_GATEWAY, "The action did not return a dictionary or array."
            )
        return result

    def _set_run_env(self, message: dict[str, Json]) -> None:
        """Export the run's keys as __OW_*; drop those an earlier run set and this one lacks."""
        current: set[str] = set()
        for key, item in message.items():
            if key == "value" or item is None:
                continue
            name = f"__OW_{key.upper()}"
            os.environ[name] = item if isinstance(item, str) else json.dumps(item)
            current.add(name)
        for name in self.run_env - current:
            os.environ.pop(name, None)
        self.run_env = current


RUNNER = Runner()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # TCP_NODELAY on every accepted socket
    server_version = "whisk-python-proxy"

    def do_POST(self) -> None:
        route = {"/init": self._init, "/run": self._run}.get(self.path, self._unknown)
        try:
            status, body = route(self._read_json())
        except ProxyError as error:
            status, body = error.status, _encode({"error": error.message})
        self._send(status, body)

    def do_GET(self) -> None:
        self._answer(HTTPStatus.NOT_FOUND, {"error": f"No such endpoint: {self.path}"})

    def _init(self, message: Json) -> tuple[HTTPStatus, bytes]:
        with RUNNER.lock:
            try:
                return HTTPStatus.OK, _encode(RUNNER.init(message))
            except ProxyError as error:
                if error.status == HTTPStatus.BAD_GATEWAY:
                    write_sentinels()  # the invoker collects a failed init's logs up to them
                raise

    def _run(self, message: Json) -> tuple[HTTPStatus, bytes]:
        with RUNNER.lock:
            try:
                return HTTPStatus.OK, _encode(RUNNER.run(message))
            finally:
                write_sentinels()

    def _unknown(self, message: Json) -> tuple[HTTPStatus, bytes]:
        raise ProxyError(HTTPStatus.NOT_FOUND, f"No such endpoint: {self.path}")

    def _read_json(self) -> Json:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            raise ProxyError(HTTPStatus.BAD_REQUEST, "Bad Content-Length.")
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError as error:
            raise ProxyError(HTTPStatus.BAD_REQUEST, f"The body is not JSON: {error}") from error

    def _answer(self, status: HTTPStatus, payload: Json) -> None:
        self._send(status, _encode(payload))

    def _send(self, status: HTTPStatus, body: bytes) -> None:
        head = (
            f"HTTP/1.1 {status.value} {status.phrase}\r\n"
            "Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n"
            + ("Connection: close\r\n" if self.close_connection else "")
            + "\r\n"
        )
        self.wfile.write(head.encode("latin-1") + body)  # one write: headers and body together

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: stdout and stderr belong to the action's logs."""


def _encode(payload: Json) -> bytes:
    try:
        return json.dumps(payload, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as error:
        raise ProxyError(
            HTTPStatus.BAD_GATEWAY,
            f"The action did not produce a valid JSON or JSON Array response: {error}",
        ) from error


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


def main() -> None:
    port = int(os.environ.get("PROXY_PORT", PORT))
    with Server(("0.0.0.0", port), Handler) as server:  # noqa: S104 - the invoker calls in
        server.serve_forever()


if __name__ == "__main__":
    main()
