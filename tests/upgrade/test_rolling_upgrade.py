"""A rolling upgrade of the running local cluster under a steady invoke load loses nothing.

Run on a cluster that `make cluster-up` made (scripts/cluster.sh upgrade runs it):

    .venv/bin/pytest -c tests/upgrade/pytest.ini tests/upgrade

It builds and stages version N+1 of the platform's images (`scripts/service-images.sh
--version N+1`: the same code, packaged as N+1, so the API reports it), then drives
non-blocking invokes through nginx over HTTPS at a steady rate while
`playbooks/upgrade.yml -e whisk_version=N+1` replaces the invokers, the controller and the
registrators. Every activation id a client was given must end with its record, the API must
report N+1 afterwards, and a second run of the playbook must change nothing.
"""

from __future__ import annotations

import concurrent.futures
import json
import os
import queue
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventory" / "local-cluster"
CA = Path.home() / ".config" / "whisk" / "local-cluster" / "tls" / "ca.crt"
EDGE_HOST = "whisk-host-1"
RATE_PER_S = 25.0  # offered invokes per second (the acceptance asks for at least 20)
WORKERS = 8
AFTER_UPGRADE_S = 10.0  # the load goes on this long after the playbook ends
RECORD_DEADLINE_S = 180.0
THROTTLES_KEY = "whisk/config/throttles"
NOOP_JS = "function main(args) { return { n: args.n }; }"


@dataclass
class Api:
    """The platform's REST API as the guest reaches it through nginx."""

    host: str
    auth: tuple[str, str]

    def url(self, path: str) -> str:
        return f"{self.host}/api/v1{path}"

    def session(self) -> requests.Session:
        session = requests.Session()
        session.trust_env = False  # REQUESTS_CA_BUNDLE would override the platform's CA
        session.auth = self.auth
        session.verify = str(CA)
        return session


@dataclass
class LoadResult:
    """What the load generator saw."""

    accepted: list[str] = field(default_factory=list)
    offered: int = 0
    refused: dict[str, int] = field(default_factory=dict)
    started: float = 0.0
    ended: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, why: str) -> None:
        with self.lock:
            self.refused[why] = self.refused.get(why, 0) + 1


def wskprops() -> dict[str, str]:
    path = Path(os.environ.get("WSK_CONFIG_FILE", ROOT / ".wskprops"))
    if not path.exists():
        pytest.fail(f"{path} is missing: run make cluster-up first")
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def run(*command: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    env["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def consul_kv(method: str, key: str, body: str = "") -> None:
    """A KV write on the edge host's Consul agent (it answers on the host's loopback only)."""
    script = (
        "import sys, urllib.request as u\n"
        f"r = u.Request('http://127.0.0.1:8500/v1/kv/{key}', data=sys.argv[1].encode() or None,"
        f" method='{method}')\n"
        "u.urlopen(r, timeout=10).read()\n"
    )
    done = run("docker", "exec", EDGE_HOST, "python3", "-c", script, body, timeout=60)
    assert done.returncode == 0, done.stderr


def upgrade_to(version: str) -> subprocess.CompletedProcess[str]:
    """playbooks/upgrade.yml on the local cluster."""
    return run(
        "ansible-playbook",
        "-i",
        str(INVENTORY),
        "playbooks/upgrade.yml",
        "-e",
        f"whisk_version={version}",
    )


def next_version(version: str) -> str:
    parts = version.split(".")
    return ".".join([*parts[:-1], str(int(parts[-1]) + 1)])


def recap(output: str) -> list[str]:
    """The PLAY RECAP lines of an ansible-playbook run."""
    tail = output[output.rfind("PLAY RECAP") :]
    return [line for line in tail.splitlines() if re.search(r"\bok=\d+", line)]


@pytest.fixture(scope="module")
def api() -> Api:
    props = wskprops()
    user, key = props["AUTH"].split(":", 1)
    found = Api(props["APIHOST"].rstrip("/"), (user, key))
    answer = found.session().get(found.url(""), timeout=10)
    assert answer.status_code == 200, answer.text
    return found


@pytest.fixture(scope="module")
def action(api: Api) -> Iterator[str]:
    """A no-op action, and throttles wide enough for the load (restored afterwards)."""
    name = f"upgrade-noop-{uuid.uuid4().hex[:8]}"
    consul_kv(
        "PUT",
        THROTTLES_KEY,
        json.dumps({"invocationsPerMinute": 100000, "concurrentInvocations": 1000}),
    )
    session = api.session()
    body = json.dumps(
        {"exec": {"kind": "nodejs:18", "code": NOOP_JS}, "limits": {"timeout": 10000}}
    )
    created = session.put(
        api.url(f"/namespaces/_/actions/{name}"),
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert created.status_code == 200, created.text
    time.sleep(1)  # the controllers' throttle defaults follow Consul within a blocking query
    yield name
    session.delete(api.url(f"/namespaces/_/actions/{name}"), timeout=30)
    consul_kv("DELETE", THROTTLES_KEY)


def drive(api: Api, action: str, stop: threading.Event, result: LoadResult) -> None:
    """Offers RATE_PER_S non-blocking invokes per second until `stop` is set."""
    tickets: queue.Queue[int | None] = queue.Queue()

    def worker() -> None:
        session = api.session()
        url = api.url(f"/namespaces/_/actions/{action}")
        while (ticket := tickets.get()) is not None:
            try:
                answer = session.post(url, json={"n": ticket}, timeout=30)
            except requests.RequestException as error:
                result.refuse(type(error).__name__)
                session = api.session()
                continue
            if answer.status_code == 202:
                with result.lock:
                    result.accepted.append(answer.json()["activationId"])
            else:
                result.refuse(f"HTTP {answer.status_code}")

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    result.started = time.monotonic()
    while not stop.is_set():
        due = result.started + result.offered / RATE_PER_S
        time.sleep(max(0.0, due - time.monotonic()))
        tickets.put(result.offered)
        result.offered += 1
    result.ended = time.monotonic()
    for _ in threads:
        tickets.put(None)
    for thread in threads:
        thread.join(timeout=60)


def missing_records(api: Api, ids: list[str]) -> list[str]:
    """The ids whose record cannot be read yet."""
    local = threading.local()

    def absent(activation_id: str) -> bool:
        if not hasattr(local, "session"):
            local.session = api.session()
        url = api.url(f"/namespaces/_/activations/{activation_id}")
        try:
            return bool(local.session.get(url, timeout=30).status_code != 200)
        except requests.RequestException:
            return True

    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:
        flags = list(pool.map(absent, ids))
    return [activation_id for activation_id, gone in zip(ids, flags, strict=True) if gone]


def test_rolling_upgrade_loses_no_activation(api: Api, action: str) -> None:
    before = api.session().get(api.url(""), timeout=10).json()["buildno"]
    target = next_version(before)
    built = run("bash", "scripts/service-images.sh", "--version", target)
    assert built.returncode == 0, built.stdout + built.stderr

    result = LoadResult()
    stop = threading.Event()
    load = threading.Thread(target=drive, args=(api, action, stop, result), daemon=True)
    load.start()
    time.sleep(5)
    started = time.monotonic()
    upgrade = upgrade_to(target)
    took = time.monotonic() - started
    time.sleep(AFTER_UPGRADE_S)
    stop.set()
    load.join(timeout=120)
    (ROOT / "test-logs").mkdir(exist_ok=True)
    (ROOT / "test-logs" / "upgrade.log").write_text(upgrade.stdout + upgrade.stderr)
    assert upgrade.returncode == 0, upgrade.stdout[-4000:] + upgrade.stderr[-2000:]

    offered_rate = result.offered / (result.ended - result.started)
    print(
        f"upgrade {before} -> {target} took {took:.0f} s; offered {result.offered} invokes "
        f"({offered_rate:.1f}/s), accepted {len(result.accepted)}, refused {result.refused}"
    )
    assert offered_rate >= 20.0
    assert len(result.accepted) >= 0.5 * result.offered, result.refused

    deadline = time.monotonic() + RECORD_DEADLINE_S
    missing = missing_records(api, result.accepted)
    while missing and time.monotonic() < deadline:
        time.sleep(5)
        missing = missing_records(api, missing)
    assert missing == [], f"{len(missing)} accepted activations have no record: {missing[:10]}"

    after = api.session().get(api.url(""), timeout=10).json()["buildno"]
    assert after == target

    again = upgrade_to(target)
    assert again.returncode == 0, again.stdout[-4000:]
    lines = recap(again.stdout)
    assert lines, again.stdout[-2000:]
    assert not [line for line in lines if re.search(r"changed=[1-9]", line)], lines
