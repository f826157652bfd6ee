"""Session fixtures that start the real servers on free loopback ports.

ZooKeeper (Debian's package), a Kafka broker in ZooKeeper mode, a Consul agent and the
CouchDB-API server (PouchDB Server, patched) each start once per test session, from the
artifacts `make artifacts` staged, and stop at its end. Their logs stay under test-logs/;
when a test fails, the tail of every started server's log is added to its report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.integration.controller_support import Client
from tests.integration.platform_support import Platform, run_platform
from tests.integration.servers import STARTED, serve
from whisk_testbed.consul import ConsulAgent
from whisk_testbed.controller import ControllerProcess
from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.kafka import KafkaBroker
from whisk_testbed.process import tail
from whisk_testbed.server import LoopbackServer
from whisk_testbed.zookeeper import ZooKeeperServer

S = TypeVar("S", bound=LoopbackServer)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        for server in STARTED:
            report.sections.append(
                (f"{server.name} log ({server.log_path})", tail(server.log_path, 30))
            )
    return report


@pytest.fixture(scope="session")
def zookeeper(test_logs: Path) -> Iterator[ZooKeeperServer]:
    yield from serve(ZooKeeperServer(test_logs / "zookeeper"))


@pytest.fixture(scope="session")
def kafka_broker(test_logs: Path, zookeeper: ZooKeeperServer) -> Iterator[KafkaBroker]:
    yield from serve(KafkaBroker(test_logs / "kafka", zookeeper.connect_string))


@pytest.fixture(scope="session")
def consul_agent(test_logs: Path) -> Iterator[ConsulAgent]:
    yield from serve(ConsulAgent(test_logs / "consul"))


@pytest.fixture(scope="session")
def couchdb(test_logs: Path) -> Iterator[CouchDBServer]:
    yield from serve(CouchDBServer(test_logs / "couchdb"))


@pytest.fixture(scope="module")
def controller(
    request: pytest.FixtureRequest, test_logs: Path, couchdb: CouchDBServer
) -> Iterator[ControllerProcess]:
    """The real controller, one per test module, over databases of the module's own:
    the prefix is the module's ``DB_PREFIX``, else its name."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    prefix = getattr(request.module, "DB_PREFIX", module.removeprefix("test_") + "_")
    # Throttled as shipped: this controller has no invoke path, and its limits are shown.
    yield from serve(
        ControllerProcess(test_logs / module, couchdb, db_prefix=prefix, throttled=True)
    )


@pytest.fixture(scope="module")
def platform(
    request: pytest.FixtureRequest,
    test_logs: Path,
    couchdb: CouchDBServer,
    kafka_broker: KafkaBroker,
) -> Iterator[Platform]:
    """A controller and an invoker of the module's own (platform_support.run_platform),
    from the module's ``DB_PREFIX``, ``NETWORK`` (name, subnet, bridge), ``INSTANCE`` and
    optional ``INVOKER_ENV``: no two modules may share a network, an instance or a prefix."""
    module = request.module
    yield from run_platform(
        test_logs / module.__name__.rsplit(".", 1)[-1],
        couchdb,
        kafka_broker,
        db_prefix=module.DB_PREFIX,
        network=module.NETWORK,
        instance=module.INSTANCE,
        invoker_env=getattr(module, "INVOKER_ENV", None),
    )


@pytest.fixture(scope="module")
def guest(controller: ControllerProcess) -> Client:
    """A subject in namespace `guest`."""
    return Client(controller.url, controller.create_subject("guest-user", "guest"))


@pytest.fixture(scope="module")
def other(controller: ControllerProcess) -> Client:
    """A subject in another namespace, `other`."""
    return Client(controller.url, controller.create_subject("other-user", "other"))
