"""Patch (latency): Faust's streams take every event waiting in their buffer in one loop turn.

Upstream: faust-streaming's Cython stream iterator (`faust._cython.streams`) sleeps 0 s before each
event, so a stream took one event from its buffer per loop turn, and the loop turned little faster
than posts came: after any pause the buffer drained slowly, and the agent's batches began long after
their oldest post (docs/decisions/0019-streams-take-every-waiting-event.md). Here that sleep returns
at once; the iterator still yields whenever it waits, for an empty buffer or for the agent to take a
full batch. No upstream issue.

Verified against faust-streaming 0.15.3. Without it (or with `NO_CYTHON` set, where Faust's pure
Python iterator runs and this logs a warning) latency after a pause grows; nothing is lost.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any

import faust.streams

from streams.compat.upstream import Upstream

log = logging.getLogger(__name__)

KIND = "speed"
UPSTREAM = (
    Upstream("faust.streams._CStreamIterator"),
    Upstream("faust._cython.streams.sleep"),
)


def take_waiting_events_at_once() -> None:
    """Make the Cython stream iterator's `sleep(0)` return without a loop turn."""
    iterator = getattr(faust.streams, "_CStreamIterator", None)
    if iterator is None:
        log.warning("Faust's Cython stream iterator is off: streams take one event a loop turn")
        return
    # The extension looks `sleep` up in its module's namespace on every call.
    vars(sys.modules[iterator.__module__])["sleep"] = _sleep_unless_zero


async def _sleep_unless_zero(delay: float, result: Any = None) -> Any:
    if delay:
        return await asyncio.sleep(delay, result)
    return result
