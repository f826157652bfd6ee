"""Per-action limits (timeout, memory, logs, concurrency) and the bounds they must respect.

Defaults and bounds are OpenWhisk's `application.conf` values; a deployment may widen them
(OpenWhisk's local environment raises the concurrency maximum to 500) by passing its own
`LimitBounds`. Error texts are those of OpenWhisk's limit classes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from whisk_services.model._json import as_int, as_object
from whisk_services.model.errors import ModelError


@dataclass(frozen=True, slots=True)
class LimitBounds:
    """Inclusive minimum and maximum of each limit, and the value used when one is omitted."""

    min_timeout_ms: int = 100
    max_timeout_ms: int = 300_000
    std_timeout_ms: int = 60_000
    min_memory_mb: int = 128
    max_memory_mb: int = 512
    std_memory_mb: int = 256
    min_logs_mb: int = 0
    max_logs_mb: int = 10
    std_logs_mb: int = 10
    min_concurrency: int = 1
    max_concurrency: int = 1
    std_concurrency: int = 1


DEFAULT_BOUNDS = LimitBounds()


def _check(value: int, low: int, high: int, below: str, above: str) -> None:
    if value < low:
        raise ModelError(below)
    if value > high:
        raise ModelError(above)


LIMIT_FIELDS = ("timeout", "memory", "logs", "concurrency")


def _read(value: Any) -> dict[str, int]:
    """The limits present in a `limits` object, type-checked but not bounded."""
    body = as_object(value, "limits")
    return {
        field: as_int(body[field], f"limits.{field}")
        for field in LIMIT_FIELDS
        if body.get(field) is not None
    }


@dataclass(frozen=True, slots=True)
class ActionLimits:
    """The limits of one action: timeout in ms, memory and logs in MB, concurrent activations."""

    timeout: int = DEFAULT_BOUNDS.std_timeout_ms
    memory: int = DEFAULT_BOUNDS.std_memory_mb
    logs: int = DEFAULT_BOUNDS.std_logs_mb
    concurrency: int = DEFAULT_BOUNDS.std_concurrency

    @classmethod
    def standard(cls, bounds: LimitBounds = DEFAULT_BOUNDS) -> ActionLimits:
        """The limits an action gets when it specifies none."""
        return cls(
            bounds.std_timeout_ms, bounds.std_memory_mb, bounds.std_logs_mb, bounds.std_concurrency
        )

    def validate(self, bounds: LimitBounds = DEFAULT_BOUNDS) -> ActionLimits:
        """Return self if every limit lies within `bounds`, else raise OpenWhisk's message."""
        b = bounds
        _check(
            self.timeout,
            b.min_timeout_ms,
            b.max_timeout_ms,
            f"duration {self.timeout} milliseconds below allowed threshold of "
            f"{b.min_timeout_ms} milliseconds",
            f"duration {self.timeout} milliseconds exceeds allowed threshold of "
            f"{b.max_timeout_ms} milliseconds",
        )
        _check(
            self.memory,
            b.min_memory_mb,
            b.max_memory_mb,
            f"memory {self.memory} MB below allowed threshold of {b.min_memory_mb} MB",
            f"memory {self.memory} MB exceeds allowed threshold of {b.max_memory_mb} MB",
        )
        _check(
            self.logs,
            b.min_logs_mb,
            b.max_logs_mb,
            f"log size {self.logs} MB below allowed threshold of {b.min_logs_mb} MB",
            f"log size {self.logs} MB exceeds allowed threshold of {b.max_logs_mb} MB",
        )
        _check(
            self.concurrency,
            b.min_concurrency,
            b.max_concurrency,
            f"concurrency {self.concurrency} below allowed threshold of {b.min_concurrency}",
            f"concurrency {self.concurrency} exceeds allowed threshold of {b.max_concurrency}",
        )
        return self

    @classmethod
    def from_api(
        cls,
        value: Any,
        base: ActionLimits | None = None,
        bounds: LimitBounds = DEFAULT_BOUNDS,
    ) -> ActionLimits:
        """Read a (possibly partial) `limits` object; omitted fields keep `base`'s values.

        Unknown keys are ignored, as OpenWhisk ignores them.
        """
        limits = base if base is not None else cls.standard(bounds)
        return replace(limits, **_read(value)).validate(bounds)

    @classmethod
    def from_doc(cls, value: Any) -> ActionLimits:
        """Read stored limits as they are: the bounds in force when they were written applied.

        Bounds are deployment settings and may since have changed; a stored action stays
        readable. Omitted fields take the default bounds' standard values.
        """
        return cls(**_read(value))

    def to_api(self) -> dict[str, int]:
        """The JSON shape `{"timeout", "memory", "logs", "concurrency"}`."""
        return {
            "timeout": self.timeout,
            "memory": self.memory,
            "logs": self.logs,
            "concurrency": self.concurrency,
        }
