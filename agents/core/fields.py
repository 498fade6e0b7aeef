"""Readers of the fields of a post, shared by the X API v2 and v1.1 parsers: each returns the
field with its type checked, or raises `PostError` naming the post, the field and the fault."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from schemas.events import Author

_V1_TIME = "%a %b %d %H:%M:%S %z %Y"
STR_OR_NONE = frozenset({str, type(None)})
BOOL_OR_NONE = frozenset({bool, type(None)})


class PostError(ValueError):
    """A post breaks a rule; raised by the readers, callers of `parse_line` get a `Malformed`."""


def read_author(user: dict[str, Any], user_id: Any, handle_key: str, where: str) -> Author:
    """The author record from a v2 (`username`) or v1.1 (`screen_name`) user object."""
    get = user.get
    username = get(handle_key)
    name = get("name")
    verified = get("verified")
    verified_type = get("verified_type")
    if not (
        type(user_id) is str
        and user_id.isdigit()
        and user_id.isascii()
        and type(username) is str
        and username.replace("_", "").isalnum()
        and username.isascii()
        and type(name) is str
        and type(verified) in BOOL_OR_NONE
        and type(verified_type) in STR_OR_NONE
    ):
        raise PostError(
            f"{where}: author must have a numeric string id, a {handle_key} of letters, digits "
            "and '_', a string name, verified true or false, and verified_type a string"
        )
    return {
        "id": user_id,
        "username": username,
        "name": name,
        "verified": verified is True,
        "verified_type": verified_type,
    }


def read_edit_chain(chain: Any, tweet_id: str, where: str) -> tuple[str, int]:
    """(complaint id, revision): X lists an edited post's ids oldest first, itself included."""
    if chain is None:
        return tweet_id, 0
    if type(chain) is not list or not chain or not all(is_post_id(i) for i in chain):
        raise PostError(f"{where}: the edit history must be a non-empty list of post ids")
    try:
        return chain[0], chain.index(tweet_id)
    except ValueError:
        raise PostError(f"{where}: the edit history does not contain post {tweet_id}") from None


def is_post_id(value: Any) -> bool:
    """X ids are decimal strings; they end up in keys and URLs."""
    return type(value) is str and value.isdigit() and value.isascii()


def read_post_id(value: Any, where: str) -> str:
    if not is_post_id(value):
        raise PostError(f"{where}: post id must be a string of digits, got {value!r:.40}")
    return str(value)


def read_v1_id(obj: dict[str, Any], field: str, where: str) -> str | None:
    """`<field>_str` when present: the number loses precision in JavaScript clients."""
    value = obj.get(field + "_str")
    if value is None:
        value = obj.get(field)
        if type(value) is int and value >= 0:
            return str(value)
    if value is None or type(value) is str:
        return value
    raise PostError(f"{where}: {field} must be a string id, got {kind(value)}")


def opt_str(obj: dict[str, Any], field: str, where: str) -> str | None:
    value = obj.get(field)
    if value is None or type(value) is str:
        return value
    raise PostError(f"{where}: {field} must be a string, got {kind(value)}")


def opt_dict(obj: dict[str, Any], field: str, where: str) -> dict[str, Any] | None:
    value = obj.get(field)
    if value is None or type(value) is dict:
        return value
    raise PostError(f"{where}: {field} must be an object, got {kind(value)}")


def opt_list(obj: dict[str, Any], field: str, where: str) -> list[Any] | None:
    value = obj.get(field)
    if value is None or type(value) is list:
        return value
    raise PostError(f"{where}: {field} must be a list, got {kind(value)}")


def iso_utc(value: str, where: str) -> str:
    """ISO 8601 in UTC, as X API v2 writes it (`2022-10-07T22:42:12.000Z`)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = datetime.strptime(value, _V1_TIME)
        except ValueError:
            raise PostError(f"{where}: created_at {value!r:.40} is not a date-time") from None
    if parsed.tzinfo is None:
        raise PostError(f"{where}: created_at {value!r:.40} has no time zone")
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
        raise PostError(f"{where}: created_at {value!r:.40} is out of range") from None
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def text_error(text: Any, where: str) -> str:
    return (
        f"{where} has no text"
        if text is None
        else f"{where}: text must be a string, not {kind(text)}"
    )


def kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def raw_text(raw: bytes) -> str:
    return raw.decode("utf-8", "backslashreplace")
