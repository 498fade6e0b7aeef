"""What `aduan agencies grant` and `aduan services grant` ask Kafka for, and what they refuse
before asking."""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka.admin import ACLOperation

from agents.core.errors import ConfigError
from agents.core.registry import load_registry
from streams.kafka.access import _agency_rights, _service_rights, grant, grant_service
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[4]


def rights(wanted: list[tuple[ACLOperation, object]]) -> set[tuple[str, str, str, str]]:
    """(operation, resource type, name, LITERAL or PREFIXED) of each right."""
    return {
        (op.name, pattern.resource_type.name, pattern.resource_name, pattern.pattern_type.name)
        for op, pattern in wanted  # type: ignore[attr-defined]
    }


def test_an_agency_may_read_its_topic_in_its_group_and_nothing_else() -> None:
    assert rights(_agency_rights("kejati-jateng")) == {
        ("READ", "TOPIC", "complaints.kejati-jateng", "LITERAL"),
        ("DESCRIBE", "TOPIC", "complaints.kejati-jateng", "LITERAL"),
        ("READ", "GROUP", "aduan-agency-kejati-jateng", "LITERAL"),
    }


def test_the_producer_may_append_mentions_keep_its_checkpoints_and_read_the_registry_only() -> None:
    assert rights(_service_rights("producer")) == {
        ("WRITE", "TOPIC", "mentions.raw", "LITERAL"),
        ("DESCRIBE", "TOPIC", "mentions.raw", "LITERAL"),
        ("READ", "TOPIC", "aduan.x-poll.checkpoints", "LITERAL"),
        ("WRITE", "TOPIC", "aduan.x-poll.checkpoints", "LITERAL"),
        ("DESCRIBE", "TOPIC", "aduan.x-poll.checkpoints", "LITERAL"),
        ("READ", "TOPIC", "aduan.registry", "LITERAL"),
        ("DESCRIBE", "TOPIC", "aduan.registry", "LITERAL"),
    }


def test_the_worker_reads_mentions_and_writes_events_but_never_writes_mentions() -> None:
    assert rights(_service_rights("worker")) == {
        ("READ", "TOPIC", "mentions.raw", "LITERAL"),
        ("DESCRIBE", "TOPIC", "mentions.raw", "LITERAL"),
        ("READ", "TOPIC", "aduan.registry", "LITERAL"),
        ("DESCRIBE", "TOPIC", "aduan.registry", "LITERAL"),
        ("READ", "TOPIC", "aduan.forget", "LITERAL"),
        ("DESCRIBE", "TOPIC", "aduan.forget", "LITERAL"),
        *(
            (op, "TOPIC", name, "LITERAL")
            for name in ("mentions.rejected", "mentions.dlq", "cases")
            for op in ("WRITE", "DESCRIBE")
        ),
        ("WRITE", "TOPIC", "complaints.", "PREFIXED"),
        ("DESCRIBE", "TOPIC", "complaints.", "PREFIXED"),
        *((op, "TOPIC", "aduan-", "PREFIXED") for op in ("READ", "DESCRIBE", "WRITE", "CREATE")),
        ("READ", "GROUP", "aduan", "LITERAL"),
    }


def test_serve_may_read_the_cases_complaints_registry_and_keys_only() -> None:
    assert rights(_service_rights("serve")) == {
        *(
            (op, "TOPIC", name, "LITERAL")
            for name in ("cases", "aduan.registry", "aduan.api-keys")
            for op in ("READ", "DESCRIBE")
        ),
        ("READ", "TOPIC", "complaints.", "PREFIXED"),
        ("DESCRIBE", "TOPIC", "complaints.", "PREFIXED"),
    }


def test_deliver_reads_events_in_its_group_and_writes_only_the_webhook_dead_letters() -> None:
    assert rights(_service_rights("deliver")) == {
        *(
            (op, "TOPIC", name, "LITERAL")
            for name in ("cases", "aduan.registry")
            for op in ("READ", "DESCRIBE")
        ),
        ("READ", "TOPIC", "complaints.", "PREFIXED"),
        ("DESCRIBE", "TOPIC", "complaints.", "PREFIXED"),
        ("WRITE", "TOPIC", "webhooks.dlq", "LITERAL"),
        ("DESCRIBE", "TOPIC", "webhooks.dlq", "LITERAL"),
        ("READ", "GROUP", "aduan-webhooks", "LITERAL"),
    }


def test_an_unknown_service_is_refused_before_kafka_is_asked(tmp_path: Path) -> None:
    settings = Settings.from_env({"ADUAN_BROKER": "localhost:1"})
    with pytest.raises(ConfigError, match="unknown service 'agency'; one of: worker, producer"):
        grant_service(settings, "agency", tmp_path / "password")
    assert not (tmp_path / "password").exists()


def test_grant_refuses_an_agency_the_registry_does_not_know(tmp_path: Path) -> None:
    registry = load_registry(ROOT / "deploy" / "agencies.yaml")
    settings = Settings.from_env({"ADUAN_BROKER": "localhost:1"})
    with pytest.raises(ConfigError, match="'nobody' is not an agency id"):
        grant(settings, registry, "nobody", tmp_path / "password")
    assert not (tmp_path / "password").exists()
