"""Action containers on an ``ActionNetwork``: reached at their own address, fenced off the host.

The module creates a network of its own (a name, bridge and subnet no other module uses),
runs whisk/action-python:3.11 and whisk/action-nodejs:18 (``make images``) containers on it
through ``DockerContainerFactory`` and ``ActionRunner``, and removes the network, its
iptables chain and every container it labelled at the end. A second network, with egress,
exercises ``remove``. Connections go only to this machine and to the test's containers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import subprocess
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import docker
import docker.errors
import pytest

from whisk_services.adapters.docker_containers import DockerContainerFactory
from whisk_services.adapters.docker_network import ActionNetwork
from whisk_services.invoker.runner import ActionCode, ActionRunner, RunResult
from whisk_services.model.activation import ActivationStatus
from whisk_services.model.limits import ActionLimits
from whisk_services.ports.containers import Container, ContainerError

pytestmark = pytest.mark.integration

PYTHON = "whisk/action-python:3.11"
NODEJS = "whisk/action-nodejs:18"
RUN_LABEL = "org.whisk.test-run"
RUN_ID = uuid.uuid4().hex
SUBNET = "172.31.252.0/24"
EGRESS_SUBNET = "172.31.254.0/24"  # 250: the default, 253: test_invocation
RESTORE_SUBNET = "172.31.239.0/24"
HELLO = {
    PYTHON: "def main(args):\n    print('Hello World')\n    return {'msg': 'Hello World'}\n",
    NODEJS: (
        "function main() {\n"
        "    console.log('Hello World');\n"
        "    return { msg: 'Hello World' };\n"
        "}\n"
    ),
}
# Tries each (key, host, port) of args["targets"]; says what happened to each.
PROBE = ActionCode(
    "probe",
    "import socket\n"
    "def main(args):\n"
    "    out = {}\n"
    "    for key, host, port in args['targets']:\n"
    "        try:\n"
    "            socket.create_connection((host, port), timeout=2).close()\n"
    "            out[key] = 'connected'\n"
    "        except OSError as error:\n"
    "            out[key] = type(error).__name__\n"
    "    return out\n",
    limits=ActionLimits(timeout=20_000),
)
HOG = ActionCode(
    "hog",
    "def main(args):\n"
    "    block = bytearray(400 * 1024 * 1024)\n"
    "    for i in range(0, len(block), 4096):\n"
    "        block[i] = 1\n"
    "    return {'allocated': len(block)}\n",
    limits=ActionLimits(timeout=30_000),
)

Body = Callable[[ActionRunner, Callable[..., Awaitable[Container]]], Awaitable[Any]]


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    _remove_labelled(client)
    client.close()


@pytest.fixture(scope="module")
def network(engine: docker.DockerClient) -> Iterator[ActionNetwork]:
    """This module's internal network, its firewall in place."""
    net = ActionNetwork(
        f"whisk-test-actnet-{RUN_ID[:8]}", SUBNET, f"whisktst{RUN_ID[:4]}", False, engine
    )
    try:
        asyncio.run(net.ensure())
        yield net
    finally:
        _remove_labelled(engine)
        asyncio.run(net.remove())


def _remove_labelled(engine: docker.DockerClient) -> None:
    for container in engine.containers.list(all=True, filters={"label": f"{RUN_LABEL}={RUN_ID}"}):
        container.remove(force=True)


def scenario(engine: docker.DockerClient, body: Body) -> Any:
    """Run ``body(runner, start)``; ``start(image, network=..., memory_mb=...)`` creates a
    labelled container (removed at the end of the module, or by the body)."""

    async def main() -> Any:
        factory = DockerContainerFactory(engine)
        runner = ActionRunner()

        async def start(image: str, *, network: str | None, memory_mb: int = 256) -> Container:
            return await factory.create(
                image, memory_mb=memory_mb, labels={RUN_LABEL: RUN_ID}, network=network
            )

        try:
            return await body(runner, start)
        finally:
            await runner.close()

    return asyncio.run(main())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def listener(host: str) -> Iterator[socket.socket]:
    """A TCP listener on ``host`` and a free port (connections complete without accept)."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, _free_port()))
    server.listen(16)
    try:
        yield server
    finally:
        server.close()


def _peers(server: socket.socket) -> list[str]:
    """The source addresses of the connections waiting on ``server``."""
    server.setblocking(False)
    peers: list[str] = []
    while True:
        try:
            connection, (address, _port) = server.accept()
        except BlockingIOError:
            return peers
        connection.close()
        peers.append(address)


def _jumps(net: ActionNetwork) -> list[str]:
    listed = subprocess.run(
        ["iptables", "-w", "-S", "INPUT"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return [line for line in listed if f"-i {net.bridge} " in line and f"-j {net.chain}" in line]


def _chain(net: ActionNetwork) -> list[str] | None:
    listed = subprocess.run(
        ["iptables", "-w", "-S", net.chain], capture_output=True, text=True, check=False
    )
    return listed.stdout.splitlines() if listed.returncode == 0 else None


def _networks(engine: docker.DockerClient, name: str) -> list[Any]:
    return [found for found in engine.networks.list(names=[name]) if found.name == name]


@pytest.mark.parametrize("image", [PYTHON, NODEJS])
def test_action_runs_at_its_address_on_the_network(
    engine: docker.DockerClient, network: ActionNetwork, image: str
) -> None:
    async def body(runner: ActionRunner, start: Callable[..., Awaitable[Container]]) -> Any:
        container = await start(image, network=network.name)
        result = await runner.run(container, ActionCode("hello", HELLO[image]), {}, initialize=True)
        return container.id, container.address, result

    container_id, address, result = scenario(engine, body)
    host, _, port = address.rpartition(":")
    assert port == "8080"
    assert ipaddress.ip_address(host) in network.subnet
    assert host != network.gateway
    assert result.response.status is ActivationStatus.SUCCESS
    assert result.response.result == {"msg": "Hello World"}
    assert [line.split(": ", 1)[1] for line in result.logs] == ["Hello World"]

    attrs = engine.containers.get(container_id).attrs
    assert list(attrs["NetworkSettings"]["Networks"]) == [network.name]
    assert not attrs["HostConfig"]["PortBindings"]
    assert not any(attrs["NetworkSettings"]["Ports"].values())
    assert attrs["HostConfig"]["SecurityOpt"] == ["no-new-privileges"]
    assert attrs["HostConfig"]["PidsLimit"] == 1024


def test_containers_cannot_reach_the_host_or_each_other(
    engine: docker.DockerClient, network: ActionNetwork
) -> None:
    with listener("0.0.0.0") as public, listener("127.0.0.1") as local:  # noqa: S104
        public_port = public.getsockname()[1]
        local_port = local.getsockname()[1]

        async def body(runner: ActionRunner, start: Callable[..., Awaitable[Container]]) -> Any:
            neighbour = await start(PYTHON, network=network.name)
            hello = await runner.run(
                neighbour, ActionCode("hello", HELLO[PYTHON]), {}, initialize=True
            )
            assert hello.response.result == {"msg": "Hello World"}  # its proxy is up
            other_host, _, other_port = neighbour.address.rpartition(":")
            container = await start(PYTHON, network=network.name)
            targets = [
                ("gateway", network.gateway, public_port),
                ("gateway_local", network.gateway, local_port),
                ("loopback", "127.0.0.1", local_port),
                ("neighbour", other_host, int(other_port)),
            ]
            return await runner.run(container, PROBE, {"targets": targets}, initialize=True)

        result: RunResult = scenario(engine, body)
        # Control: the very listener is reachable from the host at the gateway address.
        socket.create_connection((network.gateway, public_port), timeout=2).close()
        peers = _peers(public)

    assert result.response.status is ActivationStatus.SUCCESS, result.response.result
    assert result.response.result == {
        "gateway": "TimeoutError",  # dropped by the firewall, not refused
        "gateway_local": "TimeoutError",
        "loopback": "ConnectionRefusedError",  # the container's own loopback
        "neighbour": "TimeoutError",
    }
    assert peers == [network.gateway]  # only the host's control connection arrived


def test_network_without_egress_is_internal(
    engine: docker.DockerClient, network: ActionNetwork
) -> None:
    [found] = _networks(engine, network.name)
    attrs = found.attrs
    assert attrs["Internal"] is True
    assert attrs["Driver"] == "bridge"
    assert attrs["Labels"]["org.whisk.project"] == "whisk"
    assert attrs["Labels"]["org.whisk.role"] == "action-network"
    assert [c["Subnet"] for c in attrs["IPAM"]["Config"]] == [SUBNET]
    assert attrs["Options"]["com.docker.network.bridge.name"] == network.bridge
    assert attrs["Options"]["com.docker.network.bridge.enable_icc"] == "false"


def test_ensure_twice_adds_nothing(engine: docker.DockerClient, network: ActionNetwork) -> None:
    chain_before = _chain(network)
    asyncio.run(network.ensure())  # the fixture ensured once already
    asyncio.run(network.ensure())
    assert len(_networks(engine, network.name)) == 1
    assert _jumps(network) == [f"-A INPUT -i {network.bridge} -j {network.chain}"]
    chain = _chain(network)
    assert chain == chain_before
    assert chain is not None
    assert [line for line in chain if line.startswith("-A")] == [
        f"-A {network.chain} -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN",
        f"-A {network.chain} -j DROP",
    ]


def test_an_existing_network_with_another_subnet_is_refused(
    engine: docker.DockerClient, network: ActionNetwork
) -> None:
    other = ActionNetwork(network.name, EGRESS_SUBNET, network.bridge, client=engine)
    with pytest.raises(ContainerError, match=re.escape(f"subnet {SUBNET}, not {EGRESS_SUBNET}")):
        asyncio.run(other.ensure())
    other = ActionNetwork(network.name, SUBNET, "whiskzzz0", client=engine)
    with pytest.raises(
        ContainerError, match=re.escape(f"bridge '{network.bridge}', not 'whiskzzz0'")
    ):
        asyncio.run(other.ensure())
    assert _chain(other) is None  # refused before touching the firewall


def test_memory_hog_is_oom_killed(engine: docker.DockerClient, network: ActionNetwork) -> None:
    async def body(runner: ActionRunner, start: Callable[..., Awaitable[Container]]) -> Any:
        normal = await start(PYTHON, network=network.name)
        hello = await runner.run(normal, ActionCode("hello", HELLO[PYTHON]), {}, initialize=True)
        hog = await start(PYTHON, network=network.name, memory_mb=128)
        result = await runner.run(hog, HOG, {}, initialize=True)
        return hello, await normal.oom_killed(), result, await hog.oom_killed()

    hello, normal_killed, result, hog_killed = scenario(engine, body)
    assert hello.response.is_success
    assert normal_killed is False
    assert result.response.status is ActivationStatus.DEVELOPER_ERROR
    assert result.response.result["error"].startswith(
        "The action did not produce a valid response and exited unexpectedly"
    )
    assert not result.healthy
    assert hog_killed is True


def test_egress_network_keeps_the_host_closed_and_remove_cleans_up(
    engine: docker.DockerClient,
) -> None:
    net = ActionNetwork(
        f"whisk-test-actnet-{RUN_ID[:8]}-egress",
        EGRESS_SUBNET,
        f"whisktse{RUN_ID[:4]}",
        egress=True,
        client=engine,
    )
    try:
        with listener("0.0.0.0") as public:  # noqa: S104
            port = public.getsockname()[1]

            async def body(runner: ActionRunner, start: Callable[..., Awaitable[Container]]) -> Any:
                await net.ensure()
                [found] = _networks(engine, net.name)
                assert found.attrs["Internal"] is False
                container = await start(PYTHON, network=net.name)
                targets = [("gateway", net.gateway, port)]
                result = await runner.run(container, PROBE, {"targets": targets}, initialize=True)
                with pytest.raises(ContainerError, match="containers still attached"):
                    await net.remove()
                firewall_kept = (_jumps(net), _chain(net) is not None)
                await container.destroy()
                await net.remove()
                await net.remove()  # nothing left: a no-op
                return result, firewall_kept

            result, firewall_kept = scenario(engine, body)
            peers = _peers(public)
        assert result.response.result == {"gateway": "TimeoutError"}
        assert peers == []
        assert firewall_kept == ([f"-A INPUT -i {net.bridge} -j {net.chain}"], True)
        assert _networks(engine, net.name) == []
        assert _jumps(net) == []
        assert _chain(net) is None
    finally:
        _remove_labelled(engine)
        asyncio.run(net.remove())


def test_remove_labelled_removes_only_the_containers_with_every_label(
    engine: docker.DockerClient, network: ActionNetwork
) -> None:
    batch = uuid.uuid4().hex

    async def main() -> tuple[int, int]:
        factory = DockerContainerFactory(engine)
        labels = {RUN_LABEL: RUN_ID, "org.whisk.test-batch": batch}
        for _ in range(2):
            await factory.create(PYTHON, memory_mb=128, labels=labels, network=network.name)
        kept = await factory.create(
            PYTHON, memory_mb=128, labels={RUN_LABEL: RUN_ID}, network=network.name
        )
        removed = await factory.remove_labelled({"org.whisk.test-batch": batch})
        again = await factory.remove_labelled({"org.whisk.test-batch": batch})
        await kept.destroy()
        return removed, again

    assert asyncio.run(main()) == (2, 0)
    left = engine.containers.list(all=True, filters={"label": f"org.whisk.test-batch={batch}"})
    assert left == []


def test_a_vanished_network_is_restored_and_the_container_created(
    engine: docker.DockerClient,
) -> None:
    """`docker network prune` (make docker-clean) removes an idle action network under a
    running invoker; its next container must still start."""
    net = ActionNetwork(
        f"whisk-test-actnet-{RUN_ID[:8]}-restore",
        RESTORE_SUBNET,
        f"whisktsr{RUN_ID[:4]}",
        client=engine,
    )
    restored: list[str] = []

    async def restore(name: str) -> None:
        restored.append(name)
        await net.ensure()

    async def body() -> Any:
        await net.ensure()
        engine.networks.get(net.name).remove()  # as a prune would
        factory = DockerContainerFactory(engine, restore_network=restore)
        container = await factory.create(
            PYTHON, memory_mb=128, labels={RUN_LABEL: RUN_ID}, network=net.name
        )
        address = container.address
        await container.destroy()
        without = DockerContainerFactory(engine)
        engine.networks.get(net.name).remove()
        with pytest.raises(ContainerError, match="not found"):
            await without.create(
                PYTHON, memory_mb=128, labels={RUN_LABEL: RUN_ID}, network=net.name
            )
        return address

    try:
        address = asyncio.run(body())
        assert restored == [net.name]
        assert address.startswith(RESTORE_SUBNET.rsplit(".", 1)[0] + ".")
    finally:
        _remove_labelled(engine)
        asyncio.run(net.remove())
