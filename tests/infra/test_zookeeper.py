"""ZooKeeper across the cluster: each node runs hardened, listens on its cluster address only,
and the ensemble has exactly one leader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conftest import address
from hostchecks import assert_unit_hardened, assert_unit_runs, listeners

testinfra_hosts = ["ansible://zookeepers"]

SEND = (
    "python3 -c 'import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 5);"
    " s.sendall(sys.argv[3].encode()); print(s.makefile().read())' {} {} {}"
)


def four_letter(host: Any, addr: str, port: int, word: str) -> str:
    return str(host.check_output(SEND.format(addr, port, word)))


def test_zookeeper_runs_hardened_on_its_address_only(host: Any) -> None:
    variables = host.ansible.get_variables()
    assert_unit_runs(host, "zookeeper.service")
    assert_unit_hardened(host, "zookeeper.service")
    assert listeners(host, 2181) == {address(variables)}


def test_the_ensemble_has_one_leader(host: Any, hostvars: Callable[[str], dict[str, Any]]) -> None:
    nodes = host.ansible.get_variables()["groups"]["zookeepers"]
    modes = [
        line.split(":", 1)[1].strip()
        for node in nodes
        for line in four_letter(host, address(hostvars(node)), 2181, "srvr").splitlines()
        if line.startswith("Mode:")
    ]
    expected = ["standalone"] if len(nodes) == 1 else ["follower"] * (len(nodes) - 1) + ["leader"]
    assert sorted(modes) == sorted(expected)
