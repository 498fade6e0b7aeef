"""`aduan deliver` parses nothing of its own and hands the settings to the webhook runner."""

from __future__ import annotations

import pytest

from streams.cli import main
from streams.settings import Settings


def test_aduan_deliver_runs_the_webhook_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[Settings] = []
    monkeypatch.setattr("streams.delivery.webhooks.run_deliver", called.append)
    assert main(["deliver"]) == 0
    assert len(called) == 1 and isinstance(called[0], Settings)


def test_aduan_deliver_help_names_the_signature_and_the_settings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["deliver", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "Aduan-Signature" in text
    assert "ADUAN_WEBHOOK_RETRY_SECONDS" in text
    assert "webhooks.dlq" in text
