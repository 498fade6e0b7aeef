"""`streams.x.compliance` and `streams.x.compliance_results`, offline: tweepy's calls and the
presigned upload and download URLs are intercepted with `responses`, the payloads shaped as X's
batch compliance documentation shows them; forgetting, the stored ids and Kafka are fakes."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import kafka.errors
import orjson
import pytest
import responses
from responses import matchers

from agents.core.errors import ConfigError
from schemas.events import DeadLetter, ForgetRequest
from schemas.topics import DEAD_LETTER_TOPIC
from streams.errors import BrokerError, XRefusedError
from streams.forget.run import Outcome
from streams.forget.stored import StoredIds
from streams.settings import Settings
from streams.x import compliance
from streams.x.compliance import DOWNLOAD_CHUNK, check
from streams.x.compliance_results import ComplianceError, Job, Report, read_results
from tests.unit.streams.x.payloads import API, TOKEN, forbidden, unauthorized

ROOT = Path(__file__).resolve().parents[4]

JOBS = f"{API}/compliance/jobs"

SIGNATURE = "355e4c4739ae508304d3df15b4e13e64b6c7752d8d79d73676a4d8e60dc5241f"
"""Stands for the signature X's presigned URLs carry: a secret no message or log may show."""

POSTS_JOB = "1425543269983784962"
USERS_JOB = "1425543269983784963"

POSTS = {"1417856744319971329", "1415457498803232770", "1415348607813832708"}
USERS = {"1500000002", "1500000003"}


def _storage(job_id: str, job_type: str, part: str, expires: int) -> str:
    # X's docs show a posts job's URLs; a users job's are taken to be alike.
    bucket = "twttr-tweet-compliance" if job_type == "tweets" else "twttr-user-compliance"
    return (
        f"https://storage.googleapis.com/{bucket}/{job_id}/{part}/1202726487847104512_{job_id}"
        "?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Date=20210811T194255Z"
        f"&X-Goog-Expires={expires}&X-Goog-SignedHeaders=host&X-Goog-Signature={SIGNATURE}"
    )


def upload_url(job_id: str, job_type: str) -> str:
    return _storage(job_id, job_type, "submission", 900)


def download_url(job_id: str, job_type: str) -> str:
    return _storage(job_id, job_type, "delivery", 604800)


def job(job_id: str, job_type: str, status: str = "created") -> dict[str, Any]:
    """POST /2/compliance/jobs and GET /2/compliance/jobs/:id, as the docs show them."""
    return {
        "data": {
            "download_expires_at": "2021-08-18T19:42:55.000Z",
            "status": status,
            "upload_url": upload_url(job_id, job_type),
            "created_at": "2021-08-11T19:42:55.000Z",
            "resumable": False,
            "id": job_id,
            "type": job_type,
            "download_url": download_url(job_id, job_type),
            "upload_expires_at": "2021-08-11T19:57:55.000Z",
        }
    }


def result(ident: str, reason: str, action: str = "delete") -> bytes:
    """One line of a results file, as the docs show it."""
    return orjson.dumps(
        {
            "id": ident,
            "action": action,
            "created_at": "2019-10-29T17:02:47.000Z",
            "redacted_at": "2020-07-29T17:02:47.000Z",
            "reason": reason,
        }
    )


def results_file(*lines: bytes) -> bytes:
    return b"".join(line + b"\n" for line in lines)


class Forgetting:
    """Stands for `streams.forget.run.forget`: keeps the requests."""

    def __init__(self) -> None:
        self.requests: list[ForgetRequest] = []

    def __call__(self, settings: Settings, requests: Sequence[ForgetRequest]) -> list[Outcome]:
        self.requests += requests
        return [Outcome(request) for request in requests]

    def named(self) -> set[tuple[str, str, str]]:
        return {(r["kind"], r["id"], r["reason"]) for r in self.requests}


class DeadLetters:
    """Stands for `send_dead_letters`: keeps the letters."""

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, DeadLetter]] = []

    def __call__(self, settings: Settings, dead: Sequence[tuple[bytes, DeadLetter]]) -> None:
        self.sent += dead


@pytest.fixture
def forgetting(monkeypatch: pytest.MonkeyPatch) -> Forgetting:
    fake = Forgetting()
    monkeypatch.setattr(compliance, "forget", fake)
    return fake


@pytest.fixture
def dead(monkeypatch: pytest.MonkeyPatch) -> DeadLetters:
    fake = DeadLetters()
    monkeypatch.setattr(compliance, "send_dead_letters", fake)
    return fake


def holding(
    monkeypatch: pytest.MonkeyPatch,
    posts: set[str],
    users: set[str],
    agencies: frozenset[str] = frozenset(),
) -> list[int | None]:
    """aduan holds `posts` and `users`, of which `agencies` are agencies' accounts; the
    `since_ms` each call asked for."""
    asked: list[int | None] = []

    def stored_ids(settings: Settings, since_ms: int | None = None) -> StoredIds:
        asked.append(since_ms)
        return StoredIds(set(posts), set(users) | set(agencies))

    monkeypatch.setattr(compliance, "stored_ids", stored_ids)
    monkeypatch.setattr(compliance, "agency_accounts", lambda _: set(agencies))
    return asked


SETTINGS = Settings.from_env({"ADUAN_X_BEARER_TOKEN": TOKEN})


class Clock:
    """A monotonic clock that moves only when slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def run(clock: Clock | None = None, wait: float = 600, since: datetime | None = None) -> Report:
    clock = clock or Clock()
    return check(SETTINGS, since, wait, 30, clock=clock, sleep=clock.sleep)


def x_job(
    job_id: str,
    job_type: str,
    ids: set[str],
    statuses: Sequence[str] = ("complete",),
    results: bytes | None = None,
) -> None:
    """Intercept a whole job: creation, upload of exactly `ids`, its statuses in turn, and
    its results file."""
    responses.post(
        JOBS,
        json=job(job_id, job_type),
        match=[matchers.json_params_matcher({"type": job_type})],
    )
    responses.put(
        upload_url(job_id, job_type),
        match=[
            matchers.header_matcher({"Content-Type": "text/plain"}),
            matchers.body_matcher("".join(f"{i}\n" for i in sorted(ids))),
        ],
    )
    for status in statuses:
        responses.get(f"{JOBS}/{job_id}", json=job(job_id, job_type, status))
    if results is not None:
        responses.get(download_url(job_id, job_type), body=results)


def no_secret_sent_or_logged(caplog: pytest.LogCaptureFixture) -> None:
    for call in responses.calls:
        if call.request.url and "storage.googleapis.com" in call.request.url:
            assert "Authorization" not in call.request.headers
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert SIGNATURE not in logged
    assert TOKEN not in logged


@responses.activate
def test_posts_and_users_x_says_are_gone_are_forgotten(
    monkeypatch: pytest.MonkeyPatch,
    forgetting: Forgetting,
    dead: DeadLetters,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    asked = holding(monkeypatch, POSTS, USERS, agencies=frozenset({"900000000000000201"}))
    deleted, protected, geo = sorted(POSTS)
    x_job(
        POSTS_JOB,
        "tweets",
        POSTS,
        statuses=("in_progress", "complete"),
        results=results_file(
            result(deleted, "deleted"),
            result(protected, "protected"),
            result(geo, "scrub_geo", action="scrub_geo"),
        ),
    )
    x_job(
        USERS_JOB,
        "users",
        USERS,
        statuses=("created", "complete"),
        results=results_file(
            result("1500000002", "suspended"), result("1500000003", "deactivated")
        ),
    )
    clock = Clock()
    since = datetime(2026, 7, 1, tzinfo=UTC)

    report = run(clock, since=since)

    assert asked == [int(since.timestamp() * 1000)]
    assert forgetting.named() == {
        ("post", deleted, f"x-compliance: deleted (job {POSTS_JOB})"),
        ("post", protected, f"x-compliance: protected (job {POSTS_JOB})"),
        ("user", "1500000002", f"x-compliance: suspended (job {USERS_JOB})"),
        ("user", "1500000003", f"x-compliance: deactivated (job {USERS_JOB})"),
    }
    assert [o.request for o in report.outcomes] == forgetting.requests
    assert dead.sent == []
    assert clock.slept == [30]
    assert report.failures == []
    report.raise_failures()
    assert report.summary() == (
        "sent 3 post ids and 2 user ids to X: 5 result(s), 4 forgotten, 0 dead-lettered to "
        "mentions.dlq, 1 scrub_geo ignored (aduan asks X for no geo fields, so there is no "
        "location to remove)"
    )
    no_secret_sent_or_logged(caplog)


@responses.activate
def test_nothing_held_sends_nothing_to_x(
    monkeypatch: pytest.MonkeyPatch, forgetting: Forgetting, dead: DeadLetters
) -> None:
    holding(monkeypatch, set(), set())
    report = run()
    assert len(responses.calls) == 0
    assert forgetting.requests == []
    assert report.summary().startswith("sent no ids to X: 0 result(s), 0 forgotten")


@pytest.mark.parametrize("ending", ["failed", "expired"])
@responses.activate
def test_a_job_that_fails_or_expires_forgets_nothing_of_its_own(
    ending: str, monkeypatch: pytest.MonkeyPatch, forgetting: Forgetting, dead: DeadLetters
) -> None:
    holding(monkeypatch, POSTS, USERS)
    x_job(POSTS_JOB, "tweets", POSTS, statuses=("in_progress", ending))
    x_job(
        USERS_JOB,
        "users",
        USERS,
        statuses=("in_progress", "complete"),
        results=results_file(result("1500000002", "deleted")),
    )
    report = run()
    assert forgetting.named() == {
        ("user", "1500000002", f"x-compliance: deleted (job {USERS_JOB})")
    }
    fetched = [str(call.request.url) for call in responses.calls]
    assert download_url(POSTS_JOB, "tweets") not in fetched
    with pytest.raises(ComplianceError) as raised:
        report.raise_failures()
    assert str(raised.value) == (
        f"X compliance job {POSTS_JOB} (posts) ended {ending} at X; nothing of it was "
        "forgotten. Run aduan compliance check again"
    )


@responses.activate
def test_a_job_that_outlasts_the_wait_forgets_nothing(
    monkeypatch: pytest.MonkeyPatch, forgetting: Forgetting, dead: DeadLetters
) -> None:
    holding(monkeypatch, POSTS, set())
    x_job(POSTS_JOB, "tweets", POSTS, statuses=("in_progress",) * 3)
    clock = Clock()
    report = run(clock, wait=60)
    assert clock.slept == [30, 30]
    assert forgetting.requests == []
    assert report.failures == [
        f"X compliance job {POSTS_JOB} (posts) did not end within --wait 60 s (status "
        "in_progress); nothing of it was forgotten. X runs one job per type at a time: run aduan "
        "compliance check again once it has ended, with a longer --wait"
    ]


@responses.activate
def test_a_malformed_results_file_dead_letters_bad_lines_and_honours_the_rest(
    monkeypatch: pytest.MonkeyPatch, forgetting: Forgetting, dead: DeadLetters
) -> None:
    holding(monkeypatch, POSTS, set())
    first, second, third = sorted(POSTS)
    lines = [
        result(first, "deleted"),
        b"<html>Service Unavailable</html>",
        orjson.dumps({"id": second, "action": "delete"}),
        result(second, "vanished"),
        result(second, "deleted", action="archive"),
        result("1790000000000000999", "deleted"),
        result("@warga", "deleted"),
        b'["1417856744319971329", "delete"]',
        b"",
        result(third, "suspended"),
    ]
    x_job(POSTS_JOB, "tweets", POSTS, results=results_file(*lines))

    report = run()

    assert forgetting.named() == {
        ("post", first, f"x-compliance: deleted (job {POSTS_JOB})"),
        ("post", third, f"x-compliance: suspended (job {POSTS_JOB})"),
    }
    problems = {
        2: "not a JSON object (a cut or damaged line)",
        3: "no reason string",
        4: "unknown reason 'vanished' for action 'delete' on posts",
        5: "unknown action 'archive'",
        6: "id 1790000000000000999 was not uploaded to this job",
        7: "id '@warga' is not an X id (digits)",
        8: "not a JSON object",
    }
    assert [(key, letter["line"], letter["error"]) for key, letter in dead.sent] == [
        (
            f"x-compliance:{POSTS_JOB}:{line}".encode(),
            line,
            f"X compliance job {POSTS_JOB} (posts), result line {line}: {problem}",
        )
        for line, problem in problems.items()
    ]
    assert [letter["raw"].encode() for _, letter in dead.sent] == lines[1:8]
    schema = json.loads((ROOT / "schemas" / "dead_letter.schema.json").read_text())
    for _, letter in dead.sent:
        jsonschema.validate(letter, schema)
    assert report.failures == []
    assert "2 result(s), 2 forgotten, 7 dead-lettered to mentions.dlq" in report.summary()


@responses.activate
def test_a_user_id_in_a_posts_job_is_not_believed(
    monkeypatch: pytest.MonkeyPatch, forgetting: Forgetting, dead: DeadLetters
) -> None:
    holding(monkeypatch, POSTS, USERS)
    x_job(POSTS_JOB, "tweets", POSTS, results=results_file(result("1500000002", "deleted")))
    x_job(USERS_JOB, "users", USERS, results=b"")
    run()
    assert forgetting.requests == []
    assert [letter["error"] for _, letter in dead.sent] == [
        f"X compliance job {POSTS_JOB} (posts), result line 1: id 1500000002 was not uploaded "
        "to this job"
    ]


@responses.activate
def test_a_download_cut_mid_line_honours_only_complete_lines(
    monkeypatch: pytest.MonkeyPatch, forgetting: Forgetting, dead: DeadLetters
) -> None:
    holding(monkeypatch, POSTS, set())
    first, second, _ = sorted(POSTS)
    # Longer than one chunk, so that the break comes after complete lines were read.
    early = [result(first, "deleted")] * (DOWNLOAD_CHUNK // len(result(first, "deleted")) + 5)
    whole = results_file(*early, result(second, "deleted"))
    cut = whole[: whole.rindex(second.encode()) + 5]
    x_job(POSTS_JOB, "tweets", POSTS)
    # The storage promised the whole file, then the connection broke.
    responses.get(
        download_url(POSTS_JOB, "tweets"),
        body=cut,
        headers={"Content-Length": str(len(whole))},
        auto_calculate_content_length=False,
    )

    report = run()

    assert forgetting.named() == {("post", first, f"x-compliance: deleted (job {POSTS_JOB})")}
    assert dead.sent == []
    complete = whole[:DOWNLOAD_CHUNK].count(b"\n")
    assert report.failures == [
        f"the download of the results of X compliance job {POSTS_JOB} (posts) broke off after "
        f"{complete} complete line(s) (ChunkedEncodingError); those were honoured. Run aduan "
        "compliance check again to check the rest"
    ]


@responses.activate
def test_a_results_file_whose_last_line_is_cut_dead_letters_it(
    monkeypatch: pytest.MonkeyPatch, forgetting: Forgetting, dead: DeadLetters
) -> None:
    holding(monkeypatch, POSTS, set())
    first, second, _ = sorted(POSTS)
    whole = results_file(result(first, "deleted"), result(second, "deleted"))
    x_job(POSTS_JOB, "tweets", POSTS, results=whole[:-10])

    report = run()

    assert forgetting.named() == {("post", first, f"x-compliance: deleted (job {POSTS_JOB})")}
    assert [letter["error"] for _, letter in dead.sent] == [
        f"X compliance job {POSTS_JOB} (posts), result line 2: not a JSON object (a cut or "
        "damaged line)"
    ]
    assert report.failures == []


@responses.activate
def test_results_that_cannot_be_downloaded_forget_nothing(
    monkeypatch: pytest.MonkeyPatch, forgetting: Forgetting, dead: DeadLetters
) -> None:
    holding(monkeypatch, POSTS, set())
    x_job(POSTS_JOB, "tweets", POSTS)
    responses.get(download_url(POSTS_JOB, "tweets"), status=403, body=b"<Error>expired</Error>")
    report = run()
    assert forgetting.requests == []
    assert report.failures == [
        f"the results of X compliance job {POSTS_JOB} (posts) could not be downloaded (HTTP "
        "403); nothing of it was forgotten. Run aduan compliance check again"
    ]


@responses.activate
def test_a_refused_upload_is_reported_without_its_url(
    monkeypatch: pytest.MonkeyPatch, forgetting: Forgetting, dead: DeadLetters
) -> None:
    holding(monkeypatch, POSTS, set())
    responses.post(JOBS, json=job(POSTS_JOB, "tweets"))
    responses.put(upload_url(POSTS_JOB, "tweets"), status=403)
    report = run()
    assert forgetting.requests == []
    assert len(report.failures) == 1
    assert report.failures[0].startswith(
        f"the upload of the ids of X compliance job {POSTS_JOB} (posts) was refused (HTTP 403)"
    )
    assert "googleapis" not in report.failures[0]


@pytest.mark.parametrize(
    ("status", "payload", "said"),
    [(401, unauthorized(), "HTTP 401 Unauthorized"), (403, forbidden(), "HTTP 403 Forbidden")],
)
@pytest.mark.usefixtures("dead")
@responses.activate
def test_a_refused_token_stops_the_check(
    status: int,
    payload: dict[str, Any],
    said: str,
    monkeypatch: pytest.MonkeyPatch,
    forgetting: Forgetting,
) -> None:
    holding(monkeypatch, POSTS, USERS)
    responses.post(JOBS, status=status, json=payload)
    with pytest.raises(XRefusedError, match=said) as raised:
        run()
    assert TOKEN not in str(raised.value)
    assert len(responses.calls) == 1
    assert forgetting.requests == []


@responses.activate
def test_a_job_x_will_not_create_is_reported_and_the_other_runs(
    monkeypatch: pytest.MonkeyPatch, forgetting: Forgetting, dead: DeadLetters
) -> None:
    holding(monkeypatch, POSTS, USERS)
    responses.post(
        JOBS,
        status=400,
        # X's problem shape for a refused request; the words of this refusal are not documented.
        json={
            "errors": [{"message": "A job of this type is already in progress"}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        },
        match=[matchers.json_params_matcher({"type": "tweets"})],
    )
    x_job(USERS_JOB, "users", USERS, results=results_file(result("1500000003", "protected")))
    report = run()
    assert forgetting.named() == {
        ("user", "1500000003", f"x-compliance: protected (job {USERS_JOB})")
    }
    assert report.failures == [
        "creating a compliance job for posts failed: X answered HTTP 400 (A job of this type "
        "is already in progress). X runs one job per type at a time: if one is still running, "
        "run aduan compliance check again once it has ended"
    ]


def test_no_token_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ADUAN_X_BEARER_TOKEN"):
        check(Settings.from_env({}), None, 60, 30)


def test_read_results_counts_each_id_once_and_keeps_ignored_actions() -> None:
    posts = Job("tweets", POSTS_JOB, frozenset(POSTS), download_url(POSTS_JOB, "tweets"))
    first = sorted(POSTS)[0]
    lines = [
        (1, result(first, "deleted")),
        (2, result(first, "deleted")),
        (3, result(first, "tweet_edited", action="rehydrate")),
        (4, result(first, "geo_scrubbed", action="scrub_geo")),
    ]
    read = read_results(posts, lines)
    assert [(v.id, v.action, v.forgets) for v in read.verdicts] == [
        (first, "delete", True),
        (first, "delete", True),
        (first, "rehydrate", False),
        (first, "scrub_geo", False),
    ]
    assert read.dead == []
    assert read.lines == 4
    assert read.broken is None


def test_users_have_no_bounced_reason() -> None:
    users = Job("users", USERS_JOB, frozenset(USERS), download_url(USERS_JOB, "users"))
    read = read_results(users, [(1, result("1500000002", "bounced"))])
    assert read.verdicts == []
    assert [letter["error"] for _, letter in read.dead] == [
        f"X compliance job {USERS_JOB} (users), result line 1: unknown reason 'bounced' for "
        "action 'delete' on users"
    ]


class Sending:
    """What kafka-python's `send` returns: `get` raises the error Kafka answered, if any."""

    def __init__(self, error: Exception | None) -> None:
        self.error = error

    def get(self, timeout: float | None = None) -> object:
        if self.error is not None:
            raise self.error
        return object()


class Producer:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.closed = False

    def send(self, topic: str, key: bytes, value: bytes) -> Sending:
        self.sent.append((topic, key, value))
        return Sending(self.error)

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self) -> None:
        self.closed = True


def with_producer(monkeypatch: pytest.MonkeyPatch, producer: Producer) -> None:
    make: Callable[[Settings, str], Producer] = lambda settings, client_id: producer  # noqa: E731
    monkeypatch.setattr(compliance, "kafka_producer", make)


def _letters() -> list[tuple[bytes, DeadLetter]]:
    posts = Job("tweets", POSTS_JOB, frozenset(POSTS), download_url(POSTS_JOB, "tweets"))
    return read_results(posts, [(1, b"not json"), (2, b"{}")]).dead


def test_dead_letters_go_to_the_dead_letter_topic_once_acknowledged(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = Producer()
    with_producer(monkeypatch, producer)
    letters = _letters()
    compliance.send_dead_letters(SETTINGS, letters)
    assert producer.sent == [
        (DEAD_LETTER_TOPIC, key, orjson.dumps(letter)) for key, letter in letters
    ]
    assert producer.closed


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            kafka.errors.KafkaTimeoutError("no answer"),
            "sending 2 dead letter(s) to mentions.dlq failed: KafkaTimeoutError: no answer; the "
            "rest was forgotten all the same",
        ),
        (
            kafka.errors.TopicAuthorizationFailedError(),
            "Kafka refused the dead letters: this anonymous user may not write to mentions.dlq",
        ),
    ],
)
def test_dead_letters_kafka_did_not_acknowledge_are_a_broker_error(
    error: Exception, said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    producer = Producer(error)
    with_producer(monkeypatch, producer)
    with pytest.raises(BrokerError, match=re.escape(said)):
        compliance.send_dead_letters(SETTINGS, _letters())
    assert producer.closed


@responses.activate
def test_a_failed_look_at_a_job_is_tried_again_at_the_next_poll(
    monkeypatch: pytest.MonkeyPatch, forgetting: Forgetting, dead: DeadLetters
) -> None:
    holding(monkeypatch, POSTS, set())
    deleted = sorted(POSTS)[0]
    x_job(POSTS_JOB, "tweets", POSTS, statuses=())
    responses.get(f"{JOBS}/{POSTS_JOB}", status=503, json={"title": "Service Unavailable"})
    responses.get(f"{JOBS}/{POSTS_JOB}", json=job(POSTS_JOB, "tweets", "complete"))
    responses.get(download_url(POSTS_JOB, "tweets"), body=results_file(result(deleted, "deleted")))
    clock = Clock()
    report = run(clock)
    assert clock.slept == [30]
    assert report.failures == []
    assert forgetting.named() == {("post", deleted, f"x-compliance: deleted (job {POSTS_JOB})")}
