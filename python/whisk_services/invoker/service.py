"""One activation on the invoker: from an activation message to a completion and a record.

For each message: fetch the action (by revision, cached), take a container from the pool
(warm, stem cell or cold) on the action's memory, ``/init`` it if new, ``/run`` it, send the
completion message to the controller that asked (with the record, logs left out, when a
caller blocks), then read the logs, give the container back (destroyed if it timed out, ran
out of memory or died) and queue the activation record for the database, in that order.
The caller's answer does not wait for the logs, which trail the response by a millisecond
or two through the engine's log stream. Every new container gets its
``/init`` (a blackbox action without code gets empty code, as OpenWhisk's own skeleton
image expects): the init also waits until the container's server listens.

A message marked ``fresh_container`` (the controller's health test action) runs in a new
container of its own, destroyed afterwards: it proves the invoker can still start one.

Whatever fails on the way, the activation ends in a record and a completion: a missing
action is an application error, a blackbox image that cannot start is a developer error,
and any other failure of the platform is a whisk internal error.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from whisk_services.invoker.actions import ACTION_REMOVED, ActionMissingError, ActionSource
from whisk_services.invoker.pool import ContainerPool
from whisk_services.invoker.records import ActivationRecords
from whisk_services.invoker.runner import ActionCode, ActionRunner, Execution
from whisk_services.model.activation import Activation, ActivationResponse, ActivationStatus
from whisk_services.model.entities import Action
from whisk_services.model.exec import BlackboxExec, CodeExec
from whisk_services.model.messages import ActivationMessage, CompletionMessage
from whisk_services.model.parameters import Parameters
from whisk_services.model.version import SemVer
from whisk_services.ports.containers import ContainerError
from whisk_services.ports.messaging import MessageProducer, MessagingError

log = logging.getLogger("whisk.invoker")

MEMORY_EXHAUSTED = "The action exhausted its memory and was aborted."
INTERNAL_ERROR = "An internal error occurred while running the action."
# Kafka's default largest message is 1 MB; a result may be 1 MB by itself.
MAX_COMPLETION_BYTES = 900 * 1024


def image_pull_failed(image: str) -> str:
    """The developer error of a blackbox image that cannot be started."""
    return f"Failed to pull container image '{image}'."


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


@dataclass(frozen=True, slots=True)
class Placement:
    """How the pool must treat an action: the image to run and the key of its stem cells."""

    image: str
    pool_kind: str
    code: str | None
    main: str


_Finish = Callable[[], Awaitable[list[str]]]


class UnknownRuntimeError(LookupError):
    """The action's kind has no runtime image on this invoker."""


@dataclass(slots=True)
class _Outcome:
    response: ActivationResponse
    logs: list[str]
    start_ms: int
    end_ms: int
    init_time_ms: int | None = None
    timed_out: bool = False


class ActivationService:
    """Runs the activation messages of one invoker."""

    def __init__(
        self,
        *,
        instance: int,
        actions: ActionSource,
        pool: ContainerPool,
        runner: ActionRunner,
        producer: MessageProducer,
        records: ActivationRecords,
        runtime_images: Mapping[str, str],
        api_host: str = "",
    ) -> None:
        self._instance = instance
        self._actions = actions
        self._pool = pool
        self._runner = runner
        self._producer = producer
        self._records = records
        self._images = dict(runtime_images)
        self._api_host = api_host
        self.completed = 0

    def placement(self, action: Action) -> Placement:
        """The image and stem-cell key of ``action`` (``python:3`` shares 3.11's cells)."""
        exec_ = action.exec
        if isinstance(exec_, BlackboxExec):
            return Placement(exec_.image, exec_.image, exec_.code, exec_.main or "main")
        if isinstance(exec_, CodeExec):
            kind = "python:3.11" if exec_.kind == "python:3" else exec_.kind
            image = self._images.get(kind)
            if image is None:
                raise UnknownRuntimeError(kind)
            return Placement(image, image, exec_.code, exec_.main or "main")
        raise UnknownRuntimeError(exec_.kind)

    async def handle(self, message: ActivationMessage) -> Activation:
        """Run ``message``'s activation; return its record (already sent and queued)."""
        kind = "unknown"
        action: Action | None = None
        finish: _Finish | None = None
        try:
            _rev, action = await self._actions.get(message.action.as_path(), message.revision)
            kind = action.exec.kind
            outcome, finish = await self._run(message, action)
        except ActionMissingError:
            outcome = _failed(ActivationResponse.application_error({"error": ACTION_REMOVED}))
        except Exception:
            log.exception("activation %s failed in the invoker", message.activation_id)
            outcome = _failed(ActivationResponse.whisk_error(INTERNAL_ERROR))
        record = self._record(message, action, kind, outcome)
        try:
            await self._complete(message, record)  # the caller need not wait for the logs
        finally:
            if finish is not None:
                record = replace(record, logs=tuple(await finish()))
        self._records.add(record)
        self.completed += 1
        return record

    async def _run(
        self, message: ActivationMessage, action: Action
    ) -> tuple[_Outcome, _Finish | None]:
        """The outcome (without logs) and, when a container ran it, what reads the logs
        and gives the container back."""
        try:
            place = self.placement(action)
        except UnknownRuntimeError as error:
            return _failed(
                ActivationResponse.whisk_error(f"The runtime '{error}' is not available here.")
            ), None
        key = f"{message.user.namespace}|{message.action.as_path()}|{message.revision}"
        try:
            lease = await self._pool.acquire(
                key,
                place.pool_kind,
                place.image,
                action.limits.memory,
                fresh=message.fresh_container,
            )
        except ContainerError as error:
            log.warning("no container for %s: %s", message.activation_id, error)
            if isinstance(action.exec, BlackboxExec):
                failed = ActivationResponse.developer_error(image_pull_failed(place.image))
                return _failed(failed), None
            return _failed(ActivationResponse.whisk_error(INTERNAL_ERROR)), None
        try:
            code = ActionCode(
                name=action.name,
                code=place.code or "",
                main=place.main,
                binary=action.exec.binary,
                env=self._init_env(message, action),
                limits=action.limits,
            )
            start_ms = _now_ms()
            execution = await self._runner.execute(
                lease.container,
                code,
                message.content,
                activation=self._run_fields(message, action),
                initialize=lease.needs_init,
            )
            end_ms = max(_now_ms(), start_ms)
            if execution.healthy:
                self._pool.finishing(lease)  # the next call of this action may wait for it
            response = await self._classify(lease.container, execution)
        except BaseException:
            await self._pool.release(lease, healthy=False)
            raise

        async def finish() -> list[str]:
            try:
                return await self._runner.logs(lease.container, execution)
            finally:
                await self._pool.release(lease, healthy=execution.healthy)

        outcome = _Outcome(
            response, [], start_ms, end_ms, execution.init_time_ms, execution.timed_out
        )
        return outcome, finish

    async def _classify(self, container: Any, execution: Execution) -> ActivationResponse:
        """The run's response, or the memory error when the kernel killed the action."""
        if execution.healthy or execution.timed_out:
            return execution.response
        try:
            if await container.oom_killed():
                return ActivationResponse.developer_error(MEMORY_EXHAUSTED)
        except ContainerError as error:
            log.warning("cannot inspect container %s: %s", container.id, error)
        return execution.response

    def _run_fields(self, message: ActivationMessage, action: Action) -> dict[str, str]:
        """The ``/run`` keys the proxy exports as ``__OW_*``."""
        fields = {
            "namespace": message.user.namespace,
            "action_name": f"/{message.action.as_path()}",
            "action_version": str(action.version),
            "activation_id": message.activation_id,
            "transaction_id": message.transid,
        }
        if self._api_host:
            fields["api_host"] = self._api_host
        if message.api_key is not None and _truthy(action.annotations.get("provide-api-key")):
            fields["api_key"] = message.api_key
        return fields

    def _init_env(self, message: ActivationMessage, action: Action) -> dict[str, str]:
        """``/init``'s environment: the init parameters, then the action's ``__OW_*``."""
        env: dict[str, str] = {}
        init_keys = set(message.init_args)
        for parameter in action.parameters:
            if parameter.init or parameter.key in init_keys:
                value = message.content.get(parameter.key, parameter.value)
                env[parameter.key] = value if isinstance(value, str) else _json(value)
        env["__OW_NAMESPACE"] = message.user.namespace
        env["__OW_ACTION_NAME"] = f"/{message.action.as_path()}"
        env["__OW_ACTION_VERSION"] = str(action.version)
        if self._api_host:
            env["__OW_API_HOST"] = self._api_host
        return env

    def _record(
        self,
        message: ActivationMessage,
        action: Action | None,
        kind: str,
        outcome: _Outcome,
    ) -> Activation:
        annotations: list[tuple[str, Any]] = []
        if message.cause is not None:  # only a sequence's components carry a cause
            annotations.append(("causedBy", "sequence"))
        annotations.append(("path", message.action.as_path()))
        if message.accepted_ms:
            annotations.append(("waitTime", max(0, outcome.start_ms - message.accepted_ms)))
        annotations.append(("kind", kind))
        annotations.append(("timeout", outcome.timed_out))
        if action is not None:
            annotations.append(("limits", action.limits.to_api()))
        if outcome.init_time_ms is not None:
            annotations.append(("initTime", outcome.init_time_ms))
        return Activation(
            namespace=message.user.namespace,
            name=message.action.name,
            subject=message.user.subject,
            activation_id=message.activation_id,
            start=outcome.start_ms,
            end=outcome.end_ms,
            response=outcome.response,
            version=action.version if action is not None else SemVer(),
            cause=message.cause,
            logs=tuple(outcome.logs),
            annotations=Parameters.from_dict(dict(annotations)),
        )

    async def _complete(self, message: ActivationMessage, record: Activation) -> None:
        """Send the completion: with the record (logs left out, as a blocking answer has
        none) when a caller blocks and it fits one Kafka message, else the id alone (the
        controller then reads the record from the database)."""
        completion = CompletionMessage(
            transid=message.transid,
            activation_id=message.activation_id,
            invoker=self._instance,
            is_system_error=record.response.status is ActivationStatus.WHISK_ERROR,
            activation={**record.to_api(), "logs": []} if message.blocking else None,
        )
        encoded = completion.encode()
        if len(encoded) > MAX_COMPLETION_BYTES:
            encoded = replace(completion, activation=None).encode()
        try:
            await self._producer.send(f"completed{message.controller}", encoded)
        except MessagingError as error:  # the record still lands; the caller polls for it
            log.warning("completion of %s not sent: %s", message.activation_id, error)


def _failed(response: ActivationResponse) -> _Outcome:
    now = _now_ms()
    return _Outcome(response, [], now, now)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
