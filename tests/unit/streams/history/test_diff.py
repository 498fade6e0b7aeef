"""The replay diff: per agency, complaints gained, lost and moved."""

from __future__ import annotations

from streams.history.diff import AgencyChange, compare, format_diff, routings


def _complaint(tweet_id: str, agency: str | None) -> tuple[str, dict[str, object]]:
    topic = f"complaints.{agency or 'unrouted'}"
    return topic, {"tweet_id": tweet_id, "agency_id": agency, "event_id": f"{tweet_id}:{agency}"}


def test_routings_collect_agencies_per_post_and_keep_rejected_posts_empty() -> None:
    events = [
        _complaint("1", "a"),
        _complaint("1", "b"),
        _complaint("2", None),
        ("mentions.rejected", {"tweet_id": "3", "reason": "unverified_author"}),
        ("mentions.dlq", {"error": "not valid JSON", "raw": "{"}),
    ]
    assert routings(events) == {
        "1": frozenset({"a", "b"}),
        "2": frozenset({"unrouted"}),
        "3": frozenset(),
    }


def test_compare_counts_gains_losses_and_moves_per_agency() -> None:
    live = {
        "same": frozenset({"a"}),
        "moved": frozenset({"a"}),
        "lost": frozenset({"b"}),
        "gained": frozenset(),
        "widened": frozenset({"a"}),
    }
    replayed = {
        "same": frozenset({"a"}),
        "moved": frozenset({"c"}),
        "lost": frozenset(),
        "gained": frozenset({"b"}),
        "widened": frozenset({"a", "c"}),
        "new": frozenset({"a"}),
    }
    diff = compare(live, replayed)
    assert (diff.compared, diff.changed, diff.not_live) == (5, 4, 1)
    assert diff.agencies == {
        "a": AgencyChange(live=3, replayed=2, moved_out=1),
        "b": AgencyChange(live=1, replayed=1, gained=1, lost=1),
        "c": AgencyChange(replayed=2, gained=1, moved_in=1),
    }
    assert dict(diff.moves) == {("a", "c"): 1}


def test_format_diff_has_a_line_per_agency_and_per_move() -> None:
    diff = compare({"1": frozenset({"a"})}, {"1": frozenset({"b"}), "2": frozenset()})
    text = format_diff(diff)
    assert "1 posts compared, 1 routed differently" in text
    assert "moved a -> b: 1" in text
    assert "1 replayed posts not decided live yet" in text
    rows = [line.split() for line in text.splitlines() if line.startswith(("  a ", "  b "))]
    assert rows == [["a", "1", "0", "0", "0", "0", "1"], ["b", "0", "1", "0", "0", "1", "0"]]
