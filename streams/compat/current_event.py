"""Patch (correctness of batching): the event a table write belongs to, set for each post of a
batch.

Upstream: `faust.current_event()` reads the private context variable `faust.streams._current_event`,
which Faust sets to the last event a stream took. A table write goes to the changelog partition
and time window of the current event; the agent routes a batch of events (`take_events`), so it
sets the variable to each event in turn, in its own task's context only (the stream's
`current_event` belongs to the task that fills the next batch). No upstream issue; Faust has no
public setter.

Verified against faust-streaming 0.15.3. Without it every post of a batch would be remembered in
the last post's partition and window, and a restarted worker would miss duplicates
(docs/decisions/0010-route-a-batch-at-a-time.md).
"""

from __future__ import annotations

import weakref
from typing import Any

from faust.streams import _current_event
from faust.types import EventT

from streams.compat.upstream import Upstream

KIND = "correctness"
UPSTREAM = (Upstream("faust.streams._current_event"), Upstream("faust.streams.current_event", ()))


def set_current_event(event: EventT[Any]) -> None:
    """Make `event` what `faust.current_event()` returns in this task's context."""
    _current_event.set(weakref.ref(event))
