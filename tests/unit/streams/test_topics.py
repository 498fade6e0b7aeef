"""`ensure_topics` asks Kafka only for the missing topics, and says who may create them when the
cluster refuses."""

from __future__ import annotations

from typing import Any

import pytest

from streams import topics
from streams.settings import Settings
from streams.topics import BrokerError, TopicSpec, ensure_topics


class FakeAdmin:
    """kafka-python's admin client, answering as a secured cluster does."""

    def __init__(self, existing: set[str], refused: set[str]) -> None:
        self.existing, self.refused = existing, refused
        self.asked: list[str] = []
        self.closed = False

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
    monkeypatch.setattr(topics, "admin_client", lambda settings: admin)
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
    monkeypatch.setattr(topics, "admin_client", lambda settings: admin)
    settings = Settings.from_env({"ADUAN_KAFKA_USERNAME": "aduan-worker"})
    with pytest.raises(BrokerError, match=r"aduan-worker may not create topic complaints\.new; "
                       r"create the topics first with `aduan topics create`"):  # fmt: skip
        ensure_topics(settings, [TopicSpec("complaints.new", {})])
    assert admin.closed
