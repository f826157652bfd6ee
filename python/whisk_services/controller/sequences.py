"""Run a sequence action: the controller conducts its components one after another.

Each component is a blocking activation (``Activator.run``) whose message names the
sequence's activation as its ``cause``; it may take as long as its own time limit plus a
margin (not the blocking caller's wait). The first component gets the sequence's arguments
(its parameters, overridden by the payload), every later one the previous one's result.
The first component that does not succeed ends the sequence with its response; a component
that cannot be read by the invoking identity, or whose completion never arrives, ends it
with an error naming the component. A component that is a sequence runs as a nested
sequence with its own record, up to ``MAX_NESTING`` levels.

When the sequence ends the controller writes its activation record: its ``logs`` are the
component activation ids in order, its ``response`` the last component's, its annotations
``topmost`` (outermost only) or ``causedBy`` (nested), ``path``, ``kind: sequence``,
``limits`` (the sequence's, with the largest memory of its components) and ``waitTime``.

``launch`` runs a sequence in a task kept in the controller's set of background tasks (so
it outlives the request that started it); ``wait_for_sequence`` is a blocking caller's wait
for it. When the controller stops (``controller.shutdown``) the sequences get the drain time
to finish; then the waits end (``Invocations.end_waits``): a sequence whose component is
still running, or that is about to start the next one, ends with a whisk internal error and
writes its record (the component goes on and gets its own). ``cancel_all`` cancels what is
left; a sequence cancelled still writes its record (a whisk internal error listing the
components started), so no sequence activation id is left without one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.activator import Activator, Target, arguments
from whisk_services.controller.errors import ApiError
from whisk_services.controller.invocations import Finished, Invocations
from whisk_services.controller.targets import resolve_target
from whisk_services.model.activation import Activation, ActivationResponse, new_activation_id
from whisk_services.model.entities import SEQUENCE_ACTIONS_PARAMETER, Action
from whisk_services.model.errors import ModelError
from whisk_services.model.exec import SEQUENCE, SequenceExec
from whisk_services.model.identity import Identity
from whisk_services.model.names import FullyQualifiedName
from whisk_services.model.parameters import Parameters
from whisk_services.ports.documents import DocumentStore, DocumentStoreError, JsonObject
from whisk_services.ports.messaging import MessagingError

log = logging.getLogger("whisk.controller.sequences")

# How deep sequences may nest (the reference bounds a sequence's length, 50, not its depth).
# It also ends a cycle made by updating a component into a sequence that contains it.
MAX_NESTING = 10
# A component's completion may arrive this long after its own time limit: the invoker may
# first pull an image, start a container and initialise the action.
COMPONENT_MARGIN_S = 60.0

Lookup = Callable[[FullyQualifiedName], Awaitable[Target]]
"""Finds a component as the invoking identity may read it; raises ``ComponentUnavailable``."""


class ComponentUnavailable(Exception):  # noqa: N818 -- a condition the sequence reports
    """A component that is missing, forbidden or unreadable: the message says which."""


def sequence_arguments(
    action: Action, payload: dict[str, Any], inherited: Parameters | None = None
) -> JsonObject:
    """The arguments of the first component: the sequence's parameters (over those it
    inherits from its package and binding) overridden by the payload, without the
    ``_actions`` bookkeeping parameter (a `final` sequence refuses payload keys it defines,
    400)."""
    content, _ = arguments(action, payload, inherited)
    return {k: v for k, v in content.items() if k != SEQUENCE_ACTIONS_PARAMETER}


def component_lookup(request: web.Request, identity: Identity) -> Lookup:
    """Find components with the rights ``identity`` has when invoking them directly (and
    the parameters they inherit from their own package and binding)."""

    async def lookup(fqn: FullyQualifiedName) -> Target:
        name = str(fqn)
        try:
            return await resolve_target(request, identity, fqn.path, fqn.name)
        except ApiError as error:
            if error.status == 403:
                raise ComponentUnavailable(errors.sequence_component_forbidden(name)) from None
            if error.status in (404, 409):
                raise ComponentUnavailable(errors.sequence_component_missing(name)) from None
            raise ComponentUnavailable(
                errors.sequence_component_unusable(name, error.message)
            ) from None
        except ModelError as error:
            raise ComponentUnavailable(
                errors.sequence_component_unusable(name, str(error))
            ) from None

    return lookup


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _response_of(finished: Finished) -> ActivationResponse:
    response = finished.record.get("response")
    result = response.get("result") if isinstance(response, dict) else None
    return ActivationResponse(finished.status, result)


@dataclass(slots=True)
class _Chain:
    """What running the components produced: the last response, the ids, the memory."""

    response: ActivationResponse
    ids: list[str]
    memory: int


@dataclass(frozen=True, slots=True)
class Conductor:
    """Runs the sequences of one invoke request on behalf of ``identity``."""

    activator: Activator
    activations: DocumentStore
    lookup: Lookup
    identity: Identity
    transid: str
    api_key: str | None = None
    margin_s: float = COMPONENT_MARGIN_S
    max_nesting: int = MAX_NESTING

    async def run(
        self,
        sequence: Target,
        args: JsonObject,
        activation_id: str,
        *,
        accepted_ms: int,
        cause: str | None = None,
        depth: int = 1,
    ) -> Finished:
        """Run ``sequence`` with ``args`` as activation ``activation_id``, write its record
        and return it (in API shape) with its status."""
        times = (_now_ms(), accepted_ms)
        chain = _Chain(ActivationResponse.success(args), [], 0)
        try:
            await self._chain(sequence, args, activation_id, depth, chain)
        except asyncio.CancelledError:
            # The controller is stopping: the components sent go on and get their records;
            # the sequence's own id gets its record now.
            chain.response = ActivationResponse.whisk_error(errors.SEQUENCE_INTERRUPTED)
            await self._store(sequence, activation_id, chain, times=times, cause=cause)
            raise
        writing = asyncio.ensure_future(
            self._store(sequence, activation_id, chain, times=times, cause=cause)
        )
        try:
            activation = await asyncio.shield(writing)
        except asyncio.CancelledError:
            await writing  # cancelled while writing: the record is owed, let it land
            raise
        return Finished(activation.to_api(), activation.response.status)

    async def _store(
        self,
        sequence: Target,
        activation_id: str,
        chain: _Chain,
        *,
        times: tuple[int, int],
        cause: str | None,
    ) -> Activation:
        """Write the sequence's record (a failure is logged: the record is lost);
        ``times``: when it started and when it was accepted."""
        start, accepted_ms = times
        limits = sequence.action.limits
        if chain.memory:
            limits = replace(limits, memory=chain.memory)
        # The outermost sequence is `topmost`; a nested one was caused by its sequence.
        annotations: dict[str, Any] = {"topmost": True} if cause is None else {"causedBy": SEQUENCE}
        annotations |= {
            "path": sequence.fqn.as_path(),
            "waitTime": max(0, start - accepted_ms),
            "kind": SEQUENCE,
            "limits": limits.to_api(),
        }
        activation = Activation(
            namespace=self.identity.namespace,
            name=sequence.name,
            subject=self.identity.subject,
            activation_id=activation_id,
            start=start,
            end=max(start, _now_ms()),
            response=chain.response,
            version=sequence.action.version,
            cause=cause,
            logs=tuple(chain.ids),
            annotations=Parameters.from_dict(annotations),
        )
        try:
            await self.activations.put(activation.doc_id(), activation.to_doc())
        except DocumentStoreError as error:
            log.warning(
                "[%s] cannot store sequence activation %s: %s", self.transid, activation_id, error
            )
        return activation

    async def _chain(
        self, sequence: Target, args: JsonObject, activation_id: str, depth: int, chain: _Chain
    ) -> None:
        """Run the components in ``chain`` (its response, ids and memory as they go)."""
        assert isinstance(sequence.action.exec, SequenceExec)
        components = sequence.action.exec.components
        payload: JsonObject = args
        for index, fqn in enumerate(components):
            name = str(fqn)
            if self.activator.invocations.ending:  # stopping: no new work
                chain.response = ActivationResponse.whisk_error(errors.SEQUENCE_INTERRUPTED)
                break
            try:
                target = await self.lookup(fqn)
            except ComponentUnavailable as error:
                chain.response = ActivationResponse.application_error({"error": str(error)})
                break
            chain.memory = max(chain.memory, target.action.limits.memory)
            chain.response = await self._component(target, payload, activation_id, depth, chain)
            if not chain.response.is_success:
                break
            result = chain.response.result
            if index + 1 < len(components):
                if not isinstance(result, dict):
                    chain.response = ActivationResponse.application_error(
                        {"error": errors.sequence_component_not_object(name)}
                    )
                    break
                payload = result

    async def _component(
        self, target: Target, payload: JsonObject, activation_id: str, depth: int, chain: _Chain
    ) -> ActivationResponse:
        """Run one component, note its activation id in ``chain``, return its response."""
        name = str(target.fqn)
        try:
            if isinstance(target.action.exec, SequenceExec):
                if depth >= self.max_nesting:
                    return ActivationResponse.application_error(
                        {"error": errors.sequence_too_deep(self.max_nesting)}
                    )
                args = sequence_arguments(target.action, payload, target.inherited)
                inner_id = new_activation_id()
                chain.ids.append(inner_id)
                inner = await self.run(
                    target,
                    args,
                    inner_id,
                    accepted_ms=_now_ms(),
                    cause=activation_id,
                    depth=depth + 1,
                )
                return _response_of(inner)
            message = self.activator.message(
                self.identity,
                target,
                payload,
                transid=self.transid,
                blocking=True,
                api_key=self.api_key,
                cause=activation_id,
            )
        except ApiError as error:  # a `final` component refusing the previous result's keys
            return ActivationResponse.application_error(
                {"error": errors.sequence_component_unusable(name, error.message)}
            )
        chain.ids.append(message.activation_id)
        wait_s = target.action.limits.timeout / 1000 + self.margin_s
        try:
            finished = await self.activator.run(message, target.action.limits, wait_s, capped=False)
        except MessagingError as error:
            log.warning("[%s] component %s not queued: %s", self.transid, name, error)
            return ActivationResponse.whisk_error(errors.sequence_component_unqueued(name))
        if finished is None:
            return self._unfinished(name)
        return _response_of(finished)

    def _unfinished(self, name: str) -> ActivationResponse:
        """The response of a component whose wait ended before it completed."""
        if self.activator.invocations.ending:
            return ActivationResponse.whisk_error(errors.sequence_component_interrupted(name))
        return ActivationResponse.whisk_error(errors.sequence_component_late(name))


Background = set[asyncio.Task[Any]]


def launch(
    background: Background, run: Coroutine[Any, Any, Finished], name: str
) -> asyncio.Task[Finished]:
    """Run a sequence in a task kept in ``background`` until it ends; its failure is logged."""
    task = asyncio.create_task(run, name=name)
    background.add(task)

    def done(finished: asyncio.Task[Finished]) -> None:
        background.discard(finished)
        if not finished.cancelled() and finished.exception() is not None:
            log.error("%s failed", name, exc_info=finished.exception())

    task.add_done_callback(done)
    return task


async def wait_for_sequence(
    task: asyncio.Task[Finished], wait_s: float, invocations: Invocations
) -> Finished | None:
    """A blocking caller's wait for a sequence: how it finished, or None when ``wait_s``
    passed or the controller ended the waits first (the sequence goes on)."""
    if not invocations.ending:
        await asyncio.wait(
            (task, invocations.waits_end()),
            timeout=wait_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
    return task.result() if task.done() and not task.cancelled() else None


CANCEL_WAIT_S = 5.0  # how long the cancelled sequences may take to write their records


async def cancel_all(background: Background, wait_s: float = CANCEL_WAIT_S) -> None:
    """Cancel the sequences still running (the controller is stopping) and give them
    ``wait_s`` to write their records."""
    tasks = list(background)
    for task in tasks:
        task.cancel()
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=wait_s)
    log.warning("cancelled %d running sequence(s)", len(tasks))
    if pending:
        log.error(
            "%d cancelled sequence(s) did not write their record within %.0f s: %s",
            len(pending),
            wait_s,
            ", ".join(sorted(task.get_name() for task in pending)),
        )
