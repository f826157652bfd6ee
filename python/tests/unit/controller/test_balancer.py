"""The balancer: a stable home per action over the view, stepping past full invokers,
forced home when all are full, 503 when none is usable."""

from __future__ import annotations

import zlib
from collections import Counter

import pytest

from whisk_services.controller import errors
from whisk_services.controller.balancer import (
    Balancer,
    NoInvokersError,
    action_hash,
    step_sizes,
)
from whisk_services.controller.invoker_pool import InvokerInfo
from whisk_services.model.names import FullyQualifiedName


class View:
    def __init__(self, *invokers: InvokerInfo) -> None:
        self.view = tuple(invokers)


def fqn(name: str) -> FullyQualifiedName:
    return FullyQualifiedName.parse(f"/guest/{name}")


def test_step_sizes_are_coprime_with_the_count_and_each_other() -> None:
    assert step_sizes(1) == (1,)
    assert step_sizes(2) == (1,)
    assert step_sizes(10) == (1, 3, 7)
    assert step_sizes(12) == (1, 5, 7, 11)


def test_the_hash_is_crc32_of_namespace_and_action() -> None:
    action = fqn("echo")
    assert action_hash("guest", action) == zlib.crc32(b"guest\x00/guest/echo")


def test_home_is_stable_and_actions_spread() -> None:
    view = View(*(InvokerInfo(n, 1024) for n in (20, 21, 22)))
    balancer = Balancer(view)
    homes = [balancer.choose("guest", fqn(f"a{i}")) for i in range(300)]
    assert homes == [Balancer(view).choose("guest", fqn(f"a{i}")) for i in range(300)]
    counts = Counter(homes)
    assert set(counts) == {20, 21, 22}
    assert min(counts.values()) >= 70, counts
    for i in range(20):
        action = fqn(f"a{i}")
        assert balancer.choose("guest", action) == 20 + action_hash("guest", action) % 3


def test_a_full_home_steps_to_the_next_with_room() -> None:
    view = View(*(InvokerInfo(n, 512) for n in range(5)))
    balancer = Balancer(view)
    action = fqn("busy")
    hashed = action_hash("guest", action)
    home = hashed % 5
    step = step_sizes(5)[hashed % len(step_sizes(5))]
    assert balancer.acquire("a1", "guest", action, 256) == home
    assert balancer.acquire("a2", "guest", action, 256) == home
    assert balancer.in_flight_mb(home) == 512
    assert balancer.acquire("a3", "guest", action, 256) == (home + step) % 5
    balancer.release("a1")
    assert balancer.in_flight_mb(home) == 256
    assert balancer.acquire("a4", "guest", action, 256) == home
    balancer.release("unknown")  # ignored


def test_all_full_forces_the_home_invoker() -> None:
    view = View(InvokerInfo(0, 256), InvokerInfo(1, 256))
    balancer = Balancer(view)
    action = fqn("x")
    home = balancer.choose("guest", action)
    picked = [balancer.acquire(f"a{i}", "guest", action, 256) for i in range(4)]
    assert picked[:2] == [home, 1 - home]
    assert picked[2:] == [home, home]
    assert balancer.in_flight_mb(home) == 768


def test_bigger_than_any_invoker_goes_home() -> None:
    balancer = Balancer(View(InvokerInfo(0, 256), InvokerInfo(1, 256)))
    action = fqn("huge")
    assert balancer.choose("guest", action, 512) == balancer.choose("guest", action, 1)


def test_unknown_memory_is_never_full() -> None:
    balancer = Balancer([7])
    for i in range(100):
        assert balancer.acquire(f"a{i}", "guest", fqn("x"), 2048) == 7
    assert balancer.invokers == (7,)


def test_no_usable_invoker_is_503() -> None:
    view = View()
    balancer = Balancer(view)
    assert balancer.invokers == ()
    with pytest.raises(NoInvokersError) as raised:
        balancer.acquire("a1", "guest", fqn("x"))
    assert (raised.value.status, raised.value.message) == (503, errors.NO_INVOKERS)
    assert balancer.in_flight_mb(0) == 0


def test_the_view_can_change_under_the_balancer() -> None:
    view = View(InvokerInfo(0, 1024), InvokerInfo(1, 1024))
    balancer = Balancer(view)
    view.view = (InvokerInfo(1, 1024),)
    assert {balancer.choose("guest", fqn(f"a{i}")) for i in range(20)} == {1}
