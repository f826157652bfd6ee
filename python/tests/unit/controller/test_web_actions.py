"""Web actions (`/api/v1/web/...`) through the real app, on in-memory stores and bus.

The harness is ``test_invoke``'s: a fake invoker answers each activation message; here it
answers with what a function of the message returns, often the arguments the action got.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.unit.controller.test_invoke import (
    HEADER,
    SUBJECT,
    Answer,
    FakeInvoker,
    Harness,
    record_for,
    run,
    started,
)
from whisk_services.controller import errors
from whisk_services.controller.routes.web import ERROR_PROCESSING, RESPONSE_NOT_READY
from whisk_services.controller.web_responses import PROPERTY_NOT_FOUND, invalid_media
from whisk_services.model.activation import ActivationResponse
from whisk_services.model.messages import ActivationMessage, MessageUser

WEB = "/api/v1/web/guest"


def responding(shape: Callable[[dict[str, Any]], ActivationResponse]) -> Answer:
    """An invoker whose action answers ``shape(arguments)``."""

    async def answer(invoker: FakeInvoker, message: ActivationMessage) -> None:
        await invoker.complete(message, record_for(message, shape(dict(message.content))))

    return answer


def returning(result: Any) -> Answer:
    return responding(lambda _args: ActivationResponse.success(result))


ECHO = responding(ActivationResponse.success)


def web_annotations(**extra: Any) -> list[dict[str, Any]]:
    values = {"web-export": True, **extra}
    return [{"key": k.replace("_", "-"), "value": v} for k, v in values.items()]


async def web_action(h: Harness, name: str = "act", **extra: Any) -> None:
    await h.action(name, annotations=web_annotations(**extra))


# --- extensions -------------------------------------------------------------------------------


def test_json_extension_answers_the_result_and_runs_as_the_owner() -> None:
    async def scenario() -> None:
        async with started(returning({"a": 1, "b": [True]})) as h:
            await web_action(h)
            response = await h.client.get(f"{WEB}/default/act.json")
            assert response.status == 200, await response.text()
            assert response.content_type == "application/json"
            assert await response.json() == {"a": 1, "b": [True]}
            [message] = h.invoker.messages
            assert response.headers[HEADER] == message.activation_id
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert "PATCH" in response.headers["Access-Control-Allow-Methods"]
            assert message.user == MessageUser(SUBJECT, "guest", h.key.uuid)
            assert message.blocking is True
            assert message.api_key is None

    run(scenario)


def test_json_extension_refuses_a_non_object_projection() -> None:
    async def scenario() -> None:
        error = responding(lambda _a: ActivationResponse.application_error({"error": "no"}))
        async with started(error) as h:
            await web_action(h)
            response = await h.client.get(f"{WEB}/default/act.json")
            assert response.status == 400
            assert (await response.json())["error"] == invalid_media("application/json")

    run(scenario)


def test_http_extension_uses_status_headers_and_body() -> None:
    result = {
        "statusCode": 201,
        "headers": {"X-Custom": "yes", "Content-Type": "text/plain", "Set-Cookie": ["a=1", "b=2"]},
        "body": "created",
    }

    async def scenario() -> None:
        async with started(returning(result)) as h:
            await web_action(h)
            response = await h.client.post(f"{WEB}/default/act.http")
            assert response.status == 201
            assert await response.text() == "created"
            assert response.content_type == "text/plain"
            assert response.headers["X-Custom"] == "yes"
            assert response.headers.getall("Set-Cookie") == ["a=1", "b=2"]
            assert HEADER in response.headers

    run(scenario)


def test_http_extension_decodes_a_base64_body_of_binary_type() -> None:
    png = bytes(range(256))
    result = {"headers": {"content-type": "image/png"}, "body": base64.b64encode(png).decode()}

    async def scenario() -> None:
        async with started(returning(result)) as h:
            await web_action(h)
            response = await h.client.get(f"{WEB}/default/act.http")
            assert response.status == 200
            assert response.content_type == "image/png"
            assert await response.read() == png

    run(scenario)


@pytest.mark.parametrize(
    ("result", "status", "content_type", "body"),
    [
        ({"body": "<p>hi</p>"}, 200, "text/html", b"<p>hi</p>"),
        ({"statusCode": 302, "headers": {"Location": "/x"}}, 302, None, b""),
        ({}, 204, None, b""),
        ({"body": {"k": "v"}}, 200, "application/json", b'{"k": "v"}'),
        ({"statusCode": "404", "body": "gone"}, 404, "text/html", b"gone"),
        (
            {"headers": {"Content-Type": "application/json"}, "body": "eyJrIjoxfQ=="},
            200,
            "application/json",
            b'{"k":1}',
        ),
    ],
)
def test_http_extension_shapes(
    result: dict[str, Any], status: int, content_type: str | None, body: bytes
) -> None:
    async def scenario() -> None:
        async with started(returning(result)) as h:
            await web_action(h)
            response = await h.client.get(f"{WEB}/default/act", allow_redirects=False)
            assert response.status == status
            if content_type is not None:
                assert response.content_type == content_type
            assert await response.read() == body

    run(scenario)


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "teapot"},
        {"headers": "nope"},
        {"headers": {"Content-Type": "text/plain"}, "body": {"object": True}},
        {"headers": {"Content-Type": "image/png"}, "body": "not base64!"},
    ],
)
def test_http_extension_refuses_invalid_responses(result: dict[str, Any]) -> None:
    async def scenario() -> None:
        async with started(returning(result)) as h:
            await web_action(h)
            response = await h.client.get(f"{WEB}/default/act.http")
            assert response.status == 400
            assert "error" in await response.json()

    run(scenario)


@pytest.mark.parametrize(
    ("extension", "result", "content_type", "text"),
    [
        (".html", {"html": "<b>x</b>"}, "text/html", "<b>x</b>"),
        (".html", {"body": "<i>y</i>", "html": "no"}, "text/html", "<i>y</i>"),
        (".svg", {"svg": "<svg/>"}, "image/svg+xml", "<svg/>"),
        (".text", {"text": "plain"}, "text/plain", "plain"),
        (".text", {"text": 42}, "text/plain", "42"),
    ],
)
def test_string_extensions(extension: str, result: Any, content_type: str, text: str) -> None:
    async def scenario() -> None:
        async with started(returning(result)) as h:
            await web_action(h)
            response = await h.client.get(f"{WEB}/default/act{extension}")
            assert response.status == 200
            assert response.content_type == content_type
            assert await response.text() == text

    run(scenario)


def test_string_extensions_refuse_a_missing_field() -> None:
    async def scenario() -> None:
        async with started(returning({"other": 1})) as h:
            await web_action(h)
            html = await h.client.get(f"{WEB}/default/act.html")
            assert html.status == 400
            assert (await html.json())["error"] == invalid_media("text/html")
            text = await h.client.get(f"{WEB}/default/act.text")
            assert text.status == 404
            assert (await text.json())["error"] == PROPERTY_NOT_FOUND

    run(scenario)


def test_an_unknown_extension_is_part_of_the_name() -> None:
    async def scenario() -> None:
        async with started(returning({"body": "dotted"})) as h:
            await web_action(h)
            missing = await h.client.get(f"{WEB}/default/act.xml")
            assert missing.status == 404
            assert (await missing.json())["error"] == errors.NOT_FOUND
            await web_action(h, "act.xml")
            found = await h.client.get(f"{WEB}/default/act.xml")
            assert (found.status, await found.text()) == (200, "dotted")

    run(scenario)


# --- what is reachable ------------------------------------------------------------------------


def test_only_exported_actions_of_existing_namespaces_are_reachable() -> None:
    async def scenario() -> None:
        async with started(returning({})) as h:
            await h.action("plain")
            await h.action("off", annotations=[{"key": "web-export", "value": False}])
            await h.action("text", annotations=[{"key": "web-export", "value": "true"}])
            for path in (
                f"{WEB}/default/plain.json",
                f"{WEB}/default/off.json",
                f"{WEB}/default/text.json",
                f"{WEB}/default/missing.json",
                f"{WEB}/nopkg/plain.json",
                "/api/v1/web/nobody/default/plain.json",
                "/api/v1/web/guest/default/",
            ):
                response = await h.client.get(path)
                assert response.status == 404, path
                assert (await response.json())["error"] == errors.NOT_FOUND
                assert "X-Request-ID" in response.headers
            assert h.invoker.messages == []

    run(scenario)


def test_an_action_in_a_package_inherits_its_parameters() -> None:
    async def scenario() -> None:
        async with started(ECHO) as h:
            await h.put("packages/demo", {"parameters": [{"key": "p", "value": "pkg"}]})
            await h.put(
                "actions/demo/act",
                {
                    "exec": {"kind": "python:3.11", "code": "def main(a):\n    return a\n"},
                    "annotations": web_annotations(),
                    "parameters": [{"key": "a", "value": "act"}],
                },
            )
            response = await h.client.get(f"{WEB}/demo/act.json?q=1")
            assert response.status == 200
            body = await response.json()
            assert (body["p"], body["a"], body["q"]) == ("pkg", "act", "1")
            assert (await h.client.get(f"{WEB}/default/act.json")).status == 404

    run(scenario)


# --- authentication ---------------------------------------------------------------------------


def test_require_whisk_auth_true_needs_valid_credentials() -> None:
    async def scenario() -> None:
        async with started(ECHO) as h:
            await web_action(h, require_whisk_auth=True)
            anonymous = await h.client.get(f"{WEB}/default/act.json")
            assert anonymous.status == 401
            bad = await h.client.get(
                f"{WEB}/default/act.json", headers={"Authorization": "Basic Zm9vOmJhcg=="}
            )
            assert bad.status == 401
            assert h.invoker.messages == []
            ok = await h.client.get(f"{WEB}/default/act.json", headers=h.auth)
            assert ok.status == 200
            assert (await ok.json())["__ow_user"] == "guest"

    run(scenario)


@pytest.mark.parametrize(("secret", "sent"), [("s3cret", "s3cret"), (1234, "1234")])
def test_require_whisk_auth_secret_needs_the_header(secret: Any, sent: str) -> None:
    async def scenario() -> None:
        async with started(ECHO) as h:
            await web_action(h, require_whisk_auth=secret)
            for headers in ({}, {"X-Require-Whisk-Auth": "wrong"}):
                refused = await h.client.get(f"{WEB}/default/act.json", headers=headers)
                assert refused.status == 401
            ok = await h.client.get(
                f"{WEB}/default/act.json", headers={"X-Require-Whisk-Auth": sent}
            )
            assert ok.status == 200
            assert "__ow_user" not in await ok.json()

    run(scenario)


# --- arguments --------------------------------------------------------------------------------


def test_the_action_gets_the_request_context_query_and_json_body() -> None:
    async def scenario() -> None:
        async with started(ECHO) as h:
            await web_action(h)
            response = await h.client.put(
                f"{WEB}/default/act.json/some/path?name=Jane&n=1",
                json={"n": 2, "deep": {"k": True}},
                headers={"X-Thing": "Yes"},
            )
            assert response.status == 200
            args = await response.json()
            assert args["__ow_method"] == "put"
            assert args["__ow_path"] == "/some/path"
            assert args["__ow_headers"]["x-thing"] == "Yes"
            assert args["__ow_headers"]["content-type"] == "application/json"
            assert (args["name"], args["n"], args["deep"]) == ("Jane", 2, {"k": True})
            assert "__ow_body" not in args
            assert "__ow_query" not in args

    run(scenario)


@pytest.mark.parametrize(
    ("content_type", "data", "expected"),
    [
        ("application/x-www-form-urlencoded", b"a=1&b=two", {"a": "1", "b": "two"}),
        ("text/plain", b"Jane", {"__ow_body": "Jane"}),
        ("application/json", b"[1, 2]", {"__ow_body": [1, 2]}),
        ("application/octet-stream", b"\x00\x01", {"__ow_body": "AAE="}),
    ],
)
def test_bodies_other_than_json_objects(
    content_type: str, data: bytes, expected: dict[str, Any]
) -> None:
    async def scenario() -> None:
        async with started(ECHO) as h:
            await web_action(h)
            response = await h.client.post(
                f"{WEB}/default/act.json", data=data, headers={"Content-Type": content_type}
            )
            assert response.status == 200
            args = await response.json()
            assert {k: args[k] for k in expected} == expected

    run(scenario)


def test_a_raw_action_gets_the_query_and_body_unparsed() -> None:
    async def scenario() -> None:
        async with started(ECHO) as h:
            await web_action(h, raw_http=True)
            response = await h.client.post(
                f"{WEB}/default/act.json?name=Jane&x=a%20b",
                data=b'{"name":"Jane"}',
                headers={"Content-Type": "application/json"},
            )
            assert response.status == 200
            args = await response.json()
            assert args["__ow_query"] == "name=Jane&x=a%20b"
            assert base64.b64decode(args["__ow_body"]) == b'{"name":"Jane"}'
            assert "name" not in args
            empty = await h.client.get(f"{WEB}/default/act.json")
            assert (await empty.json())["__ow_body"] == ""

    run(scenario)


def test_requests_may_not_set_reserved_or_final_parameters() -> None:
    async def scenario() -> None:
        async with started(ECHO) as h:
            await h.action(
                "act",
                annotations=web_annotations(final=True),
                parameters=[{"key": "fixed", "value": "v"}],
            )
            for query, body in (("fixed=x", None), ("", {"fixed": 1}), ("__ow_method=get", None)):
                response = await h.client.post(f"{WEB}/default/act.json?{query}", json=body)
                assert response.status == 400
                assert (await response.json())["error"] == errors.RESERVED_PARAMETERS
            assert h.invoker.messages == []
            ok = await h.client.get(f"{WEB}/default/act.json?other=1")
            assert (await ok.json())["fixed"] == "v"

    run(scenario)


# --- failures and waits -----------------------------------------------------------------------


def test_an_application_error_answers_its_error_field() -> None:
    error = {"error": {"statusCode": 418, "body": "teapot"}}

    async def scenario() -> None:
        failing = responding(lambda _a: ActivationResponse.application_error(error))
        async with started(failing) as h:
            await web_action(h)
            response = await h.client.get(f"{WEB}/default/act.http")
            assert (response.status, await response.text()) == (418, "teapot")
            assert HEADER in response.headers

    run(scenario)


def test_a_developer_error_is_a_400() -> None:
    async def scenario() -> None:
        failing = responding(lambda _a: ActivationResponse.developer_error("boom"))
        async with started(failing) as h:
            await web_action(h)
            response = await h.client.get(f"{WEB}/default/act.json")
            assert response.status == 400
            assert (await response.json())["error"] == ERROR_PROCESSING
            assert HEADER in response.headers

    run(scenario)


def test_a_run_longer_than_the_wait_is_a_202() -> None:
    async def scenario() -> None:
        async with started(max_wait_s=0.1) as h:
            await web_action(h)
            response = await h.client.get(f"{WEB}/default/act.json")
            assert response.status == 202
            assert (await response.json())["error"] == RESPONSE_NOT_READY
            [message] = h.invoker.messages
            assert response.headers[HEADER] == message.activation_id

    run(scenario)


def test_without_kafka_the_answer_is_503() -> None:
    async def scenario() -> None:
        async with started(kafka=False) as h:
            await web_action(h)
            response = await h.client.get(f"{WEB}/default/act.json")
            assert response.status == 503

    run(scenario)


# --- OPTIONS and CORS -------------------------------------------------------------------------


def test_options_is_answered_by_the_controller_with_cors() -> None:
    async def scenario() -> None:
        async with started(ECHO) as h:
            await web_action(h, require_whisk_auth=True)
            response = await h.client.options(
                f"{WEB}/default/act.json", headers={"Access-Control-Request-Headers": "X-A"}
            )
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert response.headers["Access-Control-Allow-Headers"] == "X-A"
            assert h.invoker.messages == []

    run(scenario)


def test_web_custom_options_lets_the_action_answer_options() -> None:
    result = {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "https://a.b"}}

    async def scenario() -> None:
        async with started(returning(result)) as h:
            await web_action(h, web_custom_options=True, require_whisk_auth=True)
            response = await h.client.options(f"{WEB}/default/act.http")
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == "https://a.b"
            assert "Access-Control-Allow-Methods" not in response.headers
            [message] = h.invoker.messages
            assert message.content["__ow_method"] == "options"
            # other methods still need the credentials
            assert (await h.client.get(f"{WEB}/default/act.http")).status == 401

    run(scenario)


def test_the_rest_api_keeps_its_own_cors_and_options() -> None:
    async def scenario() -> None:
        async with started() as h:
            response = await h.client.options("/api/v1/namespaces/_/actions/x")
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Methods"] == (
                "GET, DELETE, POST, PUT, HEAD"
            )

    run(scenario)


def test_head_runs_the_action_without_a_body() -> None:
    async def scenario() -> None:
        async with started(returning({"body": "x"})) as h:
            await web_action(h)
            response = await h.client.head(f"{WEB}/default/act")
            assert response.status == 200
            assert await response.read() == b""
            assert json.loads(json.dumps(h.invoker.messages[0].content))["__ow_method"] == "head"

    run(scenario)
