"""`aduan subscribe` on a real broker: it prints a repeated event once, `--since` starts at the
first event of that time, and a second run in the same consumer group prints only what came
after the first. Each test writes complaint events to a topic of its own."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic

from schemas.topics import complaint_topic
from tests.integration.test_pipeline import aduan

pytestmark = pytest.mark.integration

HOUR_MS = 3_600_000


def complaint(agency: str, tweet_id: int) -> bytes:
    """A complaint event as the worker writes it to complaints.<agency>."""
    event = {
        "event_id": f"{tweet_id}:0:{agency}",
        "complaint_id": str(tweet_id),
        "tweet_id": str(tweet_id),
        "revision": 0,
        "agency_id": agency,
        "co_addressed": [],
        "author": {
            "id": "1500000000",
            "username": "budisant0",
            "name": "Budi Santoso",
            "verified": True,
            "verified_type": "blue",
        },
        "text": f"mohon audit dana desa, laporan {tweet_id}",
        "lang": "in",
        "created_at": "2024-05-01T08:30:00.000Z",
        "conversation_id": str(tweet_id),
        "in_reply_to_user_id": None,
        "url": f"https://x.com/budisant0/status/{tweet_id}",
        "registry_version": "test",
        "schema_version": 1,
    }
    return orjson.dumps(event)


def create_topic(broker: str, agency: str, partitions: int = 1) -> None:
    admin = KafkaAdminClient(bootstrap_servers=broker)
    try:
        admin.create_topics([NewTopic(complaint_topic(agency), partitions, 1)])
    finally:
        admin.close()


def send(broker: str, agency: str, *records: tuple[bytes, int | None, int]) -> None:
    """Write (value, CreateTime in ms or None for now, partition) records to the agency's topic."""
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    try:
        for value, timestamp_ms, partition in records:
            producer.send(
                complaint_topic(agency), value=value, partition=partition, timestamp_ms=timestamp_ms
            )
        producer.flush()
    finally:
        producer.close()


def subscribe(env: dict[str, str], agency: str, *args: str, idle: int = 30) -> list[bytes]:
    """The lines `aduan subscribe` prints, ended `idle` seconds after the start or the last event
    if nothing else ends it."""
    output = aduan(env, "subscribe", "--agency", agency, "--idle-timeout", str(idle), *args)
    return [line.encode() for line in output.splitlines()]


def test_a_repeated_event_id_is_printed_once(broker: str, aduan_env: dict[str, str]) -> None:
    agency = "subscribe-repeat"
    create_topic(broker, agency)
    first, second, third = (complaint(agency, tweet_id) for tweet_id in (101, 102, 103))
    # The first event again, as the worker writes it again after a crash before its commit.
    send(broker, agency, *((value, None, 0) for value in (first, second, first, third)))

    assert subscribe(aduan_env, agency, "--max-events", "3") == [first, second, third]


def test_since_starts_at_the_first_event_of_that_time(
    broker: str, aduan_env: dict[str, str]
) -> None:
    agency = "subscribe-since"
    create_topic(broker, agency, partitions=2)
    since_ms = int(datetime.now(UTC).timestamp()) * 1000 - HOUR_MS
    before, just_before, at, after, older = (
        complaint(agency, tweet_id) for tweet_id in (201, 202, 203, 204, 205)
    )
    send(
        broker,
        agency,
        (before, since_ms - 60_000, 0),
        (just_before, since_ms - 1, 0),
        (at, since_ms, 0),
        (after, since_ms + 60_000, 0),
        (older, since_ms - 1_000, 1),  # partition 1 has nothing from then on
    )
    start = datetime.fromtimestamp(since_ms / 1000, UTC).isoformat()

    # No --max-events: the run ends when nothing more comes, so it shows that nothing else came.
    assert subscribe(aduan_env, agency, "--since", start, idle=10) == [at, after]


def test_a_group_resumes_after_what_it_printed(broker: str, aduan_env: dict[str, str]) -> None:
    agency = "subscribe-resume"
    create_topic(broker, agency)
    old = [complaint(agency, tweet_id) for tweet_id in (301, 302)]
    new = [complaint(agency, tweet_id) for tweet_id in (303, 304)]
    send(broker, agency, *((value, None, 0) for value in old))
    assert subscribe(aduan_env, agency, "--group", "desk-1", "--max-events", "2") == old

    send(broker, agency, *((value, None, 0) for value in new))
    assert subscribe(aduan_env, agency, "--group", "desk-1", "--max-events", "2") == new
    # The offsets are the group's: another group starts from the beginning.
    assert subscribe(aduan_env, agency, "--group", "desk-2", "--max-events", "4") == old + new
