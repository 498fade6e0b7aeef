"""The worker's domain metrics: what happened to each mention, where complaints went, how long
routing took. Label values are bounded: outcomes and reasons are fixed lists, agencies are
registry ids (or `unrouted`), never a handle read from a post."""

from __future__ import annotations

import collections
import functools
import time
from collections.abc import Iterable
from typing import cast, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agents.core.registry import Registry
from agents.core.route import Emit
from schemas.events import Complaint, Rejection, RejectionReason
from schemas.topics import CASES_TOPIC, DEAD_LETTER_TOPIC, REJECTED_TOPIC, UNROUTED, UNROUTED_TOPIC

OUTCOMES = ("routed", "unrouted", "rejected", "dead_letter")
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class RoutingMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.mentions = Counter(
            "aduan_mentions", "Mentions read, by routing outcome", ["outcome"], registry=registry
        )
        self.rejections = Counter(
            "aduan_rejections", "Rejected mentions, by reason", ["reason"], registry=registry
        )
        self.complaints = Counter(
            "aduan_complaints_routed",
            "Complaint events sent, by agency (unrouted: no agency addressed)",
            ["agency"],
            registry=registry,
        )
        self.latency = Histogram(
            "aduan_route_latency_seconds",
            "From a mention's timestamp in mentions.raw to its routed event acknowledged by Kafka",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.last_mention = Gauge(
            "aduan_last_mention_timestamp_seconds",
            "When the worker last read a mention (Unix time)",
            registry=registry,
        )
        self.agencies = Gauge(
            "aduan_registry_agencies", "Agencies in the registry in force", registry=registry
        )
        self.registry_info = Gauge(
            "aduan_registry_info", "The registry version in force (value 1)", ["version"],
            registry=registry,
        )  # fmt: skip
        # Every mention looks series up by label: once per label set is enough, since the same
        # labels always give the same series and none is ever removed.
        self._outcome = functools.cache(self.mentions.labels)
        self._reason = functools.cache(self.rejections.labels)
        self._agency = functools.cache(self.complaints.labels)
        # Series that exist from the start read 0 instead of "no data" in queries and alerts.
        for outcome in OUTCOMES:
            self._outcome(outcome)
        for reason in get_args(RejectionReason):
            self._reason(reason)
        self._agency(UNROUTED)

    def use_registry(self, registry: Registry) -> None:
        self.agencies.set(len(registry.agencies))
        self.registry_info.clear()
        self.registry_info.labels(registry.version).set(1)
        for agency in registry.agency_ids:
            self._agency(agency)

    def count(self, posts: Iterable[Iterable[Emit]]) -> None:
        """Counts the events of a batch of input messages, one `Emit` list each: each post once
        by outcome, each complaint once by agency. A batch at a time, because a series' `inc`
        takes a lock (docs/decisions/0022-sensors-counted-in-integers.md)."""
        outcomes: collections.Counter[str] = collections.Counter()
        reasons: collections.Counter[str] = collections.Counter()
        agencies: collections.Counter[str] = collections.Counter()
        for emits in posts:
            routed: set[str] = set()
            for topic, _, event in emits:
                if topic == DEAD_LETTER_TOPIC:
                    outcomes["dead_letter"] += 1
                elif topic == REJECTED_TOPIC:
                    outcomes["rejected"] += 1
                    reasons[cast(Rejection, event)["reason"]] += 1
                elif topic == UNROUTED_TOPIC:
                    outcomes["unrouted"] += 1
                    agencies[UNROUTED] += 1
                elif topic == CASES_TOPIC:
                    continue  # a case's state, not a post's outcome
                else:
                    complaint = cast(Complaint, event)
                    routed.add(complaint["tweet_id"])
                    agencies[str(complaint["agency_id"])] += 1
            outcomes["routed"] += len(routed)
        for outcome, count in outcomes.items():
            self._outcome(outcome).inc(count)
        for reason, count in reasons.items():
            self._reason(reason).inc(count)
        for agency, count in agencies.items():
            self._agency(agency).inc(count)
        self.last_mention.set(time.time())
