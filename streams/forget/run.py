"""`aduan forget`: record requests in `aduan.forget`, then sweep them out of the topics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agents.core.forget import Forgotten, forget_request, request_key
from schemas.events import ForgetRequest
from streams.forget import requests as recorded
from streams.forget.sweep import Swept, sweep
from streams.settings import Settings


@dataclass(slots=True)
class Outcome:
    """What forgetting one request did."""

    request: ForgetRequest
    new: bool = True
    """False: the request was recorded before (its first reason stands)."""
    withdrawn: list[str] = field(default_factory=list)
    """The topics a complaint of it was withdrawn from now, once per complaint."""
    erased: int = 0
    """`mentions.raw` messages erased now (tombstones written)."""
    kept: int = 0
    """`mentions.raw` messages of it whose key names a whole thread, which a tombstone cannot
    erase alone: they go when their retention ends."""
    uncompacted: list[str] = field(default_factory=list)
    """Topics the sweep wrote erasures to that are not compacted: there they erase nothing."""

    def line(self) -> str:
        """One line for the user."""
        said = [f"{self.request['kind']} {self.request['id']}: "]
        said.append("recorded" if self.new else "recorded before")
        if self.withdrawn:
            topics = ", ".join(sorted(set(self.withdrawn)))
            said.append(f"; {len(self.withdrawn)} complaint(s) withdrawn ({topics})")
        if self.erased:
            said.append(f"; {self.erased} mention(s) erased from mentions.raw")
        if self.kept:
            said.append(
                f"; {self.kept} mention(s) under a whole-thread key stay until their retention ends"
            )
        if not (self.withdrawn or self.erased or self.kept):
            said.append("; aduan holds nothing of it now (never seen, gone, or erased before)")
        return "".join(said)


def forget(settings: Settings, requests: Sequence[ForgetRequest]) -> list[Outcome]:
    """Record `requests` in `aduan.forget` (idempotent), then withdraw their complaints and erase
    their mentions; one outcome per request, in order. The sweep honours every recorded request,
    so it also catches what reached the topics after earlier requests."""
    new = recorded.record(settings, requests)
    swept = sweep_recorded(settings)
    return [_outcome(request, new[request_key(request)], swept) for request in requests]


def sweep_recorded(settings: Settings) -> Swept:
    """Sweep every recorded request out of the topics. A post forgotten by the id of a later
    revision takes its whole edit chain with it: the chain's first post is recorded as forgotten
    too (so the worker and replays forget it), and swept in a second pass."""
    known, _ = recorded.read_requests(settings)
    forgotten = Forgotten(known.values())
    swept = sweep(settings, forgotten)
    if not swept.chains:
        return swept
    now = datetime.now(UTC)
    chains = {
        first: forget_request("post", first, request["reason"], now)
        for first, request in swept.chains.items()
    }
    recorded.record(settings, list(chains.values()))
    for chain in chains.values():
        forgotten.add(chain)
    more = sweep(settings, forgotten)
    for first, request in swept.chains.items():
        # What the second pass did for a chain counts for the request that named its revision.
        by, first_key = request_key(request), f"post:{first}"
        swept.erased[by] += more.erased.pop(first_key, 0)
        swept.withdrawn.setdefault(by, []).extend(more.withdrawn.pop(first_key, []))
    swept.erased.update(more.erased)
    for key, topics in more.withdrawn.items():
        swept.withdrawn.setdefault(key, []).extend(topics)
    swept.again += more.again
    swept.uncompacted = sorted({*swept.uncompacted, *more.uncompacted})
    return swept


def _outcome(request: ForgetRequest, new: bool, swept: Swept) -> Outcome:
    key = request_key(request)
    return Outcome(
        request,
        new,
        swept.withdrawn.get(key, []),
        swept.erased[key],
        swept.kept[key],
        swept.uncompacted,
    )
