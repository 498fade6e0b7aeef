"""`aduan forget`: what it says, and the mistakes it refuses before Kafka is asked."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest

from agents.core.forget import Forgotten, forget_request, request_key
from streams.cli import main
from streams.forget import run as forgetting
from streams.forget.run import Outcome
from streams.forget.sweep import Swept
from streams.settings import Settings

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


def test_a_revision_forgotten_by_its_id_records_and_sweeps_its_chains_first_post(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    revision = forget_request("post", "11", "citizen request", NOW)
    recorded: list[str] = []
    passes: list[set[str]] = []

    def sweep(_: Settings, forgotten: Forgotten) -> Swept:
        passes.append(set(forgotten.posts))
        if len(passes) == 1:
            return Swept(Counter({"post:11": 1}), chains={"10": revision})
        return Swept(Counter({"post:10": 1}), withdrawn={"post:10": ["complaints.a"]})

    monkeypatch.setattr(forgetting, "sweep", sweep)
    monkeypatch.setattr(
        forgetting.recorded, "read_requests", lambda _: ({request_key(revision): revision}, 1)
    )
    monkeypatch.setattr(
        forgetting.recorded,
        "record",
        lambda _, requests: recorded.extend(request_key(r) for r in requests),
    )
    swept = forgetting.sweep_recorded(Settings.from_env({}))
    assert recorded == ["post:10"]
    assert passes == [{"11"}, {"10", "11"}]
    assert swept.erased == {"post:11": 2}
    assert swept.withdrawn == {"post:11": ["complaints.a"]}
