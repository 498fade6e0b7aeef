"""Checks of what the types of `agents.core.shapes` cannot say, shared by the X API v2 and v1.1
parsers: each returns the value, or raises `PostError` naming the fault and the field's path."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from schemas.events import Author

_V1_TIME = "%a %b %d %H:%M:%S %z %Y"
_STR_OR_NONE = frozenset({str, type(None)})
_BOOL_OR_NONE = frozenset({bool, type(None)})


class PostError(ValueError):
    """A post breaks a rule; raised by the readers, callers of `parse_line` get a `Malformed`."""

    def __init__(self, fault: str, path: str | None = None) -> None:
        super().__init__(fault if path is None else f"{fault} - at `{path}`")


class UserObject(Protocol):
    """A v2 or v1.1 user object, its fields not yet checked."""

    @property
    def name(self) -> object: ...
    @property
    def verified(self) -> object: ...
    @property
    def verified_type(self) -> object: ...


def read_author(
    user: UserObject, user_id: object, handle: object, handle_key: str, *, where: str, of: str
) -> Author:
    """The author record from a v2 (`username`) or v1.1 (`screen_name`) user object at path
    `where`; `of` names the post in errors."""
    name = user.name
    verified = user.verified
    verified_type = user.verified_type
    if not (
        type(user_id) is str
        and user_id.isdigit()
        and user_id.isascii()
        and type(handle) is str
        and handle.replace("_", "").isalnum()
        and handle.isascii()
        and type(name) is str
        and type(verified) in _BOOL_OR_NONE
        and type(verified_type) in _STR_OR_NONE
    ):
        raise PostError(
            f"the author {of}must have a numeric string id, a {handle_key} of letters, digits "
            "and '_', a string name, verified true or false, and verified_type a string",
            where,
        )
    return {
        "id": user_id,
        "username": handle,
        "name": name,
        "verified": verified is True,
        "verified_type": verified_type,  # type: ignore[typeddict-item]  # checked just above
    }


def read_edit_chain(chain: list[str] | None, tweet_id: str, where: str) -> tuple[str, int]:
    """(complaint id, revision): X lists an edited post's ids oldest first, itself included."""
    if chain is None:
        return tweet_id, 0
    if not chain or not all(is_post_id(i) for i in chain):
        raise PostError("the edit history must be a non-empty list of post ids", where)
    try:
        return chain[0], chain.index(tweet_id)
    except ValueError:
        raise PostError(f"the edit history does not contain post {tweet_id}", where) from None


def is_post_id(value: object) -> bool:
    """X ids are decimal strings; they end up in keys and URLs."""
    return type(value) is str and value.isdigit() and value.isascii()


def read_post_id(value: object, where: str) -> str:
    if not is_post_id(value):
        got = f"{value!r:.40}" if type(value) is str else json_kind(value)
        raise PostError(f"post id must be a string of digits, got {got}", where)
    return str(value)


def read_v1_id(as_string: str | None, as_number: object, where: str) -> str | None:
    """A v1.1 id: `<field>_str` when present, as the number loses precision in JavaScript
    clients; else `<field>` (at `where`), a number in old archives."""
    if as_string is not None:
        return as_string
    if as_number is None or type(as_number) is str:
        return as_number
    if type(as_number) is int and as_number >= 0:
        return str(as_number)
    raise PostError(
        f"an id must be a non-negative integer or a string, got {json_kind(as_number)}", where
    )


def iso_utc(value: str, where: str) -> str:
    """ISO 8601 in UTC, as X API v2 writes it (`2022-10-07T22:42:12.000Z`)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.strptime(value, _V1_TIME)
        except ValueError:
            raise PostError(f"created_at {value!r:.40} is not a date-time", where) from None
    if parsed.tzinfo is None:
        raise PostError(f"created_at {value!r:.40} has no time zone", where)
    if (
        len(value) == 24
        and value[7] == "-"
        and value[10] == "T"
        and value[19] == "."
        and value[-1] == "Z"
    ):
        return value  # already X's own form, e.g. 2022-10-07T22:42:12.000Z
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        raise PostError(f"created_at {value!r:.40} is out of range", where) from None
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


_JSON_KINDS = {type(None): "null", bool: "bool", str: "str", int: "int", float: "float"}
_JSON_KINDS |= {list: "array", dict: "object"}


def json_kind(value: object) -> str:
    """The JSON name of a decoded value's type, as in the decoder's own errors."""
    return _JSON_KINDS.get(type(value), type(value).__name__)


def raw_text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")
