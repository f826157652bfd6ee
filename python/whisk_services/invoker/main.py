"""`whisk-invoker`: read the settings, then run the activations of topic ``invoker<N>``.

Start: the activations database (created if missing), the action network, the container
pool with its stem cells, the Kafka producer and the consumer of ``invoker<N>`` (resuming at
the group's committed offset, so messages sent while the invoker was down are run when it
comes back). Each message becomes a task; at most ``max_in_flight`` run at once, the pool
queuing those that wait for memory. With ``WHISK_INVOKER_CONSUL_URL`` it then registers in
Consul (``registration``), refreshing its TTL check. On SIGTERM it deregisters, stops taking
messages, lets the running activations finish (up to their timeouts), writes the pending
records and destroys its containers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

import aiohttp

from whisk_services.adapters.consul import ConsulRegistry
from whisk_services.adapters.couchdb import CouchDocumentStore
from whisk_services.adapters.docker_containers import DockerContainerFactory
from whisk_services.adapters.docker_network import ActionNetwork
from whisk_services.adapters.kafka_bus import KafkaBus
from whisk_services.daemon import run_daemon
from whisk_services.invoker.actions import ActionSource
from whisk_services.invoker.pool import ContainerPool, Prewarm
from whisk_services.invoker.records import ActivationRecords
from whisk_services.invoker.registration import InvokerRegistration, invoker_registration
from whisk_services.invoker.runner import ActionRunner
from whisk_services.invoker.service import ActivationService
from whisk_services.model.errors import ModelError
from whisk_services.model.messages import ActivationMessage
from whisk_services.ports.databases import ACTIVATIONS_INDEXES, WHISKS_INDEXES
from whisk_services.ports.messaging import MessageConsumer, MessagingError, TopicSpec
from whisk_services.settings import InvokerSettings, SettingsError

log = logging.getLogger("whisk.invoker")

INVOKER_TOPIC_RETENTION_MS = 48 * 3600 * 1000
MEMORY_PER_SLOT_MB = 128


class MessageFeed:
    """Reads activation messages and runs each as a task, ``max_in_flight`` at most."""

    def __init__(
        self, consumer: MessageConsumer, service: ActivationService, max_in_flight: int
    ) -> None:
        self._consumer = consumer
        self._service = service
        self._slots = asyncio.Semaphore(max_in_flight)
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Take messages until the consumer is closed."""
        while True:
            await self._slots.acquire()
            try:
                raw = await self._consumer.receive()
            except MessagingError:
                self._slots.release()
                return
            try:
                message = ActivationMessage.decode(raw)
            except ModelError as error:
                log.warning("dropping a malformed activation message: %s", error)
                self._slots.release()
                continue
            task = asyncio.create_task(self._handle(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _handle(self, message: ActivationMessage) -> None:
        try:
            await self._service.handle(message)
        finally:
            self._slots.release()

    async def drain(self) -> None:
        """Wait for the activations under way."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _pool(settings: InvokerSettings, factory: DockerContainerFactory) -> ContainerPool:
    prewarm = [
        Prewarm(image, image, p.memory_mb, p.count)
        for p in settings.prewarm
        if (image := settings.runtime_images.get(p.kind)) is not None
    ]
    return ContainerPool(
        factory,
        user_memory_mb=settings.user_memory_mb,
        pause_grace_s=settings.pause_grace_s,
        idle_timeout_s=settings.idle_timeout_s,
        prewarm=prewarm,
        labels={"org.whisk.invoker": settings.unique_name},
        network=settings.network,
    )


async def _register(
    settings: InvokerSettings, stack: contextlib.AsyncExitStack
) -> InvokerRegistration | None:
    """Register in Consul and keep the TTL check passing (None without a Consul URL)."""
    if settings.consul_url is None:
        return None
    registry = ConsulRegistry(settings.consul_url, token=settings.consul_token)
    stack.push_async_callback(registry.close)
    registration = InvokerRegistration(
        registry, invoker_registration(settings), settings.consul_ttl_s
    )
    stack.push_async_callback(registration.stop)
    await registration.start()
    return registration


async def serve(settings: InvokerSettings, stop: asyncio.Event) -> None:
    """Run until ``stop`` is set; every resource is released in reverse order."""
    db = settings.couchdb
    topic = f"invoker{settings.instance}"
    async with contextlib.AsyncExitStack() as stack:
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=32),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
        stack.push_async_callback(session.close)
        auth = (db.user, db.password)
        whisks = CouchDocumentStore(session, db.url, f"{db.db_prefix}whisks", auth)
        activations = CouchDocumentStore(session, db.url, f"{db.db_prefix}activations", auth)
        await whisks.ensure(WHISKS_INDEXES)
        await activations.ensure(ACTIVATIONS_INDEXES)
        network = ActionNetwork(
            settings.network,
            settings.network_subnet,
            settings.network_bridge,
            egress=settings.action_egress,
        )

        async def restore_network(name: str) -> None:
            log.warning("the action network %s vanished; creating it again", name)
            await network.ensure()

        factory = DockerContainerFactory(restore_network=restore_network)
        stack.callback(factory.close)
        removed = await factory.remove_labelled({"org.whisk.invoker": settings.unique_name})
        if removed:
            log.info("removed %d containers left by an earlier run", removed)
        await network.ensure()
        runner = ActionRunner()
        stack.push_async_callback(runner.close)
        pool = _pool(settings, factory)
        stack.push_async_callback(pool.close)
        await pool.start()
        bus = KafkaBus(settings.kafka_hosts, client_id=settings.unique_name)
        await bus.ensure_topics([TopicSpec(topic, INVOKER_TOPIC_RETENTION_MS)])
        producer = bus.producer()
        stack.push_async_callback(producer.close)
        records = ActivationRecords(activations)
        stack.push_async_callback(records.close)
        records.start()
        service = ActivationService(
            instance=settings.instance,
            actions=ActionSource(whisks),
            pool=pool,
            runner=runner,
            producer=producer,
            records=records,
            runtime_images=settings.runtime_images,
            api_host=settings.api_host,
        )
        consumer = await bus.consumer(topic, topic, "from_start")
        slots = max(1, settings.user_memory_mb // MEMORY_PER_SLOT_MB)
        feed = MessageFeed(consumer, service, slots)
        stack.push_async_callback(feed.drain)  # after the consumer closed: no new work
        stack.push_async_callback(consumer.close)
        reading = asyncio.create_task(feed.run())
        registration = await _register(settings, stack)
        log.info(
            "%s reading %s (user memory %d MB, %d stem cells)",
            settings.unique_name,
            topic,
            settings.user_memory_mb,
            pool.prewarm_count,
        )
        await stop.wait()
        if registration is not None:  # first: the controllers stop sending to this invoker
            await registration.stop()
        await consumer.close()
        await reading


def main() -> int:
    return run_daemon("whisk-invoker", InvokerSettings.from_env, serve, (SettingsError,))


if __name__ == "__main__":
    sys.exit(main())
