"""`streams.x.stream`, offline: tweepy's HTTP calls are intercepted with `responses`, and the
payloads follow the X API v2 documentation (filtered stream, stream rules)."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import orjson
import pytest
import responses
import tweepy
from prometheus_client import CollectorRegistry
from responses import matchers

from agents.core.registry import Registry, parse_registry
from streams.errors import XRefusedError
from streams.metrics.producer import ProducerMetrics
from streams.x.reads import PostReads
from streams.x.stream import (
    READS_SAVE_SECONDS,
    RULE_LENGTH,
    MentionStream,
    run_stream,
    stream_rules,
    sync_rules,
)
from tests.unit.streams.x.memory_reads import Clock, MemoryReads
from tests.unit.streams.x.payloads import (
    REGISTRY,
    ROOT,
    RULES,
    STREAM,
    TOKEN,
    WITH_KUDUS,
    Collected,
    Published,
    RulesAdded,
    forbidden,
    rules_of,
    sample,
    stream_message,
    unauthorized,
)


def test_one_rule_per_agency_matches_its_mentions_and_its_own_posts() -> None:
    rules = {rule.tag: rule.value for rule in stream_rules(REGISTRY)}
    assert rules["kejati-jateng"] == "(@KejatiJateng OR from:900000000000000201) -is:retweet"
    assert rules["pemprov-jateng"] == (
        "(@humasjateng OR from:900000000000000101 OR @pemprovjateng OR from:900000000000000102) "
        "-is:retweet"
    )
    assert set(rules) == set(REGISTRY.agency_ids)
    assert len(stream_rules(REGISTRY)) == len(REGISTRY.agencies)


def many_accounts(count: int) -> Registry:
    """The shipped registry plus an agency of `count` accounts with the longest handles and
    ids the registry allows."""
    accounts = "".join(
        f'      - id: "9{n:019d}"\n        username: dishub_kudus{n:03d}\n' for n in range(count)
    )
    agency = f"  - id: dishub-kudus\n    name: Dinas Perhubungan Kudus\n    accounts:\n{accounts}"
    return parse_registry((ROOT / "deploy" / "agencies.yaml").read_text() + agency, "many")


@responses.activate
def test_an_agency_too_long_for_one_rule_gets_several_with_its_tag_the_same_each_time() -> None:
    registry = many_accounts(12)
    rules = [rule.value for rule in stream_rules(registry) if rule.tag == "dishub-kudus"]

    assert len(rules) == 2
    assert all(len(value) <= RULE_LENGTH for value in rules)
    terms = [value.removeprefix("(").removesuffix(") -is:retweet").split(" OR ") for value in rules]
    accounts = next(a for a in registry.agencies if a.id == "dishub-kudus").accounts
    # Every account once, in registry order, its two terms in the same rule.
    assert [term for part in terms for term in part] == [
        term for account in accounts for term in (f"@{account.username}", f"from:{account.id}")
    ]
    # Packed: the second rule's first account would not have fitted in the first.
    assert len(f"({' OR '.join(terms[0] + terms[1][:2])}) -is:retweet") > RULE_LENGTH
    assert [(rule.value, rule.tag) for rule in stream_rules(registry)] == [
        (rule.value, rule.tag) for rule in stream_rules(registry)
    ]

    # Synced against the rules it made: the same rules come out, nothing changes.
    listed = responses.get(RULES, json=rules_of(registry))
    sync_rules(tweepy.StreamingClient("token"), registry)
    assert listed.call_count == 1 and len(responses.calls) == 1  # no POST


@responses.activate
def test_sync_rules_deletes_stale_and_adds_missing_only() -> None:
    wanted = {rule.tag: rule.value for rule in stream_rules(REGISTRY)}
    kept = {"id": "1", "value": wanted["pemprov-jateng"], "tag": "pemprov-jateng"}
    # The rule of a version that matched the mentions only.
    stale = {"id": "2", "value": "(@KejatiJateng) -is:retweet", "tag": "kejati-jateng"}
    responses.get(
        RULES,
        json={
            "data": [kept, stale],
            "meta": {"sent": "2024-05-01T00:00:00.000Z", "result_count": 2},
        },
    )
    delete = responses.post(
        RULES,
        match=[matchers.json_params_matcher({"delete": {"ids": ["2"]}})],
        json={
            "meta": {
                "sent": "2024-05-01T00:00:01.000Z",
                "summary": {"deleted": 1, "not_deleted": 0},
            }
        },
    )
    add = responses.post(
        RULES,
        json={"data": [], "meta": {"sent": "2024-05-01T00:00:02.000Z", "summary": {"created": 7}}},
    )
    sync_rules(tweepy.StreamingClient("token"), REGISTRY)
    assert delete.call_count == 1
    added = json.loads(add.calls[0].request.body)["add"]
    assert {rule["tag"] for rule in added} == set(REGISTRY.agency_ids) - {"pemprov-jateng"}
    assert {"value": wanted["kejati-jateng"], "tag": "kejati-jateng"} in added


@responses.activate
def test_stream_forwards_every_message_and_reconnects_after_a_drop() -> None:
    responses.get(
        RULES,
        json={
            "data": [
                {"id": str(i), "value": r.value, "tag": r.tag}
                for i, r in enumerate(stream_rules(REGISTRY))
            ],
            "meta": {"sent": "2024-05-01T00:00:00.000Z"},
        },
    )
    first = responses.get(
        STREAM,
        body=stream_message("1790000000000000001")
        + b"\r\n\r\n"
        + stream_message("1790000000000000002")
        + b"\r\n",
    )
    second = responses.get(STREAM, body=stream_message("1790000000000000003") + b"\r\n")
    collected = Collected()

    def sink(key: bytes | None, value: bytes) -> None:
        collected(key, value)
        if len(collected.messages) == 3:
            stream.disconnect()

    metrics = ProducerMetrics(CollectorRegistry(), "x-stream")
    stream = MentionStream("token", sink, metrics)
    run_stream(stream, REGISTRY, backfill_minutes=2, updates=Published())

    assert [key for key, _ in collected.messages] == [
        b"1790000000000000001/1790000000000000001",
        b"1790000000000000002/1790000000000000002",
        b"1790000000000000003/1790000000000000003",
    ]
    assert orjson.loads(collected.messages[0][1])["matching_rules"][0]["tag"] == "kejati-jateng"
    assert (first.call_count, second.call_count) == (1, 1)
    query = responses.calls[1].request.params
    assert query["expansions"] == "author_id"
    assert set(query["user.fields"].split(",")) == {"verified", "verified_type", "username", "name"}
    assert "note_tweet" in query["tweet.fields"].split(",")
    assert query["backfill_minutes"] == "2"
    assert sample(metrics, "aduan_x_stream_reconnects_total") == 1
    assert sample(metrics, "aduan_x_stream_connected") == 0  # disconnected at the end


@responses.activate
def test_each_post_streamed_is_a_read_once_a_day_stored_at_most_once_a_minute() -> None:
    responses.get(RULES, json=rules_of(REGISTRY))
    lines = [
        stream_message("1790000000000000011"),
        orjson.dumps(OPERATIONAL_DISCONNECT),  # not a post: not billed
        stream_message("1790000000000000012"),
        stream_message("1790000000000000011"),  # resent by the backfill the same day
    ]
    responses.get(STREAM, body=b"\r\n".join(lines) + b"\r\n")
    clock = Clock("2024-05-01T03:05:00+00:00")
    store = MemoryReads()
    metrics = ProducerMetrics(CollectorRegistry(), "x-stream")
    reads = PostReads("x-stream", 0, store, metrics, clock)
    collected = Collected()

    def sink(key: bytes | None, value: bytes) -> None:
        collected(key, value)
        clock.advance(READS_SAVE_SECONDS)
        if len(collected.messages) == 3:
            stream.disconnect()

    stream = MentionStream(TOKEN, sink, metrics, reads)
    run_stream(stream, REGISTRY, backfill_minutes=0, updates=Published())

    assert len(collected.messages) == 3
    assert sample(metrics, "aduan_x_posts_read_total") == 2
    assert sample(metrics, "aduan_x_posts_read_this_month") == 2
    # Stored when the second post came, a minute after the start; the repeat changed nothing.
    assert store.puts == [("x-stream", "2024-05", 2)]


@responses.activate
def test_a_registry_published_while_streaming_resyncs_the_rules_without_a_reconnect() -> None:
    responses.get(RULES, json=rules_of(REGISTRY))  # at start: nothing to change
    responses.get(RULES, json=rules_of(REGISTRY))  # when the new version arrives
    added = RulesAdded()
    responses.add_callback(responses.POST, RULES, callback=added)
    stream_calls = responses.get(STREAM, body=stream_message("1790000000000000004") + b"\r\n")
    collected = Collected()

    def sink(key: bytes | None, value: bytes) -> None:
        collected(key, value)
        assert added.resynced.wait(10), "the rules were not re-synced"
        stream.disconnect()

    stream = MentionStream(TOKEN, sink, ProducerMetrics(CollectorRegistry(), "x-stream"))
    run_stream(stream, REGISTRY, backfill_minutes=0, updates=Published(WITH_KUDUS))

    assert added.rules == [
        {"value": "(@dishubkudus OR from:900000000000009901) -is:retweet", "tag": "dishub-kudus"}
    ]
    assert stream_calls.call_count == 1  # the stream stayed connected
    assert len(collected.messages) == 1


@responses.activate
def test_a_refused_rule_update_stops_the_stream_with_the_token_setting() -> None:
    responses.get(RULES, json=rules_of(REGISTRY))
    responses.get(RULES, status=403, json=forbidden())
    responses.get(STREAM, body=stream_message("1790000000000000005") + b"\r\n")
    streamed: list[bytes] = []

    def sink(key: bytes | None, value: bytes) -> None:
        streamed.append(value)
        time.sleep(0.1)
        assert len(streamed) < 100, "the refused rule update did not stop the stream"

    stream = MentionStream(TOKEN, sink, ProducerMetrics(CollectorRegistry(), "x-stream"))
    with pytest.raises(XRefusedError, match="ADUAN_X_BEARER_TOKEN") as refused:
        run_stream(stream, REGISTRY, backfill_minutes=0, updates=Published(WITH_KUDUS))
    assert "the filtered stream's rules (HTTP 403 Forbidden)" in str(refused.value)


@pytest.mark.parametrize(("status", "body"), [(401, unauthorized()), (403, forbidden())])
@responses.activate
def test_a_refused_stream_stops_at_once_naming_the_token_setting(
    status: int, body: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def retry(seconds: float) -> None:
        raise AssertionError(f"tweepy retries the refused stream in {seconds} s")

    monkeypatch.setattr(tweepy.streaming, "sleep", retry)
    responses.get(RULES, json=rules_of(REGISTRY))
    refusal = responses.get(STREAM, status=status, json=body)
    metrics = ProducerMetrics(CollectorRegistry(), "x-stream")
    stream = MentionStream(TOKEN, Collected(), metrics)

    with pytest.raises(XRefusedError) as refused:
        run_stream(stream, REGISTRY, backfill_minutes=0, updates=Published())

    message = str(refused.value)
    assert f"the filtered stream (HTTP {status}" in message
    assert "ADUAN_X_BEARER_TOKEN" in message and "ADUAN_X_BEARER_TOKEN_FILE" in message
    assert TOKEN not in message and "\n" not in message
    assert refusal.call_count == 1
    assert sample(metrics, "aduan_x_api_errors_total", status=str(status)) == 1


@responses.activate
def test_a_refused_token_on_the_rules_stops_before_streaming() -> None:
    responses.get(RULES, status=401, json=unauthorized())
    stream_calls = responses.get(STREAM, body=b"")
    stream = MentionStream(TOKEN, Collected(), ProducerMetrics(CollectorRegistry(), "x-stream"))
    with pytest.raises(XRefusedError, match=r"HTTP 401 Unauthorized\): set ADUAN_X_BEARER_TOKEN"):
        run_stream(stream, REGISTRY, backfill_minutes=0, updates=Published())
    assert stream_calls.call_count == 0


OPERATIONAL_DISCONNECT = {
    "errors": [
        {
            "title": "operational-disconnect",
            "disconnect_type": "UpstreamOperationalDisconnect",
            "detail": "This stream has been disconnected upstream for operational reasons.",
            "type": "https://api.twitter.com/2/problems/operational-disconnect",
        }
    ]
}


@responses.activate
def test_a_stream_notice_without_a_post_is_counted_and_logged_not_produced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    responses.get(RULES, json=rules_of(REGISTRY))
    partial = orjson.loads(stream_message("1790000000000000007"))
    # A post whose author could not be expanded: X sends the post with `errors` beside it.
    partial["errors"] = [
        {
            "title": "Not Found Error",
            "detail": "Could not find user with ids: [1500000001].",
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
    ]
    odd = {"errors": [{"title": "Something New", "detail": "a notice X may add one day"}]}
    lines = [
        stream_message("1790000000000000006"),
        orjson.dumps(OPERATIONAL_DISCONNECT),
        orjson.dumps(odd),
        orjson.dumps(partial),
    ]
    responses.get(STREAM, body=b"\r\n".join(lines) + b"\r\n")
    collected = Collected()
    metrics = ProducerMetrics(CollectorRegistry(), "x-stream")

    def sink(key: bytes | None, value: bytes) -> None:
        collected(key, value)
        if len(collected.messages) == 2:
            stream.disconnect()

    stream = MentionStream(TOKEN, sink, metrics)
    with caplog.at_level(logging.WARNING, logger="streams.x.stream"):
        run_stream(stream, REGISTRY, backfill_minutes=0, updates=Published())

    assert [key for key, _ in collected.messages] == [
        b"1790000000000000006/1790000000000000006",
        b"1790000000000000007/1790000000000000007",
    ]
    assert "errors" in orjson.loads(collected.messages[1][1])
    notices = "aduan_x_stream_notices_total"
    assert sample(metrics, notices, title="operational-disconnect") == 1
    assert sample(metrics, notices, title="other") == 1
    assert (
        "the X stream sent a notice instead of a post: operational-disconnect: This stream has "
        "been disconnected upstream for operational reasons." in caplog.text
    )
    assert "Something New: a notice X may add one day" in caplog.text
