"""Measure the Python Kafka clients the platform could use, against a real local broker.

For each candidate (aiokafka, confluent-kafka used directly and through its asyncio wrappers,
kafka-python) it measures, one message at a
time on its own topic: the acknowledged produce (what a non-blocking invoke waits for) and
produce-to-consume (what the controller → invoker hop costs). Every client is set for latency
(no linger, Nagle off where the client allows it). Figures are printed and saved as JSON
under bench/results/, beside the floor measured in the same run: an 8-byte round trip over a
loopback TCP socket. It starts its own ZooKeeper and broker on loopback ports.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as ConfluentPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.aio import AIOConsumer, AIOProducer
from confluent_kafka.cimpl import NewTopic
from kafka import KafkaConsumer, KafkaProducer
from kafka import TopicPartition as PyPartition

from whisk_testbed.kafka import KafkaBroker
from whisk_testbed.network import LOOPBACK
from whisk_testbed.zookeeper import ZooKeeperServer

WARMUP = 50
SAMPLES = 1000
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Figures:
    """Latency percentiles of one measurement, in milliseconds."""

    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, seconds: list[float]) -> Figures:
        ms = sorted(s * 1000 for s in seconds)
        cuts = statistics.quantiles(ms, n=100, method="inclusive")
        return cls(round(cuts[49], 3), round(cuts[89], 3), round(cuts[98], 3), round(ms[-1], 3))


def create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(n, num_partitions=1, replication_factor=1) for n in names]
    )
    for future in futures.values():
        future.result(timeout=30)


async def measure_aiokafka(bootstrap: str, topic: str) -> dict[str, Figures]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks=1)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    await producer.start()
    await consumer.start()
    partition = TopicPartition(topic, 0)
    consumer.assign([partition])
    await consumer.seek_to_end(partition)
    acked: list[float] = []
    hop: list[float] = []
    try:
        for i in range(WARMUP + SAMPLES):
            start = time.perf_counter()
            await producer.send_and_wait(topic, str(i).encode())
            ack = time.perf_counter()
            message = await consumer.getone()
            done = time.perf_counter()
            assert message.value == str(i).encode()
            if i >= WARMUP:
                acked.append(ack - start)
                hop.append(done - start)
    finally:
        await consumer.stop()
        await producer.stop()
    return {"produce_acked": Figures.of(acked), "produce_to_consume": Figures.of(hop)}


def measure_confluent(bootstrap: str, topic: str) -> dict[str, Figures]:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": 1, "socket.nagle.disable": True}
    )
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{topic}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
            "fetch.min.bytes": 1,
            "socket.nagle.disable": True,
        }
    )
    _low, high = consumer.get_watermark_offsets(ConfluentPartition(topic, 0), timeout=10)
    consumer.assign([ConfluentPartition(topic, 0, high)])
    acked: list[float] = []
    hop: list[float] = []
    delivered: list[float] = []

    def on_delivery(error: Any, _message: Any) -> None:
        if error is not None:
            raise RuntimeError(error)
        delivered.append(time.perf_counter())

    try:
        for i in range(WARMUP + SAMPLES):
            start = time.perf_counter()
            producer.produce(topic, str(i).encode(), on_delivery=on_delivery)
            producer.flush(10)
            ack = delivered[-1]
            message = None
            while message is None:
                message = consumer.poll(5.0)
            done = time.perf_counter()
            assert message.error() is None
            assert message.value() == str(i).encode()
            if i >= WARMUP:
                acked.append(ack - start)
                hop.append(done - start)
    finally:
        consumer.close()
    return {"produce_acked": Figures.of(acked), "produce_to_consume": Figures.of(hop)}


async def measure_confluent_aio(bootstrap: str, topic: str) -> dict[str, Figures]:
    """confluent-kafka's asyncio wrappers: librdkafka calls run in executor threads."""
    producer = AIOProducer(
        {"bootstrap.servers": bootstrap, "linger.ms": 0, "acks": 1, "socket.nagle.disable": True},
        buffer_timeout=0,
    )
    consumer = AIOConsumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{topic}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 100,
            "socket.nagle.disable": True,
        },
        max_workers=2,
    )
    _low, high = await consumer.get_watermark_offsets(ConfluentPartition(topic, 0), timeout=10)
    await consumer.assign([ConfluentPartition(topic, 0, high)])
    acked: list[float] = []
    hop: list[float] = []
    try:
        for i in range(WARMUP + SAMPLES):
            start = time.perf_counter()
            delivery = await producer.produce(topic, str(i).encode())
            await producer.flush()
            await delivery
            ack = time.perf_counter()
            message = None
            while message is None:
                message = await consumer.poll(5.0)
            done = time.perf_counter()
            assert message.error() is None
            assert message.value() == str(i).encode()
            if i >= WARMUP:
                acked.append(ack - start)
                hop.append(done - start)
    finally:
        await consumer.close()
        await producer.close()
    return {"produce_acked": Figures.of(acked), "produce_to_consume": Figures.of(hop)}


def measure_kafka_python(bootstrap: str, topic: str) -> dict[str, Figures]:
    producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks=1)
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100
    )
    partition = PyPartition(topic, 0)
    consumer.assign([partition])
    consumer.seek_to_end(partition)
    consumer.position(partition)
    acked: list[float] = []
    hop: list[float] = []
    try:
        for i in range(WARMUP + SAMPLES):
            start = time.perf_counter()
            producer.send(topic, str(i).encode()).get(timeout=10)
            ack = time.perf_counter()
            records: list[Any] = []
            while not records:
                batch = consumer.poll(timeout_ms=5000, max_records=1)
                records = [r for rs in batch.values() for r in rs]
            done = time.perf_counter()
            assert records[0].value == str(i).encode()
            if i >= WARMUP:
                acked.append(ack - start)
                hop.append(done - start)
    finally:
        consumer.close()
        producer.close()
    return {"produce_acked": Figures.of(acked), "produce_to_consume": Figures.of(hop)}


def measure_loopback_floor() -> dict[str, Figures]:
    """The floor under every hop: an 8-byte request and reply over a loopback TCP socket."""
    server = socket.create_server((LOOPBACK, 0))
    port = server.getsockname()[1]

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while data := conn.recv(64):
                conn.sendall(data)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    rtt: list[float] = []
    with socket.create_connection((LOOPBACK, port)) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(WARMUP + SAMPLES):
            start = time.perf_counter()
            client.sendall(b"12345678")
            client.recv(64)
            if i >= WARMUP:
                rtt.append(time.perf_counter() - start)
    thread.join(timeout=5)
    server.close()
    return {"round_trip": Figures.of(rtt)}


def versions() -> dict[str, str]:
    from importlib.metadata import version  # noqa: PLC0415

    import confluent_kafka  # noqa: PLC0415

    return {
        "aiokafka": version("aiokafka"),
        "confluent-kafka": version("confluent-kafka"),
        "librdkafka": str(confluent_kafka.libversion()[0]),
        "kafka-python": version("kafka-python"),
        "python": platform.python_version(),
    }


def main() -> int:
    # Server logs stay under test-logs/ (or $WHISK_TEST_LOGS) to read when a run fails.
    logs = Path(
        os.environ.get("WHISK_TEST_LOGS", Path(__file__).resolve().parents[1] / "test-logs")
    )
    workdir = logs / time.strftime("bench-kafka-%Y%m%d-%H%M%S")
    zookeeper = ZooKeeperServer(workdir / "zookeeper")
    zookeeper.start()
    broker = KafkaBroker(workdir / "kafka", zookeeper.connect_string)
    try:
        broker.start()
        bootstrap = broker.bootstrap_servers
        runs: dict[str, Callable[[], dict[str, Figures]]] = {
            "loopback-tcp": measure_loopback_floor,
            "aiokafka": lambda: asyncio.run(measure_aiokafka(bootstrap, "bench-aiokafka")),
            "confluent-kafka": lambda: measure_confluent(bootstrap, "bench-confluent"),
            "confluent-aio": lambda: asyncio.run(
                measure_confluent_aio(bootstrap, "bench-confluent-aio")
            ),
            "kafka-python": lambda: measure_kafka_python(bootstrap, "bench-kafka-python"),
        }
        create_topics(
            bootstrap,
            [f"bench-{n}" for n in ("aiokafka", "confluent", "confluent-aio", "kafka-python")],
        )
        results = {name: run() for name, run in runs.items()}
    finally:
        broker.stop()
        zookeeper.stop()

    report = {
        "benchmark": "kafka produce-to-consume, one message at a time, local broker",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "samples": SAMPLES,
        "versions": versions(),
        "results_ms": {n: {k: asdict(f) for k, f in r.items()} for n, r in results.items()},
    }
    print(f"{'client':<16} {'measure':<20} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8}  (ms)")
    for name, figures in results.items():
        for measure, f in figures.items():
            print(f"{name:<16} {measure:<20} {f.p50:8.3f} {f.p90:8.3f} {f.p99:8.3f} {f.max:8.3f}")
    RESULTS.mkdir(exist_ok=True)
    target = RESULTS / "kafka-clients.json"
    target.write_text(json.dumps(report, indent=2) + "\n")
    print(f"saved {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
