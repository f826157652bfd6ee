"""Testinfra checks of the cli role's default scenario: the guest's .wskprops as wsk reads it.

The file on the box holds exactly APIHOST (https:// and the edge host's address, the box
here), AUTH (the scenario's key) and APIVERSION=v1, is root's and 0600; the copy on the
control node is the same, also 0600.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from testinfra.host import Host

WSKPROPS = "/root/.wskprops"
LOCAL_COPY = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "wskprops"


def properties(text: str) -> dict[str, str]:
    """The KEY=VALUE lines of a .wskprops, as wsk reads them (comments skipped)."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_wskprops_holds_the_api_host_and_the_guest_key(host: Host) -> None:
    address = host.interface.default().addresses[0]
    expected = {
        "APIHOST": f"https://{address}",
        "AUTH": host.ansible.get_variables()["cli_auth"],
        "APIVERSION": "v1",
    }
    assert properties(host.file(WSKPROPS).content_string) == expected


def test_wskprops_is_private(host: Host) -> None:
    wskprops = host.file(WSKPROPS)
    assert wskprops.user == "root"
    assert wskprops.mode == 0o600


def test_control_node_copy_is_the_same_and_private(host: Host) -> None:
    assert LOCAL_COPY.read_text() == host.file(WSKPROPS).content_string
    assert stat.S_IMODE(LOCAL_COPY.stat().st_mode) == 0o600
