"""`agents.case_metrics`: cases counted once when they open and once when first answered, the
working days of each answer, and the open and overdue cases of the agencies in force."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from prometheus_client import CollectorRegistry

from agents.case_metrics import CaseMetrics
from agents.core.cases import CaseBook, CasePost
from agents.core.workdays import WorkCalendar
from schemas.events import Case, CaseStatus
from tests.unit.agents.factories import build_registry, make_case

KEJATI, PEMPROV, BPK = "kejati-jateng", "pemprov-jateng", "bpk-jateng"


def answered(agency: str = KEJATI, *, days: int, on_time: bool) -> Case:
    return make_case(
        "answered",
        agency,
        answers=1,
        first_answer_at="2026-06-04T03:00:00.000Z",
        first_answer_tweet_id="20",
        working_days_to_answer=days,
        answered_on_time=on_time,
    )


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_a_case_is_counted_opened_when_it_appears_and_answered_when_first_answered() -> None:
    registry = CollectorRegistry()
    metrics = CaseMetrics(registry)
    metrics.observe(None, make_case())
    metrics.observe(make_case(), make_case("overdue"))
    metrics.observe(make_case("overdue"), answered(days=7, on_time=False))
    # A second answer changes the case again, but it was answered already.
    again = answered(days=7, on_time=False)
    again["answers"] = 2
    metrics.observe(answered(days=7, on_time=False), again)
    assert value(registry, "aduan_cases_opened_total", agency=KEJATI) == 1
    assert value(registry, "aduan_cases_answered_total", agency=KEJATI, on_time="false") == 1
    assert value(registry, "aduan_cases_answered_total", agency=KEJATI, on_time="true") is None
    assert value(registry, "aduan_case_working_days_to_answer_count", agency=KEJATI) == 1
    assert value(registry, "aduan_case_working_days_to_answer_sum", agency=KEJATI) == 7
    # 7 working days: above the bucket of 5, inside the one of 7.
    bucket = "aduan_case_working_days_to_answer_bucket"
    assert value(registry, bucket, agency=KEJATI, le="5.0") == 0
    assert value(registry, bucket, agency=KEJATI, le="7.0") == 1


def test_a_case_that_appears_answered_counts_opened_and_answered() -> None:
    """An answer read before its complaint: the case appears with its answer."""
    registry = CollectorRegistry()
    metrics = CaseMetrics(registry)
    metrics.observe(None, answered(PEMPROV, days=0, on_time=True))
    assert value(registry, "aduan_cases_opened_total", agency=PEMPROV) == 1
    assert value(registry, "aduan_cases_answered_total", agency=PEMPROV, on_time="true") == 1
    bucket = "aduan_case_working_days_to_answer_bucket"
    assert value(registry, bucket, agency=PEMPROV, le="0.0") == 1


def test_a_merged_case_counts_nothing() -> None:
    registry = CollectorRegistry()
    metrics = CaseMetrics(registry)
    metrics.observe(answered(days=2, on_time=True), None)
    metrics.observe(make_case(), None)
    assert value(registry, "aduan_cases_opened_total", agency=KEJATI) is None
    assert value(registry, "aduan_cases_answered_total", agency=KEJATI, on_time="true") is None


def test_the_gauges_show_each_agency_listed_and_drop_the_agencies_no_longer_listed() -> None:
    registry = CollectorRegistry()
    metrics = CaseMetrics(registry)
    statuses: Counter[tuple[str, CaseStatus]] = Counter(
        {(KEJATI, "open"): 3, (KEJATI, "overdue"): 2, (KEJATI, "answered"): 4, (BPK, "open"): 1}
    )
    metrics.set_current(statuses, [KEJATI, PEMPROV, BPK])
    assert value(registry, "aduan_cases_open", agency=KEJATI) == 3
    assert value(registry, "aduan_cases_overdue", agency=KEJATI) == 2
    assert value(registry, "aduan_cases_open", agency=PEMPROV) == 0
    assert value(registry, "aduan_cases_overdue", agency=PEMPROV) == 0
    assert value(registry, "aduan_cases_open", agency=BPK) == 1
    # The counters of every agency listed read 0 before the first case.
    assert value(registry, "aduan_cases_opened_total", agency=PEMPROV) == 0
    assert value(registry, "aduan_cases_answered_total", agency=PEMPROV, on_time="false") == 0
    assert value(registry, "aduan_case_working_days_to_answer_count", agency=PEMPROV) == 0

    # A new registry without bpk-jateng; its cases, still remembered, are no longer shown.
    metrics.set_current(Counter({(KEJATI, "overdue"): 1, (BPK, "overdue"): 5}), [KEJATI, PEMPROV])
    assert value(registry, "aduan_cases_open", agency=KEJATI) == 0
    assert value(registry, "aduan_cases_overdue", agency=KEJATI) == 1
    assert value(registry, "aduan_cases_open", agency=BPK) is None
    assert value(registry, "aduan_cases_overdue", agency=BPK) is None


def test_as_the_observer_of_a_case_book() -> None:
    """Wired to a real case book: a complaint, its follow-up and the agency's answer on the
    third working day."""
    registry = CollectorRegistry()
    metrics = CaseMetrics(registry)
    agencies = build_registry()
    moment = datetime.fromisoformat("2026-06-10T00:00:00+00:00")
    book = CaseBook(agencies, WorkCalendar(), lambda: moment, observer=metrics.observe)

    def post(tweet_id: str, parent: str | None, at: str, by_agency: bool = False) -> CasePost:
        author = "1001" if by_agency else "501"
        return CasePost(tweet_id, tweet_id, author, parent, at, (KEJATI,), by_agency)

    # Tuesday 2 June 2026, 09:00 WIB; the answer on Friday 5 June: Wed 3, Thu 4, Fri 5.
    book.add("t", post("10", None, "2026-06-02T02:00:00.000Z"))
    book.add("t", post("11", "10", "2026-06-03T02:00:00.000Z"))
    book.add("t", post("20", "11", "2026-06-05T02:00:00.000Z", by_agency=True))
    book.add("u", post("30", None, "2026-06-02T02:00:00.000Z"))  # never answered: overdue
    metrics.set_current(book.statuses(), agencies.agency_ids)
    assert value(registry, "aduan_cases_opened_total", agency=KEJATI) == 2
    assert value(registry, "aduan_cases_answered_total", agency=KEJATI, on_time="true") == 1
    assert value(registry, "aduan_case_working_days_to_answer_sum", agency=KEJATI) == 3
    assert value(registry, "aduan_cases_open", agency=KEJATI) == 0
    assert value(registry, "aduan_cases_overdue", agency=KEJATI) == 1
