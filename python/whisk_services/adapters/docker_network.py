"""The Docker network action containers run on, and the host firewall that fences it in.

``ActionNetwork`` owns one Docker bridge network of the project's own, labelled
``org.whisk.project=whisk`` and ``org.whisk.role=action-network``, on a fixed subnet and a
Linux bridge of a fixed name. Without egress the network is internal: Docker gives it no
route out. Containers on it cannot reach one another either (Docker's ``enable_icc`` is
off unless asked for), so one action cannot call another action's proxy.

Docker leaves the host itself reachable from any bridge network, internal or not: the
bridge's gateway address is one of the host's own, so a container can connect to every
service listening on 0.0.0.0 (the controller, Kafka, CouchDB, Consul...). An iptables chain
``WHISK-<BRIDGE>``, jumped to first thing on ``INPUT`` for packets arriving from the bridge,
therefore lets through only the packets of connections the host opened (the invoker's HTTP
calls to the containers) and drops everything else. Docker disables IPv6 inside containers
on IPv4-only networks, so no ``ip6tables`` rule is needed.

``ensure`` creates what is missing and checks what exists; ``remove`` takes it all away.
Docker SDK calls and ``iptables`` run in worker threads.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import subprocess
from typing import Any

import docker
import docker.errors
import docker.types

from whisk_services.ports.containers import ContainerError

NETWORK_LABELS = {"org.whisk.project": "whisk", "org.whisk.role": "action-network"}
BRIDGE_OPTION = "com.docker.network.bridge.name"
ICC_OPTION = "com.docker.network.bridge.enable_icc"
CHAIN_PREFIX = "WHISK-"
_BRIDGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,14}")  # IFNAMSIZ - 1
_IPTABLES_TIMEOUT_S = 60.0
_ALLOW_REPLIES = ("-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN")
_DROP = ("-j", "DROP")


def _flag(value: Any, default: bool) -> bool:
    """A Docker driver option's boolean (``"true"``, ``"false"``, ``"1"``...)."""
    if value is None:
        return default
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class ActionNetwork:
    """A Docker bridge network for action containers and the firewall keeping them off the host.

    ``subnet`` is an IPv4 network such as ``172.31.250.0/24``; its first host is the gateway,
    the host's address on the bridge. ``bridge`` is the Linux interface name (at most 15
    characters). With ``egress`` the network has a route out (through Docker's NAT); the
    host's own services stay unreachable either way. ``icc`` lets containers on the network
    reach one another.
    """

    def __init__(
        self,
        name: str,
        subnet: str,
        bridge: str,
        egress: bool = False,
        client: docker.DockerClient | None = None,
        *,
        icc: bool = False,
    ) -> None:
        if not name:
            raise ValueError("the network needs a name")
        if not _BRIDGE_NAME.fullmatch(bridge):
            raise ValueError(
                f"bad bridge name {bridge!r}: 1 to 15 letters, digits, '_', '.' or '-'"
            )
        network = ipaddress.ip_network(subnet, strict=True)
        if not isinstance(network, ipaddress.IPv4Network) or network.num_addresses < 4:
            raise ValueError(f"bad subnet {subnet!r}: an IPv4 network of 4 addresses or more")
        self._name = name
        self._subnet = network
        self._bridge = bridge
        self._egress = egress
        self._icc = icc
        self._client: Any = client if client is not None else docker.from_env()

    @property
    def name(self) -> str:
        """The Docker network's name (what ``DockerContainerFactory.create`` takes)."""
        return self._name

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        """The network's IPv4 subnet."""
        return self._subnet

    @property
    def bridge(self) -> str:
        """The Linux bridge interface's name."""
        return self._bridge

    @property
    def egress(self) -> bool:
        """Whether containers on the network have a route out."""
        return self._egress

    @property
    def gateway(self) -> str:
        """The host's address on the bridge: the subnet's first host."""
        return str(next(self._subnet.hosts()))

    @property
    def chain(self) -> str:
        """The iptables chain for the bridge: ``WHISK-<BRIDGE uppercased>``."""
        return CHAIN_PREFIX + self._bridge.upper()

    def _jump(self) -> tuple[str, ...]:
        return ("INPUT", "-i", self._bridge, "-j", self.chain)

    async def ensure(self) -> None:
        """Install the firewall, then create the network, each only if missing.

        An existing network of this name with another subnet, gateway, bridge, driver,
        egress or icc is a ``ContainerError`` (raised before the firewall is touched); so
        is a failing Docker or ``iptables``. The firewall is in place before the network
        exists, so no container is ever on the bridge unfenced.
        """
        await asyncio.to_thread(self._ensure)

    async def remove(self) -> None:
        """Remove the network, then the ``INPUT`` jump and the chain; absent parts are fine.

        The network goes first so that a refusal (containers still attached: a
        ``ContainerError``) leaves them behind the firewall.
        """
        await asyncio.to_thread(self._remove_network)
        await asyncio.to_thread(self._remove_firewall)

    # -- Docker ---------------------------------------------------------------------------

    def _find(self) -> Any | None:
        try:
            found = self._client.networks.list(names=[self._name])
        except docker.errors.DockerException as error:
            raise ContainerError(f"docker network ls {self._name}: {error}") from error
        # The name filter matches substrings too.
        exact = [network for network in found if network.name == self._name]
        return exact[0] if exact else None

    def _ensure(self) -> None:
        network = self._find()
        if network is not None:
            self._check(network.attrs)
        self._ensure_firewall()
        if network is None:
            self._check(self._create().attrs)

    def _create(self) -> Any:
        pool = docker.types.IPAMPool(subnet=str(self._subnet), gateway=self.gateway)
        try:
            return self._client.networks.create(
                self._name,
                driver="bridge",
                options={BRIDGE_OPTION: self._bridge, ICC_OPTION: str(self._icc).lower()},
                ipam=docker.types.IPAMConfig(pool_configs=[pool]),
                internal=not self._egress,
                labels=dict(NETWORK_LABELS),
                check_duplicate=True,
            )
        except docker.errors.APIError as error:
            if error.status_code == 409:  # created meanwhile by another process
                network = self._find()
                if network is not None:
                    return network
            raise ContainerError(f"docker network create {self._name}: {error}") from error
        except docker.errors.DockerException as error:
            raise ContainerError(f"docker network create {self._name}: {error}") from error

    def _check(self, attrs: dict[str, Any]) -> None:
        options = attrs.get("Options") or {}
        configs = (attrs.get("IPAM") or {}).get("Config") or []
        subnets = sorted(str(config.get("Subnet")) for config in configs)
        gateways = sorted(str(config["Gateway"]) for config in configs if config.get("Gateway"))
        differences: list[str] = []
        if attrs.get("Driver") != "bridge":
            differences.append(f"driver {attrs.get('Driver')!r}, not 'bridge'")
        if subnets != [str(self._subnet)]:
            differences.append(f"subnet {', '.join(subnets) or 'none'}, not {self._subnet}")
        elif gateways and gateways != [self.gateway]:
            differences.append(f"gateway {', '.join(gateways)}, not {self.gateway}")
        if options.get(BRIDGE_OPTION) != self._bridge:
            differences.append(f"bridge {options.get(BRIDGE_OPTION)!r}, not {self._bridge!r}")
        if bool(attrs.get("Internal")) == self._egress:
            differences.append(
                f"internal {bool(attrs.get('Internal'))}, not {not self._egress} "
                f"(egress {self._egress})"
            )
        if _flag(options.get(ICC_OPTION), default=True) != self._icc:
            differences.append(f"enable_icc {options.get(ICC_OPTION)!r}, not {self._icc}")
        if differences:
            raise ContainerError(
                f"docker network {self._name} exists with " + "; ".join(differences)
            )

    def _remove_network(self) -> None:
        network = self._find()
        if network is None:
            return
        try:
            network.reload()
            attached = network.attrs.get("Containers") or {}
            if attached:
                names = sorted(str(entry.get("Name", cid[:12])) for cid, entry in attached.items())
                raise ContainerError(
                    f"docker network rm {self._name}: containers still attached: "
                    + ", ".join(names)
                )
            network.remove()
        except docker.errors.NotFound:
            return
        except docker.errors.DockerException as error:
            raise ContainerError(f"docker network rm {self._name}: {error}") from error

    # -- iptables -------------------------------------------------------------------------

    def _iptables(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["iptables", "-w", *args]
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=_IPTABLES_TIMEOUT_S, check=False
            )
        except FileNotFoundError as error:
            raise ContainerError(
                "iptables is not installed: it is needed to keep action containers "
                "off the host's own ports"
            ) from error
        except (OSError, subprocess.TimeoutExpired) as error:
            raise ContainerError(f"{' '.join(command)}: {error}") from error
        if check and done.returncode != 0:
            detail = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
            raise ContainerError(f"{' '.join(command)}: {detail}")
        return done

    def _present(self, *args: str) -> bool:
        """Whether ``iptables -C`` finds the rule (a missing chain counts as absent)."""
        return self._iptables("-C", *args, check=False).returncode == 0

    def _chain_rules(self) -> list[str] | None:
        """The chain's ``-A`` lines, or None when the chain does not exist."""
        listed = self._iptables("-S", self.chain, check=False)
        if listed.returncode != 0:
            return None
        return [line for line in listed.stdout.splitlines() if line.startswith("-A ")]

    def _ensure_firewall(self) -> None:
        chain = self.chain
        rules = self._chain_rules()
        if rules is None:
            self._iptables("-N", chain)
            rules = []
        intact = (
            len(rules) == 2
            and "-j RETURN" in rules[0]
            and self._present(chain, *_ALLOW_REPLIES)
            and self._present(chain, *_DROP)
        )
        if not intact:
            self._iptables("-F", chain)
            self._iptables("-A", chain, *_ALLOW_REPLIES)
            self._iptables("-A", chain, *_DROP)
        if not self._present(*self._jump()):
            # First on INPUT, so that no earlier ACCEPT lets a container's packets through.
            jump = self._jump()
            self._iptables("-I", jump[0], "1", *jump[1:])

    def _remove_firewall(self) -> None:
        for _ in range(100):  # every copy of the jump, should there be several
            if not self._present(*self._jump()):
                break
            self._iptables("-D", *self._jump())
        if self._chain_rules() is not None:
            self._iptables("-F", self.chain)
            self._iptables("-X", self.chain)
