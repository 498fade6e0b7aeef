"""`streams.delivery.offsets.OffsetTracker`: a commit never passes an event not yet delivered
(nor dead-lettered), whatever order the agencies finish in; a partition that moves away leaves
its events to its next reader."""

from __future__ import annotations

import random

from streams.delivery.offsets import OffsetTracker

CASES0 = ("cases", 0)
CASES1 = ("cases", 1)


def test_the_commit_stops_at_the_oldest_event_not_done() -> None:
    tracker = OffsetTracker()
    tracker.assign([CASES0])
    tokens = [tracker.read(CASES0, offset) for offset in range(10, 15)]
    assert all(tokens)
    assert tracker.commits() == {CASES0: 10}
    for token in tokens[1:4]:  # another agency's events, delivered first
        assert token is not None
        tracker.done(token)
    assert tracker.commits() == {CASES0: 10}
    assert tokens[0] is not None
    tracker.done(tokens[0])
    assert tracker.commits() == {CASES0: 14}
    assert tokens[4] is not None
    tracker.done(tokens[4])
    assert tracker.commits() == {CASES0: 15}
    assert tracker.pending() == 0


def test_a_partition_is_committed_again_only_when_its_point_moved() -> None:
    tracker = OffsetTracker()
    tracker.assign([CASES0, CASES1])
    token = tracker.read(CASES0, 0)
    assert token is not None
    tracker.done(token)
    tracker.committed(tracker.commits())
    assert tracker.commits() == {}
    stuck = tracker.read(CASES1, 5)
    assert tracker.commits() == {CASES1: 5}
    assert stuck is not None


def test_random_completion_orders_never_commit_past_a_pending_offset() -> None:
    shuffle = random.Random(29)
    for _ in range(200):
        tracker = OffsetTracker()
        tracker.assign([CASES0])
        tokens = [tracker.read(CASES0, offset) for offset in range(100, 130)]
        order = list(range(30))
        shuffle.shuffle(order)
        done: set[int] = set()
        for index in order[: shuffle.randrange(31)]:
            token = tokens[index]
            assert token is not None
            tracker.done(token)
            done.add(100 + index)
            point = tracker.commits().get(CASES0)
            assert point is not None
            # Everything below the commit point is done, and the point itself is not (or is
            # past the last event read).
            assert all(offset in done for offset in range(100, point))
            assert point == 130 or point not in done


def test_a_closing_partition_takes_no_new_attempt_but_counts_those_finishing() -> None:
    tracker = OffsetTracker()
    tracker.assign([CASES0])
    in_flight, queued = tracker.read(CASES0, 0), tracker.read(CASES0, 1)
    assert in_flight is not None and queued is not None
    tracker.close([CASES0])
    assert not tracker.owned(queued)
    assert tracker.read(CASES0, 2) is None
    tracker.done(in_flight)  # its attempt finished during the rebalance
    assert tracker.commits() == {CASES0: 1}
    tracker.drop([CASES0])
    assert tracker.commits() == {}


def test_tokens_of_an_earlier_hold_are_stale_after_the_partition_comes_back() -> None:
    tracker = OffsetTracker()
    tracker.assign([CASES0])
    old = tracker.read(CASES0, 3)
    assert old is not None and tracker.owned(old)
    tracker.close([CASES0])
    tracker.drop([CASES0])
    tracker.assign([CASES0])
    assert not tracker.owned(old)
    again = tracker.read(CASES0, 3)  # read again from the committed offset
    assert again is not None and tracker.owned(again)
    tracker.done(old)  # the stale token's outcome does not count
    assert tracker.commits() == {CASES0: 3}
    tracker.done(again)
    assert tracker.commits() == {CASES0: 4}


def test_a_partition_not_held_is_not_read() -> None:
    tracker = OffsetTracker()
    assert tracker.read(CASES0, 0) is None
    assert tracker.commits() == {}
