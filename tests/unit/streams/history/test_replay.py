"""The parts of `aduan replay` that need no broker: windows, shadow topic names, merging."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.core.errors import ConfigError
from agents.core.registry import load_registry
from streams.cli import main
from streams.history.replay import check_prefix, merge, part_file, shadow_topics
from streams.history.window import Span, Window

ROOT = Path(__file__).resolve().parents[4]
SINCE = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_window_holds_since_but_not_until() -> None:
    window = Window(SINCE, datetime(2026, 11, 2, tzinfo=UTC))
    assert window.holds(window.since_ms)
    assert window.holds(window.since_ms + 1)
    assert not window.holds(window.since_ms - 1)
    assert window.until_ms is not None and not window.holds(window.until_ms)
    assert Window(SINCE).holds(2**62)


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ConfigError, match="is not after --since"):
        Window(SINCE, SINCE)


@pytest.mark.parametrize("prefix", ["replay-1", "shadow.2026-11-27", "ops_test"])
def test_shadow_prefixes_that_cannot_be_live_topics_are_accepted(prefix: str) -> None:
    assert check_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix", ["complaints", "mentions.x", "aduan", "", ".hidden", "ends.", "with space", "a/b"]
)
def test_shadow_prefixes_that_could_touch_live_topics_or_are_no_names_are_refused(
    prefix: str,
) -> None:
    with pytest.raises(ConfigError, match="--to-topics"):
        check_prefix(prefix)


def test_shadow_topics_mirror_the_live_topic_names() -> None:
    registry = load_registry(ROOT / "deploy" / "agencies.yaml")
    names = shadow_topics("replay-1", registry)
    assert "replay-1.complaints.kejati-jateng" in names
    assert {"replay-1.mentions.dlq", "replay-1.mentions.rejected"} <= set(names)
    assert {"replay-1.complaints.unrouted", "replay-1.cases"} <= set(names)
    assert len(names) == len(registry.agencies) + 4


def test_merge_joins_part_files_in_partition_order_and_skips_missing_ones(tmp_path: Path) -> None:
    spans = [Span("mentions.raw", partition, 0, 10) for partition in (0, 1, 2)]
    part_file(tmp_path, spans[2]).write_bytes(b"two\n")
    part_file(tmp_path, spans[0]).write_bytes(b"zero\n")
    sink = io.BytesIO()
    merge(tmp_path, spans, sink)
    assert sink.getvalue() == b"zero\ntwo\n"


def test_replay_refuses_a_live_prefix_before_touching_kafka(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADUAN_BROKER", "localhost:1")  # nothing listens there
    code = main(["replay", "--since", "2026-11-01T00:00:00Z", "--to-topics", "complaints"])
    assert code == 1
    assert "shadow topics must not look like live ones" in capsys.readouterr().err


def test_replay_needs_a_time_zone(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["replay", "--since", "2026-11-01T00:00:00", "--output", "-"])
    assert "has no time zone" in capsys.readouterr().err
