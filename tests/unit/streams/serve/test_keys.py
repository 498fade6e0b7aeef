"""`streams.serve.keys` and `aduan agencies key`: a key is shown once, kept only as its hash, and
lets in its agency alone (an admin key every agency); without a broker (the topic is a list)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from agents.core.registry import load_registry
from schemas.topics import API_KEYS_TOPIC
from streams.cli import main
from streams.serve import keys
from streams.serve.keys import (
    ADMIN,
    ApiKeyError,
    KeyRecord,
    Keyring,
    apply_record,
    create_key,
    key_hash,
    key_record,
    load_keyring,
    new_key,
    record_key,
    revoke_keys,
)
from streams.settings import Settings

NOW = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)

REGISTRY = """\
agencies:
  - id: dinkes-jateng
    name: Dinas Kesehatan Provinsi Jawa Tengah
    accounts:
      - id: "900000000000000201"
        username: dinkesjateng
  - id: pt-semarang
    name: Pengadilan Tinggi Semarang
    accounts:
      - id: "900000000000000301"
        username: ptsemarang
"""


def make_key(agency_id: str | None) -> tuple[str, KeyRecord]:
    key_id, key = new_key()
    return key, key_record(agency_id, key_id, key, NOW)


class FakeTopic:
    """`aduan.api-keys` as a list of (key, value), written by a fake producer."""

    def __init__(self) -> None:
        self.records: list[tuple[bytes, bytes | None]] = []
        self.producers = 0
        self.specs: list[Any] = []
        """What `ensure_topics` was asked for."""

    def producer(self, settings: Settings, client_id: str) -> FakeTopic:
        self.producers += 1
        return self

    def send(self, topic: str, key: bytes, value: bytes | None) -> SimpleNamespace:
        assert topic == API_KEYS_TOPIC
        self.records.append((key, value))
        return SimpleNamespace(get=lambda timeout: None)

    def close(self) -> None:
        pass

    def read_to_end(self, settings: Settings, topic: str) -> tuple[list[Any], dict[int, int]]:
        assert topic == API_KEYS_TOPIC
        items = [
            SimpleNamespace(key=key, value=value, offset=offset)
            for offset, (key, value) in enumerate(self.records)
        ]
        return items, {0: len(items)}


@pytest.fixture
def registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "agencies.yaml"
    path.write_text(REGISTRY)
    return path


@pytest.fixture
def settings(registry_file: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ADUAN_AGENCIES", str(registry_file))
    return Settings.from_env()


@pytest.fixture
def topic(monkeypatch: pytest.MonkeyPatch) -> FakeTopic:
    fake = FakeTopic()
    monkeypatch.setattr(keys, "kafka_producer", fake.producer)
    monkeypatch.setattr(keys, "read_to_end", fake.read_to_end)
    monkeypatch.setattr(keys, "ensure_topics", lambda settings, asked: fake.specs.extend(asked))
    monkeypatch.setattr(keys, "latest_published", lambda settings: (None, 0))
    return fake


# The pure part


def test_a_key_carries_its_id_and_32_random_bytes() -> None:
    key_id, key = new_key()
    prefix, carried, secret = key.split("_", 2)
    assert (prefix, carried) == ("aduan", key_id)
    assert len(key_id) == 16
    int(key_id, 16)
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32
    assert new_key() != new_key()


def test_the_hash_is_sha256_in_hex() -> None:
    # The test vector of FIPS 180-2 for "abc".
    assert key_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_the_record_keeps_the_hash_and_never_the_key() -> None:
    key, record = make_key("dinkes-jateng")
    secret = key.rsplit("_", 1)[1]
    stored = orjson.dumps(record)
    assert secret.encode() not in stored
    assert record == {
        "agency_id": "dinkes-jateng",
        "key_id": key.split("_")[1],
        "hash": hashlib.sha256(key.encode()).hexdigest(),
        "created_at": "2026-12-07T08:30:00Z",
        "schema_version": 1,
    }
    assert record_key("dinkes-jateng", "0123456789abcdef") == "dinkes-jateng:0123456789abcdef"
    assert record_key(None, "0123456789abcdef") == "*admin*:0123456789abcdef"


def test_a_key_lets_in_its_agency_and_an_admin_key_every_agency() -> None:
    dinkes, dinkes_record = make_key("dinkes-jateng")
    court, court_record = make_key("pt-semarang")
    admin, admin_record = make_key(None)
    keyring = Keyring([dinkes_record, court_record, admin_record])
    assert keyring.who(dinkes) == "dinkes-jateng"
    assert keyring.who(court) == "pt-semarang"
    assert keyring.who(admin) is ADMIN
    assert len(keyring) == 3


def test_an_unknown_or_revoked_key_lets_nobody_in() -> None:
    key, record = make_key("dinkes-jateng")
    keyring = Keyring([record])
    unknown, _ = make_key("dinkes-jateng")
    assert keyring.who(unknown) is None
    same_id_other_secret = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert keyring.who(same_id_other_secret) is None
    assert keyring.remove(record_key("dinkes-jateng", record["key_id"]))
    assert keyring.who(key) is None
    assert not keyring.remove(record_key("dinkes-jateng", record["key_id"]))
    assert len(keyring) == 0


def test_a_hash_recorded_under_another_agency_does_not_move_the_key() -> None:
    key, record = make_key("dinkes-jateng")
    # The same key id under another owner: each record lets in only the key it hashes.
    other, other_record = make_key("pt-semarang")
    other_record = {**other_record, "key_id": record["key_id"]}
    keyring = Keyring([record, other_record])
    assert keyring.who(key) == "dinkes-jateng"
    assert keyring.who(other) is None


@pytest.mark.parametrize(
    "presented",
    [
        "",
        "aduan_",
        "Bearer aduan_0123456789abcdef_" + "a" * 43,
        "aduan_0123456789abcdef_" + "a" * 42,
        "aduan_0123456789abcdef_" + "a" * 44,
        "aduan_0123456789ABCDEF_" + "a" * 43,
        "aduan_0123456789abcde_" + "a" * 44,
        "ADUAN_0123456789abcdef_" + "a" * 43,
        "aduan_0123456789abcdef_" + "a" * 42 + "=",
        "aduan_0123456789abcdef_" + "a" * 42 + "é",
        "aduan_0123456789abcdef_" + "a" * 43 + "\n",
    ],
)
def test_a_malformed_key_lets_nobody_in(presented: str) -> None:
    key_id = "0123456789abcdef"
    # A record that a careless parser might match: its key id is the one the malformed keys carry.
    keyring = Keyring([key_record(None, key_id, f"aduan_{key_id}_" + "a" * 43, NOW)])
    assert keyring.who(presented) is None


def test_an_unknown_key_id_costs_one_comparison_as_a_known_one_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key, record = make_key("dinkes-jateng")
    unknown, _ = make_key("dinkes-jateng")
    keyring = Keyring([record])
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def counting(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", counting)
    for presented in (key, unknown):
        compared.clear()
        keyring.who(presented)
        assert len(compared) == 1
        assert all(len(a) == len(b) == 64 for a, b in compared)


def test_records_and_tombstones_apply_in_topic_order(caplog: pytest.LogCaptureFixture) -> None:
    key, record = make_key("dinkes-jateng")
    name = record_key("dinkes-jateng", record["key_id"])
    keyring = Keyring()
    assert apply_record(keyring, name.encode(), orjson.dumps(record), 0) == name
    assert keyring.who(key) == "dinkes-jateng"
    assert apply_record(keyring, name.encode(), None, 1) == name
    assert keyring.who(key) is None
    assert not caplog.records


def _valid() -> KeyRecord:
    return key_record("dinkes-jateng", "0123456789abcdef", "aduan_x", NOW)


@pytest.mark.parametrize(
    "value",
    [
        b"not json",
        orjson.dumps([_valid()]),
        orjson.dumps({k: v for k, v in _valid().items() if k != "hash"}),
        orjson.dumps({**_valid(), "hash": "secret"}),
        orjson.dumps({**_valid(), "hash": "A" * 64}),
        orjson.dumps({**_valid(), "key_id": "short"}),
        orjson.dumps({**_valid(), "agency_id": "Bad_Id"}),
        orjson.dumps({**_valid(), "agency_id": 7}),
        orjson.dumps({**_valid(), "created_at": 7}),
        orjson.dumps({**_valid(), "schema_version": "1"}),
        # A valid record under another key than its own: a tombstone of its key would miss it.
        orjson.dumps({**_valid(), "agency_id": "pt-semarang"}),
    ],
)
def test_a_record_that_is_no_key_is_logged_and_skipped(
    value: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    keyring = Keyring()
    assert apply_record(keyring, b"dinkes-jateng:0123456789abcdef", value, 9) is None
    assert len(keyring) == 0
    assert "ignoring record aduan.api-keys@9: not a key's record under its key" in caplog.text


def test_a_record_with_a_field_of_a_later_version_still_counts() -> None:
    record = {**_valid(), "schema_version": 2, "label": "inbox"}
    keyring = Keyring()
    assert apply_record(keyring, b"dinkes-jateng:0123456789abcdef", orjson.dumps(record), 0)
    assert len(keyring) == 1


# The Kafka part, over a fake topic


def test_a_created_key_is_recorded_by_its_hash_and_read_back(
    settings: Settings, topic: FakeTopic
) -> None:
    key = create_key(settings, "pt-semarang")
    [spec] = topic.specs
    assert (spec.name, spec.configs, spec.partitions) == (
        API_KEYS_TOPIC,
        {"cleanup.policy": "compact"},
        1,
    )
    [(name, value)] = topic.records
    key_id = key.split("_")[1]
    assert name == f"pt-semarang:{key_id}".encode()
    assert value is not None
    assert key.rsplit("_", 1)[1].encode() not in value
    assert orjson.loads(value)["hash"] == key_hash(key)
    keyring, offset = load_keyring(settings)
    assert (keyring.who(key), offset) == ("pt-semarang", 1)


def test_an_admin_key_needs_no_registry(
    settings: Settings, topic: FakeTopic, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ADUAN_AGENCIES", str(tmp_path / "missing.yaml"))
    key = create_key(Settings.from_env(), None)
    assert load_keyring(settings)[0].who(key) is ADMIN
    assert topic.records[0][0].startswith(b"*admin*:")


def test_an_agency_missing_from_the_registry_file_gets_no_key(
    settings: Settings, topic: FakeTopic, registry_file: Path
) -> None:
    with pytest.raises(ApiKeyError) as caught:
        create_key(settings, "dinkes-jatim")
    assert str(caught.value) == (
        f"--agency 'dinkes-jatim': no such agency in the registry {registry_file} (none is "
        "published to aduan.registry); add it to that file, or set ADUAN_AGENCIES to the "
        "registry that lists it"
    )
    assert (topic.records, topic.producers) == ([], 0)


def test_the_published_registry_is_the_one_in_force(
    settings: Settings, topic: FakeTopic, registry_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    smaller = registry_file.with_name("published.yaml")
    smaller.write_text(REGISTRY.split("  - id: pt-semarang", maxsplit=1)[0])
    published = load_registry(smaller)
    monkeypatch.setattr(keys, "latest_published", lambda settings: (published, 4))
    with pytest.raises(ApiKeyError, match="pt-semarang") as caught:
        create_key(settings, "pt-semarang")
    assert f"registry published to aduan.registry (version {published.version})" in str(
        caught.value
    )
    assert "run `aduan agencies sync`" in str(caught.value)
    assert create_key(settings, "dinkes-jateng")


def test_revoking_an_agency_revokes_its_keys_and_no_one_elses(
    settings: Settings, topic: FakeTopic
) -> None:
    first = create_key(settings, "dinkes-jateng")
    second = create_key(settings, "dinkes-jateng")
    court = create_key(settings, "pt-semarang")
    admin = create_key(settings, None)
    assert revoke_keys(settings, "dinkes-jateng", None) == 2
    assert [value for _, value in topic.records[4:]] == [None, None]
    keyring, _ = load_keyring(settings)
    assert [keyring.who(k) for k in (first, second, court, admin)] == [
        None,
        None,
        "pt-semarang",
        ADMIN,
    ]
    assert revoke_keys(settings, "dinkes-jateng", None) == 0
    assert len(topic.records) == 6


def test_one_key_is_revoked_by_its_id(settings: Settings, topic: FakeTopic) -> None:
    first = create_key(settings, None)
    second = create_key(settings, None)
    assert revoke_keys(settings, None, second.split("_")[1]) == 1
    keyring, _ = load_keyring(settings)
    assert (keyring.who(first), keyring.who(second)) == (ADMIN, None)


def test_a_key_id_of_another_agency_is_not_revoked(settings: Settings, topic: FakeTopic) -> None:
    court = create_key(settings, "pt-semarang")
    with pytest.raises(ApiKeyError) as caught:
        revoke_keys(settings, "dinkes-jateng", court.split("_")[1])
    assert str(caught.value) == (
        f"agency dinkes-jateng has no key '{court.split('_')[1]}' in aduan.api-keys; "
        "`aduan agencies key list` shows the keys in force"
    )
    assert load_keyring(settings)[0].who(court) == "pt-semarang"


def test_a_serve_instance_follows_new_and_revoked_keys(
    settings: Settings, topic: FakeTopic, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = create_key(settings, "dinkes-jateng")
    keyring, offset = load_keyring(settings)
    new = create_key(settings, "pt-semarang")
    revoke_keys(settings, "dinkes-jateng", None)

    async def follow_partition(
        settings: Settings, name: str, start: int, client_id: str
    ) -> AsyncIterator[Any]:
        assert name == API_KEYS_TOPIC
        items, _ = topic.read_to_end(settings, name)
        for item in items[start:]:
            yield item

    monkeypatch.setattr(keys, "follow_partition", follow_partition)
    asyncio.run(keys.follow_keys(settings, offset, keyring))
    assert (keyring.who(old), keyring.who(new)) == (None, "pt-semarang")


def test_no_key_is_ever_logged(
    settings: Settings, topic: FakeTopic, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    made = [create_key(settings, "dinkes-jateng"), create_key(settings, None)]
    keyring, _ = load_keyring(settings)
    for key in made:
        keyring.who(key)
        keyring.who(key[:-1])
    revoke_keys(settings, "dinkes-jateng", None)
    assert caplog.records  # the making and the revoking are logged, by key id
    logged = caplog.text + repr([r.args for r in caplog.records])
    for key in made:
        assert key.split("_")[1] in logged
        assert key.rsplit("_", 1)[1] not in logged


# The command line


def test_create_prints_the_key_alone_on_stdout(
    settings: Settings, topic: FakeTopic, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["agencies", "key", "create", "--agency", "dinkes-jateng"]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1
    assert load_keyring(settings)[0].who(out.strip()) == "dinkes-jateng"
    assert err == "shown once: store it now; aduan keeps only its hash\n"


def test_create_admin_and_list_and_revoke(
    settings: Settings, topic: FakeTopic, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["agencies", "key", "create", "--admin"]) == 0
    admin = capsys.readouterr().out.strip()
    assert main(["agencies", "key", "create", "--agency", "pt-semarang"]) == 0
    court = capsys.readouterr().out.strip()
    assert main(["agencies", "key", "list"]) == 0
    listed = capsys.readouterr().out
    rows = [line.split() for line in listed.splitlines()]
    assert [row[:2] for row in rows] == [
        ["*admin*", admin.split("_")[1]],
        ["pt-semarang", court.split("_")[1]],
    ]
    assert all(datetime.fromisoformat(row[2]).tzinfo is not None for row in rows)
    stored = [orjson.loads(value)["hash"] for _, value in topic.records if value]
    assert not any(hashed in listed for hashed in stored)
    assert main(["agencies", "key", "revoke", "--admin"]) == 0
    assert capsys.readouterr().err.startswith("revoked 1 key(s) of the admin; ")
    assert load_keyring(settings)[0].who(admin) is None


def test_list_says_when_there_are_no_keys(
    settings: Settings, topic: FakeTopic, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["agencies", "key", "list"]) == 0
    assert capsys.readouterr() == ("", "no keys in aduan.api-keys\n")


def test_revoke_of_an_unknown_key_id_is_a_one_line_error(
    settings: Settings, topic: FakeTopic, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["agencies", "key", "revoke", "--agency", "pt-semarang", "--key-id", "00ff"])
    assert code == 1
    assert capsys.readouterr().err == (
        "aduan agencies: agency pt-semarang has no key '00ff' in aduan.api-keys; "
        "`aduan agencies key list` shows the keys in force\n"
    )


def test_create_for_an_unknown_agency_is_a_one_line_error(
    settings: Settings, topic: FakeTopic, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["agencies", "key", "create", "--agency", "nope"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("aduan agencies: --agency 'nope': no such agency in the registry ")


@pytest.mark.parametrize(
    ("argv", "refusal"),
    [
        (["create"], "one of the arguments --agency --admin is required"),
        (["create", "--agency", "pt-semarang", "--admin"], "not allowed with argument"),
        (["revoke", "--key-id", "0123456789abcdef"], "one of the arguments --agency --admin"),
        (["list", "--agency", "pt-semarang"], "unrecognized arguments: --agency"),
        ([], "the following arguments are required: ACTION"),
    ],
)
def test_the_owner_is_one_of_agency_or_admin(
    argv: list[str], refusal: str, topic: FakeTopic, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["agencies", "key", *argv])
    assert exited.value.code == 2
    assert refusal in capsys.readouterr().err
    assert (topic.records, topic.producers) == ([], 0)
