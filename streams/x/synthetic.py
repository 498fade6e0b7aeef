"""Realistic synthetic mentions: Indonesian complaints to the registry's agencies, as X API v2
filtered-stream messages, with the threads that grow from them: the agency's answers (on time,
late or never) and the citizen's follow-ups. Feeds the sample file and the benchmarks.

The shares below are guesses from public complaint threads to Central Java agencies, not
measurements; they only need to exercise every path at a plausible mix.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from agents.core.registry import Account, Agency, Registry
from agents.core.workdays import WorkCalendar
from streams.x.snowflake import snowflake

SHARE_UNVERIFIED = 0.25
SHARE_RETWEET = 0.05
SHARE_REPLY = 0.15
SHARE_MULTI_AGENCY = 0.10
SHARE_NO_AGENCY = 0.03
SHARE_AGENCY_AUTHOR = 0.01
SHARE_EDIT = 0.02
SHARE_LONG = 0.02
SHARE_REDELIVERED = 0.01
SHARE_PHOTO = 0.35
"""Complaints often carry a photo as evidence: a t.co link and a media key."""
SHARE_TRUNCATED = 0.002
"""A line cut short, as an archiver that crashed mid-write leaves it."""
SHARE_ANSWERED_ON_TIME = 0.15
"""Of the complaints to an agency: it answers within its working days."""
SHARE_ANSWERED_LATE = 0.10
"""Of the complaints to an agency: it answers after its deadline. The rest are never answered."""
SHARE_FOLLOW_UP = 0.15
"""Of the complaints to an agency: the citizen writes again one to seven days later."""
SHARE_ANSWERED_AGAIN = 0.5
"""Of the follow-ups that reply to an answer: the agency answers once more."""

_PLACES = (
    "Semarang", "Solo", "Magelang", "Pekalongan", "Tegal", "Salatiga", "Kudus", "Jepara",
    "Purwokerto", "Cilacap", "Klaten", "Boyolali", "Demak", "Kendal", "Wonosobo", "Rembang",
)  # fmt: skip
_COMPLAINTS = (
    "Jalan provinsi di {place} rusak parah sudah {n} bulan, mohon segera diperbaiki",
    "pelayanan di kantor {place} sangat lambat, antre dari pagi belum juga dilayani",
    "ada dugaan pungli saat mengurus surat di {place}, diminta Rp{amount} tanpa kuitansi",
    "kapan sidang perkara nomor {n}/Pdt.G/2024/PN dilanjutkan? Sudah ditunda {k} kali",
    "mohon audit penggunaan dana desa di {place}, banyak kejanggalan sejak tahun lalu",
    "RSUD di {place} menolak pasien BPJS dengan alasan kamar penuh, tolong ditindaklanjuti 🙏",
    "sekolah di {place} memungut biaya seragam Rp{amount}, apakah ini sesuai aturan?",
    "lampu penerangan jalan di {place} mati sudah {k} minggu, rawan kecelakaan dan begal",
    "bus Trans Jateng koridor {k} di {place} sering terlambat lebih dari {n} menit 😡",
    "laporan saya soal tanah kas desa di {place} belum ada tindak lanjut, mohon kejelasan",
)
_CLOSINGS = ("", " Terima kasih.", " Mohon responnya 🙏", " #LaporGub", " Matur nuwun.")
_ANSWERS = (
    "Terima kasih atas laporannya. Aduan sudah kami teruskan ke bidang terkait untuk segera "
    "ditindaklanjuti.",
    "Mohon maaf atas ketidaknyamanannya. Silakan kirim lokasi lengkap dan kronologinya melalui "
    "DM agar dapat kami proses.",
    "Laporan sudah kami terima dan sedang kami koordinasikan dengan UPT setempat. Terima kasih 🙏",
    "Petugas kami sudah meninjau lokasi, penanganannya dijadwalkan dalam waktu dekat. Terima "
    "kasih atas kesabarannya.",
    "Terima kasih, Sobat. Aduan juga dapat disampaikan melalui kanal LAPOR! agar perkembangannya "
    "dapat dipantau.",
)
_FOLLOW_UPS = (
    "Sudah {days} hari belum ada tindak lanjut @{agency}, mohon segera ditangani",
    "@{agency} mohon kabar perkembangan laporan saya di atas, sudah {days} hari belum ada jawaban",
    "Up. Sudah {days} hari kondisinya masih sama, @{agency} tolong ditindaklanjuti 🙏",
)
"""A citizen writing under their own complaint."""
_REPLIES_TO_ANSWERS = (
    "@{agency} terima kasih responnya, tapi sudah {days} hari belum ada petugas yang datang",
    "@{agency} sudah saya kirim lewat DM sejak {days} hari lalu, mohon segera diproses",
    "@{agency} sampai hari ini belum ada perubahan, kapan ditindaklanjuti?",
)
"""A citizen answering the agency: X starts a reply's text with the handle it replies to."""
_VERIFIED_TYPES = (("blue", 0.85), ("business", 0.05), ("government", 0.05), ("none", 0.05))
_FIRST = ("Budi", "Siti", "Agus", "Dewi", "Eko", "Rina", "Joko", "Sri", "Andi", "Wulan")
_LAST = ("Santoso", "Rahayu", "Wibowo", "Lestari", "Saputra", "Handayani", "Prasetyo", "Utami")
_START = datetime(2024, 5, 1, tzinfo=UTC)
_SPACING = timedelta(seconds=30)
"""Between two new posts (replies in threads come on their own clock): 20,000 lines hold days of
complaints, enough for a report's per-day charts."""
_OPEN_THREADS = 10
"""Recent conversations a reply may join: a few threads grow long, as on X."""


def synthetic_lines(registry: Registry, count: int, seed: int = 7) -> Iterator[bytes]:
    """Exactly `count` JSON lines, deterministic for a given seed, in `created_at` order but for
    the redelivered copies of recent lines. Answers and follow-ups come minutes to weeks after
    their complaint, so in a short set they gather at the end.

    Post ids are snowflakes of their `created_at`, as X's are, with the seed as machine id, so
    that sets with different seeds do not share posts."""
    rng = random.Random(seed)
    machine = seed % 1024
    threads: list[tuple[str, str]] = []
    accounts = [(agency.id, account) for agency in registry.agencies for account in agency.accounts]
    citizens = [_citizen(rng, index) for index in range(max(50, count // 20))]
    replies = _Replies(rng, machine, registry)
    # Replies not yet due, by post id, then by a serial number: the messages do not compare.
    waiting: list[tuple[int, int, dict[str, Any]]] = []
    serial = itertools.count()
    recent: deque[bytes] = deque(maxlen=100)
    # Lines yielded, to be redelivered or waiting: replies that would pass `count` are not made.
    promised = 0
    index = 0
    while promised < count:
        message = _message(rng, index, machine, accounts, citizens, threads=threads)
        promised += 1
        redeliver = promised < count and rng.random() < SHARE_REDELIVERED
        promised += redeliver
        thread = replies.thread(message, room=count - promised)
        promised += len(thread)
        post_id = int(message["data"]["id"])
        while waiting and waiting[0][0] < post_id:
            yield _line(rng, heapq.heappop(waiting)[2], recent)
        yield _line(rng, message, recent)
        if redeliver:
            yield rng.choice(recent)
        for reply in thread:
            heapq.heappush(waiting, (int(reply["data"]["id"]), next(serial), reply))
        index += 1
    while waiting:
        yield _line(rng, heapq.heappop(waiting)[2], recent)


def _line(rng: random.Random, message: dict[str, Any], recent: deque[bytes]) -> bytes:
    line = orjson.dumps(message)
    if rng.random() < SHARE_TRUNCATED:
        line = line[: len(line) // 2]
    recent.append(line)
    return line


def _citizen(rng: random.Random, index: int) -> dict[str, Any]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    verified = rng.random() >= SHARE_UNVERIFIED
    verified_type = _pick(rng, _VERIFIED_TYPES) if verified else "none"
    return {
        "id": str(1_500_000_000 + index * 7919),
        "name": f"{first} {last}",
        "username": f"{first.lower()}{last.lower()[:4]}{index}",
        "verified": verified_type != "none",
        "verified_type": verified_type,
    }


def _message(
    rng: random.Random,
    index: int,
    machine: int,
    accounts: list[tuple[str, Account]],
    citizens: list[dict[str, Any]],
    *,
    threads: list[tuple[str, str]],
) -> dict[str, Any]:
    """One stream message; `threads` holds recent conversations that replies join, as the ids of
    their first post and its author."""
    created = _START + index * _SPACING
    tweet_id = str(snowflake(created, machine, rng.randrange(4096)))
    author = rng.choice(citizens)
    if rng.random() < SHARE_AGENCY_AUTHOR:
        _, account = rng.choice(accounts)
        author = {"id": account.id, "name": account.username, "username": account.username,
                  "verified": True, "verified_type": "government"}  # fmt: skip

    addressed = [rng.choice(accounts)]
    if rng.random() < SHARE_MULTI_AGENCY:
        addressed.append(rng.choice(accounts))
    handles = [] if rng.random() < SHARE_NO_AGENCY else [account for _, account in addressed]
    complaint = rng.choice(_COMPLAINTS).format(
        place=rng.choice(_PLACES),
        n=rng.randint(2, 40),
        k=rng.randint(2, 9),
        amount=f"{rng.randint(5, 500) * 1000:,}".replace(",", "."),
    )
    prefix = " ".join(f"@{account.username}" for account in handles)
    text = f"{prefix} {complaint}{rng.choice(_CLOSINGS)}".strip()
    media_key = f"3_{int(tweet_id) - rng.randrange(1, 10**6)}"
    if rng.random() < SHARE_PHOTO:
        text += f" https://t.co/{_short_code(rng)}"

    post: dict[str, Any] = {
        "id": tweet_id,
        "author_id": author["id"],
        "conversation_id": tweet_id,
        "created_at": _timestamp(created),
        "lang": "in",
        "edit_history_tweet_ids": [tweet_id],
    }
    if "https://t.co/" in text:
        post["attachments"] = {"media_keys": [media_key]}
    if handles and threads and rng.random() < SHARE_REPLY:
        post["conversation_id"], post["in_reply_to_user_id"] = rng.choice(threads)
        post["referenced_tweets"] = [{"type": "replied_to", "id": post["conversation_id"]}]
    elif rng.random() < SHARE_RETWEET:
        original = rng.choice(citizens)
        text = f"RT @{original['username']}: {text}"[:280]
        post["referenced_tweets"] = [{"type": "retweeted", "id": str(int(tweet_id) - 10**9)}]
    if rng.random() < SHARE_EDIT:
        first_id = str(int(tweet_id) - rng.randrange(1, 10**6))
        post["edit_history_tweet_ids"] = [first_id, tweet_id]
    if rng.random() < SHARE_LONG:
        long_text = f"{text} " + " ".join(
            rng.choice(_COMPLAINTS).format(place=rng.choice(_PLACES), n=3, k=2, amount="50.000")
            for _ in range(4)
        )
        post["note_tweet"] = {"text": long_text, "entities": _entities(long_text, handles)}
        text = long_text[:277] + "…"
    if post["conversation_id"] == tweet_id:
        threads.append((tweet_id, author["id"]))
        del threads[:-_OPEN_THREADS]
    post["text"] = text
    post["entities"] = _entities(text, handles, author["username"], tweet_id, media_key)
    return {
        "data": post,
        "includes": {"users": [author]},
        "matching_rules": [{"id": str(1_700_000_000 + index % 97), "tag": addressed[0][0]}],
    }


class _Replies:
    """The thread that grows under a complaint: the addressed agency's answer, on time, late or
    never, and the citizen's follow-up. Each reply replies to the thread's latest post before it,
    so an answer may reply to a follow-up and a follow-up to an answer.

    Deadlines are counted as the case tracker counts them, with the holiday library's calendar
    (an operator's corrections to it aside)."""

    def __init__(self, rng: random.Random, machine: int, registry: Registry) -> None:
        self.rng = rng
        self.machine = machine
        self.agency_of = registry.agency_by_account_id
        self.agencies = {agency.id: agency for agency in registry.agencies}
        self.calendar = WorkCalendar()

    def thread(self, message: dict[str, Any], room: int) -> list[dict[str, Any]]:
        """At most `room` replies to `message`, oldest first; none unless it is a citizen's
        complaint to an agency."""
        post, citizen = message["data"], message["includes"]["users"][0]
        addressed = [m for m in post["entities"]["mentions"] if m["id"] in self.agency_of]
        retweet = any(ref["type"] == "retweeted" for ref in post.get("referenced_tweets", ()))
        if not room or not addressed or retweet or citizen["id"] in self.agency_of:
            return []
        mentioned = self.rng.choice(addressed)
        agency = self.agencies[self.agency_of[mentioned["id"]]]
        opened = datetime.fromisoformat(post["created_at"])
        replies: list[dict[str, Any]] = []
        parent, account = message, Account(mentioned["id"], mentioned["username"])
        for created, kind in self._schedule(opened, agency)[:room]:
            if kind == "answer":
                account = self.rng.choice(agency.accounts)
                author = {"id": account.id, "name": account.username,
                          "username": account.username, "verified": True,
                          "verified_type": "government"}  # fmt: skip
                text = f"@{citizen['username']} {self.rng.choice(_ANSWERS)}"
                mentions = [{"start": 0, "end": 1 + len(citizen["username"]),
                             "username": citizen["username"], "id": citizen["id"]}]  # fmt: skip
            else:
                # Under the agency's answer X starts the text with its handle; under their own
                # complaint the citizen names the agency, so the follow-up is routed to it too.
                to_answer = parent["data"]["author_id"] != citizen["id"]
                template = self.rng.choice(_REPLIES_TO_ANSWERS if to_answer else _FOLLOW_UPS)
                author = citizen
                text = template.format(days=(created - opened).days, agency=account.username)
                mentions = _entities(text, [account])["mentions"]
            parent = self._reply(created, parent, author, text, mentions, tag=agency.id)
            replies.append(parent)
        return replies

    def _schedule(self, opened: datetime, agency: Agency) -> list[tuple[datetime, str]]:
        """When the thread's replies come, oldest first: `answer` or `follow_up` each."""
        rng = self.rng
        due = self.calendar.due_at(opened, agency.answer_within_working_days)
        events: list[tuple[datetime, str]] = []
        outcome = rng.random()
        if outcome < SHARE_ANSWERED_ON_TIME:
            # Skewed towards the first hours: most answers that come at all come soon.
            window = int((due - opened).total_seconds()) - 1200
            answer = opened + timedelta(seconds=600 + int(window * rng.random() ** 2))
            events.append((answer, "answer"))
        elif outcome < SHARE_ANSWERED_ON_TIME + SHARE_ANSWERED_LATE:
            events.append((due + timedelta(seconds=rng.randint(60, 10 * 86_400)), "answer"))
        if rng.random() < SHARE_FOLLOW_UP:
            later = timedelta(days=rng.randint(1, 7), seconds=rng.randint(0, 43_200))
            events.append((opened + later, "follow_up"))
        events.sort()
        kinds = [kind for _, kind in events]
        if kinds == ["answer", "follow_up"] and rng.random() < SHARE_ANSWERED_AGAIN:
            events.append(
                (events[-1][0] + timedelta(seconds=rng.randint(600, 2 * 86_400)), "answer")
            )
        return events

    def _reply(
        self,
        created: datetime,
        parent: dict[str, Any],
        author: dict[str, Any],
        text: str,
        mentions: list[dict[str, Any]],
        *,
        tag: str,
    ) -> dict[str, Any]:
        """A stream message of `author` replying to `parent`, matched by the rule tagged `tag`."""
        tweet_id = str(snowflake(created, self.machine, self.rng.randrange(4096)))
        post = {
            "id": tweet_id,
            "text": text,
            "author_id": author["id"],
            "conversation_id": parent["data"]["conversation_id"],
            "created_at": _timestamp(created),
            "lang": "in",
            "edit_history_tweet_ids": [tweet_id],
            "in_reply_to_user_id": parent["data"]["author_id"],
            "referenced_tweets": [{"type": "replied_to", "id": parent["data"]["id"]}],
            "entities": {"mentions": mentions},
        }
        return {
            "data": post,
            "includes": {"users": [author]},
            "matching_rules": [{"id": str(1_700_000_000 + int(tweet_id) % 97), "tag": tag}],
        }


def _entities(
    text: str, handles: list[Account], username: str = "", tweet_id: str = "", media_key: str = ""
) -> dict[str, list[dict[str, Any]]]:
    """The entities X API v2 attaches to `text`: mentions, hashtags, photo links, places."""
    entities: dict[str, list[dict[str, Any]]] = {"mentions": []}
    for account in handles:
        start = text.find(f"@{account.username}")
        if start >= 0:
            entities["mentions"].append(
                {"start": start, "end": start + 1 + len(account.username),
                 "username": account.username, "id": account.id}
            )  # fmt: skip
    tags = [word for word in text.split() if word.startswith("#")]
    if tags:
        entities["hashtags"] = [
            {"start": text.find(tag), "end": text.find(tag) + len(tag), "tag": tag[1:]}
            for tag in tags
        ]
    link = text.find("https://t.co/")
    if link >= 0 and media_key:
        code = text[link + 13 : link + 23]
        entities["urls"] = [
            {"start": link, "end": link + 23, "url": text[link : link + 23],
             "expanded_url": f"https://x.com/{username}/status/{tweet_id}/photo/1",
             "display_url": f"pic.x.com/{code}", "media_key": media_key}
        ]  # fmt: skip
    places = [(text.find(f" {place}") + 1, place) for place in _PLACES if f" {place}" in text]
    if places:
        entities["annotations"] = [
            {"start": start, "end": start + len(place) - 1,
             "probability": 0.9, "type": "Place", "normalized_text": place}
            for start, place in places
        ]  # fmt: skip
    return entities


def _short_code(rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                   for _ in range(10))  # fmt: skip


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([value for value, _ in weighted], [weight for _, weight in weighted])[0]


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
