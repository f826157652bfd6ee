"""`make dev` / `make dev-down`: the whole invoke path as local processes on loopback.

    .venv/bin/python scripts/dev.py up      # start what is not running, then report
    .venv/bin/python scripts/dev.py down    # stop what `up` started
    .venv/bin/python scripts/dev.py status  # say what runs

`up` starts, in the background on 127.0.0.1 and in their own sessions (so they outlive the
command), in this order:

1. a Consul agent (the staged artifact's binary): one server that elects itself
   (``-server -bootstrap-expect=1``, not ``-dev``: its data is kept in ``consul/data``),
   HTTP API only (DNS, gRPC and WAN gossip off, no UI, no update check); ready once
   ``/v1/status/leader`` names a leader;
2. the registrator (`python -m whisk_services.registrator.main`), keeping that Consul in step
   with Docker's containers (host ``dev``, address 127.0.0.1); ready once it has resynced;
3. the CouchDB-API server (PouchDB Server from the artifact `make artifacts` staged);
4. ZooKeeper (Debian's `zookeeper` package, standalone);
5. a Kafka broker (the staged artifact, ZooKeeper mode, ``auto.create.topics.enable=false``);
6. the controller (`python -m whisk_services.controller.main`), sending to invokers 0 and 1
   through that broker (it creates the topics ``completed0``, ``invoker0`` and ``invoker1``);
7. invokers 0 and 1 (`python -m whisk_services.invoker.main`, components ``invoker0`` and
   ``invoker1``, unique names ``dev-invoker0`` and ``dev-invoker1``, 1024 MB of user memory
   each), running actions in Docker containers on their shared action network (default
   ``whisk-actions``, 172.31.250.0/24, bridge ``whiskact0``).

The controller and the invokers are given Consul's address (``WHISK_CONTROLLER_CONSUL_URL``,
``WHISK_INVOKER_CONSUL_URL``). Each listens on DESIGN.md §5's port (Consul 8500, CouchDB 5984,
ZooKeeper 2181, Kafka 9092, controller 10001) when that is free, else on a free port (it says
so); the registrator and the invokers listen on none. Consul's LAN gossip and server RPC ports
(which cannot be turned off) are free ports chosen at its first start and saved in
``consul/ports.json``, reused while they are free.
It makes sure the subject `guest` (namespace `guest`) exists, installs the system catalog
(`wskadmin catalog install`: the public package `/whisk.system/utils`; it writes only what
changed), writes `.wskprops` at the repository root for `.venv/bin/wsk`, and returns once the
API answers the guest and both invokers read their topics. Run again while all is up, it only
reports so (and that the catalog is up to date). A component whose
dependency had to be started again is restarted too (the registrator after Consul; Kafka after
ZooKeeper; the controller after Consul, the CouchDB API or Kafka; the invokers after any of
those).

State lives outside the clone, in ``$WHISK_DEV_STATE`` (default
``${XDG_STATE_HOME:-~/.local/state}/whisk/dev``, mode 0700, every file 0600):

- ``couchdb-admin.json``: the CouchDB admin's name and the password generated on first use;
- ``guest.auth``: the guest's ``uuid:key`` (a key is shown only when created, so it is kept
  here to rewrite ``.wskprops`` on later runs);
- ``consul/``, ``couchdb/``, ``zookeeper/``, ``kafka/``: the data. **Data is kept between
  runs**: actions, subjects, activations and Consul's catalog and KV survive
  `make dev-down`; delete ``couchdb/`` or ``consul/`` (while down) to start that afresh, and
  ``zookeeper/`` and ``kafka/`` only together (the broker's data names its ZooKeeper cluster);
- ``<name>.pid`` and ``<name>.proc`` (the command line and start time of that pid, so `down`
  never signals a process that merely reuses the number), for ``consul``, ``registrator``,
  ``couchdb``, ``zookeeper``, ``kafka``, ``controller``, ``invoker0`` and ``invoker1``;
- ``<name>.log`` for each of them, and ``couchdb-requests.log``.

`down` stops exactly the processes of those pidfiles, in reverse order (SIGTERM to the process
group, SIGKILL after 10 s; 30 s for Kafka and for each invoker, which destroys its action
containers on the way out), after checking each pid still runs the recorded command; it
removes the pidfiles and does nothing when nothing runs.

Environment: ``WHISK_DEV_STATE`` (state directory), ``WHISK_DEV_CONSUL_PORT`` (Consul's HTTP
port), ``WHISK_DEV_COUCHDB_PORT``, ``WHISK_DEV_ZOOKEEPER_PORT``, ``WHISK_DEV_KAFKA_PORT`` and
``WHISK_DEV_CONTROLLER_PORT`` (fixed ports: no fallback, they must be free),
``WHISK_DEV_WSKPROPS`` (where to write the properties file instead of ``<repo>/.wskprops``),
``WHISK_DEV_INVOKER_NAME`` (the prefix of the invokers' unique names, which label their
containers: ``<prefix>0`` and ``<prefix>1``; default ``dev-invoker``),
``WHISK_DEV_INVOKER_NETWORK``, ``WHISK_DEV_INVOKER_SUBNET`` and ``WHISK_DEV_INVOKER_BRIDGE``
(their action network). Other ``WHISK_INVOKER_*`` variables (``PREWARM``, ``USER_MEMORY_MB``
for each invoker, ``PAUSE_GRACE_S``...) reach both invokers unchanged, and other
``WHISK_REGISTRATOR_*`` ones (``RESYNC_S``, ``LOG_LEVEL``) the registrator.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors

from whisk_services.settings import InvokerSettings, SettingsError
from whisk_testbed.artifacts import ArtifactMissingError, find_artifact
from whisk_testbed.invoker import READY_MARK as INVOKER_READY
from whisk_testbed.kafka import STARTED_MARK as KAFKA_STARTED
from whisk_testbed.network import LOOPBACK, free_port, port_answers
from whisk_testbed.process import tail
from whisk_testbed.zookeeper import DEBIAN_JARS as ZOOKEEPER_JARS
from whisk_testbed.zookeeper import MAIN_CLASS as ZOOKEEPER_MAIN
from whisk_testbed.zookeeper import four_letter_word

REPO = Path(__file__).resolve().parents[1]
COUCHDB_PORT = 5984
ZOOKEEPER_PORT = 2181
KAFKA_PORT = 9092
CONTROLLER_PORT = 10001
CONSUL_PORT = 8500
CONSUL_NODE = "whisk-dev"
ADMIN_USER = "whisk_admin"
GUEST_SUBJECT = "guest"
GUEST_NAMESPACE = "guest"
DB_PREFIX = "whisk_local_"
INVOKERS = (0, 1)  # instance numbers; each is the component `invoker<N>`
INVOKER_PREFIX = "dev-invoker"  # + the instance: each invoker's unique name
INVOKER_MEMORY_MB = 1024  # each invoker's user memory
REGISTRATOR_HOSTNAME = "dev"
# What the registrator logs once its first resync with Docker and Consul succeeded.
REGISTRATOR_SYNCED = "following container events; resynced"
INVOKER_NETWORK = ("whisk-actions", "172.31.250.0/24", "whiskact0")  # InvokerSettings' defaults
KAFKA_HEAP = ("-Xmx384m", "-Xms128m")
# How long a broker that finds its id still registered is started again (ZooKeeper's
# sessions last at most 20 ticks of 500 ms here).
KAFKA_REGISTER_WAIT_S = 45.0
BROKER_REGISTERED = "NodeExistsException"
START_DEADLINE_S = 60.0
STOP_GRACE_S = 10.0
# Kafka shuts down in a controlled way; the invoker lets running actions finish and removes
# its containers.
INVOKER_NAMES = tuple(f"invoker{instance}" for instance in INVOKERS)
START_DEADLINES_S = {"kafka": 90.0, **dict.fromkeys(INVOKER_NAMES, 120.0)}
STOP_GRACES_S = {"kafka": 30.0, "invoker": 30.0, **dict.fromkeys(INVOKER_NAMES, 30.0)}
# Start order; stop in reverse.
ORDER = ("consul", "registrator", "couchdb", "zookeeper", "kafka", "controller", *INVOKER_NAMES)
# The single invoker of an earlier dev.py (its pidfile `invoker.pid`): stopped by `up` (it
# would share invoker0's name and topic) and by `down`, before the others.
LEGACY = ("invoker",)
# What each one needs running; a component whose dependency is started anew is restarted
# (Consul may come back on another port: whoever was told its address starts again too).
NEEDS: dict[str, tuple[str, ...]] = {
    "consul": (),
    "registrator": ("consul",),
    "couchdb": (),
    "zookeeper": (),
    "kafka": ("zookeeper",),
    "controller": ("couchdb", "kafka", "consul"),
    **dict.fromkeys(INVOKER_NAMES, ("couchdb", "kafka", "controller", "consul")),
}


class DevError(RuntimeError):
    """Something `up` or `down` cannot do; printed as `dev: error: ...`, exit status 1."""


def say(message: str) -> None:
    print(f"dev: {message}", flush=True)


# --- files -------------------------------------------------------------------------------


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` with mode 0600, replacing it atomically."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True)
class State:
    """The state directory and the files in it."""

    root: Path
    wskprops: Path

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> State:
        configured = env.get("WHISK_DEV_STATE")
        if configured:
            root = Path(configured)
        else:
            base = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
            root = base / "whisk" / "dev"
        wskprops = Path(env.get("WHISK_DEV_WSKPROPS") or REPO / ".wskprops")
        return cls(root.absolute(), wskprops.absolute())

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)

    def pidfile(self, name: str) -> Path:
        return self.root / f"{name}.pid"

    def procfile(self, name: str) -> Path:
        return self.root / f"{name}.proc"

    def log(self, name: str) -> Path:
        return self.root / f"{name}.log"

    @property
    def admin_file(self) -> Path:
        return self.root / "couchdb-admin.json"

    @property
    def guest_file(self) -> Path:
        return self.root / "guest.auth"

    @property
    def couchdb_data(self) -> Path:
        return self.root / "couchdb"

    @property
    def zookeeper_dir(self) -> Path:
        return self.root / "zookeeper"

    @property
    def kafka_dir(self) -> Path:
        return self.root / "kafka"

    @property
    def consul_dir(self) -> Path:
        return self.root / "consul"


# --- processes ---------------------------------------------------------------------------


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) of a pid, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after `pid (comm) `
    return fields[0], int(fields[19])


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0")[:-1]]


@dataclass(frozen=True)
class Running:
    """What a pidfile says: a pid, the argv it was started with, its start time and port
    (0: it listens on none), and a line saying what it is (for `status`)."""

    name: str
    pid: int
    argv: list[str]
    start_ticks: int
    port: int
    detail: str = ""

    def alive(self) -> bool:
        """True while the pid is this very process: same start time, same command line.

        A wrapper may exec (the PouchDB script execs node), so the arguments after argv[0]
        must end the live command line rather than equal it.
        """
        stat = _proc_stat(self.pid)
        if stat is None or stat[0] in ("Z", "X") or stat[1] != self.start_ticks:
            return False
        args = self.argv[1:]
        cmdline = _cmdline(self.pid)
        return len(cmdline) >= len(self.argv) and cmdline[len(cmdline) - len(args) :] == args


def record(state: State, running: Running) -> None:
    write_private(state.pidfile(running.name), f"{running.pid}\n")
    proc = {
        "argv": running.argv,
        "start_ticks": running.start_ticks,
        "port": running.port,
        "detail": running.detail,
    }
    write_private(state.procfile(running.name), json.dumps(proc) + "\n")


def forget(state: State, name: str) -> None:
    for path in (state.pidfile(name), state.procfile(name)):
        path.unlink(missing_ok=True)


def recorded(state: State, name: str) -> Running | None:
    """The process a pidfile names, or None (a missing or unreadable pidfile)."""
    try:
        pid = int(state.pidfile(name).read_text().strip())
    except (OSError, ValueError):
        return None
    proc = read_json(state.procfile(name)) or {}
    try:
        return Running(
            name,
            pid,
            list(proc["argv"]),
            int(proc["start_ticks"]),
            int(proc["port"]),
            str(proc.get("detail", "")),
        )
    except (KeyError, TypeError, ValueError):
        return Running(name, pid, [], -1, 0)  # unverifiable: never signalled


def running(state: State, name: str) -> Running | None:
    """The recorded process if it still runs; a stale pidfile is removed."""
    found = recorded(state, name)
    if found is None:
        return None
    if found.alive():
        return found
    say(f"{name}: pid {found.pid} from {state.pidfile(name)} no longer runs; forgetting it")
    forget(state, name)
    return None


@dataclass(frozen=True)
class Started:
    """A process `spawn` just started, and where its output begins in its (appended) log."""

    running: Running
    process: subprocess.Popen[bytes]
    log_offset: int


def log_since(path: Path, offset: int) -> str:
    """What a log holds from ``offset`` on: the output of the latest start."""
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")
    except OSError:
        return ""


def spawn(
    state: State,
    name: str,
    argv: Sequence[str],
    port: int,
    env: Mapping[str, str],
    *,
    cwd: Path,
    detail: str = "",
) -> Started:
    """Start ``argv`` in a new session (it outlives us), its output appended to its log."""
    log_path = state.log(name)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        log.write(f"--- {stamp} dev.py starting {' '.join(argv)}\n".encode())
        log.flush()
        offset = log.tell()
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stat = _proc_stat(process.pid)
    running = Running(name, process.pid, list(argv), stat[1] if stat else -1, port, detail)
    record(state, running)
    return Started(running, process, offset)


def wait_ready(state: State, started: Started, ready: Callable[[], bool]) -> None:
    """Return once ``ready()`` holds; stop the process and fail with its log's tail if it
    exits first or its deadline passes."""
    name, process = started.running.name, started.process
    deadline_s = START_DEADLINES_S.get(name, START_DEADLINE_S)
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if process.poll() is not None:
            forget(state, name)
            raise DevError(
                f"{name} exited with {process.returncode} while starting;"
                f" log {state.log(name)}:\n{tail(state.log(name))}"
            )
        if ready():
            return
        time.sleep(0.1)
    stop(state, started.running)
    process.wait()
    raise DevError(
        f"{name} did not become ready within {deadline_s:.0f} s;"
        f" log {state.log(name)}:\n{tail(state.log(name))}"
    )


def _signal_group(target: Running, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(target.pid) == target.pid:
            os.killpg(target.pid, sig)
        else:
            os.kill(target.pid, sig)


def stop(state: State, target: Running) -> None:
    """SIGTERM the process group, SIGKILL it after the grace period, forget the pidfile."""
    if target.alive():
        _signal_group(target, signal.SIGTERM)
        grace_s = STOP_GRACES_S.get(target.name, STOP_GRACE_S)
        end = time.monotonic() + grace_s
        while target.alive() and time.monotonic() < end:
            time.sleep(0.05)
        if target.alive():
            say(f"{target.name} (pid {target.pid}) outlived SIGTERM by {grace_s:.0f} s;"
                " sending SIGKILL")  # fmt: skip
            _signal_group(target, signal.SIGKILL)
            end = time.monotonic() + STOP_GRACE_S
            while target.alive() and time.monotonic() < end:
                time.sleep(0.05)
        if target.alive():
            raise DevError(f"{target.name} (pid {target.pid}) survived SIGKILL")
        say(f"stopped {target.name} (pid {target.pid})")
    else:
        say(f"{target.name}: pid {target.pid} no longer runs what was started; not signalled")
    forget(state, target.name)
    end = time.monotonic() + STOP_GRACE_S
    while target.port and port_answers(target.port) and time.monotonic() < end:
        time.sleep(0.05)


# --- ports and HTTP ----------------------------------------------------------------------


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            return False
    return not port_answers(port)


def choose_port(env: Mapping[str, str], variable: str, default: int, what: str) -> int:
    configured = env.get(variable)
    if configured:
        port = int(configured)
        if not port_free(port):
            raise DevError(f"{variable}={port}, but that port is in use")
        return port
    if port_free(default):
        return default
    port = free_port()
    say(f"port {default} is in use: {what} listens on port {port} instead")
    return port


def http_get(url: str, auth: tuple[str, str] | None = None, timeout: float = 2.0) -> Any:
    """GET ``url`` and decode its JSON; raise OSError (or HTTPError) when it does not answer."""
    headers = {"Accept": "application/json"}
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def answers(url: str, auth: tuple[str, str] | None = None) -> bool:
    try:
        http_get(url, auth)
    except (OSError, ValueError):
        return False
    return True


# --- the CouchDB-API server --------------------------------------------------------------


def admin_password(state: State) -> str:
    saved = read_json(state.admin_file)
    if saved and saved.get("user") == ADMIN_USER and isinstance(saved.get("password"), str):
        return str(saved["password"])
    password = secrets.token_urlsafe(24)
    write_private(state.admin_file, json.dumps({"user": ADMIN_USER, "password": password}) + "\n")
    return password


def ensure_admin(url: str, password: str) -> None:
    """Create the admin on a server in "admin party"; else check the saved password works."""
    try:
        admins = http_get(f"{url}/_config/admins")
    except urllib.error.HTTPError as error:
        if error.code != 401:
            raise
        admins = None
    if admins == {}:
        request = urllib.request.Request(  # noqa: S310
            f"{url}/_config/admins/{ADMIN_USER}",
            data=json.dumps(password).encode(),
            method="PUT",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            return
    try:
        http_get(f"{url}/_session", (ADMIN_USER, password))
    except urllib.error.HTTPError as error:
        raise DevError(
            f"the CouchDB API at {url} has admins, but not {ADMIN_USER} with the password"
            " saved in the state directory; stop it (`make dev-down`) and remove its data"
        ) from error


def pouchdb_home() -> Path:
    try:
        return find_artifact("pouchdb-server").path
    except ArtifactMissingError as error:
        raise DevError(str(error)) from error


def start_couchdb(state: State, env: Mapping[str, str], password: str, port: int) -> Running:
    home = pouchdb_home()
    data = state.couchdb_data
    data.mkdir(mode=0o700, exist_ok=True)
    config = data / "config.json"
    if not config.exists():
        # PouchDB Server writes its request log to ./log.txt unless told otherwise.
        log = state.log("couchdb-requests")
        write_private(config, json.dumps({"log": {"file": str(log)}}))
    argv = [
        str(home / "bin" / "pouchdb-server"),
        *("-o", LOOPBACK, "-p", str(port), "-d", str(data), "-c", str(config)),
        *("-n", "--no-color"),
    ]
    url = f"http://{LOOPBACK}:{port}"
    started = spawn(state, "couchdb", argv, port, env, cwd=data)
    wait_ready(state, started, lambda: answers(f"{url}/"))
    try:
        ensure_admin(url, password)
    except Exception:
        stop(state, started.running)
        raise
    say(f"started the CouchDB API (PouchDB Server) on {url} (pid {started.running.pid})")
    return started.running


# --- ZooKeeper and Kafka -----------------------------------------------------------------


def zookeeper_ok(port: int) -> bool:
    try:
        return four_letter_word(port, "ruok") == "imok"
    except OSError:
        return False


def start_zookeeper(state: State, env: Mapping[str, str], port: int) -> Running:
    """ZooKeeper standalone, as the test bed runs it (whisk_testbed.zookeeper)."""
    home = state.zookeeper_dir
    data = home / "data"
    data.mkdir(parents=True, mode=0o700, exist_ok=True)
    config = home / "zoo.cfg"
    write_private(
        config,
        "tickTime=500\n"
        "initLimit=10\n"
        "syncLimit=5\n"
        f"dataDir={data}\n"
        f"clientPort={port}\n"
        f"clientPortAddress={LOOPBACK}\n"
        "admin.enableServer=false\n"
        "4lw.commands.whitelist=ruok,srvr,stat\n",
    )
    classpath = ":".join(str(jar) for jar in ZOOKEEPER_JARS)
    argv = ["java", "-Xmx128m", "-cp", classpath, ZOOKEEPER_MAIN, str(config)]
    address = f"{LOOPBACK}:{port}"
    started = spawn(state, "zookeeper", argv, port, env, cwd=home)
    wait_ready(state, started, lambda: zookeeper_ok(port))
    say(f"started ZooKeeper on {address} (pid {started.running.pid})")
    return started.running


def start_kafka(state: State, env: Mapping[str, str], port: int, zookeeper_port: int) -> Running:
    """One broker (id 0) in ZooKeeper mode, as the test bed runs it (whisk_testbed.kafka)."""
    home = kafka_home()
    workdir = state.kafka_dir
    data = workdir / "data"
    data.mkdir(parents=True, mode=0o700, exist_ok=True)
    config = workdir / "server.properties"
    write_private(
        config,
        "broker.id=0\n"
        f"listeners=PLAINTEXT://{LOOPBACK}:{port}\n"
        f"advertised.listeners=PLAINTEXT://{LOOPBACK}:{port}\n"
        f"log.dirs={data}\n"
        f"zookeeper.connect={LOOPBACK}:{zookeeper_port}\n"
        "zookeeper.connection.timeout.ms=30000\n"
        "num.partitions=1\n"
        "offsets.topic.replication.factor=1\n"
        "offsets.topic.num.partitions=4\n"
        "transaction.state.log.replication.factor=1\n"
        "transaction.state.log.min.isr=1\n"
        "group.initial.rebalance.delay.ms=0\n"
        "auto.create.topics.enable=false\n",
    )
    argv = [
        "java",
        *KAFKA_HEAP,
        "-Djava.awt.headless=true",
        f"-Dkafka.logs.dir={workdir}",
    ]
    log4j = home / "config" / "log4j.properties"
    if log4j.exists():
        argv.append(f"-Dlog4j.configuration=file:{log4j}")
    argv += ["-cp", f"{home}/libs/*", "kafka.Kafka", str(config)]
    address = f"{LOOPBACK}:{port}"
    log = state.log("kafka")
    end = time.monotonic() + KAFKA_REGISTER_WAIT_S
    while True:
        started = spawn(state, "kafka", argv, port, env, cwd=workdir)
        offset = started.log_offset
        try:
            wait_ready(state, started, functools.partial(kafka_started, port, log, offset))
        except DevError:
            # A broker that died without shutting down (SIGKILL, a reboot) leaves its
            # registration in ZooKeeper until its session expires, and ZooKeeper keeps
            # sessions across its own restarts: the new broker exits, so start it again.
            if BROKER_REGISTERED not in log_since(log, offset) or time.monotonic() > end:
                raise
            say("broker 0 is still registered by the ZooKeeper session of a broker that died;"
                " starting Kafka again once that session expires")  # fmt: skip
            time.sleep(2.0)
            continue
        say(f"started Kafka on {address} (pid {started.running.pid})")
        return started.running


def kafka_started(port: int, log: Path, offset: int) -> bool:
    return port_answers(port) and KAFKA_STARTED in log_since(log, offset)


def kafka_home() -> Path:
    try:
        return find_artifact("kafka").path
    except ArtifactMissingError as error:
        raise DevError(str(error)) from error


# --- Consul and the registrator ----------------------------------------------------------


def consul_binary() -> Path:
    try:
        return find_artifact("consul").path / "bin" / "consul"
    except ArtifactMissingError as error:
        raise DevError(str(error)) from error


def consul_leader(port: int) -> bool:
    """True once the agent answers and knows a leader (itself: it is the only server)."""
    try:
        return bool(http_get(f"http://{LOOPBACK}:{port}/v1/status/leader", timeout=1.0))
    except (OSError, ValueError):
        return False


def consul_side_ports(home: Path) -> tuple[int, int]:
    """The LAN gossip and server RPC ports (neither can be turned off): the ones chosen at
    the first start, saved in ``consul/ports.json``, while they are free; else new ones."""
    saved_path = home / "ports.json"
    saved = read_json(saved_path) or {}
    serf, server = saved.get("serf_lan"), saved.get("server")
    if isinstance(serf, int) and isinstance(server, int) and serf != server:
        if port_free(serf) and port_free(server):
            return serf, server
        say(f"Consul's saved ports {serf} and {server} are not both free; choosing others")
    serf, server = free_port(), free_port()
    while server == serf:
        server = free_port()
    write_private(saved_path, json.dumps({"serf_lan": serf, "server": server}) + "\n")
    return serf, server


def start_consul(state: State, env: Mapping[str, str], port: int) -> Running:
    """A single Consul server that elects itself (``-bootstrap-expect=1``), its data kept in
    ``consul/data``; HTTP on ``port``, DNS, gRPC and WAN gossip off, as the test bed runs it
    (whisk_testbed.consul) but not in ``-dev`` mode, which keeps nothing."""
    binary = consul_binary()
    home = state.consul_dir
    data = home / "data"
    data.mkdir(parents=True, mode=0o700, exist_ok=True)
    serf_port, server_port = consul_side_ports(home)
    argv = [
        str(binary),
        "agent",
        "-server",
        "-bootstrap-expect=1",
        f"-data-dir={data}",
        f"-node={CONSUL_NODE}",
        f"-bind={LOOPBACK}",
        f"-advertise={LOOPBACK}",
        f"-client={LOOPBACK}",
        f"-http-port={port}",
        "-dns-port=-1",
        "-grpc-port=-1",
        "-grpc-tls-port=-1",
        f"-serf-lan-port={serf_port}",
        "-serf-wan-port=-1",
        f"-server-port={server_port}",
        "-ui=false",
        "-disable-host-node-id",
        "-hcl=disable_update_check = true",
        # Raft's production timing (5 would be the default): a leader within about 1 s.
        "-hcl=performance { raft_multiplier = 1 }",
        "-log-level=info",
    ]
    url = f"http://{LOOPBACK}:{port}"
    detail = f"HTTP API {url}, node {CONSUL_NODE}, data in {data}"
    started = spawn(state, "consul", argv, port, env, cwd=home, detail=detail)
    wait_ready(state, started, lambda: consul_leader(port))
    say(f"started Consul on {url} (pid {started.running.pid})")
    return started.running


def registrator_env(env: Mapping[str, str], consul_port: int) -> dict[str, str]:
    """Other WHISK_REGISTRATOR_* variables of ``env`` (RESYNC_S, LOG_LEVEL...) pass through."""
    return {
        **env,
        "PYTHONUNBUFFERED": "1",
        "WHISK_REGISTRATOR_CONSUL_URL": f"http://{LOOPBACK}:{consul_port}",
        "WHISK_REGISTRATOR_HOST_IP": LOOPBACK,
        "WHISK_REGISTRATOR_HOSTNAME": REGISTRATOR_HOSTNAME,
    }


def start_registrator(state: State, env: Mapping[str, str]) -> Running:
    """Start the registrator; it is ready once its first resync went through."""
    argv = [sys.executable, "-m", "whisk_services.registrator.main"]
    detail = (
        f"Docker's containers into Consul {env['WHISK_REGISTRATOR_CONSUL_URL']}"
        f" as {REGISTRATOR_HOSTNAME}"
    )
    started = spawn(state, "registrator", argv, 0, env, cwd=state.root, detail=detail)
    log = state.log("registrator")
    wait_ready(state, started, lambda: REGISTRATOR_SYNCED in log_since(log, started.log_offset))
    say(f"started the registrator (pid {started.running.pid})")
    return started.running


# --- the controller, the invokers and the guest ------------------------------------------


def controller_env(
    env: Mapping[str, str], password: str, ports: Mapping[str, int]
) -> dict[str, str]:
    return {
        **{k: v for k, v in env.items() if not k.startswith("WHISK_CONTROLLER_")},
        "PYTHONUNBUFFERED": "1",
        "WHISK_CONTROLLER_HOST": LOOPBACK,
        "WHISK_CONTROLLER_COUCHDB_URL": f"http://{LOOPBACK}:{ports['couchdb']}",
        "WHISK_CONTROLLER_COUCHDB_USER": ADMIN_USER,
        "WHISK_CONTROLLER_COUCHDB_PASSWORD": password,
        "WHISK_CONTROLLER_DB_PREFIX": DB_PREFIX,
        "WHISK_CONTROLLER_KAFKA_HOSTS": f"{LOOPBACK}:{ports['kafka']}",
        "WHISK_CONTROLLER_INVOKERS": ",".join(str(instance) for instance in INVOKERS),
        "WHISK_CONTROLLER_CONSUL_URL": f"http://{LOOPBACK}:{ports['consul']}",
    }


def start_controller(state: State, env: Mapping[str, str], port: int) -> Running:
    argv = [sys.executable, "-m", "whisk_services.controller.main"]
    env = {**env, "WHISK_CONTROLLER_PORT": str(port)}
    url = f"http://{LOOPBACK}:{port}"
    detail = (
        f"sends to invokers {', '.join(str(instance) for instance in INVOKERS)}"
        f" through Kafka {env['WHISK_CONTROLLER_KAFKA_HOSTS']}"
    )
    started = spawn(state, "controller", argv, port, env, cwd=state.root, detail=detail)
    wait_ready(state, started, lambda: answers(f"{url}/api/v1"))
    say(f"started the controller on {url} (pid {started.running.pid})")
    return started.running


@dataclass(frozen=True)
class InvokerPlan:
    """The invokers' names (the prefix and the instance) and their shared action network,
    from WHISK_DEV_* (else the defaults)."""

    prefix: str
    network: str
    subnet: str
    bridge: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> InvokerPlan:
        network, subnet, bridge = INVOKER_NETWORK
        return cls(
            env.get("WHISK_DEV_INVOKER_NAME") or INVOKER_PREFIX,
            env.get("WHISK_DEV_INVOKER_NETWORK") or network,
            env.get("WHISK_DEV_INVOKER_SUBNET") or subnet,
            env.get("WHISK_DEV_INVOKER_BRIDGE") or bridge,
        )

    def unique_name(self, instance: int) -> str:
        return f"{self.prefix}{instance}"

    def detail(self, instance: int, memory_mb: str) -> str:
        return (
            f"invoker{instance} {self.unique_name(instance)}, {memory_mb} MB user memory,"
            f" actions on network {self.network} ({self.subnet}, bridge {self.bridge})"
        )


def invoker_env(
    env: Mapping[str, str],
    plan: InvokerPlan,
    instance: int,
    password: str,
    ports: Mapping[str, int],
) -> dict[str, str]:
    """Other WHISK_INVOKER_* variables of ``env`` (prewarm, memory...) pass through; the user
    memory is INVOKER_MEMORY_MB for each unless ``WHISK_INVOKER_USER_MEMORY_MB`` says."""
    return {
        **env,
        "PYTHONUNBUFFERED": "1",
        "WHISK_INVOKER_INSTANCE": str(instance),
        "WHISK_INVOKER_UNIQUE_NAME": plan.unique_name(instance),
        "WHISK_INVOKER_USER_MEMORY_MB": (
            env.get("WHISK_INVOKER_USER_MEMORY_MB") or str(INVOKER_MEMORY_MB)
        ),
        "WHISK_INVOKER_CONSUL_URL": f"http://{LOOPBACK}:{ports['consul']}",
        "WHISK_INVOKER_KAFKA_HOSTS": f"{LOOPBACK}:{ports['kafka']}",
        "WHISK_INVOKER_COUCHDB_URL": f"http://{LOOPBACK}:{ports['couchdb']}",
        "WHISK_INVOKER_COUCHDB_USER": ADMIN_USER,
        "WHISK_INVOKER_COUCHDB_PASSWORD": password,
        "WHISK_INVOKER_DB_PREFIX": DB_PREFIX,
        "WHISK_INVOKER_NETWORK": plan.network,
        "WHISK_INVOKER_NETWORK_SUBNET": plan.subnet,
        "WHISK_INVOKER_NETWORK_BRIDGE": plan.bridge,
        "WHISK_INVOKER_API_HOST": f"http://{LOOPBACK}:{ports['controller']}",
    }


def check_docker() -> None:
    """Docker Engine answers (the registrator follows its containers)."""
    try:
        engine = docker.from_env()
        try:
            engine.ping()
        finally:
            engine.close()
    except docker.errors.DockerException as error:
        raise DevError(f"Docker Engine does not answer ({error}); run `make prereqs`") from error


def check_invoker_prerequisites(env: Mapping[str, str]) -> None:
    """The settings parse, Docker answers and the runtime images exist (`make images`)."""
    try:
        settings = InvokerSettings.from_env(env)
    except SettingsError as error:
        raise DevError(f"the invokers' settings: {error}") from error
    try:
        engine = docker.from_env()
    except docker.errors.DockerException as error:
        raise DevError(f"Docker Engine does not answer ({error}); run `make prereqs`") from error
    try:
        missing = []
        for image in sorted(set(settings.runtime_images.values())):
            try:
                engine.images.get(image)
            except docker.errors.ImageNotFound:
                missing.append(image)
    except docker.errors.DockerException as error:
        raise DevError(f"Docker Engine does not answer ({error}); run `make prereqs`") from error
    finally:
        engine.close()
    if missing:
        raise DevError(f"runtime images missing: {', '.join(missing)}; run `make images`")


def start_invoker(state: State, env: Mapping[str, str], plan: InvokerPlan) -> Running:
    """Start the invoker ``env`` configures; it is ready once it reads its topic."""
    instance = int(env["WHISK_INVOKER_INSTANCE"])
    name = f"invoker{instance}"
    argv = [sys.executable, "-m", "whisk_services.invoker.main"]
    detail = plan.detail(instance, env["WHISK_INVOKER_USER_MEMORY_MB"])
    started = spawn(state, name, argv, 0, env, cwd=state.root, detail=detail)
    log = state.log(name)
    reading = f"{INVOKER_READY}{instance} "  # "reading invoker0 (user memory..."
    wait_ready(state, started, lambda: reading in log_since(log, started.log_offset))
    say(f"started invoker {instance} (pid {started.running.pid})")
    return started.running


def wskadmin(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "whisk_services.cli.wskadmin", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def guest_answers(controller_url: str, key: str, deadline_s: float) -> bool:
    """True once an authenticated GET /api/v1/namespaces lists the guest's namespace."""
    user, _, password = key.partition(":")
    end = time.monotonic() + deadline_s
    while True:
        try:
            if GUEST_NAMESPACE in http_get(f"{controller_url}/api/v1/namespaces", (user, password)):
                return True
        except (OSError, ValueError, TypeError):
            pass
        if time.monotonic() >= end:
            return False
        time.sleep(0.1)


def ensure_guest(state: State, env: Mapping[str, str], controller_url: str) -> str:
    """The guest's `uuid:key`: the saved one if it works, else created (or rotated) anew."""
    saved = state.guest_file.read_text().strip() if state.guest_file.exists() else ""
    if saved and guest_answers(controller_url, saved, 1.0):
        return saved
    found = wskadmin(env, "user", "get", GUEST_SUBJECT)
    if found.returncode == 0:
        # The subject exists but its key is not the one saved: issue a new one.
        result = wskadmin(env, "user", "rotate", GUEST_SUBJECT)
        action = "gave the subject guest a new key"
    elif "does not exist" in found.stderr:
        reuse = ["--auth", saved] if saved else []
        result = wskadmin(
            env, "user", "create", GUEST_SUBJECT, "--namespace", GUEST_NAMESPACE, *reuse
        )
        action = f"created the subject guest (namespace {GUEST_NAMESPACE})"
    else:
        raise DevError(f"wskadmin user get {GUEST_SUBJECT} failed: {found.stderr.strip()}")
    if result.returncode != 0:
        raise DevError(f"wskadmin failed: {result.stderr.strip()}")
    key = result.stdout.strip()
    write_private(state.guest_file, key + "\n")
    say(f"{action}; its key is saved in {state.guest_file}")
    # The controller learns of new and rotated keys from the subjects' changes feed.
    if not guest_answers(controller_url, key, 30.0):
        raise DevError(f"{controller_url}/api/v1/namespaces does not accept the guest's key")
    return key


def install_catalog(env: Mapping[str, str]) -> None:
    """`wskadmin catalog install`: writes only what changed, and says what it did."""
    result = wskadmin(env, "catalog", "install")
    if result.returncode != 0:
        raise DevError(f"wskadmin catalog install failed: {result.stderr.strip()}")
    for line in result.stdout.splitlines():
        say(line)


def write_wskprops(path: Path, controller_url: str, key: str) -> None:
    """Set APIHOST, AUTH and NAMESPACE; other properties already in the file are kept."""
    props: dict[str, str] = {}
    with contextlib.suppress(FileNotFoundError):
        for line in path.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.strip().partition("=")
            if sep and not name.startswith("#"):
                props[name.strip()] = value.strip()
    props.update({"APIHOST": controller_url, "AUTH": key, "NAMESPACE": GUEST_NAMESPACE})
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, "".join(f"{k}={v}\n" for k, v in props.items()))


# --- commands ----------------------------------------------------------------------------

PORTS = {  # name: (variable, default port, what it is)
    "consul": ("WHISK_DEV_CONSUL_PORT", CONSUL_PORT, "Consul's HTTP API"),
    "couchdb": ("WHISK_DEV_COUCHDB_PORT", COUCHDB_PORT, "the CouchDB API"),
    "zookeeper": ("WHISK_DEV_ZOOKEEPER_PORT", ZOOKEEPER_PORT, "ZooKeeper"),
    "kafka": ("WHISK_DEV_KAFKA_PORT", KAFKA_PORT, "Kafka"),
    "controller": ("WHISK_DEV_CONTROLLER_PORT", CONTROLLER_PORT, "the controller"),
}


def check_prerequisites(missing: Sequence[str]) -> None:
    """What the components about to start need is there: fail before starting anything."""
    if "couchdb" in missing:
        pouchdb_home()
    if ("zookeeper" in missing or "kafka" in missing) and shutil.which("java") is None:
        raise DevError("no `java` on PATH; run `make prereqs`")
    if "zookeeper" in missing:
        absent = [str(jar) for jar in ZOOKEEPER_JARS if not jar.exists()]
        if absent:
            raise DevError(
                f"ZooKeeper's jars are missing ({', '.join(absent)}); run `make prereqs`"
            )
    if "kafka" in missing:
        kafka_home()
    if "consul" in missing:
        binary = consul_binary()
        if not binary.exists():
            raise DevError(f"{binary} is missing; run `make artifacts`")


def still_answers(name: str, found: Running) -> bool:
    if name == "couchdb":
        return answers(f"http://{LOOPBACK}:{found.port}/")
    if name == "zookeeper":
        return zookeeper_ok(found.port)
    if name == "kafka":
        return port_answers(found.port)
    if name == "controller":
        return answers(f"http://{LOOPBACK}:{found.port}/api/v1")
    if name == "consul":
        return consul_leader(found.port)
    return found.alive()


def start_missing(
    state: State,
    env: Mapping[str, str],
    found: dict[str, Running],
    started: list[Running],
) -> tuple[dict[str, Running], dict[str, str]]:
    """Start whatever is not running, in ORDER (appending each to ``started``); return every
    component and the controller's environment (for wskadmin)."""
    password = admin_password(state)
    missing = [name for name in ORDER if name not in found]
    check_prerequisites(missing)
    ports = {name: found[name].port for name in PORTS if name in found}
    for name in missing:  # pick every port first: fail before starting anything
        if name in PORTS:
            ports[name] = choose_port(env, *PORTS[name])
    plan = InvokerPlan.from_env(env)
    cenv = controller_env(env, password, ports)
    ienvs = {
        f"invoker{instance}": invoker_env(env, plan, instance, password, ports)
        for instance in INVOKERS
    }
    if any(name in missing for name in ienvs):  # Docker answers, too
        check_invoker_prerequisites(ienvs[INVOKER_NAMES[0]])
    elif "registrator" in missing:
        check_docker()
    for name in ORDER:
        if name in found and not still_answers(name, found[name]):
            raise DevError(f"{name} (pid {found[name].pid}) does not answer; make dev-down")
    starters: dict[str, Callable[[], Running]] = {
        "consul": lambda: start_consul(state, env, ports["consul"]),
        "registrator": lambda: start_registrator(state, registrator_env(env, ports["consul"])),
        "couchdb": lambda: start_couchdb(state, env, password, ports["couchdb"]),
        "zookeeper": lambda: start_zookeeper(state, env, ports["zookeeper"]),
        "kafka": lambda: start_kafka(state, env, ports["kafka"], ports["zookeeper"]),
        "controller": lambda: start_controller(state, cenv, ports["controller"]),
        **{
            name: functools.partial(start_invoker, state, ienv, plan)
            for name, ienv in ienvs.items()
        },
    }
    components = dict(found)
    for name in missing:
        components[name] = starters[name]()
        started.append(components[name])
    return components, cenv


def running_components(state: State) -> dict[str, Running]:
    """What runs, in ORDER; one whose dependency does not run is stopped (dependents first),
    to be started again after it."""
    found: dict[str, Running] = {}
    restart: list[Running] = []
    for name in LEGACY:
        legacy = running(state, name)
        if legacy is not None:
            say(f"{name} (pid {legacy.pid}) was started by an earlier make dev; stopping it")
            stop(state, legacy)
    for name in ORDER:
        process = running(state, name)
        if process is None:
            continue
        lacking = [need for need in NEEDS[name] if need not in found]
        if lacking:
            say(f"{name} runs without {', '.join(lacking)}; restarting it")
            restart.append(process)
        else:
            found[name] = process
    for process in reversed(restart):
        stop(state, process)
    return found


def up(state: State, env: Mapping[str, str]) -> None:
    state.prepare()
    found = running_components(state)
    if len(found) == len(ORDER):
        pids = ", ".join(f"{name} pid {found[name].pid}" for name in ORDER)
        say(f"already up ({pids})")
    started: list[Running] = []
    try:
        components, cenv = start_missing(state, env, found, started)
        controller_url = f"http://{LOOPBACK}:{components['controller'].port}"
        key = ensure_guest(state, cenv, controller_url)
        install_catalog(cenv)
    except BaseException:
        for process in reversed(started):
            stop(state, process)
        raise
    write_wskprops(state.wskprops, controller_url, key)
    say(f"Consul       http://{LOOPBACK}:{components['consul'].port}")
    say(f"registrator  {components['registrator'].detail or 'registrator'}")
    say(f"CouchDB API  http://{LOOPBACK}:{components['couchdb'].port} (admin {ADMIN_USER},"
        f" password in {state.admin_file})")  # fmt: skip
    say(f"ZooKeeper    {LOOPBACK}:{components['zookeeper'].port}")
    say(f"Kafka        {LOOPBACK}:{components['kafka'].port}")
    say(f"controller   {controller_url} (databases {DB_PREFIX}*)")
    for name in INVOKER_NAMES:
        say(f"invoker      {components[name].detail or name}")
    say(f"state, data and logs in {state.root}")
    say(f"wrote {state.wskprops} (namespace {GUEST_NAMESPACE}); for .venv/bin/wsk run:")
    print(f"export WSK_CONFIG_FILE={state.wskprops}", flush=True)


def down(state: State) -> None:
    names = (*LEGACY, *reversed(ORDER))
    found = [r for r in (recorded(state, name) for name in names) if r is not None]
    if not found:
        say(f"nothing is running (no pidfiles in {state.root})")
        return
    for target in found:
        stop(state, target)


def status(state: State) -> int:
    """One line per component; exit status 3 unless all run."""
    code = 0
    for name in ORDER:
        found = recorded(state, name)
        if found is not None and found.alive():
            where = f", port {found.port}" if found.port else ""
            what = f": {found.detail}" if found.detail else ""
            say(f"{name}: pid {found.pid}{where}{what}")
        else:
            say(f"{name}: not running")
            code = 3
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dev.py",
        description="Run Consul, the registrator, the CouchDB API, ZooKeeper, Kafka, the"
        " controller and two invokers locally (make dev).",
    )
    parser.add_argument("command", choices=("up", "down", "status"))
    args = parser.parse_args(argv)
    os.umask(0o077)  # the state directory holds secrets: everything in it is private
    env = dict(os.environ)
    state = State.from_env(env)
    try:
        if args.command == "up":
            up(state, env)
        elif args.command == "down":
            down(state)
        else:
            return status(state)
    except DevError as error:
        print(f"dev: error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
