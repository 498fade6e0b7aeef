"""`streams.delivery.backoff`: what is retried, and exponential backoff with full jitter within
the retry time."""

from __future__ import annotations

import pytest

from streams.delivery.backoff import Backoff, worth_retrying


@pytest.mark.parametrize("status", [None, 500, 502, 503, 504, 599, 408, 429])
def test_no_answer_server_errors_408_and_429_are_retried(status: int | None) -> None:
    assert worth_retrying(status)


@pytest.mark.parametrize("status", [301, 302, 400, 401, 403, 404, 410, 413, 422])
def test_redirects_and_other_client_errors_are_not(status: int) -> None:
    assert not worth_retrying(status)


def test_the_ceiling_doubles_from_one_second_up_to_five_minutes() -> None:
    backoff = Backoff(budget=3600)
    ceilings = [backoff.delay(failures, draw=1.0) for failures in range(1, 12)]
    assert ceilings == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert backoff.delay(10_000, draw=1.0) == 300


def test_full_jitter_draws_anywhere_below_the_ceiling() -> None:
    backoff = Backoff(budget=3600)
    assert backoff.delay(4, draw=0.0) == 0
    assert backoff.delay(4, draw=0.25) == 2
    assert backoff.delay(4, draw=0.999) == pytest.approx(7.992)


def test_the_pause_ends_by_the_deadline_and_none_comes_after_it() -> None:
    backoff = Backoff(budget=3600)
    assert backoff.wait(9, read_at=100.0, now=200.0, draw=1.0) == 256
    assert backoff.wait(9, read_at=100.0, now=3600.0, draw=1.0) == 100  # cut at 3700
    assert backoff.wait(1, read_at=100.0, now=3700.0, draw=0.5) is None
    assert backoff.wait(1, read_at=100.0, now=5000.0, draw=0.5) is None
