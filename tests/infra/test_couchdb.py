"""The CouchDB API: it runs hardened on its cluster address only, its admin signs in with the
password from the inventory's Vault, a wrong password and anonymous writes are refused, and
the server keeps serving after them.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from conftest import address
from hostchecks import assert_unit_hardened, assert_unit_runs, listeners

testinfra_hosts = ["ansible://couchdb"]

REQUEST = """python3 - <<'PY'
import json, urllib.request, urllib.error
request = urllib.request.Request({url!r}, method={method!r}, headers={headers!r})
try:
    with urllib.request.urlopen(request, timeout=10) as response:
        print(json.dumps([response.status, json.loads(response.read() or b'null')]))
except urllib.error.HTTPError as error:
    print(json.dumps([error.code, None]))
PY"""


def call(host: Any, method: str, path: str, auth: tuple[str, str] | None = None) -> Any:
    variables = host.ansible.get_variables()
    headers = {}
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    url = f"http://{address(variables)}:5984{path}"
    return json.loads(host.check_output(REQUEST.format(url=url, method=method, headers=headers)))


def admin(host: Any) -> tuple[str, str]:
    variables = host.ansible.get_variables()
    return "whisk_admin", str(variables["vault_couchdb_admin_password"])


def test_runs_hardened_on_its_address_only(host: Any) -> None:
    assert_unit_runs(host, "couchdb.service")
    assert_unit_hardened(host, "couchdb.service")
    assert listeners(host, 5984) == {address(host.ansible.get_variables())}


def test_the_admin_signs_in(host: Any) -> None:
    status, body = call(host, "GET", "/_session", admin(host))
    assert status == 200
    assert "_admin" in body["userCtx"]["roles"]


def test_a_wrong_password_is_refused(host: Any) -> None:
    assert call(host, "GET", "/_session", ("whisk_admin", "not-the-password"))[0] == 401


def test_anonymous_database_writes_are_refused_and_the_server_keeps_serving(host: Any) -> None:
    assert call(host, "PUT", "/infra_anonymous")[0] == 401
    assert call(host, "DELETE", "/whisk_subjects")[0] == 401
    status, body = call(host, "GET", "/_all_dbs", admin(host))
    assert status == 200
    assert "whisk_subjects" in body


def test_the_platform_databases_are_closed_to_anonymous_readers(host: Any) -> None:
    for database in ("whisk_subjects", "whisk_whisks", "whisk_activations"):
        assert call(host, "GET", f"/{database}/_all_docs")[0] == 401, database
        assert call(host, "GET", f"/{database}/_all_docs", admin(host))[0] == 200, database
