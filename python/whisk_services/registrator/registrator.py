"""The registrator's loop: container events → registrations, and the full resync.

On start it subscribes to the engine's container events, then resyncs: every running
container's declared services are registered, and every service of the local agent that is
ours (``services.owned``) but no running container declares is deregistered. Each event
(start, die, stop, kill, destroy) re-inspects its container and applies the difference:
a container that is gone or not running loses its services, a running one gets them.

The resync runs again every ``resync_s``; after a failed one (Consul or Docker unreachable)
it retries every ``retry_s`` until one succeeds, so services come back soon after Consul
does (a Consul agent restarted in dev mode, or one that lost its state, has forgotten them).
If the event stream ends (the engine restarted), the registrator subscribes again and
resyncs. A service is re-registered only when it differs from what the agent holds, so a
resync does not reset the health of its checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

from whisk_services.ports.container_events import (
    ContainerEvent,
    ContainerSource,
    ContainerSourceError,
    EventStream,
)
from whisk_services.ports.discovery import DiscoveryError, Registration, ServiceRegistry
from whisk_services.registrator.services import (
    ACTION_ROLE,
    ROLE_LABEL,
    ContainerSpec,
    declared_services,
    owned,
)

log = logging.getLogger("whisk.registrator")

DEFAULT_RETRY_S = 2.0


def _same(a: Registration, b: Registration) -> bool:
    """Equal as the agent reports them (``local_services`` does not answer checks)."""
    return (a.id, a.name, a.address, a.port, tuple(a.tags), dict(a.meta)) == (
        b.id,
        b.name,
        b.address,
        b.port,
        tuple(b.tags),
        dict(b.meta),
    )


class Registrator:
    """Keeps ``registry`` (the local agent) in step with the containers of ``source``."""

    def __init__(
        self,
        source: ContainerSource,
        registry: ServiceRegistry,
        *,
        hostname: str,
        host_ip: str,
        resync_s: float = 30.0,
        retry_s: float = DEFAULT_RETRY_S,
    ) -> None:
        self._source = source
        self._registry = registry
        self._hostname = hostname
        self._host_ip = host_ip
        self._resync_s = resync_s
        self._retry_s = min(retry_s, resync_s)
        self._lock = asyncio.Lock()
        self._failing = False  # the last resync failed (its warning was logged)
        self._services: dict[str, dict[str, Registration]] = {}  # container id → id → reg.
        self.resyncs = 0  # successful resyncs, for tests and logs

    def _declared(
        self, attrs: Mapping[str, Any] | None, level: int = logging.WARNING
    ) -> dict[str, Registration]:
        if attrs is None:
            return {}
        spec = ContainerSpec.from_inspect(attrs)
        declared = declared_services(spec, hostname=self._hostname, host_ip=self._host_ip)
        if not declared.registrations and (
            not spec.running or spec.labels.get(ROLE_LABEL) == ACTION_ROLE
        ):
            level = logging.DEBUG  # stopped, or an action container: as expected
        if any(key.startswith("SERVICE_") for key in {**spec.labels, **spec.env}):
            for note in declared.notes:
                log.log(level, "container %s (%s): %s", spec.name, spec.id[:12], note)
        return {r.id: r for r in declared.registrations}

    async def handle(self, event: ContainerEvent) -> None:
        """Apply one event: re-inspect its container and register or deregister."""
        async with self._lock:
            try:
                attrs = await self._source.inspect(event.container_id)
            except ContainerSourceError as error:
                log.warning("event %s %s: %s", event.action, event.container_id[:12], error)
                return
            wanted = self._declared(attrs)
            held = self._services.get(event.container_id, {})
            try:
                for service_id in held.keys() - wanted.keys():
                    await self._registry.deregister(service_id)
                    log.info("deregistered %s (%s)", service_id, event.action)
                for service_id, registration in wanted.items():
                    if service_id not in held or not _same(held[service_id], registration):
                        await self._registry.register(registration)
                        log.info("registered %s as %s", service_id, registration.name)
            except DiscoveryError as error:
                log.warning("consul: %s (the next resync repairs it)", error)
            if wanted:
                self._services[event.container_id] = wanted
            else:
                self._services.pop(event.container_id, None)

    async def resync(self) -> bool:
        """Register every running container's services and deregister our services that no
        running container declares; False if Docker or Consul could not be reached."""
        async with self._lock:
            try:
                running = await self._source.running()
                present = await self._registry.local_services()
                services: dict[str, dict[str, Registration]] = {}
                for attrs in running:
                    wanted = self._declared(attrs, logging.DEBUG)
                    if wanted:
                        services[str(attrs.get("Id", ""))] = wanted
                desired = {sid: r for regs in services.values() for sid, r in regs.items()}
                for service_id, registration in present.items():
                    if service_id not in desired and owned(registration, self._hostname):
                        await self._registry.deregister(service_id)
                        log.info("deregistered %s (resync: no container declares it)", service_id)
                for service_id, registration in desired.items():
                    if service_id not in present or not _same(present[service_id], registration):
                        await self._registry.register(registration)
                        log.info("registered %s as %s (resync)", service_id, registration.name)
            except (ContainerSourceError, DiscoveryError) as error:
                if not self._failing:  # once per outage; the retries go on every 2 s
                    log.warning("resync failed (retrying until it succeeds): %s", error)
                self._failing = True
                return False
            if self._failing:
                log.info("resync succeeded again")
            self._failing = False
            self._services = services
            self.resyncs += 1
            return True

    async def _resync_forever(self) -> None:
        synced = False
        while True:
            ok = await self.resync()
            if ok and not synced:
                count = sum(len(services) for services in self._services.values())
                log.info("following container events; resynced, %d services registered", count)
                synced = True
            await asyncio.sleep(self._resync_s if ok else self._retry_s)

    async def _consume(self, stream: EventStream) -> None:
        while (event := await stream.next()) is not None:
            await self.handle(event)

    async def run(self, stop: asyncio.Event) -> None:
        """Follow events and resync until ``stop`` is set; subscribe again (and resync) when
        the event stream ends."""
        while not stop.is_set():
            try:
                stream = await self._source.watch()
            except ContainerSourceError as error:
                log.warning("cannot follow container events: %s", error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._retry_s)
                continue
            started = time.monotonic()
            tasks = [
                asyncio.create_task(self._consume(stream)),
                asyncio.create_task(self._resync_forever()),
                asyncio.create_task(stop.wait()),
            ]
            try:
                await asyncio.wait({tasks[0], tasks[2]}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for task in tasks:
                    task.cancel()
                for result in await asyncio.gather(*tasks, return_exceptions=True):
                    if isinstance(result, Exception):
                        log.error("registrator task failed", exc_info=result)
                await stream.close()
            if not stop.is_set():
                log.warning("container event stream ended; subscribing again")
                pause = max(0.0, self._retry_s - (time.monotonic() - started))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
