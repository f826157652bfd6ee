"""Checks what the couchdb role gives the platform on a host: PouchDB Server running as the
couchdb account under a hardened unit, listening on the host's cluster address only, answering
the CouchDB API with one admin (Basic auth; a wrong password is refused), refusing anonymous
database creation and deletion without dying or wedging (pouchdb/pouchdb-server#374, patched),
restarted by systemd when killed, and keeping only a hash of the password in a 0640 config.

Every request is made from inside the box, as a client on the host would make it.
"""

import json
import time
from dataclasses import dataclass
from typing import Any

import pytest
from hostchecks import (
    SANDBOXED,
    assert_unit_properties,
    assert_unit_runs,
    default_address,
    listening,
)
from testinfra.host import Host

PORT = 5984
SERVICE = "couchdb.service"
CONFIG = "/var/lib/couchdb/config.json"
LOG = "/var/log/couchdb/couchdb.log"
ALLOWED_ORIGIN = "http://wsk.example:8080"

# One HTTP request made with the box's python3; prints the outcome as JSON. Status 0 means no
# answer at all (connection refused, or no response within the timeout: a wedged server).
CLIENT = r"""
import base64, json, sys, urllib.error, urllib.request
method, url, user, password, origin, body = sys.argv[1:7]
request = urllib.request.Request(url, method=method, data=body.encode() or None)
request.add_header("Content-Type", "application/json")
if user:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request.add_header("Authorization", "Basic " + token)
if origin:
    request.add_header("Origin", origin)
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        status, headers, text = response.status, dict(response.headers), response.read().decode()
except urllib.error.HTTPError as error:
    status, headers, text = error.code, dict(error.headers), error.read().decode()
except OSError as error:
    status, headers, text = 0, {}, str(error)
print(json.dumps({"status": status, "headers": headers, "body": text}))
"""


@dataclass(frozen=True)
class Response:
    """What one request got back."""

    status: int
    headers: dict[str, str]
    body: str

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """Requests to one CouchDB API base URL, anonymous unless given credentials."""

    def __init__(self, host: Host, base: str) -> None:
        self.host = host
        self.base = base

    def request(
        self,
        method: str,
        path: str,
        auth: tuple[str, str] | None = None,
        body: object = None,
        origin: str = "",
    ) -> Response:
        user, password = auth or ("", "")
        data = "" if body is None else json.dumps(body)
        out = self.host.check_output(
            "python3 -c %s %s %s %s %s %s %s",
            CLIENT,
            method,
            self.base + path,
            user,
            password,
            origin,
            data,
        )
        result = json.loads(out)
        return Response(result["status"], result["headers"], result["body"])


@pytest.fixture(scope="module")
def address(host: Host) -> str:
    """The host's cluster address: whisk_address is not set, so its default IPv4 address."""
    return default_address(host)


@pytest.fixture(scope="module")
def admin(host: Host) -> tuple[str, str]:
    """The admin's name and password, as the scenario's inventory gives them."""
    variables = host.ansible.get_variables()
    return (variables.get("couchdb_admin_user", "whisk_admin"), variables["couchdb_admin_password"])


@pytest.fixture(scope="module")
def couchdb(host: Host, address: str) -> Client:
    return Client(host, f"http://{address}:{PORT}")


def main_pid(host: Host) -> str:
    return host.service(SERVICE).systemd_properties["MainPID"]


def test_service_active_and_enabled(host: Host) -> None:
    assert_unit_runs(host, SERVICE)


def test_server_runs_as_couchdb(host: Host) -> None:
    assert host.check_output(f"ps -o user= -p {main_pid(host)}").strip() == "couchdb"


def test_listens_on_the_cluster_address_only(host: Host, address: str) -> None:
    assert listening(host, PORT) == [f"tcp://{address}:{PORT}"]


def test_loopback_does_not_answer(host: Host) -> None:
    """PouchDB Server binds one address: clients on the host use the cluster address too."""
    assert Client(host, f"http://127.0.0.1:{PORT}").request("GET", "/").status == 0


def test_root_answers_with_the_server_identity(couchdb: Client) -> None:
    response = couchdb.request("GET", "/")
    assert response.status == 200
    welcome = response.json()
    assert welcome["version"] == "4.2.0"
    assert welcome["pouchdb-adapters"] == ["leveldb"]
    assert len(welcome["uuid"]) == 32


def test_admin_basic_auth_is_server_admin(couchdb: Client, admin: tuple[str, str]) -> None:
    response = couchdb.request("GET", "/_session", auth=admin)
    assert response.status == 200
    assert response.json()["userCtx"] == {"name": admin[0], "roles": ["_admin"]}


@pytest.mark.parametrize("password", ["wrong-password-123", ""])
def test_wrong_password_is_refused(couchdb: Client, admin: tuple[str, str], password: str) -> None:
    assert couchdb.request("GET", "/_session", auth=(admin[0], password)).status == 401


def test_anonymous_session_is_not_admin(couchdb: Client) -> None:
    """Admin party is over: an anonymous caller has no roles."""
    response = couchdb.request("GET", "/_session")
    assert response.status == 200
    assert response.json()["userCtx"]["roles"] == []


def test_anonymous_database_create_is_refused_and_server_survives(
    host: Host, couchdb: Client, admin: tuple[str, str]
) -> None:
    """Unpatched, this request ends the process (`db.info is not a function`)."""
    pid, restarts = main_pid(host), host.service(SERVICE).systemd_properties["NRestarts"]
    assert couchdb.request("PUT", "/whisk_mol_refused").status == 401
    assert couchdb.request("GET", "/").status == 200
    assert couchdb.request("GET", "/whisk_mol_refused", auth=admin).status == 404
    assert main_pid(host) == pid
    assert host.service(SERVICE).systemd_properties["NRestarts"] == restarts


def test_anonymous_database_delete_is_refused_and_admin_still_served(
    host: Host, couchdb: Client, admin: tuple[str, str]
) -> None:
    """Unpatched, every database request after this one hangs, the admin's included."""
    pid = main_pid(host)
    assert couchdb.request("PUT", "/whisk_mol_kept", auth=admin).status == 201
    try:
        assert couchdb.request("DELETE", "/whisk_mol_kept").status == 401
        assert couchdb.request("GET", "/whisk_mol_kept", auth=admin).status == 200
        assert couchdb.request("PUT", "/whisk_mol_after", auth=admin).status == 201
        assert couchdb.request("DELETE", "/whisk_mol_after", auth=admin).status == 200
        assert main_pid(host) == pid
    finally:
        couchdb.request("DELETE", "/whisk_mol_kept", auth=admin)


def test_admin_creates_a_database_and_writes_and_reads_a_document(
    couchdb: Client, admin: tuple[str, str]
) -> None:
    assert couchdb.request("PUT", "/whisk_mol_docs", auth=admin).status == 201
    try:
        doc = {"kind": "action", "exec": {"kind": "python:3.11"}}
        written = couchdb.request("PUT", "/whisk_mol_docs/guest%2Fhello", auth=admin, body=doc)
        assert written.status == 201
        read = couchdb.request("GET", "/whisk_mol_docs/guest%2Fhello", auth=admin)
        assert read.status == 200
        assert read.json()["exec"] == doc["exec"]
        assert read.json()["_rev"] == written.json()["rev"]
    finally:
        assert couchdb.request("DELETE", "/whisk_mol_docs", auth=admin).status == 200


@pytest.mark.parametrize(
    ("origin", "allowed"), [(ALLOWED_ORIGIN, True), ("http://elsewhere.example", False)]
)
def test_cors_only_for_the_configured_origin(couchdb: Client, origin: str, allowed: bool) -> None:
    """couchdb_pouchdb_config turned CORS on for one origin (the role's default is off)."""
    headers = couchdb.request("GET", "/", origin=origin).headers
    assert (headers.get("Access-Control-Allow-Origin") == origin) is allowed


@pytest.mark.parametrize(
    ("path", "user", "group", "mode"),
    [
        (CONFIG, "couchdb", "couchdb", 0o640),
        ("/var/lib/couchdb", "couchdb", "couchdb", 0o750),
        ("/var/log/couchdb", "couchdb", "couchdb", 0o750),
        ("/etc/systemd/system/couchdb.service", "root", "root", 0o644),
        ("/opt/pouchdb-server/4.2.0/bin/pouchdb-server", "root", "root", 0o755),
        (
            "/opt/pouchdb-server/4.2.0/node_modules/express-pouchdb/lib/routes/db.js",
            "root",
            "root",
            0o644,
        ),
    ],
)
def test_file_owner_and_mode(host: Host, path: str, user: str, group: str, mode: int) -> None:
    f = host.file(path)
    assert f.exists
    assert (f.user, f.group, f.mode) == (user, group, mode)


def test_config_keeps_a_hash_not_the_password(
    host: Host, admin: tuple[str, str], address: str
) -> None:
    text = host.file(CONFIG).content_string
    assert admin[1] not in text
    config = json.loads(text)
    assert config["admins"][admin[0]].startswith("-pbkdf2-")
    assert config["httpd"] == {"bind_address": address, "port": PORT, "enable_cors": True}
    assert config["cors"] == {"origins": ALLOWED_ORIGIN}


def test_installed_server_is_the_patched_bundle(host: Host) -> None:
    db_js = host.file("/opt/pouchdb-server/4.2.0/node_modules/express-pouchdb/lib/routes/db.js")
    assert db_js.contains("answeredRefusal")


def test_unit_is_hardened(host: Host) -> None:
    expected = {
        **SANDBOXED,
        "User": "couchdb",
        "Restart": "always",
        "UMask": "0027",
        "CapabilityBoundingSet": "",  # no capability at all
    }
    assert_unit_properties(host, SERVICE, expected)


def test_requests_are_logged(host: Host, couchdb: Client) -> None:
    couchdb.request("GET", "/_all_dbs?logged=1")
    assert host.file(LOG).contains("GET /_all_dbs")
    assert host.run("logrotate --debug /etc/logrotate.d/couchdb").rc == 0


def test_killed_server_is_restarted(host: Host, couchdb: Client) -> None:
    """Restart=always: the fence for a request that still kills the server."""
    pid = main_pid(host)
    host.check_output(f"kill -9 {pid}")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if main_pid(host) not in ("0", pid) and couchdb.request("GET", "/").status == 200:
            break
        time.sleep(1)
    assert main_pid(host) not in ("0", pid)
    assert couchdb.request("GET", "/").status == 200
