"""`aduan compliance check`: X's batch compliance jobs, through tweepy, for the post and user ids
aduan holds; what X says was deleted, protected, suspended or deactivated is forgotten.

One job per id type: create it, upload the ids (one per line) to its presigned `upload_url`,
poll it until it ends, and read its results (one JSON object per line, checked by
`streams.x.compliance_results`) from its presigned `download_url`. Only ids go to X. The
presigned URLs carry their signature in the query string: they are secrets, so messages and
logs name the job id, never a URL."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import requests
import tweepy

from agents.core.errors import ConfigError
from schemas.events import DeadLetter, ForgetRequest
from schemas.topics import DEAD_LETTER_TOPIC
from streams.forget.run import forget
from streams.forget.stored import agency_accounts, stored_ids
from streams.kafka.connection import Connection, kafka_errors, kafka_producer
from streams.settings import Settings
from streams.x.api import refused
from streams.x.compliance_results import (
    NOUN,
    ComplianceError,
    Job,
    JobType,
    Report,
    honour,
    read_results,
)

log = logging.getLogger(__name__)

RUNNING = frozenset({"created", "in_progress"})
ENDED = frozenset({"complete", "failed", "expired"})

HTTP_TIMEOUT = (10.0, 120.0)
"""Seconds to connect to, and to wait for bytes from, the storage behind the presigned URLs."""

DOWNLOAD_CHUNK = 65536
"""Bytes read from a results file at a time; the chunk a broken download fails in is lost."""

DEAD_LETTER_TIMEOUT = 30.0
"""Seconds to wait for Kafka to acknowledge the dead letters."""


def check(
    settings: Settings,
    since: datetime | None,
    wait: float,
    poll: float,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """Check the ids of the posts aduan holds from `since` on (all when None), and of their
    authors, with X; forget what X says to delete. A job that fails, expires or outlasts `wait`
    seconds forgets nothing and is listed in `Report.failures`; the other job is honoured."""
    if not settings.x_bearer_token:
        raise ConfigError(
            "X's compliance jobs need a bearer token: set ADUAN_X_BEARER_TOKEN, or "
            "ADUAN_X_BEARER_TOKEN_FILE to a file holding it"
        )
    _quiet_secrets()
    since_ms = None if since is None else int(since.timestamp() * 1000)
    stored = stored_ids(settings, since_ms)
    # The agencies' own accounts are not forgotten as users: their answers keep the clock.
    stored.users -= agency_accounts(settings)
    client = tweepy.Client(settings.x_bearer_token, return_type=dict, wait_on_rate_limit=True)
    report = Report()
    jobs: list[Job] = []
    held_ids: tuple[tuple[JobType, set[str]], ...] = (
        ("tweets", stored.posts),
        ("users", stored.users),
    )
    for job_type, held in held_ids:
        ids = sorted(i for i in held if i.isascii() and i.isdigit())
        if not ids:
            continue
        report.checked[job_type] = len(ids)
        try:
            jobs.append(_start(client, job_type, ids))
        except ComplianceError as exc:
            report.failures.append(str(exc))
    finished = _wait(client, jobs, wait, poll, clock=clock, sleep=sleep, failures=report.failures)
    to_forget: list[ForgetRequest] = []
    dead: list[tuple[bytes, DeadLetter]] = []
    now = datetime.now(UTC)
    for job in finished:
        results = read_results(job, _download(client.session, job))
        to_forget += honour(job, results, report, now)
        dead += results.dead
    if to_forget:
        report.outcomes = forget(settings, to_forget)
    report.forgotten = len(to_forget)
    if dead:
        send_dead_letters(settings, dead)
    report.dead_lettered = len(dead)
    return report


def _quiet_secrets() -> None:
    """tweepy's debug lines carry the bearer token and the jobs' URLs, urllib3's the URLs it
    fetches: never let them through."""
    for name in ("tweepy", "urllib3"):
        logging.getLogger(name).setLevel(max(logging.INFO, logging.getLogger(name).level))


def _start(client: tweepy.Client, job_type: JobType, ids: Sequence[str]) -> Job:
    """Create a job of `job_type` and upload `ids` to it."""
    data = _x(
        client.create_compliance_job,
        job_type,
        doing=f"creating a compliance job for {NOUN[job_type]}",
    )
    job = Job(job_type, _field(data, "id"), frozenset(ids), _field(data, "download_url"))
    upload_url = _field(data, "upload_url")
    body = "".join(f"{ident}\n" for ident in ids).encode()
    try:
        answer = client.session.put(
            upload_url, data=body, headers={"Content-Type": "text/plain"}, timeout=HTTP_TIMEOUT
        )
    except requests.RequestException as exc:
        # The exception's text holds the URL and its signature: name its kind only.
        raise ComplianceError(
            f"uploading the ids of {job.name} failed ({type(exc).__name__}); nothing was "
            "checked. Run aduan compliance check again"
        ) from None
    if not 200 <= answer.status_code < 300:
        raise ComplianceError(
            f"the upload of the ids of {job.name} was refused (HTTP {answer.status_code}); its "
            "upload URL is valid for 15 minutes from the job's creation. Run aduan compliance "
            "check again"
        )
    log.info("%s: %d ids uploaded", job.name, len(ids))
    return job


def _wait(
    client: tweepy.Client,
    jobs: list[Job],
    wait: float,
    poll: float,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    failures: list[str],
) -> list[Job]:
    """Poll `jobs` until each ended or `wait` seconds passed; the jobs that completed, and one
    line in `failures` for each other."""
    deadline = clock() + wait
    pending = list(jobs)
    complete: list[Job] = []
    while True:
        for job in list(pending):
            try:
                data = _x(client.get_compliance_job, job.id, doing=f"reading {job.name}")
                job.status = _field(data, "status")
            except ComplianceError as exc:
                job.status = f"unknown: {exc}"  # X may answer at the next look
                continue
            job.download_url = str(data.get("download_url") or job.download_url)
            if job.status in RUNNING:
                continue
            pending.remove(job)
            if job.status == "complete":
                complete.append(job)
            elif job.status in ENDED:
                failures.append(
                    f"{job.name} ended {job.status} at X; nothing of it was forgotten. Run aduan "
                    "compliance check again"
                )
            else:
                failures.append(
                    f"{job.name} has status {job.status!r}, which X does not document; nothing "
                    "of it was forgotten. Run aduan compliance check again, or report it"
                )
        if not pending or clock() + poll > deadline:
            break
        sleep(poll)
    for job in pending:
        failures.append(
            f"{job.name} did not end within --wait {wait:g} s (status {job.status}); nothing of "
            "it was forgotten. X runs one job per type at a time: run aduan compliance check "
            "again once it has ended, with a longer --wait"
        )
    return complete


def _x(call: Callable[[str], Any], argument: str, *, doing: str) -> dict[str, Any]:
    """The `data` of X's answer to `call(argument)`, or the error that says why there is none."""
    try:
        answer = call(argument)
    except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
        raise refused(exc.response.status_code, "X's batch compliance jobs") from exc
    except tweepy.HTTPException as exc:
        status = exc.response.status_code
        said = "; ".join(exc.api_messages) or exc.response.reason
        raise ComplianceError(
            f"{doing} failed: X answered HTTP {status} ({said}). X runs one job per type at a "
            "time: if one is still running, run aduan compliance check again once it has ended"
        ) from exc
    except requests.RequestException as exc:
        raise ComplianceError(
            f"{doing} failed: X could not be reached ({type(exc).__name__}). Run aduan "
            "compliance check again"
        ) from exc
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        raise ComplianceError(f"{doing}: X's answer has no job in its data field")
    return data


def _field(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value:
        raise ComplianceError(f"X's answer about a compliance job has no {name}")
    return value


def _download(session: requests.Session, job: Job) -> Iterator[tuple[int, bytes] | str]:
    """The complete lines of `job`'s results with their numbers, then, if the download broke
    off, why (a str): a partial last line is never yielded."""
    try:
        answer = session.get(job.download_url, stream=True, timeout=HTTP_TIMEOUT)
    except requests.RequestException as exc:
        yield f"{type(exc).__name__} before the first byte"
        return
    with answer:
        if answer.status_code != 200:
            yield f"HTTP {answer.status_code}"
            return
        pending = b""
        number = 0
        try:
            for chunk in answer.iter_content(chunk_size=DOWNLOAD_CHUNK):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    number += 1
                    yield number, line
        except requests.RequestException as exc:
            yield type(exc).__name__
            return
        if pending:
            # The file's last line needs no newline: a cut one fails as JSON below.
            yield number + 1, pending


def send_dead_letters(settings: Settings, dead: Sequence[tuple[bytes, DeadLetter]]) -> None:
    """Send `dead` (key, record) to the dead-letter topic; returns once Kafka acknowledged
    every one, or raises `BrokerError`."""
    producer = kafka_producer(settings, "aduan-compliance")
    user = Connection.of(settings).user
    try:
        with kafka_errors(
            f"sending {len(dead)} dead letter(s) to {DEAD_LETTER_TOPIC}",
            "; the rest was forgotten all the same: run aduan compliance check again to record "
            "the bad lines",
            refused=(
                f"Kafka refused the dead letters: {user} may not write to {DEAD_LETTER_TOPIC}; "
                "run aduan compliance check with the admin login, as aduan forget"
            ),
        ):
            sent = [
                producer.send(DEAD_LETTER_TOPIC, key=key, value=orjson.dumps(record))
                for key, record in dead
            ]
            producer.flush(timeout=DEAD_LETTER_TIMEOUT)
            for sending in sent:
                sending.get(timeout=DEAD_LETTER_TIMEOUT)
    finally:
        producer.close()
