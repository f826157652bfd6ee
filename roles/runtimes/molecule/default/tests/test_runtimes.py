"""Checks what the runtimes role gives the invoker: each action image present in the host's
engine under its tag, its archive kept root-only on the host, and the images really running
their language (Python 3.11, Node.js 18) with the image's own user and working directory."""

import json
from typing import Any

import pytest
from testinfra.host import Host

IMAGES = {
    "whisk/action-python:3.11": "whisk-action-python_3.11.tar",
    "whisk/action-nodejs:18": "whisk-action-nodejs_18.tar",
}


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_image_present(host: Host, image: str) -> None:
    inspected: list[dict[str, Any]] = json.loads(host.check_output(f"docker image inspect {image}"))
    assert image in inspected[0]["RepoTags"]
    assert inspected[0]["Config"]["Labels"]["org.whisk.project"] == "whisk"


@pytest.mark.parametrize("archive", sorted(IMAGES.values()))
def test_archive_kept_root_only(host: Host, archive: str) -> None:
    kept = host.file(f"/var/lib/whisk/images/{archive}")
    assert kept.is_file
    assert (kept.user, kept.group, kept.mode) == ("root", "root", 0o640)


# The images have no entrypoint: the command given replaces the action proxy they run.
@pytest.mark.parametrize(
    ("image", "command", "expected"),
    [
        ("whisk/action-python:3.11", "python3 -c 'print(1)'", "1"),
        (
            "whisk/action-python:3.11",
            "python3 -c 'import sys; print(sys.version_info[:2])'",
            "(3, 11)",
        ),
        ("whisk/action-nodejs:18", "node -p 'process.versions.node.split(\".\")[0]'", "18"),
    ],
)
def test_image_runs_its_language(host: Host, image: str, command: str, expected: str) -> None:
    run = host.run(f"docker run --rm --network none {image} {command}")
    assert run.rc == 0, run.stderr
    assert run.stdout.strip() == expected
