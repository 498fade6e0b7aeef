"""The worker's table recovery holds stream deliveries back while it seeks (faust-streaming #596):
Faust's own recovery must run with flow control suspended, so that its closing resume clears the
queues before any mention fetched during the seek is delivered."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from faust.tables.recovery import Recovery, ServiceStopped

from streams.app import create_app
from streams.settings import Settings


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
    monkeypatch.setattr("streams.table_recovery.os._exit", exit_now)
    with pytest.raises(SystemExit) as stopped:
        asyncio.run(app.tables.recovery.on_recovery_completed(1))
    assert stopped.value.code == 75
