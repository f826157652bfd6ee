"""`wsk` entry point: `main(argv) -> exit code`.

Console script: `wsk = "whisk_services.cli.wsk.main:main"`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from whisk_services.cli.wsk import (
    actions,
    activations,
    namespaces,
    packages,
    properties,
    rules,
    triggers,
)
from whisk_services.cli.wsk.client import WhiskError
from whisk_services.cli.wsk.config import load_config
from whisk_services.cli.wsk.context import Context
from whisk_services.cli.wsk.output import out

SUPPORTED_GROUPS = frozenset(
    {"action", "activation", "trigger", "rule", "package", "namespace", "list", "property"}
)
VALUE_FLAGS = frozenset({"-u", "--auth", "--apihost", "--apiversion", "--cert", "--key"})
EXIT_USAGE = 2
OPTIONAL_POSITIONALS = ("artifact", "id", "name", "field", "payload", "namespace")


def _global_flags(
    parser: argparse.ArgumentParser, *, suppress: bool, with_values: bool = True
) -> None:
    """Global flags; on subcommands (`suppress`) they must not reset what the top level read."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("-i", "--insecure", action="store_true", default=default(False),
                        help="bypass certificate checking")  # fmt: skip
    parser.add_argument("-d", "--debug", action="store_true", default=default(False),
                        help="debug level output")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true", default=default(False),
                        help="verbose output")  # fmt: skip
    if not with_values:  # `property set --auth KEY` has its own meaning for these
        return
    parser.add_argument("-u", "--auth", metavar="KEY", default=default(None),
                        help="authorization KEY")  # fmt: skip
    parser.add_argument("--apihost", metavar="HOST", default=default(None), help="whisk API HOST")
    parser.add_argument("--apiversion", metavar="VERSION", default=default(None),
                        help="whisk API VERSION")  # fmt: skip
    parser.add_argument("--cert", default=default(None), help="client cert (ignored)")
    parser.add_argument("--key", default=default(None), help="client key (ignored)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wsk", description="OpenWhisk cloud computing command line interface."
    )
    _global_flags(parser, suppress=False)
    parent = argparse.ArgumentParser(add_help=False)
    _global_flags(parent, suppress=True)
    switches = argparse.ArgumentParser(add_help=False)
    _global_flags(switches, suppress=True, with_values=False)
    groups = parser.add_subparsers(dest="group", metavar="COMMAND")
    for module in (actions, activations, triggers, rules, packages, namespaces):
        module.register(groups, parent)
    properties.register(groups, switches)
    return parser


def _group_of(argv: Sequence[str]) -> str | None:
    """The first word that is not a global flag or a global flag's value."""
    skip_next = False
    for token in argv:
        if skip_next:
            skip_next = False
        elif token in VALUE_FLAGS:
            skip_next = True
        elif not token.startswith("-"):
            return token
    return None


def _fill_optional_positionals(args: argparse.Namespace, extras: list[str]) -> None:
    """argparse fills an optional positional only next to the required ones; `wsk` (cobra)
    takes positionals anywhere, e.g. `action create NAME -p k v FILE`. Place the leftovers."""
    for dest in OPTIONAL_POSITIONALS:
        if extras and not extras[0].startswith("-") and getattr(args, dest, ...) is None:
            setattr(args, dest, extras.pop(0))


def _error(message: str) -> None:
    out(f"error: {message}", sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `wsk` command; return the process exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    group = _group_of(args_list)
    if group is not None and group not in SUPPORTED_GROUPS:
        _error(f'"{group}" is not supported yet')
        return EXIT_USAGE
    parser = build_parser()
    try:
        args, extras = parser.parse_known_args(args_list)
        _fill_optional_positionals(args, extras)
        if extras:
            parser.error(f"unrecognized arguments: {' '.join(extras)}")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if getattr(args, "handler", None) is None:
        parser.print_help(sys.stdout)
        return 0
    config = load_config(
        apihost=args.apihost,
        auth=args.auth,
        apiversion=args.apiversion,
        insecure=args.insecure,
        debug=args.debug,
        verbose=args.verbose,
    )
    ctx = Context(config)
    try:
        if not getattr(args, "no_config", False):
            _ = ctx.client  # a missing API host or key is reported before anything else
        code: int = args.handler(ctx, args)
    except WhiskError as err:
        _error(err.message)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
