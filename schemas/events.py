"""The events aduan emits. The JSON Schema files beside it (`*.schema.json`) are generated from the
records here, constraints and descriptions included: `python3 -m schemas.generate` writes them."""

from __future__ import annotations

from typing import Annotated, Literal, Protocol, TypedDict

from msgspec import Meta

# Bumped on any change a consumer could notice; consumers read it to pick a parser.
SCHEMA_VERSION = 3

# The constraints below only shape the JSON Schemas: aduan builds its events as plain dicts.
XId = Annotated[str, Meta(pattern="^[0-9]+$")]
"""An X post or user id: decimal digits in a string."""
AgencyId = Annotated[str, Meta(pattern="^[a-z0-9][a-z0-9-]{0,62}$")]
Timestamp = Annotated[str, Meta(extra_json_schema={"format": "date-time"})]
"""ISO 8601."""
UtcMillis = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$",
        extra_json_schema={"format": "date-time"},
    ),
]
"""ISO 8601 in UTC to the millisecond, as X writes `created_at`, so that times compare as text."""
Count = Annotated[int, Meta(ge=0)]
LineNumber = Annotated[int, Meta(ge=1)]
Version = Annotated[int, Meta(extra_json_schema={"const": SCHEMA_VERSION})]

RejectionReason = Literal[
    "duplicate", "retweet", "unknown_author", "agency_post", "unverified_author", "forgotten"
]


class Author(TypedDict):
    id: Annotated[XId, Meta(description="X user id")]
    username: Annotated[str, Meta(description="handle without '@' at the time of the post")]
    name: str
    verified: Annotated[bool, Meta(description="X's `verified` flag")]
    verified_type: Annotated[
        str | None,
        Meta(
            description="X's verified_type: blue, business, government, none; null when X did "
            "not say"
        ),
    ]


class Complaint(TypedDict):
    """A post addressed to one agency, on topic complaints.<agency_id>; or to none (agency_id
    null), on complaints.unrouted. Message key: complaint_id."""

    event_id: Annotated[
        str,
        Meta(
            pattern="^[0-9]+:[0-9]+:[a-z0-9][a-z0-9-]*$",
            description="<complaint_id>:<revision>:<agency_id or 'unrouted'>; the same for a "
            "redelivered event, so consumers drop repeats by it",
        ),
    ]
    complaint_id: Annotated[
        XId, Meta(description="id of the first post of the edit chain; all revisions share it")
    ]
    tweet_id: Annotated[XId, Meta(description="id of this post (revision)")]
    revision: Annotated[
        Count, Meta(description="index of this post in its edit chain; 0 for an original")
    ]
    agency_id: Annotated[
        AgencyId | None, Meta(description="the addressed agency; null when unrouted")
    ]
    co_addressed: Annotated[
        list[str],
        Meta(
            description="the other agencies the same post addresses, in order of first appearance"
        ),
    ]
    author: Author
    text: Annotated[str, Meta(description="full text of the post (long posts included)")]
    lang: str | None
    created_at: Annotated[Timestamp | None, Meta(description="ISO 8601, UTC")]
    conversation_id: str | None
    in_reply_to_user_id: str | None
    in_reply_to_tweet_id: Annotated[
        XId | None,
        Meta(
            description="The post this one replies to: a complaint, a follow-up or an agency's "
            "answer."
        ),
    ]
    url: Annotated[str, Meta(extra_json_schema={"format": "uri"})]
    registry_version: Annotated[
        str, Meta(description="content hash of the agency registry that routed the post")
    ]
    schema_version: Version


class Rejection(TypedDict):
    """A post that is not served, on topic mentions.rejected. Message key: tweet_id."""

    tweet_id: XId
    reason: RejectionReason
    author_id: Annotated[
        str | None,
        Meta(description="null for a forgotten post: nothing of it is kept but its id."),
    ]
    registry_version: str
    schema_version: Version


class Source(TypedDict):
    """Where a Kafka message was read: enough to fetch it again."""

    topic: str
    partition: Count
    offset: Count


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
    """Input that could not be read as a post, on topic mentions.dlq. Message key: none from the
    worker; x-compliance:<job id>:<line> from aduan compliance check."""

    error: Annotated[str, Meta(description="what was wrong")]
    line: Annotated[
        LineNumber | None,
        Meta(description="input line number, when read from a file (aduan route)"),
    ]
    source: Annotated[
        Source | None, Meta(description="the Kafka message, when read from a topic (worker)")
    ]
    raw: Annotated[
        str,
        Meta(
            description=r"the input as read (invalid UTF-8 as \xNN escapes), cut at 65536 "
            "characters"
        ),
    ]
    raw_truncated: bool
    schema_version: Version


CaseStatus = Literal["open", "overdue", "answered"]


class Case(TypedDict):
    """A complaint's case at one agency, on topic cases (compacted). Message key:
    <agency_id>:<case_id>; a null value (tombstone) ends a case merged into another. Times are
    ISO 8601 UTC."""

    case_id: Annotated[
        XId, Meta(description="The complaint_id of the complaint that opened the case.")
    ]
    agency_id: AgencyId
    citizen_id: Annotated[XId, Meta(description="The X user id of the complaint's author.")]
    opened_at: Annotated[
        UtcMillis,
        Meta(description="The earliest created_at among the revisions of the opening complaint."),
    ]
    due_at: Annotated[
        UtcMillis,
        Meta(
            description="00:00 WIB of the day after the agency's last working day to answer, "
            "in UTC."
        ),
    ]
    posts: Annotated[
        list[XId],
        Meta(
            min_length=1,
            description="The complaint posts of the case (the opening complaint, its revisions, "
            "the follow-ups), oldest first.",
        ),
    ]
    answers: Count
    first_answer_at: Timestamp | None
    first_answer_tweet_id: XId | None
    working_days_to_answer: Annotated[
        Count | None,
        Meta(
            description="Working days d with the WIB date of opened_at < d <= the WIB date of "
            "first_answer_at."
        ),
    ]
    answered_on_time: Annotated[bool | None, Meta(description="first_answer_at < due_at.")]
    status: CaseStatus
    registry_version: str
    schema_version: Version


ForgetKind = Literal["post", "user"]


class ForgetRequest(TypedDict):
    """A post, or every post of a user, that aduan must forget, on topic aduan.forget (compacted,
    kept for good). Message key: <kind>:<id>."""

    kind: ForgetKind
    id: Annotated[XId, Meta(description="The post's id, or the user's.")]
    reason: Annotated[str, Meta(min_length=1, max_length=200)]
    requested_at: Timestamp
    schema_version: Version


class Withdrawal(TypedDict):
    """A complaint its agency already received and must erase, on the complaint's topic
    (complaints.<agency_id>) with the complaint's key, complaint_id: once Kafka compacts the
    topic, it replaces the complaint. It carries no text."""

    event_id: Annotated[
        str,
        Meta(
            pattern="^[0-9]+:withdrawn:[a-z0-9-]+$",
            description="<complaint_id>:withdrawn:<agency_id or unrouted>: subscribers drop "
            "repeats by it.",
        ),
    ]
    complaint_id: XId
    agency_id: Annotated[str | None, Meta(description="null on complaints.unrouted.")]
    tweet_id: Annotated[
        XId,
        Meta(description="The post of the complaint that was forgotten (one of its revisions)."),
    ]
    reason: Annotated[str, Meta(min_length=1)]
    withdrawn_at: Timestamp
    schema_version: Version


Event = Complaint | Rejection | DeadLetter | Case | Withdrawal
