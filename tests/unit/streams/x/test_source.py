"""The X API sources, offline: tweepy's HTTP calls are intercepted with `responses`, and the
payloads follow the X API v2 documentation (filtered stream, stream rules, mentions timeline)."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import responses
import tweepy
from prometheus_client import CollectorRegistry
from responses import matchers

from agents.core.registry import Registry, load_registry, parse_registry
from streams.producer.metrics import ProducerMetrics
from streams.x.source import (
    MentionStream,
    XRefusedError,
    count_responses,
    poll_forever,
    poll_once,
    run_stream,
    stream_rules,
    sync_rules,
)

ROOT = Path(__file__).resolve().parents[4]
REGISTRY = load_registry(ROOT / "deploy" / "agencies.yaml")
NEW_AGENCY = """
  - id: dishub-kudus
    name: Dinas Perhubungan Kabupaten Kudus
    accounts:
      - id: "900000000000009901"   # placeholder id
        username: dishubkudus
"""
WITH_KUDUS = parse_registry(
    (ROOT / "deploy" / "agencies.yaml").read_text() + NEW_AGENCY, "with-kudus"
)
KUDUS = "900000000000009901"
TOKEN = "AAAA-secret-bearer-token"
API = "https://api.twitter.com/2"
RULES = f"{API}/tweets/search/stream/rules"
STREAM = f"{API}/tweets/search/stream"
KEJATI = "900000000000000201"
HUMAS = "900000000000000101"


def user(user_id: str, username: str, verified_type: str = "blue") -> dict[str, Any]:
    return {
        "id": user_id,
        "name": username.title(),
        "username": username,
        "verified": verified_type != "none",
        "verified_type": verified_type,
    }


def post(post_id: str, author_id: str, text: str, mention: tuple[str, str]) -> dict[str, Any]:
    start = text.index("@" + mention[1])
    return {
        "id": post_id,
        "text": text,
        "author_id": author_id,
        "conversation_id": post_id,
        "created_at": "2024-05-01T03:04:05.000Z",
        "edit_history_tweet_ids": [post_id],
        "lang": "in",
        "entities": {
            "mentions": [
                {
                    "start": start,
                    "end": start + len(mention[1]) + 1,
                    "username": mention[1],
                    "id": mention[0],
                }
            ]
        },
    }


def stream_message(post_id: str, tag: str = "kejati-jateng") -> bytes:
    """One filtered-stream message, as the docs show it: data, includes, matching_rules."""
    message = {
        "data": post(post_id, "1500000001", "@KejatiJateng tolong usut", (KEJATI, "KejatiJateng")),
        "includes": {"users": [user("1500000001", "warga_satu")]},
        "matching_rules": [{"id": "1700000000000000001", "tag": tag}],
    }
    return orjson.dumps(message)


class Published:
    """Registry versions handed to a source as `registry_sync.RegistryFollower` would."""

    def __init__(self, *versions: Registry) -> None:
        self.versions: queue.Queue[Registry] = queue.Queue()
        for version in versions:
            self.versions.put(version)

    def wait(self, seconds: float) -> Registry | None:
        try:
            return self.versions.get(timeout=seconds)
        except queue.Empty:
            return None


class Collected:
    def __init__(self) -> None:
        self.messages: list[tuple[bytes | None, bytes]] = []
        self.flushed = 0

    def __call__(self, key: bytes | None, value: bytes) -> None:
        self.messages.append((key, value))

    def flush(self) -> None:
        self.flushed = len(self.messages)


def test_one_rule_per_agency_tagged_with_its_id() -> None:
    rules = {rule.tag: rule.value for rule in stream_rules(REGISTRY)}
    assert rules["kejati-jateng"] == "(@KejatiJateng) -is:retweet"
    assert rules["pemprov-jateng"] == "(@humasjateng OR @pemprovjateng) -is:retweet"
    assert set(rules) == set(REGISTRY.agency_ids)


@responses.activate
def test_sync_rules_deletes_stale_and_adds_missing_only() -> None:
    wanted = {rule.tag: rule.value for rule in stream_rules(REGISTRY)}
    kept = {"id": "1", "value": wanted["kejati-jateng"], "tag": "kejati-jateng"}
    stale = {"id": "2", "value": "(@OldHandle) -is:retweet", "tag": "old-agency"}
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
    assert {rule["tag"] for rule in added} == set(REGISTRY.agency_ids) - {"kejati-jateng"}


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
        b"1790000000000000001",
        b"1790000000000000002",
        b"1790000000000000003",
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


def sample(metrics: ProducerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def mentions_page(
    account: str,
    posts: list[dict[str, Any]],
    users: list[dict[str, Any]],
    next_token: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"result_count": len(posts)}
    if posts:
        meta |= {"newest_id": posts[0]["id"], "oldest_id": posts[-1]["id"]}
    if next_token:
        meta["next_token"] = next_token
    page: dict[str, Any] = {"meta": meta}
    if posts:
        page |= {"data": posts, "includes": {"users": users}}
    return page


class MemoryCheckpoints(dict[str, str]):
    def put(self, account_id: str, since_id: str) -> None:
        self[account_id] = since_id


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
    url = f"{API}/users/{KEJATI}/mentions"
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
    for agency in REGISTRY.agencies:
        for account in agency.accounts:
            if account.id != KEJATI:
                responses.get(
                    f"{API}/users/{account.id}/mentions", json=mentions_page(account.id, [], [])
                )

    checkpoints = MemoryCheckpoints({KEJATI: "1790000000000000001"})
    collected = Collected()
    client = tweepy.Client("token", return_type=dict, wait_on_rate_limit=True)
    metrics = ProducerMetrics(CollectorRegistry(), "x-poll")
    count_responses(client.session, metrics)
    produced = poll_once(client, REGISTRY, checkpoints, collected, collected.flush)

    assert produced == 2
    assert [key for key, _ in collected.messages] == [
        b"1790000000000000020",
        b"1790000000000000010",
    ]
    second = orjson.loads(collected.messages[1][1])
    assert second == {"data": older, "includes": {"users": users[1:]}}
    assert slept and slept[0] >= 1  # waited for the rate-limit reset
    assert checkpoints[KEJATI] == "1790000000000000020"
    assert HUMAS not in checkpoints  # an account with no mentions keeps no checkpoint
    assert sample(metrics, "aduan_x_api_errors_total", status="429") == 1
    assert sample(metrics, "aduan_x_rate_limit_waits_total") == 1


@responses.activate
def test_poll_keeps_the_checkpoint_when_kafka_does_not_acknowledge() -> None:
    url = f"{API}/users/{KEJATI}/mentions"
    fresh = post(
        "1790000000000000030", "1500000002", "@KejatiJateng tolong", (KEJATI, "KejatiJateng")
    )
    responses.get(url, json=mentions_page(KEJATI, [fresh], [user("1500000002", "warga_dua")]))
    for agency in REGISTRY.agencies:
        for account in agency.accounts:
            if account.id != KEJATI:
                responses.get(
                    f"{API}/users/{account.id}/mentions", json=mentions_page(account.id, [], [])
                )

    def failing_flush() -> None:
        raise RuntimeError("broker unreachable")

    checkpoints = MemoryCheckpoints({KEJATI: "1790000000000000001"})
    client = tweepy.Client("token", return_type=dict)
    with pytest.raises(RuntimeError, match="broker unreachable"):
        poll_once(client, REGISTRY, checkpoints, Collected(), failing_flush)
    assert checkpoints[KEJATI] == "1790000000000000001"


def rules_of(registry: Registry) -> dict[str, Any]:
    """The rules endpoint's answer when the stream's rules are exactly `registry`'s."""
    rules = [
        {"id": f"17000000000000000{n:02d}", "value": rule.value, "tag": rule.tag}
        for n, rule in enumerate(stream_rules(registry))
    ]
    return {"data": rules, "meta": {"sent": "2024-05-01T00:00:00.000Z", "result_count": len(rules)}}


class RulesAdded:
    """The rules endpoint's POST, as a `responses` callback: records the rules added and signals
    that they were."""

    def __init__(self) -> None:
        self.rules: list[Any] = []
        self.resynced = threading.Event()

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        self.rules.extend(json.loads(request.body)["add"])
        self.resynced.set()
        summary = {"created": 1, "not_created": 0, "valid": 1, "invalid": 0}
        body = {"data": [], "meta": {"sent": "2024-05-01T00:00:02.000Z", "summary": summary}}
        return 200, {}, json.dumps(body)


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

    assert added.rules == [{"value": "(@dishubkudus) -is:retweet", "tag": "dishub-kudus"}]
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


def unauthorized() -> dict[str, Any]:
    return {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}


def forbidden() -> dict[str, Any]:
    return {
        "title": "Client Forbidden",
        "detail": "This request must be made using an approved developer account that is "
        "enrolled in the requested endpoint.",
        "reason": "client-not-enrolled",
        "type": "https://api.twitter.com/2/problems/client-forbidden",
        "required_enrollment": "Appropriate Level of API Access",
    }


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
    with caplog.at_level(logging.WARNING, logger="streams.x.source"):
        run_stream(stream, REGISTRY, backfill_minutes=0, updates=Published())

    assert [key for key, _ in collected.messages] == [
        b"1790000000000000006",
        b"1790000000000000007",
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


def answer_every_account(registry: Registry) -> dict[str, Any]:
    """An empty mentions timeline for every account of `registry`; the intercepts by account id."""
    return {
        account.id: responses.get(
            f"{API}/users/{account.id}/mentions", json=mentions_page(account.id, [], [])
        )
        for agency in registry.agencies
        for account in agency.accounts
    }


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
                assert timelines[KUDUS].call_count == 0  # not in the first round
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
    assert timelines[KUDUS].call_count == 2
    assert timelines[KEJATI].call_count == 3


@pytest.mark.parametrize(("status", "body"), [(401, unauthorized()), (403, forbidden())])
@responses.activate
def test_a_refused_poll_names_the_token_setting_and_the_account(
    status: int, body: dict[str, Any]
) -> None:
    answer_every_account(REGISTRY)
    responses.replace(responses.GET, f"{API}/users/{KEJATI}/mentions", status=status, json=body)
    with pytest.raises(XRefusedError) as refused:
        poll_once(
            tweepy.Client(TOKEN, return_type=dict),
            REGISTRY,
            MemoryCheckpoints(),
            Collected(),
            lambda: None,
        )
    message = str(refused.value)
    assert f"the mentions timeline of @KejatiJateng (HTTP {status}" in message
    assert "ADUAN_X_BEARER_TOKEN" in message and TOKEN not in message
