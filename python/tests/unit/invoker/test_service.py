"""The invoker's activation service, feed and record writer, on in-memory ports.

The runner is replaced by one that answers from a script (no HTTP); the pool, the action
cache, the bus and the stores are the real classes over in-memory adapters.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from whisk_services.adapters.memory import MemoryDocumentStore
from whisk_services.adapters.memory_bus import MemoryBus
from whisk_services.adapters.memory_containers import MemoryContainer, MemoryContainerFactory
from whisk_services.invoker.actions import ACTION_REMOVED, ActionSource
from whisk_services.invoker.main import MessageFeed
from whisk_services.invoker.pool import ContainerPool
from whisk_services.invoker.records import ActivationRecords
from whisk_services.invoker.runner import ActionCode, ActionRunner, Execution, RunResult
from whisk_services.invoker.service import (
    INTERNAL_ERROR,
    MEMORY_EXHAUSTED,
    ActivationService,
    image_pull_failed,
)
from whisk_services.model.activation import Activation, ActivationResponse, ActivationStatus
from whisk_services.model.entities import Action
from whisk_services.model.messages import ActivationMessage, CompletionMessage, MessageUser
from whisk_services.model.names import EntityPath, FullyQualifiedName
from whisk_services.ports.containers import Container
from whisk_services.ports.documents import DocumentStoreError
from whisk_services.ports.messaging import TopicSpec

IMAGES = {"python:3.11": "whisk/action-python:3.11", "nodejs:18": "whisk/action-nodejs:18"}
USER = MessageUser("guest-subject", "guest", "uuid-of-guest")


def run(body: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(body(), timeout=10))


class ScriptedRunner(ActionRunner):
    """Answers each run with ``answer(container, action, args)``; records every call."""

    def __init__(
        self, answer: Callable[[Container, ActionCode, Mapping[str, Any]], RunResult]
    ) -> None:
        super().__init__()
        self.answer = answer
        self.calls: list[dict[str, Any]] = []

    async def execute(
        self,
        container: Container,
        action: ActionCode,
        args: Mapping[str, Any],
        *,
        activation: Mapping[str, str] | None = None,
        initialize: bool = False,
    ) -> Execution:
        self.calls.append(
            {
                "container": container.id,
                "action": action,
                "args": dict(args),
                "activation": dict(activation or {}),
                "initialize": initialize,
            }
        )
        result = self.answer(container, action, args)
        return Execution(
            result.response,
            result.init_time_ms,
            result.duration_ms,
            0.0,
            action.limits,
            result.timed_out,
            result.healthy,
            logs=result.logs,
        )


def echo(_container: Container, _action: ActionCode, args: Mapping[str, Any]) -> RunResult:
    return RunResult(ActivationResponse.success(dict(args)), ["line"], 5, 7)


class Bed:
    """An ActivationService over in-memory everything."""

    def __init__(self, answer: Callable[..., RunResult] = echo) -> None:
        self.whisks = MemoryDocumentStore("whisks")
        self.activations = MemoryDocumentStore("activations")
        self.bus = MemoryBus()
        self.factory = MemoryContainerFactory()
        self.pool = ContainerPool(self.factory, user_memory_mb=1024, pause_grace_s=3600)
        self.runner = ScriptedRunner(answer)
        self.records = ActivationRecords(self.activations)
        self.source = ActionSource(self.whisks)
        self.service = ActivationService(
            instance=3,
            actions=self.source,
            pool=self.pool,
            runner=self.runner,
            producer=self.bus.producer(),
            records=self.records,
            runtime_images=IMAGES,
            api_host="https://whisk.example",
        )

    async def start(self) -> None:
        await self.bus.ensure_topics([TopicSpec("completed0", 1000)])
        self.records.start()

    async def stop(self) -> None:
        await self.records.close()
        await self.pool.close()

    async def store_action(self, name: str, body: dict[str, Any]) -> str:
        action = Action.from_api(body, EntityPath(("guest",)), name)
        return await self.whisks.put(f"guest/{name}", action.to_doc())

    def completions(self) -> list[CompletionMessage]:
        return [CompletionMessage.decode(v) for t, v in self.bus.sent if t == "completed0"]


def message(revision: str, *, name: str = "hello", blocking: bool = True, **extra: Any) -> Any:
    fields: dict[str, Any] = {
        "transid": "tid-1",
        "action": FullyQualifiedName.parse(f"/guest/{name}"),
        "action_version": "0.0.1",
        "revision": revision,
        "user": USER,
        "activation_id": "a" * 31 + str(extra.pop("n", 1) % 10),
        "controller": 0,
        "blocking": blocking,
        "content": {"name": "World"},
        "accepted_ms": 1,
    }
    fields.update(extra)
    return ActivationMessage(**fields)


PY_HELLO = {"exec": {"kind": "python:3.11", "code": "def main(a): return a"}}


def test_a_run_ends_in_a_completion_then_a_record() -> None:
    async def body() -> None:
        bed = Bed()
        await bed.start()
        rev = await bed.store_action("hello", PY_HELLO)
        record = await bed.service.handle(message(rev))
        await bed.stop()
        assert record.response == ActivationResponse.success({"name": "World"})
        assert (record.namespace, record.name, record.subject) == ("guest", "hello", USER.subject)
        annotations = record.annotations.to_dict()
        assert annotations["path"] == "guest/hello"
        assert annotations["kind"] == "python:3.11"
        assert annotations["timeout"] is False
        assert annotations["initTime"] == 5
        assert annotations["limits"] == {
            "timeout": 60000,
            "memory": 256,
            "logs": 10,
            "concurrency": 1,
        }
        assert annotations["waitTime"] == record.start - 1
        (completion,) = bed.completions()
        assert completion.invoker == 3
        assert completion.is_system_error is False
        assert completion.activation == {**record.to_api(), "logs": []}
        stored = await bed.activations.get(record.doc_id())
        assert stored is not None
        assert Activation.from_doc(stored.body) == record

    run(body)


def test_a_record_too_large_for_kafka_travels_as_its_id() -> None:
    def big(*_: Any) -> RunResult:
        return RunResult(ActivationResponse.success({"blob": "x" * 950_000}), [], None, 1)

    async def body() -> None:
        bed = Bed(big)
        await bed.start()
        rev = await bed.store_action("hello", PY_HELLO)
        record = await bed.service.handle(message(rev))
        await bed.stop()
        (completion,) = bed.completions()
        assert completion.activation is None
        assert completion.activation_id == record.activation_id

    run(body)


def test_the_completion_leaves_before_the_logs_are_read() -> None:
    class Watching(ScriptedRunner):
        completions_at_logs: int = -1

        async def logs(self, container: Container, execution: Execution) -> list[str]:
            self.completions_at_logs = len(bed.completions())
            return await super().logs(container, execution)

    bed = Bed()
    watching = Watching(echo)
    bed.service._runner = watching

    async def body() -> None:
        await bed.start()
        rev = await bed.store_action("hello", PY_HELLO)
        record = await bed.service.handle(message(rev))
        await bed.stop()
        assert watching.completions_at_logs == 1
        assert record.logs == ("line",)

    run(body)


def test_records_wait_a_moment_to_batch() -> None:
    class Counting(MemoryDocumentStore):
        sizes: list[int]

        async def put_many(self, docs: Any) -> list[str | None]:
            self.sizes.append(len(docs))
            return await super().put_many(docs)

    async def body() -> None:
        store = Counting("activations")
        store.sizes = []
        records = ActivationRecords(store, batch_window_s=0.2)
        records.start()
        for n in range(4):
            records.add(activation(n))
            await asyncio.sleep(0.01)
        await records.close()
        assert store.sizes == [4]

    run(body)


def test_a_sequence_component_is_annotated_as_caused_by_the_sequence() -> None:
    async def body() -> None:
        bed = Bed()
        await bed.start()
        rev = await bed.store_action("hello", PY_HELLO)
        plain = await bed.service.handle(message(rev))
        component = await bed.service.handle(message(rev, n=2, cause="c" * 32))
        await bed.stop()
        assert "causedBy" not in plain.annotations
        assert component.annotations.get("causedBy") == "sequence"
        assert component.cause == "c" * 32

    run(body)


def test_non_blocking_completion_carries_only_the_id() -> None:
    async def body() -> None:
        bed = Bed()
        await bed.start()
        rev = await bed.store_action("hello", PY_HELLO)
        await bed.service.handle(message(rev, blocking=False))
        await bed.stop()
        (completion,) = bed.completions()
        assert completion.activation is None
        assert completion.activation_id == "a" * 31 + "1"

    run(body)


def test_run_fields_and_init_environment() -> None:
    async def body() -> None:
        bed = Bed()
        await bed.start()
        rev = await bed.store_action(
            "hello",
            {
                **PY_HELLO,
                "parameters": [{"key": "db", "value": {"u": 1}, "init": True}],
                "annotations": [{"key": "provide-api-key", "value": True}],
            },
        )
        await bed.service.handle(message(rev, api_key="uuid:key"))
        await bed.stop()
        (call,) = bed.runner.calls
        assert call["initialize"] is True
        assert call["activation"] == {
            "namespace": "guest",
            "action_name": "/guest/hello",
            "action_version": "0.0.1",
            "activation_id": "a" * 31 + "1",
            "transaction_id": "tid-1",
            "api_host": "https://whisk.example",
            "api_key": "uuid:key",
        }
        env = call["action"].env
        assert env["db"] == json.dumps({"u": 1}, separators=(",", ":"))
        assert env["__OW_ACTION_NAME"] == "/guest/hello"
        assert "__OW_API_KEY" not in env

    run(body)


def test_api_key_stays_home_without_the_annotation() -> None:
    async def body() -> None:
        bed = Bed()
        await bed.start()
        rev = await bed.store_action("hello", PY_HELLO)
        await bed.service.handle(message(rev, api_key="uuid:key"))
        await bed.stop()
        assert "api_key" not in bed.runner.calls[0]["activation"]

    run(body)


def test_warm_container_is_reused_without_init_and_new_revision_is_not() -> None:
    async def body() -> None:
        bed = Bed()
        await bed.start()
        rev = await bed.store_action("hello", PY_HELLO)
        for n in range(3):
            await bed.service.handle(message(rev, n=n))
        assert bed.source.fetches == 1
        rev2 = await bed.whisks.put(
            "guest/hello",
            Action.from_api(PY_HELLO, EntityPath(("guest",)), "hello").to_doc(),
            rev,
        )
        await bed.service.handle(message(rev2, n=4))
        await bed.stop()
        calls = bed.runner.calls
        assert [c["initialize"] for c in calls] == [True, False, False, True]
        assert len({c["container"] for c in calls[:3]}) == 1
        assert calls[3]["container"] != calls[0]["container"]
        assert bed.source.fetches == 2

    run(body)


def test_missing_action_is_recorded_as_an_application_error() -> None:
    async def body() -> None:
        bed = Bed()
        await bed.start()
        record = await bed.service.handle(message("1-gone"))
        await bed.stop()
        assert record.response == ActivationResponse.application_error({"error": ACTION_REMOVED})
        assert bed.factory.count("create") == 0
        assert await bed.activations.get(record.doc_id()) is not None

    run(body)


def test_a_crash_in_the_platform_is_a_whisk_error_and_the_container_goes() -> None:
    def explode(*_: Any) -> RunResult:
        raise RuntimeError("boom")

    async def body() -> None:
        bed = Bed(explode)
        await bed.start()
        rev = await bed.store_action("hello", PY_HELLO)
        record = await bed.service.handle(message(rev))
        await bed.stop()
        assert record.response == ActivationResponse.whisk_error(INTERNAL_ERROR)
        assert bed.completions()[0].is_system_error is True
        assert bed.factory.alive() == []
        assert await bed.activations.get(record.doc_id()) is not None

    run(body)


def test_an_oom_killed_container_reports_memory_exhaustion() -> None:
    def died(container: Container, *_: Any) -> RunResult:
        assert isinstance(container, MemoryContainer)
        container.out_of_memory = True
        return RunResult(ActivationResponse.developer_error("exited"), [], None, 3, healthy=False)

    async def body() -> None:
        bed = Bed(died)
        await bed.start()
        rev = await bed.store_action("hello", PY_HELLO)
        record = await bed.service.handle(message(rev))
        await bed.stop()
        assert record.response == ActivationResponse.developer_error(MEMORY_EXHAUSTED)
        assert bed.factory.count("destroy") == 1

    run(body)


def test_a_blackbox_image_that_cannot_start_is_a_developer_error() -> None:
    async def body() -> None:
        bed = Bed()
        await bed.start()
        rev = await bed.store_action("box", {"exec": {"kind": "blackbox", "image": "no/such"}})
        bed.factory.fail_creates = 1
        record = await bed.service.handle(message(rev, name="box"))
        await bed.stop()
        assert record.response == ActivationResponse.developer_error(image_pull_failed("no/such"))
        assert record.response.status is ActivationStatus.DEVELOPER_ERROR

    run(body)


def test_a_timed_out_run_is_annotated() -> None:
    def slow(*_: Any) -> RunResult:
        return RunResult(
            ActivationResponse.developer_error("late"), [], None, 9, timed_out=True, healthy=False
        )

    async def body() -> None:
        bed = Bed(slow)
        await bed.start()
        rev = await bed.store_action("hello", PY_HELLO)
        record = await bed.service.handle(message(rev))
        await bed.stop()
        assert record.annotations.get("timeout") is True
        assert bed.factory.alive() == []

    run(body)


def test_records_batch_while_a_write_is_under_way_and_retry_failures() -> None:
    class SlowFlakyStore(MemoryDocumentStore):
        def __init__(self) -> None:
            super().__init__("activations")
            self.batch_sizes: list[int] = []
            self.failures = 1
            self.gate = asyncio.Event()

        async def put_many(self, docs: Any) -> list[str | None]:
            self.batch_sizes.append(len(docs))
            if self.failures:
                self.failures -= 1
                raise DocumentStoreError("down for a moment")
            await self.gate.wait()
            return await super().put_many(docs)

    async def body() -> None:
        store = SlowFlakyStore()
        records = ActivationRecords(store, batch_window_s=0)
        records.start()
        made = [activation(n) for n in range(6)]
        records.add(made[0])
        await asyncio.sleep(0.2)  # the first try fails, the retry waits at the gate
        for record in made[1:]:
            records.add(record)
        store.gate.set()
        await records.close()
        assert store.batch_sizes == [1, 1, 5]
        assert records.written == 6
        for record in made:
            assert await store.get(record.doc_id()) is not None

    run(body)


def activation(n: int) -> Activation:
    return Activation(
        "guest", "hello", "s", f"{n:032x}", 10, 20, ActivationResponse.success({"n": n})
    )


def test_feed_skips_malformed_messages_and_bounds_work_in_flight() -> None:
    async def body() -> None:
        release = asyncio.Event()
        running: list[int] = []
        peak = 0

        class Holding:
            async def handle(self, msg: ActivationMessage) -> None:
                nonlocal peak
                running.append(1)
                peak = max(peak, len(running))
                await release.wait()
                running.pop()

        bus = MemoryBus()
        await bus.ensure_topics([TopicSpec("invoker0", 1000)])
        producer = bus.producer()
        await producer.send("invoker0", b"not json")
        for n in range(5):
            await producer.send("invoker0", message("1-a", n=n).encode())
        consumer = await bus.consumer("invoker0", "invoker0", "from_start")
        feed = MessageFeed(consumer, Holding(), max_in_flight=2)  # type: ignore[arg-type]
        reading = asyncio.create_task(feed.run())
        await asyncio.sleep(0.05)
        assert len(running) == 2
        release.set()
        await asyncio.sleep(0.05)
        await consumer.close()
        await reading
        await feed.drain()
        assert peak == 2
        assert bus.offsets[("invoker0", "invoker0")] == 6

    run(body)


def test_a_fresh_container_message_runs_in_a_new_container_each_time() -> None:
    async def body() -> None:
        bed = Bed()
        await bed.start()
        rev = await bed.store_action("hello", PY_HELLO)
        await bed.service.handle(message(rev, n=1))  # leaves a warm container
        await bed.service.handle(message(rev, n=2, fresh_container=True))
        await bed.service.handle(message(rev, n=3, fresh_container=True))
        containers = [call["container"] for call in bed.runner.calls]
        assert len(set(containers)) == 3
        assert [call["initialize"] for call in bed.runner.calls] == [True, True, True]
        assert bed.pool.free_count == 1  # only the ordinary run's container stays
        await bed.stop()

    run(body)
