"""`streams.x.poll`, offline: tweepy's HTTP calls are intercepted with `responses`, and the
payloads follow the X API v2 documentation (mentions timeline)."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
import responses
import tweepy
from prometheus_client import CollectorRegistry
from responses import matchers

from agents.core.registry import Registry
from streams.errors import XRefusedError
from streams.metrics.producer import ProducerMetrics
from streams.x.api import count_responses
from streams.x.poll import poll_forever, poll_once
from tests.unit.streams.x.payloads import (
    API,
    HUMAS,
    KEJATI,
    KUDUS,
    REGISTRY,
    TOKEN,
    WITH_KUDUS,
    Collected,
    forbidden,
    mentions_page,
    post,
    sample,
    unauthorized,
    user,
)


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
