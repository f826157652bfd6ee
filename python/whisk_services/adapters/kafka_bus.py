"""The messaging port on Apache Kafka, through confluent-kafka (librdkafka).

Chosen by measurement (bench/kafka_clients.py, README): librdkafka's own threads do the
network work; this module adds one thread per client that waits on librdkafka's queue and
hands results to the event loop, so that no asyncio task ever blocks.

Settings are for latency on small messages: no linger (``linger.ms=0``), Nagle off,
``fetch.min.bytes=1`` (the broker answers a fetch as soon as one message is there) and a
100 ms ``fetch.wait.max.ms`` cap. Producers wait for every in-sync replica (``acks=all``):
an accepted activation must not be lost with one broker. Each topic has one partition, so
its messages keep their order.

Consumers assign their partition themselves (no group rebalance to wait for). A
``from_start`` consumer commits, under its group, the offsets of the messages ``receive``
handed to the application (every second and at close) and resumes there: a message read
from the broker but not yet received when the consumer closes is delivered again to the
next consumer of the group. A ``from_end`` consumer starts at the partition's end.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from confluent_kafka import OFFSET_STORED, Consumer, KafkaError, KafkaException, Producer
from confluent_kafka import TopicPartition as Partition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from whisk_services.ports.messaging import MessagingError, TopicSpec

log = logging.getLogger("whisk.kafka")

POLL_S = 0.1
DELIVERY_TIMEOUT_MS = 30_000
TOPIC_READY_S = 30.0
CLOSE_TIMEOUT_S = 10.0  # a client closing while its broker is gone waits no longer


async def _bounded(work: Callable[[], object], timeout_s: float, what: str) -> None:
    """Run blocking ``work`` in a daemon thread and wait for it at most ``timeout_s``.

    librdkafka's close and flush block while the broker is unreachable; a daemon thread
    (not the loop's executor, which the interpreter joins at exit) lets the daemon stop
    anyway.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def settle() -> None:
        if not done.done():
            done.set_result(None)

    def target() -> None:
        try:
            work()
        except Exception as error:
            log.warning("%s failed: %s", what, error)
        finally:
            if not loop.is_closed():
                loop.call_soon_threadsafe(settle)

    threading.Thread(target=target, name=what, daemon=True).start()
    try:
        await asyncio.wait_for(done, timeout_s)
    except TimeoutError:
        log.warning("%s did not finish within %.0f s; going on without it", what, timeout_s)


_COMMON = {"socket.nagle.disable": True, "log_level": 4}


class KafkaProducer:
    """Sends with ``acks=all`` and no linger; ``send`` resolves on the broker's ack."""

    def __init__(self, bootstrap: str, client_id: str = "whisk") -> None:
        self._producer = Producer(
            {
                **_COMMON,
                "bootstrap.servers": bootstrap,
                "client.id": client_id,
                "linger.ms": 0,
                "acks": "all",
                "message.timeout.ms": DELIVERY_TIMEOUT_MS,
            }
        )
        self._running = True
        self._thread = threading.Thread(target=self._serve, name="kafka-producer", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while self._running:
            self._producer.poll(POLL_S)

    async def send(self, topic: str, value: bytes) -> None:
        """Produce and wait for the delivery report."""
        if not self._running:
            raise MessagingError("the producer is closed")
        loop = asyncio.get_running_loop()
        delivered: asyncio.Future[None] = loop.create_future()

        def settle(future: asyncio.Future[None], error: Any) -> None:
            if future.done():
                return
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(MessagingError(f"kafka refused a message on {topic}: {error}"))

        def report(error: Any, _message: Any) -> None:
            loop.call_soon_threadsafe(settle, delivered, error)

        try:
            self._producer.produce(topic, value, on_delivery=report)
        except (BufferError, KafkaException) as error:
            raise MessagingError(f"kafka cannot take a message on {topic}: {error}") from error
        await delivered

    async def close(self) -> None:
        """Flush for up to 5 s, then stop the polling thread."""
        if not self._running:
            return
        await _bounded(lambda: self._producer.flush(5.0), CLOSE_TIMEOUT_S, "kafka flush")
        self._running = False
        await _bounded(self._thread.join, CLOSE_TIMEOUT_S, "kafka producer thread")


class KafkaConsumer:
    """Reads partition 0 of one topic in a thread and queues the values for ``receive``."""

    def __init__(
        self, bootstrap: str, topic: str, group: str, start: Literal["from_start", "from_end"]
    ) -> None:
        self._topic = topic
        self._start = start
        self._consumer = Consumer(
            {
                **_COMMON,
                "bootstrap.servers": bootstrap,
                "group.id": group,
                "enable.auto.commit": start == "from_start",
                "enable.auto.offset.store": False,  # stored in receive(), not at poll
                "auto.commit.interval.ms": 1000,
                "auto.offset.reset": "earliest",
                "fetch.wait.max.ms": 100,
                "fetch.min.bytes": 1,
            }
        )
        self._queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue()
        self._running = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._received: int | None = None  # the next offset after the last received
        self._stored: int | None = None

    async def open(self) -> None:
        """Assign the partition (at the group's offset or at the end) and start reading."""
        loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._assign)
        except KafkaException as error:
            await asyncio.to_thread(self._consumer.close)
            raise MessagingError(f"cannot read {self._topic}: {error}") from error
        self._running = True
        self._thread = threading.Thread(
            target=self._serve, args=(loop,), name=f"kafka-{self._topic}", daemon=True
        )
        self._thread.start()

    def _assign(self) -> None:
        if self._start == "from_end":
            _low, high = self._consumer.get_watermark_offsets(Partition(self._topic, 0), 10.0)
            self._consumer.assign([Partition(self._topic, 0, high)])
        else:
            self._consumer.assign([Partition(self._topic, 0, OFFSET_STORED)])

    def _store_received(self) -> None:
        """Store the offset ``receive`` reached, for the next commit (``from_start`` only)."""
        received = self._received
        if self._start == "from_start" and received is not None and received != self._stored:
            self._consumer.store_offsets(offsets=[Partition(self._topic, 0, received)])
            self._stored = received

    def _serve(self, loop: asyncio.AbstractEventLoop) -> None:
        while self._running:
            self._store_received()
            message = self._consumer.poll(POLL_S)
            if message is None:
                continue
            error = message.error()
            if error is not None:
                if error.code() != KafkaError._PARTITION_EOF:
                    log.warning("reading %s: %s", self._topic, error)
                continue
            value, offset = message.value(), message.offset()
            if value is not None and offset is not None:
                loop.call_soon_threadsafe(self._queue.put_nowait, (offset, value))

    async def receive(self) -> bytes:
        """The next value; MessagingError once closed."""
        if self._closed:
            raise MessagingError(f"the consumer of {self._topic} is closed")
        item = await self._queue.get()
        if item is None or self._closed:
            self._queue.put_nowait(None)  # wake any other receiver too
            raise MessagingError(f"the consumer of {self._topic} is closed")
        offset, value = item
        self._received = offset + 1  # stored by the polling thread (calls on one handle
        return value  # from two threads starve each other in confluent-kafka)

    async def close(self) -> None:
        """Stop the thread, commit (``from_start``) and close the client."""
        if self._closed:
            return
        self._closed = True
        self._running = False
        self._queue.put_nowait(None)
        if self._thread is not None:
            await _bounded(self._thread.join, CLOSE_TIMEOUT_S, "kafka consumer thread")
            await _bounded(self._store_received, CLOSE_TIMEOUT_S, "kafka offset store")
        await _bounded(self._consumer.close, CLOSE_TIMEOUT_S, f"closing the {self._topic} reader")


class KafkaBus:
    """The message bus of one Kafka cluster (``bootstrap``: ``host:port[,host:port...]``)."""

    def __init__(
        self, bootstrap: str, client_id: str = "whisk", *, metadata_timeout_s: float = 10.0
    ) -> None:
        self.bootstrap = bootstrap
        self._client_id = client_id
        self._metadata_timeout_s = metadata_timeout_s

    async def ensure_topics(self, topics: Sequence[TopicSpec]) -> None:
        """Create missing topics (one partition, as many replicas as the brokers'
        ``default.replication.factor``) and wait until each has a leader.

        The replication factor is the cluster's, never the count of brokers alive right
        now: a topic made while a broker is away would keep fewer replicas for good (Kafka
        never adds any later) and stop taking ``acks=all`` writes when the next broker
        goes. While too few brokers are up for that factor, creation is retried until
        ``TOPIC_READY_S`` and then fails.
        """
        await asyncio.to_thread(self._ensure_topics, list(topics))

    def _ensure_topics(self, topics: list[TopicSpec]) -> None:
        admin = AdminClient({**_COMMON, "bootstrap.servers": self.bootstrap})
        try:
            metadata = admin.list_topics(timeout=self._metadata_timeout_s)
        except KafkaException as error:
            raise MessagingError(f"kafka at {self.bootstrap} unreachable: {error}") from error
        missing = [t for t in topics if t.name not in metadata.topics]
        deadline = time.monotonic() + TOPIC_READY_S
        while missing:
            futures = admin.create_topics(
                [
                    NewTopic(t.name, 1, -1, config={"retention.ms": str(t.retention_ms)})
                    for t in missing
                ]
            )
            short: set[str] = set()
            for name, future in futures.items():
                try:
                    future.result()
                except KafkaException as error:
                    code = error.args[0].code()
                    if code == KafkaError.INVALID_REPLICATION_FACTOR:
                        short.add(name)
                    elif code != KafkaError.TOPIC_ALREADY_EXISTS:
                        raise MessagingError(f"cannot create topic {name}: {error}") from error
            missing = [t for t in missing if t.name in short]
            if missing and time.monotonic() > deadline:
                raise MessagingError(
                    f"cannot create {sorted(t.name for t in missing)}: fewer brokers are up "
                    "than the cluster's default.replication.factor"
                )
            if missing:
                time.sleep(0.5)
        deadline = time.monotonic() + TOPIC_READY_S
        wanted = {t.name for t in topics}
        while True:
            metadata = admin.list_topics(timeout=10)
            ready = {
                name
                for name in wanted
                if name in metadata.topics
                and metadata.topics[name].error is None
                and all(p.leader >= 0 for p in metadata.topics[name].partitions.values())
                and metadata.topics[name].partitions
            }
            if ready == wanted:
                return
            if time.monotonic() > deadline:
                raise MessagingError(f"topics without a leader: {sorted(wanted - ready)}")
            time.sleep(0.1)

    def producer(self) -> KafkaProducer:
        """A new producer (its thread starts now)."""
        return KafkaProducer(self.bootstrap, self._client_id)

    async def consumer(
        self, topic: str, group: str, start: Literal["from_start", "from_end"]
    ) -> KafkaConsumer:
        """A consumer reading once this returns."""
        consumer = KafkaConsumer(self.bootstrap, topic, group, start)
        await consumer.open()
        return consumer
