"""`streams.settings.Settings`: one object from the `ADUAN_*` environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.core.errors import ConfigError
from streams.kafka.connection import Connection
from streams.settings import Settings


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.bootstrap_servers == ("localhost:9092",)
    assert Connection.of(settings).faust_broker == "kafka://localhost:9092"
    assert settings.agencies == Path("deploy/agencies.yaml")
    assert (settings.topic_partitions, settings.topic_replicas) == (3, 1)
    assert settings.raw_retention_ms == 90 * 24 * 60 * 60 * 1000
    assert settings.event_retention_ms == 30 * 24 * 60 * 60 * 1000
    assert settings.compaction_lag_ms == 24 * 60 * 60 * 1000
    assert settings.x_monthly_reads == 0
    assert settings.dedup_days == 7
    assert settings.calendar == Path("deploy/calendar.yaml")
    assert settings.case_days == 90
    assert settings.x_bearer_token == ""


def test_broker_list_in_faust_or_plain_form() -> None:
    settings = Settings.from_env({"ADUAN_BROKER": "kafka://a:9092;kafka://b:9093, c:9094"})
    assert settings.bootstrap_servers == ("a:9092", "b:9093", "c:9094")
    assert Connection.of(settings).faust_broker == "kafka://a:9092;b:9093;c:9094"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ADUAN_BROKER", "localhost", "expected host:port pairs"),
        ("ADUAN_TOPIC_PARTITIONS", "three", "ADUAN_TOPIC_PARTITIONS='three' is not a number"),
        ("ADUAN_TOPIC_REPLICAS", "0", "ADUAN_TOPIC_REPLICAS='0' must be at least 1"),
        ("ADUAN_VERIFIED_TYPES", "gold", "unknown verification type(s) ['gold']"),
        ("ADUAN_CASE_DAYS", "ninety", "ADUAN_CASE_DAYS='ninety' is not a number"),
        ("ADUAN_CASE_DAYS", "0.5", "ADUAN_CASE_DAYS='0.5' must be at least 1"),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: value})
    assert message in str(info.value)


def test_bearer_token_from_a_file_never_shows_in_repr(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("AAAA-very-secret\n")
    settings = Settings.from_env({"ADUAN_X_BEARER_TOKEN_FILE": str(secret)})
    assert settings.x_bearer_token == "AAAA-very-secret"
    assert "AAAA" not in repr(settings)


def test_unreadable_token_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ADUAN_X_BEARER_TOKEN_FILE: cannot read"):
        Settings.from_env({"ADUAN_X_BEARER_TOKEN_FILE": str(tmp_path / "missing")})


def test_a_kafka_login_comes_from_a_user_and_a_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("s3cret-value\n")
    settings = Settings.from_env(
        {"ADUAN_KAFKA_USERNAME": "agency-a", "ADUAN_KAFKA_PASSWORD_FILE": str(secret)}
    )
    assert Connection.of(settings).login == {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "agency-a",
        "sasl_plain_password": "s3cret-value",
    }
    assert "s3cret-value" not in repr(settings)
    assert "s3cret-value" not in repr(Connection.of(settings))
    assert Connection.of(Settings.from_env({})).login == {}


def test_a_registry_file_that_is_not_there_is_an_error_naming_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as missing:
        Settings.from_env({}).registry_file()
    message = str(missing.value)
    assert message.startswith("ADUAN_AGENCIES: its default deploy/agencies.yaml is not a file in ")
    assert str(tmp_path) in message
    assert "\n" not in message


def test_a_registry_file_that_is_there_is_used(tmp_path: Path) -> None:
    registry = tmp_path / "agencies.yaml"
    registry.touch()
    assert Settings.from_env({"ADUAN_AGENCIES": str(registry)}).registry_file() == registry


def test_case_days_come_from_the_environment() -> None:
    assert Settings.from_env({"ADUAN_CASE_DAYS": "60"}).case_days == 60


@pytest.mark.parametrize(
    ("name", "days", "kept"),
    [("ADUAN_CASE_DAYS", "91", "91 days"), ("ADUAN_DEDUP_DAYS", "46", "up to 92 days")],
)
def test_the_worker_may_not_remember_posts_longer_than_mentions_raw_keeps_them(
    name: str, days: str, kept: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Settings.from_env({name: days})
    assert f"{name}={days} keeps post ids {kept}, longer than mentions.raw keeps posts" in str(
        info.value
    )
    assert "ADUAN_RAW_RETENTION_MS=7776000000, 90 days" in str(info.value)
    kept_for_good = {name: days, "ADUAN_RAW_RETENTION_MS": "-1"}
    assert getattr(Settings.from_env(kept_for_good), name.lower()[6:]) == int(days)
    assert Settings.from_env({"ADUAN_DEDUP_DAYS": "45"}).dedup_days == 45


def test_without_the_default_calendar_file_there_are_no_overrides_but_a_set_one_must_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a worker started outside the checkout
    assert Settings.from_env({}).calendar_file() is None
    elsewhere = tmp_path / "missing.yaml"
    with pytest.raises(ConfigError) as set_but_missing:
        Settings.from_env({"ADUAN_CALENDAR": str(elsewhere)}).calendar_file()
    assert str(set_but_missing.value).startswith(
        f"ADUAN_CALENDAR: ADUAN_CALENDAR {elsewhere} is not"
    )
    assert "set ADUAN_CALENDAR to the working-day calendar's path" in str(set_but_missing.value)


def test_a_calendar_file_that_is_there_is_used(tmp_path: Path) -> None:
    calendar = tmp_path / "calendar.yaml"
    calendar.touch()
    assert Settings.from_env({"ADUAN_CALENDAR": str(calendar)}).calendar_file() == calendar
