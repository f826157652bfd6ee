"""The container pool on real Docker containers of whisk/action-python:3.11 (``make images``).

Every container the pool creates carries a label unique to the test; the tests check by it
that ``close()`` leaves none, and remove any left over afterwards.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import docker
import pytest

from whisk_services.adapters.docker_containers import DockerContainerFactory
from whisk_services.invoker.pool import ContainerPool, Prewarm
from whisk_services.invoker.runner import ActionCode, ActionRunner

pytestmark = pytest.mark.integration

KIND = "python:3.11"
PYTHON = "whisk/action-python:3.11"
RUN_LABEL = "org.whisk.test-run"
Result = dict[str, Any]
COUNTER = ActionCode(
    "counter",
    "calls = 0\n"
    "def main(args):\n"
    "    global calls\n"
    "    calls += 1\n"
    "    return {'calls': calls, 'echo': args.get('i')}\n",
)


@pytest.fixture(scope="module")
def engine() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    yield client
    client.close()


@pytest.fixture
def run_id(engine: docker.DockerClient) -> Iterator[str]:
    run = uuid.uuid4().hex
    yield run
    for container in engine.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run}"}):
        container.remove(force=True)


def labelled(engine: docker.DockerClient, run_id: str) -> list[str]:
    found = engine.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_id}"})
    return [container.id for container in found]


def make_pool(
    engine: docker.DockerClient,
    run_id: str,
    *,
    pause_grace_s: float = 600.0,
    prewarm: Sequence[Prewarm] = (),
) -> ContainerPool:
    return ContainerPool(
        DockerContainerFactory(engine),
        user_memory_mb=512,
        pause_grace_s=pause_grace_s,
        idle_timeout_s=600.0,
        prewarm=prewarm,
        labels={RUN_LABEL: run_id},
    )


async def run_once(pool: ContainerPool, runner: ActionRunner, i: int) -> tuple[str, bool, Result]:
    lease = await pool.acquire("guest/counter", KIND, PYTHON, 256)
    try:
        result = await runner.run(lease.container, COUNTER, {"i": i}, initialize=lease.needs_init)
    except BaseException:
        await pool.release(lease, healthy=False)
        raise
    await pool.release(lease, healthy=result.healthy)
    assert result.response.is_success, result.response.result
    return lease.container.id, lease.needs_init, result.response.result


def test_sequential_runs_reuse_one_container(engine: docker.DockerClient, run_id: str) -> None:
    async def body() -> list[tuple[str, bool, Result]]:
        pool = make_pool(engine, run_id)
        runner = ActionRunner()
        try:
            return [await run_once(pool, runner, i) for i in range(20)]
        finally:
            await runner.close()
            await pool.close()

    runs = asyncio.run(body())
    assert len({container_id for container_id, _, _ in runs}) == 1
    assert [needs_init for _, needs_init, _ in runs] == [True] + [False] * 19
    assert [result for _, _, result in runs] == [{"calls": i + 1, "echo": i} for i in range(20)]
    assert labelled(engine, run_id) == []


def test_pause_after_grace_then_unpause(engine: docker.DockerClient, run_id: str) -> None:
    async def body() -> None:
        pool = make_pool(engine, run_id, pause_grace_s=0.2)
        runner = ActionRunner()
        try:
            first_id, _, first = await run_once(pool, runner, 1)
            deadline = time.monotonic() + 10
            while pool.stats.pauses == 0:
                assert time.monotonic() < deadline, "never paused"
                await asyncio.sleep(0.05)
            assert engine.containers.get(first_id).status == "paused"

            second_id, needs_init, second = await run_once(pool, runner, 2)
            assert second_id == first_id
            assert not needs_init
            assert second == {"calls": 2, "echo": 2}  # the same process, resumed
            assert pool.stats.unpauses == 1
            assert engine.containers.get(first_id).status == "running"
            assert first == {"calls": 1, "echo": 1}
        finally:
            await runner.close()
            await pool.close()

    asyncio.run(body())
    assert labelled(engine, run_id) == []


def test_stem_cell_serves_the_first_run(engine: docker.DockerClient, run_id: str) -> None:
    async def body() -> None:
        pool = make_pool(engine, run_id, prewarm=[Prewarm(KIND, PYTHON, 256, 1)])
        runner = ActionRunner()
        try:
            await pool.start()
            stem = labelled(engine, run_id)
            assert len(stem) == 1
            container_id, needs_init, result = await run_once(pool, runner, 7)
            assert container_id == stem[0]
            assert needs_init
            assert result == {"calls": 1, "echo": 7}
            assert pool.stats.cold_starts == 0
        finally:
            await runner.close()
            await pool.close()

    asyncio.run(body())
    assert labelled(engine, run_id) == []
