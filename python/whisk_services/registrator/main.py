"""`whisk-registrator`: read the settings, then keep Consul in step with Docker's containers.

Talks to the Docker engine of ``DOCKER_HOST`` (the local socket by default) and to the
Consul agent of ``WHISK_REGISTRATOR_CONSUL_URL``. On SIGTERM it stops following events and
leaves the registrations in place: the containers still run (Registrator did the same).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from whisk_services.adapters.consul import ConsulRegistry
from whisk_services.adapters.docker_events import DockerContainerSource
from whisk_services.daemon import run_daemon
from whisk_services.registrator.registrator import Registrator
from whisk_services.settings import RegistratorSettings, SettingsError

log = logging.getLogger("whisk.registrator")


async def serve(settings: RegistratorSettings, stop: asyncio.Event) -> None:
    """Run the registrator until ``stop`` is set."""
    source = DockerContainerSource()
    registry = ConsulRegistry(settings.consul_url, token=settings.consul_token)
    try:
        log.info(
            "registrator %s: consul %s, services at %s, resync every %gs",
            settings.hostname,
            settings.consul_url,
            settings.host_ip,
            settings.resync_s,
        )
        registrator = Registrator(
            source,
            registry,
            hostname=settings.hostname,
            host_ip=settings.host_ip,
            resync_s=settings.resync_s,
        )
        await registrator.run(stop)
    finally:
        await registry.close()
        await source.close()


def main() -> int:
    """The console script: the exit status."""
    return run_daemon("whisk-registrator", RegistratorSettings.from_env, serve, (SettingsError,))


if __name__ == "__main__":
    sys.exit(main())
