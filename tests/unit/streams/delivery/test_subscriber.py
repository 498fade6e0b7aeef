"""`aduan subscribe` prints what a post's author wrote, never what a terminal would act on."""

from __future__ import annotations

import io
import os
from types import SimpleNamespace
from typing import Any

import orjson

from streams.delivery.subscriber import _copy

# An author name that sets the window title and clears the screen, a text with a C1 CSI, DEL,
# a right-to-left override and a line separator: orjson escapes the C0 controls only.
EVENT = {
    "event_id": "e1",
    "author": {"name": "Warga\x1b]0;pwned\x07\x1b[2J", "username": "warga"},
    "text": "lapor\x9b31m merah\x7f \u202egnp.exe\u202c baris\u2028dua\u2029",
}
ESCAPED = (
    '"Warga\\u001b]0;pwned\\u0007\\u001b[2J"',
    "lapor\\u009b31m merah\\u007f \\u202egnp.exe\\u202c baris\\u2028dua\\u2029",
)


class OneBatch:
    """A kafka-python consumer that has one event to give."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.batches = [{"tp": [SimpleNamespace(value=orjson.dumps(event))]}]
        self.commits = 0

    def poll(self, timeout_ms: int, max_records: int) -> dict[str, Any]:
        return self.batches.pop() if self.batches else {}

    def commit(self) -> None:
        self.commits += 1


def test_a_pipe_or_file_gets_the_exact_json() -> None:
    sink = io.BytesIO()
    assert _copy(OneBatch(EVENT), sink, max_events=1, idle_timeout=None) == 1
    assert sink.getvalue() == orjson.dumps(EVENT, option=orjson.OPT_APPEND_NEWLINE)


def test_a_terminal_gets_control_characters_escaped_and_the_same_event() -> None:
    reader, writer = os.openpty()
    try:
        with os.fdopen(writer, "wb", closefd=False) as terminal:
            assert terminal.isatty()
            _copy(OneBatch(EVENT), terminal, max_events=1, idle_timeout=None)
        shown = os.read(reader, 4096)
    finally:
        os.close(reader)
        os.close(writer)
    line = shown.replace(b"\r\n", b"\n")  # the terminal's own newline translation
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    text = line.decode()
    assert all(part in text for part in ESCAPED), text
    assert not any(
        (ord(char) < 0x20 and char != "\n") or 0x7F <= ord(char) <= 0x9F or char in "\u202e\u2028"
        for char in text
    )
    assert orjson.loads(line) == EVENT
