"""Parameters and annotations (`-p/-P/-a/-A`), and an action's `exec` from a file."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from whisk_services.cli.wsk.client import WhiskError

KeyValues = list[dict[str, Any]]

EXTENSION_KINDS = {
    ".js": "nodejs:default",
    ".py": "python:default",
    ".java": "java:default",
    ".swift": "swift:default",
    ".php": "php:default",
    ".go": "go:default",
    ".rb": "ruby:default",
    ".rs": "rust:default",
    ".ps1": "powershell:default",
    ".bal": "ballerina:default",
    ".cs": "dotnet:default",
}
BINARY_EXTENSIONS = (".zip", ".jar")


def parse_value(text: str) -> Any:
    """A value given on the command line: JSON when it parses, else the plain string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def read_json_file(path: str) -> dict[str, Any]:
    """A `-P/-A` file: must hold one JSON object."""
    try:
        content = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise WhiskError(f"Unable to read the file '{path}': {exc}") from exc
    except ValueError as exc:
        raise WhiskError(f"Invalid JSON in the file '{path}': {exc}") from exc
    if not isinstance(content, dict):
        raise WhiskError(f"The file '{path}' must contain a JSON object")
    return content


def collect(pairs: list[list[str]] | None, files: list[str] | None) -> dict[str, Any]:
    """Merge `-P FILE` objects, then `-p KEY VALUE` pairs (a later key wins)."""
    merged: dict[str, Any] = {}
    for path in files or []:
        merged.update(read_json_file(path))
    for key, value in pairs or []:
        merged[key] = parse_value(value)
    return merged


def to_key_values(values: dict[str, Any]) -> KeyValues:
    return [{"key": key, "value": value} for key, value in values.items()]


def kind_for_file(path: str, kind: str | None) -> str:
    """The explicit `--kind`, else one inferred from the extension."""
    if kind:
        return kind
    suffix = Path(path).suffix.lower()
    if suffix in BINARY_EXTENSIONS:
        raise WhiskError(
            f"creating an action from a {suffix} artifact requires specifying the action kind"
            " explicitly"
        )
    if suffix in EXTENSION_KINDS:
        return EXTENSION_KINDS[suffix]
    raise WhiskError(
        f"Unable to determine the kind of the action from '{path}'; specify it with --kind"
    )


def read_code(path: str) -> str:
    """Source text, or base64 for a zip/jar (or any file that is not UTF-8 text)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise WhiskError(f"Unable to read the file '{path}': {exc}") from exc
    if Path(path).suffix.lower() in BINARY_EXTENSIONS:
        return base64.b64encode(data).decode("ascii")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


def web_annotations(mode: str) -> dict[str, Any]:
    """`--web true|yes|false|no|raw` as the annotations the controller reads."""
    lowered = mode.lower()
    if lowered in ("true", "yes"):
        return {"web-export": True, "raw-http": False, "final": True}
    if lowered in ("false", "no"):
        return {"web-export": False, "raw-http": False, "final": False}
    if lowered == "raw":
        return {"web-export": True, "raw-http": True, "final": True}
    raise WhiskError(
        f"Invalid argument '{mode}' for --web flag. Valid input consist of 'yes', 'true',"
        " 'raw', 'false', or 'no'."
    )
