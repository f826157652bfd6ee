"""Docker Engine runs containers from the project's locally built images (no registry)."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator

import docker
import pytest
from docker.models.containers import Container

pytestmark = pytest.mark.integration

PROJECT_LABEL = {"org.whisk.project": "whisk"}
RUNTIME_BASE = "whisk/runtime-base:bookworm"
BOX = "whisk/box:bookworm"


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


def test_base_images_are_local_and_labelled(engine: docker.DockerClient) -> None:
    for tag in ("whisk/debian:bookworm", RUNTIME_BASE, BOX):
        image = engine.images.get(tag)
        assert image.labels.get("org.whisk.project") == "whisk", tag
        assert image.labels.get("org.whisk.inputs"), tag


def test_container_runs_from_an_image_built_here(engine: docker.DockerClient) -> None:
    tag = f"whisk/smoke-test:{uuid.uuid4().hex[:8]}"
    dockerfile = (
        f"FROM {RUNTIME_BASE}\n"
        'RUN printf \'def main(args):\\n    return {"msg": "Hello World"}\\n\' > /hello.py\n'
        'CMD ["python3", "-c", "import runpy; print(runpy.run_path(\'/hello.py\')'
        "['main']({}))\"]\n"
    )
    engine.images.build(
        fileobj=io.BytesIO(dockerfile.encode()), tag=tag, labels=PROJECT_LABEL, rm=True
    )
    try:
        output = engine.containers.run(tag, remove=True, labels=PROJECT_LABEL, network_mode="none")
        assert output.decode().strip() == "{'msg': 'Hello World'}"
    finally:
        engine.images.remove(tag, force=True)


def _systemd_state(container: Container) -> str:
    result = container.exec_run(["systemctl", "is-system-running"])
    output: bytes = result.output
    return output.decode().strip()


def test_box_image_boots_systemd(engine: docker.DockerClient) -> None:
    container = engine.containers.run(
        BOX,
        detach=True,
        name=f"whisk-test-box-{uuid.uuid4().hex[:8]}",
        labels=PROJECT_LABEL,
        cap_add=["SYS_ADMIN", "NET_ADMIN"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        cgroupns="host",
        volumes={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
        tmpfs={"/run": "", "/run/lock": ""},
        environment={"container": "docker"},
        stop_signal="SIGRTMIN+3",
        network_mode="none",
    )
    try:
        deadline = time.monotonic() + 60
        state = _systemd_state(container)
        # Right after start systemd may not have opened its bus yet ("Failed to connect
        # to bus"): that counts as still starting.
        while state not in {"running", "degraded", "maintenance", "stopping"} and (
            time.monotonic() < deadline
        ):
            time.sleep(0.5)
            state = _systemd_state(container)
        assert state == "running"
        assert container.exec_run(["cat", "/proc/1/comm"]).output.decode().strip() == "systemd"
        started = time.monotonic()
        container.stop(timeout=10)
        assert time.monotonic() - started < 5
    finally:
        container.remove(force=True)
