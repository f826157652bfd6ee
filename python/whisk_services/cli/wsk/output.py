"""What `wsk` prints: `ok:` lines, 4-space JSON, list columns, activation summaries."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any, TextIO

STATUS_NAMES = ("success", "application error", "developer error", "internal error")
NAME_COLUMN = 70
RULE_STATUS_COLUMN = 20


def out(line: str = "", stream: TextIO | None = None) -> None:
    """Write one line (streams are looked up at call time, so tests can capture them)."""
    (stream or sys.stdout).write(line + "\n")


def ok(message: str) -> None:
    out(f"ok: {message}")


def format_json(value: Any, *, sort_keys: bool = False) -> str:
    return json.dumps(value, indent=4, ensure_ascii=False, sort_keys=sort_keys)


def print_json(value: Any, stream: TextIO | None = None, *, sort_keys: bool = False) -> None:
    out(format_json(value, sort_keys=sort_keys), stream)


def annotation(entity: dict[str, Any], key: str) -> Any:
    for pair in entity.get("annotations") or []:
        if isinstance(pair, dict) and pair.get("key") == key:
            return pair.get("value")
    return None


def _path(entity: dict[str, Any]) -> str:
    return f"/{entity.get('namespace', '')}/{entity.get('name', '')}"


def _publish(entity: dict[str, Any]) -> str:
    return "shared" if entity.get("publish") is True else "private"


def action_row(entity: dict[str, Any]) -> str:
    kind = annotation(entity, "exec")
    if kind is None:
        kind = (entity.get("exec") or {}).get("kind", "")
    # wsk shows every action as private, whatever its publish flag.
    return f"{_path(entity):<{NAME_COLUMN}} private {kind}"


def trigger_row(entity: dict[str, Any]) -> str:
    return f"{_path(entity):<{NAME_COLUMN}} private"


def rule_row(entity: dict[str, Any]) -> str:
    status = entity.get("status", "")
    return f"{_path(entity):<{NAME_COLUMN}} {'private':<{RULE_STATUS_COLUMN}} {status}"


def package_row(entity: dict[str, Any]) -> str:
    return f"{_path(entity):<{NAME_COLUMN}} {_publish(entity)}"


ROW_FORMATTERS = {
    "actions": action_row,
    "triggers": trigger_row,
    "rules": rule_row,
    "packages": package_row,
}


def print_entity_list(collection: str, entities: list[dict[str, Any]], *, sort: bool) -> None:
    """A bold-less `actions` header, then one row per entity (server order unless sorted)."""
    out(collection)
    rows = sorted(entities, key=lambda e: str(e.get("name", "")).lower()) if sort else entities
    formatter = ROW_FORMATTERS[collection]
    for entity in rows:
        out(formatter(entity))


def local_time(epoch_ms: int) -> datetime:
    """A whole-second local time with its zone, as Go's time.Unix(ms/1000, 0)."""
    return datetime.fromtimestamp(epoch_ms // 1000).astimezone()


def go_time(epoch_ms: int) -> str:
    """Go's default time format: `2017-02-02 08:01:46 +0530 IST`."""
    return local_time(epoch_ms).strftime("%Y-%m-%d %H:%M:%S %z %Z")


def go_duration(ms: int) -> str:
    """Go's time.Duration String() for a whole number of milliseconds."""
    if ms <= 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    text = str(seconds)
    if millis:
        text += "." + f"{millis:03d}".rstrip("0")
    text += "s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return text


def truncate(text: str, maxlen: int) -> str:
    """Go CLI's TruncateStr: keep both ends, `...` in the middle."""
    if len(text) <= maxlen:
        return text
    mid = maxlen // 2
    upper = len(text) - mid + 3
    if maxlen % 2 != 0:
        mid += 1
    return text[:mid] + "..." + text[upper:]


def _activation_status(row: dict[str, Any]) -> str:
    code = row.get("statusCode")
    if isinstance(code, int) and 0 < code < len(STATUS_NAMES):
        return STATUS_NAMES[code]
    return STATUS_NAMES[0]


def _activation_kind(row: dict[str, Any]) -> str:
    kind = annotation(row, "kind")
    return kind if isinstance(kind, str) else "unknown"


def print_activation_list(rows: list[dict[str, Any]]) -> None:
    """`wsk activation list` columns: Datetime, Activation ID, Kind, Start, Duration, ..."""
    if not rows:
        out()
        return
    kind_width = max([4] + [len(_activation_kind(r)) for r in rows])
    status_width = max([6] + [len(_activation_status(r)) for r in rows])
    out(
        f"{'Datetime':<19} {'Activation ID':<32} {'Kind':<{kind_width}} {'Start':<6}"
        f"{'Duration':<10} {'Status':<{status_width}} {'Entity':<6}"
    )
    for row in rows:
        start_ms = int(row.get("start") or 0)
        duration = int(row.get("duration") or 0)
        start = "cold" if annotation(row, "initTime") is not None else "warm"
        fqn = (
            truncate(str(row.get("namespace", "")), 20)
            + "/"
            + truncate(str(row.get("name", "")), 30)
            + ":"
            + truncate(str(row.get("version", "")), 20)
        )
        out(
            f"{local_time(start_ms).strftime('%Y-%m-%d %H:%M:%S')}"
            f" {row.get('activationId', ''):<32} {_activation_kind(row):<{kind_width}}"
            f" {start:<5} {go_duration(duration):<10} {_activation_status(row):<{status_width}}"
            f" {fqn}"
        )


def print_activation_summary(activation: dict[str, Any]) -> None:
    """`activation result for /ns/name (success at <local time>)` and the result JSON."""
    response = activation.get("response") or {}
    when = activation.get("end") or activation.get("start") or 0
    out(
        f"activation result for /{activation.get('namespace', '')}/{activation.get('name', '')}"
        f" ({response.get('status', '')} at {go_time(int(when))})"
    )
    print_json(response.get("result", {}), sort_keys=True)
