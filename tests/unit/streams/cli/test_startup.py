"""What `aduan route` loads: it needs no broker, so it must not pay at every start for the Kafka
clients, Faust, the web server or the charts that other commands import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[4]
OTHER_COMMANDS_LIBRARIES = (
    "kafka",
    "aiokafka",
    "faust",
    "fastapi",
    "uvicorn",
    "matplotlib",
    "prometheus_client",
    "tweepy",
)

# Runs a whole `aduan route` in a fresh interpreter, then prints the top-level packages of those
# libraries that it loaded.
ROUTE_THEN_LIST = f"""
import sys
from streams.cli import main
code = main(sys.argv[1:])
print(*sorted({{name.split(".")[0] for name in sys.modules}} & set({OTHER_COMMANDS_LIBRARIES!r})))
sys.exit(code)
"""


def test_route_loads_no_kafka_client_faust_web_server_or_charts(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            ROUTE_THEN_LIST,
            "route",
            "--agencies",
            str(ROOT / "deploy" / "agencies.yaml"),
            "--input",
            str(ROOT / "deploy" / "samples" / "mentions.jsonl"),
            "--output",
            str(tmp_path / "out.jsonl"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "complaints." in result.stderr  # it routed, cases included
    assert result.stdout.split() == []
