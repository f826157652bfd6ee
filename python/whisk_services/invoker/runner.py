"""Run one activation in an action container: ``/init`` (when cold), ``/run``, then logs.

The protocol is OpenWhisk's (reference/openwhisk-api.md §2). Init and run are each bounded
by the action's timeout; exceeding it is a developer error and the container must go. A
failed init is a developer error carrying the proxy's error. The proxy writes a sentinel
line to stdout and to stderr after every run and failed init; the activation's logs are the
lines of both streams written since the activation started, up to the sentinels, merged in
time order, formatted as OpenWhisk stores them and cut at the action's log limit.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

from whisk_services.model.activation import ActivationResponse, ActivationStatus, format_log_line
from whisk_services.model.limits import ActionLimits
from whisk_services.ports.containers import Container, ContainerError, ContainerLogs

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
MAX_RESULT_BYTES = 1024 * 1024  # activation.payload.max
LOG_WAIT_S = 2.0  # how long the sentinels may lag behind the response
LOGS_MISSING = "There was an issue while collecting your logs. Data might be missing."
_JSON = {"Content-Type": "application/json"}


def timeout_message(timeout_ms: int, *, init: bool) -> str:
    """OpenWhisk's developer error for an init or run exceeding the action's timeout."""
    during = " during initialization" if init else ""
    return f"The action exceeded its time limits of {timeout_ms} milliseconds{during}."


def truncation_message(limit_bytes: int) -> str:
    """The log line that replaces the logs past the action's limit."""
    return (
        "Logs were truncated because the total bytes size exceeds the limit of "
        f"{limit_bytes} bytes."
    )


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line an action wrote: when (ns since the epoch), on which stream, what."""

    time_ns: int
    stream: str
    text: str

    def format(self) -> str:
        """OpenWhisk's stored form (``format_log_line``)."""
        return format_log_line(self.time_ns // 1_000_000, self.stream, self.text)


def parse_timestamp_ns(stamp: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 UTC time such as Docker writes."""
    if not stamp.endswith("Z"):
        raise ValueError(f"not a UTC timestamp: {stamp!r}")
    whole, _, fraction = stamp[:-1].partition(".")
    moment = datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    if fraction and not fraction.isdigit():
        raise ValueError(f"bad fraction in timestamp: {stamp!r}")
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return int(moment.timestamp()) * 1_000_000_000 + nanos


def parse_stream(text: str, stream: str) -> tuple[list[LogLine], bool]:
    """The lines of one timestamped stream before its first sentinel, and whether one came.

    A line without a readable timestamp keeps the previous line's time.
    """
    lines: list[LogLine] = []
    last_ns = 0
    for raw in text.splitlines():
        stamp, _, message = raw.partition(" ")
        try:
            last_ns = parse_timestamp_ns(stamp)
        except ValueError:
            message = raw
        if message == SENTINEL:
            return lines, True
        lines.append(LogLine(last_ns, stream, message))
    return lines, False


def merge_streams(stdout: list[LogLine], stderr: list[LogLine]) -> list[LogLine]:
    """Both streams' lines in time order (stdout first on equal times)."""
    return sorted(stdout + stderr, key=lambda line: line.time_ns)


def limit_logs(lines: list[LogLine], limit_bytes: int, now_ms: int) -> list[str]:
    """The formatted lines whose texts (plus a newline each) fit ``limit_bytes``.

    When some do not fit, a stderr line saying so (stamped ``now_ms``) ends the list.
    """
    out: list[str] = []
    used = 0
    for line in lines:
        used += len(line.text.encode()) + 1
        if used > limit_bytes:
            out.append(format_log_line(now_ms, "stderr", truncation_message(limit_bytes)))
            break
        out.append(line.format())
    return out


def activation_logs(logs: ContainerLogs, limit_bytes: int, now_ms: int) -> tuple[list[str], bool]:
    """Formatted, limited logs of one activation, and whether both sentinels were found."""
    out, out_done = parse_stream(logs.stdout, "stdout")
    err, err_done = parse_stream(logs.stderr, "stderr")
    return limit_logs(merge_streams(out, err), limit_bytes, now_ms), out_done and err_done


@dataclass(frozen=True, slots=True)
class ActionCode:
    """What ``/init`` loads: the action's code and how to call it, and its limits."""

    name: str
    code: str
    main: str = "main"
    binary: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    limits: ActionLimits = field(default_factory=ActionLimits)


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one activation in a container.

    ``healthy`` is False when the container must be destroyed (timeout, failed init,
    unreachable proxy); otherwise it may be paused and reused.
    """

    response: ActivationResponse
    logs: list[str]
    init_time_ms: int | None
    duration_ms: int
    timed_out: bool = False
    healthy: bool = True


@dataclass(frozen=True, slots=True)
class Execution:
    """An activation's outcome before its logs are read (``ActionRunner.execute``).

    The response is known as soon as ``/run`` answers; the logs follow a moment later
    (the sentinels travel through the engine's log stream), so the invoker answers the
    caller first and reads the logs after (``ActionRunner.logs``). ``logs`` is already
    set when the init failed (its logs were read on the way).
    """

    response: ActivationResponse
    init_time_ms: int | None
    duration_ms: int
    since: float
    limits: ActionLimits
    timed_out: bool = False
    healthy: bool = True
    logs: list[str] | None = None

    def with_logs(self, logs: list[str]) -> RunResult:
        """The complete result."""
        return RunResult(
            self.response,
            logs,
            self.init_time_ms,
            self.duration_ms,
            self.timed_out,
            self.healthy,
        )


class _Timeout(Exception):  # noqa: N818 -- a condition
    pass


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class ActionRunner:
    """Drives action containers over one keep-alive aiohttp session (TCP_NODELAY)."""

    def __init__(self, *, log_wait_s: float = LOG_WAIT_S) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._log_wait_s = log_wait_s

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # aiohttp sets TCP_NODELAY on every connection it opens.
            connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=600)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None)
            )
        return self._session

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()

    async def _post(
        self, container: Container, path: str, body: Any, deadline: float, *, retry: bool
    ) -> tuple[int, bytes]:
        """POST JSON before the monotonic ``deadline``; retry refused connections if asked
        (a fresh container's published port accepts before its proxy listens)."""
        data = json.dumps(body, separators=(",", ":")).encode()
        url = f"http://{container.address}{path}"
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            try:
                async with asyncio.timeout(remaining):
                    async with self._client().post(url, data=data, headers=_JSON) as response:
                        return response.status, await response.read()
            except TimeoutError:
                raise _Timeout from None
            except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError):
                if not retry:
                    raise
            await asyncio.sleep(0.01)

    async def _logs(
        self, container: Container, since: float, limits: ActionLimits, *, wait: bool
    ) -> list[str]:
        limit_bytes = limits.logs * 1024 * 1024
        give_up = time.monotonic() + (self._log_wait_s if wait else 0.0)
        pause = 0.0005
        while True:
            try:
                raw = await container.logs_since(since)
            except ContainerError:
                return [format_log_line(_now_ms(), "stderr", LOGS_MISSING)]
            lines, found = activation_logs(raw, limit_bytes, _now_ms())
            if found or time.monotonic() >= give_up:
                if wait and not found:
                    lines.append(format_log_line(_now_ms(), "stderr", LOGS_MISSING))
                return lines
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)

    async def init(self, container: Container, action: ActionCode) -> tuple[RunResult | None, int]:
        """``/init``: None and its duration when it succeeded, else the failed result."""
        since = time.time()
        started = time.monotonic()
        timeout_ms = action.limits.timeout
        body = {
            "value": {
                "name": action.name,
                "main": action.main,
                "code": action.code,
                "binary": action.binary,
                "env": dict(action.env),
            }
        }
        response: ActivationResponse
        timed_out = False
        try:
            status, payload = await self._post(
                container, "/init", body, started + timeout_ms / 1000, retry=True
            )
        except _Timeout:
            response = ActivationResponse.developer_error(timeout_message(timeout_ms, init=True))
            timed_out = True
        except aiohttp.ClientError as error:
            response = ActivationResponse.whisk_error(f"Failed to initialize the action: {error}")
        else:
            elapsed = round((time.monotonic() - started) * 1000)
            if status == 200:
                return None, elapsed
            response = _error_response(payload, "initialize")
        elapsed = round((time.monotonic() - started) * 1000)
        logs = await self._logs(container, since, action.limits, wait=not timed_out)
        return RunResult(response, logs, elapsed, elapsed, timed_out, healthy=False), elapsed

    async def execute(
        self,
        container: Container,
        action: ActionCode,
        args: Mapping[str, Any],
        *,
        activation: Mapping[str, str] | None = None,
        initialize: bool = False,
    ) -> Execution:
        """Init (if ``initialize``) then run ``action`` with ``args`` in ``container``;
        the logs are read afterwards with ``logs``.

        ``activation`` holds the run's ``__OW_*`` fields by their lower-case names
        (``namespace``, ``action_name``, ``activation_id``, ``api_key``...); ``deadline``
        is added.
        """
        init_ms: int | None = None
        if initialize:
            failed, init_ms = await self.init(container, action)
            if failed is not None:
                return Execution(
                    failed.response,
                    failed.init_time_ms,
                    failed.duration_ms,
                    time.time(),
                    action.limits,
                    failed.timed_out,
                    healthy=False,
                    logs=failed.logs,
                )
        timeout_ms = action.limits.timeout
        since = time.time()
        started = time.monotonic()
        deadline_ms = _now_ms() + timeout_ms
        body = {"value": dict(args), **(activation or {}), "deadline": str(deadline_ms)}
        timed_out = False
        healthy = True
        try:
            status, payload = await self._post(
                container, "/run", body, started + timeout_ms / 1000, retry=False
            )
        except _Timeout:
            response = ActivationResponse.developer_error(timeout_message(timeout_ms, init=False))
            timed_out, healthy = True, False
        except aiohttp.ClientError as error:
            response = ActivationResponse.developer_error(
                f"The action did not produce a valid response and exited unexpectedly: {error}"
            )
            healthy = False
        else:
            response = _run_response(status, payload)
        duration = round((time.monotonic() - started) * 1000)
        return Execution(response, init_ms, duration, since, action.limits, timed_out, healthy)

    async def logs(self, container: Container, execution: Execution) -> list[str]:
        """The execution's logs: up to both sentinels (waiting for them briefly, unless the
        run timed out and the proxy may never write them)."""
        if execution.logs is not None:
            return execution.logs
        return await self._logs(
            container, execution.since, execution.limits, wait=not execution.timed_out
        )

    async def run(
        self,
        container: Container,
        action: ActionCode,
        args: Mapping[str, Any],
        *,
        activation: Mapping[str, str] | None = None,
        initialize: bool = False,
    ) -> RunResult:
        """``execute`` then ``logs``: the whole result at once."""
        execution = await self.execute(
            container, action, args, activation=activation, initialize=initialize
        )
        return execution.with_logs(await self.logs(container, execution))


def _decode(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        return None


def _error_response(payload: bytes, what: str) -> ActivationResponse:
    body = _decode(payload)
    if isinstance(body, dict) and "error" in body:
        return ActivationResponse.developer_error(str(body["error"]))
    return ActivationResponse.developer_error(
        f"The action failed to {what}: {payload[:200].decode(errors='replace')}"
    )


def _run_response(status: int, payload: bytes) -> ActivationResponse:
    if len(payload) > MAX_RESULT_BYTES:
        return ActivationResponse.application_error(
            {
                "error": "The action produced a response that exceeded the allowed length: "
                f"{len(payload)} > {MAX_RESULT_BYTES} bytes."
            }
        )
    body = _decode(payload)
    if status != 200:
        if isinstance(body, dict) and "error" in body:
            return ActivationResponse(ActivationStatus.DEVELOPER_ERROR, body)
        return ActivationResponse.developer_error(
            "The action did not produce a valid JSON or JSON Array response"
        )
    if not isinstance(body, dict | list):
        return ActivationResponse.developer_error(
            "The action did not produce a valid JSON or JSON Array response"
        )
    return ActivationResponse.from_run_result(body)
