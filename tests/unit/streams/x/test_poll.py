"""`streams.x.poll`, offline: tweepy's HTTP calls are intercepted with `responses`, and the
payloads follow the X API v2 documentation (the mentions and posts timelines of a user)."""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import orjson
import pytest
import responses
import tweepy
from prometheus_client import CollectorRegistry
from responses import BaseResponse, matchers

from agents.core.registry import Registry
from streams.errors import XRefusedError
from streams.metrics.producer import ProducerMetrics
from streams.x.api import count_responses
from streams.x.poll import TIMELINES, Timeline, poll_forever, poll_once
from streams.x.reads import PostReads
from tests.unit.streams.x.memory_reads import Clock, MemoryReads
from tests.unit.streams.x.payloads import (
    HUMAS,
    KEJATI,
    KUDUS,
    REGISTRY,
    TOKEN,
    WITH_KUDUS,
    Collected,
    answer,
    forbidden,
    mentions_page,
    post,
    sample,
    timeline_url,
    unauthorized,
    user,
)


class MemoryCheckpoints:
    def __init__(self, since: dict[tuple[str, Timeline], str] | None = None) -> None:
        self.since = dict(since or {})

    def get(self, account_id: str, timeline: Timeline) -> str | None:
        return self.since.get((account_id, timeline))

    def put(self, account_id: str, timeline: Timeline, since_id: str) -> None:
        self.since[account_id, timeline] = since_id


def answer_every_account(
    registry: Registry, but: Collection[tuple[str, Timeline]] = ()
) -> dict[tuple[str, Timeline], BaseResponse]:
    """An empty page of both timelines of every account of `registry` except those in `but`;
    the intercepts by account id and timeline."""
    return {
        (account.id, timeline): responses.get(
            timeline_url(account.id, timeline), json=mentions_page(account.id, [], [])
        )
        for agency in registry.agencies
        for account in agency.accounts
        for timeline in TIMELINES
        if (account.id, timeline) not in but
    }


@responses.activate
def test_poll_pages_waits_out_a_429_and_checkpoints_after_the_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    newer = post(
        "1790000000000000020", "1500000002", "@KejatiJateng jalan rusak", (KEJATI, "KejatiJateng")
    )
    older = post(
        "1790000000000000010", "1500000003", "@KejatiJateng lampu mati", (KEJATI, "KejatiJateng")
    )
    users = [user("1500000002", "warga_dua"), user("1500000003", "warga_tiga", "none")]
    url = timeline_url(KEJATI, "mentions")
    responses.get(
        url,
        status=429,
        json={
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        },
        headers={"x-rate-limit-reset": str(int(time.time()) + 3)},
    )
    responses.get(
        url,
        json=mentions_page(KEJATI, [newer], users[:1], next_token="abc"),
        match=[
            matchers.query_param_matcher({"since_id": "1790000000000000001"}, strict_match=False)
        ],
    )
    responses.get(
        url,
        json=mentions_page(KEJATI, [older], users[1:]),
        match=[matchers.query_param_matcher({"pagination_token": "abc"}, strict_match=False)],
    )
    answer_every_account(REGISTRY, but={(KEJATI, "mentions")})

    checkpoints = MemoryCheckpoints({(KEJATI, "mentions"): "1790000000000000001"})
    collected = Collected()
    client = tweepy.Client("token", return_type=dict, wait_on_rate_limit=True)
    metrics = ProducerMetrics(CollectorRegistry(), "x-poll")
    count_responses(client.session, metrics)
    produced = poll_once(client, REGISTRY, checkpoints, collected, collected.flush)

    assert produced == 2
    assert [key for key, _ in collected.messages] == [
        b"1790000000000000020/1790000000000000020",
        b"1790000000000000010/1790000000000000010",
    ]
    second = orjson.loads(collected.messages[1][1])
    assert second == {"data": older, "includes": {"users": users[1:]}}
    assert slept and slept[0] >= 1  # waited for the rate-limit reset
    # A timeline with no posts keeps no checkpoint.
    assert checkpoints.since == {(KEJATI, "mentions"): "1790000000000000020"}
    assert sample(metrics, "aduan_x_api_errors_total", status="429") == 1
    assert sample(metrics, "aduan_x_rate_limit_waits_total") == 1


@responses.activate
def test_poll_reads_each_accounts_own_posts_from_their_own_checkpoint() -> None:
    complaint = post(
        "1790000000000000050", "1500000002", "@KejatiJateng jalan berlubang",
        (KEJATI, "KejatiJateng"),
    )  # fmt: skip
    earlier = post(
        "1790000000000000030", "1500000003", "@KejatiJateng lampu mati", (KEJATI, "KejatiJateng")
    )
    replies = [
        answer("1790000000000000070", KEJATI, complaint, "warga_dua"),
        answer("1790000000000000060", KEJATI, earlier, "warga_tiga"),
    ]
    kejati = user(KEJATI, "KejatiJateng", "government")
    responses.get(
        timeline_url(KEJATI, "mentions"),
        json=mentions_page(KEJATI, [complaint], [user("1500000002", "warga_dua")]),
        match=[
            matchers.query_param_matcher({"since_id": "1790000000000000040"}, strict_match=False)
        ],
    )
    own = timeline_url(KEJATI, "posts")
    first = responses.get(
        own,
        json=mentions_page(KEJATI, replies[:1], [kejati], next_token="7140dibdnow9c7btw3w29"),
        match=[
            matchers.query_param_matcher(
                {"since_id": "1790000000000000045", "exclude": "retweets", "max_results": "100"},
                strict_match=False,
            )
        ],
    )
    responses.get(
        own,
        json=mentions_page(KEJATI, replies[1:], [kejati]),
        match=[
            matchers.query_param_matcher(
                {"pagination_token": "7140dibdnow9c7btw3w29"}, strict_match=False
            )
        ],
    )
    others = answer_every_account(REGISTRY, but={(KEJATI, "mentions"), (KEJATI, "posts")})

    checkpoints = MemoryCheckpoints(
        {(KEJATI, "mentions"): "1790000000000000040", (KEJATI, "posts"): "1790000000000000045"}
    )
    collected = Collected()
    client = tweepy.Client(TOKEN, return_type=dict)
    produced = poll_once(client, REGISTRY, checkpoints, collected, collected.flush)

    assert produced == 3
    assert [orjson.loads(value)["data"]["id"] for _, value in collected.messages] == [
        "1790000000000000050",  # the mentions first, then the account's own posts
        "1790000000000000070",
        "1790000000000000060",
    ]
    assert orjson.loads(collected.messages[1][1]) == {
        "data": replies[0],
        "includes": {"users": [kejati]},
    }
    assert checkpoints.since == {
        (KEJATI, "mentions"): "1790000000000000050",
        (KEJATI, "posts"): "1790000000000000070",  # the newest, from the first page
    }
    query = first.calls[0].request.params
    assert query["expansions"] == "author_id"
    assert {"referenced_tweets", "in_reply_to_user_id"} <= set(query["tweet.fields"].split(","))
    # Both timelines of every account, once each.
    assert {intercept.call_count for intercept in others.values()} == {1}
    assert {(HUMAS, "mentions"), (HUMAS, "posts")} <= set(others)


class Recorded(MemoryCheckpoints, MemoryReads):
    """Checkpoints and counts of reads stored in one list, in the order they were stored."""

    def __init__(self) -> None:
        MemoryCheckpoints.__init__(self)
        MemoryReads.__init__(self)
        self.events: list[tuple[str, Any]] = []

    def put(self, account_id: str, timeline: Timeline, since_id: str) -> None:
        super().put(account_id, timeline, since_id)
        self.events.append(("checkpoint", (account_id, timeline)))

    def put_reads(self, source: str, month: str, count: int) -> None:
        super().put_reads(source, month, count)
        self.events.append(("reads", count))


@responses.activate
def test_every_post_of_every_page_is_a_read_once_a_day_stored_with_each_checkpoint() -> None:
    complaint = post(
        "1790000000000000050", "1500000002", "@KejatiJateng jalan berlubang",
        (KEJATI, "KejatiJateng"),
    )  # fmt: skip
    older = post(
        "1790000000000000030", "1500000003", "@KejatiJateng lampu mati", (KEJATI, "KejatiJateng")
    )
    # An agency's own post that mentions another agency: in both timelines, billed once.
    forwarded = post(
        "1790000000000000045", HUMAS, "@KejatiJateng mohon ditindaklanjuti",
        (KEJATI, "KejatiJateng"),
    )  # fmt: skip
    reply = answer("1790000000000000070", KEJATI, complaint, "warga_dua")
    humas = user(HUMAS, "humasjateng", "government")
    kejati = user(KEJATI, "KejatiJateng", "government")
    citizens = [user("1500000002", "warga_dua"), user("1500000003", "warga_tiga")]
    mentions = timeline_url(KEJATI, "mentions")
    responses.get(
        mentions,
        json=mentions_page(KEJATI, [complaint, forwarded], [citizens[0], humas], next_token="n1"),
        match=[matchers.query_param_matcher({"max_results": "100"}, strict_match=False)],
    )
    responses.get(
        mentions,
        json=mentions_page(KEJATI, [older], citizens[1:]),
        match=[matchers.query_param_matcher({"pagination_token": "n1"}, strict_match=False)],
    )
    responses.get(timeline_url(KEJATI, "posts"), json=mentions_page(KEJATI, [reply], [kejati]))
    responses.get(timeline_url(HUMAS, "posts"), json=mentions_page(HUMAS, [forwarded], [humas]))
    answer_every_account(REGISTRY, but={(KEJATI, "mentions"), (KEJATI, "posts"), (HUMAS, "posts")})
    stored = Recorded()
    metrics = ProducerMetrics(CollectorRegistry(), "x-poll")
    reads = PostReads("x-poll", 0, stored, metrics, Clock("2024-05-01T03:10:00+00:00"))
    collected = Collected()

    produced = poll_once(
        tweepy.Client(TOKEN, return_type=dict),
        REGISTRY,
        stored,
        collected,
        collected.flush,
        reads=reads,
    )

    assert produced == 5  # the forwarded post twice: the worker drops the second copy
    assert sample(metrics, "aduan_x_posts_read_total") == 4
    assert sample(metrics, "aduan_x_posts_read_this_month") == 4
    # The pemprov-jateng accounts come first in the registry, then kejati-jateng's.
    assert stored.events == [
        ("checkpoint", (HUMAS, "posts")),
        ("reads", 1),
        ("checkpoint", (KEJATI, "mentions")),
        ("reads", 3),
        ("checkpoint", (KEJATI, "posts")),
        ("reads", 4),
    ]
    assert stored.stored == {("x-poll", "2024-05"): 4}


class Unacknowledged(Collected):
    """A sink whose Kafka never acknowledges: `flush` fails while posts are waiting."""

    def flush(self) -> None:
        if len(self.messages) > self.flushed:
            raise RuntimeError("broker unreachable")


@pytest.mark.parametrize("timeline", TIMELINES)
@responses.activate
def test_poll_keeps_the_checkpoint_when_kafka_does_not_acknowledge(timeline: Timeline) -> None:
    fresh = post(
        "1790000000000000030", "1500000002", "@KejatiJateng tolong", (KEJATI, "KejatiJateng")
    )
    responses.get(
        timeline_url(KEJATI, timeline),
        json=mentions_page(KEJATI, [fresh], [user("1500000002", "warga_dua")]),
    )
    answer_every_account(REGISTRY, but={(KEJATI, timeline)})

    before: dict[tuple[str, Timeline], str] = {
        (KEJATI, "mentions"): "1790000000000000001",
        (KEJATI, "posts"): "1790000000000000002",
    }
    checkpoints = MemoryCheckpoints(before)
    sink = Unacknowledged()
    with pytest.raises(RuntimeError, match="broker unreachable"):
        poll_once(tweepy.Client("token", return_type=dict), REGISTRY, checkpoints, sink, sink.flush)
    # Produced, not acknowledged.
    assert [key for key, _ in sink.messages] == [b"1790000000000000030/1790000000000000030"]
    assert checkpoints.since == before


class StopPollingError(Exception):
    """Ends `poll_forever` in a test."""


@responses.activate
def test_the_poller_polls_a_registry_published_during_a_pause_from_the_next_round() -> None:
    timelines = answer_every_account(WITH_KUDUS)
    pauses: list[float] = []

    class Versions:
        def wait(self, seconds: float) -> Registry | None:
            pauses.append(seconds)
            if len(pauses) == 1:
                # Not in the first round.
                assert timelines[KUDUS, "mentions"].call_count == 0
                assert timelines[KUDUS, "posts"].call_count == 0
                return WITH_KUDUS
            if len(pauses) == 2:
                return None  # nothing new: the poller keeps the version it has
            raise StopPollingError

    with pytest.raises(StopPollingError):
        poll_forever(
            tweepy.Client(TOKEN, return_type=dict),
            REGISTRY,
            updates=Versions(),
            checkpoints=MemoryCheckpoints(),
            sink=Collected(),
            flush=lambda: None,
            pause=60,
        )
    assert pauses == [60, 60, 60]
    # Two requests per account and round: its mentions and its own posts.
    assert timelines[KUDUS, "mentions"].call_count == timelines[KUDUS, "posts"].call_count == 2
    assert timelines[KEJATI, "mentions"].call_count == timelines[KEJATI, "posts"].call_count == 3


@pytest.mark.parametrize("timeline", TIMELINES)
@pytest.mark.parametrize(("status", "body"), [(401, unauthorized()), (403, forbidden())])
@responses.activate
def test_a_refused_poll_names_the_token_setting_the_account_and_the_timeline(
    status: int, body: dict[str, Any], timeline: Timeline
) -> None:
    answer_every_account(REGISTRY)
    responses.replace(responses.GET, timeline_url(KEJATI, timeline), status=status, json=body)
    with pytest.raises(XRefusedError) as refused:
        poll_once(
            tweepy.Client(TOKEN, return_type=dict),
            REGISTRY,
            MemoryCheckpoints(),
            Collected(),
            lambda: None,
        )
    message = str(refused.value)
    assert f"the {timeline} timeline of @KejatiJateng (HTTP {status}" in message
    assert "ADUAN_X_BEARER_TOKEN" in message and TOKEN not in message
