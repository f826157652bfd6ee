"""Runtime settings an operator changes live, from Consul KV, with the environment as the
fallback.

The throttle defaults (the limits of a namespace without its own) are the JSON object at
``whisk/config/throttles``, any of ``invocationsPerMinute``, ``concurrentInvocations`` and
``firesPerMinute``, written by ``wskadmin config set-throttles``. ``ThrottleDefaults``
follows the key by blocking queries and applies what it sets over the environment's
defaults; the key absent, they are the environment's again. A malformed value is logged
and the environment's defaults apply. While Consul cannot be reached the last known
defaults stay in force (logged once per outage).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Protocol

from whisk_services.model.errors import ModelError
from whisk_services.model.namespace_limits import NamespaceLimits
from whisk_services.ports.discovery import DiscoveryError, ServiceRegistry

log = logging.getLogger("whisk.controller.runtime_config")

THROTTLES_KEY = "whisk/config/throttles"


class DefaultsTarget(Protocol):
    """What takes the throttle defaults (``Throttles``)."""

    def set_defaults(self, defaults: NamespaceLimits) -> None: ...


def parse_throttles(raw: bytes) -> NamespaceLimits:
    """The limits the KV value ``raw`` sets; ModelError when it is not such an object."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelError(f"not JSON: {error}") from None
    if not isinstance(body, dict):
        raise ModelError("not a JSON object")
    unknown = set(body) - set(NamespaceLimits.names())
    if unknown:
        raise ModelError(f"unknown limits: {', '.join(sorted(unknown))}")
    return NamespaceLimits(**body)


class ThrottleDefaults:
    """Follows ``THROTTLES_KEY`` and gives ``target`` the defaults: the key's over ``env``."""

    def __init__(
        self,
        registry: ServiceRegistry,
        target: DefaultsTarget,
        env: NamespaceLimits,
        *,
        wait_s: float = 60.0,
        retry_s: float = 1.0,
    ) -> None:
        self._registry = registry
        self._target = target
        self._env = env
        self._wait_s = wait_s
        self._retry_s = retry_s
        self._raw: bytes | None = None
        self.current = env
        self._task: asyncio.Task[None] | None = None
        self._first = asyncio.Event()

    async def start(self, first_wait_s: float = 5.0) -> None:
        """Start following; wait up to ``first_wait_s`` for the first answer."""
        self._task = asyncio.create_task(self._follow(), name="config-throttles")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first.wait(), first_wait_s)

    async def stop(self) -> None:
        """Stop following."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def apply(self, raw: bytes | None) -> None:
        """Apply the key's value (None: absent) if it changed."""
        if raw == self._raw and self._first.is_set():
            return
        self._raw = raw
        defaults = self._env
        if raw is not None:
            try:
                defaults = self._env.merged(parse_throttles(raw))
            except ModelError as error:
                log.warning("%s is malformed, the environment's apply: %s", THROTTLES_KEY, error)
        if defaults != self.current or not self._first.is_set():
            self._target.set_defaults(defaults)
            if defaults != self.current:
                log.info("throttle defaults now %s", defaults.set())
            self.current = defaults

    async def _follow(self) -> None:
        index: int | None = None
        outage = False
        while True:
            try:
                tree, next_index = await self._registry.kv_tree(
                    THROTTLES_KEY, index=index, wait_s=self._wait_s
                )
            except DiscoveryError as error:
                if not outage:
                    log.warning("consul unreachable, keeping the throttle defaults: %s", error)
                    outage = True
                index = None
                await asyncio.sleep(self._retry_s)
                continue
            outage = False
            self.apply(tree.get(THROTTLES_KEY))
            self._first.set()
            index = next_index
