"""Progress on stderr: a bar on a terminal (rate, ETA), else a log line every 10 s."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import BinaryIO


def lines_with_progress(source: BinaryIO) -> Iterator[bytes]:
    """The lines of `source`, with a bar of the bytes read on a terminal."""
    from tqdm import tqdm

    try:
        total: int | None = os.fstat(source.fileno()).st_size or None
    except (OSError, ValueError):
        total = None
    with tqdm(total=total, unit="B", unit_scale=True, disable=not sys.stderr.isatty()) as bar:
        for line in source:
            bar.update(len(line))
            yield line


class PostsProgress:
    """Posts read of `total`, shown as `what` in the log lines."""

    def __init__(self, total: int, what: str) -> None:
        from tqdm import tqdm

        self.total = total
        self.what = what
        self.terminal = sys.stderr.isatty()
        self.bar = tqdm(total=total, unit="post", unit_scale=True, disable=not self.terminal)
        self.start = self.logged = time.monotonic()

    def __enter__(self) -> Callable[[int], None]:
        return self.show

    def __exit__(self, *_: object) -> None:
        self.bar.close()

    def show(self, done: int) -> None:
        self.bar.update(done - self.bar.n)
        now = time.monotonic()
        if not self.terminal and now - self.logged >= 10:
            self.logged = now
            rate = done / max(now - self.start, 1e-9)
            print(f"{self.what}: {done} of {self.total} posts, {rate:,.0f}/s", file=sys.stderr)
