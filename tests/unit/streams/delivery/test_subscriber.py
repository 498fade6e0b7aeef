"""`aduan subscribe` without a broker: it drops repeated events, commits only what it has written,
starts where it is told, and prints what a post's author wrote, never what a terminal would act
on."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from kafka import TopicPartition

from schemas.topics import agency_group
from streams.delivery import subscriber
from streams.delivery.subscriber import _copy, _StartAt, for_terminal

# An author name that sets the window title and clears the screen, a text with a C1 CSI, DEL,
# a right-to-left override and a line separator: orjson escapes the C0 controls only.
EVENT = {
    "event_id": "e1",
    "author": {"name": "Warga\x1b]0;pwned\x07\x1b[2J", "username": "warga"},
    "text": "lapor\x9b31m merah\x7f \u202egnp.exe\u202c baris\u2028dua\u2029",
}
ESCAPED = (
    '"Warga\\u001b]0;pwned\\u0007\\u001b[2J"',
    "lapor\\u009b31m merah\\u007f \\u202egnp.exe\\u202c baris\\u2028dua\\u2029",
)


def event(event_id: str) -> dict[str, Any]:
    return {"event_id": event_id, "text": f"keluhan {event_id}"}


def line(event_id: str) -> bytes:
    return orjson.dumps(event(event_id)) + b"\n"


class Consumer:
    """A kafka-python consumer that gives `batches` of events, one a poll, then nothing; it notes
    what each poll asked for and what the sink held at each commit."""

    def __init__(
        self,
        *batches: list[dict[str, Any]],
        sink: io.BytesIO | None = None,
        on_poll: Callable[[], None] = lambda: None,
    ) -> None:
        self.batches = [
            {"tp": [SimpleNamespace(value=orjson.dumps(e)) for e in batch]} if batch else {}
            for batch in batches
        ]
        self.sink = sink
        self.on_poll = on_poll
        self.asked: list[int] = []
        self.committed_after: list[bytes] = []

    def poll(self, timeout_ms: int, max_records: int) -> dict[str, Any]:
        self.on_poll()
        self.asked.append(max_records)
        return self.batches.pop(0) if self.batches else {}

    def commit(self) -> None:
        self.committed_after.append(b"" if self.sink is None else self.sink.getvalue())


def test_a_repeated_event_id_is_written_once_within_a_batch_and_across_batches() -> None:
    sink = io.BytesIO()
    consumer = Consumer(
        [event("1:0:bpk-jateng"), event("2:0:bpk-jateng"), event("1:0:bpk-jateng")],
        [event("2:0:bpk-jateng"), event("3:0:bpk-jateng")],
    )
    assert _copy(consumer, sink, max_events=None, idle_timeout=0) == 3
    assert sink.getvalue() == line("1:0:bpk-jateng") + line("2:0:bpk-jateng") + line(
        "3:0:bpk-jateng"
    )


def test_only_the_latest_event_ids_are_remembered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subscriber, "_REMEMBERED_EVENT_IDS", 2)
    sink = io.BytesIO()
    consumer = Consumer([event("a"), event("b"), event("c")], [event("c"), event("b"), event("a")])
    # After c, only b and c are remembered: their repeats are dropped, a's is written again.
    assert _copy(consumer, sink, max_events=None, idle_timeout=0) == 4
    assert sink.getvalue() == line("a") + line("b") + line("c") + line("a")


def test_each_batch_is_committed_after_it_is_written() -> None:
    sink = io.BytesIO()
    consumer = Consumer([event("a"), event("b")], [], [event("b")], [event("c")], sink=sink)
    _copy(consumer, sink, max_events=3, idle_timeout=None)
    # The second batch holds only a repeat: it writes nothing and is still committed.
    assert consumer.committed_after == [
        line("a") + line("b"),
        line("a") + line("b"),
        line("a") + line("b") + line("c"),
    ]


def test_it_never_fetches_more_than_max_events_still_wanted() -> None:
    consumer = Consumer([event("a"), event("b")], [event("c")])
    assert _copy(consumer, io.BytesIO(), max_events=3, idle_timeout=None) == 3
    assert consumer.asked == [3, 1]


def test_idle_time_is_counted_from_the_last_event(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SimpleNamespace(now=0.0)

    def half_a_second_a_poll() -> None:
        clock.now += 0.5

    monkeypatch.setattr(subscriber, "time", SimpleNamespace(monotonic=lambda: clock.now))
    consumer = Consumer([event("a")], [], [event("b")], on_poll=half_a_second_a_poll)
    # Polls end at 0.5 s (a), 1.0, 1.5 (b), 2.0, 2.5: a second after b, not after the start.
    assert _copy(consumer, io.BytesIO(), max_events=None, idle_timeout=1.0) == 2
    assert clock.now == 2.5


def test_a_pipe_or_file_gets_the_exact_json() -> None:
    sink = io.BytesIO()
    assert _copy(Consumer([EVENT]), sink, max_events=1, idle_timeout=None) == 1
    assert sink.getvalue() == orjson.dumps(EVENT, option=orjson.OPT_APPEND_NEWLINE)


def test_a_terminal_gets_control_characters_escaped_and_the_same_event() -> None:
    reader, writer = os.openpty()
    try:
        with os.fdopen(writer, "wb", closefd=False) as terminal:
            assert terminal.isatty()
            _copy(Consumer([EVENT]), terminal, max_events=1, idle_timeout=None)
        shown = os.read(reader, 4096)
    finally:
        os.close(reader)
        os.close(writer)
    line = shown.replace(b"\r\n", b"\n")  # the terminal's own newline translation
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    text = line.decode()
    assert all(part in text for part in ESCAPED), text
    assert not any(
        (ord(char) < 0x20 and char != "\n") or 0x7F <= ord(char) <= 0x9F or char in "\u202e\u2028"
        for char in text
    )
    assert orjson.loads(line) == EVENT


def test_a_terminal_shows_ordinary_text_and_the_line_end_as_they_are() -> None:
    plain = '{"text":"Jalan rusak di Kudus 🙏 Matur nuwun. — Café","n":1}\n'.encode()
    assert for_terminal(plain) == plain


def test_an_agency_reads_in_a_group_named_after_it() -> None:
    # Operators grant this name (aduan agencies grant): it must not change.
    assert agency_group("kejati-jateng") == "aduan-agency-kejati-jateng"


class Seeks:
    """The seeks a `_StartAt` makes on its consumer."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def seek_to_beginning(self, *partitions: TopicPartition) -> None:
        self.calls.append(("beginning", *partitions))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.calls.append(("offset", partition, offset))

    def seek_to_end(self, partition: TopicPartition) -> None:
        self.calls.append(("end", partition))


P0, P1, P2 = (TopicPartition("complaints.bpk-jateng", p) for p in range(3))


def test_from_beginning_rewinds_each_partition_once() -> None:
    consumer = Seeks()
    start = _StartAt(consumer, since=None)
    start.on_partitions_assigned([P0, P1])
    start.on_partitions_assigned([P0, P1, P2])  # a rebalance: P0 and P1 are being read already
    assert consumer.calls == [("beginning", P0, P1), ("beginning", P2)]


def test_since_moves_each_partition_once_to_its_offset_or_its_end() -> None:
    consumer = Seeks()
    start = _StartAt(consumer, since={P0: 40, P1: None, P2: 7})
    start.on_partitions_assigned([P0, P1])
    start.on_partitions_assigned([P0, P1, P2])
    assert consumer.calls == [("offset", P0, 40), ("end", P1), ("offset", P2, 7)]
