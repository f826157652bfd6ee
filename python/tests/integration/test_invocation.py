"""Actions run for real: controller → Kafka → invoker → Docker → completion and record.

One controller (with a Kafka producer and its completion consumer) and one invoker (its
container pool on an action network of this module's own) run against the session's Kafka
broker and CouchDB-API server. Actions report the container they ran in through
``socket.gethostname()`` (Docker sets it to the container's short id), which is how the
tests tell warm, prewarmed and new containers apart.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import pytest

from tests.integration.controller_support import fresh
from tests.integration.platform_support import Platform

pytestmark = pytest.mark.integration

DB_PREFIX = "invocation_"
NETWORK = ("whisk-test-invocation", "172.31.253.0/24", "whisktinv0")
GATEWAY = "172.31.253.1"
INSTANCE = 5  # controller and invoker number, used by no other module on the session broker
SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"

HOSTNAME_PY = (
    "import socket\n"
    "def main(args):\n"
    "    print('ran in', socket.gethostname())\n"
    "    return {'host': socket.gethostname(), **args}\n"
)


def test_blocking_invoke_returns_the_record_without_logs(platform: Platform) -> None:
    name = fresh("hello")
    platform.create(name, HOSTNAME_PY)
    response = platform.invoke(name, {"name": "World"}, blocking="true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["response"]["status"] == "success"
    assert body["response"]["result"]["name"] == "World"
    assert body["logs"] == []
    assert response.headers["x-openwhisk-activation-id"] == body["activationId"]
    annotations = {a["key"]: a["value"] for a in body["annotations"]}
    assert annotations["path"] == f"guest/{name}"
    assert annotations["kind"] == "python:3.11"
    assert annotations["waitTime"] >= 0
    record = platform.record(body["activationId"])
    assert record["logs"][0].endswith(f"stdout: ran in {body['response']['result']['host']}")
    assert record["duration"] == record["end"] - record["start"]


def test_result_only_and_non_blocking(platform: Platform) -> None:
    name = fresh("echo")
    platform.create(
        name, "def main(args):\n    return args\n", parameters=[{"key": "a", "value": 1}]
    )
    result = platform.invoke(name, {"b": 2}, blocking="true", result="true")
    assert result.status_code == 200
    assert result.json() == {"a": 1, "b": 2}
    accepted = platform.invoke(name, {"c": 3})
    assert accepted.status_code == 202
    activation_id = accepted.json()["activationId"]
    assert set(accepted.json()) == {"activationId"}
    record = platform.record(activation_id)
    assert record["response"]["result"] == {"a": 1, "c": 3}


def test_application_error_is_502_with_the_record(platform: Platform) -> None:
    name = fresh("fails")
    platform.create(name, "def main(args):\n    return {'error': 'bad input'}\n")
    response = platform.invoke(name, blocking="true")
    assert response.status_code == 502
    assert response.json()["response"]["status"] == "application error"
    only = platform.invoke(name, blocking="true", result="true")
    assert (only.status_code, only.json()) == (502, {"error": "bad input"})


def test_a_blocking_wait_that_ends_answers_202_and_the_record_follows(platform: Platform) -> None:
    name = fresh("slow")
    platform.create(name, "import time\ndef main(args):\n    time.sleep(3)\n    return {'ok': 1}\n")
    response = platform.invoke(name, blocking="true", timeout="1000")
    assert response.status_code == 202, response.text
    record = platform.record(response.json()["activationId"], deadline_s=20)
    assert record["response"]["result"] == {"ok": 1}


def test_warm_reuse_over_200_sequential_calls(platform: Platform) -> None:
    name = fresh("warm")
    platform.create(name, HOSTNAME_PY)
    hosts: list[str] = []
    inits = 0
    for _ in range(200):
        response = platform.invoke(name, blocking="true")
        assert response.status_code == 200, response.text
        body = response.json()
        hosts.append(body["response"]["result"]["host"])
        inits += any(a["key"] == "initTime" for a in body["annotations"])
    reused = sum(1 for i, host in enumerate(hosts) if host in hosts[:i])
    assert reused >= 198, f"only {reused} of 200 ran in an initialised container"
    assert inits <= 2


def test_a_warm_container_is_paused_then_resumed(platform: Platform) -> None:
    name = fresh("pause")
    platform.create(name, HOSTNAME_PY)
    host = platform.invoke(name, blocking="true", result="true").json()["host"]
    give_up = time.monotonic() + 10
    while True:
        (container,) = [c for c in platform.containers() if c.id.startswith(host)]
        if container.status == "paused":
            break
        assert time.monotonic() < give_up, f"{host} still {container.status}"
        time.sleep(0.2)
    again = platform.invoke(name, blocking="true", result="true")
    assert again.status_code == 200
    assert again.json()["host"] == host
    container.reload()
    assert container.status == "running"


def test_the_first_call_of_a_new_python_action_takes_a_stem_cell(platform: Platform) -> None:
    give_up = time.monotonic() + 30
    while not (stems := _stem_cells(platform)):
        assert time.monotonic() < give_up, "no stem cell"
        time.sleep(0.2)
    name = fresh("prewarmed")
    platform.create(name, HOSTNAME_PY)
    body = platform.invoke(name, blocking="true").json()
    assert body["response"]["result"]["host"] in stems
    assert any(a["key"] == "initTime" for a in body["annotations"])


def _stem_cells(platform: Platform) -> set[str]:
    """Short ids of the running containers that never ran anything (no sentinel logged)."""
    stems = set()
    for container in platform.containers():
        try:
            if container.status == "running" and SENTINEL.encode() not in container.logs():
                stems.add(container.id[:12])
        except docker.errors.APIError:  # removed since it was listed
            continue
    return stems


def test_timeout_is_a_developer_error_and_the_next_call_works(platform: Platform) -> None:
    name = fresh("sleepy")
    code = (
        "import time\n"
        "def main(args):\n"
        "    if args.get('sleep'):\n"
        "        time.sleep(5)\n"
        "    return {'awake': True}\n"
    )
    platform.create(name, code, limits={"timeout": 1000})
    response = platform.invoke(name, {"sleep": True}, blocking="true")
    assert response.status_code == 502
    body = response.json()
    assert body["response"]["result"] == {
        "error": "The action exceeded its time limits of 1000 milliseconds."
    }
    assert {a["key"]: a["value"] for a in body["annotations"]}["timeout"] is True
    after = platform.invoke(name, blocking="true", result="true")
    assert (after.status_code, after.json()) == (200, {"awake": True})


def test_memory_exhaustion_is_reported_and_the_next_call_works(platform: Platform) -> None:
    name = fresh("hungry")
    code = (
        "def main(args):\n"
        "    if args.get('eat'):\n"
        "        block = bytearray(400 * 1024 * 1024)\n"
        "        return {'size': len(block)}\n"
        "    return {'fed': True}\n"
    )
    platform.create(name, code, limits={"memory": 128})
    response = platform.invoke(name, {"eat": True}, blocking="true")
    assert response.status_code == 502, response.text
    assert response.json()["response"]["result"] == {
        "error": "The action exhausted its memory and was aborted."
    }
    after = platform.invoke(name, blocking="true", result="true")
    assert (after.status_code, after.json()) == (200, {"fed": True})


def test_logs_past_the_limit_are_truncated_with_a_warning(platform: Platform) -> None:
    name = fresh("chatty")
    code = "def main(args):\n    for i in range(30000):\n        print('x' * 99)\n    return {}\n"
    platform.create(name, code, limits={"logs": 1})
    activation_id = platform.invoke(name, blocking="true").json()["activationId"]
    logs = platform.record(activation_id)["logs"]
    assert logs[-1].endswith(
        "stderr: Logs were truncated because the total bytes size exceeds the limit of "
        "1048576 bytes."
    )
    assert len(logs) - 1 == 1048576 // 100


def test_an_action_cannot_reach_the_platform(platform: Platform) -> None:
    name = fresh("probe")
    code = (
        "import socket\n"
        "def main(args):\n"
        "    out = {}\n"
        "    for label, port in args['ports'].items():\n"
        "        for host in args['hosts']:\n"
        "            try:\n"
        "                socket.create_connection((host, port), timeout=2).close()\n"
        "                out[f'{label}@{host}'] = 'open'\n"
        "            except OSError as error:\n"
        "                out[f'{label}@{host}'] = type(error).__name__\n"
        "    return out\n"
    )
    platform.create(name, code)
    params = {"ports": platform.ports, "hosts": [GATEWAY, "127.0.0.1"]}
    response = platform.invoke(name, params, blocking="true", result="true")
    assert response.status_code == 200, response.text
    reached = {target for target, outcome in response.json().items() if outcome == "open"}
    assert len(response.json()) == 6
    assert reached == set()
    with socket.create_connection(("127.0.0.1", platform.ports["controller"]), timeout=2):
        pass  # control: the controller itself is up


def test_every_activation_has_a_record_when_containers_are_killed(platform: Platform) -> None:
    name = fresh("doomed")
    code = (
        "import subprocess\n"
        "def main(args):\n"
        "    subprocess.run(['sleep', '4'], check=True)\n"
        "    return {'survived': True}\n"
    )
    platform.create(name, code)
    crash = fresh("crash")
    platform.create(crash, "import os\ndef main(args):\n    os._exit(3)\n")
    ids = [platform.invoke(name).json()["activationId"] for _ in range(3)]
    ids.append(platform.invoke(crash).json()["activationId"])
    give_up = time.monotonic() + 20
    killed = 0
    while killed < 3:
        assert time.monotonic() < give_up, f"only {killed} containers ran the action"
        running = [c for c in platform.containers() if _runs_action(c)]
        for container in running:
            container.kill()
            killed += 1
        time.sleep(0.2)
    records = [platform.record(activation_id, deadline_s=30) for activation_id in ids]
    for record in records:
        assert record["response"]["status"] == "action developer error", record
    after = platform.invoke(name, blocking="true", result="true")
    assert (after.status_code, after.json()) == (200, {"survived": True})


def _runs_action(container: Any) -> bool:
    """Whether ``container`` is running the `doomed` action (its `sleep 4` child is there)."""
    if container.status != "running":
        return False
    try:
        processes = container.top().get("Processes") or []
    except docker.errors.APIError:  # it stopped since it was listed
        return False
    return any("sleep 4" in " ".join(process) for process in processes)


BLACKBOX_SERVER = """
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        if self.path == "/run":  # the sentinels follow each run (not a successful init)
            print("blackbox ran", flush=True)
            answer = {"blackbox": True, "value": body.get("value", {})}
            for stream in (sys.stdout, sys.stderr):
                print(SENTINEL, file=stream, flush=True)
        else:
            answer = {"ok": True}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
"""


@pytest.fixture(scope="module")
def blackbox_image(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local image that speaks the action protocol by itself (no proxy, no /init code)."""
    context = tmp_path_factory.mktemp("blackbox")
    (context / "server.py").write_text(BLACKBOX_SERVER)
    (context / "Dockerfile").write_text(
        "FROM whisk/runtime-base:bookworm\n"
        "COPY server.py /server.py\n"
        'CMD ["python3", "/server.py"]\n'
    )
    tag = f"whisk/test-blackbox:{uuid.uuid4().hex[:8]}"
    platform.engine.images.build(
        path=str(context), tag=tag, labels={"org.whisk.project": "whisk"}, rm=True
    )
    yield tag
    platform.engine.images.remove(tag, force=True)


def test_a_blackbox_action_runs_a_local_image(platform: Platform, blackbox_image: str) -> None:
    name = fresh("box")
    body = {"exec": {"kind": "blackbox", "image": blackbox_image}}
    assert platform.guest.call("PUT", f"/namespaces/_/actions/{name}", json=body).ok
    response = platform.invoke(name, {"n": 1}, blocking="true")
    assert response.status_code == 200, response.text
    assert response.json()["response"]["result"] == {"blackbox": True, "value": {"n": 1}}
    record = platform.record(response.json()["activationId"])
    # what the server wrote after answering /init (its access log line) may come first
    assert any(line.endswith("stdout: blackbox ran") for line in record["logs"]), record


def test_a_blackbox_image_that_does_not_exist_is_a_developer_error(platform: Platform) -> None:
    name = fresh("nobox")
    body = {"exec": {"kind": "blackbox", "image": "whisk/no-such-image:1"}}
    assert platform.guest.call("PUT", f"/namespaces/_/actions/{name}", json=body).ok
    response = platform.invoke(name, blocking="true")
    assert response.status_code == 502, response.text
    assert response.json()["response"]["result"] == {
        "error": "Failed to pull container image 'whisk/no-such-image:1'."
    }
