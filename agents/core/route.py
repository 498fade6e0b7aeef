"""The routing decision: where each post of an input line goes, as events for Kafka topics.

`aduan route` and the live agents both call `Router.route_line`, so they cannot drift apart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol

from agents.core.cases import CaseBook, case_post, thread_key
from agents.core.forget import Forgotten
from agents.core.parse import parse_line
from agents.core.post import Malformed, Post
from agents.core.registry import Registry
from agents.core.tag import addressed_agencies
from agents.core.verify import VerificationPolicy
from schemas.events import (
    SCHEMA_VERSION,
    Author,
    Complaint,
    DeadLetter,
    Event,
    Rejection,
    RejectionReason,
    Source,
)
from schemas.topics import (
    DEAD_LETTER_TOPIC,
    REJECTED_TOPIC,
    UNROUTED,
    UNROUTED_TOPIC,
    complaint_topic,
)

log = logging.getLogger(__name__)

RAW_LIMIT = 64 * 1024
"""Characters of raw input kept in a dead letter; Kafka's default message limit is 1 MB."""

Emit = tuple[str, str | None, Event | None]
"""(topic, message key, event); a None event is a tombstone (a case merged into another)."""


class SeenPosts(Protocol):
    """Post ids already decided: a set offline, a Faust table in the worker."""

    def __contains__(self, tweet_id: object, /) -> bool: ...

    def add(self, tweet_id: str, /) -> None: ...


class Router:
    """Applies the decisions, in order: malformed, forgotten, duplicate, retweet, unknown author,
    agency's own post, unverified author; then tags the addressed agencies and routes."""

    def __init__(
        self,
        registry: Registry,
        policy: VerificationPolicy,
        seen: SeenPosts,
        cases: CaseBook | None = None,
        forgotten: Forgotten | None = None,
    ) -> None:
        self.registry = registry
        self.policy = policy
        self.seen = seen
        self.cases = cases
        """Case tracking, when the caller wants `cases` events too."""
        self.forgotten = Forgotten() if forgotten is None else forgotten
        """The posts and users to forget; the caller adds requests as they come."""
        self._topics = {agency: complaint_topic(agency) for agency in registry.agency_ids}

    def route_line(
        self, raw: bytes, line: int | None = None, source: Source | None = None
    ) -> list[Emit]:
        """Events for one input line or Kafka message; `line` or `source` says where it was
        read, for dead letters."""
        emits: list[Emit] = []
        for item in parse_line(raw):
            if isinstance(item, Malformed):
                emits.append((DEAD_LETTER_TOPIC, None, dead_letter(item, line, source)))
            else:
                self._route_post(item, emits)
        return emits

    def route_message(self, raw: bytes, source: Source) -> list[Emit]:
        """Events for one Kafka message. Never raises: should the core itself fail, the post
        becomes a dead letter rather than stopping the pipeline or getting lost."""
        try:
            return self.route_line(raw, source=source)
        except Exception as exc:  # the core is fuzzed never to raise; if it does, keep the post
            log.exception("routing failed for %s", source)
            failure = Malformed(
                f"internal error while routing: {exc!r}", raw.decode(errors="replace")
            )
            return [(DEAD_LETTER_TOPIC, None, dead_letter(failure, None, source))]

    def _route_post(self, post: Post, emits: list[Emit]) -> None:
        verdict = self._judge(post)
        if isinstance(verdict, str):
            rejection: Rejection = {
                "tweet_id": post.tweet_id,
                "reason": verdict,
                "author_id": None if verdict == "forgotten" else post.author_id,
                "registry_version": self.registry.version,
                "schema_version": SCHEMA_VERSION,
            }
            emits.append((REJECTED_TOPIC, post.tweet_id, rejection))
            if verdict == "agency_post" and self.cases is not None and post.author_id:
                agency = self.registry.agency_by_account_id[post.author_id]
                self._track(post, (agency,), emits, by_agency=True)
            return
        agencies = addressed_agencies(post, self.registry)
        if not agencies:
            emits.append((UNROUTED_TOPIC, post.complaint_id, self._complaint(post, verdict, None)))
            return
        first = self._complaint(post, verdict, agencies[0])
        for index, agency in enumerate(agencies):
            complaint = first
            if index:
                # The same post for another agency: copying is cheaper than rebuilding. The copy
                # is shallow (one `author` dict for all): events are read-only once emitted.
                complaint = first.copy()
                complaint["event_id"] = f"{post.complaint_id}:{post.revision}:{agency}"
                complaint["agency_id"] = agency
            if len(agencies) > 1:
                complaint["co_addressed"] = [other for other in agencies if other != agency]
            emits.append((self._topics[agency], post.complaint_id, complaint))
        if self.cases is not None:
            self._track(post, agencies, emits, by_agency=False)

    def _track(
        self, post: Post, agencies: Iterable[str], emits: list[Emit], *, by_agency: bool
    ) -> None:
        assert self.cases is not None
        tracked = case_post(post, agencies, by_agency)
        if tracked is not None:
            emits += self.cases.add(thread_key(post), tracked)

    def _judge(self, post: Post) -> RejectionReason | Author:
        """The reason to reject the post, or its author when it is to be served."""
        request = self.forgotten.of_post(post)
        # An agency's account is no citizen's to forget: only its posts, one by one, are.
        if request is not None and (
            request["kind"] == "post" or post.author_id not in self.registry.agency_by_account_id
        ):
            return "forgotten"
        if post.tweet_id in self.seen:
            return "duplicate"
        self.seen.add(post.tweet_id)
        if post.is_retweet:
            return "retweet"
        author = post.author
        if author is None:
            return "unknown_author"
        if author["id"] in self.registry.agency_by_account_id:
            return "agency_post"
        if not self.policy.is_verified(author):
            return "unverified_author"
        return author

    def _complaint(self, post: Post, author: Author, agency: str | None) -> Complaint:
        return {
            "event_id": f"{post.complaint_id}:{post.revision}:{agency or UNROUTED}",
            "complaint_id": post.complaint_id,
            "tweet_id": post.tweet_id,
            "revision": post.revision,
            "agency_id": agency,
            "co_addressed": [],
            "author": author,
            "text": post.text,
            "lang": post.lang,
            "created_at": post.created_at,
            "conversation_id": post.conversation_id,
            "in_reply_to_user_id": post.in_reply_to_user_id,
            "in_reply_to_tweet_id": post.in_reply_to_tweet_id,
            "url": f"https://x.com/{author['username']}/status/{post.tweet_id}",
            "registry_version": self.registry.version,
            "schema_version": SCHEMA_VERSION,
        }


def dead_letter(item: Malformed, line: int | None, source: Source | None = None) -> DeadLetter:
    raw = item.raw.rstrip("\r\n")
    return {
        "error": item.error,
        "line": line,
        "source": source,
        "raw": raw[:RAW_LIMIT],
        "raw_truncated": len(raw) > RAW_LIMIT,
        "schema_version": SCHEMA_VERSION,
    }
