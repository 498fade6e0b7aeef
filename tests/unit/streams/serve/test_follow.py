"""`streams.serve.follow`: when a stored view is too old for the topics (no broker)."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition

from streams.serve.follow import _passed


class Beginnings:
    """What a consumer says of where each partition now begins."""

    def __init__(self, starts: dict[TopicPartition, int]) -> None:
        self.starts = starts

    async def beginning_offsets(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int]:
        return {tp: self.starts[tp] for tp in partitions}


def test_a_view_whose_next_offset_the_retention_passed_is_too_old() -> None:
    cases, complaints = TopicPartition("cases", 0), TopicPartition("complaints.kejati-jateng", 1)
    consumer = Beginnings({cases: 0, complaints: 120})
    stored = {("cases", 0): 40, ("complaints.kejati-jateng", 1): 120}
    assert not asyncio.run(_passed(consumer, [cases, complaints], stored))  # type: ignore[arg-type]
    stored[("complaints.kejati-jateng", 1)] = 119  # offset 119 was deleted unread
    assert asyncio.run(_passed(consumer, [cases, complaints], stored))  # type: ignore[arg-type]
    assert not asyncio.run(_passed(consumer, [], stored))  # type: ignore[arg-type]
