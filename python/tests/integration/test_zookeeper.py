"""ZooKeeper from Debian's package answers as a real server: znodes round-trip."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NoNodeError

from whisk_testbed.zookeeper import ZooKeeperServer, four_letter_word

pytestmark = pytest.mark.integration


@pytest.fixture
def zk_client(zookeeper: ZooKeeperServer) -> Iterator[KazooClient]:
    client = KazooClient(hosts=zookeeper.connect_string, timeout=10)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


def test_znode_round_trip(zk_client: KazooClient) -> None:
    path = f"/whisk-test/{uuid.uuid4().hex}"
    zk_client.create(path, b"hello", makepath=True)

    data, stat = zk_client.get(path)
    assert data == b"hello"

    zk_client.set(path, b"world", version=stat.version)
    assert zk_client.get(path)[0] == b"world"
    with pytest.raises(BadVersionError):
        zk_client.set(path, b"stale", version=stat.version)

    zk_client.delete(path)
    assert zk_client.exists(path) is None
    with pytest.raises(NoNodeError):
        zk_client.get(path)


def test_ephemeral_node_leaves_with_its_session(
    zookeeper: ZooKeeperServer, zk_client: KazooClient
) -> None:
    path = f"/whisk-test/ephemeral-{uuid.uuid4().hex}"
    other = KazooClient(hosts=zookeeper.connect_string, timeout=10)
    other.start(timeout=15)
    other.create(path, b"", ephemeral=True, makepath=True)
    assert zk_client.exists(path) is not None
    other.stop()
    other.close()
    assert zk_client.exists(path) is None


def test_server_reports_standalone_mode(zookeeper: ZooKeeperServer) -> None:
    assert "Mode: standalone" in four_letter_word(zookeeper.port, "srvr")
