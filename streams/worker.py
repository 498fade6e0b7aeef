"""`aduan worker`: the Faust worker with the routing agent."""

from __future__ import annotations

import faust

from agents import route_mentions
from agents.registry import load_registry
from streams.app import create_app
from streams.settings import Settings
from streams.topics import RAW_TOPIC, create_topics


def run_worker(settings: Settings) -> None:
    registry = load_registry(settings.agencies)
    # The consumer would ignore a topic that does not exist yet until its next metadata refresh.
    create_topics(settings, registry)
    app = create_app(settings)
    route_mentions.install(app, registry, settings.policy, RAW_TOPIC, settings.dedup_days)
    faust.Worker(app, loglevel="info").execute_from_commandline()
