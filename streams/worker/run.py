"""`aduan worker`: the Faust worker with the routing agent, the registry follower and the
follower of requests to forget."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime
from functools import partial

import faust

from agents.case_metrics import CaseMetrics
from agents.case_threads import CaseThreads
from agents.core.forget import Forgotten
from agents.core.registry import Registry, load_registry
from agents.route_mentions import OVERDUE_EVERY, DecidedPosts, Routing, add_route_mentions
from agents.route_metrics import RoutingMetrics
from schemas.topics import RAW_TOPIC
from streams.cases import new_case_book
from streams.compat.guard import check_versions
from streams.compat.stream_sleep import take_waiting_events_at_once
from streams.forget import requests as forget_requests
from streams.kafka import registry_topic
from streams.kafka.admin import ensure_topics, routing_specs
from streams.metrics.registry import new_registry
from streams.settings import Settings
from streams.worker import web as worker_web
from streams.worker.app import create_app


def ensure_routing_topics(settings: Settings, registry: Registry) -> None:
    """The topics the worker reads and writes, created when missing."""
    ensure_topics(settings, routing_specs(settings, registry))


def assigned_partitions(app: faust.App, topic: str) -> set[int]:
    """The partitions of `topic` this worker reads now."""
    return {tp.partition for tp in app.consumer.assignment() if tp.topic == topic}


def run_worker(settings: Settings) -> None:
    check_versions(settings.allow_unverified_versions)
    # The topics must exist before the consumer starts: it would ignore a missing one until its
    # next metadata refresh, minutes later.
    registry = load_registry(settings.registry_file())
    ensure_routing_topics(settings, registry)
    published, offset = registry_topic.latest_published(settings)
    if published is not None and published.version != registry.version:
        registry = published
        ensure_routing_topics(settings, registry)

    # Faust makes its data directory without the parents, so `.run/worker` failed anywhere but in
    # a checkout where `.run` already existed.
    settings.worker_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    metrics = new_registry()
    worker_web.add_endpoints(app, metrics, RAW_TOPIC)
    seen = DecidedPosts(app, settings.dedup_days)
    threads = CaseThreads(app, partial(assigned_partitions, app, RAW_TOPIC))
    case_metrics = CaseMetrics(metrics)
    clock = partial(datetime.now, UTC)
    cases = new_case_book(settings, registry, clock, threads, case_metrics.observe)
    # Every request recorded so far is known before the first post is routed; later ones are
    # followed as they come.
    requests, forget_offset = forget_requests.read_requests(settings)
    forgotten = Forgotten(requests.values())
    routing = Routing(
        settings.policy, seen, registry, RoutingMetrics(metrics), cases, forgotten=forgotten
    )
    add_route_mentions(app, routing, RAW_TOPIC, seen, threads)

    async def count_cases() -> None:
        case_metrics.set_current(cases.statuses(), cases.registry.agency_ids)

    app.timer(OVERDUE_EVERY)(count_cases)

    async def apply(new: Registry) -> None:
        await asyncio.get_running_loop().run_in_executor(None, ensure_routing_topics, settings, new)
        routing.use(new)

    async def follow_registry() -> None:
        await registry_topic.follow(settings, offset, apply)

    app.task(follow_registry)

    async def follow_forget_requests() -> None:
        await forget_requests.follow(settings, forget_offset, forgotten.add)

    app.task(follow_forget_requests)

    # Rarer full collections: the slowest events came right after one
    # (docs/decisions/0023-rarer-garbage-collections.md).
    gc.set_threshold(50_000, 10, 10)
    take_waiting_events_at_once()
    faust.Worker(app, loglevel="info").execute_from_commandline()
