"""Per-agency access on a secured cluster (`broker.sh` with KAFKA_SASL=1): each agency gets a
SCRAM login and ACLs to read its own `complaints.<id>` topic in its own consumer group, and
nothing else. The operator runs these as a user allowed to alter ACLs (the broker's `admin`)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from kafka.admin import (
    ACL,
    ACLFilter,
    ACLOperation,
    ACLPermissionType,
    ACLResourcePatternType,
    ResourcePattern,
    ResourcePatternFilter,
    ResourceType,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)
from kafka.errors import KafkaError

from agents.errors import ConfigError
from agents.registry import Registry
from agents.route import complaint_topic
from streams.settings import Settings
from streams.subscriber import agency_group
from streams.topics import BrokerError, admin_client

_ITERATIONS = 8192  # Kafka's default for SCRAM-SHA-512 is 4096; more is slower to brute-force


def agency_user(agency: str) -> str:
    return f"agency-{agency}"


def _rights(agency: str) -> list[ACL]:
    principal = f"User:{agency_user(agency)}"
    topic = ResourcePattern(ResourceType.TOPIC, complaint_topic(agency))
    group = ResourcePattern(ResourceType.GROUP, agency_group(agency))
    wanted = [
        (ACLOperation.READ, topic),
        (ACLOperation.DESCRIBE, topic),
        (ACLOperation.READ, group),
    ]
    return [
        ACL(principal, "*", operation, ACLPermissionType.ALLOW, resource)
        for operation, resource in wanted
    ]


def grant(settings: Settings, registry: Registry, agency: str, password_file: Path) -> bool:
    """Give `agency` its login and rights. The password is read from `password_file`, or made
    and written there (mode 600) when the file does not exist; it is never printed. Returns True
    when a password was made."""
    if agency not in registry.agency_ids:
        raise ConfigError(f"{agency!r} is not an agency id of registry {registry.version}")
    made = not password_file.exists()
    if made:
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    password = password_file.read_text().strip()
    if not password:
        raise ConfigError(f"--password-file {password_file} is empty; remove it to have one made")
    admin = admin_client(settings)
    try:
        login = UserScramCredentialUpsertion(
            agency_user(agency), ScramMechanism.SCRAM_SHA_512, password, _ITERATIONS
        )
        _check(admin.alter_user_scram_credentials([login]))
        failed = admin.create_acls(_rights(agency))["failed"]
        if failed:
            raise KafkaError(f"ACLs refused: {failed}")
    except KafkaError as exc:
        raise BrokerError(
            f"granting access to {agency} failed: {exc}; is ADUAN_KAFKA_USERNAME a user allowed "
            "to alter ACLs and credentials (the broker's admin)?"
        ) from None
    finally:
        admin.close()
    return made


def revoke(settings: Settings, agency: str) -> None:
    """Remove the agency's rights and its login."""
    principal = f"User:{agency_user(agency)}"
    admin = admin_client(settings)
    try:
        admin.delete_acls(
            [
                ACLFilter(
                    principal,
                    "*",
                    ACLOperation.ANY,
                    ACLPermissionType.ANY,
                    ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
                )
            ]
        )
        deletion = UserScramCredentialDeletion(agency_user(agency), ScramMechanism.SCRAM_SHA_512)
        _check(admin.alter_user_scram_credentials([deletion]))
    except KafkaError as exc:
        raise BrokerError(f"revoking the access of {agency} failed: {exc}") from None
    finally:
        admin.close()


def _check(results: dict[str, object]) -> None:
    """kafka-python returns a user's error instead of raising it."""
    for user, error in results.items():
        if error is not None:
            raise KafkaError(f"user {user}: {error}")
