"""Testinfra checks of the nginx role's default scenario, as a user of the edge sees it.

HTTP redirects to HTTPS; HTTPS speaks TLS 1.2 and 1.3 only, with a certificate the host
trusts (the platform's CA) for every name the host is reached by, and proxies to the
stand-in controller (prepare.yml's echo server), passing the forwarding headers and keeping
the upstream connection open. The requests run inside the box with its python3.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from hostchecks import CONFINED, assert_unit_properties, assert_unit_runs
from testinfra.host import Host

# One HTTP(S) request made in the box: METHOD URL BODY_BYTES HEADERS_JSON; prints the status,
# headers and body as JSON. HTTPS verifies against the box's trust store, hostname included.
REQUEST = """
import http.client, json, ssl, sys
from urllib.parse import urlsplit
method, url, size, headers = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
parts = urlsplit(url)
if parts.scheme == "https":
    context = ssl.create_default_context()
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=10)
else:
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
target = parts.path + ("?" + parts.query if parts.query else "")
conn.request(method, target, body=b"x" * size if size else None, headers=headers)
response = conn.getresponse()
body = response.read().decode()
print(json.dumps({"status": response.status, "headers": dict(response.getheaders()),
                  "body": body}))
"""

# One TLS handshake with 127.0.0.1:443 at exactly one protocol version; prints the version
# agreed or the reason for the refusal. The client allows every old cipher and version
# (SECLEVEL=0), so a refusal is the server's.
HANDSHAKE = """
import socket, ssl, sys, warnings
warnings.simplefilter("ignore", DeprecationWarning)
version = getattr(ssl.TLSVersion, sys.argv[1])
context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
context.set_ciphers("ALL:@SECLEVEL=0")
context.minimum_version = context.maximum_version = version
try:
    with socket.create_connection(("127.0.0.1", 443), timeout=10) as raw:
        with context.wrap_socket(raw) as tls:
            print(tls.version())
except ssl.SSLError as exc:
    print(exc.reason)
"""

CERTIFICATE = "/etc/nginx/tls/whisk.crt"
KEY = "/etc/nginx/tls/whisk.key"
TRUSTED_CA = "/usr/local/share/ca-certificates/whisk-ca.crt"
# The control node's PKI directory, as the scenario's group_vars set nginx_tls_ca_dir.
CA_DIR = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "tls"


def request(
    host: Host, method: str, url: str, size: int = 0, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """Make one request from inside the box and return its status, headers and body."""
    out = host.check_output(
        "python3 -c %s %s %s %s %s", REQUEST, method, url, str(size), json.dumps(headers or {})
    )
    result: dict[str, Any] = json.loads(out)
    return result


def name_of(host: Host, which: str) -> str:
    """The box's own hostname or cluster address for a symbolic name; other names as given."""
    if which == "hostname":
        return host.check_output("hostname")
    if which == "address":
        return host.interface.default().addresses[0]
    return which


def test_nginx_is_running_and_enabled(host: Host) -> None:
    assert_unit_runs(host, "nginx")


@pytest.mark.parametrize("port", [80, 443])
def test_listens_on_every_ipv4_address(host: Host, port: int) -> None:
    assert host.socket(f"tcp://0.0.0.0:{port}").is_listening


@pytest.mark.parametrize("port", [80, 443])
def test_does_not_listen_on_ipv6(host: Host, port: int) -> None:
    # Debian's default site listens on [::]:80; the role's configuration does not.
    assert not host.socket(f"tcp://:::{port}").is_listening


def test_debian_default_site_is_gone(host: Host) -> None:
    assert not host.file("/etc/nginx/sites-enabled/default").exists


def test_http_redirects_to_https(host: Host) -> None:
    response = request(host, "GET", "http://127.0.0.1/api/v1/namespaces?limit=1")
    assert response["status"] == 301
    assert response["headers"]["Location"] == "https://127.0.0.1/api/v1/namespaces?limit=1"


@pytest.mark.parametrize("which", ["hostname", "address", "localhost", "127.0.0.1"])
def test_https_reaches_the_controller_by_every_name(host: Host, which: str) -> None:
    # The request verifies the certificate (chain and name) against the box's trust store.
    name = name_of(host, which)
    response = request(host, "GET", f"https://{name}/api/v1/namespaces?limit=1")
    assert response["status"] == 200
    echoed = json.loads(response["body"])
    assert echoed["path"] == "/api/v1/namespaces?limit=1"
    assert echoed["headers"]["Host"] == name


def test_forwarding_headers_reach_the_controller(host: Host) -> None:
    spoofed = {"X-Forwarded-For": "203.0.113.9"}
    response = request(host, "GET", "https://localhost/api/v1", headers=spoofed)
    headers = json.loads(response["body"])["headers"]
    assert headers["X-Forwarded-Proto"] == "https"
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    # No "Connection: close" towards the controller: the upstream connection is kept alive.
    assert "Connection" not in headers


def test_large_action_code_is_accepted(host: Host) -> None:
    size = 5 * 1024 * 1024  # nginx's own limit is 1 MiB
    response = request(host, "POST", "https://localhost/api/v1/namespaces/_/actions/a", size)
    assert response["status"] == 200
    assert json.loads(response["body"])["body_bytes"] == size


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "https://localhost/"])
def test_server_header_has_no_version(host: Host, url: str) -> None:
    assert request(host, "GET", url)["headers"]["Server"] == "nginx"


@pytest.mark.parametrize(
    ("version", "outcome"),
    [
        ("TLSv1", "TLSV1_ALERT_PROTOCOL_VERSION"),
        ("TLSv1_1", "TLSV1_ALERT_PROTOCOL_VERSION"),
        ("TLSv1_2", "TLSv1.2"),
        ("TLSv1_3", "TLSv1.3"),
    ],
)
def test_only_tls_1_2_and_1_3_are_accepted(host: Host, version: str, outcome: str) -> None:
    assert host.check_output("python3 -c %s %s", HANDSHAKE, version) == outcome


@pytest.mark.parametrize(
    ("path", "mode"), [(KEY, 0o600), (CERTIFICATE, 0o644), ("/etc/nginx/tls", 0o700)]
)
def test_tls_files_on_the_host(host: Host, path: str, mode: int) -> None:
    file = host.file(path)
    assert file.user == "root"
    assert file.group == "root"
    assert file.mode == mode


@pytest.mark.parametrize(
    "which", ["hostname", "address", "127.0.0.1", "localhost", "whisk.example.test", "192.0.2.10"]
)
def test_certificate_names(host: Host, which: str) -> None:
    name = name_of(host, which)
    sans = host.check_output("openssl x509 -in %s -noout -ext subjectAltName", CERTIFICATE)
    entries = {entry.strip() for entry in sans.splitlines()[-1].split(",")}
    kind = "IP Address" if re.fullmatch(r"[0-9.]+", name) else "DNS"
    assert f"{kind}:{name}" in entries


def test_certificate_is_signed_by_the_generated_ca(host: Host) -> None:
    # The CA the host trusts is the one on the control node, and it signed the edge's cert.
    assert host.file(TRUSTED_CA).content_string == (CA_DIR / "ca.crt").read_text()
    verify = host.run("openssl verify -CAfile %s %s", TRUSTED_CA, CERTIFICATE)
    assert verify.rc == 0, verify.stderr
    assert host.file("/etc/ssl/certs/whisk-ca.pem").linked_to == TRUSTED_CA


def test_control_node_keys_are_private() -> None:
    assert stat.S_IMODE(CA_DIR.stat().st_mode) == 0o700
    keys = sorted(CA_DIR.glob("*.key"))
    assert len(keys) == 2  # the CA's and the one edge host's
    assert {stat.S_IMODE(key.stat().st_mode) for key in keys} == {0o600}


def test_unit_is_hardened(host: Host) -> None:
    expected = {**CONFINED, "ProtectHome": "yes", "Restart": "on-failure"}
    assert_unit_properties(host, "nginx", expected)


def test_blocking_invokes_fit_the_proxy_timeout(host: Host) -> None:
    # The API's blocking wait is 60 s; answers are not buffered on the way back.
    config = host.check_output("nginx -T")
    timeout = re.search(r"proxy_read_timeout (\d+)s;", config)
    assert timeout is not None
    assert int(timeout.group(1)) > 60
    assert "proxy_buffering off;" in config
