"""The keys of `aduan serve`: one or more per agency, and admin keys that see every agency. A key
is shown once, when it is made; only its hash is kept, in the compacted topic `aduan.api-keys`,
which every `serve` instance reads whole and then follows.

A key reads `aduan_<key id>_<secret>`. The key id is no secret (`aduan agencies key list` prints
it): it names the key, so that it can be revoked, and found on a request, without its secret.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Iterable
from contextlib import closing
from datetime import UTC, datetime
from typing import Any, Literal, TypeAlias, TypedDict

import orjson

from agents.core.errors import AduanError
from agents.core.registry import AGENCY_ID, Registry, load_registry
from schemas.topics import API_KEYS_TOPIC, REGISTRY_TOPIC
from streams.kafka.admin import api_keys_spec, ensure_topics, follow_partition, read_to_end
from streams.kafka.connection import kafka_errors, kafka_producer
from streams.kafka.registry_topic import latest_published
from streams.settings import Settings

log = logging.getLogger(__name__)

KEY_RECORD_VERSION = 1
"""The version of `KeyRecord`: an internal record, versioned apart from the agencies' events."""

ADMIN_OWNER = "*admin*"
"""The owner part of an admin key's record key; no agency id can be spelt so."""

_KEY = re.compile(r"aduan_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
"""A key as `new_key` makes it: 8 random bytes of id in hex, 32 of secret in URL-safe base64."""

_KEY_ID = re.compile(r"[0-9a-f]{16}")
_HASH = re.compile(r"[0-9a-f]{64}")

_NO_HASH = "-" * 64
"""Compared with when a key id is unknown: as long as a hash, and never equal to one."""


class ApiKeyError(AduanError):
    """A key that cannot be made or revoked as asked."""


class Admin(enum.Enum):
    """Who an admin key belongs to: the province, which sees every agency's cases."""

    ADMIN = ADMIN_OWNER


ADMIN = Admin.ADMIN

Holder: TypeAlias = str | Literal[Admin.ADMIN]
"""Whom a key lets in: an agency id, or `ADMIN`."""


class KeyRecord(TypedDict):
    """What `aduan.api-keys` keeps of a key: never the key itself."""

    agency_id: str | None
    """None: an admin key."""
    key_id: str
    hash: str
    """`key_hash` of the key."""
    created_at: str
    """ISO 8601, UTC."""
    schema_version: int


def new_key() -> tuple[str, str]:
    """A new key id, and the key that carries it: `aduan_<key id>_<secret>`."""
    key_id = secrets.token_hex(8)
    return key_id, f"aduan_{key_id}_{secrets.token_urlsafe(32)}"


def key_hash(key: str) -> str:
    """The SHA-256 of `key`, in hex.

    A slow password hash (scrypt, Argon2) makes guessing a weak human password expensive; these
    keys carry 256 random bits, which no guessing reaches, so one fast hash keeps them as safe
    and keeps every request cheap."""
    return hashlib.sha256(key.encode()).hexdigest()


def key_record(agency_id: str | None, key_id: str, key: str, now: datetime) -> KeyRecord:
    return {
        "agency_id": agency_id,
        "key_id": key_id,
        "hash": key_hash(key),
        "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "schema_version": KEY_RECORD_VERSION,
    }


def record_key(agency_id: str | None, key_id: str) -> str:
    """The record's key on `aduan.api-keys`: `<agency id or *admin*>:<key id>`."""
    return f"{agency_id or ADMIN_OWNER}:{key_id}"


def owner_name(agency_id: str | None) -> str:
    """How messages name a key's owner."""
    return "the admin" if agency_id is None else f"agency {agency_id}"


class Keyring:
    """The keys in force, by record key, and whom each one lets in."""

    def __init__(self, records: Iterable[KeyRecord] = ()) -> None:
        self._records: dict[str, KeyRecord] = {}
        self._by_key_id: dict[str, dict[str, KeyRecord]] = {}
        for record in records:
            self.add(record)

    def add(self, record: KeyRecord) -> None:
        name = record_key(record["agency_id"], record["key_id"])
        self._records[name] = record
        self._by_key_id.setdefault(record["key_id"], {})[name] = record

    def remove(self, name: str) -> bool:
        """Forget the key whose record key is `name`; False if there was none."""
        record = self._records.pop(name, None)
        if record is None:
            return False
        same_id = self._by_key_id[record["key_id"]]
        del same_id[name]
        if not same_id:
            del self._by_key_id[record["key_id"]]
        return True

    def records(self) -> list[KeyRecord]:
        """Every key's record, by owner (the admin's first), then oldest first."""
        return sorted(
            self._records.values(),
            key=lambda r: (r["agency_id"] or "", r["created_at"], r["key_id"]),
        )

    def __len__(self) -> int:
        return len(self._records)

    def who(self, presented_key: str) -> Holder | None:
        """Whom `presented_key` lets in: an agency id, `ADMIN`, or None for no key in force.

        Only hashes are compared, with `hmac.compare_digest`, so the time taken does not tell how
        much of a secret was right. An unknown key id is compared with a stand-in hash, so that
        it costs what a known one costs. What remains is the lookup of the id, whose time
        depends on the id alone, never on the secret; and the id is no secret anyway."""
        match = _KEY.fullmatch(presented_key)
        if match is None:
            return None
        presented = key_hash(presented_key)
        stored = list(self._by_key_id.get(match[1], {}).values())
        holder: Holder | None = None
        for record in stored:
            if hmac.compare_digest(record["hash"], presented):
                holder = ADMIN if record["agency_id"] is None else record["agency_id"]
        if not stored:
            hmac.compare_digest(_NO_HASH, presented)
        return holder


def create_key(settings: Settings, agency_id: str | None) -> str:
    """Record a new key of `agency_id` (None: an admin key) and return it: the only time it is
    seen, as only its hash is kept."""
    if agency_id is not None:
        _check_agency(settings, agency_id)
    ensure_topics(settings, [api_keys_spec()])
    key_id, key = new_key()
    record = key_record(agency_id, key_id, key, datetime.now(UTC))
    producer = kafka_producer(settings, "aduan-api-keys")
    with closing(producer), kafka_errors(f"recording a key in {API_KEYS_TOPIC}"):
        name = record_key(agency_id, key_id).encode()
        producer.send(API_KEYS_TOPIC, key=name, value=orjson.dumps(record)).get(timeout=30)
    log.info("made key %s of %s", key_id, owner_name(agency_id))
    return key


def revoke_keys(settings: Settings, agency_id: str | None, key_id: str | None) -> int:
    """Revoke key `key_id` of `agency_id` (None: of the admin), or all of its keys when `key_id`
    is None; returns how many were revoked."""
    keyring, _ = load_keyring(settings)
    names = [
        record_key(record["agency_id"], record["key_id"])
        for record in keyring.records()
        if record["agency_id"] == agency_id and key_id in (None, record["key_id"])
    ]
    if key_id is not None and not names:
        raise ApiKeyError(
            f"{owner_name(agency_id)} has no key {key_id!r} in {API_KEYS_TOPIC}; "
            "`aduan agencies key list` shows the keys in force"
        )
    if not names:
        return 0
    producer = kafka_producer(settings, "aduan-api-keys")
    with closing(producer), kafka_errors(f"revoking keys in {API_KEYS_TOPIC}"):
        sending = [producer.send(API_KEYS_TOPIC, key=name.encode(), value=None) for name in names]
        for sent in sending:
            sent.get(timeout=30)
    log.info("revoked %d key(s) of %s", len(names), owner_name(agency_id))
    return len(names)


def load_keyring(settings: Settings) -> tuple[Keyring, int]:
    """The keys in force, and the offset to follow `aduan.api-keys` from."""
    records, ends = read_to_end(settings, API_KEYS_TOPIC)
    keyring = Keyring()
    for item in records:
        apply_record(keyring, item.key, item.value, item.offset)
    return keyring, ends.get(0, 0)


async def follow_keys(settings: Settings, offset: int, keyring: Keyring) -> None:
    """Add every key recorded from `offset` on to `keyring`, and remove every key revoked; runs
    until cancelled."""
    async for item in follow_partition(settings, API_KEYS_TOPIC, offset, "aduan-api-keys-follower"):
        name = apply_record(keyring, item.key, item.value, item.offset)
        if name is not None:
            log.info("key %s %s", name, "revoked" if item.value is None else "added")


def apply_record(
    keyring: Keyring, key: bytes | None, value: bytes | None, offset: int
) -> str | None:
    """Apply one record of `aduan.api-keys` to `keyring`: a key's record adds the key, a tombstone
    removes it. Returns the record's key, or None for a record that is neither (logged)."""
    name = (key or b"").decode(errors="replace")
    if value is None:
        keyring.remove(name)
        return name
    record = _parse(value)
    if record is None or record_key(record["agency_id"], record["key_id"]) != name:
        # Kept under another key, a record could not be revoked by a tombstone of its own.
        log.error("ignoring record %s@%d: not a key's record under its key", API_KEYS_TOPIC, offset)
        return None
    keyring.add(record)
    return name


def _parse(value: bytes) -> KeyRecord | None:
    try:
        data: Any = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not KeyRecord.__required_keys__ <= data.keys():
        return None
    agency_id, key_id, hashed = data["agency_id"], data["key_id"], data["hash"]
    fits = (
        (agency_id is None or (isinstance(agency_id, str) and AGENCY_ID.fullmatch(agency_id)))
        and isinstance(key_id, str)
        and _KEY_ID.fullmatch(key_id)
        and isinstance(hashed, str)
        and _HASH.fullmatch(hashed)
        and isinstance(data["created_at"], str)
        and isinstance(data["schema_version"], int)
    )
    if not fits:
        return None
    return {
        "agency_id": agency_id,
        "key_id": key_id,
        "hash": hashed,
        "created_at": data["created_at"],
        "schema_version": data["schema_version"],
    }


def _check_agency(settings: Settings, agency_id: str) -> None:
    """Refuse an agency the registry in force does not list: the one published to the registry
    topic, else the registry file."""
    published, _ = latest_published(settings)
    registry: Registry
    if published is not None:
        registry = published
        where = f"the registry published to {REGISTRY_TOPIC} (version {published.version})"
        fix = "add it to the registry file and run `aduan agencies sync`"
    else:
        path = settings.registry_file()
        registry = load_registry(path)
        where = f"the registry {path} (none is published to {REGISTRY_TOPIC})"
        fix = "add it to that file, or set ADUAN_AGENCIES to the registry that lists it"
    if agency_id not in registry.agency_ids:
        raise ApiKeyError(f"--agency {agency_id!r}: no such agency in {where}; {fix}")
