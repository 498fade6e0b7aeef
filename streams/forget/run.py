"""`aduan forget`: record requests in `aduan.forget`, then sweep them out of the topics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agents.core.forget import Forgotten, request_key
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
    """Sweep every recorded request out of the topics."""
    known, _ = recorded.read_requests(settings)
    return sweep(settings, Forgotten(known.values()))


def _outcome(request: ForgetRequest, new: bool, swept: Swept) -> Outcome:
    key = request_key(request)
    return Outcome(
        request,
        new,
        swept.withdrawn.get(key, []),
        swept.erased[key],
        swept.kept[key],
    )
