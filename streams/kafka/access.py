"""Access on a secured cluster (`broker.sh` with KAFKA_SASL=1): each agency gets a SCRAM login
and ACLs to read its own `complaints.<id>` topic in its own consumer group, and nothing else; the
worker and the producer get logins of their own with the least rights they run with. The
operator runs these as a user allowed to alter ACLs (the broker's `admin`)."""

from __future__ import annotations

import os
import secrets
from contextlib import closing
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

from agents.core.errors import ConfigError
from agents.core.registry import Registry
from schemas.topics import (
    API_KEYS_TOPIC,
    APP_ID,
    CASES_TOPIC,
    CHECKPOINT_TOPIC,
    COMPLAINT_TOPIC_PREFIX,
    DEAD_LETTER_TOPIC,
    FORGET_TOPIC,
    RAW_TOPIC,
    REGISTRY_TOPIC,
    REJECTED_TOPIC,
    WEBHOOK_DEAD_LETTER_TOPIC,
    WEBHOOKS_GROUP,
    agency_group,
    complaint_topic,
)
from streams.kafka.connection import kafka_admin, kafka_errors
from streams.settings import SERVICES, Settings

_ITERATIONS = 8192  # Kafka's default for SCRAM-SHA-512 is 4096; more is slower to brute-force


def agency_user(agency: str) -> str:
    return f"agency-{agency}"


def service_user(service: str) -> str:
    return f"aduan-{service}"


Wanted = list[tuple[ACLOperation, ResourcePattern]]


def _topic(name: str) -> ResourcePattern:
    return ResourcePattern(ResourceType.TOPIC, name)


def _topics_starting(prefix: str) -> ResourcePattern:
    return ResourcePattern(ResourceType.TOPIC, prefix, ACLResourcePatternType.PREFIXED)


def _agency_rights(agency: str) -> Wanted:
    topic = _topic(complaint_topic(agency))
    return [
        (ACLOperation.READ, topic),
        (ACLOperation.DESCRIBE, topic),
        (ACLOperation.READ, ResourcePattern(ResourceType.GROUP, agency_group(agency))),
    ]


_READS = (ACLOperation.READ, ACLOperation.DESCRIBE)
_WRITES = (ACLOperation.WRITE, ACLOperation.DESCRIBE)


def _service_rights(service: str) -> Wanted:
    """What each service does and nothing more. The worker reads mentions, the registry and the
    requests to forget, writes every routed event, and keeps Faust's own topics (`aduan-*`: the
    dedup table's changelog, the assignor's topic), which it creates, and its consumer group.
    The producer appends to mentions.raw, keeps the X poller's checkpoints and follows the
    registry. `aduan serve` reads the cases, the complaints, the registry and the API keys.
    `aduan deliver` reads the complaints, the cases and the registry in its group, and writes
    the webhooks' dead letters. None
    creates the pipeline's topics: `aduan topics create` and `aduan agencies sync` do, as
    admin."""
    if service == "worker":
        outputs = [_topic(name) for name in (REJECTED_TOPIC, DEAD_LETTER_TOPIC, CASES_TOPIC)]
        outputs.append(_topics_starting(COMPLAINT_TOPIC_PREFIX))
        faust_topics = _topics_starting(f"{APP_ID}-")
        return [
            *(
                (op, _topic(name))
                for name in (RAW_TOPIC, REGISTRY_TOPIC, FORGET_TOPIC)
                for op in _READS
            ),
            *((op, topic) for topic in outputs for op in _WRITES),
            *((op, faust_topics) for op in (*_READS, ACLOperation.WRITE, ACLOperation.CREATE)),
            (ACLOperation.READ, ResourcePattern(ResourceType.GROUP, APP_ID)),
        ]
    if service == "serve":
        reads = [_topic(name) for name in (CASES_TOPIC, REGISTRY_TOPIC, API_KEYS_TOPIC)]
        reads.append(_topics_starting(COMPLAINT_TOPIC_PREFIX))
        return [(op, topic) for topic in reads for op in _READS]
    if service == "deliver":
        reads = [
            _topic(CASES_TOPIC),
            _topic(REGISTRY_TOPIC),
            _topics_starting(COMPLAINT_TOPIC_PREFIX),
        ]
        return [
            *((op, topic) for topic in reads for op in _READS),
            *((op, _topic(WEBHOOK_DEAD_LETTER_TOPIC)) for op in _WRITES),
            (ACLOperation.READ, ResourcePattern(ResourceType.GROUP, WEBHOOKS_GROUP)),
        ]
    if service == "producer":
        return [
            *((op, _topic(RAW_TOPIC)) for op in _WRITES),
            *((op, _topic(CHECKPOINT_TOPIC)) for op in (*_READS, ACLOperation.WRITE)),
            *((op, _topic(REGISTRY_TOPIC)) for op in _READS),
        ]
    raise ConfigError(f"unknown service {service!r}; one of: {', '.join(SERVICES)}")


def grant(settings: Settings, registry: Registry, agency: str, password_file: Path) -> bool:
    """Give `agency` its login and the rights to read its own complaints. Returns True when a
    password was made (see `_grant`)."""
    if agency not in registry.agency_ids:
        raise ConfigError(f"{agency!r} is not an agency id of registry {registry.version}")
    return _grant(settings, agency_user(agency), _agency_rights(agency), password_file)


def grant_service(settings: Settings, service: str, password_file: Path) -> bool:
    """Give the worker or the producer its own login and the least rights it runs with."""
    return _grant(settings, service_user(service), _service_rights(service), password_file)


def _grant(settings: Settings, user: str, wanted: Wanted, password_file: Path) -> bool:
    """Set `user`'s login and rights. The password is read from `password_file`, or made and
    written there (mode 600) when the file does not exist; it is never printed. Returns True
    when a password was made."""
    made = not password_file.exists()
    if made:
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(24) + "\n")
    password = password_file.read_text().strip()
    if not password:
        raise ConfigError(f"--password-file {password_file} is empty; remove it to have one made")
    rights = [
        ACL(f"User:{user}", "*", operation, ACLPermissionType.ALLOW, resource)
        for operation, resource in wanted
    ]
    hint = (
        "; is ADUAN_KAFKA_USERNAME a user allowed to alter ACLs and credentials (the broker's "
        "admin)?"
    )
    admin = kafka_admin(settings)
    with closing(admin), kafka_errors(f"granting access to {user}", hint):
        login = UserScramCredentialUpsertion(
            user, ScramMechanism.SCRAM_SHA_512, password, _ITERATIONS
        )
        _check(admin.alter_user_scram_credentials([login]))
        failed = admin.create_acls(rights)["failed"]
        if failed:
            raise KafkaError(f"ACLs refused: {failed}")
    return made


def revoke(settings: Settings, user: str) -> None:
    """Remove every right of `user` (an agency's or a service's) and its login."""
    admin = kafka_admin(settings)
    with closing(admin), kafka_errors(f"revoking the access of {user}"):
        admin.delete_acls(
            [
                ACLFilter(
                    f"User:{user}",
                    "*",
                    ACLOperation.ANY,
                    ACLPermissionType.ANY,
                    ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY),
                )
            ]
        )
        deletion = UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512)
        _check(admin.alter_user_scram_credentials([deletion]))


def _check(results: dict[str, object]) -> None:
    """kafka-python returns a user's error instead of raising it: raised here, it becomes a
    `BrokerError` with the others."""
    for user, error in results.items():
        if error is not None:
            raise KafkaError(f"user {user}: {error}")
