"""`whisk-controller`: read the settings, open the databases and Kafka, serve the API until
stopped.

With Kafka configured, the controller creates its topics, opens its producer and the
consumer of its completions before it accepts requests, so no completion of an activation
it sent can be missed, and shares its throttle counts with the other controllers (topic
``throttles``); without Kafka it serves the API with invokes answering 503 and its throttles
count what it alone admits.

With ``WHISK_CONTROLLER_CONSUL_URL`` it follows the invokers registered in Consul
(``invoker_pool.ConsulInvokers``: the healthy, undrained ones, creating the topic of each new
one) instead of the configured ``WHISK_CONTROLLER_INVOKERS``.

Either way the balancer uses only the invokers its health monitor finds healthy
(``invoker_health``): the monitor sends the health test action (created in the whisks
database at start) to the unhealthy ones every ``WHISK_CONTROLLER_HEALTH_CYCLE_S`` and, with
Consul, publishes each invoker's state to Consul KV. An activation without completion within
its time limit plus ``WHISK_CONTROLLER_ACK_TIMEOUT_S`` gets a record written by the
controller (``acks``).

Stopping (SIGTERM) loses nothing (``shutdown``): the controller stops accepting requests,
gives those in progress, the blocking waits and the sequences up to
``WHISK_CONTROLLER_DRAIN_S`` to finish, answers the blocking callers still waiting 202 with
their activation id, and only then closes Kafka, Consul and the databases.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Protocol

from aiohttp import web

from whisk_services import __version__
from whisk_services.adapters.consul import ConsulRegistry
from whisk_services.adapters.kafka_bus import KafkaBus
from whisk_services.controller.app import build_app
from whisk_services.controller.auth import Authenticator
from whisk_services.controller.balancer import Balancer
from whisk_services.controller.cache import CachedDocuments
from whisk_services.controller.changes import ChangeFollower
from whisk_services.controller.context import Services
from whisk_services.controller.databases import Databases
from whisk_services.controller.invocations import (
    INVOKER_RETENTION_MS,
    Invocations,
    invoker_topic,
)
from whisk_services.controller.invoker_health import (
    HealthTestAction,
    HealthyInvokers,
    InvokerHealthMonitor,
)
from whisk_services.controller.invoker_pool import ConsulInvokers, InvokerView, StaticInvokers
from whisk_services.controller.runtime_config import ThrottleDefaults
from whisk_services.controller.sequences import cancel_all
from whisk_services.controller.shutdown import graceful_runner, stop_serving
from whisk_services.controller.throttles import ThrottleExchange, Throttles
from whisk_services.daemon import run_daemon
from whisk_services.model.namespace_limits import NamespaceLimits
from whisk_services.ports.databases import (
    ACTIVATIONS_INDEXES,
    SUBJECTS_INDEXES,
    WHISKS_INDEXES,
)
from whisk_services.ports.documents import DocumentStore
from whisk_services.ports.messaging import MessagingError, TopicSpec
from whisk_services.settings import ControllerSettings, SettingsError

log = logging.getLogger("whisk.controller")

# The access log names each request's transaction id, as the error bodies do.
ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs tid=%{X-Request-ID}o'


async def open_invocations(
    settings: ControllerSettings,
    bus: KafkaBus | None,
    activations: DocumentStore,
    invokers: InvokerView | None = None,
    health: InvokerHealthMonitor | None = None,
) -> Invocations | None:
    """The Kafka invoke path, or None without ``KAFKA_HOSTS``; it balances over
    ``invokers`` (default: the configured ones), those ``health`` finds healthy."""
    if bus is None:
        log.warning("no WHISK_CONTROLLER_KAFKA_HOSTS: invokes answer 503")
        return None
    pool = invokers or StaticInvokers(settings.invokers)
    balancer = Balancer(HealthyInvokers(pool, health) if health is not None else pool)
    invocations = await Invocations.open(
        bus,
        activations,
        balancer,
        settings.instance,
        max_wait_s=settings.blocking_wait_s,
        ack_grace_s=settings.ack_timeout_s,
        health=health,
    )
    log.info(
        "controller%d sends to invokers %s through kafka %s",
        settings.instance,
        "from consul" if settings.consul_url else ",".join(map(str, settings.invokers)),
        settings.kafka_hosts,
    )
    return invocations


async def open_discovery(
    settings: ControllerSettings, bus: KafkaBus | None
) -> tuple[ConsulRegistry, ConsulInvokers] | None:
    """The invokers in Consul, followed from now on, or None without ``CONSUL_URL``."""
    if settings.consul_url is None or bus is None:
        return None
    registry = ConsulRegistry(settings.consul_url, token=settings.consul_token)

    async def new_invoker(instance: int) -> None:
        await bus.ensure_topics([TopicSpec(invoker_topic(instance), INVOKER_RETENTION_MS)])

    pool = ConsulInvokers(registry, on_new=new_invoker)
    await pool.start()
    log.info("following the invokers in consul at %s", settings.consul_url)
    return registry, pool


def health_monitor(
    settings: ControllerSettings,
    bus: KafkaBus | None,
    discovery: tuple[ConsulRegistry, ConsulInvokers] | None,
) -> InvokerHealthMonitor | None:
    """The invokers' health (publishing to Consul KV with ``discovery``); None without
    Kafka."""
    if bus is None:
        return None
    return InvokerHealthMonitor(
        discovery[1] if discovery is not None else StaticInvokers(settings.invokers),
        settings.instance,
        registry=discovery[0] if discovery is not None else None,
        cycle_s=settings.health_cycle_s,
    )


async def start_health(
    monitor: InvokerHealthMonitor | None, invocations: Invocations | None, whisks: DocumentStore
) -> None:
    """Create the health test action if missing and start the health rounds (with both)."""
    if monitor is None or invocations is None:
        return
    test = await HealthTestAction.ensure(whisks, monitor.controller)

    async def send_test(invoker: int) -> None:
        message = test.message()
        log.info("health test %s to invoker%d", message.activation_id, invoker)
        await invocations.send_health_test(message, invoker)

    monitor.send_test = send_test
    monitor.start()


def throttle_defaults(settings: ControllerSettings) -> NamespaceLimits:
    """The limits of a namespace without its own."""
    return NamespaceLimits(
        invocationsPerMinute=settings.invocations_per_minute,
        concurrentInvocations=settings.concurrent_invocations,
        firesPerMinute=settings.fires_per_minute,
    )


class Follower(Protocol):
    """A background follower the controller starts once serving and stops at the end."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def runtime_config(
    settings: ControllerSettings,
    discovery: tuple[ConsulRegistry, ConsulInvokers] | None,
    throttles: Throttles,
) -> list[Follower]:
    """With Consul, the follower of the throttle defaults in its KV (over the environment's)."""
    if discovery is None:
        return []
    return [ThrottleDefaults(discovery[0], throttles, throttle_defaults(settings))]


async def open_stores(databases: Databases) -> tuple[DocumentStore, DocumentStore, DocumentStore]:
    """The subjects, whisks and activations stores, with the indexes each needs."""
    stores = (
        (databases.store("subjects"), SUBJECTS_INDEXES),
        (databases.store("whisks"), WHISKS_INDEXES),
        (databases.store("activations"), ACTIVATIONS_INDEXES),
    )
    for store, indexes in stores:
        await store.ensure(indexes)
    return stores[0][0], stores[1][0], stores[2][0]


async def serve(settings: ControllerSettings, stop: asyncio.Event) -> None:
    databases = Databases(settings.couchdb)
    followers: list[Follower] = []
    runner: web.AppRunner | None = None
    invocations: Invocations | None = None
    exchange: ThrottleExchange | None = None
    services: Services | None = None
    discovery: tuple[ConsulRegistry, ConsulInvokers] | None = None
    monitor: InvokerHealthMonitor | None = None
    try:
        subjects, whisks, activations = await open_stores(databases)
        subjects_feed = ChangeFollower(databases.store("subjects"))
        whisks_feed = ChangeFollower(databases.store("whisks"))
        followers = [subjects_feed, whisks_feed]
        throttles = Throttles(
            settings.instance,
            subjects,
            defaults=throttle_defaults(settings),
            follower=subjects_feed,
        )
        bus = (
            KafkaBus(settings.kafka_hosts, client_id=f"controller{settings.instance}")
            if settings.kafka_hosts is not None
            else None
        )
        discovery = await open_discovery(settings, bus)
        invokers = discovery[1] if discovery is not None else None
        followers += runtime_config(settings, discovery, throttles)
        monitor = health_monitor(settings, bus, discovery)
        invocations = await open_invocations(settings, bus, activations, invokers, monitor)
        if bus is not None and invocations is not None:
            invocations.tracker = throttles
            exchange = await ThrottleExchange.open(bus, throttles)
        await start_health(monitor, invocations, whisks)
        services = Services(
            whisks=CachedDocuments(whisks, whisks_feed),
            whisks_store=whisks,
            activations=activations,
            authenticator=Authenticator(subjects, subjects_feed),
            subjects=CachedDocuments(subjects, subjects_feed),
            build=f"whisk-services {__version__}",
            invocations=invocations,
            throttles=throttles,
        )
        for follower in followers:
            await follower.start()
        runner = graceful_runner(
            build_app(services),
            services,
            settings.drain_s,
            access_log_format=ACCESS_LOG_FORMAT,
        )
        await runner.setup()
        await web.TCPSite(runner, settings.host, settings.port).start()
        log.info(
            "controller%d listening on %s:%d (databases %s*)",
            settings.instance,
            settings.host,
            settings.port,
            settings.couchdb.db_prefix,
        )
        await stop.wait()
    finally:
        if runner is not None and services is not None:
            await stop_serving(runner, services)
        elif services is not None:
            await cancel_all(services.background)
        if exchange is not None:
            await exchange.close()
        if monitor is not None:
            await monitor.close()
        if invocations is not None:
            await invocations.close()
        if discovery is not None:
            await discovery[1].close()
            await discovery[0].close()
        for follower in followers:
            await follower.stop()
        await databases.close()


def main() -> int:
    try:
        return run_daemon("whisk-controller", ControllerSettings.from_env, serve, (SettingsError,))
    except MessagingError as error:
        print(f"whisk-controller: kafka unavailable at start: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
