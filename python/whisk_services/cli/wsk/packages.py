"""`wsk package create|update|get|delete|list|bind`."""

from __future__ import annotations

import argparse
from typing import Any

from whisk_services.cli.wsk import common
from whisk_services.cli.wsk.client import WhiskError
from whisk_services.cli.wsk.context import Context, nested
from whisk_services.cli.wsk.output import ok
from whisk_services.cli.wsk.params import collect, to_key_values


def _shared(value: str | None) -> bool | None:
    if value is None:
        return None
    lowered = value.lower()
    if lowered in ("yes", "true"):
        return True
    if lowered in ("no", "false"):
        return False
    raise WhiskError("Cannot use value '" + value + "' for shared.", 2)


def _body(args: argparse.Namespace, create: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    params = collect(args.param, args.param_file)
    if params or create:
        body["parameters"] = to_key_values(params)
    annotations = collect(args.annotation, args.annotation_file)
    if annotations or create:
        body["annotations"] = to_key_values(annotations)
    shared = _shared(getattr(args, "shared", None))
    if shared is not None:
        body["publish"] = shared
    return body


def _put(ctx: Context, args: argparse.Namespace, create: bool) -> int:
    qname = ctx.name(args.name)
    verb = "create" if create else "update"
    try:
        body = _body(args, create)
        query = {"overwrite": "false" if create else "true"}
        ctx.entity("PUT", "packages", qname, query=query, body=body)
    except WhiskError as err:
        raise nested(f"Unable to {verb} package '{qname.entity}'", err) from err
    ok(f"{verb}d package {qname.entity}")
    return 0


def create(ctx: Context, args: argparse.Namespace) -> int:
    return _put(ctx, args, create=True)


def update(ctx: Context, args: argparse.Namespace) -> int:
    return _put(ctx, args, create=False)


def bind(ctx: Context, args: argparse.Namespace) -> int:
    """`wsk package bind PACKAGE BINDING`: a package whose `binding` names the bound one."""
    source = ctx.name(args.package)
    qname = ctx.name(args.name)
    body = _body(args, create=True)
    body["binding"] = {"namespace": source.namespace, "name": source.entity}
    try:
        query = {"overwrite": "true" if args.overwrite else "false"}
        ctx.entity("PUT", "packages", qname, query=query, body=body)
    except WhiskError as err:
        raise nested(f"Binding creation failed for '{qname.entity}'", err) from err
    ok(f"created binding {qname.entity}")
    return 0


def get(ctx: Context, args: argparse.Namespace) -> int:
    return common.get_entity(ctx, "packages", args)


def delete(ctx: Context, args: argparse.Namespace) -> int:
    return common.delete_entity(ctx, "packages", args)


def list_(ctx: Context, args: argparse.Namespace) -> int:
    return common.list_entities(ctx, "packages", args)


def register(groups: Any, parent: argparse.ArgumentParser) -> None:
    group = groups.add_parser("package", help="work with packages", parents=[parent])
    sub = group.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, handler in (("create", create), ("update", update)):
        cmd = sub.add_parser(name, help=f"{name} a package", parents=[parent])
        cmd.add_argument("name", metavar="PACKAGE_NAME")
        cmd.add_argument("--shared", metavar="yes|no", help="package visibility")
        common.add_param_flags(cmd)
        cmd.set_defaults(handler=handler)

    cmd = sub.add_parser("bind", help="bind parameters to a package", parents=[parent])
    cmd.add_argument("package", metavar="PACKAGE_NAME")
    cmd.add_argument("name", metavar="BOUND_PACKAGE_NAME")
    cmd.add_argument("-o", "--overwrite", action="store_true", help="overwrite the binding")
    common.add_param_flags(cmd)
    cmd.set_defaults(handler=bind)

    cmd = sub.add_parser("get", help="get package", parents=[parent])
    cmd.add_argument("name", metavar="PACKAGE_NAME")
    cmd.add_argument("field", nargs="?", metavar="FIELD_FILTER")
    cmd.add_argument("-s", "--summary", action="store_true", help="summarize package details")
    cmd.set_defaults(handler=get)

    cmd = sub.add_parser("delete", help="delete package", parents=[parent])
    cmd.add_argument("name", metavar="PACKAGE_NAME")
    cmd.set_defaults(handler=delete)

    cmd = sub.add_parser("list", help="list all packages", parents=[parent])
    cmd.add_argument("namespace", nargs="?", metavar="NAMESPACE")
    common.add_list_flags(cmd)
    cmd.set_defaults(handler=list_)
