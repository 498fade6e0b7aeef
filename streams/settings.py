"""Settings, built once from `ADUAN_*` environment variables and passed to whatever needs them."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from agents.core.errors import ConfigError
from agents.core.verify import DEFAULT_VERIFIED_TYPES, VerificationPolicy

T = TypeVar("T")

SASL_MECHANISM = "SCRAM-SHA-512"

_DAY_MS = 24 * 60 * 60 * 1000

SERVICES = ("worker", "producer", "serve", "deliver")
"""The services that run with a Kafka login of their own on a secured cluster."""

# (variable, default, meaning) for `aduan --help`.
ENVIRONMENT = (
    ("ADUAN_BROKER", "kafka://localhost:9092", "Kafka bootstrap servers (comma-separated)"),
    ("ADUAN_AGENCIES", "deploy/agencies.yaml", "agency registry file"),
    (
        "ADUAN_CALENDAR",
        "deploy/calendar.yaml",
        "working-day calendar overrides (days off, working days)",
    ),
    (
        "ADUAN_VERIFIED_TYPES",
        ",".join(sorted(DEFAULT_VERIFIED_TYPES)),
        "verification types served (comma-separated)",
    ),
    ("ADUAN_TOPIC_PARTITIONS", "3", "partitions of each topic aduan creates"),
    ("ADUAN_TOPIC_REPLICAS", "1", "replication factor of each topic aduan creates"),
    ("ADUAN_RAW_RETENTION_MS", str(90 * _DAY_MS), "retention of mentions.raw in ms (90 days)"),
    (
        "ADUAN_EVENT_RETENTION_MS",
        str(30 * _DAY_MS),
        "retention of complaints.*, mentions.rejected and mentions.dlq in ms (30 days)",
    ),
    (
        "ADUAN_COMPACTION_LAG_MS",
        str(_DAY_MS),
        "compaction lag of mentions.raw and complaints.* in ms: how soon erasures apply (1 day)",
    ),
    ("ADUAN_DEDUP_DAYS", "7", "days the worker remembers decided post ids"),
    ("ADUAN_CASE_DAYS", "90", "days a case's posts are remembered for replies and answers"),
    ("ADUAN_WORKER_DIR", ".run/worker", "the worker's local state"),
    (
        "ADUAN_WORKER_SESSION_TIMEOUT",
        "10",
        "seconds before a silent worker's partitions go to the others (6 or more)",
    ),
    ("ADUAN_WEB_PORT", "6066", "the worker's HTTP port (/metrics, /healthz, /readyz)"),
    ("ADUAN_PRODUCER_WEB_PORT", "6067", "the producer's HTTP port (/metrics, /healthz, /readyz)"),
    ("ADUAN_SERVE_PORT", "6068", "aduan serve's HTTP port (the Open311 API, the inbox)"),
    ("ADUAN_SERVE_DIR", ".run/serve", "aduan serve's local view of the cases"),
    ("ADUAN_DELIVER_PORT", "6069", "aduan deliver's HTTP port (/metrics, /healthz, /readyz)"),
    (
        "ADUAN_WEBHOOK_RETRY_SECONDS",
        "3600",
        "seconds aduan deliver retries a webhook event before it goes to webhooks.dlq",
    ),
    ("ADUAN_X_BEARER_TOKEN", "", "X API bearer token (or ADUAN_X_BEARER_TOKEN_FILE)"),
    ("ADUAN_KAFKA_USERNAME", "", "SASL/SCRAM-SHA-512 user for Kafka (empty: no login)"),
    ("ADUAN_KAFKA_PASSWORD", "", "its password (or ADUAN_KAFKA_PASSWORD_FILE)"),
    ("ADUAN_X_POLL_SECONDS", "60", "pause between two rounds of produce --x-poll"),
    ("ADUAN_X_BACKFILL_MINUTES", "0", "minutes the X stream backfills on reconnect (0-5)"),
    ("ADUAN_X_MONTHLY_READS", "0", "posts the X plan may read a month (0: no budget)"),
    (
        "ADUAN_ALLOW_UNVERIFIED_VERSIONS",
        "0",
        "1: start even on dependency versions aduan's patches were not verified against",
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    agencies: Path
    calendar: Path
    policy: VerificationPolicy
    bootstrap_servers: tuple[str, ...]
    topic_partitions: int
    topic_replicas: int
    raw_retention_ms: int
    event_retention_ms: int
    compaction_lag_ms: int
    dedup_days: float
    case_days: float
    worker_dir: Path
    worker_session_timeout: float
    web_port: int
    producer_web_port: int
    serve_port: int
    serve_dir: Path
    deliver_port: int
    webhook_retry_seconds: float
    x_poll_seconds: float
    x_backfill_minutes: int
    x_monthly_reads: int
    x_bearer_token: str = field(default="", repr=False)
    kafka_username: str = ""
    kafka_password: str = field(default="", repr=False)
    allow_unverified_versions: bool = False
    agencies_is_default: bool = False
    calendar_is_default: bool = False

    def registry_file(self) -> Path:
        """`agencies`, once it is known to exist: the worker and the commands without
        `--agencies` read it."""
        return _existing_file(
            self.agencies,
            "ADUAN_AGENCIES",
            self.agencies_is_default,
            "the agency registry's path (the checkout's deploy/agencies.yaml, or your own)",
        )

    def calendar_file(self) -> Path | None:
        """`calendar`, once it is known to exist; None when the default file is not there, as
        the overrides are optional (the holiday library's calendar alone then applies)."""
        if self.calendar_is_default and not self.calendar.is_file():
            return None
        return _existing_file(
            self.calendar,
            "ADUAN_CALENDAR",
            self.calendar_is_default,
            "the working-day calendar's path (the checkout's deploy/calendar.yaml, or your own)",
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = {name: default for name, default, _ in ENVIRONMENT}

        def get(name: str) -> str:
            return env.get(name) or defaults[name]

        def number(name: str, kind: Callable[[str], T], minimum: float) -> T:
            try:
                value = kind(get(name))
            except ValueError:
                raise ConfigError(f"{name}={get(name)!r} is not a number") from None
            if value < minimum:  # type: ignore[operator]
                raise ConfigError(f"{name}={get(name)!r} must be at least {minimum}")
            return value

        return cls(
            agencies=Path(get("ADUAN_AGENCIES")),
            calendar=Path(get("ADUAN_CALENDAR")),
            policy=VerificationPolicy.from_names(
                get("ADUAN_VERIFIED_TYPES").split(","), "ADUAN_VERIFIED_TYPES"
            ),
            bootstrap_servers=_bootstrap_servers(get("ADUAN_BROKER")),
            topic_partitions=number("ADUAN_TOPIC_PARTITIONS", int, 1),
            topic_replicas=number("ADUAN_TOPIC_REPLICAS", int, 1),
            raw_retention_ms=number("ADUAN_RAW_RETENTION_MS", int, -1),
            event_retention_ms=number("ADUAN_EVENT_RETENTION_MS", int, -1),
            compaction_lag_ms=number("ADUAN_COMPACTION_LAG_MS", int, 1),
            # The dedup table keeps an id for up to twice its days (its two windows).
            dedup_days=_within_retention(
                number("ADUAN_DEDUP_DAYS", float, 1), 2, "ADUAN_DEDUP_DAYS", get
            ),
            case_days=_within_retention(
                number("ADUAN_CASE_DAYS", float, 1), 1, "ADUAN_CASE_DAYS", get
            ),
            worker_dir=Path(get("ADUAN_WORKER_DIR")),
            # Kafka's group.min.session.timeout.ms is 6 s by default: a shorter one is refused.
            worker_session_timeout=number("ADUAN_WORKER_SESSION_TIMEOUT", float, 6),
            web_port=number("ADUAN_WEB_PORT", int, 1),
            producer_web_port=number("ADUAN_PRODUCER_WEB_PORT", int, 1),
            serve_port=number("ADUAN_SERVE_PORT", int, 1),
            serve_dir=Path(get("ADUAN_SERVE_DIR")),
            deliver_port=number("ADUAN_DELIVER_PORT", int, 1),
            webhook_retry_seconds=number("ADUAN_WEBHOOK_RETRY_SECONDS", float, 0),
            x_poll_seconds=number("ADUAN_X_POLL_SECONDS", float, 1),
            x_backfill_minutes=_at_most(
                number("ADUAN_X_BACKFILL_MINUTES", int, 0), 5, "ADUAN_X_BACKFILL_MINUTES"
            ),
            x_monthly_reads=number("ADUAN_X_MONTHLY_READS", int, 0),
            x_bearer_token=_secret(env, "ADUAN_X_BEARER_TOKEN"),
            kafka_username=env.get("ADUAN_KAFKA_USERNAME", ""),
            kafka_password=_secret(env, "ADUAN_KAFKA_PASSWORD"),
            allow_unverified_versions=_flag(
                get("ADUAN_ALLOW_UNVERIFIED_VERSIONS"), "ADUAN_ALLOW_UNVERIFIED_VERSIONS"
            ),
            agencies_is_default=not env.get("ADUAN_AGENCIES"),
            calendar_is_default=not env.get("ADUAN_CALENDAR"),
        )


def _existing_file(path: Path, name: str, is_default: bool, fix: str) -> Path:
    """`path` if it is a file; otherwise an error naming setting `name` and what to set it to."""
    if path.is_file():
        return path
    where = "" if path.is_absolute() else f" in {Path.cwd()}"
    setting = "its default" if is_default else name
    raise ConfigError(f"{name}: {setting} {path} is not a file{where}; set {name} to {fix}")


def _within_retention(days: float, times: int, name: str, get: Callable[[str], str]) -> float:
    """`days`, if the worker, keeping post ids `times` that long, keeps them only while
    mentions.raw keeps the posts: its state must not outlive the record it was made from."""
    retention = get("ADUAN_RAW_RETENTION_MS")
    try:
        retention_ms = int(retention)
    except ValueError:
        return days  # reported as ADUAN_RAW_RETENTION_MS's own error
    if retention_ms >= 0 and times * days * _DAY_MS > retention_ms:
        kept = f"{days:g} days" if times == 1 else f"up to {times * days:g} days"
        raise ConfigError(
            f"{name}={days:g} keeps post ids {kept}, longer than mentions.raw keeps posts "
            f"(ADUAN_RAW_RETENTION_MS={retention_ms}, {retention_ms / _DAY_MS:g} days): the "
            f"worker would remember posts that are gone; lower {name} or raise the retention"
        )
    return days


def _flag(value: str, name: str) -> bool:
    if value not in ("0", "1"):
        raise ConfigError(f"{name}={value!r} must be 0 or 1")
    return value == "1"


def _at_most(value: int, limit: int, name: str) -> int:
    if value > limit:
        raise ConfigError(f"{name}={value} must be at most {limit}")
    return value


def _bootstrap_servers(value: str) -> tuple[str, ...]:
    servers = tuple(
        part.strip().removeprefix("kafka://")
        for part in value.replace(";", ",").split(",")
        if part.strip()
    )
    if not servers or any(":" not in server for server in servers):
        raise ConfigError(
            f"ADUAN_BROKER={value!r}: expected host:port pairs, e.g. kafka://localhost:9092"
        )
    return servers


def _secret(env: Mapping[str, str], name: str) -> str:
    """A secret from `name`, or from the file named by `name`_FILE; never echoed in errors."""
    path = env.get(f"{name}_FILE")
    if not path:
        return env.get(name, "")
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from None
