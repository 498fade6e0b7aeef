"""`aduan compliance check` as a user runs it: the options reach the check, its outcome lines
and summary are printed, and a job that did not end well makes the exit code 1."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.core.forget import forget_request
from streams.cli import main
from streams.forget.run import Outcome
from streams.settings import Settings
from streams.x import compliance
from streams.x.compliance_results import Report

NOW = datetime(2026, 8, 1, tzinfo=UTC)


class Checks:
    """Stands for `streams.x.compliance.check`: keeps what it was asked, answers `report`."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.asked: list[tuple[datetime | None, float, float]] = []

    def __call__(
        self, settings: Settings, since: datetime | None, wait: float, poll: float
    ) -> Report:
        self.asked.append((since, wait, poll))
        return self.report


def checking(monkeypatch: pytest.MonkeyPatch, report: Report) -> Checks:
    fake = Checks(report)
    monkeypatch.setattr(compliance, "check", fake)
    return fake


def test_check_prints_each_outcome_and_a_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    request = forget_request("post", "1417856744319971329", "x-compliance: deleted", NOW)
    report = Report(checked={"tweets": 3}, results=1, forgotten=1, outcomes=[Outcome(request)])
    checks = checking(monkeypatch, report)
    code = main(
        [
            "compliance",
            "check",
            "--since",
            "2026-07-30T00:00:00+07:00",
            "--wait",
            "90",
            "--poll",
            "5",
        ]
    )
    assert code == 0
    assert checks.asked == [(datetime.fromisoformat("2026-07-30T00:00:00+07:00"), 90.0, 5.0)]
    assert capsys.readouterr().out.splitlines() == [
        Outcome(request).line(),
        "sent 3 post ids to X: 1 result(s), 1 forgotten, 0 dead-lettered to mentions.dlq",
    ]


def test_check_defaults_to_every_post_an_hour_and_30_s_polls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks = checking(monkeypatch, Report())
    assert main(["compliance", "check"]) == 0
    assert checks.asked == [(None, 3600.0, 30.0)]


def test_a_job_that_did_not_end_well_exits_1_after_the_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failure = "X compliance job 1 (posts) ended failed at X; nothing of it was forgotten"
    checking(monkeypatch, Report(checked={"tweets": 3}, failures=[failure]))
    assert main(["compliance", "check"]) == 1
    printed = capsys.readouterr()
    assert printed.out.startswith("sent 3 post ids to X")
    assert printed.err == f"aduan compliance: {failure}\n"


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (["--poll", "0"], "must be a finite number above 0, got 0"),
        (["--wait", "soon"], "'soon' is not a number of seconds"),
        (["--since", "2026-07-30"], "has no time zone"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(
    options: list[str],
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    checks = checking(monkeypatch, Report())
    with pytest.raises(SystemExit) as exited:
        main(["compliance", "check", *options])
    assert exited.value.code == 2
    assert said in capsys.readouterr().err
    assert checks.asked == []
