"""The messaging port on the real Kafka broker (adapters/kafka_bus.py).

What the daemons rely on: topics created once and ready to use, acknowledged sends, order,
a group that resumes where it stopped (an invoker restarting runs what was sent meanwhile),
a consumer opened at the end that sees only what follows, and clear errors.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource

from whisk_services.adapters.kafka_bus import KafkaBus
from whisk_services.ports.messaging import MessagingError, TopicSpec
from whisk_testbed.kafka import KafkaBroker

pytestmark = pytest.mark.integration


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout=90))


def topic_name() -> str:
    return f"bus-{uuid.uuid4().hex[:10]}"


def test_topics_are_created_once_with_their_retention(kafka_broker: KafkaBroker) -> None:
    bus = KafkaBus(kafka_broker.bootstrap_servers)
    name = topic_name()

    async def body() -> None:
        await bus.ensure_topics([TopicSpec(name, 3_600_000)])
        await bus.ensure_topics([TopicSpec(name, 3_600_000)])  # already there: fine

    run(body)
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers})
    metadata = admin.list_topics(timeout=10)
    assert len(metadata.topics[name].partitions) == 1

    (future,) = admin.describe_configs([ConfigResource("topic", name)]).values()
    assert future.result()["retention.ms"].value == "3600000"


def test_sends_arrive_in_order_and_a_group_resumes_after_a_restart(
    kafka_broker: KafkaBroker,
) -> None:
    bus = KafkaBus(kafka_broker.bootstrap_servers)
    name = topic_name()

    async def body() -> None:
        await bus.ensure_topics([TopicSpec(name, 3_600_000)])
        producer = bus.producer()
        for n in range(5):
            await producer.send(name, f"m{n}".encode())
        first = await bus.consumer(name, "group-a", "from_start")
        got = [await first.receive() for _ in range(3)]
        await first.close()  # commits what it received
        with pytest.raises(MessagingError):
            await first.receive()
        for n in range(5, 7):
            await producer.send(name, f"m{n}".encode())  # sent while nobody reads
        second = await bus.consumer(name, "group-a", "from_start")
        rest = [await second.receive() for _ in range(4)]
        await second.close()
        await producer.close()
        assert got == [b"m0", b"m1", b"m2"]
        assert rest == [b"m3", b"m4", b"m5", b"m6"]

    run(body)


def test_a_consumer_from_the_end_sees_only_what_follows(kafka_broker: KafkaBroker) -> None:
    bus = KafkaBus(kafka_broker.bootstrap_servers)
    name = topic_name()

    async def body() -> None:
        await bus.ensure_topics([TopicSpec(name, 3_600_000)])
        producer = bus.producer()
        await producer.send(name, b"before")
        consumer = await bus.consumer(name, "group-b", "from_end")
        await producer.send(name, b"after")
        assert await consumer.receive() == b"after"
        await consumer.close()
        await producer.close()

    run(body)


def test_a_closed_client_refuses_clearly(kafka_broker: KafkaBroker) -> None:
    bus = KafkaBus(kafka_broker.bootstrap_servers)
    name = topic_name()

    async def body() -> None:
        await bus.ensure_topics([TopicSpec(name, 3_600_000)])
        producer = bus.producer()
        await producer.close()
        with pytest.raises(MessagingError, match="closed"):
            await producer.send(name, b"x")
        consumer = await bus.consumer(name, "group-c", "from_end")
        await consumer.close()
        with pytest.raises(MessagingError, match="closed"):
            await consumer.receive()

    run(body)


def test_an_unreachable_broker_is_a_clear_error() -> None:
    bus = KafkaBus("127.0.0.1:1", metadata_timeout_s=1.0)

    async def body() -> None:
        with pytest.raises(MessagingError, match="unreachable"):
            await bus.ensure_topics([TopicSpec("t", 1000)])

    run(body)
