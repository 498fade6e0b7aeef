"""The worker's case metrics: cases opened and answered by each agency, how many working days the
answers took, and the cases open and overdue now. Label values are bounded: agencies are the ids
of a registry's agencies, `on_time` is `true` or `false`."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from schemas.events import Case, CaseStatus

WORKING_DAYS_BUCKETS = (0, 1, 2, 3, 4, 5, 7, 10, 15, 20, 30)


class CaseMetrics:
    """Counts each change of a case as the worker sees it (`observe`, the case book's observer)
    and shows the cases remembered now (`set_current`).

    The counters count events, not final states: a case merged later into an earlier one stays
    counted as opened (the `cases` topic holds the final states)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.opened = Counter(
            "aduan_cases_opened",
            "Cases opened, by agency",
            ["agency"],
            registry=registry,
        )
        self.answered = Counter(
            "aduan_cases_answered",
            "Cases that got their first answer, by agency and whether it came before the deadline",
            ["agency", "on_time"],
            registry=registry,
        )
        self.working_days = Histogram(
            "aduan_case_working_days_to_answer",
            "Working days from a case's opening to its first answer, by agency",
            ["agency"],
            buckets=WORKING_DAYS_BUCKETS,
            registry=registry,
        )
        self.open = Gauge(
            "aduan_cases_open",
            "Unanswered cases within their deadline, by agency, in this worker's threads",
            ["agency"],
            registry=registry,
        )
        self.overdue = Gauge(
            "aduan_cases_overdue",
            "Unanswered cases past their deadline, by agency, in this worker's threads",
            ["agency"],
            registry=registry,
        )
        # Once per label set is enough, since the same labels always give the same series.
        self._opened = functools.cache(self.opened.labels)
        self._answered = functools.cache(self.answered.labels)
        self._working_days = functools.cache(self.working_days.labels)
        self._shown: set[str] = set()

    def observe(self, before: Case | None, now: Case | None) -> None:
        """Counts a case that appeared and a case that got its first answer; the tombstone of a
        merged case (`now` None) counts nothing."""
        if now is None:
            return
        agency = now["agency_id"]
        if before is None:
            self._opened(agency).inc()
        if now["status"] == "answered" and (before is None or before["status"] != "answered"):
            self._answered(agency, "true" if now["answered_on_time"] else "false").inc()
            days = now["working_days_to_answer"]
            if days is not None:
                self._working_days(agency).observe(days)

    def set_current(
        self, statuses: Mapping[tuple[str, CaseStatus], int], agency_ids: Iterable[str]
    ) -> None:
        """Sets the open and overdue gauges of each agency of `agency_ids` from `statuses`
        (`CaseBook.statuses()`) and removes those of agencies no longer listed.

        Each worker calls this once a minute with the counts of the case threads it keeps, those
        of its partitions: with several workers, sum over instances."""
        agencies = set(agency_ids)
        for gone in self._shown - agencies:
            self.open.remove(gone)
            self.overdue.remove(gone)
        for agency in agencies:
            self.open.labels(agency).set(statuses.get((agency, "open"), 0))
            self.overdue.labels(agency).set(statuses.get((agency, "overdue"), 0))
            # Series that exist from the start read 0 instead of "no data" in queries.
            self._opened(agency)
            self._answered(agency, "true")
            self._answered(agency, "false")
            self._working_days(agency)
        self._shown = agencies
