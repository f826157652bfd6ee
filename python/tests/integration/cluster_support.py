"""A controller and several invokers with Consul, for the discovery, health and outage tests.

Each invoker has an action network of its own, and the ``WHERE`` action answers its
container's address, so the subnet tells which invoker ran it. An action's home invoker is
computed with the balancer's own hash over the invokers.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import docker
import requests

from tests.integration.controller_support import Client
from tests.integration.servers import STARTED
from whisk_services.adapters.docker_network import ActionNetwork
from whisk_services.controller.balancer import Balancer
from whisk_services.controller.invoker_pool import InvokerInfo
from whisk_services.model.names import FullyQualifiedName
from whisk_testbed.consul import ConsulAgent
from whisk_testbed.controller import ControllerProcess
from whisk_testbed.couchdb import CouchDBServer
from whisk_testbed.invoker import InvokerProcess
from whisk_testbed.kafka import KafkaBroker

T = TypeVar("T")
Network = tuple[str, str, str]
WHERE = """
import socket, time
def main(args):
    time.sleep(args.get("sleep", 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("10.255.255.255", 1))
        return {"ip": s.getsockname()[0]}
"""


def eventually(probe: Callable[[], T | None], what: str, timeout_s: float = 30.0) -> T:
    end = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


class Consul:
    def __init__(self, url: str) -> None:
        self.url = url

    def call(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(f"{self.url}{path}", method=method)  # noqa: S310
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            text = response.read()
            return json.loads(text) if text else None

    def health(self) -> dict[str, str]:
        """Each invoker service id and its worst check status."""
        out = {}
        for entry in self.call("/v1/health/service/invoker"):
            statuses = [c["Status"] for c in entry["Checks"]]
            worst = next((s for s in ("critical", "warning") if s in statuses), "passing")
            out[entry["Service"]["ID"]] = worst
        return out


def home(invokers: Sequence[int], action: str) -> int:
    """The invoker the balancer picks for guest's ``action`` over ``invokers``."""

    class View:
        view = tuple(InvokerInfo(n, 1024) for n in invokers)

    return Balancer(View()).choose("guest", FullyQualifiedName.parse(f"/guest/{action}"))


def homed(invokers: Sequence[int], prefix: str, invoker: int) -> str:
    """The first action name ``prefix<i>`` whose home is ``invoker``."""
    return next(f"{prefix}{i}" for i in range(100) if home(invokers, f"{prefix}{i}") == invoker)


def network_of(networks: Mapping[int, Network], ip: str) -> int:
    """The invoker whose action network holds ``ip``."""
    address = ipaddress.ip_address(ip)
    for instance, (_, subnet, _) in networks.items():
        if address in ipaddress.ip_network(subnet):
            return instance
    raise AssertionError(f"{address} is on no invoker's network")


@dataclass(frozen=True)
class Layout:
    """Controller instance ``controller`` and one invoker per entry of ``networks`` (its
    action network), in databases prefixed ``db_prefix``; invoker unique names carry
    ``tag``, and invokers register with a ``ttl_s`` TTL check."""

    controller: int
    networks: Mapping[int, Network]
    db_prefix: str
    tag: str
    ttl_s: float


class ConsulCluster:
    """The processes of a ``Layout``, following the Consul agent ``consul``."""

    def __init__(
        self,
        workdir: Path,
        couchdb: CouchDBServer,
        kafka: KafkaBroker,
        consul: ConsulAgent,
        layout: Layout,
        *,
        controller_env: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.couchdb = couchdb
        self.kafka = kafka
        self.instances = tuple(layout.networks)
        self.networks = layout.networks
        self.db_prefix = layout.db_prefix
        self.ttl_s = layout.ttl_s
        self.consul_url = consul.http_address
        self.consul = Consul(consul.http_address)
        self.names = {
            n: f"test-invoker-{layout.tag}{n}-{uuid.uuid4().hex[:6]}" for n in self.instances
        }
        self.invokers: dict[int, InvokerProcess] = {}
        self.controller = ControllerProcess(
            workdir / "controller",
            couchdb,
            db_prefix=layout.db_prefix,
            kafka_hosts=kafka.bootstrap_servers,
            instance=layout.controller,
            consul_url=self.consul_url,
        )
        self.controller.env.update(controller_env or {})
        self.guest: Client | None = None
        self.starts = 0

    def invoker_env(self, instance: int) -> dict[str, str]:
        return {
            "WHISK_INVOKER_PAUSE_GRACE_S": "0.5",
            "WHISK_INVOKER_PREWARM": "python:3.11@256=1",
            "WHISK_INVOKER_USER_MEMORY_MB": "1024",
            "WHISK_INVOKER_CONSUL_TTL_S": str(self.ttl_s),
        }

    def invoker_dir(self, instance: int) -> Path:
        return self.workdir / f"invoker{instance}-{self.starts}"

    def start_invoker(self, instance: int) -> InvokerProcess:
        self.starts += 1
        invoker = InvokerProcess(
            self.invoker_dir(instance),
            self.couchdb,
            self.kafka.bootstrap_servers,
            unique_name=self.names[instance],
            network=self.networks[instance],
            db_prefix=self.db_prefix,
            instance=instance,
            consul_url=self.consul_url,
            env=self.invoker_env(instance),
        )
        STARTED.append(invoker)
        self.invokers[instance] = invoker
        invoker.start()
        return invoker

    def start_controller(self) -> None:
        """Start the controller and make the guest client."""
        STARTED.append(self.controller)
        self.controller.start()
        self.guest = Client(
            self.controller.url, self.controller.create_subject("guest-user", "guest")
        )

    def wskadmin(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "whisk_services.cli.wskadmin", *args],
            env={**self.controller.env, "WHISK_CONTROLLER_CONSUL_URL": self.consul_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def put_action(
        self, name: str, kind: str = "python:3.11", code: str = WHERE, timeout_ms: int = 60_000
    ) -> None:
        assert self.guest is not None
        body = {"exec": {"kind": kind, "code": code}, "limits": {"timeout": timeout_ms}}
        response = self.guest.call(
            "PUT", f"/namespaces/_/actions/{name}", params={"overwrite": "true"}, json=body
        )
        assert response.status_code == 200, response.text

    def invoke(self, action: str, args: dict[str, object] | None = None) -> requests.Response:
        """Invoke ``action`` blocking."""
        assert self.guest is not None
        return self.guest.call(
            "POST", f"/namespaces/_/actions/{action}", params={"blocking": "true"}, json=args or {}
        )

    def where(self, result: dict[str, Any]) -> int:
        """The invoker whose network ran the activation that answered ``result``."""
        return network_of(self.networks, result["ip"])

    def record(self, activation_id: str) -> dict[str, Any] | None:
        assert self.guest is not None
        response = self.guest.call("GET", f"/namespaces/_/activations/{activation_id}")
        return response.json() if response.status_code == 200 else None

    def stop(self) -> None:
        """Stop the controller and the invokers."""
        self.controller.stop()
        for invoker in self.invokers.values():
            invoker.stop()

    def forget_invokers(self, kv_key: str) -> None:
        """Deregister the invokers and delete their ``whisk/invokers/invoker<n>/<kv_key>``."""
        for n in self.instances:
            with contextlib.suppress(urllib.error.HTTPError):  # 404: already gone
                self.consul.call(f"/v1/agent/service/deregister/invoker{n}", "PUT")
            self.consul.call(f"/v1/kv/whisk/invokers/invoker{n}{kv_key}", "DELETE")

    def remove_containers(self, engine: docker.DockerClient) -> None:
        """Remove the invokers' action containers, then their action networks."""
        for name in self.names.values():
            for container in engine.containers.list(
                all=True, filters={"label": f"org.whisk.invoker={name}"}, sparse=True
            ):
                container.remove(force=True)
        for network in self.networks.values():
            asyncio.run(ActionNetwork(*network, client=engine).remove())
