"""Every topic name aduan reads or writes, and its consumer group names: the Faust app id (the
worker's group, and the prefix of Faust's own topics) and each agency's group.

The router, the worker, the producer, replay, reports, access control and subscribers all take the
names from here, so a rename is one edit."""

from __future__ import annotations

RAW_TOPIC = "mentions.raw"
"""Every mention as it arrived: the system of record that replays read."""

DEAD_LETTER_TOPIC = "mentions.dlq"
"""Input that could not be read as posts, with the reason and where it came from."""

REJECTED_TOPIC = "mentions.rejected"
"""Posts that are not served (unverified author, retweet, an agency's own post...), and why."""

COMPLAINT_TOPIC_PREFIX = "complaints."
"""Each agency's own topic is this prefix and the agency id."""

UNROUTED = "unrouted"
"""Stands for the agency of a complaint that addresses none: in its topic name and event id."""

UNROUTED_TOPIC = COMPLAINT_TOPIC_PREFIX + UNROUTED

CASES_TOPIC = "cases"
"""Each case's current state, key `<agency-id>:<case_id>` (compacted: only the latest matters; a
case merged into another gets a tombstone)."""

CHECKPOINT_TOPIC = "aduan.x-poll.checkpoints"
"""The X poller's since_id per account (compacted: only the latest per account matters)."""

REGISTRY_TOPIC = "aduan.registry"
"""Published versions of the agency registry (compacted: only the latest matters)."""

FORGET_TOPIC = "aduan.forget"
"""Every request to forget a post or a user (compacted, key `<kind>:<id>`): kept for good, so
that what arrives or is replayed later is forgotten too."""

API_KEYS_TOPIC = "aduan.api-keys"
"""The hashes of the keys `aduan serve` accepts (compacted, key `<agency-id or *admin*>:<key id>`;
a tombstone revokes a key): every `serve` instance reads it whole and follows it."""

WEBHOOK_DEAD_LETTER_TOPIC = "webhooks.dlq"
"""Complaint and case events `aduan deliver` could not deliver to an agency's webhook, with the
agency, the endpoint's last answer and why it gave up (key `<agency-id>:<event id>`)."""
WEBHOOKS_GROUP = "aduan-webhooks"
"""The consumer group of `aduan deliver`'s instances."""

APP_ID = "aduan"
"""The Faust app's id: the worker's consumer group, and the prefix of the topics Faust makes."""

LIVE_PREFIXES = ("complaints", "mentions", "aduan", "cases", "webhooks")
"""The first dot-separated part of every live topic name; a replay's shadow topics avoid them."""


def complaint_topic(agency_id: str) -> str:
    return COMPLAINT_TOPIC_PREFIX + agency_id


def agency_group(agency_id: str) -> str:
    """The consumer group an agency reads its topic in, unless it names another."""
    return f"aduan-agency-{agency_id}"
