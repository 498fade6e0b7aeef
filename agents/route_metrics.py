"""The worker's domain metrics: what happened to each mention, where complaints went, how long
routing took. Label values are bounded: outcomes and reasons are fixed lists, agencies are
registry ids (or `unrouted`), never a handle read from a post."""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable
from typing import cast, get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agents.registry import Registry
from agents.route import DEAD_LETTER_TOPIC, REJECTED_TOPIC, UNROUTED, UNROUTED_TOPIC, Emit
from schemas.events import Complaint, Rejection, RejectionReason

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

    def count(self, emits: Iterable[Emit]) -> None:
        """Counts the events of one input message: each post once by outcome, each complaint
        once by agency."""
        self.last_mention.set(time.time())
        routed: set[str] = set()
        for topic, _, event in emits:
            if topic == DEAD_LETTER_TOPIC:
                self._outcome("dead_letter").inc()
            elif topic == REJECTED_TOPIC:
                self._outcome("rejected").inc()
                self._reason(cast(Rejection, event)["reason"]).inc()
            elif topic == UNROUTED_TOPIC:
                self._outcome("unrouted").inc()
                self._agency(UNROUTED).inc()
            else:
                complaint = cast(Complaint, event)
                routed.add(complaint["tweet_id"])
                self._agency(complaint["agency_id"]).inc()
        if routed:
            self._outcome("routed").inc(len(routed))
