"""The action runner drives real action containers (reference/openwhisk-api.md §2).

Containers of whisk/action-python:3.11 and whisk/action-nodejs:18 (``make images``) are
created by ``DockerContainerFactory``, published on loopback only, and driven by
``ActionRunner``. Each carries this module's run label; every one is removed at the end.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import docker
import docker.errors
import pytest

from whisk_services.adapters.docker_containers import DockerContainerFactory
from whisk_services.invoker.runner import SENTINEL, ActionCode, ActionRunner, RunResult
from whisk_services.model.activation import ActivationStatus
from whisk_services.model.limits import ActionLimits
from whisk_services.ports.containers import Container, ContainerFactory

pytestmark = pytest.mark.integration

PYTHON = "whisk/action-python:3.11"
NODEJS = "whisk/action-nodejs:18"
RUN_LABEL = "org.whisk.test-run"
HELLO = {
    PYTHON: "def main(args):\n    print('Hello World')\n    return {'msg': 'Hello World'}\n",
    NODEJS: (
        "function main() {\n"
        "    console.log('Hello World');\n"
        "    return { msg: 'Hello World' };\n"
        "}\n"
    ),
}
ACTIVATION = {
    "namespace": "guest",
    "action_name": "/guest/hello",
    "action_version": "0.0.1",
    "activation_id": "0" * 32,
    "transaction_id": "tid",
}

Scenario = Callable[[ContainerFactory, ActionRunner, Callable[[str], Awaitable[Container]]], Any]


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def scenario(engine: docker.DockerClient) -> Iterator[Callable[[Scenario], Any]]:
    """Run an async scenario with a factory, a runner and ``start(image)``; every container
    it creates carries a label unique to the test and is removed afterwards."""
    run_id = uuid.uuid4().hex

    def _run(body: Scenario) -> Any:
        async def main() -> Any:
            factory = DockerContainerFactory(engine)
            runner = ActionRunner()

            async def start(image: str) -> Container:
                return await factory.create(image, memory_mb=256, labels={RUN_LABEL: run_id})

            try:
                return await body(factory, runner, start)
            finally:
                await runner.close()

        return asyncio.run(main())

    yield _run
    for container in engine.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"}):
        container.remove(force=True)


def _texts(result: RunResult) -> list[str]:
    return [line.split(": ", 1)[1] for line in result.logs]


def _hello(image: str, **limits: int) -> ActionCode:
    return ActionCode("hello", HELLO[image], limits=ActionLimits(**limits))


@pytest.mark.parametrize("image", [PYTHON, NODEJS])
def test_hello_cold_then_warm(scenario: Callable[[Scenario], Any], image: str) -> None:
    async def body(
        factory: ContainerFactory,
        runner: ActionRunner,
        start: Callable[[str], Awaitable[Container]],
    ) -> None:
        container = await start(image)
        assert container.address.startswith("127.0.0.1:")
        cold = await runner.run(
            container, _hello(image), {"name": "x"}, activation=ACTIVATION, initialize=True
        )
        assert cold.response.status is ActivationStatus.SUCCESS
        assert cold.response.result == {"msg": "Hello World"}
        assert cold.init_time_ms is not None
        assert not cold.timed_out
        assert cold.healthy
        assert _texts(cold) == ["Hello World"]
        assert " stdout: Hello World" in cold.logs[0]
        assert all(SENTINEL not in line for line in cold.logs)

        await container.pause()
        await container.unpause()
        warm = await runner.run(container, _hello(image), {}, activation=ACTIVATION)
        assert warm.response.result == {"msg": "Hello World"}
        assert warm.init_time_ms is None
        assert _texts(warm) == ["Hello World"]  # only this activation's lines

    scenario(body)


def test_run_timeout_is_a_developer_error(scenario: Callable[[Scenario], Any]) -> None:
    code = "import time\ndef main(args):\n    print('going to sleep')\n    time.sleep(5)\n"

    async def body(
        factory: ContainerFactory,
        runner: ActionRunner,
        start: Callable[[str], Awaitable[Container]],
    ) -> RunResult:
        container = await start(PYTHON)
        action = ActionCode("sleepy", code, limits=ActionLimits(timeout=1000))
        return await runner.run(container, action, {}, initialize=True)

    begun = time.monotonic()
    result: RunResult = scenario(body)
    assert time.monotonic() - begun < 4
    assert result.response.status is ActivationStatus.DEVELOPER_ERROR
    assert result.response.result == {
        "error": "The action exceeded its time limits of 1000 milliseconds."
    }
    assert result.timed_out
    assert not result.healthy
    assert 1000 <= result.duration_ms < 3000


def test_init_failure_is_a_developer_error(scenario: Callable[[Scenario], Any]) -> None:
    async def body(
        factory: ContainerFactory,
        runner: ActionRunner,
        start: Callable[[str], Awaitable[Container]],
    ) -> RunResult:
        container = await start(PYTHON)
        action = ActionCode("broken", "def main(args) return {}\n")
        return await runner.run(container, action, {}, initialize=True)

    result: RunResult = scenario(body)
    assert result.response.status is ActivationStatus.DEVELOPER_ERROR
    error = result.response.result["error"]
    assert error.startswith("Initialization has failed due to: SyntaxError")
    assert not result.healthy
    assert not result.timed_out
    assert any("SyntaxError" in line and " stderr: " in line for line in result.logs)
    assert all(SENTINEL not in line for line in result.logs)


def test_init_timeout_mentions_initialization(scenario: Callable[[Scenario], Any]) -> None:
    code = "import time\ntime.sleep(5)\ndef main(args):\n    return {}\n"

    async def body(
        factory: ContainerFactory,
        runner: ActionRunner,
        start: Callable[[str], Awaitable[Container]],
    ) -> RunResult:
        container = await start(PYTHON)
        action = ActionCode("slowinit", code, limits=ActionLimits(timeout=1000))
        return await runner.run(container, action, {}, initialize=True)

    result: RunResult = scenario(body)
    assert result.response.result == {
        "error": "The action exceeded its time limits of 1000 milliseconds during initialization."
    }
    assert result.timed_out
    assert not result.healthy


def test_application_error_and_stderr(scenario: Callable[[Scenario], Any]) -> None:
    code = (
        "import sys\n"
        "def main(args):\n"
        "    print('to err', file=sys.stderr)\n"
        "    return {'error': 'nope'}\n"
    )

    async def body(
        factory: ContainerFactory,
        runner: ActionRunner,
        start: Callable[[str], Awaitable[Container]],
    ) -> RunResult:
        container = await start(PYTHON)
        return await runner.run(container, ActionCode("e", code), {}, initialize=True)

    result: RunResult = scenario(body)
    assert result.response.status is ActivationStatus.APPLICATION_ERROR
    assert result.response.result == {"error": "nope"}
    assert result.healthy
    assert len(result.logs) == 1
    assert " stderr: to err" in result.logs[0]


@pytest.mark.parametrize(("limit_mb", "kept"), [(0, 0), (1, 1048)])
def test_logs_are_truncated_at_the_limit(
    scenario: Callable[[Scenario], Any], limit_mb: int, kept: int
) -> None:
    # 1100 lines of 1000 bytes with their newlines: 1048 fit in 1 MB, none in 0 MB
    code = "def main(args):\n    for i in range(1100):\n        print('%999d' % i)\n    return {}\n"

    async def body(
        factory: ContainerFactory,
        runner: ActionRunner,
        start: Callable[[str], Awaitable[Container]],
    ) -> RunResult:
        container = await start(PYTHON)
        action = ActionCode("chatty", code, limits=ActionLimits(logs=limit_mb))
        return await runner.run(container, action, {}, initialize=True)

    result: RunResult = scenario(body)
    assert result.response.status is ActivationStatus.SUCCESS
    warning = (
        "Logs were truncated because the total bytes size exceeds the limit of "
        f"{limit_mb * 1024 * 1024} bytes."
    )
    assert len(result.logs) == kept + 1
    assert result.logs[-1].endswith(" stderr: " + warning)
    assert all(line.endswith(f"{i:999d}") for i, line in enumerate(result.logs[:-1]))


def test_destroy_removes_the_container(
    scenario: Callable[[Scenario], Any], engine: docker.DockerClient
) -> None:
    async def body(
        factory: ContainerFactory,
        runner: ActionRunner,
        start: Callable[[str], Awaitable[Container]],
    ) -> str:
        container = await start(PYTHON)
        inspected = engine.containers.get(container.id)
        assert inspected.labels["org.whisk.project"] == "whisk"
        assert inspected.labels["org.whisk.role"] == "action"
        host = inspected.attrs["HostConfig"]
        assert host["Memory"] == host["MemorySwap"] == 256 * 1024 * 1024
        assert not host["Privileged"]
        assert all(b["HostIp"] == "127.0.0.1" for b in host["PortBindings"]["8080/tcp"])
        await container.destroy()
        await container.destroy()  # idempotent
        return container.id

    container_id: str = scenario(body)
    with pytest.raises(docker.errors.NotFound):
        engine.containers.get(container_id)


def test_warm_latency(scenario: Callable[[Scenario], Any]) -> None:
    async def body(
        factory: ContainerFactory,
        runner: ActionRunner,
        start: Callable[[str], Awaitable[Container]],
    ) -> list[float]:
        container = await start(PYTHON)
        action = _hello(PYTHON)
        await runner.run(container, action, {}, initialize=True)
        times = []
        for _ in range(100):
            begun = time.perf_counter()
            result = await runner.run(container, action, {}, activation=ACTIVATION)
            times.append((time.perf_counter() - begun) * 1000)
            assert result.response.is_success
            assert _texts(result) == ["Hello World"]
        return times

    times: list[float] = scenario(body)
    p50 = statistics.median(times)
    print(f"warm run through the runner incl. logs: p50 {p50:.2f} ms, max {max(times):.2f} ms")
    assert p50 < 100


def test_warm_run_stays_fast_after_much_output(scenario: Callable[[Scenario], Any]) -> None:
    """Earlier output (here 10 MB) does not slow the log collection of later runs."""
    code = (
        "def main(args):\n"
        "    for i in range(args.get('n', 1)):\n"
        "        print('%99d' % i)\n"
        "    return {}\n"
    )

    async def body(
        factory: ContainerFactory,
        runner: ActionRunner,
        start: Callable[[str], Awaitable[Container]],
    ) -> list[float]:
        container = await start(PYTHON)
        action = ActionCode("chatty", code)
        await runner.run(container, action, {"n": 100_000}, initialize=True)
        times = []
        for _ in range(10):
            begun = time.perf_counter()
            result = await runner.run(container, action, {})
            times.append((time.perf_counter() - begun) * 1000)
            assert result.logs[0].endswith(" stdout: " + f"{0:99d}")
        return times

    times: list[float] = scenario(body)
    assert statistics.median(times) < 50
