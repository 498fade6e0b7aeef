"""What `aduan agencies grant` asks Kafka for, and what it refuses before asking."""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka.admin import ACLOperation, ACLPermissionType, ResourceType

from agents.errors import ConfigError
from agents.registry import load_registry
from streams.access import _rights, grant
from streams.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def test_an_agency_may_read_its_topic_in_its_group_and_nothing_else() -> None:
    rights = {
        (acl.principal, acl.operation, acl.resource_pattern.resource_type,
         acl.resource_pattern.resource_name, acl.permission_type)
        for acl in _rights("kejati-jateng")
    }  # fmt: skip
    user = "User:agency-kejati-jateng"
    assert rights == {
        (user, ACLOperation.READ, ResourceType.TOPIC, "complaints.kejati-jateng",
         ACLPermissionType.ALLOW),
        (user, ACLOperation.DESCRIBE, ResourceType.TOPIC, "complaints.kejati-jateng",
         ACLPermissionType.ALLOW),
        (user, ACLOperation.READ, ResourceType.GROUP, "aduan-agency-kejati-jateng",
         ACLPermissionType.ALLOW),
    }  # fmt: skip


def test_grant_refuses_an_agency_the_registry_does_not_know(tmp_path: Path) -> None:
    registry = load_registry(ROOT / "deploy" / "agencies.yaml")
    settings = Settings.from_env({"ADUAN_BROKER": "localhost:1"})
    with pytest.raises(ConfigError, match="'nobody' is not an agency id"):
        grant(settings, registry, "nobody", tmp_path / "password")
    assert not (tmp_path / "password").exists()
