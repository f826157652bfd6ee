"""Session fixtures that start the real servers on free loopback ports.

ZooKeeper (Debian's package), a Kafka broker in ZooKeeper mode, a Consul agent and the
CouchDB-API server (PouchDB Server, patched) each start once per test session, from the
artifacts `make artifacts` staged, and stop at its end. Their logs stay under test-logs/;
when a test fails, the tail of every started server's log is added to its report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from whisk_testbed.consul import ConsulAgent
from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.kafka import KafkaBroker
from whisk_testbed.process import tail
from whisk_testbed.zookeeper import ZooKeeperServer

_started: list[tuple[str, Path]] = []


def _remember(name: str, log_path: Path) -> None:
    _started.append((name, log_path))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for name, log_path in _started:
            report.sections.append((f"{name} log ({log_path})", tail(log_path, 30)))
    return report


@pytest.fixture(scope="session")
def zookeeper(test_logs: Path) -> Iterator[ZooKeeperServer]:
    server = ZooKeeperServer(test_logs / "zookeeper")
    server.start()
    _remember("zookeeper", server.workdir / "zookeeper.log")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka_broker(test_logs: Path, zookeeper: ZooKeeperServer) -> Iterator[KafkaBroker]:
    broker = KafkaBroker(test_logs / "kafka", zookeeper.connect_string)
    _remember("kafka", broker.workdir / "kafka.log")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def consul_agent(test_logs: Path) -> Iterator[ConsulAgent]:
    agent = ConsulAgent(test_logs / "consul")
    _remember("consul", agent.workdir / "consul.log")
    agent.start()
    yield agent
    agent.stop()


@pytest.fixture(scope="session")
def couchdb(test_logs: Path) -> Iterator[CouchDBServer]:
    server = CouchDBServer(test_logs / "couchdb")
    _remember("couchdb", server.workdir / "pouchdb-server.log")
    server.start()
    yield server
    server.stop()
