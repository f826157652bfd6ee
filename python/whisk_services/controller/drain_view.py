"""What a controller tells an operator draining an invoker: whether it has seen the drain
flag, and how many of its activations that invoker still owes it.

A rolling upgrade drains an invoker (Consul KV ``whisk/invokers/invoker<N>/drain``), waits
until every controller says so in the view it publishes at
``whisk/invokers/invoker<N>/state/controller<M>`` with nothing in flight, and only then
replaces the invoker. Two fields of that view carry it (``fields``):

- ``drained``: this controller has seen the drain flag, so its balancer sends the invoker no
  new activation (the flag and the balancer's view change together, in
  ``invoker_pool.ConsulInvokers``) and its health monitor sends it no health test either;
- ``inFlight``: the activations this controller sent the invoker whose completion it still
  awaits (the ack tracker's count: each leaves at its completion, at its forced ack, or
  when its send failed). A flight is counted before its message leaves, so a drained
  invoker at 0 has nothing of this controller's on its way.

``DrainView`` keeps the flags it has seen, to say which invokers a change of them drained or
undrained, for the health monitor (``invoker_health``) to publish them promptly. The flights
it reads from their one owner, the ack tracker (``flights``, wired by ``Invocations``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from whisk_services.controller.invoker_pool import ConsulInvokers, InvokerView


def drains_seen(pool: InvokerView) -> frozenset[int]:
    """The invokers whose drain flag ``pool`` has seen (none for a static list)."""
    return pool.drained if isinstance(pool, ConsulInvokers) else frozenset()


def no_flights(instance: int) -> int:
    """The flights of a controller that sends nothing (no ack tracker wired)."""
    return 0


@dataclass(slots=True)
class DrainView:
    """Each invoker's drain flag as this controller has seen it; its flights there as
    ``flights`` counts them."""

    drained: frozenset[int] = frozenset()
    flights: Callable[[int], int] = no_flights

    def is_drained(self, instance: int) -> bool:
        return instance in self.drained

    def set_drained(self, instances: Iterable[int]) -> set[int]:
        """The flags seen now; the invokers drained or undrained by this change."""
        now = frozenset(instances)
        changed = set(now ^ self.drained)
        self.drained = now
        return changed

    def fields(self, instance: int) -> dict[str, object]:
        """The fields this view adds to the published state of ``instance``."""
        return {"drained": self.is_drained(instance), "inFlight": self.flights(instance)}
