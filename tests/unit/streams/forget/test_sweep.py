"""`streams.forget.sweep`: which messages get a tombstone or a withdrawal, read from fake topics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from agents.core.forget import Forgotten, forget_request
from agents.core.route import Router
from agents.core.split import split_line
from agents.core.verify import VerificationPolicy
from streams.errors import BrokerError
from streams.forget import sweep as sweeping
from streams.forget.sweep import sweep, text_topics
from streams.settings import Settings
from tests.unit.agents.factories import (
    CITIZEN_ID,
    KEJATI_HANDLE,
    KEJATI_ID,
    build_registry,
    make_post,
    stream_line,
)

NOW = datetime(2026, 12, 7, tzinfo=UTC)


class FakeFuture:
    def __init__(self, error: BaseException | None) -> None:
        self.error = error

    def add_errback(self, errback: Any) -> FakeFuture:
        if self.error is not None:
            errback(self.error)
        return self


class FakeProducer:
    def __init__(self, error: BaseException | None = None) -> None:
        self.sent: list[tuple[str, int, bytes, Any]] = []
        self.error = error
        self.closed = False

    def send(self, topic: str, *, key: bytes, value: bytes | None, partition: int) -> FakeFuture:
        self.sent.append((topic, partition, key, None if value is None else orjson.loads(value)))
        return FakeFuture(self.error)

    def flush(self) -> None: ...

    def close(self) -> None:
        self.closed = True


Message = tuple[str, int, bytes, bytes | None]


def _topics(posts: list[dict[str, Any]]) -> list[Message]:
    """The posts in mentions.raw (partition 0) and their complaints (partition 1), as routed."""
    router = Router(build_registry(), VerificationPolicy(), set())
    messages: list[Message] = []
    for post in posts:
        [(key, value)] = split_line(stream_line(post))
        messages.append(("mentions.raw", 0, key, value))
        for topic, event_key, event in router.route_line(value):
            if topic.startswith("complaints."):
                assert event_key is not None
                messages.append((topic, 1, event_key.encode(), orjson.dumps(event)))
    return messages


def _sweep(
    monkeypatch: pytest.MonkeyPatch,
    messages: list[Message],
    forgotten: Forgotten,
    uncompacted: frozenset[str] = frozenset(),
) -> tuple[sweeping.Swept, FakeProducer]:
    def read(_: Settings) -> Iterator[Message]:
        yield from messages

    producer = FakeProducer()
    monkeypatch.setattr(sweeping, "_read_everything", read)
    monkeypatch.setattr(sweeping, "kafka_producer", lambda *_: producer)
    monkeypatch.setattr(
        sweeping, "uncompacted", lambda _, topics: [t for t in topics if t in uncompacted]
    )
    return sweep(Settings.from_env({}), forgotten), producer


def test_the_topics_that_hold_texts_are_the_mentions_and_every_complaint_topic() -> None:
    topics = {
        "mentions.raw",
        "mentions.dlq",
        "mentions.rejected",
        "cases",
        "complaints.kejati-jateng",
        "complaints.unrouted",
        "replay-1.complaints.kejati-jateng",
        "replay-1.cases",
        "aduan.forget",
        "aduan-decided-posts-changelog",
    }
    assert text_topics(topics) == [
        "complaints.kejati-jateng",
        "complaints.unrouted",
        "mentions.raw",
        "replay-1.complaints.kejati-jateng",
    ]


def test_a_forgotten_users_mentions_get_tombstones_and_complaints_withdrawals(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mine = make_post(id="1790000000000000001", mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    theirs = make_post(
        id="1790000000000000002", author_id="77", mentions=[(KEJATI_ID, KEJATI_HANDLE)]
    )
    request = forget_request("user", CITIZEN_ID, "citizen request 2026-117", NOW)
    swept, producer = _sweep(monkeypatch, _topics([mine, theirs]), Forgotten([request]))
    tombstone = ("mentions.raw", 0, b"1790000000000000001/1790000000000000001", None)
    [sent_tombstone, (topic, partition, key, notice)] = producer.sent
    assert sent_tombstone == tombstone
    assert (topic, partition, key) == ("complaints.kejati-jateng", 1, b"1790000000000000001")
    assert notice["complaint_id"] == "1790000000000000001"
    assert notice["reason"] == "citizen request 2026-117"
    assert "text" not in notice
    assert swept.erased == {f"user:{CITIZEN_ID}": 1}
    assert swept.withdrawn == {f"user:{CITIZEN_ID}": ["complaints.kejati-jateng"]}
    assert producer.closed
    assert swept.uncompacted == []


def test_a_topic_that_is_not_compacted_is_named_where_erasures_went_in_vain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post = make_post(id="1790000000000000009", mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    request = forget_request("post", post["id"], "deleted", NOW)
    old = frozenset({"mentions.raw", "complaints.pt-semarang"})
    swept, _ = _sweep(monkeypatch, _topics([post]), Forgotten([request]), old)
    assert swept.uncompacted == ["mentions.raw"]


def test_an_erasure_whose_text_is_still_readable_is_written_again_and_a_later_copy_erased(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A text still readable after its erasure means the cleaner has not taken the erasure's log
    # segment: nothing reached the partition since to close it, and another append does.
    post = make_post(id="1790000000000000003", mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    raw, complaint = _topics([post])
    notice = orjson.dumps({"complaint_id": post["id"], "withdrawn_at": "2026-12-07T00:00Z"})
    done = [raw, complaint, (*raw[:3], None), (*complaint[:3], notice)]
    request = forget_request("post", post["id"], "deleted", NOW)
    swept, producer = _sweep(monkeypatch, done, Forgotten([request]))
    assert producer.sent == [(*raw[:3], None), (*complaint[:3], orjson.loads(notice))]
    assert (swept.erased, swept.withdrawn, swept.again) == ({}, {}, 2)
    compacted = done[2:]
    swept, producer = _sweep(monkeypatch, compacted, Forgotten([request]))
    assert producer.sent == []
    swept, producer = _sweep(monkeypatch, [*compacted, raw], Forgotten([request]))
    assert producer.sent == [(*raw[:3], None)]
    assert (swept.erased, swept.again) == ({"post:1790000000000000003": 1}, 0)


def test_a_revision_forgotten_by_its_own_id_names_its_chains_first_post(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = "1790000000000000010"
    revision = make_post(
        id="1790000000000000011",
        mentions=[(KEJATI_ID, KEJATI_HANDLE)],
        conversation_id=first,
        edit_history_tweet_ids=[first, "1790000000000000011"],
    )
    original = make_post(id=first, mentions=[(KEJATI_ID, KEJATI_HANDLE)])
    request = forget_request("post", revision["id"], "citizen request", NOW)
    swept, _ = _sweep(monkeypatch, _topics([original, revision]), Forgotten([request]))
    assert swept.chains == {first: request}
    chain = forget_request("post", first, "citizen request", NOW)
    swept, producer = _sweep(
        monkeypatch, _topics([original, revision]), Forgotten([request, chain])
    )
    assert swept.chains == {}
    assert sorted(key for _, _, key, value in producer.sent if value is None) == [
        f"{first}/{first}".encode(),
        f"{first}/1790000000000000011".encode(),
    ]


def test_a_key_made_before_keys_named_the_post_is_erased_only_when_all_its_posts_are_forgotten(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    thread = "1790000000000000000"
    mine = make_post(id="1790000000000000004", conversation_id=thread)
    theirs = make_post(id="1790000000000000005", conversation_id=thread, author_id="77")
    thread_key = thread.encode()  # as keys were made before they named the post
    request = forget_request("post", mine["id"], "deleted", NOW)
    messages: list[Message] = [("mentions.raw", 2, thread_key, stream_line(mine))]
    swept, producer = _sweep(monkeypatch, messages, Forgotten([request]))
    assert producer.sent == [("mentions.raw", 2, thread_key, None)]
    shared = [*messages, ("mentions.raw", 2, thread_key, stream_line(theirs))]
    swept, producer = _sweep(monkeypatch, shared, Forgotten([request]))
    assert producer.sent == []
    assert swept.kept == {f"post:{mine['id']}": 1}


def test_nothing_is_read_when_nothing_is_to_be_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    def read(_: Settings) -> Iterator[Message]:
        raise AssertionError("read")

    monkeypatch.setattr(sweeping, "_read_everything", read)
    assert sweep(Settings.from_env({}), Forgotten()) == sweeping.Swept()


def test_an_unacknowledged_tombstone_fails_and_says_to_sweep_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    post = make_post(id="1790000000000000005")
    messages = _topics([post])
    monkeypatch.setattr(sweeping, "_read_everything", lambda _: iter(messages))
    monkeypatch.setattr(sweeping, "kafka_producer", lambda *_: FakeProducer(OSError("gone")))
    request = forget_request("post", post["id"], "deleted", NOW)
    with pytest.raises(BrokerError, match=r"run `aduan forget --sweep` again"):
        sweep(Settings.from_env({}), Forgotten([request]))
