"""A month's count of X reads kept in memory, and a clock the tests move, for the tests that count
X reads without a broker."""

from __future__ import annotations

from datetime import datetime


class MemoryReads:
    """A `streams.x.reads.ReadsStore` in a dict; `puts` lists every count stored, in order."""

    def __init__(self, stored: dict[tuple[str, str], int] | None = None) -> None:
        self.stored = dict(stored or {})
        self.puts: list[tuple[str, str, int]] = []

    def reads(self, source: str, month: str) -> int:
        return self.stored.get((source, month), 0)

    def put_reads(self, source: str, month: str, count: int) -> None:
        self.stored[source, month] = count
        self.puts.append((source, month, count))


class Clock:
    """Unix time, standing still until a test moves it."""

    def __init__(self, at: str) -> None:
        self.now = datetime.fromisoformat(at).timestamp()

    def __call__(self) -> float:
        return self.now

    def set(self, at: str) -> None:
        self.now = datetime.fromisoformat(at).timestamp()

    def advance(self, seconds: float) -> None:
        self.now += seconds
