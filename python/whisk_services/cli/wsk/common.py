"""Shared pieces of the entity commands: flags, get/delete/list, field filters."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from whisk_services.cli.wsk.client import WhiskError, quote_path
from whisk_services.cli.wsk.context import Context, list_query, nested
from whisk_services.cli.wsk.names import parse_namespace
from whisk_services.cli.wsk.output import ok, out, print_entity_list, print_json

SINGULAR = {"actions": "action", "triggers": "trigger", "rules": "rule", "packages": "package"}


def add_param_flags(parser: argparse.ArgumentParser, *, annotations: bool = True) -> None:
    parser.add_argument(
        "-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"),
        help="parameter values in KEY VALUE format (VALUE as JSON when it parses)",
    )  # fmt: skip
    parser.add_argument(
        "-P", "--param-file", action="append", metavar="FILE",
        help="FILE containing parameter values in JSON format",
    )  # fmt: skip
    if annotations:
        parser.add_argument(
            "-a", "--annotation", nargs=2, action="append", metavar=("KEY", "VALUE"),
            help="annotation values in KEY VALUE format",
        )  # fmt: skip
        parser.add_argument(
            "-A", "--annotation-file", action="append", metavar="FILE",
            help="FILE containing annotation values in JSON format",
        )  # fmt: skip


def add_list_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--skip", type=int, help="exclude the first SKIP entities")
    parser.add_argument("-l", "--limit", type=int, help="only return LIMIT entities")
    parser.add_argument("-n", "--name-sort", action="store_true", help="sort by name")


def show_field(label: str, entity: dict[str, Any], field: str) -> None:
    if field not in entity:
        raise WhiskError(f"Invalid field filter '{field}'.")
    ok(f"got {label}, displaying field {field}")
    print_json(entity[field])


def get_entity(ctx: Context, collection: str, args: argparse.Namespace) -> int:
    """`wsk <x> get NAME [FIELD]`: `ok: got <x> NAME` and the entity as JSON."""
    kind = SINGULAR[collection]
    qname = ctx.name(args.name)
    try:
        _, entity = ctx.entity("GET", collection, qname)
    except WhiskError as err:
        raise nested(f"Unable to get {kind} '{qname.entity}'", err) from err
    if getattr(args, "summary", False):
        print_summary(kind, entity)
    elif getattr(args, "field", None):
        show_field(f"{kind} {qname.entity}", entity, args.field)
    else:
        ok(f"got {kind} {qname.entity}")
        print_json(entity)
    return 0


def print_summary(kind: str, entity: dict[str, Any]) -> None:
    """`<kind> /ns/name` (with its description when annotated) and its parameter names."""
    path = f"/{entity.get('namespace', '')}/{entity.get('name', '')}"
    description = next(
        (
            a.get("value")
            for a in entity.get("annotations") or []
            if isinstance(a, dict) and a.get("key") == "description"
        ),
        None,
    )
    out(f"{kind} {path}: {description}" if description else f"{kind} {path}")
    keys = [str(p.get("key")) for p in entity.get("parameters") or [] if isinstance(p, dict)]
    out(f"   (parameters: {', '.join(keys) if keys else 'none defined'})")


def delete_entity(ctx: Context, collection: str, args: argparse.Namespace) -> int:
    kind = SINGULAR[collection]
    qname = ctx.name(args.name)
    try:
        ctx.entity("DELETE", collection, qname)
    except WhiskError as err:
        raise nested(f"Unable to delete {kind} '{qname.entity}'", err) from err
    ok(f"deleted {kind} {qname.entity}")
    return 0


def list_entities(
    ctx: Context,
    collection: str,
    args: argparse.Namespace,
    each: Callable[[Context, str, dict[str, Any]], dict[str, Any]] | None = None,
) -> int:
    """`wsk <x> list [NAMESPACE]`; ``each`` completes every listed entity (rule status)."""
    target = getattr(args, "namespace", None)
    namespace = parse_namespace(target) if target else ctx.config.namespace
    try:
        _, entities = ctx.call("GET", "namespaces", namespace, collection, query=list_query(args))
    except WhiskError as err:
        raise nested(
            f"Unable to obtain the list of {collection} for namespace '{namespace}'", err
        ) from err
    found = list(entities or [])
    if each is not None:
        found = [each(ctx, namespace, entity) for entity in found]
    print_entity_list(collection, found, sort=getattr(args, "name_sort", False))
    return 0


def list_package_actions(ctx: Context, package: str, args: argparse.Namespace) -> int:
    """`wsk action list PKG`: GET `/namespaces/{ns}/actions/{pkg}/`."""
    qname = ctx.name(package)
    path = quote_path("namespaces", qname.namespace, "actions", qname.entity) + "/"
    try:
        _, entities = ctx.client.request("GET", path, query=list_query(args))
    except WhiskError as err:
        raise nested(
            f"Unable to obtain the list of actions for namespace '{qname.namespace}'", err
        ) from err
    print_entity_list("actions", list(entities or []), sort=args.name_sort)
    return 0
