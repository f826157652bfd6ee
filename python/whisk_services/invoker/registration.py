"""The invoker's registration in Consul: how the controllers learn it exists and is alive.

The invoker registers service ``invoker`` with id ``invoker<N>``, its address and port, tag
``whisk`` and meta ``instance``, ``uniqueName``, ``userMemory`` (MB) and ``kinds`` (its runtime
kinds, comma-separated), with a TTL check it reports passing every third of the TTL. An
invoker that stops reporting (killed, hung, cut off) turns critical after one TTL, and
Consul removes it after ``DEREGISTER_AFTER_TTLS`` TTLs. (Registrator owns only the services
whose id starts with its host name, so it leaves ``invoker<N>`` alone.)

A failed report is logged once per outage and retried at the next tick, registering again
first (the agent may have restarted and forgotten the service): Consul being unreachable
never stops the invoker. On a clean shutdown the invoker deregisters before it stops
taking work, so the controllers stop sending to it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from whisk_services.ports.discovery import Check, DiscoveryError, Registration, ServiceRegistry
from whisk_services.settings import InvokerSettings

log = logging.getLogger("whisk.invoker.registration")

SERVICE = "invoker"
DEREGISTER_AFTER_TTLS = 10


def invoker_registration(settings: InvokerSettings) -> Registration:
    """The registration of the invoker ``settings`` describe."""
    ttl_s = settings.consul_ttl_s
    return Registration(
        id=f"invoker{settings.instance}",
        name=SERVICE,
        address=settings.advertise_address,
        port=settings.port,
        tags=("whisk",),
        meta={
            "instance": str(settings.instance),
            "uniqueName": settings.unique_name,
            "userMemory": str(settings.user_memory_mb),
            "kinds": ",".join(sorted(settings.runtime_images)),
        },
        check=Check(ttl_s=ttl_s, deregister_after_s=DEREGISTER_AFTER_TTLS * ttl_s),
    )


class InvokerRegistration:
    """Keeps ``registration`` registered and its TTL check passing until ``stop``."""

    def __init__(self, registry: ServiceRegistry, registration: Registration, ttl_s: float) -> None:
        self.registry = registry
        self.registration = registration
        self.period_s = ttl_s / 3
        self.registered = False
        self._outage = False
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Register and report passing once now (failures logged), then keep reporting."""
        await self.refresh()
        self._task = asyncio.create_task(self._keep_alive(), name="consul-ttl")

    async def refresh(self) -> bool:
        """Register if needed and report passing; False (logged) when Consul failed."""
        service_id = self.registration.id
        try:
            if not self.registered:
                await self.registry.register(self.registration)
                self.registered = True
                log.info("registered %s in consul", service_id)
            await self.registry.pass_ttl(service_id, "alive")
        except DiscoveryError as error:
            self.registered = False  # register again next time: the agent may have lost it
            if not self._outage:
                log.warning("cannot report %s alive to consul (retrying): %s", service_id, error)
                self._outage = True
            return False
        if self._outage:
            log.info("%s reported alive to consul again", service_id)
            self._outage = False
        return True

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(self.period_s)
            await self.refresh()

    async def stop(self) -> None:
        """Stop reporting and deregister (a failure is logged); idempotent."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        try:
            await self.registry.deregister(self.registration.id)
            log.info("deregistered %s from consul", self.registration.id)
        except DiscoveryError as error:
            log.warning("cannot deregister %s from consul: %s", self.registration.id, error)
