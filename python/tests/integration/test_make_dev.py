"""`make dev` and `make dev-down` (scripts/dev.py), run as a developer would, and the whole invoke
path they bring up, driven by the seed's `wsk -i` workflow (DESIGN.md §1's six commands: action,
trigger and rule create, trigger fire, action invoke, activation get) and by OpenWhisk's own
JavaScript client (npm `openwhisk`: js/openwhisk_client.js for actions and activations,
js/openwhisk_triggers.js for triggers, rules, packages and sequences).

Every run uses its own state directory, ports, `.wskprops`, invoker name and action network
(the WHISK_DEV_* variables), so a developer's own `make dev` instance, and the servers the other
test modules start, are never touched. `make` is told that the virtualenv is up to date
(`-o .venv/.installed`): these tests run inside that virtualenv, which must not be reinstalled
under them.

The npm client is installed by the `openwhisk_js` fixture, once per machine, into
``$WHISK_CACHE/npm/openwhisk-<version>`` (default ``${XDG_CACHE_HOME:-~/.cache}/whisk``),
outside the clone: a fresh clone reuses it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest
import requests

from whisk_services.adapters.docker_network import ActionNetwork
from whisk_services.ports.containers import ContainerError
from whisk_testbed.network import free_port, port_answers

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
NAMES = (  # start order
    "consul", "registrator", "couchdb", "zookeeper", "kafka", "controller", "invoker0", "invoker1"
)  # fmt: skip
# The registrator and the invokers listen on no port.
LISTENING = ("consul", "couchdb", "zookeeper", "kafka", "controller")
STARTED = (  # what `make dev` says it started, in order
    "Consul", "the registrator", "the CouchDB API", "ZooKeeper", "Kafka", "the controller",
    "invoker 0", "invoker 1",
)  # fmt: skip
DATA = ("consul", "couchdb", "zookeeper", "kafka")  # data directories, kept between runs
REGISTRATOR_SYNCED = "following container events; resynced"
# An action network of its own (172.31.250: the default; 247, 252-254: other modules).
NETWORK = ("whisk-dev-test", "172.31.249.0/24", "whiskdevt0")
WSK = Path(sys.executable).with_name("wsk")  # .venv/bin/wsk
OPENWHISK_JS_VERSION = "3.21.9"  # the newest 3.x of npm's `openwhisk`
CLIENT_SCRIPT = Path(__file__).with_name("js") / "openwhisk_client.js"
TRIGGERS_SCRIPT = Path(__file__).with_name("js") / "openwhisk_triggers.js"

HELLO_JS = """function main() {
    console.log('Hello World');
    return { msg: 'Hello World' };
}
"""
HELLO_PY = """def main(args):
    print('Hello World')
    return {'msg': 'Hello World'}
"""
ACTIVATION_ID = re.compile(r"[0-9a-f]{32}")
SUMMARY_LINE = re.compile(
    r"activation result for /guest/helloAction"
    r" \(success at \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4} \S+\)"
)


def make(target: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO), "-o", f"{REPO}/.venv/.installed", target],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def dev_env(tmp: Path) -> dict[str, str]:
    """A `make dev` instance of the test's own: state, ports, invoker and network."""
    network, subnet, bridge = NETWORK
    return {
        **os.environ,
        "WHISK_DEV_STATE": str(tmp / "state"),
        "WHISK_DEV_WSKPROPS": str(tmp / "wskprops"),
        "WHISK_DEV_CONSUL_PORT": str(free_port()),
        "WHISK_DEV_COUCHDB_PORT": str(free_port()),
        "WHISK_DEV_ZOOKEEPER_PORT": str(free_port()),
        "WHISK_DEV_KAFKA_PORT": str(free_port()),
        "WHISK_DEV_CONTROLLER_PORT": str(free_port()),
        "WHISK_DEV_INVOKER_NAME": f"dev-test-{uuid.uuid4().hex[:8]}-",  # + 0 and 1
        "WHISK_DEV_INVOKER_NETWORK": network,
        "WHISK_DEV_INVOKER_SUBNET": subnet,
        "WHISK_DEV_INVOKER_BRIDGE": bridge,
    }


def invoker_names(env: dict[str, str]) -> list[str]:
    """The two invokers' unique names (which label their containers)."""
    return [f"{env['WHISK_DEV_INVOKER_NAME']}{instance}" for instance in (0, 1)]


def wanted_ports(env: dict[str, str]) -> dict[str, int]:
    return {name: int(env[f"WHISK_DEV_{name.upper()}_PORT"]) for name in LISTENING}


def dev_py(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "dev.py"), command],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie waiting for its reaper."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return raw[raw.rindex(")") + 2] not in "ZX"


def pids(state: Path) -> dict[str, int]:
    return {name: int((state / f"{name}.pid").read_text()) for name in NAMES}


def ports(state: Path) -> dict[str, int]:
    return {name: json.loads((state / f"{name}.proc").read_text())["port"] for name in LISTENING}


def read_props(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def invoker_containers(
    invoker_name: str, *, remove: bool = False, sparse: bool = True
) -> list[Any]:
    """The containers the invoker called ``invoker_name`` labelled; with ``remove``, those
    are removed (the clean-up after a failed run, whose invoker name no later run uses)."""
    engine = docker.from_env()
    try:
        label = f"org.whisk.invoker={invoker_name}"
        found = list(engine.containers.list(all=True, filters={"label": label}, sparse=sparse))
        for container in found if remove else []:
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
        return found
    finally:
        engine.close()


def assert_up(state: Path, wskprops: Path, controller_port: int) -> str:
    """The API answers, with the guest's key, on the port asked for; returns that key."""
    props = read_props(wskprops)
    assert props["APIHOST"] == f"http://127.0.0.1:{controller_port}"
    assert props["NAMESPACE"] == "guest"
    info = requests.get(f"{props['APIHOST']}/api/v1", timeout=10).json()
    assert info["api_version"] == "1.0.0"
    user, _, key = props["AUTH"].partition(":")
    listed = requests.get(f"{props['APIHOST']}/api/v1/namespaces", auth=(user, key), timeout=10)
    assert listed.status_code == 200, listed.text
    assert listed.json() == ["guest"]
    wsk = subprocess.run(
        [sys.executable, "-m", "whisk_services.cli.wsk.main", "namespace", "list"],
        env={**os.environ, "WSK_CONFIG_FILE": str(wskprops)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (wsk.returncode, wsk.stdout) == (0, "namespaces\nguest\n"), wsk.stderr
    assert mode(wskprops) == 0o600
    assert mode(state) == 0o700
    for path in state.iterdir():
        if path.is_file():
            assert mode(path) == 0o600, path
    return props["AUTH"]


def assert_down(
    state: Path, started: dict[str, int], listened: dict[str, int], invokers: list[str]
) -> None:
    for name, pid in started.items():
        assert not alive(pid), f"{name} (pid {pid}) still runs"
        assert not (state / f"{name}.pid").exists()
        assert not (state / f"{name}.proc").exists()
    for name, port in listened.items():
        assert not port_answers(port), f"{name}'s port {port} still answers"
    # The invokers destroyed their stem cells and action containers on their way out.
    for invoker_name in invokers:
        assert invoker_containers(invoker_name) == [], invoker_name


@pytest.fixture(scope="module", autouse=True)
def action_network() -> Iterator[None]:
    """The module's action network (the invokers create it) is removed at the end."""
    yield
    network = ActionNetwork(*NETWORK)
    with contextlib.suppress(ContainerError):  # a concurrent run may still use it
        asyncio.run(network.remove())


def test_make_dev_then_dev_down_twice(tmp_path: Path) -> None:
    env = dev_env(tmp_path)
    state, wskprops = Path(env["WHISK_DEV_STATE"]), Path(env["WHISK_DEV_WSKPROPS"])
    asked = wanted_ports(env)
    keys: list[str] = []
    try:
        for _ in range(2):
            up = make("dev", env)
            assert up.returncode == 0, up.stdout + up.stderr
            assert up.stdout.splitlines()[-1] == f"export WSK_CONFIG_FILE={wskprops}"
            said = [line for line in up.stdout.splitlines() if line.startswith("dev: started ")]
            assert len(said) == len(STARTED), up.stdout  # each once, in order
            for line, name in zip(said, STARTED, strict=True):
                assert line.startswith(f"dev: started {name} "), up.stdout
            started = pids(state)
            assert ports(state) == asked
            assert all(alive(pid) for pid in started.values())
            # `make` has returned: what it started outlived it.
            keys.append(assert_up(state, wskprops, asked["controller"]))
            status = dev_py("status", env)
            assert status.returncode == 0, status.stdout + status.stderr
            for name in NAMES:
                assert f"dev: {name}: pid {started[name]}" in status.stdout

            again = make("dev", env)
            assert again.returncode == 0, again.stdout + again.stderr
            assert "dev: already up" in again.stdout
            assert "started" not in again.stdout
            assert pids(state) == started
            assert_up(state, wskprops, asked["controller"])

            down = make("dev-down", env)
            assert down.returncode == 0, down.stdout + down.stderr
            stopped = [f"dev: stopped {name} (pid {started[name]})" for name in reversed(NAMES)]
            assert [line for line in down.stdout.splitlines() if "stopped" in line] == stopped
            assert_down(state, started, asked, invoker_names(env))
            status = dev_py("status", env)
            assert status.returncode == 3, status.stdout + status.stderr
            assert status.stdout.count(": not running") == len(NAMES)

            idle = make("dev-down", env)
            assert idle.returncode == 0, idle.stdout + idle.stderr
            assert "dev: nothing is running" in idle.stdout
        # The data and the saved key are kept between runs: the guest keeps its key.
        assert keys[0] == keys[1]
        for data in DATA:
            assert (state / data).is_dir()
    finally:
        dev_py("down", env)
        for invoker_name in invoker_names(env):
            invoker_containers(invoker_name, remove=True)


def test_dev_down_leaves_alone_a_process_that_reuses_a_recorded_pid(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        (state / "couchdb.pid").write_text(f"{bystander.pid}\n")
        # What the pidfile's process was: another command, started at another time.
        proc = {"argv": ["pouchdb-server", "-p", "5984"], "start_ticks": 1, "port": 0}
        (state / "couchdb.proc").write_text(json.dumps(proc))
        env = {**os.environ, "WHISK_DEV_STATE": str(state)}
        down = make("dev-down", env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert f"couchdb: pid {bystander.pid} no longer runs what was started" in down.stdout
        time.sleep(0.2)
        assert bystander.poll() is None
        assert not (state / "couchdb.pid").exists()
        assert not (state / "couchdb.proc").exists()
    finally:
        bystander.kill()
        bystander.wait(timeout=10)


# --- the invoke path, up from `make dev` ------------------------------------------------------


@dataclass(frozen=True)
class DevPlatform:
    """A platform `make dev` brought up, and how to reach it."""

    env: dict[str, str]
    wskprops: Path
    apihost: str
    auth: str
    workdir: Path

    def wsk(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`wsk -i ...` with this platform's `.wskprops`."""
        return subprocess.run(
            [str(WSK), "-i", *args],
            env={**os.environ, "WSK_CONFIG_FILE": str(self.wskprops)},
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevPlatform]:
    """`make dev` for the module's invoke tests; `make dev-down` after them, which must stop
    everything and leave no action container behind."""
    tmp = tmp_path_factory.mktemp("make-dev-platform")
    env = dev_env(tmp)
    state, wskprops = Path(env["WHISK_DEV_STATE"]), Path(env["WHISK_DEV_WSKPROPS"])
    up = make("dev", env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        started = pids(state)
        props = read_props(wskprops)
        workdir = tmp / "work"
        workdir.mkdir()
        yield DevPlatform(env, wskprops, props["APIHOST"], props["AUTH"], workdir)
        down = make("dev-down", env)
        assert down.returncode == 0, down.stdout + down.stderr
        assert_down(state, started, wanted_ports(env), invoker_names(env))
    finally:
        dev_py("down", env)
        for invoker_name in invoker_names(env):
            invoker_containers(invoker_name, remove=True)


def poll_summary(platform: DevPlatform, activation_id: str, deadline_s: float = 60.0) -> str:
    """`wsk -i activation get --summary <id>` until the record exists (a non-blocking invoke
    answers before the action has run)."""
    give_up = time.monotonic() + deadline_s
    while True:
        got = platform.wsk("activation", "get", "--summary", activation_id)
        if got.returncode == 0:
            return got.stdout
        assert "not found" in got.stderr.lower() or "does not exist" in got.stderr.lower(), (
            got.stderr
        )
        assert time.monotonic() < give_up, f"no activation {activation_id}: {got.stderr}"
        time.sleep(0.2)


def created_id(done: subprocess.CompletedProcess[str], prefix: str) -> str:
    """The activation id of `wsk`'s ``<prefix><id>`` answer (an invoke's or a fire's)."""
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(prefix), done.stdout
    activation_id = done.stdout.removeprefix(prefix).rstrip("\n")
    assert ACTIVATION_ID.fullmatch(activation_id), done.stdout
    return activation_id


def poll_record(platform: DevPlatform, activation_id: str, deadline_s: float = 60.0) -> Any:
    """`wsk -i activation get <id>`'s record, once it exists."""
    give_up = time.monotonic() + deadline_s
    while True:
        got = platform.wsk("activation", "get", activation_id)
        if got.returncode == 0:
            head, _, record = got.stdout.partition("\n")
            assert head == f"ok: got activation {activation_id}", got.stdout
            return json.loads(record)
        assert time.monotonic() < give_up, f"no activation {activation_id}: {got.stderr}"
        time.sleep(0.2)


def assert_ok(done: subprocess.CompletedProcess[str], stdout: str) -> None:
    assert (done.returncode, done.stdout) == (0, stdout), done.stderr


@pytest.mark.parametrize(
    ("artifact", "code"), [("hello.js", HELLO_JS), ("hello.py", HELLO_PY)], ids=["nodejs", "python"]
)
def test_the_seed_workflow_with_wsk(platform: DevPlatform, artifact: str, code: str) -> None:
    """DESIGN.md §1's six commands, in order, with their answers; then what the fire did."""
    (platform.workdir / artifact).write_text(code)
    try:
        assert_ok(
            platform.wsk("action", "create", "helloAction", artifact),
            "ok: created action helloAction\n",
        )
        assert_ok(
            platform.wsk("trigger", "create", "helloTrigger"), "ok: created trigger helloTrigger\n"
        )
        assert_ok(
            platform.wsk("rule", "create", "helloRule", "helloTrigger", "helloAction"),
            "ok: created rule helloRule\n",
        )
        fire_id = created_id(
            platform.wsk("trigger", "fire", "helloTrigger"),
            "ok: triggered /guest/helloTrigger with id ",
        )
        activation_id = created_id(
            platform.wsk("action", "invoke", "helloAction"),
            "ok: invoked /guest/helloAction with id ",
        )
        lines = poll_summary(platform, activation_id).splitlines()
        assert len(lines) == 4, lines
        assert SUMMARY_LINE.fullmatch(lines[0]), lines[0]
        assert lines[1:] == ["{", '    "msg": "Hello World"', "}"]

        # The fire ran the rule's action: the trigger's record names that activation.
        fired = poll_record(platform, fire_id)
        assert (fired["name"], fired["response"]["success"]) == ("helloTrigger", True), fired
        assert len(fired["logs"]) == 1, fired["logs"]
        line = json.loads(fired["logs"][0])
        assert (line["success"], line["rule"], line["action"]) == (
            True,
            "guest/helloRule",
            "guest/helloAction",
        ), line
        assert ACTIVATION_ID.fullmatch(line["activationId"]), line
        assert line["activationId"] not in (fire_id, activation_id)
        ran = poll_record(platform, line["activationId"])
        assert (ran["name"], ran["response"]["result"]) == ("helloAction", {"msg": "Hello World"})

        result = platform.wsk("action", "invoke", "helloAction", "-b", "-r")
        assert_ok(result, '{\n    "msg": "Hello World"\n}\n')

        logs = platform.wsk("activation", "logs", activation_id)
        assert logs.returncode == 0, logs.stderr
        assert "Hello World" in logs.stdout
    finally:
        # The seed's names are fixed: clean all three so the next run starts afresh.
        rule = platform.wsk("rule", "delete", "helloRule")
        trigger = platform.wsk("trigger", "delete", "helloTrigger")
        action = platform.wsk("action", "delete", "helloAction")
    assert_ok(rule, "ok: deleted rule helloRule\n")
    assert_ok(trigger, "ok: deleted trigger helloTrigger\n")
    assert_ok(action, "ok: deleted action helloAction\n")


# Ten actions: the controller's balancer (CRC-32 of namespace and action) sends noop4-noop7 to
# invoker 0 and the six others to invoker 1. With 128 MB, which no stem cell has (they have
# 256 MB), each action gets a cold container of its own, labelled with its invoker.
NOOP_ACTIONS = tuple(f"noop{i}" for i in range(10))
NOOP_MEMORY_MB = 128
NOOP_PY = "def main(args):\n    return {}\n"


def guest_request(
    platform: DevPlatform, method: str, path: str, **kwargs: Any
) -> requests.Response:
    user, _, key = platform.auth.partition(":")
    url = f"{platform.apihost}/api/v1/namespaces/_/{path}"
    return requests.request(method, url, auth=(user, key), timeout=30, **kwargs)


def test_consul_the_registrator_and_both_invokers_run(platform: DevPlatform) -> None:
    """Consul answers on its port with a leader, the registrator runs (and synced), and both
    invokers run activations: ten actions invoked non-blocking as the guest."""
    state = Path(platform.env["WHISK_DEV_STATE"])
    consul = f"http://127.0.0.1:{platform.env['WHISK_DEV_CONSUL_PORT']}"
    leader = requests.get(f"{consul}/v1/status/leader", timeout=10)
    assert leader.status_code == 200, leader.text
    assert leader.json().startswith("127.0.0.1:"), leader.text
    assert alive(int((state / "registrator.pid").read_text()))
    assert REGISTRATOR_SYNCED in (state / "registrator.log").read_text()

    invokers = invoker_names(platform.env)
    try:
        for name in NOOP_ACTIONS:
            action = {
                "exec": {"kind": "python:3.11", "code": NOOP_PY},
                "limits": {"memory": NOOP_MEMORY_MB},
            }
            created = guest_request(platform, "PUT", f"actions/{name}", json=action)
            assert created.status_code == 200, created.text
        ids = []
        for name in NOOP_ACTIONS:
            invoked = guest_request(platform, "POST", f"actions/{name}", json={})
            assert invoked.status_code == 202, invoked.text
            ids.append(invoked.json()["activationId"])
        for activation_id in ids:
            record = poll_record(platform, activation_id)
            assert record["response"]["success"] is True, record
        ran = {
            invoker: sum(
                container.attrs["HostConfig"]["Memory"] == NOOP_MEMORY_MB * 2**20
                for container in invoker_containers(invoker, sparse=False)
            )
            for invoker in invokers
        }
        assert all(count >= 1 for count in ran.values()), ran
        assert sum(ran.values()) == len(NOOP_ACTIONS), ran
    finally:
        for name in NOOP_ACTIONS:
            guest_request(platform, "DELETE", f"actions/{name}")


# --- OpenWhisk's JavaScript client ------------------------------------------------------------


def whisk_cache() -> Path:
    configured = os.environ.get("WHISK_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "whisk"


def installed_version(prefix: Path) -> str | None:
    try:
        package = json.loads((prefix / "node_modules" / "openwhisk" / "package.json").read_text())
    except (OSError, ValueError):
        return None
    version = package.get("version")
    return version if isinstance(version, str) else None


@pytest.fixture(scope="session")
def openwhisk_js() -> Path:
    """The `node_modules` holding npm's `openwhisk` at the pinned version: installed once into
    the cache (under a lock, into a temporary directory renamed into place when complete),
    reused afterwards."""
    npm_cache = whisk_cache() / "npm"
    prefix = npm_cache / f"openwhisk-{OPENWHISK_JS_VERSION}"
    npm_cache.mkdir(parents=True, exist_ok=True)
    with (npm_cache / f"openwhisk-{OPENWHISK_JS_VERSION}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version(prefix) != OPENWHISK_JS_VERSION:
            partial = prefix.with_name(f".{prefix.name}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            shutil.rmtree(prefix, ignore_errors=True)
            npm = subprocess.run(
                [
                    "npm",
                    "install",
                    "--prefix",
                    str(partial),
                    "--no-audit",
                    "--no-fund",
                    f"openwhisk@{OPENWHISK_JS_VERSION}",
                ],
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert npm.returncode == 0, npm.stdout + npm.stderr
            assert installed_version(partial) == OPENWHISK_JS_VERSION
            partial.rename(prefix)
    return prefix / "node_modules"


def run_client(
    script: Path, platform: DevPlatform, openwhisk_js: Path, **extra: str
) -> dict[str, Any]:
    """Runs a client script with node; returns its JSON summary, which must say ok."""
    # The client honours proxy variables: the platform is on loopback.
    proxies = {"http_proxy", "https_proxy", "proxy", "no_proxy"}
    env = {k: v for k, v in os.environ.items() if k.lower() not in proxies}
    run = subprocess.run(
        ["node", str(script)],
        env={
            **env,
            "NODE_PATH": str(openwhisk_js),
            "WHISK_APIHOST": platform.apihost,
            "WHISK_AUTH": platform.auth,
            **extra,
        },
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = run.stdout.splitlines()
    assert lines, run.stderr
    summary: dict[str, Any] = json.loads(lines[-1])
    assert (run.returncode, summary["ok"]) == (0, True), run.stdout + run.stderr
    return summary


def test_openwhisk_javascript_client(platform: DevPlatform, openwhisk_js: Path) -> None:
    name = f"owjs{uuid.uuid4().hex[:10]}"
    summary = run_client(CLIENT_SCRIPT, platform, openwhisk_js, WHISK_ACTION=name)
    assert summary["steps"] == [
        "create", "list", "get", "invoke_blocking", "invoke_result", "invoke_nonblocking",
        "activation_get", "activation_list", "activation_result", "activation_logs",
        "update", "invoke_updated", "delete", "get_deleted",
    ]  # fmt: skip
    assert summary["action"] == name
    assert (summary["kind"], summary["created_version"]) == ("nodejs:18", "0.0.1")
    assert summary["blocking_result"] == {"greeting": "Hello Ada", "version": 1}
    assert summary["result_only"] == {"greeting": "Hello Grace", "version": 1}
    assert (summary["polled_status"], summary["polled_result"]) == (
        "success",
        {"greeting": "Hello Linus", "version": 1},
    )
    assert summary["listed_activations"] >= 2
    assert summary["activation_result"] == {"greeting": "Hello Linus", "version": 1}
    assert summary["activation_result_success"] is True
    assert len(summary["logs"]) == 1, summary["logs"]
    assert summary["logs"][0].endswith("stdout: greeting Linus")
    assert summary["updated_version"] == "0.0.2"
    assert summary["updated_result"] == {"greeting": "Hi Ada", "version": 2}


def test_openwhisk_javascript_client_triggers_rules_packages_sequences(
    platform: DevPlatform, openwhisk_js: Path
) -> None:
    prefix = f"owjs{uuid.uuid4().hex[:10]}"
    summary = run_client(TRIGGERS_SCRIPT, platform, openwhisk_js, WHISK_PREFIX=prefix)
    assert summary["steps"] == [
        "action_create", "trigger_create", "trigger_get", "trigger_list", "trigger_update",
        "rule_create", "rule_get", "rule_list", "trigger_get_rules",
        "trigger_fire", "fire_activations", "rule_activation_list",
        "rule_disable", "rule_get_disabled", "trigger_fire_disabled",
        "rule_enable", "rule_get_enabled",
        "trigger_fire_enabled", "fire_activations_enabled",
        "rule_delete", "rule_get_deleted", "trigger_delete", "trigger_get_deleted",
        "package_create", "package_list", "package_update", "package_action_create",
        "package_get", "package_action_invoke", "package_delete_nonempty",
        "package_action_delete", "package_delete", "package_get_deleted",
        "sequence_components", "sequence_create", "sequence_create_exec", "sequence_get",
        "sequence_invoke", "sequence_exec_invoke", "sequence_invoke_blocking",
        "sequence_activation_get", "sequence_component_activations",
    ]  # fmt: skip
    names = summary["names"]
    first = {"salute": "Howdy", "name": "Nobody"}
    # Triggers: created with parameters, read, listed, updated (a new version).
    assert summary["trigger_created"] == {"version": "0.0.1", "parameters": first}
    assert summary["trigger_got"] == first
    assert summary["trigger_listed"] is True
    assert summary["trigger_updated"] == {
        "version": "0.0.2",
        "parameters": {**first, "updated": True},
    }
    # Rules: the client sends `/_/<name>`; the server answers with the resolved paths.
    link = {
        "trigger": {"path": "guest", "name": names["trigger"]},
        "action": {"path": "guest", "name": names["action"]},
    }
    assert summary["rule_created"] == {"status": "active", **link}
    assert summary["rule_got"] == {"status": "active", **link}
    assert summary["rule_listed"] is True
    assert summary["trigger_rules"] == {
        f"guest/{names['rule']}": {"action": link["action"], "status": "active"}
    }
    # The fire: its record holds the payload and one log line per rule; the rule's action
    # ran with the trigger's parameters under the fire's payload.
    assert summary["fire_record"] == {
        "result": {"name": "Ada"},
        "success": True,
        "log": {
            "statusCode": 0,
            "success": True,
            "rule": f"guest/{names['rule']}",
            "action": f"guest/{names['action']}",
        },
    }
    assert summary["rule_activation"] == {
        "name": names["action"],
        "success": True,
        "result": {"greeting": "Howdy Ada"},
    }
    assert summary["rule_activation_listed"] >= 1
    assert (summary["rule_disabled_status"], summary["rule_enabled_status"]) == (
        "inactive",
        "active",
    )
    assert summary["fire_disabled_activation"] is None  # 204: no active rule, no activation
    assert summary["refire_result"] == {"greeting": "Howdy Grace"}
    assert summary["rule_deleted"] == names["rule"]
    assert (summary["rule_get_deleted"], summary["trigger_get_deleted"]) == (404, 404)
    # Packages: CRUD, and an action inside one (`pkg/act`), invoked blocking.
    assert summary["package_created"] == {"version": "0.0.1", "parameters": {"color": "blue"}}
    assert summary["package_listed"] is True
    updated = {"color": "green", "size": 2}
    assert summary["package_updated"] == {"version": "0.0.2", "parameters": updated}
    assert summary["package_action"] == {"name": "act", "namespace": f"guest/{names['pkg']}"}
    assert summary["package_got"] == {"parameters": updated, "actions": ["act"]}
    assert summary["package_action_result"] == {"packaged": True, "name": "Ada"}
    assert summary["package_delete_nonempty"] == 409
    assert summary["package_get_deleted"] == 404
    # Sequences: made with the client's `sequence` option and with a whole `exec`.
    assert summary["sequence_exec"] == {
        "kind": "sequence",
        "components": [f"/guest/{names['plus']}", f"/guest/{names['times']}"],
    }
    assert summary["sequence_result"] == {"n": 20, "steps": ["plus", "times"]}
    assert summary["sequence_exec_result"] == {"n": 11, "steps": ["times", "plus"]}
    assert summary["sequence_activation"] == {
        "name": names["seq"],
        "result": {"n": 30, "steps": ["plus", "times"]},
        "kind": "sequence",
        "components": [[names["plus"], 3], [names["times"], 30]],
    }
