"""Cases on a real broker: the worker's `cases` topic ends in the states `aduan route` computes,
whatever order a thread's posts arrive in."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.conftest import running_broker
from tests.integration.test_pipeline import aduan, records_until_end
from tests.unit.agents.factories import make_post, make_user, stream_line

pytestmark = pytest.mark.integration


@pytest.fixture
def broker(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Iterator[str]:
    """A broker of this test's own: the pipeline test reads the whole `cases` topic."""
    with running_broker(tmp_path_factory, pytestconfig) as address:
        yield address


KEJATI = ("900000000000000201", "KejatiJateng")  # deploy/agencies.yaml
HUMAS = ("900000000000000101", "humasjateng")
WARGA = make_user("1600000000000000001", "warga1")
TETANGGA = make_user("1600000000000000002", "warga2")
TO_WARGA = ("1600000000000000001", "warga1")
KEJATI_USER = make_user(*KEJATI, name="Kejati Jateng", verified_type="government")
HUMAS_USER = make_user(*HUMAS, name="Humas Jateng", verified_type="government")


def post(
    post_id: str,
    author: dict[str, Any],
    at: str,
    mentions: list[tuple[str, str]],
    *,
    reply_to: str | None = None,
    thread: str | None = None,
) -> bytes:
    data = make_post(
        f"@{mentions[0][1]} aduan {post_id}",
        id=post_id,
        author_id=author["id"],
        mentions=mentions,
        referenced_tweets=[("replied_to", reply_to)] if reply_to else (),
        conversation_id=thread or post_id,
        created_at=at,
    )
    return stream_line(data, [author])


def threads() -> list[bytes]:
    """Three threads: one answered after a follow-up, one to two agencies answered by one, one
    never answered; and a stranger's reply that opens a case of its own."""
    c1, c2, c3 = "1800000000000000100", "1800000000000000200", "1800000000000000300"
    return [
        post(c1, WARGA, "2026-06-01T02:00:00.000Z", [KEJATI]),
        post(
            "1800000000000000101",
            WARGA,
            "2026-06-02T02:00:00.000Z",
            [KEJATI],
            reply_to=c1,
            thread=c1,
        ),
        post(
            "1800000000000000102",
            KEJATI_USER,
            "2026-06-03T02:00:00.000Z",
            [TO_WARGA],
            reply_to="1800000000000000101",
            thread=c1,
        ),
        post(
            "1800000000000000103",
            TETANGGA,
            "2026-06-03T03:00:00.000Z",
            [KEJATI],
            reply_to=c1,
            thread=c1,
        ),
        post(c2, WARGA, "2026-06-01T03:00:00.000Z", [KEJATI, HUMAS]),
        post(
            "1800000000000000201",
            HUMAS_USER,
            "2026-06-10T02:00:00.000Z",
            [TO_WARGA],
            reply_to=c2,
            thread=c2,
        ),
        post(c3, TETANGGA, "2026-06-01T04:00:00.000Z", [KEJATI]),
    ]


def final_cases(lines: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for line in lines:
        if line["value"] is None:
            state.pop(line["key"], None)
        else:
            state[line["key"]] = line["value"]
    return state


def live_cases(broker: str) -> dict[str, Any]:
    return final_cases(
        [
            {"key": r.key.decode(), "value": None if r.value is None else orjson.loads(r.value)}
            for r in records_until_end(broker, ["cases"])
        ]
    )


def test_the_live_cases_end_as_route_computes_whatever_the_order(
    broker: str, aduan_env: dict[str, str], worker: Path, tmp_path: Path
) -> None:
    lines = threads()
    random.Random(27).shuffle(lines)  # answers and follow-ups before their complaints
    source = tmp_path / "threads.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    routed = aduan(aduan_env, "route", "--input", str(source))
    expected = final_cases(
        [line for line in map(orjson.loads, routed.splitlines()) if line["topic"] == "cases"]
    )
    assert sorted(expected) == [
        "kejati-jateng:1800000000000000100",
        "kejati-jateng:1800000000000000103",
        "kejati-jateng:1800000000000000200",
        "kejati-jateng:1800000000000000300",
        "pemprov-jateng:1800000000000000200",
    ]
    assert expected["kejati-jateng:1800000000000000100"]["status"] == "answered"
    assert expected["pemprov-jateng:1800000000000000200"]["answered_on_time"] is False

    aduan(aduan_env, "topics", "create")
    aduan(aduan_env, "produce", "--file", str(source))
    deadline = time.monotonic() + 90
    live = live_cases(broker)
    while live != expected and time.monotonic() < deadline:
        time.sleep(1)
        live = live_cases(broker)
    assert live == expected
