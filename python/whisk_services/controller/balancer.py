"""Which invoker runs an activation: a home invoker per action, stepping past full ones.

Over the current view of usable invokers (``invoker_pool``: the configured list, or the
healthy, undrained invokers registered in Consul), an activation of an action invoked in a
namespace has a home: CRC-32 of the namespace and the action's path, modulo the number of
invokers. The hash is the same in every process and on every controller (Python's
``hash()`` of a string changes per process), so an action keeps landing where its warm
containers are, and different actions and callers spread over all invokers.

When the home invoker has no free memory the balancer probes ``home + step``,
``home + 2·step``, ... (modulo N) for the first that has; the step is chosen by the same hash
among sizes co-prime with N and with each other, so the probe visits every invoker once and
two crowded actions do not walk the same path. When none has room the activation goes to
its home anyway (the system is overloaded; the invoker queues it). No usable invoker at all:
503 "No invokers available.".

Free memory is the invoker's registered user memory minus the memory of the activations
this controller sent it that have not completed. The user memory is not divided by the
number of controllers (OpenWhisk shards it): each controller counts only its own
activations, so with several controllers an invoker may be promised more than it has and
queues the excess. An activation whose completion never arrives is released by the
controller's ack tracker (``acks``) when it forces the activation complete.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from functools import cache

from whisk_services.controller import errors
from whisk_services.controller.errors import ApiError
from whisk_services.controller.invoker_pool import InvokerInfo, InvokerView, StaticInvokers
from whisk_services.model.names import FullyQualifiedName

DEFAULT_MEMORY_MB = 256


class NoInvokersError(ApiError):
    """No invoker is healthy (or all are drained): 503."""

    def __init__(self) -> None:
        super().__init__(503, errors.NO_INVOKERS)


@cache
def step_sizes(count: int) -> tuple[int, ...]:
    """The probe steps for ``count`` invokers: every size up to ``count`` co-prime with it
    and with each smaller size taken (10 → 1, 3, 7)."""
    sizes: list[int] = []
    for size in range(1, count + 1):
        if math.gcd(size, count) == 1 and all(math.gcd(size, s) == 1 for s in sizes):
            sizes.append(size)
    return tuple(sizes)


def action_hash(namespace: str, action: FullyQualifiedName) -> int:
    """The stable hash of ``action`` invoked in ``namespace`` (the caller's namespace)."""
    return zlib.crc32(f"{namespace}\x00{action}".encode())


class Balancer:
    """Chooses an invoker from a view and counts this controller's memory in flight on each.

    ``invokers`` is the view (``InvokerView``) or a fixed, non-empty list of instance
    numbers (all healthy, memory unknown)."""

    def __init__(self, invokers: InvokerView | Sequence[int]) -> None:
        self.pool: InvokerView = (
            StaticInvokers(invokers) if isinstance(invokers, Sequence) else invokers
        )
        self._flights: dict[str, tuple[int, int]] = {}  # id -> invoker, MB
        self._in_flight_mb: dict[int, int] = {}

    @property
    def invokers(self) -> tuple[int, ...]:
        """The instance numbers of the invokers in use now."""
        return tuple(info.instance for info in self.pool.view)

    def in_flight_mb(self, invoker: int) -> int:
        """The memory of this controller's activations in flight on ``invoker``."""
        return self._in_flight_mb.get(invoker, 0)

    def _fits(self, info: InvokerInfo, memory_mb: int) -> bool:
        if info.user_memory_mb is None:
            return True
        return self.in_flight_mb(info.instance) + memory_mb <= info.user_memory_mb

    def choose(
        self, namespace: str, action: FullyQualifiedName, memory_mb: int = DEFAULT_MEMORY_MB
    ) -> int:
        """The invoker for an activation of ``action`` in ``namespace`` needing
        ``memory_mb``: its home, else the first with room along its step, else its home.

        Raises NoInvokersError when the view is empty."""
        view = self.pool.view
        if not view:
            raise NoInvokersError
        count = len(view)
        hashed = action_hash(namespace, action)
        home = hashed % count
        steps = step_sizes(count)
        step = steps[hashed % len(steps)]
        for probe in range(count):
            info = view[(home + probe * step) % count]
            if self._fits(info, memory_mb):
                return info.instance
        return view[home].instance  # overloaded: forced onto the home invoker

    def acquire(
        self,
        activation_id: str,
        namespace: str,
        action: FullyQualifiedName,
        memory_mb: int = DEFAULT_MEMORY_MB,
    ) -> int:
        """``choose``, and count ``memory_mb`` on the chosen invoker until ``release``."""
        invoker = self.choose(namespace, action, memory_mb)
        self.release(activation_id)  # the same id twice: counted once
        self._flights[activation_id] = (invoker, memory_mb)
        self._in_flight_mb[invoker] = self.in_flight_mb(invoker) + memory_mb
        return invoker

    def release(self, activation_id: str) -> None:
        """The activation completed or was never sent; unknown ids are ignored."""
        flight = self._flights.pop(activation_id, None)
        if flight is None:
            return
        invoker, memory_mb = flight
        left = self.in_flight_mb(invoker) - memory_mb
        if left > 0:
            self._in_flight_mb[invoker] = left
        else:
            self._in_flight_mb.pop(invoker, None)
