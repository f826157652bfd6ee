"""Fire a trigger: activate the action of each of its active rules, then record the fire.

A trigger keeps its rules' links (rule -> action, status) in its own document, so a fire
reads no rule documents. Each active rule's action is resolved as an invoke by the firing
identity would resolve it (a package, a binding, another namespace's published package) and
receives a non-blocking activation whose payload is the trigger's parameters overridden by
the fire's payload (the action's own parameters sit under both). A rule whose action cannot
be activated (missing, not readable, ...) fails alone: the fire goes on. A rule's sequence
starts in the background, as a non-blocking invoke of it does.

The fire's own activation record holds the payload as its result, no end (so no duration),
and one JSON log line per rule saying what became of it. An inactive rule gets a failed
line too. When no activation could be sent because the message queue refused them, the fire
is a 503 and nothing is recorded (retrying it runs nothing twice).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from whisk_services.controller import errors
from whisk_services.controller.activator import Activator, Target, truthy
from whisk_services.controller.auth import parse_basic
from whisk_services.controller.context import services
from whisk_services.controller.errors import ApiError
from whisk_services.controller.middleware import transaction_id
from whisk_services.controller.sequences import (
    Conductor,
    component_lookup,
    launch,
    sequence_arguments,
)
from whisk_services.controller.targets import resolve_target
from whisk_services.model.activation import (
    Activation,
    ActivationResponse,
    ActivationStatus,
    new_activation_id,
)
from whisk_services.model.entities import RuleStatus, Trigger, TriggerRule
from whisk_services.model.exec import SequenceExec
from whisk_services.model.identity import Identity
from whisk_services.model.names import FullyQualifiedName
from whisk_services.ports.documents import DocumentStoreError
from whisk_services.ports.messaging import MessagingError

log = logging.getLogger("whisk.controller.firing")

MAX_PAYLOAD_BYTES = 1024 * 1024


def inactive_rule(rule: str, action: str) -> str:
    """The log error of a rule skipped because it is inactive."""
    return f"Rule '{rule}' is inactive, action '{action}' was not activated."


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What became of one rule of a fire: the activation sent, or why none was."""

    rule: str
    action: str
    status: ActivationStatus
    activation_id: str | None = None
    error: str | None = None
    queue_failed: bool = False

    @property
    def sent(self) -> bool:
        """True iff the rule's activation went out."""
        return self.activation_id is not None

    def log_line(self) -> str:
        """The line of the trigger's activation logs, compact JSON."""
        line: dict[str, Any] = {
            "statusCode": int(self.status),
            "success": self.status is ActivationStatus.SUCCESS,
        }
        if self.activation_id is not None:
            line["activationId"] = self.activation_id
        else:
            line["error"] = self.error
        line["rule"] = self.rule
        line["action"] = self.action
        return json.dumps(line, separators=(",", ":"))


def _failed(rule: str, action: str, error: ApiError) -> RuleOutcome:
    """A rule whose action could not be invoked: a server-side refusal (5xx) is a whisk
    error, any other an application error, as OpenWhisk classes them."""
    status = (
        ActivationStatus.WHISK_ERROR if error.status >= 500 else ActivationStatus.APPLICATION_ERROR
    )
    return RuleOutcome(rule, action, status, error=error.message)


def trigger_arguments(trigger: Trigger, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload the rules' actions receive: the trigger's parameters, then the fire's."""
    return {**trigger.parameters.to_dict(), **payload}


@dataclass(frozen=True, slots=True)
class Firing:
    """One fire of ``trigger`` by ``identity`` with ``payload``, within ``request``."""

    request: web.Request
    identity: Identity
    trigger: Trigger
    payload: dict[str, Any]

    async def run(self) -> str | None:
        """Activate the active rules and record the fire; return the fire's activation
        id, or None when no rule is active (nothing runs, nothing is recorded).

        Raises ApiError 503 when the controller has no invoke path, or when the queue
        refused every activation and none was sent.
        """
        if not any(link.status is RuleStatus.ACTIVE for _, link in self.trigger.rules):
            return None
        invocations = services(self.request).invocations
        if invocations is None:
            raise ApiError(503, errors.NO_INVOKERS)
        activator = Activator(invocations)
        start = time.time_ns() // 1_000_000
        activation_id = new_activation_id()
        arguments = trigger_arguments(self.trigger, self.payload)
        outcomes = await asyncio.gather(
            *(self._activate(activator, key, link, arguments) for key, link in self.trigger.rules)
        )
        if not any(o.sent for o in outcomes) and any(o.queue_failed for o in outcomes):
            raise ApiError(503, errors.QUEUE_UNAVAILABLE)
        record = Activation(
            namespace=self.identity.namespace,
            name=self.trigger.name,
            subject=self.identity.subject,
            activation_id=activation_id,
            start=start,
            end=0,
            response=ActivationResponse.success(self.payload),
            version=self.trigger.version,
            logs=tuple(o.log_line() for o in outcomes),
        )
        try:
            await services(self.request).activations.put(record.doc_id(), record.to_doc())
        except DocumentStoreError as error:
            # The rules' activations are on their way: the fire happened, unrecorded.
            log.warning("trigger activation %s not stored: %s", activation_id, error)
        return activation_id

    async def _activate(
        self, activator: Activator, rule: str, link: TriggerRule, arguments: dict[str, Any]
    ) -> RuleOutcome:
        action = link.action.as_path()
        if link.status is not RuleStatus.ACTIVE:
            return RuleOutcome(
                rule,
                action,
                ActivationStatus.APPLICATION_ERROR,
                error=inactive_rule(rule, action),
            )
        transid = transaction_id(self.request)
        try:
            target = await self._target(link.action)
            api_key = None
            if truthy(target.action.annotations.get("provide-api-key")):
                api_key = parse_basic(self.request.headers.get("Authorization")).compact()
            if isinstance(target.action.exec, SequenceExec):
                activation_id = self._start_sequence(activator, target, arguments, api_key)
                return RuleOutcome(rule, action, ActivationStatus.SUCCESS, activation_id)
            message = activator.message(
                self.identity, target, arguments, transid=transid, blocking=False, api_key=api_key
            )
            await activator.start(message, target.action.limits)
        except ApiError as error:
            return _failed(rule, action, error)
        except MessagingError as error:
            log.warning("[%s] rule %s: activation not queued: %s", transid, rule, error)
            return RuleOutcome(
                rule,
                action,
                ActivationStatus.WHISK_ERROR,
                error=errors.QUEUE_UNAVAILABLE,
                queue_failed=True,
            )
        except Exception:  # one broken rule must not fail the fire of the others
            log.exception("[%s] rule %s: activation failed", transid, rule)
            return RuleOutcome(rule, action, ActivationStatus.WHISK_ERROR, error=errors.INTERNAL)
        return RuleOutcome(rule, action, ActivationStatus.SUCCESS, message.activation_id)

    def _start_sequence(
        self, activator: Activator, target: Target, arguments: dict[str, Any], api_key: str | None
    ) -> str:
        """Start a rule's sequence in the background, as a non-blocking invoke does."""
        conductor = Conductor(
            activator,
            services(self.request).activations,
            component_lookup(self.request, self.identity),
            self.identity,
            transaction_id(self.request),
            api_key=api_key,
        )
        activation_id = new_activation_id()
        launch(
            services(self.request).background,
            conductor.run(
                target,
                sequence_arguments(target.action, arguments, target.inherited),
                activation_id,
                accepted_ms=time.time_ns() // 1_000_000,
            ),
            f"sequence {target.fqn} {activation_id} (rule)",
        )
        return activation_id

    async def _target(self, name: FullyQualifiedName) -> Target:
        """The rule's action as an invoke by the firing identity finds it (404/403/501),
        with the parameters it inherits from its package and binding."""
        return await resolve_target(self.request, self.identity, name.path, name.name)
