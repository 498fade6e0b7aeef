"""`ensure_topics` asks Kafka only for the missing topics, and says who may create them when the
cluster refuses; `aduan topics create` names a topic whose partition count is not the one asked
for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agents.core.registry import load_registry
from streams.cli import main
from streams.errors import BrokerError
from streams.kafka import admin as topics
from streams.kafka.admin import TopicSpec, ensure_topics, topic_specs
from streams.settings import Settings

REGISTRY = Path(__file__).resolve().parents[4] / "deploy" / "agencies.yaml"


class FakeAdmin:
    """kafka-python's admin client, answering as a secured cluster does."""

    def __init__(
        self, existing: set[str], refused: set[str], partitions: dict[str, int] | None = None
    ) -> None:
        self.existing, self.refused = existing, refused
        self.partitions = partitions or {}
        """Partitions of an existing topic, where not 3."""
        self.asked: list[str] = []
        self.closed = False

    def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        """As kafka-python 3.0 answers: the metadata response's topics, as dicts."""
        return [
            {
                "error_code": 0 if name in self.existing else 3,  # UNKNOWN_TOPIC_OR_PARTITION
                "name": name,
                "is_internal": False,
                "partitions": [
                    {"error_code": 0, "partition_index": index, "leader_id": 1}
                    for index in range(self.partitions.get(name, 3) if name in self.existing else 0)
                ],
            }
            for name in names
        ]

    def list_topics(self) -> list[str]:
        return sorted(self.existing)

    def create_topics(self, new: dict[str, Any], raise_errors: bool) -> dict[str, Any]:
        assert not raise_errors
        self.asked += new
        return {
            "topics": [
                {"name": name, "error_code": 29 if name in self.refused else 0,
                 "error_message": None}
                for name in new
            ]
        }  # fmt: skip

    def wait_for_topics(self, names: list[str]) -> None:
        assert not set(names) & self.refused

    def close(self) -> None:
        self.closed = True


def test_only_missing_topics_are_created(monkeypatch: pytest.MonkeyPatch) -> None:
    admin = FakeAdmin(existing={"mentions.raw"}, refused=set())
    monkeypatch.setattr(topics, "kafka_admin", lambda settings: admin)
    specs = [TopicSpec("mentions.raw", {}), TopicSpec("complaints.new", {})]
    assert ensure_topics(Settings.from_env({}), specs) == {
        "mentions.raw": False,
        "complaints.new": True,
    }
    assert admin.asked == ["complaints.new"]
    assert admin.closed


def test_a_refused_creation_names_the_user_and_the_way_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin = FakeAdmin(existing=set(), refused={"complaints.new"})
    monkeypatch.setattr(topics, "kafka_admin", lambda settings: admin)
    settings = Settings.from_env({"ADUAN_KAFKA_USERNAME": "aduan-worker"})
    with pytest.raises(BrokerError, match=r"aduan-worker may not create topic complaints\.new; "
                       r"create the topics first with `aduan topics create`"):  # fmt: skip
        ensure_topics(settings, [TopicSpec("complaints.new", {})])
    assert admin.closed


def every_topic() -> set[str]:
    return {spec.name for spec in topic_specs(Settings.from_env({}), load_registry(REGISTRY))}


def topics_create(
    admin: FakeAdmin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[str]]:
    monkeypatch.setattr(topics, "kafka_admin", lambda settings: admin)
    monkeypatch.delenv("ADUAN_TOPIC_PARTITIONS", raising=False)
    code = main(["topics", "create", "--agencies", str(REGISTRY)])
    return code, capsys.readouterr().err.splitlines()


def test_topics_that_match_are_reported_as_existing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = FakeAdmin(
        existing=every_topic(),
        refused=set(),
        partitions={"aduan.registry": 1, "aduan.forget": 1, "aduan.api-keys": 1},
    )
    code, lines = topics_create(admin, monkeypatch, capsys)
    assert code == 0
    assert all(line.split()[1] == "exists" for line in lines), lines


def test_a_mentions_topic_of_another_partition_count_fails_and_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = FakeAdmin(
        existing=every_topic(),
        refused=set(),
        partitions={"mentions.raw": 6, "aduan.registry": 1, "aduan.forget": 1, "aduan.api-keys": 1},
    )
    code, lines = topics_create(admin, monkeypatch, capsys)
    assert code == 1
    [raw] = [line for line in lines if line.startswith("mentions.raw ")]
    assert (
        "exists, MISMATCH: mentions.raw has 6 partitions, ADUAN_TOPIC_PARTITIONS asks for 3" in raw
    )
    assert lines[-1].startswith("aduan topics: mentions.raw has 6 partitions")
    assert "set ADUAN_TOPIC_PARTITIONS=6" in lines[-1]
    assert "dedup changelog" in lines[-1]


def test_a_registry_topic_of_several_partitions_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = FakeAdmin(
        existing=every_topic(),
        refused=set(),
        partitions={"aduan.registry": 3, "aduan.forget": 1, "aduan.api-keys": 1},
    )
    code, lines = topics_create(admin, monkeypatch, capsys)
    assert code == 1
    assert lines[-1] == (
        "aduan topics: aduan.registry has 3 partitions; it must have 1, as readers take "
        "the registry from partition 0: delete the topic, then run `aduan topics create` and "
        "`aduan agencies sync`"
    )


def test_a_forget_topic_of_several_partitions_fails_and_is_not_to_be_deleted(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = FakeAdmin(
        existing=every_topic(),
        refused=set(),
        partitions={"aduan.registry": 1, "aduan.forget": 2, "aduan.api-keys": 1},
    )
    code, lines = topics_create(admin, monkeypatch, capsys)
    assert code == 1
    assert lines[-1].startswith("aduan topics: aduan.forget has 2 partitions; it must have 1")
    assert "deleting it would forget the requests" in lines[-1]


def test_text_topics_are_compacted_and_deleted_after_their_retention() -> None:
    settings = Settings.from_env(
        {"ADUAN_RAW_RETENTION_MS": "864000000", "ADUAN_DEDUP_DAYS": "2", "ADUAN_CASE_DAYS": "3"}
    )
    specs = {spec.name: spec for spec in topic_specs(settings, load_registry(REGISTRY))}
    lag = str(24 * 60 * 60 * 1000)
    assert specs["mentions.raw"].configs == {
        "cleanup.policy": "compact,delete",
        "retention.ms": "864000000",
        "max.compaction.lag.ms": lag,
    }
    month = str(30 * 24 * 60 * 60 * 1000)
    for name in ("complaints.kejati-jateng", "complaints.unrouted"):
        assert specs[name].configs == {
            "cleanup.policy": "compact,delete",
            "retention.ms": month,
            "max.compaction.lag.ms": lag,
        }
    for name in ("mentions.rejected", "mentions.dlq"):
        assert specs[name].configs == {"retention.ms": month}
    assert specs["aduan.forget"] == TopicSpec("aduan.forget", {"cleanup.policy": "compact"}, 1)


def test_a_complaints_topic_of_another_partition_count_is_named_but_not_an_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    admin = FakeAdmin(
        existing=every_topic(),
        refused=set(),
        partitions={
            "complaints.kejati-jateng": 1,
            "aduan.registry": 1,
            "aduan.forget": 1,
            "aduan.api-keys": 1,
        },
    )
    code, lines = topics_create(admin, monkeypatch, capsys)
    assert code == 0
    [kejati] = [line for line in lines if "MISMATCH" in line]
    assert kejati.startswith("complaints.kejati-jateng ")
    assert "has 1 partitions, ADUAN_TOPIC_PARTITIONS asks for 3: left as it is" in kejati
