"""The edge as a client on this machine sees it: nginx answers HTTPS on the edge host's
address with a certificate the platform's CA signed for that address and name, speaks TLS 1.2
and 1.3 only, names no version in its Server header, and sends plain HTTP to HTTPS.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import address
from cryptography import x509

testinfra_hosts = ["ansible://edge"]


def ca_file(variables: dict[str, Any]) -> Path:
    return Path(str(variables["ca_dir"])) / "ca.crt"


def handshake(host: str, version: ssl.TLSVersion, ca: Path | None = None) -> ssl.SSLSocket:
    """A TLS connection pinned to one protocol version (ciphers opened up, so that a refusal
    is the server's and not this client's)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = version
    context.maximum_version = version
    context.set_ciphers("ALL:@SECLEVEL=0")
    if ca is None:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        context.load_verify_locations(cafile=str(ca))
    raw = socket.create_connection((host, 443), timeout=10)
    return context.wrap_socket(raw, server_hostname=host)


@pytest.fixture
def edge(
    host: Any,
    hostvars: Callable[[str], dict[str, Any]],
    rendered: Callable[[str, str], str],
) -> dict[str, Any]:
    name = host.backend.get_hostname()
    return {**hostvars(name), "ca_dir": rendered(name, "nginx_tls_ca_dir")}


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_tls_12_and_13_are_served_with_a_certificate_for_the_address(
    edge: dict[str, Any], version: ssl.TLSVersion
) -> None:
    with handshake(address(edge), version, ca_file(edge)) as tls:
        assert tls.version() == version.name.replace("v1_", "v1.")


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1])
def test_tls_below_12_is_refused(edge: dict[str, Any], version: ssl.TLSVersion) -> None:
    with pytest.raises(ssl.SSLError):
        handshake(address(edge), version).close()


def test_certificate_names_cover_the_host_name_and_address(edge: dict[str, Any]) -> None:
    with handshake(address(edge), ssl.TLSVersion.TLSv1_3) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    names = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert ipaddress.ip_address(address(edge)) in names.value.get_values_for_type(x509.IPAddress)
    assert str(edge["inventory_hostname"]) in names.value.get_values_for_type(x509.DNSName)


def test_server_header_names_no_version(edge: dict[str, Any]) -> None:
    context = ssl.create_default_context(cafile=str(ca_file(edge)))
    connection = http.client.HTTPSConnection(address(edge), 443, context=context, timeout=10)
    connection.request("GET", "/api/v1")
    response = connection.getresponse()
    assert response.getheader("Server") == "nginx"


def test_plain_http_is_sent_to_https(edge: dict[str, Any]) -> None:
    connection = http.client.HTTPConnection(address(edge), 80, timeout=10)
    connection.request("GET", "/api/v1/namespaces")
    response = connection.getresponse()
    assert response.status == 301
    assert response.getheader("Location") == f"https://{address(edge)}/api/v1/namespaces"


def test_the_api_answers_through_the_edge(edge: dict[str, Any]) -> None:
    context = ssl.create_default_context(cafile=str(ca_file(edge)))
    connection = http.client.HTTPSConnection(address(edge), 443, context=context, timeout=10)
    connection.request("GET", "/api/v1/namespaces")
    response = connection.getresponse()
    assert response.status == 401, response.read()
    assert b'"code"' in response.read()
