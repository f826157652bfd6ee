"""`wsk action create|update|get|delete|list|invoke`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from whisk_services.cli.wsk import common
from whisk_services.cli.wsk.client import WhiskError, WhiskHttpError
from whisk_services.cli.wsk.context import Context, nested
from whisk_services.cli.wsk.names import QualifiedName
from whisk_services.cli.wsk.output import ok, out, print_json
from whisk_services.cli.wsk.params import (
    collect,
    kind_for_file,
    read_code,
    to_key_values,
    web_annotations,
)

EXIT_TIMED_OUT = 202
NATIVE_IMAGE = "openwhisk/dockerskeleton"


def _exec(ctx: Context, args: argparse.Namespace, create: bool) -> dict[str, Any] | None:
    """The `exec` of the request body, or None when an update leaves the code alone."""
    artifact: str | None = args.artifact
    if isinstance(args.sequence, str):
        artifact = args.sequence
    if args.sequence:
        if not artifact:
            raise WhiskError("A comma-separated list of action names is required.", 2)
        components = [ctx.name(c.strip()).fqn for c in artifact.split(",") if c.strip()]
        return {"kind": "sequence", "components": components}
    image = NATIVE_IMAGE if args.native else args.docker
    if image:
        blackbox: dict[str, Any] = {"kind": "blackbox", "image": image}
        if artifact:
            blackbox["code"] = read_code(artifact)
        if args.main:
            blackbox["main"] = args.main
        return blackbox
    if not artifact:
        if create:
            raise WhiskError("An action name and code artifact are required.", 2)
        return None
    runtime: dict[str, Any] = {
        "kind": kind_for_file(artifact, args.kind),
        "code": read_code(artifact),
    }
    if args.main:
        runtime["main"] = args.main
    return runtime


def _limits(args: argparse.Namespace) -> dict[str, int]:
    given = {
        "timeout": args.timeout,
        "memory": args.memory,
        "logs": args.logsize,
        "concurrency": args.concurrency,
    }
    return {key: value for key, value in given.items() if value is not None}


def _annotations(args: argparse.Namespace) -> dict[str, Any]:
    annotations = collect(args.annotation, args.annotation_file)
    if args.web is not None:
        annotations.update(web_annotations(args.web))
    if args.web_secure is not None:
        secret = args.web_secure
        if secret.lower() in ("false", "no"):
            annotations["require-whisk-auth"] = False
        elif secret.lower() in ("true", "yes"):
            annotations["require-whisk-auth"] = True
        else:
            annotations["require-whisk-auth"] = secret
    return annotations


def action_body(ctx: Context, args: argparse.Namespace, create: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    exec_ = _exec(ctx, args, create)
    if exec_ is not None:
        body["exec"] = exec_
    params = collect(args.param, args.param_file)
    if params:
        body["parameters"] = to_key_values(params)
    annotations = _annotations(args)
    if annotations:
        body["annotations"] = to_key_values(annotations)
    if getattr(args, "del_annotation", None):
        body["delAnnotations"] = list(args.del_annotation)
    limits = _limits(args)
    if limits:
        body["limits"] = limits
    return body


def _put(ctx: Context, args: argparse.Namespace, create: bool) -> int:
    qname = ctx.name(args.name)
    try:
        body = action_body(ctx, args, create)
        overwrite = "false" if create else "true"
        ctx.entity("PUT", "actions", qname, query={"overwrite": overwrite}, body=body)
    except WhiskError as err:
        raise nested(f"Unable to create action '{qname.entity}'", err) from err
    ok(f"{'created' if create else 'updated'} action {qname.entity}")
    return 0


def create(ctx: Context, args: argparse.Namespace) -> int:
    return _put(ctx, args, create=True)


def update(ctx: Context, args: argparse.Namespace) -> int:
    return _put(ctx, args, create=False)


def get(ctx: Context, args: argparse.Namespace) -> int:
    return common.get_entity(ctx, "actions", args)


def delete(ctx: Context, args: argparse.Namespace) -> int:
    return common.delete_entity(ctx, "actions", args)


def list_(ctx: Context, args: argparse.Namespace) -> int:
    target: str | None = args.namespace
    if target and not (target.startswith("/") and target.strip("/").count("/") == 0):
        return common.list_package_actions(ctx, target, args)
    return common.list_entities(ctx, "actions", args)


def _invoked(ctx: Context, qname: QualifiedName, response: Any) -> str:
    namespace = qname.namespace
    if namespace == "_" and isinstance(response, dict) and response.get("namespace"):
        namespace = str(response["namespace"])
    return f"/{ctx.display_namespace(namespace)}/{qname.entity}"


def invoke(ctx: Context, args: argparse.Namespace) -> int:
    """Non-blocking: the id. Blocking: the id and the activation. `-r`: the result alone."""
    qname = ctx.name(args.name)
    blocking = args.blocking or args.result
    query = {"blocking": "true" if blocking else "false"}
    if args.result:
        query["result"] = "true"
    payload = collect(args.param, args.param_file)
    try:
        status, response = ctx.entity("POST", "actions", qname, query=query, body=payload)
    except WhiskHttpError as err:
        return _failed_invoke(ctx, qname, args, err)
    except WhiskError as err:
        raise nested(f"Unable to invoke action '{qname.entity}'", err) from err
    activation_id = response.get("activationId", "") if isinstance(response, dict) else ""
    if blocking and status == EXIT_TIMED_OUT:
        ok(
            f"invoked {_invoked(ctx, qname, response)}, but the request has not yet finished,"
            f" with id {activation_id}"
        )
        return EXIT_TIMED_OUT
    if not args.result:
        ok(f"invoked {_invoked(ctx, qname, response)} with id {activation_id}")
    if blocking:
        print_json(response, sort_keys=True)
    return 0


def _failed_invoke(
    ctx: Context, qname: QualifiedName, args: argparse.Namespace, err: WhiskHttpError
) -> int:
    """A blocking invoke whose action failed (502 with an activation, no `code`): show it."""
    application_error = (
        (args.blocking or args.result)
        and err.status == 502
        and isinstance(err.body, dict)
        and "code" not in err.body
    )
    if not application_error:
        raise nested(f"Unable to invoke action '{qname.entity}'", err) from err
    if not args.result:
        activation_id = err.body.get("activationId", "")
        out(f"ok: invoked {_invoked(ctx, qname, err.body)} with id {activation_id}", sys.stderr)
    print_json(err.body, sys.stderr, sort_keys=True)
    return err.exit_code


def _add_entity_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="ACTION_NAME")
    parser.add_argument("artifact", nargs="?", metavar="ACTION")
    parser.add_argument("--kind", help="the KIND of the action runtime, e.g. nodejs:default")
    parser.add_argument("--main", help="the name of the action entry point")
    parser.add_argument("--docker", metavar="IMAGE", help="use provided docker image")
    parser.add_argument("--native", action="store_true", help="use the native executable")
    parser.add_argument(
        "--sequence", nargs="?", const=True, metavar="A,B,C",
        help="treat ACTION as comma separated action names",
    )  # fmt: skip
    parser.add_argument("-t", "--timeout", type=int, help="the timeout LIMIT in milliseconds")
    parser.add_argument("-m", "--memory", type=int, help="the maximum memory LIMIT in MB")
    parser.add_argument("-l", "--logsize", type=int, help="the maximum log size LIMIT in MB")
    parser.add_argument("-c", "--concurrency", type=int, help="the maximum concurrent LIMIT")
    parser.add_argument("--web", metavar="true|false|raw", help="treat ACTION as a web action")
    parser.add_argument("--web-secure", metavar="SECRET", help="secure the web action")
    common.add_param_flags(parser)


def register(groups: Any, parent: argparse.ArgumentParser) -> None:
    group = groups.add_parser("action", help="work with actions", parents=[parent])
    sub = group.add_subparsers(dest="command", metavar="COMMAND", required=True)

    for name, handler in (("create", create), ("update", update)):
        cmd = sub.add_parser(name, help=f"{name} an action", parents=[parent])
        _add_entity_flags(cmd)
        if name == "update":
            cmd.add_argument("--del-annotation", action="append", metavar="KEY")
        cmd.set_defaults(handler=handler)

    cmd = sub.add_parser("invoke", help="invoke action", parents=[parent])
    cmd.add_argument("name", metavar="ACTION_NAME")
    cmd.add_argument("-b", "--blocking", action="store_true", help="blocking invoke")
    cmd.add_argument("-r", "--result", action="store_true", help="show only the result")
    common.add_param_flags(cmd, annotations=False)
    cmd.set_defaults(handler=invoke)

    cmd = sub.add_parser("get", help="get action", parents=[parent])
    cmd.add_argument("name", metavar="ACTION_NAME")
    cmd.add_argument("field", nargs="?", metavar="FIELD_FILTER")
    cmd.add_argument("-s", "--summary", action="store_true", help="summarize action details")
    cmd.set_defaults(handler=get)

    cmd = sub.add_parser("delete", help="delete action", parents=[parent])
    cmd.add_argument("name", metavar="ACTION_NAME")
    cmd.set_defaults(handler=delete)

    cmd = sub.add_parser("list", help="list all actions", parents=[parent])
    cmd.add_argument("namespace", nargs="?", metavar="NAMESPACE|PACKAGE")
    common.add_list_flags(cmd)
    cmd.set_defaults(handler=list_)
