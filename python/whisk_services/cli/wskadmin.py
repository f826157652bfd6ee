"""`wskadmin`: the operator's tool for subjects (users and their keys), namespace limits and
the system catalog, and the draining of invokers.

Like OpenWhisk's wskadmin it works on the databases directly. Keys are stored only
as salted hashes: a key is printed once, when it is created or rotated, and cannot be shown
again (`user get` prints the subject's namespace and uuid instead). `catalog install` writes
the public packages of `catalog/` into `/whisk.system` (see `whisk_services.cli.catalog`).
`invoker drain N` writes Consul's KV key `whisk/invokers/invoker<N>/drain`: the controllers
send no new activation to invoker N, while those it runs finish; `invoker undrain N` deletes
it. `invoker status` (alias `status`) lists every invoker, one line each, with each
controller's view of it (health, whether it has seen the drain flag, and how many of its
activations the invoker still has in flight). `config
set-throttles` writes the throttle defaults the controllers apply live (Consul KV key
`whisk/config/throttles`, over their environment's), `config unset-throttles` removes them
and `config show` prints them. These need the Consul agent (`--consul-url`, else
$WHISK_CONTROLLER_CONSUL_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TextIO

from whisk_services.adapters.consul import ConsulRegistry
from whisk_services.cli.catalog import (
    CATALOG_DIR_ENV,
    SYSTEM_NAMESPACE,
    CatalogError,
    default_catalog_dir,
    install,
    load_catalog,
)
from whisk_services.controller.databases import Databases
from whisk_services.controller.invoker_health import states_by_invoker
from whisk_services.controller.invoker_pool import (
    INVOKER_SERVICE,
    INVOKERS_KV_PREFIX,
    drain_key,
    drained,
    registered,
)
from whisk_services.controller.runtime_config import THROTTLES_KEY, parse_throttles
from whisk_services.model.errors import ModelError
from whisk_services.model.identity import AuthKey, Identity
from whisk_services.model.names import validate_namespace
from whisk_services.model.namespace_limits import NamespaceLimits
from whisk_services.ports.databases import SUBJECTS_INDEXES, WHISKS_INDEXES
from whisk_services.ports.discovery import DiscoveryError, ServiceRegistry
from whisk_services.ports.documents import DocumentConflict, DocumentStore
from whisk_services.settings import CouchDBSettings, SettingsError

LIMIT_FIELDS = NamespaceLimits.names()
CONSUL_URL_ENV = "WHISK_CONTROLLER_CONSUL_URL"
CONSUL_TOKEN_ENV = "WHISK_CONTROLLER_CONSUL_TOKEN"  # noqa: S105 -- a variable name

# Opens the databases: a store of each by name (`subjects`, `whisks`), and how to close them.
StoreOpener = Callable[
    [], Awaitable[tuple[Callable[[str], DocumentStore], Callable[[], Awaitable[None]]]]
]


class AdminError(Exception):
    """What the operator must fix; printed as `error: ...`, exit status 1."""


async def user_create(
    subjects: DocumentStore, subject: str, namespace: str | None, auth: str | None
) -> AuthKey:
    key = AuthKey.parse(auth) if auth else AuthKey.generate()
    identity = Identity.create(subject, validate_namespace(namespace or subject), key)
    existing = await subjects.query("identities", [key.uuid], limit=1)
    if existing:
        raise AdminError(f"the uuid {key.uuid} is already in use")
    try:
        await subjects.put(identity.doc_id(), identity.to_doc())
    except DocumentConflict as error:
        raise AdminError(f"subject '{subject}' already exists") from error
    return key


async def user_get(subjects: DocumentStore, subject: str) -> Identity:
    doc = await subjects.get(subject)
    if doc is None or doc.body.get("entityType") != Identity.ENTITY_TYPE:
        raise AdminError(f"subject '{subject}' does not exist")
    return Identity.from_doc(doc.body)


async def user_delete(subjects: DocumentStore, subject: str) -> None:
    doc = await subjects.get(subject)
    if doc is None or doc.body.get("entityType") != Identity.ENTITY_TYPE:
        raise AdminError(f"subject '{subject}' does not exist")
    await subjects.delete(doc.id, doc.rev)


async def user_rotate(subjects: DocumentStore, subject: str) -> AuthKey:
    doc = await subjects.get(subject)
    if doc is None or doc.body.get("entityType") != Identity.ENTITY_TYPE:
        raise AdminError(f"subject '{subject}' does not exist")
    old = Identity.from_doc(doc.body)
    key = AuthKey.generate()
    renewed = Identity.create(old.subject, old.namespace, key)
    await subjects.put(doc.id, renewed.to_doc(), doc.rev)
    return key


async def user_list(subjects: DocumentStore, namespace: str) -> list[Identity]:
    docs = await subjects.query("namespaces", [validate_namespace(namespace)], limit=None)
    return [Identity.from_doc(doc.body) for doc in docs]


async def limits_set(subjects: DocumentStore, namespace: str, values: dict[str, int]) -> None:
    doc_id = NamespaceLimits.doc_id(namespace)
    doc = await subjects.get(doc_id)
    current = NamespaceLimits.from_doc(doc.body) if doc else NamespaceLimits()
    updated = current.merged(NamespaceLimits(**values))
    await subjects.put(doc_id, updated.to_doc(), doc.rev if doc else None)


async def limits_get(subjects: DocumentStore, namespace: str) -> dict[str, int]:
    doc = await subjects.get(NamespaceLimits.doc_id(namespace))
    return NamespaceLimits.from_doc(doc.body).set() if doc else {}


async def invoker_drain(registry: ServiceRegistry, instance: int) -> None:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    await registry.kv_put(drain_key(instance), f"drained by wskadmin at {stamp}".encode())


async def invoker_undrain(registry: ServiceRegistry, instance: int) -> None:
    await registry.kv_delete(drain_key(instance))


STATUS_HELP = """list every invoker known to Consul, one line each:
  invoker<N> consul=<passing|warning|critical|absent> drained=<yes|no>
  [controller<M>=<healthy|unhealthy|unresponsive|offline> sawDrain=<yes|no> inFlight=<n>
  since=<time> lastAck=<time|-> errors=<recent system errors and ack timeouts>
  reason="<why>"]... [check="<output>"]
where each controller<M> part is what controller M published to Consul KV: its view of the
invoker's health and why, whether it has seen the drain flag (and so sends the invoker
nothing new) and how many of its activations the invoker has not completed yet (a drained
invoker is safe to replace once every controller says sawDrain=yes inFlight=0; ? when a
controller does not publish these); check is the Consul check's output when not passing"""


def _yes_no(value: object) -> str:
    return "yes" if value is True else "no" if value is False else "?"


def _count(value: object) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else "?"


def _quoted(text: object) -> str:
    return '"' + " ".join(str(text).split()).replace('"', "'") + '"'


async def invoker_status(registry: ServiceRegistry) -> list[str]:
    """One line per invoker: its Consul health, drain flag and each controller's view."""
    instances, _ = await registry.instances(INVOKER_SERVICE, wait_s=0)
    tree, _ = await registry.kv_tree(INVOKERS_KV_PREFIX, wait_s=0)
    found = (registered(instance) for instance in instances)
    invokers = {r.instance: r for r in found if r is not None}
    drains = drained(tree)
    states = states_by_invoker(tree)
    lines = []
    for number in sorted(set(invokers) | drains | set(states)):
        entry = invokers.get(number)
        parts = [
            f"invoker{number}",
            f"consul={entry.health if entry is not None else 'absent'}",
            f"drained={'yes' if number in drains else 'no'}",
        ]
        for controller, view in sorted(states.get(number, {}).items()):
            errors = view.get("recentErrors")
            parts += [
                f"controller{controller}={view.get('state', '?')}",
                f"sawDrain={_yes_no(view.get('drained'))}",
                f"inFlight={_count(view.get('inFlight'))}",
                f"since={view.get('since') or '-'}",
                f"lastAck={view.get('lastAck') or '-'}",
                f"errors={len(errors) if isinstance(errors, list) else 0}",
                f"reason={_quoted(view.get('reason', ''))}",
            ]
        if entry is not None and entry.health != "passing" and entry.output:
            parts.append(f"check={_quoted(entry.output)}")
        lines.append(" ".join(parts))
    return lines


async def run_invoker(args: argparse.Namespace, registry: ServiceRegistry, out: TextIO) -> None:
    try:
        if args.command == "status":
            lines = await invoker_status(registry)
            for line in lines:
                print(line, file=out)
            if not lines:
                print("no invokers registered in consul", file=out)
        elif args.command == "drain":
            await invoker_drain(registry, args.instance)
            print(f"invoker{args.instance} drained: it gets no new activations", file=out)
        else:
            await invoker_undrain(registry, args.instance)
            print(f"invoker{args.instance} undrained: it gets new activations again", file=out)
    except DiscoveryError as error:
        raise AdminError(f"consul: {error}") from error


async def config_set_throttles(registry: ServiceRegistry, values: dict[str, int]) -> dict[str, int]:
    """Set these throttle defaults in Consul KV, keeping the others set there; the result."""
    raw = await registry.kv_get(THROTTLES_KEY)
    current: dict[str, int] = {}
    if raw is not None:
        try:
            current = {k: int(v) for k, v in parse_throttles(raw).set().items()}
        except ModelError:
            current = {}  # malformed: replaced
    merged = {**current, **values}
    await registry.kv_put(THROTTLES_KEY, json.dumps(merged, sort_keys=True).encode())
    return merged


async def run_config(args: argparse.Namespace, registry: ServiceRegistry, out: TextIO) -> None:
    try:
        if args.command == "set-throttles":
            values = {f: getattr(args, f) for f in LIMIT_FIELDS if getattr(args, f) is not None}
            if not values:
                raise AdminError("name at least one limit, e.g. --invocationsPerMinute 60")
            merged = await config_set_throttles(registry, values)
            print(
                f"throttle defaults set in consul: {json.dumps(merged, sort_keys=True)}", file=out
            )
        elif args.command == "unset-throttles":
            await registry.kv_delete(THROTTLES_KEY)
            print("throttle defaults removed from consul: the environment's apply", file=out)
        else:
            raw = await registry.kv_get(THROTTLES_KEY)
            if raw is None:
                print(f"{THROTTLES_KEY}: not set (the environment's defaults apply)", file=out)
            else:
                try:
                    shown = json.dumps(parse_throttles(raw).set(), sort_keys=True)
                except ModelError as error:
                    shown = f"malformed ({error}; the environment's defaults apply)"
                print(f"{THROTTLES_KEY}: {shown}", file=out)
    except DiscoveryError as error:
        raise AdminError(f"consul: {error}") from error


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="wskadmin", description=__doc__)
    groups = top.add_subparsers(dest="group", required=True)

    user = groups.add_parser("user", help="subjects and their keys").add_subparsers(
        dest="command", required=True
    )
    create = user.add_parser("create", help="create a subject; prints its key once")
    create.add_argument("subject")
    create.add_argument("-ns", "--namespace", help="its namespace (default: the subject)")
    create.add_argument("-u", "--auth", help="use this uuid:key instead of a new one")
    for name, what in (
        ("get", "show a subject's namespace and uuid"),
        ("delete", "delete a subject"),
        ("rotate", "give a subject a new key; prints it once"),
    ):
        user.add_parser(name, help=what).add_argument("subject")
    user.add_parser("list", help="the subjects of a namespace").add_argument("namespace")

    limits = groups.add_parser("limits", help="namespace limits").add_subparsers(
        dest="command", required=True
    )
    set_ = limits.add_parser("set", help="set a namespace's limits")
    set_.add_argument("namespace")
    for field in LIMIT_FIELDS:
        set_.add_argument(f"--{field}", type=_non_negative)
    limits.add_parser("get", help="show a namespace's limits").add_argument("namespace")

    catalog = groups.add_parser("catalog", help="the system catalog").add_subparsers(
        dest="command", required=True
    )
    catalog_install = catalog.add_parser(
        "install",
        help="create or update the catalog's public packages and actions; idempotent",
    )
    catalog_install.add_argument(
        "-ns",
        "--namespace",
        default=SYSTEM_NAMESPACE,
        help=f"where to install them, its subject created if missing (default {SYSTEM_NAMESPACE})",
    )
    invoker = groups.add_parser("invoker", help="invokers (in Consul)").add_subparsers(
        dest="command", required=True
    )
    for name, what in (
        ("drain", "send no new activations to an invoker; those in flight finish"),
        ("undrain", "send new activations to a drained invoker again"),
    ):
        command = invoker.add_parser(name, help=what)
        command.add_argument("instance", type=_non_negative, help="the invoker's number N")
        command.add_argument(
            "--consul-url", help=f"the Consul agent, http://HOST:8500 (default ${CONSUL_URL_ENV})"
        )
    status_commands = (
        invoker.add_parser(
            "status",
            help="every invoker's state and why",
            description=STATUS_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        ),
        groups.add_parser(
            "status",
            help="every invoker's state and why (= invoker status)",
            description=STATUS_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        ),
    )
    for command in status_commands:
        command.add_argument(
            "--consul-url", help=f"the Consul agent, http://HOST:8500 (default ${CONSUL_URL_ENV})"
        )

    config = groups.add_parser(
        "config", help="runtime settings the controllers follow live (in Consul KV)"
    ).add_subparsers(dest="command", required=True)
    set_throttles = config.add_parser(
        "set-throttles", help="set throttle defaults (over the controllers' environment)"
    )
    for field in LIMIT_FIELDS:
        set_throttles.add_argument(f"--{field}", type=_non_negative)
    config_commands = (
        set_throttles,
        config.add_parser("unset-throttles", help="back to the environment's throttle defaults"),
        config.add_parser("show", help="the runtime settings in Consul KV"),
    )
    for command in config_commands:
        command.add_argument(
            "--consul-url", help=f"the Consul agent, http://HOST:8500 (default ${CONSUL_URL_ENV})"
        )

    catalog_install.add_argument(
        "--catalog-dir",
        type=Path,
        help=f"the catalog (default ${CATALOG_DIR_ENV}, else the repository's catalog/)",
    )
    return top


async def run(args: argparse.Namespace, subjects: DocumentStore, out: TextIO) -> None:
    match (args.group, args.command):
        case ("user", "create"):
            key = await user_create(subjects, args.subject, args.namespace, args.auth)
            print(key.compact(), file=out)
        case ("user", "get"):
            identity = await user_get(subjects, args.subject)
            print(f"namespace: {identity.namespace}\nuuid: {identity.uuid}", file=out)
            print("(keys are stored hashed; `wskadmin user rotate` issues a new one)", file=out)
        case ("user", "delete"):
            await user_delete(subjects, args.subject)
            print("Subject deleted", file=out)
        case ("user", "rotate"):
            print((await user_rotate(subjects, args.subject)).compact(), file=out)
        case ("user", "list"):
            for identity in await user_list(subjects, args.namespace):
                print(f"{identity.uuid}  {identity.subject}", file=out)
        case ("limits", "set"):
            values = {f: getattr(args, f) for f in LIMIT_FIELDS if getattr(args, f) is not None}
            if not values:
                raise AdminError("name at least one limit to set, e.g. --invocationsPerMinute 60")
            await limits_set(subjects, args.namespace, values)
            print(f"Limits successfully set for '{args.namespace}'", file=out)
        case ("limits", "get"):
            found = await limits_get(subjects, args.namespace)
            if not found:
                print(f"No limits found, default system limits apply for '{args.namespace}'")
            for field, value in found.items():
                print(f"{field} = {value}", file=out)
        case _:  # argparse allows nothing else
            raise AdminError(f"unknown command {args.group} {args.command}")


async def catalog_install(
    args: argparse.Namespace, subjects: DocumentStore, whisks: DocumentStore, out: TextIO
) -> None:
    packages = load_catalog(args.catalog_dir or default_catalog_dir())
    await whisks.ensure(WHISKS_INDEXES)
    report = await install(subjects, whisks, packages, args.namespace)
    for line in report.lines():
        print(line, file=out)


RegistryOpener = Callable[[str], ServiceRegistry]


def _consul(url: str) -> ServiceRegistry:
    return ConsulRegistry(url, token=os.environ.get(CONSUL_TOKEN_ENV) or None)


async def _invoker_main(args: argparse.Namespace, open_registry: RegistryOpener = _consul) -> int:
    url = args.consul_url or os.environ.get(CONSUL_URL_ENV, "")
    if not url:
        print(f"error: give --consul-url or set {CONSUL_URL_ENV}", file=sys.stderr)
        return 2
    registry = open_registry(url)
    try:
        if args.group == "config":
            await run_config(args, registry, sys.stdout)
        else:
            await run_invoker(args, registry, sys.stdout)
    except AdminError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        close = getattr(registry, "close", None)
        if close is not None:
            await close()
    return 0


async def _main(
    argv: Sequence[str], open_databases: StoreOpener, open_registry: RegistryOpener = _consul
) -> int:
    args = parser().parse_args(argv)
    if args.group == "status":
        args.group, args.command = "invoker", "status"
    if args.group in ("invoker", "config"):
        return await _invoker_main(args, open_registry)
    try:
        stores, close = await open_databases()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        subjects = stores("subjects")
        await subjects.ensure(SUBJECTS_INDEXES)
        if args.group == "catalog":
            await catalog_install(args, subjects, stores("whisks"), sys.stdout)
        else:
            await run(args, subjects, sys.stdout)
    except (AdminError, CatalogError, ModelError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        await close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    async def open_databases() -> tuple[
        Callable[[str], DocumentStore], Callable[[], Awaitable[None]]
    ]:
        databases = Databases(CouchDBSettings.from_env())
        return databases.store, databases.close

    return asyncio.run(_main(sys.argv[1:] if argv is None else argv, open_databases))


if __name__ == "__main__":
    sys.exit(main())
