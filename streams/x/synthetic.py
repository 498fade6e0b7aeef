"""Realistic synthetic mentions: Indonesian complaints to the registry's agencies, as X API v2
filtered-stream messages. Feeds the sample file and the benchmarks.

The shares below are guesses from public complaint threads to Central Java agencies, not
measurements; they only need to exercise every path at a plausible mix.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from agents.core.registry import Account, Registry
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
_VERIFIED_TYPES = (("blue", 0.85), ("business", 0.05), ("government", 0.05), ("none", 0.05))
_FIRST = ("Budi", "Siti", "Agus", "Dewi", "Eko", "Rina", "Joko", "Sri", "Andi", "Wulan")
_LAST = ("Santoso", "Rahayu", "Wibowo", "Lestari", "Saputra", "Handayani", "Prasetyo", "Utami")
_START = datetime(2024, 5, 1, tzinfo=UTC)
_SPACING = timedelta(seconds=30)
"""Between two posts: 20,000 posts span a week, enough for a report's per-day charts."""
_OPEN_THREADS = 10
"""Recent conversations a reply may join: a few threads grow long, as on X."""


def synthetic_lines(registry: Registry, count: int, seed: int = 7) -> Iterator[bytes]:
    """`count` JSON lines (plus the few redelivered ones), deterministic for a given seed.
    Post ids are snowflakes of their `created_at`, as X's are, with the seed as machine id, so
    that sets with different seeds do not share posts."""
    rng = random.Random(seed)
    machine = seed % 1024
    threads: list[str] = []
    accounts = [(agency.id, account) for agency in registry.agencies for account in agency.accounts]
    citizens = [_citizen(rng, index) for index in range(max(50, count // 20))]
    previous: list[bytes] = []
    for index in range(count):
        line = orjson.dumps(_message(rng, index, machine, accounts, citizens, threads=threads))
        if rng.random() < SHARE_TRUNCATED:
            line = line[: len(line) // 2]
        yield line
        previous.append(line)
        if len(previous) > 100:
            previous.pop(0)
        if rng.random() < SHARE_REDELIVERED:
            yield rng.choice(previous)


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
    threads: list[str],
) -> dict[str, Any]:
    """One stream message; `threads` holds recent conversations that replies join."""
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
        "created_at": created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "lang": "in",
        "edit_history_tweet_ids": [tweet_id],
    }
    if "https://t.co/" in text:
        post["attachments"] = {"media_keys": [media_key]}
    if handles and rng.random() < SHARE_REPLY:
        post["in_reply_to_user_id"] = handles[0].id
        post["conversation_id"] = rng.choice(threads) if threads else tweet_id
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
        threads.append(tweet_id)
        del threads[:-_OPEN_THREADS]
    post["text"] = text
    post["entities"] = _entities(text, handles, author["username"], tweet_id, media_key)
    return {
        "data": post,
        "includes": {"users": [author]},
        "matching_rules": [{"id": str(1_700_000_000 + index % 97), "tag": addressed[0][0]}],
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
