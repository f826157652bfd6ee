"""A whole invoke path for integration tests: a controller and an invoker, started as
processes against the session's Kafka broker and CouchDB-API server, with a guest subject.

Each test module passes its own database prefix, action network (name, subnet, bridge) and
instance numbers, so that modules never share topics, databases or Docker networks.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from tests.integration.controller_support import Client
from tests.integration.servers import serve
from whisk_services.adapters.docker_network import ActionNetwork
from whisk_testbed.controller import ControllerProcess
from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.invoker import InvokerProcess
from whisk_testbed.kafka import KafkaBroker


@dataclass
class Platform:
    controller: ControllerProcess
    invoker: InvokerProcess
    guest: Client
    engine: docker.DockerClient
    ports: dict[str, int]

    def containers(self, *, all_states: bool = False) -> list[Any]:
        label = f"org.whisk.invoker={self.invoker.unique_name}"
        # sparse: no inspect per container, which fails for one removed meanwhile
        found = self.engine.containers.list(all=all_states, filters={"label": label}, sparse=True)
        return list(found)

    def create(self, name: str, code: str, kind: str = "python:3.11", **extra: Any) -> None:
        body = {"exec": {"kind": kind, "code": code}, **extra}
        response = self.guest.call("PUT", f"/namespaces/_/actions/{name}", json=body)
        assert response.status_code == 200, response.text

    def invoke(self, name: str, params: dict[str, Any] | None = None, **query: str) -> Any:
        return self.guest.call(
            "POST", f"/namespaces/_/actions/{name}", params=query, json=params or {}
        )

    def record(self, activation_id: str, deadline_s: float = 10.0) -> dict[str, Any]:
        """The stored record, polled for (a record is written just after the completion)."""
        give_up = time.monotonic() + deadline_s
        while True:
            response = self.guest.call("GET", f"/namespaces/_/activations/{activation_id}")
            if response.status_code == 200:
                body: dict[str, Any] = response.json()
                return body
            assert response.status_code == 404, response.text
            assert time.monotonic() < give_up, f"no record for {activation_id}"
            time.sleep(0.1)


def run_platform(
    workdir: Path,
    couchdb: CouchDBServer,
    kafka_broker: KafkaBroker,
    *,
    db_prefix: str,
    network: tuple[str, str, str],
    instance: int,
    invoker_env: Mapping[str, str] | None = None,
) -> Iterator[Platform]:
    """Start controller ``instance`` and invoker ``instance``; stop them after the yield and
    check the invoker removed every container it made."""
    controller = ControllerProcess(
        workdir,
        couchdb,
        db_prefix=db_prefix,
        kafka_hosts=kafka_broker.bootstrap_servers,
        invokers=(instance,),
        instance=instance,
    )
    invoker = InvokerProcess(
        workdir,
        couchdb,
        kafka_broker.bootstrap_servers,
        unique_name=f"test-invoker-{uuid.uuid4().hex[:8]}",
        network=network,
        db_prefix=db_prefix,
        instance=instance,
        env={
            "WHISK_INVOKER_PAUSE_GRACE_S": "0.5",
            "WHISK_INVOKER_PREWARM": "python:3.11@256=1",
            "WHISK_INVOKER_USER_MEMORY_MB": "1024",
            **(invoker_env or {}),
        },
    )
    engine = docker.from_env()
    servers = (serve(controller), serve(invoker))
    for server in servers:
        next(server)
    guest = Client(controller.url, controller.create_subject("guest-user", "guest"))
    ports = {
        "kafka": kafka_broker.port,
        "couchdb": int(couchdb.url.rsplit(":", 1)[1].strip("/")),
        "controller": controller.port,
    }
    yield Platform(controller, invoker, guest, engine, ports)
    for server in reversed(servers):
        next(server, None)
    leftover = engine.containers.list(
        all=True, filters={"label": f"org.whisk.invoker={invoker.unique_name}"}, sparse=True
    )
    if not leftover:  # the invoker keeps its network for its next start: remove it here
        asyncio.run(ActionNetwork(*network, client=engine).remove())
    engine.close()
    assert leftover == [], "the invoker left containers behind"
