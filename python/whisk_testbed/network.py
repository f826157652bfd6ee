"""Loopback addresses and free ports for servers started by the test bed."""

from __future__ import annotations

import socket
import time

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def port_answers(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port is accepted."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for_port(port: int, deadline_s: float, host: str = LOOPBACK) -> bool:
    """Poll host:port until it accepts a connection or ``deadline_s`` seconds pass."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if port_answers(port, host):
            return True
        time.sleep(0.05)
    return False
