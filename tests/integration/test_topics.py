"""`aduan topics create` against a real broker: a topic whose partition count differs from
ADUAN_TOPIC_PARTITIONS is named, and one the pipeline relies on stops the command."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.integration


def topics_create(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["aduan", "topics", "create"], env=env, capture_output=True, text=True, check=False
    )


def test_a_partition_count_unlike_the_setting_is_named_and_fails_for_mentions_raw(
    aduan_env: dict[str, str],
) -> None:
    made = topics_create({**aduan_env, "ADUAN_TOPIC_PARTITIONS": "3"})
    assert made.returncode == 0, made.stderr
    assert "MISMATCH" not in made.stderr

    unlike = topics_create({**aduan_env, "ADUAN_TOPIC_PARTITIONS": "2"})

    assert unlike.returncode == 1
    lines = unlike.stderr.splitlines()
    [raw] = [line for line in lines if line.startswith("mentions.raw ")]
    assert "MISMATCH: mentions.raw has 3 partitions, ADUAN_TOPIC_PARTITIONS asks for 2" in raw
    [kejati] = [line for line in lines if line.startswith("complaints.kejati-jateng ")]
    assert "has 3 partitions, ADUAN_TOPIC_PARTITIONS asks for 2: left as it is" in kejati
    [registry] = [line for line in lines if line.startswith("aduan.registry ")]
    assert registry.split() == ["aduan.registry", "exists"]  # one partition, as it should
    assert lines[-1].startswith("aduan topics: mentions.raw has 3 partitions")
    assert "set ADUAN_TOPIC_PARTITIONS=3 for every aduan command" in lines[-1]
