"""`streams.x.reads`: the month's count of posts X returned, its metrics, its warnings, and its
record in the checkpoint topic (`streams.x.checkpoints`), without a broker."""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from schemas.topics import CHECKPOINT_TOPIC
from streams.errors import BrokerError
from streams.metrics.producer import ProducerMetrics
from streams.settings import Settings
from streams.x import checkpoints
from streams.x.checkpoints import KafkaCheckpoints
from streams.x.reads import PostReads
from tests.unit.streams.x.memory_reads import Clock, MemoryReads
from tests.unit.streams.x.payloads import KEJATI, sample


def posts(*ids: str) -> list[dict[str, Any]]:
    """The `data` of a response: only the ids matter to the count."""
    return [{"id": ident, "text": f"post {ident}"} for ident in ids]


def counted(
    store: MemoryReads, clock: Clock, budget: int = 0, source: str = "x-poll"
) -> tuple[PostReads, ProducerMetrics]:
    metrics = ProducerMetrics(CollectorRegistry(), source)
    return PostReads(source, budget, store, metrics, clock), metrics


def test_a_restarted_source_goes_on_from_its_stored_count_and_sets_the_gauges() -> None:
    store = MemoryReads({("x-poll", "2024-05"): 1200, ("x-stream", "2024-05"): 40})
    reads, metrics = counted(store, Clock("2024-05-20T08:00:00+00:00"), budget=2000)

    assert sample(metrics, "aduan_x_posts_read_this_month") == 1200
    assert sample(metrics, "aduan_x_posts_read_monthly_budget") == 2000
    reads.add(posts("1", "2", "3"))
    assert sample(metrics, "aduan_x_posts_read_this_month") == 1203
    assert sample(metrics, "aduan_x_posts_read_total") == 3  # this process's reads
    reads.save()
    assert store.stored == {("x-poll", "2024-05"): 1203, ("x-stream", "2024-05"): 40}


def test_without_a_budget_the_budget_gauge_is_0_and_nothing_is_warned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    reads, metrics = counted(MemoryReads(), Clock("2024-05-20T08:00:00+00:00"))
    with caplog.at_level(logging.WARNING, logger="streams.x.reads"):
        reads.add(posts(*map(str, range(500))))
    assert sample(metrics, "aduan_x_posts_read_monthly_budget") == 0
    assert sample(metrics, "aduan_x_posts_read_this_month") == 500
    assert caplog.records == []


def test_a_post_counts_once_a_utc_day_as_x_bills_it() -> None:
    clock = Clock("2024-05-20T23:59:00+00:00")
    reads, metrics = counted(MemoryReads(), clock)
    reads.add(posts("1", "2"))
    reads.add(posts("2", "3"))  # an answer of one agency that mentions another, read twice
    assert reads.count == 3
    clock.set("2024-05-21T00:00:01+00:00")
    reads.add(posts("2"))  # a new UTC day: billed again
    # No id to tell a repeat by: each one counts.
    reads.add([{"text": "no id"}, "not a post", {"text": "no id"}])
    assert reads.count == 7
    assert sample(metrics, "aduan_x_posts_read_total") == 7


def test_a_new_month_stores_the_last_ones_count_and_starts_from_0() -> None:
    store = MemoryReads({("x-poll", "2024-05"): 100})
    clock = Clock("2024-05-31T23:59:30+00:00")
    reads, metrics = counted(store, clock)
    reads.add(posts("1", "2"))
    assert store.puts == []

    clock.set("2024-06-01T00:00:10+00:00")
    # Scraped before the month's first read: June has none yet.
    assert sample(metrics, "aduan_x_posts_read_this_month") == 0
    reads.add(posts("2", "3"))  # "2" again, but on another day
    assert store.puts == [("x-poll", "2024-05", 102)]  # May closed at its last count
    assert sample(metrics, "aduan_x_posts_read_this_month") == 2
    assert sample(metrics, "aduan_x_posts_read_total") == 4
    reads.save()
    assert store.stored == {("x-poll", "2024-05"): 102, ("x-poll", "2024-06"): 2}


def test_the_count_is_stored_only_when_it_changed_and_at_most_as_often_as_asked() -> None:
    store = MemoryReads()
    clock = Clock("2024-05-20T08:00:00+00:00")
    reads, _ = counted(store, clock)
    reads.save()
    assert store.puts == []  # nothing read
    reads.add(posts("1"))
    reads.save(at_most_every=60)
    assert store.puts == []  # too soon after the start
    clock.advance(60)
    reads.save(at_most_every=60)
    reads.save(at_most_every=60)
    assert store.puts == [("x-poll", "2024-05", 1)]
    reads.add(posts("2"))
    reads.save()
    assert store.puts[-1] == ("x-poll", "2024-05", 2)


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_the_month_is_warned_about_once_at_80_percent_and_once_at_the_budget(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock("2024-05-20T08:00:00+00:00")
    reads, _ = counted(MemoryReads(), clock, budget=10)
    with caplog.at_level(logging.WARNING, logger="streams.x.reads"):
        reads.add(posts(*"1234567"))
        assert warnings_of(caplog) == []
        reads.add(posts("8"))
        reads.add(posts("9"))
        assert warnings_of(caplog) == [
            "x-poll has read 8 posts from X in 2024-05, 80% of ADUAN_X_MONTHLY_READS=10"
        ]
        reads.add(posts("10", "11", "12"))
        reads.add(posts("13"))
        assert len(warnings_of(caplog)) == 2
        assert warnings_of(caplog)[1].startswith(
            "x-poll has read 12 posts from X in 2024-05, the budget of ADUAN_X_MONTHLY_READS=10: "
            "X refuses post reads past the plan's monthly cap"
        )
        clock.set("2024-06-01T00:00:00+00:00")
        reads.add(posts(*"12345678"))  # a new month warns anew
    assert len(warnings_of(caplog)) == 3
    assert "read 8 posts from X in 2024-06, 80%" in warnings_of(caplog)[2]


def test_a_source_restarted_past_80_percent_warns_at_start_not_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryReads({("x-stream", "2024-05"): 850})
    with caplog.at_level(logging.WARNING, logger="streams.x.reads"):
        reads, _ = counted(store, Clock("2024-05-20T08:00:00+00:00"), 1000, "x-stream")
        reads.add(posts("1"))
    assert warnings_of(caplog) == [
        "x-stream has read 850 posts from X in 2024-05, 85% of ADUAN_X_MONTHLY_READS=1000"
    ]


class FailingReads(MemoryReads):
    def put_reads(self, source: str, month: str, count: int) -> None:
        raise BrokerError("Kafka is away")


def test_the_count_is_stored_when_the_source_stops_and_a_failure_to_store_hides_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryReads()
    reads, _ = counted(store, Clock("2024-05-20T08:00:00+00:00"))
    with pytest.raises(KeyboardInterrupt), reads.saved_on_stop():
        reads.add(posts("1", "2"))
        raise KeyboardInterrupt
    assert store.stored == {("x-poll", "2024-05"): 2}

    failing, _ = counted(FailingReads(), Clock("2024-05-20T08:00:00+00:00"))
    with pytest.raises(RuntimeError, match="X went away"), failing.saved_on_stop():
        failing.add(posts("1"))
        raise RuntimeError("X went away")
    assert "the X reads counted since the last store are lost: Kafka is away" in caplog.text


class SentRecords:
    """A KafkaProducer that acknowledges every record at once and keeps it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> Any:
        self.sent.append((topic, key, value))
        return SimpleNamespace(get=lambda timeout: None)


def stored_in_kafka(
    monkeypatch: pytest.MonkeyPatch, records: dict[bytes, bytes]
) -> tuple[KafkaCheckpoints, SentRecords]:
    """Checkpoints as a producer finds them at start when the topic holds `records`."""
    topic = [SimpleNamespace(key=key, value=value) for key, value in records.items()]
    monkeypatch.setattr(checkpoints, "read_to_end", lambda settings, name: (topic, {}))
    producer = SentRecords()
    metrics = ProducerMetrics(CollectorRegistry(), "x-poll")
    return KafkaCheckpoints(Settings.from_env({}), producer, metrics), producer


def test_the_count_is_restored_from_and_stored_in_the_checkpoint_topic_per_source_and_month(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store, producer = stored_in_kafka(
        monkeypatch,
        {
            KEJATI.encode(): b"1790000000000000040",
            b"reads:x-poll:2024-04": b"99",
            b"reads:x-poll:2024-05": b"1200",
            b"reads:x-stream:2024-05": b"7",
        },
    )
    metrics = ProducerMetrics(CollectorRegistry(), "x-poll")
    reads = PostReads("x-poll", 0, store, metrics, Clock("2024-05-20T08:00:00+00:00"))
    assert sample(metrics, "aduan_x_posts_read_this_month") == 1200
    reads.add(posts("1"))
    reads.save()

    assert producer.sent == [(CHECKPOINT_TOPIC, b"reads:x-poll:2024-05", b"1201")]
    assert store.reads("x-poll", "2024-05") == 1201
    assert store.reads("x-stream", "2024-05") == 7
    assert store.reads("x-poll", "2024-06") == 0
    assert store.get(KEJATI, "mentions") == "1790000000000000040"  # checkpoints as before


def test_a_stored_count_that_is_not_a_number_is_warned_about_and_counted_from_0(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store, _ = stored_in_kafka(monkeypatch, {b"reads:x-poll:2024-05": b"-3"})
    with caplog.at_level(logging.WARNING, logger="streams.x.checkpoints"):
        assert store.reads("x-poll", "2024-05") == 0
    assert "holds '-3' under reads:x-poll:2024-05, not a count of posts" in caplog.text
