"""The Kafka broker assembled from Maven Central is real: admin API, tools, produce, consume.

The client is the one the platform uses (confluent-kafka, through its asyncio wrappers),
chosen by bench/kafka_clients.py.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid

import pytest
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.aio import AIOConsumer, AIOProducer
from confluent_kafka.cimpl import NewTopic

from whisk_testbed.artifacts import find_artifact
from whisk_testbed.kafka import KafkaBroker

pytestmark = pytest.mark.integration


def create_topic(broker: KafkaBroker, name: str, partitions: int = 1) -> None:
    """Create a topic and wait until every partition has a leader.

    Kafka accepts a creation before its metadata has spread: a client asking at once may
    not see the topic, or see it without leaders, yet.
    """
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    futures = admin.create_topics([NewTopic(name, partitions, 1)])
    futures[name].result(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        topic = admin.list_topics(topic=name, timeout=10).topics.get(name)
        leaders = [] if topic is None or topic.error else topic.partitions.values()
        if len(leaders) == partitions and all(p.leader >= 0 for p in leaders):
            return
        time.sleep(0.1)
    raise AssertionError(f"topic {name} has no leader for every partition after 30 s")


def test_topic_created_through_the_admin_api_is_listed(kafka_broker: KafkaBroker) -> None:
    name = f"invoker-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_broker, name, partitions=3)
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers})
    metadata = admin.list_topics(timeout=10)
    assert name in metadata.topics
    assert len(metadata.topics[name].partitions) == 3

    # Kafka's own admin tool, from the staged distribution, sees the same topic.
    tool = find_artifact("kafka").path / "bin" / "kafka-topics"
    described = subprocess.run(
        [str(tool), "--bootstrap-server", kafka_broker.bootstrap_servers, "--describe",
         "--topic", name],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert f"Topic: {name}" in described.stdout
    assert "PartitionCount: 3" in described.stdout


def test_topic_created_by_the_tool_accepts_messages(kafka_broker: KafkaBroker) -> None:
    name = f"completed-{uuid.uuid4().hex[:8]}"
    tool = find_artifact("kafka").path / "bin" / "kafka-topics"
    subprocess.run(
        [str(tool), "--bootstrap-server", kafka_broker.bootstrap_servers, "--create",
         "--topic", name, "--partitions", "1", "--replication-factor", "1"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers})
    assert name in admin.list_topics(timeout=10).topics


async def _round_trip(bootstrap: str, topic: str, payloads: list[bytes]) -> list[bytes]:
    producer = AIOProducer(
        {"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": "all"}, buffer_timeout=0
    )
    consumer = AIOConsumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"test-{topic}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        },
        max_workers=2,
    )
    try:
        deliveries = [await producer.produce(topic, payload) for payload in payloads]
        await producer.flush()
        offsets = [(await delivery).offset() for delivery in deliveries]
        assert offsets == list(range(len(payloads)))

        await consumer.assign([TopicPartition(topic, 0, 0)])
        received: list[bytes] = []
        for _ in range(200):
            if len(received) == len(payloads):
                break
            message = await consumer.poll(0.5)
            if message is None:
                continue
            assert message.error() is None
            received.append(message.value())
        return received
    finally:
        await consumer.close()
        await producer.close()


def test_messages_produced_are_consumed_in_order(kafka_broker: KafkaBroker) -> None:
    topic = f"invoker0-{uuid.uuid4().hex[:8]}"
    create_topic(kafka_broker, topic)
    payloads = [f'{{"activationId": "{uuid.uuid4().hex}"}}'.encode() for _ in range(20)]
    received = asyncio.run(_round_trip(kafka_broker.bootstrap_servers, topic, payloads))
    assert received == payloads
