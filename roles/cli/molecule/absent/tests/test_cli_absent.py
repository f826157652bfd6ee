"""Testinfra checks of the cli role's absent scenario: cli_state: absent removes the guest's
.wskprops from the box and from the control node (prepare.yml wrote both first).
"""

from __future__ import annotations

import os
from pathlib import Path

from testinfra.host import Host


def test_wskprops_is_removed_from_the_host(host: Host) -> None:
    assert not host.file("/root/.wskprops").exists


def test_control_node_copy_is_removed() -> None:
    assert not (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "wskprops").exists()
