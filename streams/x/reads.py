"""The posts an X source reads each calendar month (UTC): X's pay-per-use plans bill every post
its API returns and cap the posts read in a billing cycle, so this is the producer's estimate of
the bill's count, kept across restarts and warned about as it nears `ADUAN_X_MONTHLY_READS`."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

from streams.errors import BrokerError
from streams.metrics.producer import ProducerMetrics

log = logging.getLogger(__name__)

WARN_AT = (0.8, 1.0)
"""The shares of the budget the producer logs a warning at, once each a month."""


class ReadsStore(Protocol):
    """Where a month's count outlives the producer (`streams.x.checkpoints.KafkaCheckpoints`)."""

    def reads(self, source: str, month: str) -> int:
        """The count last stored for `source` in `month` (`YYYY-MM`); 0 when none was."""

    def put_reads(self, source: str, month: str, count: int) -> None:
        """Stores the count durably before returning."""


class PostReads:
    """Counts the posts X returned to one source (`x-poll` or `x-stream`) this month, from the
    count stored for it, and sets the metrics from it."""

    def __init__(
        self,
        source: str,
        budget: int,
        store: ReadsStore,
        metrics: ProducerMetrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.source = source
        self.budget = budget
        self.store = store
        self.metrics = metrics
        self.clock = clock
        now = clock()
        self.month = _month(now)
        self.count = store.reads(source, self.month)
        self.saved = self.count
        self.saved_at = now
        self.warned = 0.0
        # X bills a post once per UTC day however often it is returned that day. The ids live
        # in memory only: a post read again the same day after a restart counts twice.
        self.day = _day(now)
        self.today: set[str] = set()
        metrics.x_posts_read_budget.set(budget)
        metrics.x_posts_read_month.set_function(self._this_month)
        self._warn()

    def add(self, posts: Iterable[Any]) -> None:
        """Counts the posts of one response of X (the objects of its `data`)."""
        self._roll(self.clock())
        new = 0
        for post in posts:
            ident = post.get("id") if type(post) is dict else None
            if type(ident) is str:
                if ident in self.today:
                    continue
                self.today.add(ident)
            new += 1
        if new:
            self.count += new
            self.metrics.x_posts_read.inc(new)
            self._warn()

    def save(self, at_most_every: float = 0.0) -> None:
        """Stores the month's count if it changed, unless it was stored less than
        `at_most_every` seconds ago."""
        now = self.clock()
        if self.count != self.saved and now - self.saved_at >= at_most_every:
            self.store.put_reads(self.source, self.month, self.count)
            self.saved, self.saved_at = self.count, now

    @contextmanager
    def saved_on_stop(self) -> Iterator[None]:
        """Stores the month's count when the source stops, however it stops. A broker that fails
        this too is only logged, so that what stopped the source stays the error reported."""
        try:
            yield
        finally:
            try:
                self.save()
            except BrokerError as exc:
                log.warning("the X reads counted since the last store are lost: %s", exc)

    def _roll(self, now: float) -> None:
        """Closes the month, and forgets the day's post ids, once the clock has left them."""
        month = _month(now)
        if month != self.month:
            self.save()
            self.month, self.count, self.saved, self.warned = month, 0, 0, 0.0
        day = _day(now)
        if day != self.day:
            self.day, self.today = day, set()

    def _this_month(self) -> float:
        """The gauge's value when scraped: 0 once a new month began without a read yet."""
        return self.count if _month(self.clock()) == self.month else 0

    def _warn(self) -> None:
        if self.budget <= 0:
            return
        share = self.count / self.budget
        passed = [level for level in WARN_AT if self.warned < level <= share]
        if not passed:
            return
        self.warned = passed[-1]
        if self.warned >= 1:
            log.warning(
                "%s has read %d posts from X in %s, the budget of ADUAN_X_MONTHLY_READS=%d: X "
                "refuses post reads past the plan's monthly cap; raise the cap in the X developer "
                "console and the budget, or read fewer posts (docs/x-api.md#the-bill)",
                self.source, self.count, self.month, self.budget,
            )  # fmt: skip
        else:
            log.warning(
                "%s has read %d posts from X in %s, %.0f%% of ADUAN_X_MONTHLY_READS=%d",
                self.source, self.count, self.month, 100 * share, self.budget,
            )  # fmt: skip


def _month(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


def _day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
