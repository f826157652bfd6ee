"""Find staged artifacts (Kafka, Consul, PouchDB Server) through the artifact manifest."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


class ArtifactMissingError(RuntimeError):
    """An artifact the caller needs has not been staged: run `make artifacts`."""


@dataclass(frozen=True)
class Artifact:
    """One staged component: its name, version and the directory it was staged into."""

    name: str
    version: str
    path: Path
    source: str


def artifact_dir() -> Path:
    """The artifact directory: $WHISK_ARTIFACTS, or ~/.cache/whisk/artifacts."""
    configured = os.environ.get("WHISK_ARTIFACTS")
    if configured:
        return Path(configured)
    return Path.home() / ".cache" / "whisk" / "artifacts"


def find_artifact(name: str, root: Path | None = None) -> Artifact:
    """Return the staged component called ``name``, or fail saying how to stage it."""
    base = root or artifact_dir()
    manifest = base / "manifest.json"
    try:
        components = json.loads(manifest.read_text())["components"]
    except (OSError, ValueError, KeyError) as error:
        raise ArtifactMissingError(
            f"no artifact manifest at {manifest} ({error}); run `make artifacts`"
        ) from error
    for component in components:
        if component["name"] == name:
            path = Path(component["path"])
            if not path.is_dir():
                break
            return Artifact(name, component["version"], path, component["source"])
    raise ArtifactMissingError(f"{name} is not staged in {base}; run `make artifacts`")
