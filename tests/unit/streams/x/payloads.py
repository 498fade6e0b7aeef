"""X API v2 payloads and intercepts shaped as its documentation shows them (filtered stream,
stream rules, the mentions and posts timelines of a user), for the offline tests of the X
sources."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path
from typing import Any

import orjson

from agents.core.registry import Registry, load_registry, parse_registry
from streams.metrics.producer import ProducerMetrics
from streams.x.poll import Timeline
from streams.x.stream import stream_rules

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


def answer(post_id: str, agency_id: str, to: dict[str, Any], citizen: str) -> dict[str, Any]:
    """The reply of the agency account `agency_id` to the post `to` by `citizen` (username), as
    the account's posts timeline shows it."""
    text = f"@{citizen} Terima kasih, laporan diteruskan."
    reply = post(post_id, agency_id, text, (to["author_id"], citizen))
    reply["conversation_id"] = to["conversation_id"]
    reply["in_reply_to_user_id"] = to["author_id"]
    reply["referenced_tweets"] = [{"type": "replied_to", "id": to["id"]}]
    return reply


def stream_message(post_id: str, tag: str = "kejati-jateng") -> bytes:
    """One filtered-stream message, as the docs show it: data, includes, matching_rules."""
    message = {
        "data": post(post_id, "1500000001", "@KejatiJateng tolong usut", (KEJATI, "KejatiJateng")),
        "includes": {"users": [user("1500000001", "warga_satu")]},
        "matching_rules": [{"id": "1700000000000000001", "tag": tag}],
    }
    return orjson.dumps(message)


class Published:
    """Registry versions handed to a source as `registry_topic.RegistryFollower` would."""

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


def sample(metrics: ProducerMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


TIMELINE_PATHS: dict[Timeline, str] = {"mentions": "mentions", "posts": "tweets"}


def timeline_url(account_id: str, timeline: Timeline) -> str:
    return f"{API}/users/{account_id}/{TIMELINE_PATHS[timeline]}"


def mentions_page(
    account: str,
    posts: list[dict[str, Any]],
    users: list[dict[str, Any]],
    next_token: str | None = None,
) -> dict[str, Any]:
    """A page of a user's mentions or posts timeline (the two have the same shape)."""
    meta: dict[str, Any] = {"result_count": len(posts)}
    if posts:
        meta |= {"newest_id": posts[0]["id"], "oldest_id": posts[-1]["id"]}
    if next_token:
        meta["next_token"] = next_token
    page: dict[str, Any] = {"meta": meta}
    if posts:
        page |= {"data": posts, "includes": {"users": users}}
    return page


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
