"""`wsk namespace list|get` and `wsk list` (everything in the namespace)."""

from __future__ import annotations

import argparse
from typing import Any

from whisk_services.cli.wsk import rules
from whisk_services.cli.wsk.client import WhiskError
from whisk_services.cli.wsk.context import Context, nested
from whisk_services.cli.wsk.names import parse_namespace
from whisk_services.cli.wsk.output import out, print_entity_list

COLLECTIONS = ("packages", "actions", "triggers", "rules")


def list_namespaces(ctx: Context, args: argparse.Namespace) -> int:
    try:
        _, names = ctx.call("GET", "namespaces")
    except WhiskError as err:
        raise nested("Unable to obtain the list of available namespaces", err) from err
    out("namespaces")
    for name in names or []:
        out(str(name))
    return 0


def get_namespace(ctx: Context, args: argparse.Namespace) -> int:
    """`Entities in namespace: NS`, then the packages, actions, triggers and rules lists."""
    namespace = parse_namespace(args.namespace) if args.namespace else ctx.config.namespace
    found: dict[str, list[dict[str, Any]]] = {}
    for collection in COLLECTIONS:
        try:
            _, entities = ctx.call("GET", "namespaces", namespace, collection)
        except WhiskError as err:
            raise nested(
                f"Unable to obtain the list of entities for namespace '{namespace}'", err
            ) from err
        found[collection] = list(entities or [])
    found["rules"] = [rules.with_status(ctx, namespace, rule) for rule in found["rules"]]
    out(f"Entities in namespace: {ctx.display_namespace(namespace)}")
    for collection in COLLECTIONS:
        print_entity_list(collection, found[collection], sort=args.name_sort)
    return 0


def register(groups: Any, parent: argparse.ArgumentParser) -> None:
    group = groups.add_parser("namespace", help="work with namespaces", parents=[parent])
    sub = group.add_subparsers(dest="command", metavar="COMMAND", required=True)
    cmd = sub.add_parser("list", help="list available namespaces", parents=[parent])
    cmd.set_defaults(handler=list_namespaces)
    cmd = sub.add_parser("get", help="get entities of a namespace", parents=[parent])
    cmd.add_argument("namespace", nargs="?", metavar="NAMESPACE")
    cmd.add_argument("-n", "--name-sort", action="store_true", help="sort by name")
    cmd.set_defaults(handler=get_namespace)

    cmd = groups.add_parser("list", help="list entities in the namespace", parents=[parent])
    cmd.add_argument("namespace", nargs="?", metavar="NAMESPACE")
    cmd.add_argument("-n", "--name-sort", action="store_true", help="sort by name")
    cmd.set_defaults(handler=get_namespace)
