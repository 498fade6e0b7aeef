"""When `aduan deliver` tries a failed webhook delivery again: exponential backoff with full
jitter, within a time budget per event. Pure: the caller passes the clock and the random draw."""

from __future__ import annotations

from dataclasses import dataclass

BASE_SECONDS = 1.0
CAP_SECONDS = 300.0
_RETRIED_CLIENT_ERRORS = frozenset({408, 429})
"""Request Timeout and Too Many Requests: the endpoint asks to be tried again later."""


def worth_retrying(status: int | None) -> bool:
    """Whether a failed attempt may succeed later: no answer (a timeout, a connection that
    failed), a server error, 408 or 429. Other statuses say the request itself is refused."""
    return status is None or 500 <= status <= 599 or status in _RETRIED_CLIENT_ERRORS


@dataclass(frozen=True, slots=True)
class Backoff:
    budget: float
    """Seconds an event may be retried for, counted from when it was read."""
    base: float = BASE_SECONDS
    cap: float = CAP_SECONDS

    def delay(self, failures: int, draw: float) -> float:
        """The pause after the `failures`-th failed attempt: full jitter, a `draw` in [0, 1)
        times base * 2^(failures - 1), capped (AWS Architecture Blog, "Exponential Backoff And
        Jitter"): retries of many events spread out instead of arriving together."""
        return draw * min(self.cap, self.base * 2.0 ** min(failures - 1, 64))

    def wait(self, failures: int, read_at: float, now: float, draw: float) -> float | None:
        """The pause before the next attempt, cut so that it ends by the deadline; None once the
        budget is spent and the event goes to the dead letters."""
        left = read_at + self.budget - now
        if left <= 0:
            return None
        return min(self.delay(failures, draw), left)
