"""Which offsets `aduan deliver` may commit: on each partition, only up to the oldest event that
some agency's webhook has not had yet, so that a crash delivers again and never loses. Pure."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

Partition = tuple[str, int]
"""A topic and a partition number."""


@dataclass(frozen=True, slots=True)
class Token:
    """An event read from `partition` at `offset`, while this reader held the partition for the
    `epoch`-th time: once the partition moves away, its tokens are stale."""

    partition: Partition
    offset: int
    epoch: int


class _Held:
    __slots__ = ("closing", "committed", "epoch", "next", "pending")

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.pending: OrderedDict[int, None] = OrderedDict()
        """Offsets read and not done, oldest first (a partition is read in order)."""
        self.next: int | None = None
        """The offset after the last one read."""
        self.committed: int | None = None
        self.closing = False

    def commit_point(self) -> int | None:
        if self.pending:
            return next(iter(self.pending))
        return self.next


class OffsetTracker:
    """The partitions held, the events read from each and not done yet, and their commit points."""

    def __init__(self) -> None:
        self._held: dict[Partition, _Held] = {}
        self._epochs = itertools.count(1)

    def assign(self, partitions: Iterable[Partition]) -> None:
        """Partitions now held; reading them starts at the group's committed offset."""
        for partition in partitions:
            if partition not in self._held:
                self._held[partition] = _Held(next(self._epochs))

    def close(self, partitions: Iterable[Partition]) -> None:
        """Partitions about to move away: no new attempt for their events, while the attempts
        under way may still finish (and count) before the last commit."""
        for partition in partitions:
            held = self._held.get(partition)
            if held is not None:
                held.closing = True

    def drop(self, partitions: Iterable[Partition]) -> None:
        """Partitions moved away: their tokens are stale from now on."""
        for partition in partitions:
            self._held.pop(partition, None)

    def read(self, partition: Partition, offset: int) -> Token | None:
        """An event read; None if the partition is not held (or is closing)."""
        held = self._held.get(partition)
        if held is None or held.closing:
            return None
        held.pending[offset] = None
        held.next = offset + 1
        return Token(partition, offset, held.epoch)

    def done(self, token: Token) -> None:
        """The event is delivered, dead-lettered, or due to no webhook: it need not be read
        again."""
        held = self._held.get(token.partition)
        if held is not None and held.epoch == token.epoch:
            held.pending.pop(token.offset, None)

    def owned(self, token: Token) -> bool:
        """Whether the event may still be attempted: its partition is held, as when it was read,
        and not closing."""
        held = self._held.get(token.partition)
        return held is not None and held.epoch == token.epoch and not held.closing

    def commits(self) -> dict[Partition, int]:
        """The partitions whose commit point moved since their last commit, with the point: the
        oldest event not done, or the offset after the last one read."""
        moved = {}
        for partition, held in self._held.items():
            point = held.commit_point()
            if point is not None and (held.committed is None or point > held.committed):
                moved[partition] = point
        return moved

    def committed(self, offsets: dict[Partition, int]) -> None:
        """`offsets` were committed."""
        for partition, offset in offsets.items():
            held = self._held.get(partition)
            if held is not None:
                held.committed = offset

    def pending(self) -> int:
        """Events read and not done, over every partition held."""
        return sum(len(held.pending) for held in self._held.values())
