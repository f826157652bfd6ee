"""`make dev` / `make dev-down`: the controller and its CouchDB-API server as local processes.

    .venv/bin/python scripts/dev.py up      # start what is not running, then report
    .venv/bin/python scripts/dev.py down    # stop what `up` started
    .venv/bin/python scripts/dev.py status  # say what runs

`up` starts, in the background on 127.0.0.1 and in their own sessions (so they outlive the
command), the CouchDB-API server (PouchDB Server from the artifact `make artifacts` staged)
and the controller (`python -m whisk_services.controller.main`), on DESIGN.md §5's ports
(CouchDB 5984, controller 10001) when those are free, else on free ports (it says so).
It makes sure the subject `guest` (namespace `guest`) exists, writes `.wskprops` at the
repository root for `.venv/bin/wsk`, and returns once `GET /api/v1` and an authenticated
`GET /api/v1/namespaces` answer. Run again while all is up, it only reports so.

State lives outside the clone, in ``$WHISK_DEV_STATE`` (default
``${XDG_STATE_HOME:-~/.local/state}/whisk/dev``, mode 0700, every file 0600):

- ``couchdb-admin.json``: the CouchDB admin's name and the password generated on first use;
- ``guest.auth``: the guest's ``uuid:key`` (a key is shown only when created, so it is kept
  here to rewrite ``.wskprops`` on later runs);
- ``couchdb/``: the databases. **Data is kept between runs**: actions, subjects and
  activations survive `make dev-down`; delete this directory (while down) to start fresh;
- ``<name>.pid`` and ``<name>.proc`` (the command line and start time of that pid, so `down`
  never signals a process that merely reuses the number), for ``couchdb`` and ``controller``;
- ``couchdb.log``, ``couchdb-requests.log``, ``controller.log``.

`down` stops exactly the processes of those pidfiles (SIGTERM to the process group, SIGKILL
after 10 s), after checking each pid still runs the recorded command; it removes the pidfiles
and does nothing when nothing runs.

Environment: ``WHISK_DEV_STATE`` (state directory), ``WHISK_DEV_CONTROLLER_PORT`` and
``WHISK_DEV_COUCHDB_PORT`` (fixed ports: no fallback, they must be free), ``WHISK_DEV_WSKPROPS``
(where to write the properties file instead of ``<repo>/.wskprops``).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import secrets
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

from whisk_testbed.artifacts import ArtifactMissingError, find_artifact
from whisk_testbed.network import LOOPBACK, free_port, port_answers
from whisk_testbed.process import tail

REPO = Path(__file__).resolve().parents[1]
COUCHDB_PORT = 5984
CONTROLLER_PORT = 10001
ADMIN_USER = "whisk_admin"
GUEST_SUBJECT = "guest"
GUEST_NAMESPACE = "guest"
DB_PREFIX = "whisk_local_"
START_DEADLINE_S = 60.0
STOP_GRACE_S = 10.0
ORDER = ("couchdb", "controller")  # start order; stop in reverse


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
    """What a pidfile says: a pid, the argv it was started with, its start time and port."""

    name: str
    pid: int
    argv: list[str]
    start_ticks: int
    port: int

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
    proc = {"argv": running.argv, "start_ticks": running.start_ticks, "port": running.port}
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
        return Running(name, pid, list(proc["argv"]), int(proc["start_ticks"]), int(proc["port"]))
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


def spawn(
    state: State, name: str, argv: Sequence[str], port: int, env: Mapping[str, str], *, cwd: Path
) -> tuple[Running, subprocess.Popen[bytes]]:
    """Start ``argv`` in a new session (it outlives us), its output appended to its log."""
    log_path = state.log(name)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as log:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        log.write(f"--- {stamp} dev.py starting {' '.join(argv)}\n".encode())
        log.flush()
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
    started = Running(name, process.pid, list(argv), stat[1] if stat else -1, port)
    record(state, started)
    return started, process


def wait_ready(
    state: State, started: Running, process: subprocess.Popen[bytes], ready: Callable[[], bool]
) -> None:
    end = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < end:
        if process.poll() is not None:
            forget(state, started.name)
            raise DevError(
                f"{started.name} exited with {process.returncode} while starting;"
                f" log {state.log(started.name)}:\n{tail(state.log(started.name))}"
            )
        if ready():
            return
        time.sleep(0.1)
    stop(state, started)
    raise DevError(
        f"{started.name} did not answer within {START_DEADLINE_S:.0f} s;"
        f" log {state.log(started.name)}:\n{tail(state.log(started.name))}"
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
        end = time.monotonic() + STOP_GRACE_S
        while target.alive() and time.monotonic() < end:
            time.sleep(0.05)
        if target.alive():
            say(f"{target.name} (pid {target.pid}) ignored SIGTERM; sending SIGKILL")
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
    started, process = spawn(state, "couchdb", argv, port, env, cwd=data)
    url = f"http://{LOOPBACK}:{port}"
    wait_ready(state, started, process, lambda: answers(f"{url}/"))
    try:
        ensure_admin(url, password)
    except Exception:
        stop(state, started)
        raise
    say(f"started the CouchDB API (PouchDB Server) on {url} (pid {started.pid})")
    return started


# --- the controller and its guest --------------------------------------------------------


def controller_env(env: Mapping[str, str], couchdb_port: int, password: str) -> dict[str, str]:
    return {
        **{k: v for k, v in env.items() if not k.startswith("WHISK_CONTROLLER_")},
        "PYTHONUNBUFFERED": "1",
        "WHISK_CONTROLLER_HOST": LOOPBACK,
        "WHISK_CONTROLLER_COUCHDB_URL": f"http://{LOOPBACK}:{couchdb_port}",
        "WHISK_CONTROLLER_COUCHDB_USER": ADMIN_USER,
        "WHISK_CONTROLLER_COUCHDB_PASSWORD": password,
        "WHISK_CONTROLLER_DB_PREFIX": DB_PREFIX,
    }


def start_controller(state: State, env: Mapping[str, str], port: int) -> Running:
    argv = [sys.executable, "-m", "whisk_services.controller.main"]
    env = {**env, "WHISK_CONTROLLER_PORT": str(port)}
    started, process = spawn(state, "controller", argv, port, env, cwd=state.root)
    url = f"http://{LOOPBACK}:{port}"
    wait_ready(state, started, process, lambda: answers(f"{url}/api/v1"))
    say(f"started the controller on {url} (pid {started.pid})")
    return started


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


def start_missing(
    state: State,
    env: Mapping[str, str],
    found: dict[str, Running],
    started: list[Running],
) -> tuple[Running, Running, dict[str, str]]:
    """Start whichever of the two is not running (appending it to ``started``)."""
    password = admin_password(state)
    couchdb_port = controller_port = 0
    if "couchdb" not in found:  # pick both ports first: fail before starting anything
        pouchdb_home()
        couchdb_port = choose_port(env, "WHISK_DEV_COUCHDB_PORT", COUCHDB_PORT, "the CouchDB API")
    if "controller" not in found:
        controller_port = choose_port(
            env, "WHISK_DEV_CONTROLLER_PORT", CONTROLLER_PORT, "the controller"
        )
    couchdb = found.get("couchdb")
    if couchdb is None:
        couchdb = start_couchdb(state, env, password, couchdb_port)
        started.append(couchdb)
    elif not answers(f"http://{LOOPBACK}:{couchdb.port}/"):
        raise DevError(f"the CouchDB API (pid {couchdb.pid}) does not answer; make dev-down")
    cenv = controller_env(env, couchdb.port, password)
    controller = found.get("controller")
    if controller is None:
        controller = start_controller(state, cenv, controller_port)
        started.append(controller)
    elif not answers(f"http://{LOOPBACK}:{controller.port}/api/v1"):
        raise DevError(f"the controller (pid {controller.pid}) does not answer; make dev-down")
    return couchdb, controller, cenv


def up(state: State, env: Mapping[str, str]) -> None:
    state.prepare()
    found = {name: r for name in ORDER if (r := running(state, name)) is not None}
    if "controller" in found and "couchdb" not in found:
        say("the controller runs without its CouchDB API; restarting it")
        stop(state, found.pop("controller"))
    if len(found) == len(ORDER):
        say(f"already up (CouchDB API pid {found['couchdb'].pid},"
            f" controller pid {found['controller'].pid})")  # fmt: skip
    started: list[Running] = []
    try:
        couchdb, controller, cenv = start_missing(state, env, found, started)
        controller_url = f"http://{LOOPBACK}:{controller.port}"
        key = ensure_guest(state, cenv, controller_url)
    except BaseException:
        for process in reversed(started):
            stop(state, process)
        raise
    write_wskprops(state.wskprops, controller_url, key)
    say(f"CouchDB API  http://{LOOPBACK}:{couchdb.port} (admin {ADMIN_USER}, password in"
        f" {state.admin_file})")  # fmt: skip
    say(f"controller   {controller_url} (databases {DB_PREFIX}*)")
    say(f"state, data and logs in {state.root}")
    say(f"wrote {state.wskprops} (namespace {GUEST_NAMESPACE}); for .venv/bin/wsk run:")
    print(f"export WSK_CONFIG_FILE={state.wskprops}", flush=True)


def down(state: State) -> None:
    found = [r for r in (recorded(state, name) for name in reversed(ORDER)) if r is not None]
    if not found:
        say(f"nothing is running (no pidfiles in {state.root})")
        return
    for target in found:
        stop(state, target)


def status(state: State) -> int:
    code = 0
    for name in ORDER:
        found = recorded(state, name)
        if found is not None and found.alive():
            say(f"{name}: pid {found.pid}, port {found.port}")
        else:
            say(f"{name}: not running")
            code = 3
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dev.py", description="Run the controller and its CouchDB API locally (make dev)."
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
