"""How a replay's routing differs from the live pipeline's, per agency. Pure: no Kafka here.

A post's routing is the set of agencies it reached as a complaint (`unrouted` included), empty
when it was rejected. A post that lost some agencies and gained others *moved*; one that only
gained (or only lost) agencies counts as gained (lost) there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from schemas.topics import COMPLAINT_TOPIC_PREFIX, REJECTED_TOPIC, UNROUTED

Reached = frozenset[str]
"""The agencies a post reached as a complaint (`unrouted` included); empty when rejected."""


def routings(events: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Reached]:
    """Each post's routing, from (topic, event) pairs; dead letters have no post and are left
    out."""
    found: dict[str, set[str]] = {}
    for topic, event in events:
        if topic.startswith(COMPLAINT_TOPIC_PREFIX):
            found.setdefault(event["tweet_id"], set()).add(event["agency_id"] or UNROUTED)
        elif topic == REJECTED_TOPIC:
            found.setdefault(event["tweet_id"], set())
    return {tweet_id: frozenset(agencies) for tweet_id, agencies in found.items()}


@dataclass(slots=True)
class AgencyChange:
    live: int = 0
    replayed: int = 0
    gained: int = 0
    lost: int = 0
    moved_in: int = 0
    moved_out: int = 0


@dataclass(slots=True)
class RoutingDiff:
    compared: int = 0
    """Posts decided both live and in the replay."""
    changed: int = 0
    not_live: int = 0
    """Posts of the replay the live pipeline has not decided (yet): not compared."""
    agencies: dict[str, AgencyChange] = field(default_factory=dict)
    moves: Counter[tuple[str, str]] = field(default_factory=Counter)


def compare(live: Mapping[str, Reached], replayed: Mapping[str, Reached]) -> RoutingDiff:
    """The diff over the replayed posts."""
    diff = RoutingDiff()

    def agency(name: str) -> AgencyChange:
        return diff.agencies.setdefault(name, AgencyChange())

    for tweet_id, new in replayed.items():
        old = live.get(tweet_id)
        if old is None:
            diff.not_live += 1
            continue
        diff.compared += 1
        for name in old:
            agency(name).live += 1
        for name in new:
            agency(name).replayed += 1
        lost, gained = old - new, new - old
        if lost or gained:
            diff.changed += 1
        if lost and gained:
            for name in lost:
                agency(name).moved_out += 1
            for name in gained:
                agency(name).moved_in += 1
            diff.moves.update((a, b) for a in sorted(lost) for b in sorted(gained))
            continue
        for name in lost:
            agency(name).lost += 1
        for name in gained:
            agency(name).gained += 1
    return diff


def format_diff(diff: RoutingDiff) -> str:
    """The diff as a plain-text table, one line per agency."""
    lines = [
        f"routing diff: {diff.compared} posts compared, {diff.changed} routed differently",
        f"  {'agency':<28} {'live':>7} {'replay':>7} {'gained':>7} {'lost':>7} "
        f"{'moved in':>9} {'moved out':>9}",
    ]
    for name, change in sorted(diff.agencies.items()):
        lines.append(
            f"  {name:<28} {change.live:>7} {change.replayed:>7} {change.gained:>7} "
            f"{change.lost:>7} {change.moved_in:>9} {change.moved_out:>9}"
        )
    for (source, target), count in sorted(diff.moves.items()):
        lines.append(f"  moved {source} -> {target}: {count}")
    if diff.not_live:
        lines.append(f"  {diff.not_live} replayed posts not decided live yet: not compared")
    return "\n".join(lines)
