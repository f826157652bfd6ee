"""`wsk property set|get|unset` on the properties file."""

from __future__ import annotations

import argparse
from typing import Any

from whisk_services.cli.wsk.config import (
    DEFAULT_APIVERSION,
    DEFAULT_NAMESPACE,
    props_path,
    read_props,
    write_props,
)
from whisk_services.cli.wsk.context import Context
from whisk_services.cli.wsk.output import ok, out

CLI_VERSION = "whisk_services"

# flag attribute, properties key, `get` label, `set` message, `unset` message
PROPERTIES = (
    ("auth", "AUTH", "whisk auth",
     "whisk auth set. Run 'wsk property get --auth' to see the new value.", "whisk auth unset."),
    ("apihost", "APIHOST", "whisk API host", "whisk API host set to {value}",
     "whisk API host unset."),
    ("namespace", "NAMESPACE", "whisk namespace", "whisk namespace set to {value}",
     "whisk namespace unset."),
    ("apiversion", "APIVERSION", "whisk API version", "whisk API version set to {value}",
     "whisk API version unset."),
)  # fmt: skip


def set_(ctx: Context, args: argparse.Namespace) -> int:
    path = props_path()
    props = read_props(path)
    messages: list[str] = []
    for attr, key, _, set_msg, _ in PROPERTIES:
        value = getattr(args, f"set_{attr}", None)
        if value is not None:
            props[key] = value
            messages.append(set_msg.format(value=value))
    write_props(path, props)
    for message in messages:
        ok(message)
    return 0


def unset(ctx: Context, args: argparse.Namespace) -> int:
    path = props_path()
    props = read_props(path)
    messages: list[str] = []
    for attr, key, _, _, unset_msg in PROPERTIES:
        if getattr(args, f"unset_{attr}", False):
            props.pop(key, None)
            messages.append(unset_msg)
    write_props(path, props)
    for message in messages:
        ok(message)
    return 0


def get(ctx: Context, args: argparse.Namespace) -> int:
    """`<label>\\t\\t<value>` lines (one tab before the longer labels), or `-o raw` values."""
    props = read_props(props_path())
    defaults = {"NAMESPACE": DEFAULT_NAMESPACE, "APIVERSION": DEFAULT_APIVERSION}
    wanted = [p for p in PROPERTIES if getattr(args, f"get_{p[0]}", False)]
    show_all = args.all or not (wanted or args.cliversion)
    for _, key, label, _, _ in PROPERTIES if show_all else wanted:
        value = props.get(key, defaults.get(key, ""))
        if args.output == "raw":
            out(value)
        else:
            tabs = "\t" if key == "APIVERSION" else "\t\t"
            out(f"{label}{tabs}{value}")
    if show_all or args.cliversion:
        out(CLI_VERSION if args.output == "raw" else f"whisk CLI version\t{CLI_VERSION}")
    return 0


def register(groups: Any, parent: argparse.ArgumentParser) -> None:
    group = groups.add_parser("property", help="work with whisk properties", parents=[parent])
    sub = group.add_subparsers(dest="command", metavar="COMMAND", required=True)

    cmd = sub.add_parser("set", help="set property", parents=[parent])
    for attr, _, label, _, _ in PROPERTIES:
        cmd.add_argument(f"--{attr}", dest=f"set_{attr}", help=label)
    cmd.add_argument("-u", dest="set_auth", help="whisk auth")
    cmd.set_defaults(handler=set_, no_config=True)

    cmd = sub.add_parser("unset", help="unset property", parents=[parent])
    for attr, _, label, _, _ in PROPERTIES:
        cmd.add_argument(f"--{attr}", dest=f"unset_{attr}", action="store_true", help=label)
    cmd.set_defaults(handler=unset, no_config=True)

    cmd = sub.add_parser("get", help="get property", parents=[parent])
    for attr, _, label, _, _ in PROPERTIES:
        cmd.add_argument(f"--{attr}", dest=f"get_{attr}", action="store_true", help=label)
    cmd.add_argument("--cliversion", action="store_true", help="whisk CLI version")
    cmd.add_argument("--all", action="store_true", help="all properties")
    cmd.add_argument("-o", "--output", choices=("raw", "std"), default="std")
    cmd.set_defaults(handler=get, no_config=True)
