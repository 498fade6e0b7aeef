"""X post ids are snowflakes: milliseconds since X's epoch, then 10 bits of machine and 12 of
sequence. The id alone tells when a post was made."""

from __future__ import annotations

from datetime import UTC, datetime

_TWITTER_EPOCH_MS = 1_288_834_974_657


def snowflake(created: datetime, machine: int, sequence: int) -> int:
    milliseconds = int(created.timestamp() * 1000) - _TWITTER_EPOCH_MS
    return (milliseconds << 22) | (machine << 12) | sequence


def post_time(post_id: int) -> datetime:
    return datetime.fromtimestamp(((post_id >> 22) + _TWITTER_EPOCH_MS) / 1000, UTC)
