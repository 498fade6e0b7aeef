"""The events aduan emits. Each record here has a JSON Schema file beside it (`*.schema.json`)."""

from __future__ import annotations

from typing import Literal, Protocol, TypedDict

# Bumped on any change a consumer could notice; consumers read it to pick a parser.
SCHEMA_VERSION = 3

RejectionReason = Literal[
    "duplicate", "retweet", "unknown_author", "agency_post", "unverified_author", "forgotten"
]


class Author(TypedDict):
    id: str
    username: str
    name: str
    verified: bool
    verified_type: str | None


class Complaint(TypedDict):
    """A post addressed to one agency (`agency_id`), or to none (`agency_id` null: unrouted)."""

    event_id: str
    complaint_id: str
    tweet_id: str
    revision: int
    agency_id: str | None
    co_addressed: list[str]
    author: Author
    text: str
    lang: str | None
    created_at: str | None
    conversation_id: str | None
    in_reply_to_user_id: str | None
    in_reply_to_tweet_id: str | None
    """The post this one replies to: a complaint, a follow-up or an agency's answer."""
    url: str
    registry_version: str
    schema_version: int


class Rejection(TypedDict):
    tweet_id: str
    reason: RejectionReason
    author_id: str | None
    """None for a forgotten post: nothing of it is kept but its id."""
    registry_version: str
    schema_version: int


class Source(TypedDict):
    """Where a Kafka message was read: enough to fetch it again."""

    topic: str
    partition: int
    offset: int


class Located(Protocol):
    """A Kafka record of any client (Faust, aiokafka, kafka-python): it knows where it was read."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


def source_of(record: Located) -> Source:
    return {"topic": record.topic, "partition": record.partition, "offset": record.offset}


class DeadLetter(TypedDict):
    """Input that could not be read as a post, kept with where it came from and why it failed."""

    error: str
    line: int | None
    """Input line number, when read from a file."""
    source: Source | None
    """The Kafka message, when read from a topic."""
    raw: str
    raw_truncated: bool
    schema_version: int


CaseStatus = Literal["open", "overdue", "answered"]


class Case(TypedDict):
    """A complaint's case at one agency: whether and when the agency answered it on X."""

    case_id: str
    """The `complaint_id` of the complaint that opened the case."""
    agency_id: str
    citizen_id: str
    opened_at: str
    due_at: str
    """00:00 WIB of the day after the agency's last working day to answer, in UTC."""
    posts: list[str]
    """The complaint posts' ids (the opening complaint, its revisions, the follow-ups), oldest
    first."""
    answers: int
    first_answer_at: str | None
    first_answer_tweet_id: str | None
    working_days_to_answer: int | None
    answered_on_time: bool | None
    status: CaseStatus
    registry_version: str
    schema_version: int


ForgetKind = Literal["post", "user"]


class ForgetRequest(TypedDict):
    """A post, or every post of a user, that aduan must forget: on topic `aduan.forget`
    (compacted), key `<kind>:<id>`."""

    kind: ForgetKind
    id: str
    """The post's id, or the user's."""
    reason: str
    requested_at: str
    schema_version: int


class Withdrawal(TypedDict):
    """A complaint its agency already received and must now erase, on the complaint's topic with
    the complaint's key: it replaces the complaint there once Kafka compacts the topic."""

    event_id: str
    """`<complaint_id>:withdrawn:<agency-id>`: subscribers drop repeats by it, as of complaints."""
    complaint_id: str
    agency_id: str | None
    tweet_id: str
    """The post of the complaint that was forgotten (one of its revisions)."""
    reason: str
    withdrawn_at: str
    schema_version: int


Event = Complaint | Rejection | DeadLetter | Case | Withdrawal
