"""The pure log helpers of the action runner: docker timestamps, sentinels, merge, limit."""

from __future__ import annotations

import pytest

from whisk_services.invoker.runner import (
    LogLine,
    activation_logs,
    limit_logs,
    merge_streams,
    parse_stream,
    parse_timestamp_ns,
    timeout_message,
    truncation_message,
)
from whisk_services.model.activation import format_log_line
from whisk_services.ports.containers import ContainerLogs

SENTINEL = "XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX"
T0 = "2026-11-26T16:50:15.123456789Z"
T0_NS = 1_795_711_815_123_456_789


def test_parse_timestamp_nanoseconds() -> None:
    assert parse_timestamp_ns(T0) == T0_NS
    assert parse_timestamp_ns("2026-11-26T16:50:15Z") == T0_NS - 123_456_789
    assert parse_timestamp_ns("2026-11-26T16:50:15.5Z") == T0_NS - 123_456_789 + 500_000_000


@pytest.mark.parametrize("bad", ["", "2026-11-26T16:50:15", "2026-11-26T16:50:15.x1Z", "nope Z"])
def test_parse_timestamp_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match=r".+"):
        parse_timestamp_ns(bad)


def test_parse_stream_stops_at_the_sentinel() -> None:
    text = f"{T0} hello world\n{T0} second  line \n{T0} {SENTINEL}\n{T0} next activation\n"
    lines, found = parse_stream(text, "stdout")
    assert found
    assert lines == [
        LogLine(T0_NS, "stdout", "hello world"),
        LogLine(T0_NS, "stdout", "second  line "),
    ]


def test_parse_stream_without_sentinel_and_empty_lines() -> None:
    lines, found = parse_stream(f"{T0} \n{T0} a\n", "stderr")
    assert not found
    assert [line.text for line in lines] == ["", "a"]
    assert parse_stream("", "stdout") == ([], False)


def test_untimestamped_line_keeps_previous_time() -> None:
    lines, _ = parse_stream(f"{T0} a\nraw text\n", "stdout")
    assert lines[1] == LogLine(T0_NS, "stdout", "raw text")


def test_merge_orders_by_time_stdout_first_on_ties() -> None:
    out = [LogLine(1, "stdout", "o1"), LogLine(3, "stdout", "o3")]
    err = [LogLine(1, "stderr", "e1"), LogLine(2, "stderr", "e2")]
    assert [line.text for line in merge_streams(out, err)] == ["o1", "e1", "e2", "o3"]


def test_line_format_is_openwhisks() -> None:
    line = LogLine(T0_NS, "stdout", "hi")
    assert line.format() == format_log_line(T0_NS // 1_000_000, "stdout", "hi")
    assert line.format() == "2026-11-26T16:50:15.123Z       stdout: hi"


def test_limit_keeps_what_fits_then_warns() -> None:
    lines = [LogLine(i, "stdout", "x" * 9) for i in range(5)]  # 10 bytes each with newline
    assert len(limit_logs(lines, 50, 0)) == 5
    cut = limit_logs(lines, 35, 0)
    assert cut[:3] == [line.format() for line in lines[:3]]
    assert cut[3] == format_log_line(0, "stderr", truncation_message(35))
    assert len(cut) == 4


def test_limit_zero_keeps_only_the_warning() -> None:
    assert limit_logs([LogLine(0, "stdout", "")], 0, 7) == [
        format_log_line(7, "stderr", truncation_message(0))
    ]
    assert limit_logs([], 0, 7) == []


def test_limit_counts_utf8_bytes() -> None:
    line = LogLine(0, "stdout", "é")  # 2 bytes, 3 with its newline
    assert limit_logs([line], 2, 0) == [format_log_line(0, "stderr", truncation_message(2))]
    assert limit_logs([line], 3, 0) == [line.format()]


def test_activation_logs_needs_both_sentinels() -> None:
    done = f"{T0} {SENTINEL}\n"
    logs, found = activation_logs(ContainerLogs(f"{T0} out\n" + done, f"{T0} err\n"), 100, 0)
    assert not found
    assert [line.split(": ", 1)[1] for line in logs] == ["out", "err"]
    logs, found = activation_logs(ContainerLogs(done, done), 100, 0)
    assert found
    assert logs == []


def test_timeout_messages() -> None:
    assert timeout_message(1000, init=False) == (
        "The action exceeded its time limits of 1000 milliseconds."
    )
    assert timeout_message(5, init=True) == (
        "The action exceeded its time limits of 5 milliseconds during initialization."
    )
    assert truncation_message(0) == (
        "Logs were truncated because the total bytes size exceeds the limit of 0 bytes."
    )
