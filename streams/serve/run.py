"""`aduan serve`: the view's follower, the keys and the registry in force, and the HTTP app."""

from __future__ import annotations

import gc
import logging
from datetime import UTC, datetime
from functools import partial

import uvicorn
from fastapi import FastAPI

from agents.core.registry import Registry, load_registry
from streams.cases import work_calendar
from streams.kafka import registry_topic
from streams.kafka.admin import api_keys_spec, ensure_topics
from streams.metrics.registry import new_registry
from streams.serve.app import Served, create_app
from streams.serve.follow import Follower
from streams.serve.keys import follow_keys, load_keyring
from streams.serve.view import View
from streams.settings import Settings

log = logging.getLogger(__name__)


class RegistryInForce:
    """The newest valid registry: the one published when `serve` started, then each new one."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def __call__(self) -> Registry:
        return self.registry

    async def use(self, registry: Registry) -> None:
        self.registry = registry


def run_serve(settings: Settings, host: str) -> None:
    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s"
    )
    ensure_topics(settings, [api_keys_spec()])
    keyring, keys_offset = load_keyring(settings)
    published, registry_offset = registry_topic.latest_published(settings)
    in_force = RegistryInForce(published or load_registry(settings.registry_file()))
    view = View(settings.serve_dir / "view.sqlite")
    follower = Follower(settings, view)
    follower.start()
    served = Served(
        view,
        follower,
        keyring,
        in_force,
        partial(datetime.now, UTC),
        new_registry(),
        work_calendar(settings),
    )
    background = [
        partial(follow_keys, settings, keys_offset, keyring),
        partial(registry_topic.follow, settings, registry_offset, in_force.use),
    ]
    app = create_app(served, background)
    log.info("serving the Open311 API on http://%s:%d/open311/v2/", host, settings.serve_port)
    try:
        run_app(app, host, settings.serve_port)
    finally:
        follower.stop()


def run_app(app: FastAPI, host: str, port: int, log_level: str = "info") -> None:
    """Serves `app` until stopped."""
    # What is built by now lives as long as the process: full collections no longer walk it,
    # and their pauses set the answers' p99 (docs/performance.md).
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level=log_level)
