"""Turn one invocation of a stored action into an activation: its arguments, the activation
message, the send, and for a blocking caller the wait for its completion.

The invoke route uses it today; trigger fires and sequences build on it. ``Target`` is the
action as stored (the path it lives under, after any package binding was resolved, and the
revision the invoker fetches) with the parameters it inherits from its package and binding.
The caller's API key travels only to actions annotated ``provide-api-key``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from whisk_services.controller import errors
from whisk_services.controller.errors import ApiError
from whisk_services.controller.invocations import Finished, Invocations
from whisk_services.model.activation import new_activation_id
from whisk_services.model.entities import Action
from whisk_services.model.identity import Identity
from whisk_services.model.limits import ActionLimits
from whisk_services.model.messages import ActivationMessage, MessageUser
from whisk_services.model.names import EntityPath, FullyQualifiedName
from whisk_services.model.parameters import Parameters
from whisk_services.ports.documents import JsonObject


def truthy(value: object) -> bool:
    """An annotation that is on: `true` (or the string "true", as the invoker reads it)."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


@dataclass(frozen=True, slots=True)
class Target:
    """A stored action to invoke: where it is stored, its document revision, the action,
    and the parameters it inherits from its package and the binding it was reached through
    (``targets.resolve_target`` fills them; empty outside packages)."""

    path: EntityPath
    name: str
    revision: str
    action: Action
    inherited: Parameters = field(default_factory=Parameters)

    @property
    def fqn(self) -> FullyQualifiedName:
        """The stored action's fully qualified name."""
        return FullyQualifiedName(self.path, self.name)


def merged_parameters(action: Action, inherited: Parameters) -> Parameters:
    """The action's parameters over those it inherits from its package (and binding):
    OpenWhisk lets the action's own parameters win."""
    return inherited.merge(action.parameters)


def arguments(
    action: Action, payload: dict[str, Any], inherited: Parameters | None = None
) -> tuple[JsonObject, tuple[str, ...]]:
    """The activation's parameters (package < binding < action < payload, the later wins)
    and the keys of those the action itself exports at `/init`.

    A `final` action's defined parameters (those with a value, its own and inherited ones
    alike) cannot be overridden by the payload.
    """
    merged = merged_parameters(action, inherited or Parameters())
    if truthy(action.annotations.get("final")):
        defined = {p.key for p in merged if p.value is not None}
        if not defined.isdisjoint(payload):
            raise ApiError(400, errors.RESERVED_PARAMETERS)
    content = {**merged.to_dict(), **payload}
    return content, tuple(p.key for p in action.parameters if p.init)


@dataclass(frozen=True, slots=True)
class Activator:
    """Sends the activations of one controller.

    ``start`` and ``run`` take the action's limits with the message: the balancer counts
    its memory against the invoker, and the ack tracker waits for the completion as long
    as its time limit plus the ack grace."""

    invocations: Invocations

    def message(
        self,
        identity: Identity,
        target: Target,
        payload: dict[str, Any],
        *,
        transid: str,
        blocking: bool,
        api_key: str | None = None,
        cause: str | None = None,
    ) -> ActivationMessage:
        """The activation message of ``target`` with ``payload`` for ``identity``."""
        content, init_args = arguments(target.action, payload, target.inherited)
        message = ActivationMessage(
            transid=transid,
            action=target.fqn,
            action_version=str(target.action.version),
            revision=target.revision,
            user=MessageUser(identity.subject, identity.namespace, identity.uuid),
            activation_id=new_activation_id(),
            controller=self.invocations.controller,
            blocking=blocking,
            content=content,
            init_args=init_args,
            api_key=api_key if truthy(target.action.annotations.get("provide-api-key")) else None,
            cause=cause,
            accepted_ms=time.time_ns() // 1_000_000,
        )
        return message

    async def start(self, message: ActivationMessage, limits: ActionLimits) -> None:
        """Send a non-blocking activation; return once Kafka acknowledged it."""
        await self.invocations.send(message, limits.memory, limits.timeout)

    async def run(
        self,
        message: ActivationMessage,
        limits: ActionLimits,
        wait_s: float | None,
        *,
        capped: bool = True,
    ) -> Finished | None:
        """Send a blocking activation and wait for it (at most ``wait_s``, capped by the
        controller's maximum unless ``capped`` is false, as for a sequence's components,
        which wait as long as their own time limit): None when the wait ended first."""
        limit = self.invocations.max_wait_s
        if wait_s is not None:
            limit = min(limit, wait_s) if capped else wait_s
        return await self.invocations.send_and_wait(message, limit, limits.memory, limits.timeout)
