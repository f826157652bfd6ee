"""`wsk activation list|get|logs|result|poll`."""

from __future__ import annotations

import argparse
import time
from typing import Any

from whisk_services.cli.wsk.client import WhiskError
from whisk_services.cli.wsk.context import Context, nested
from whisk_services.cli.wsk.output import (
    ok,
    out,
    print_activation_list,
    print_activation_summary,
    print_json,
)

POLL_INTERVAL_SECONDS = 2.0


def strip_log(line: str) -> str:
    """Drop the `<ISO time> stdout:` prefix of a log line, as `wsk` does with --strip."""
    stamp, sep, rest = line.partition("Z")
    if sep and len(stamp) >= 19 and stamp[4] == "-" and stamp[10] == "T":
        rest = rest.lstrip(" ")
        for stream in ("stdout:", "stderr:"):
            if rest.startswith(stream):
                rest = rest[len(stream) :]
                break
        return rest[1:] if rest.startswith(" ") else rest
    return line


def _list(ctx: Context, query: dict[str, str], namespace: str | None = None) -> list[Any]:
    ns = namespace or ctx.config.namespace
    _, rows = ctx.call("GET", "namespaces", ns, "activations", query=query)
    return list(rows or [])


def _activation_id(ctx: Context, args: argparse.Namespace, what: str) -> str:
    """The ID argument, or with `--last` the newest activation's id."""
    if not args.last:
        if not args.id:
            raise WhiskError("An activation ID is required.", 2)
        return str(args.id)
    try:
        rows = _list(ctx, {"limit": "1", "skip": "0"})
    except WhiskError as err:
        raise nested(f"Unable to {what}", err) from err
    if not rows:
        raise WhiskError("Activation list does not contain any activations.")
    return str(rows[0].get("activationId", ""))


def list_(ctx: Context, args: argparse.Namespace) -> int:
    namespace = ctx.config.namespace
    query: dict[str, str] = {}
    if args.name:
        qname = ctx.name(args.name)
        namespace = qname.namespace
        query["name"] = qname.entity
    for key in ("limit", "skip", "since", "upto"):
        value = getattr(args, key)
        if value is not None:
            query[key] = str(value)
    if args.full:
        query["docs"] = "true"
    try:
        rows = _list(ctx, query, namespace)
    except WhiskError as err:
        raise nested(
            f"Unable to obtain the list of activations for namespace '{namespace}'", err
        ) from err
    if args.full:
        out("activations")
        for row in rows:
            print_json(row)
    else:
        print_activation_list(rows)
    return 0


def get(ctx: Context, args: argparse.Namespace) -> int:
    if args.last and args.id is not None and args.field is None:
        # `get --last FIELD`: with --last the one positional is the field filter (as wsk).
        args.field, args.id = args.id, None
    activation_id = _activation_id(ctx, args, "get activation")
    try:
        _, activation = ctx.call("GET", "namespaces", ctx.config.namespace, "activations",
                                 activation_id)  # fmt: skip
    except WhiskError as err:
        raise nested(f"Unable to get activation '{activation_id}'", err) from err
    if args.summary:
        print_activation_summary(activation)
    elif args.logs:
        for line in activation.get("logs") or []:
            out(strip_log(str(line)))
    elif args.field:
        if args.field not in activation:
            raise WhiskError(f"Invalid field filter '{args.field}'.")
        ok(f"got activation {activation_id}, displaying field {args.field}")
        print_json(activation[args.field])
    else:
        ok(f"got activation {activation_id}")
        print_json(activation)
    return 0


def logs(ctx: Context, args: argparse.Namespace) -> int:
    """The log lines as stored (`<time> stdout: text`); `-r/--strip` keeps only the text."""
    activation_id = _activation_id(ctx, args, "get logs for activation")
    try:
        _, body = ctx.call("GET", "namespaces", ctx.config.namespace, "activations",
                           activation_id, "logs")  # fmt: skip
    except WhiskError as err:
        raise nested(f"Unable to get logs for activation '{activation_id}'", err) from err
    for line in (body or {}).get("logs") or []:
        out(strip_log(str(line)) if args.strip else str(line))
    return 0


def result(ctx: Context, args: argparse.Namespace) -> int:
    activation_id = _activation_id(ctx, args, "get result for activation")
    try:
        _, body = ctx.call("GET", "namespaces", ctx.config.namespace, "activations",
                           activation_id, "result")  # fmt: skip
    except WhiskError as err:
        raise nested(f"Unable to get result for activation '{activation_id}'", err) from err
    print_json((body or {}).get("result", {}), sort_keys=True)
    return 0


def _poll_start(ctx: Context, args: argparse.Namespace, query: dict[str, str]) -> int:
    back = int(
        args.since_seconds + 60 * args.since_minutes + 3600 * args.since_hours
        + 86400 * args.since_days
    )  # fmt: skip
    now_ms = int(time.time() * 1000)
    if back:
        return now_ms - back * 1000
    try:
        rows = _list(ctx, {**query, "limit": "1", "skip": "0"}, args.poll_namespace)
    except WhiskError:
        return now_ms
    return int(rows[0].get("start", now_ms)) + 1 if rows else now_ms


def poll(ctx: Context, args: argparse.Namespace) -> int:
    """Print the logs of each new activation until `--exit SECONDS` (or forever)."""
    query: dict[str, str] = {}
    args.poll_namespace = None
    if args.name:
        if args.name.startswith("/") and args.name.strip("/").count("/") == 0:
            args.poll_namespace = args.name.strip("/")
        else:
            qname = ctx.name(args.name)
            args.poll_namespace = qname.namespace
            query["name"] = qname.entity
    since = _poll_start(ctx, args, query)
    out("Polling for activation logs")
    started = time.monotonic()
    reported: set[str] = set()
    while not (args.exit > 0 and time.monotonic() - started > args.exit):
        try:
            rows = _list(ctx, {**query, "docs": "true", "since": str(since)}, args.poll_namespace)
        except WhiskError:
            rows = []
        for row in rows:
            activation_id = str(row.get("activationId", ""))
            if activation_id not in reported:
                out()
                out(f"Activation: '{row.get('name', '')}' ({activation_id})")
                print_json(row.get("logs") or [])
                reported.add(activation_id)
            since = max(since, int(row.get("start") or 0) + 1)
        time.sleep(POLL_INTERVAL_SECONDS)
    return 0


def _id_parser(sub: Any, parent: argparse.ArgumentParser, name: str, text: str) -> Any:
    cmd = sub.add_parser(name, help=text, parents=[parent])
    cmd.add_argument("id", nargs="?", metavar="ACTIVATION_ID")
    cmd.add_argument("-l", "--last", action="store_true", help="the most recent activation")
    return cmd


def register(groups: Any, parent: argparse.ArgumentParser) -> None:
    group = groups.add_parser("activation", help="work with activations", parents=[parent])
    sub = group.add_subparsers(dest="command", metavar="COMMAND", required=True)

    cmd = sub.add_parser("list", help="list activations", parents=[parent])
    cmd.add_argument("name", nargs="?", metavar="ACTION_NAME")
    cmd.add_argument("-l", "--limit", type=int, help="only return LIMIT activations")
    cmd.add_argument("-s", "--skip", type=int, help="exclude the first SKIP activations")
    cmd.add_argument("-f", "--full", action="store_true", help="include full details")
    cmd.add_argument("--since", type=int, help="activations since this epoch ms")
    cmd.add_argument("--upto", type=int, help="activations up to this epoch ms")
    cmd.set_defaults(handler=list_)

    cmd = _id_parser(sub, parent, "get", "get activation")
    cmd.add_argument("field", nargs="?", metavar="FIELD_FILTER")
    cmd.add_argument("-s", "--summary", action="store_true", help="summarize the activation")
    cmd.add_argument("-g", "--logs", action="store_true", help="only the activation's logs")
    cmd.set_defaults(handler=get)

    cmd = _id_parser(sub, parent, "logs", "get the logs of an activation")
    cmd.add_argument("-r", "--strip", action="store_true", help="strip timestamp and stream")
    cmd.set_defaults(handler=logs)

    cmd = _id_parser(sub, parent, "result", "get the result of an activation")
    cmd.set_defaults(handler=result)

    cmd = sub.add_parser("poll", help="poll for activation logs", parents=[parent])
    cmd.add_argument("name", nargs="?", metavar="NAMESPACE|ACTION_NAME")
    cmd.add_argument("-e", "--exit", type=int, default=0, help="stop after SECONDS")
    for unit in ("seconds", "minutes", "hours", "days"):
        cmd.add_argument(f"--since-{unit}", type=int, default=0, help=f"start {unit} ago")
    cmd.set_defaults(handler=poll)
