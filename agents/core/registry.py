"""The agency registry: which official X accounts belong to which agency."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import yaml

from agents.core.errors import RegistryError
from schemas.topics import UNROUTED

AGENCY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
ACCOUNT_ID = re.compile(r"[0-9]{1,20}")
USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")
# Names that already have a fixed complaints.* topic; an agency of that id would share it.
RESERVED_AGENCY_IDS = frozenset({UNROUTED})
_AGENCY_KEYS = frozenset({"id", "name", "accounts", "answer_within_working_days", "webhook"})
ANSWER_WITHIN_WORKING_DAYS = 5
"""LAPOR!'s national rule: an agency follows a report up within 5 working days."""
_MOST_WORKING_DAYS = 60
_ACCOUNT_KEYS = frozenset({"id", "username"})
_WEBHOOK_KEYS = frozenset({"url", "secret_file"})
_PLAIN_HTTP_HOSTS = frozenset({"localhost", "127.0.0.1"})
"""Hosts a webhook may reach over plain http: this machine, for tests and local receivers."""
_LONGEST_URL = 2048


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    username: str


@dataclass(frozen=True, slots=True)
class Webhook:
    """Where `aduan deliver` POSTs the agency's events, and the file that holds the signing
    secret (the secret itself is never in the registry)."""

    url: str
    secret_file: str


@dataclass(frozen=True, slots=True)
class Agency:
    id: str
    name: str
    accounts: tuple[Account, ...]
    answer_within_working_days: int = ANSWER_WITHIN_WORKING_DAYS
    webhook: Webhook | None = None


@dataclass(frozen=True, slots=True)
class Registry:
    """A validated registry with its lookup tables and content hash."""

    agencies: tuple[Agency, ...]
    version: str
    agency_by_account_id: Mapping[str, str]
    agency_by_username: Mapping[str, str]
    """Keys are lower-cased handles: X handles are case-insensitive."""

    @property
    def agency_ids(self) -> tuple[str, ...]:
        return tuple(agency.id for agency in self.agencies)


def load_registry(path: Path) -> Registry:
    """Read and validate the registry file at `path`."""
    return read_registry(path)[0]


def read_registry(path: Path) -> tuple[Registry, str]:
    """The validated registry at `path` and the very text it was validated from."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RegistryError(
            f"{path}: registry file not found; pass --agencies FILE or set ADUAN_AGENCIES"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"{path}: cannot read the registry: {exc}") from exc
    return parse_registry(text, source=str(path)), text


def parse_registry(text: str, source: str) -> Registry:
    """Validate registry YAML `text`; `source` names it in error messages."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise RegistryError(f"{source}: not valid YAML{where}: {problem}") from None
    if not isinstance(document, dict) or not isinstance(document.get("agencies"), list):
        raise RegistryError(f"{source}: expected a mapping with an 'agencies' list at the top")
    if not document["agencies"]:
        raise RegistryError(f"{source}: 'agencies' is empty; list at least one agency")
    extra = set(document) - {"agencies"}
    if extra:
        raise RegistryError(f"{source}: unknown top-level key(s) {sorted(extra)}; only 'agencies'")

    agencies: list[Agency] = []
    agency_ids: set[str] = set()
    by_account_id: dict[str, str] = {}
    by_username: dict[str, str] = {}
    for index, entry in enumerate(document["agencies"]):
        agency = _parse_agency(entry, f"{source}: agencies[{index}]")
        where = f"{source}: agencies[{index}] (id {agency.id!r})"
        if agency.id in agency_ids:
            raise RegistryError(f"{where}: agency id is used twice; agency ids must be unique")
        agency_ids.add(agency.id)
        for account in agency.accounts:
            owner = by_account_id.get(account.id)
            if owner is not None:
                raise RegistryError(
                    f"{where}: account id {account.id!r} is listed twice in this agency"
                    if owner == agency.id
                    else f"{where}: account id {account.id!r} is already claimed by agency "
                    f"{owner!r}; an X account belongs to exactly one agency"
                )
            by_account_id[account.id] = agency.id
            handle = account.username.lower()
            owner = by_username.get(handle)
            if owner is not None:
                raise RegistryError(
                    f"{where}: username {account.username!r} is listed twice in this agency"
                    if owner == agency.id
                    else f"{where}: username {account.username!r} is already claimed by agency "
                    f"{owner!r}; an X handle belongs to exactly one account"
                )
            by_username[handle] = agency.id
        agencies.append(agency)

    return Registry(
        agencies=tuple(agencies),
        version=_content_hash(agencies),
        agency_by_account_id=by_account_id,
        agency_by_username=by_username,
    )


def _parse_agency(entry: Any, where: str) -> Agency:
    if not isinstance(entry, dict):
        raise RegistryError(f"{where}: expected a mapping with id, name and accounts")
    _check_keys(entry, _AGENCY_KEYS, where)
    agency_id = entry.get("id")
    if not isinstance(agency_id, str) or not AGENCY_ID.fullmatch(agency_id):
        raise RegistryError(
            f"{where}: agency id {agency_id!r} is invalid; use 1-63 characters of a-z, 0-9 "
            "and '-', starting with a letter or digit"
        )
    where = f"{where} (id {agency_id!r})"
    if agency_id in RESERVED_AGENCY_IDS:
        raise RegistryError(f"{where}: agency id {agency_id!r} is reserved; choose another id")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RegistryError(f"{where}: 'name' must be a non-empty string")
    accounts = entry.get("accounts")
    if not isinstance(accounts, list) or not accounts:
        raise RegistryError(f"{where}: 'accounts' must list at least one official X account")
    parsed = tuple(
        _parse_account(account, f"{where}: accounts[{i}]") for i, account in enumerate(accounts)
    )
    within = entry.get("answer_within_working_days", ANSWER_WITHIN_WORKING_DAYS)
    if type(within) is not int or not 1 <= within <= _MOST_WORKING_DAYS:
        raise RegistryError(
            f"{where}: answer_within_working_days {within!r} is invalid; write a whole number of "
            f"working days from 1 to {_MOST_WORKING_DAYS} (default {ANSWER_WITHIN_WORKING_DAYS})"
        )
    webhook = entry.get("webhook")
    if webhook is not None:
        webhook = _parse_webhook(webhook, f"{where}: webhook")
    return Agency(agency_id, name.strip(), parsed, within, webhook)


def _parse_account(entry: Any, where: str) -> Account:
    if not isinstance(entry, dict):
        raise RegistryError(f"{where}: expected a mapping with id and username")
    _check_keys(entry, _ACCOUNT_KEYS, where)
    account_id = entry.get("id")
    if not isinstance(account_id, str) or not ACCOUNT_ID.fullmatch(account_id):
        raise RegistryError(
            f"{where}: account id {account_id!r} is invalid; write the numeric X user id as a "
            'quoted string, e.g. id: "1234567890"'
        )
    username = entry.get("username")
    if not isinstance(username, str) or not USERNAME.fullmatch(username):
        raise RegistryError(
            f"{where}: username {username!r} is invalid; write the handle without '@' "
            "(1-15 letters, digits or '_')"
        )
    return Account(id=account_id, username=username)


def _parse_webhook(entry: Any, where: str) -> Webhook:
    example = "e.g. {url: https://example.go.id/aduan, secret_file: /etc/aduan/webhooks/ID.secret}"
    if not isinstance(entry, dict):
        raise RegistryError(f"{where}: expected a mapping with url and secret_file, {example}")
    _check_keys(entry, _WEBHOOK_KEYS, where)
    url = entry.get("url")
    if not isinstance(url, str) or not url:
        raise RegistryError(f"{where}: 'url' must be the endpoint's address, {example}")
    _check_url(url, where)
    secret_file = entry.get("secret_file")
    if (
        not isinstance(secret_file, str)
        or not Path(secret_file).is_absolute()
        or any(c in secret_file for c in "\r\n\x00")
    ):
        raise RegistryError(
            f"{where}: secret_file {secret_file!r} is invalid; write the absolute path of the "
            "file holding the agency's signing secret, e.g. /etc/aduan/webhooks/ID.secret"
        )
    return Webhook(url=url, secret_file=secret_file)


def _check_url(url: str, where: str) -> None:
    """An https address (http only to this machine) without credentials in it."""
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0  # raises ValueError on a bad port
    except ValueError:
        parts, port_ok = None, False
    if parts is not None and (parts.username is not None or parts.password is not None):
        # Not echoed: the address holds a password.
        raise RegistryError(
            f"{where}: the url carries credentials (user:password@); remove them: aduan signs "
            "each request, and the endpoint checks the signature instead"
        )
    if (
        parts is None
        or not port_ok
        or len(url) > _LONGEST_URL
        or any(c.isspace() or not c.isprintable() for c in url)
        or not parts.hostname
        or parts.fragment
        or not (
            parts.scheme == "https"
            or (parts.scheme == "http" and parts.hostname in _PLAIN_HTTP_HOSTS)
        )
    ):
        shown = "" if "@" in url else f" {url[:200]!r}"  # an unparsed address may hold a password
        raise RegistryError(
            f"{where}: url{shown} is invalid; write an https:// address (at most "
            f"{_LONGEST_URL} characters, no #fragment); plain http:// only to localhost or "
            "127.0.0.1, for tests and local receivers"
        )


def _check_keys(entry: dict[Any, Any], allowed: frozenset[str], where: str) -> None:
    unknown = set(entry) - allowed
    if unknown:
        raise RegistryError(
            f"{where}: unknown key(s) {sorted(map(str, unknown))}; allowed: {sorted(allowed)}"
        )


def _content_hash(agencies: list[Agency]) -> str:
    """Hash of the registry's meaning, so reformatting or comments do not change the version."""
    canonical: list[dict[str, object]] = []
    for agency in agencies:
        meaning: dict[str, object] = {
            "id": agency.id,
            "name": agency.name,
            "accounts": [{"id": a.id, "username": a.username} for a in agency.accounts],
        }
        # The default leaves the hash as it was before the setting existed: same meaning.
        if agency.answer_within_working_days != ANSWER_WITHIN_WORKING_DAYS:
            meaning["answer_within_working_days"] = agency.answer_within_working_days
        if agency.webhook is not None:
            meaning["webhook"] = {
                "url": agency.webhook.url,
                "secret_file": agency.webhook.secret_file,
            }
        canonical.append(meaning)
    return hashlib.sha256(orjson.dumps(canonical)).hexdigest()[:16]
