"""`aduan route` and `aduan synthetic` as a user runs them."""

from __future__ import annotations

import io
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from streams.cli import main

ROOT = Path(__file__).resolve().parents[4]
REGISTRY = ROOT / "deploy" / "agencies.yaml"
SAMPLE = ROOT / "deploy" / "samples" / "mentions.jsonl"
REAL = ROOT / "tests" / "fixtures" / "real"


def _route(tmp_path: Path, *extra: str, source: Path = SAMPLE) -> list[dict[str, object]]:
    output = tmp_path / "routed.jsonl"
    code = main(
        [
            "route",
            "--agencies",
            str(REGISTRY),
            "--input",
            str(source),
            "--output",
            str(output),
            *extra,
        ]
    )
    assert code == 0
    return [orjson.loads(line) for line in output.read_bytes().splitlines()]


def test_route_writes_one_line_per_event_and_counts_per_topic(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _route(tmp_path)
    counts = Counter(str(line["topic"]) for line in lines)
    assert set(lines[0]) == {"topic", "key", "value"}
    assert {"complaints.unrouted", "mentions.rejected", "mentions.dlq"} <= set(counts)
    stderr = capsys.readouterr().err
    assert f"{len(lines)} events" in stderr
    for topic, count in counts.items():
        assert f"  {topic:<40} {count:>9}" in stderr


def test_route_is_deterministic(tmp_path: Path) -> None:
    assert _route(tmp_path) == _route(tmp_path)


def test_government_only_policy_serves_fewer_authors(tmp_path: Path) -> None:
    default = Counter(str(line["topic"]) for line in _route(tmp_path))
    strict = Counter(
        str(line["topic"]) for line in _route(tmp_path, "--verified-types", "government")
    )
    assert strict["mentions.rejected"] > default["mentions.rejected"]
    assert sum(strict.values()) < sum(default.values())


def test_real_v1_archive_authors_are_all_unverified(tmp_path: Path) -> None:
    lines = _route(tmp_path, source=REAL / "v1_original_format.jsonl")
    reasons = Counter(line["value"]["reason"] for line in lines)  # type: ignore[index]
    assert len(lines) == 25
    assert reasons == {"unverified_author": 22, "retweet": 3}


def test_real_v2_pages_without_expansions_have_unknown_authors(tmp_path: Path) -> None:
    lines = _route(tmp_path, source=REAL / "v2_pages.jsonl")
    assert {line["topic"] for line in lines} == {"mentions.rejected"}
    reasons = Counter(line["value"]["reason"] for line in lines)  # type: ignore[index]
    # The single-tweet lookup (last line) asks for a post the lookup by ids already returned.
    assert reasons == {"unknown_author": 10 + 10 + 2, "duplicate": 1}


def test_route_reads_stdin_and_writes_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b'{"not": "a post"}\n\n[1]\n'))
    stdout = io.TextIOWrapper(io.BytesIO())
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", stdout)
    assert main(["route", "--agencies", str(REGISTRY)]) == 0
    stdout.flush()
    lines = [orjson.loads(line) for line in stdout.buffer.getvalue().splitlines()]  # type: ignore[attr-defined]
    assert [(line["topic"], line["value"]["line"]) for line in lines] == [
        ("mentions.dlq", 1),
        ("mentions.dlq", 3),
    ]


def test_missing_input_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["route", "--agencies", str(REGISTRY), "--input", str(tmp_path / "nope.jsonl")])
    assert code == 1
    err = capsys.readouterr().err
    assert (
        err
        == f"aduan route: cannot open input {tmp_path / 'nope.jsonl'}: No such file or directory\n"
    )


def test_invalid_registry_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "agencies.yaml"
    registry.write_text("agencies:\n  - id: Bad_Id\n    name: x\n    accounts: []\n")
    code = main(["route", "--agencies", str(registry), "--input", str(SAMPLE)])
    assert code == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"aduan route: {registry}: agencies[0]: agency id 'Bad_Id' is invalid")


def test_unknown_verified_type_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["route", "--agencies", str(REGISTRY), "--verified-types", "gold"])
    assert code == 1
    assert "--verified-types: unknown verification type(s) ['gold']" in capsys.readouterr().err


def test_environment_sets_registry_and_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ADUAN_AGENCIES", str(REGISTRY))
    monkeypatch.setenv("ADUAN_VERIFIED_TYPES", "government")
    output = tmp_path / "out.jsonl"
    assert main(["route", "--input", str(SAMPLE), "--output", str(output)]) == 0
    strict = Counter(orjson.loads(line)["topic"] for line in output.read_bytes().splitlines())
    default = Counter(
        str(line["topic"])
        for line in _route(tmp_path, "--verified-types", "blue,business,government,legacy")
    )
    assert strict["mentions.rejected"] > default["mentions.rejected"]


def test_synthetic_is_deterministic_and_routable(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (first, second):
        assert (
            main(
                [
                    "synthetic",
                    "--agencies",
                    str(REGISTRY),
                    "--count",
                    "500",
                    "--seed",
                    "3",
                    "--output",
                    str(path),
                ]
            )
            == 0
        )
    assert first.read_bytes() == second.read_bytes()
    topics = Counter(str(line["topic"]) for line in _route(tmp_path, source=first))
    assert topics["mentions.rejected"] > 0
    assert sum(n for topic, n in topics.items() if topic.startswith("complaints.")) > 250


def test_console_script_runs_like_the_readme_says(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            "aduan",
            "route",
            "--agencies",
            str(REGISTRY),
            "--input",
            str(SAMPLE),
            "--output",
            str(tmp_path / "out.jsonl"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "complaints.kejati-jateng" in result.stderr
    assert result.stdout == ""


def test_write_failure_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["route", "--agencies", str(REGISTRY), "--input", str(SAMPLE), "--output", "/dev/full"]
    )
    assert code == 1
    assert capsys.readouterr().err == "aduan route: No space left on device\n"


def test_synthetic_refuses_a_count_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["synthetic", "--count", "0"])
    assert info.value.code == 2
    assert "argument --count: must be at least 1, got 0" in capsys.readouterr().err


def test_route_reports_lines_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = _route(tmp_path)
    read = sum(1 for line in SAMPLE.read_bytes().splitlines() if line.strip())
    assert f"{read} lines -> {len(lines)} events" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "env", "message"),
    [
        (["--x-poll"], {}, "the X API needs a bearer token: set ADUAN_X_BEARER_TOKEN"),
        (["--x-stream", "--rate", "5"], {"ADUAN_X_BEARER_TOKEN": "t"}, "--rate applies to --file"),
    ],
)
def test_x_sources_refuse_bad_options_before_touching_kafka(
    extra: list[str],
    env: dict[str, str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ADUAN_X_BEARER_TOKEN_FILE", raising=False)
    if not env:
        monkeypatch.delenv("ADUAN_X_BEARER_TOKEN", raising=False)
    assert main(["produce", "--agencies", str(REGISTRY), *extra]) == 1
    assert message in capsys.readouterr().err
