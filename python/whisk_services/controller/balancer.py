"""Which invoker runs an activation: a stable hash over the configured invokers.

The same namespace and action always land on the same invoker (its warm containers serve
them), and different actions spread over all invokers. The hash is CRC-32, the same in every
process and on every controller (Python's ``hash()`` of a string changes per process).
The invoker list comes from the settings for now; health-aware choice from Consul replaces
this later.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from whisk_services.model.names import FullyQualifiedName


class Balancer:
    """Chooses among a fixed, non-empty list of invoker instance numbers."""

    def __init__(self, invokers: Sequence[int]) -> None:
        if not invokers:
            raise ValueError("a balancer needs at least one invoker")
        self.invokers = tuple(invokers)

    def choose(self, namespace: str, action: FullyQualifiedName) -> int:
        """The invoker for ``action`` invoked in ``namespace`` (the caller's namespace)."""
        key = f"{namespace}\x00{action}".encode()
        return self.invokers[zlib.crc32(key) % len(self.invokers)]
