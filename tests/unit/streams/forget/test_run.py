"""`aduan forget`: what it says, and the mistakes it refuses before Kafka is asked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.core.forget import forget_request
from streams.cli import main
from streams.forget.run import Outcome

NOW = datetime(2026, 12, 7, tzinfo=UTC)


def test_an_id_aduan_never_saw_is_reported_as_such_not_as_an_error() -> None:
    outcome = Outcome(forget_request("post", "123", "citizen request", NOW))
    assert outcome.line() == (
        "post 123: recorded; aduan holds nothing of it now (never seen, gone, or erased before)"
    )


def test_the_line_counts_withdrawals_by_topic_and_erased_mentions() -> None:
    request = forget_request("user", "42", "citizen request", NOW)
    outcome = Outcome(request, False, ["complaints.b", "complaints.a", "complaints.a"], 3, 1)
    assert outcome.line() == (
        "user 42: recorded before; 3 complaint(s) withdrawn (complaints.a, complaints.b); "
        "3 mention(s) erased from mentions.raw; 1 mention(s) under a whole-thread key stay until "
        "their retention ends"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["forget", "--post", "123"], "--reason is required"),
        (["forget", "--sweep", "--reason", "x"], "--reason goes with --post or --user"),
        (["forget", "--user", "@warga", "--reason", "x"], "an X user id is digits only"),
    ],
)
def test_mistakes_are_refused_before_kafka_is_asked(
    argv: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ADUAN_BROKER", "localhost:1")
    assert main(argv) == 1
    assert message in capsys.readouterr().err
