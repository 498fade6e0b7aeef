"""The worker's table recovery holds stream deliveries back while it seeks (faust-streaming #596):
Faust's own recovery must run with flow control suspended, so that its closing resume clears the
queues before any mention fetched during the seek is delivered."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
from faust.tables.recovery import Recovery, ServiceStopped
from faust.types import TP

from streams.compat.tables import SafeRecovery
from streams.settings import Settings
from streams.worker.app import create_app


def test_the_worker_restores_tables_with_flow_control_suspended_until_the_seek_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))
    app.flow_control.resume()
    seen: list[bool] = []

    async def faust_completion(recovery: Recovery, generation_id: int = 0) -> None:
        seen.append(app.flow_control.is_active())
        recovery.app.flow_control.resume()  # what Faust does once it has sought

    monkeypatch.setattr(Recovery, "on_recovery_completed", faust_completion)
    asyncio.run(app.tables.recovery.on_recovery_completed(1))
    assert seen == [False]
    assert app.flow_control.is_active()


def test_a_seek_that_timed_out_stops_the_worker_rather_than_leave_it_suspended(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))

    async def timed_out(recovery: Recovery, generation_id: int = 0) -> None:
        raise ServiceStopped  # how Faust's Recovery._wait reports a timeout

    def exit_now(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr(Recovery, "on_recovery_completed", timed_out)
    monkeypatch.setattr("streams.compat.recovery_flow.os._exit", exit_now)
    with pytest.raises(SystemExit) as stopped:
        asyncio.run(app.tables.recovery.on_recovery_completed(1))
    assert stopped.value.code == 75


CHANGELOG = "aduan-decided-posts-changelog"


class Consumer:
    """Records the seeks recovery asks for; `error` makes them fail."""

    def __init__(self, error: Exception | None = None) -> None:
        self.seeks: list[dict[TP, int]] = []
        self.error = error

    async def seek_wait(self, partitions: dict[TP, int]) -> None:
        self.seeks.append(dict(partitions))
        if self.error is not None:
            raise self.error


def recovering(tmp_path: Path, consumer: Consumer) -> SafeRecovery:
    """The worker's recovery of three changelog partitions, sought by Faust at 100 s: 0 heard
    at 125 s and still behind, 1 never heard, 2 done; 3, behind, is no longer its own."""
    app = create_app(Settings.from_env({"ADUAN_WORKER_DIR": str(tmp_path)}))
    app.consumer = consumer  # type: ignore[assignment]
    recovery = app.tables.recovery  # type: ignore[attr-defined]
    assert isinstance(recovery, SafeRecovery)
    tps = [TP(CHANGELOG, partition) for partition in range(3)]
    recovery.in_recovery = True
    recovery._sought_at = 100.0
    recovery.active_tps = set(tps)
    revoked = TP(CHANGELOG, 3)
    recovery.active_highwaters.update({tps[0]: 893, tps[1]: 401, tps[2]: 388, revoked: 50})
    recovery.active_offsets.update({tps[0]: 500, tps[1]: -1, tps[2]: 388, revoked: 10})
    recovery._active_events_received_at[tps[0]] = 125.0
    return recovery


def test_recovery_reads_again_a_changelog_partition_silent_for_30_s(tmp_path: Path) -> None:
    consumer = Consumer()
    recovery = recovering(tmp_path, consumer)
    for now in (129.0, 131.0, 155.0, 161.0):
        asyncio.run(recovery.read_silent_partitions_again(now))
    # 1 at 131 s (from 0: Faust's -1 means nothing applied yet) and again at 161 s; 0 at 155 s,
    # from the last offset applied; 2 never: it is done; 3 never: it is not recovered here.
    assert consumer.seeks == [
        {TP(CHANGELOG, 1): 0},
        {TP(CHANGELOG, 0): 500},
        {TP(CHANGELOG, 1): 0},
    ]


def test_a_failed_seek_of_a_silent_partition_is_logged_and_tried_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    consumer = Consumer(TimeoutError("broker away"))
    recovery = recovering(tmp_path, consumer)
    asyncio.run(recovery.read_silent_partitions_again(131.0))
    asyncio.run(recovery.read_silent_partitions_again(161.0))
    assert consumer.seeks == [
        {TP(CHANGELOG, 1): 0},
        {TP(CHANGELOG, 0): 500, TP(CHANGELOG, 1): 0},
    ]
    assert "again failed: TimeoutError('broker away')" in caplog.text


def test_the_worker_checks_for_silent_partitions_in_the_background() -> None:
    # mode starts the timers a service class lists here
    own = SafeRecovery._tasks[f"{SafeRecovery.__module__}.{SafeRecovery.__qualname__}"]
    assert "_watch_silent_partitions" in own


@pytest.mark.parametrize("moment", ["not recovering", "before Faust's seek", "rebalancing"])
def test_recovery_reads_nothing_again_outside_a_sought_round(tmp_path: Path, moment: str) -> None:
    consumer = Consumer()
    recovery = recovering(tmp_path, consumer)
    if moment == "not recovering":
        recovery.in_recovery = False
    elif moment == "before Faust's seek":
        recovery._sought_at = None
    else:
        recovery.signal_recovery_start.set()
    asyncio.run(recovery.read_silent_partitions_again(1000.0))
    assert consumer.seeks == []


def test_the_silence_is_counted_from_faust_s_own_seek_of_the_active_partitions(
    tmp_path: Path,
) -> None:
    consumer = Consumer()
    recovery = recovering(tmp_path, consumer)
    recovery._sought_at = None
    standby = {TP(CHANGELOG, 2): 388}
    asyncio.run(recovery._seek_offsets(consumer, set(standby), Counter(standby), "standby"))
    assert recovery._sought_at is None
    active = {TP(CHANGELOG, 1): -1}
    asyncio.run(recovery._seek_offsets(consumer, set(active), Counter(active), "active"))
    assert recovery._sought_at is not None
    assert consumer.seeks == [standby, {TP(CHANGELOG, 1): 0}]
