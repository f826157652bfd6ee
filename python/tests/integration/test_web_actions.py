"""Web actions on the real platform: plain HTTP requests, without credentials, to
`/api/v1/web/guest/default/<action>.<ext>`, run by a controller and an invoker of this
module's own (Node.js and Python actions in Docker)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import requests

from tests.integration.controller_support import fresh
from tests.integration.platform_support import Platform
from tests.integration.wsk_support import Wsk

pytestmark = pytest.mark.integration

DB_PREFIX = "web_"
NETWORK = ("whisk-test-web", "172.31.241.0/24", "whisktweb0")
INSTANCE = 11

WEB = {"key": "web-export", "value": True}

NODE_HTTP = """
function main(params) {
  return {
    statusCode: 201,
    headers: {'X-Greeting': 'hello', 'Content-Type': 'text/plain'},
    body: 'Hello ' + (params.name || 'World') + ' via ' + params.__ow_method
  };
}
"""

PYTHON_ECHO = (
    "def main(args):\n    return {'args': args, 'html': '<p>' + args.get('name', '?') + '</p>'}\n"
)

PNG = bytes(range(16))
PYTHON_PNG = (
    "def main(args):\n"
    f"    return {{'headers': {{'Content-Type': 'image/png'}}, 'body': "
    f"'{base64.b64encode(PNG).decode()}'}}\n"
)


def web_url(platform: Platform, name: str, extension: str = "") -> str:
    return f"{platform.controller.url}/api/v1/web/guest/default/{name}{extension}"


def test_a_nodejs_web_action_answers_http(platform: Platform) -> None:
    name = fresh("webnode")
    platform.create(name, NODE_HTTP, kind="nodejs:18", annotations=[WEB])
    response = requests.post(web_url(platform, name, ".http"), params={"name": "Ada"}, timeout=60)
    assert response.status_code == 201, response.text
    assert response.text == "Hello Ada via post"
    assert response.headers["X-Greeting"] == "hello"
    assert response.headers["Content-Type"].startswith("text/plain")
    activation_id = response.headers["x-openwhisk-activation-id"]
    assert platform.record(activation_id)["response"]["status"] == "success"
    # no extension means .http
    assert requests.get(web_url(platform, name), timeout=60).text == "Hello World via get"


def test_a_python_web_action_answers_json_and_html(platform: Platform) -> None:
    name = fresh("webpy")
    platform.create(name, PYTHON_ECHO, annotations=[WEB])
    response = requests.post(
        web_url(platform, name, ".json") + "/extra/path?name=Jane",
        json={"n": 1},
        headers={"X-Thing": "1"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    args = response.json()["args"]
    assert (args["name"], args["n"], args["__ow_method"]) == ("Jane", 1, "post")
    assert args["__ow_path"] == "/extra/path"
    assert args["__ow_headers"]["x-thing"] == "1"
    assert "__ow_user" not in args
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    html = requests.get(web_url(platform, name, ".html"), params={"name": "Bo"}, timeout=60)
    assert html.status_code == 200
    assert html.headers["Content-Type"].startswith("text/html")
    assert html.text == "<p>Bo</p>"


def test_binary_bodies_and_unexported_actions(platform: Platform) -> None:
    name = fresh("webpng")
    platform.create(name, PYTHON_PNG, annotations=[WEB])
    response = requests.get(web_url(platform, name), timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    assert response.content == PNG
    hidden = fresh("hidden")
    platform.create(hidden, PYTHON_ECHO)
    refused = requests.get(web_url(platform, hidden, ".json"), timeout=60)
    assert refused.status_code == 404
    assert refused.json()["error"] == "The requested resource does not exist."


def test_wsk_web_flags_then_a_plain_get(platform: Platform, tmp_path: Path) -> None:
    user, key = platform.guest.session.auth  # type: ignore[misc]
    cli = Wsk(tmp_path / "wskprops", f"{user}:{key}")
    cli.ok("property", "set", "--apihost", platform.controller.url, "--auth", cli.key)
    source = tmp_path / "page.py"
    source.write_text(PYTHON_ECHO)
    name = fresh("webcli")
    cli.ok("action", "create", name, str(source), "--web", "true", "--param", "name", "Fixed")
    page = requests.get(web_url(platform, name, ".html"), timeout=60)
    assert (page.status_code, page.text) == (200, "<p>Fixed</p>")
    # --web true makes the parameters final
    overriding = requests.get(web_url(platform, name, ".html"), params={"name": "X"}, timeout=60)
    assert overriding.status_code == 400
    # an update's annotations replace the stored ones: --web again with --web-secure
    cli.ok("action", "update", name, "--web", "true", "--web-secure", "s3cret")
    assert requests.get(web_url(platform, name, ".html"), timeout=60).status_code == 401
    secured = requests.get(
        web_url(platform, name, ".html"), headers={"X-Require-Whisk-Auth": "s3cret"}, timeout=60
    )
    assert (secured.status_code, secured.text) == (200, "<p>Fixed</p>")
    cli.ok("action", "update", name, "--web", "false")
    assert requests.get(web_url(platform, name, ".html"), timeout=60).status_code == 404
