"""`wsk trigger create|update|get|delete|list|fire`."""

from __future__ import annotations

import argparse
import json
from typing import Any

from whisk_services.cli.wsk import common
from whisk_services.cli.wsk.client import WhiskError
from whisk_services.cli.wsk.context import Context, nested
from whisk_services.cli.wsk.output import ok
from whisk_services.cli.wsk.params import collect, to_key_values


def _put(ctx: Context, args: argparse.Namespace, create: bool) -> int:
    qname = ctx.name(args.name)
    verb = "create" if create else "update"
    if getattr(args, "feed", None):
        raise WhiskError(f"Unable to {verb} trigger '{qname.entity}': feeds are not supported yet")
    body: dict[str, Any] = {}
    params = collect(args.param, args.param_file)
    if params or create:
        body["parameters"] = to_key_values(params)
    annotations = collect(args.annotation, args.annotation_file)
    if annotations or create:
        body["annotations"] = to_key_values(annotations)
    try:
        query = {"overwrite": "false" if create else "true"}
        ctx.entity("PUT", "triggers", qname, query=query, body=body)
    except WhiskError as err:
        raise nested(f"Unable to {verb} trigger '{qname.entity}'", err) from err
    ok(f"{verb}d trigger {qname.entity}")
    return 0


def create(ctx: Context, args: argparse.Namespace) -> int:
    return _put(ctx, args, create=True)


def update(ctx: Context, args: argparse.Namespace) -> int:
    return _put(ctx, args, create=False)


def fire(ctx: Context, args: argparse.Namespace) -> int:
    """`ok: triggered /ns/name with id ID` (the id is empty when no rule is active: 204)."""
    qname = ctx.name(args.name)
    payload: dict[str, Any] = {}
    if args.payload:
        try:
            parsed = json.loads(args.payload)
        except ValueError as exc:
            raise WhiskError(f"Invalid JSON payload '{args.payload}'") from exc
        if not isinstance(parsed, dict):
            raise WhiskError(f"Invalid JSON payload '{args.payload}': not an object")
        payload.update(parsed)
    payload.update(collect(args.param, args.param_file))
    try:
        _, response = ctx.entity("POST", "triggers", qname, body=payload)
    except WhiskError as err:
        raise nested(f"Unable to fire trigger '{qname.entity}'", err) from err
    activation_id = response.get("activationId", "") if isinstance(response, dict) else ""
    namespace = ctx.display_namespace(qname.namespace)
    ok(f"triggered /{namespace}/{qname.entity} with id {activation_id}")
    return 0


def get(ctx: Context, args: argparse.Namespace) -> int:
    return common.get_entity(ctx, "triggers", args)


def delete(ctx: Context, args: argparse.Namespace) -> int:
    return common.delete_entity(ctx, "triggers", args)


def list_(ctx: Context, args: argparse.Namespace) -> int:
    return common.list_entities(ctx, "triggers", args)


def register(groups: Any, parent: argparse.ArgumentParser) -> None:
    group = groups.add_parser("trigger", help="work with triggers", parents=[parent])
    sub = group.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, handler in (("create", create), ("update", update)):
        cmd = sub.add_parser(name, help=f"{name} a trigger", parents=[parent])
        cmd.add_argument("name", metavar="TRIGGER_NAME")
        cmd.add_argument("-f", "--feed", metavar="ACTION_NAME", help="trigger feed (unsupported)")
        common.add_param_flags(cmd)
        cmd.set_defaults(handler=handler)

    cmd = sub.add_parser("fire", help="fire trigger event", parents=[parent])
    cmd.add_argument("name", metavar="TRIGGER_NAME")
    cmd.add_argument("payload", nargs="?", metavar="TRIGGER_PAYLOAD")
    common.add_param_flags(cmd, annotations=False)
    cmd.set_defaults(handler=fire)

    cmd = sub.add_parser("get", help="get trigger", parents=[parent])
    cmd.add_argument("name", metavar="TRIGGER_NAME")
    cmd.add_argument("field", nargs="?", metavar="FIELD_FILTER")
    cmd.add_argument("-s", "--summary", action="store_true", help="summarize trigger details")
    cmd.set_defaults(handler=get)

    cmd = sub.add_parser("delete", help="delete trigger", parents=[parent])
    cmd.add_argument("name", metavar="TRIGGER_NAME")
    cmd.set_defaults(handler=delete)

    cmd = sub.add_parser("list", help="list all triggers", parents=[parent])
    cmd.add_argument("namespace", nargs="?", metavar="NAMESPACE")
    common.add_list_flags(cmd)
    cmd.set_defaults(handler=list_)
