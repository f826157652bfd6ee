"""`wsk rule create|update|get|delete|list|enable|disable|status`."""

from __future__ import annotations

import argparse
from typing import Any

from whisk_services.cli.wsk import common
from whisk_services.cli.wsk.client import WhiskError
from whisk_services.cli.wsk.context import Context, nested
from whisk_services.cli.wsk.output import ok


def _put(ctx: Context, args: argparse.Namespace, create: bool) -> int:
    qname = ctx.name(args.name)
    verb = "create" if create else "update"
    body = {"trigger": ctx.name(args.trigger).fqn, "action": ctx.name(args.action).fqn}
    try:
        query = {"overwrite": "false" if create else "true"}
        ctx.entity("PUT", "rules", qname, query=query, body=body)
    except WhiskError as err:
        raise nested(f"Unable to {verb} rule '{qname.entity}'", err) from err
    ok(f"{verb}d rule {qname.entity}")
    return 0


def create(ctx: Context, args: argparse.Namespace) -> int:
    return _put(ctx, args, create=True)


def update(ctx: Context, args: argparse.Namespace) -> int:
    return _put(ctx, args, create=False)


def _set_status(ctx: Context, name: str, status: str, verb: str) -> None:
    qname = ctx.name(name)
    try:
        ctx.entity("POST", "rules", qname, body={"status": status})
    except WhiskError as err:
        raise nested(f"Unable to {verb} rule '{qname.entity}'", err) from err


def enable(ctx: Context, args: argparse.Namespace) -> int:
    _set_status(ctx, args.name, "active", "enable")
    ok(f"enabled rule {ctx.name(args.name).entity}")
    return 0


def disable(ctx: Context, args: argparse.Namespace) -> int:
    _set_status(ctx, args.name, "inactive", "disable")
    ok(f"disabled rule {ctx.name(args.name).entity}")
    return 0


def status(ctx: Context, args: argparse.Namespace) -> int:
    qname = ctx.name(args.name)
    try:
        _, rule = ctx.entity("GET", "rules", qname)
    except WhiskError as err:
        raise nested(f"Unable to get status of rule '{qname.entity}'", err) from err
    ok(f"rule {qname.entity} is {rule.get('status', '') if isinstance(rule, dict) else ''}")
    return 0


def get(ctx: Context, args: argparse.Namespace) -> int:
    return common.get_entity(ctx, "rules", args)


def delete(ctx: Context, args: argparse.Namespace) -> int:
    if args.disable:
        _set_status(ctx, args.name, "inactive", "disable")
    return common.delete_entity(ctx, "rules", args)


def with_status(ctx: Context, namespace: str, rule: dict[str, Any]) -> dict[str, Any]:
    """The rule with its `status`, asked of the server when the list left it out (as wsk)."""
    if rule.get("status"):
        return rule
    try:
        _, full = ctx.call("GET", "namespaces", namespace, "rules", str(rule.get("name", "")))
    except WhiskError as err:
        raise nested(f"Unable to get status of rule '{rule.get('name', '')}'", err) from err
    return {**rule, "status": full.get("status", "") if isinstance(full, dict) else ""}


def list_(ctx: Context, args: argparse.Namespace) -> int:
    return common.list_entities(ctx, "rules", args, each=with_status)


def register(groups: Any, parent: argparse.ArgumentParser) -> None:
    group = groups.add_parser("rule", help="work with rules", parents=[parent])
    sub = group.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, handler in (("create", create), ("update", update)):
        cmd = sub.add_parser(name, help=f"{name} a rule", parents=[parent])
        cmd.add_argument("name", metavar="RULE_NAME")
        cmd.add_argument("trigger", metavar="TRIGGER_NAME")
        cmd.add_argument("action", metavar="ACTION_NAME")
        cmd.set_defaults(handler=handler)
    simple: tuple[tuple[str, Any, str], ...] = (
        ("enable", enable, "enable rule"),
        ("disable", disable, "disable rule"),
        ("status", status, "get rule status"),
    )
    for name, handler, text in simple:
        cmd = sub.add_parser(name, help=text, parents=[parent])
        cmd.add_argument("name", metavar="RULE_NAME")
        cmd.set_defaults(handler=handler)

    cmd = sub.add_parser("get", help="get rule", parents=[parent])
    cmd.add_argument("name", metavar="RULE_NAME")
    cmd.add_argument("field", nargs="?", metavar="FIELD_FILTER")
    cmd.add_argument("-s", "--summary", action="store_true", help="summarize rule details")
    cmd.set_defaults(handler=get)

    cmd = sub.add_parser("delete", help="delete rule", parents=[parent])
    cmd.add_argument("name", metavar="RULE_NAME")
    cmd.add_argument("--disable", action="store_true", help="automatically disable rule")
    cmd.set_defaults(handler=delete)

    cmd = sub.add_parser("list", help="list all rules", parents=[parent])
    cmd.add_argument("namespace", nargs="?", metavar="NAMESPACE")
    common.add_list_flags(cmd)
    cmd.set_defaults(handler=list_)
