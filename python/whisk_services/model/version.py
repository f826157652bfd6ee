"""Entity versions: `major.minor.patch` strings, `0.0.1` on create, patch bumped on update."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from whisk_services.model.errors import ModelError

_SEMVER_RE = re.compile(r"\A(\d+)\.(\d+)\.(\d+)\Z", re.ASCII)


@dataclass(frozen=True, slots=True, order=True)
class SemVer:
    """A semantic version; ordering compares numerically."""

    major: int = 0
    minor: int = 0
    patch: int = 1

    @classmethod
    def parse(cls, text: Any) -> SemVer:
        """Parse `"1.2.3"`; anything else is a 400."""
        match = _SEMVER_RE.match(text) if isinstance(text, str) else None
        if match is None:
            raise ModelError(f"'version' must be a semantic version like '0.0.1', not '{text}'.")
        major, minor, patch = (int(group) for group in match.groups())
        return cls(major, minor, patch)

    def bump_patch(self) -> SemVer:
        """The next patch version, as an update produces."""
        return SemVer(self.major, self.minor, self.patch + 1)

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"
