"""Open311 GeoReport v2, read side: the query of GET Service Requests (`requests.json`) and a
`service_request_id`. Pure parsing: `aduan serve` does the HTTP, and answers a `QueryError` with
`open311.error_body`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from agents.core.errors import AduanError
from agents.core.registry import AGENCY_ID
from schemas.events import CaseStatus
from streams.serve.open311 import Open311Status

CASE_STATUSES: Final[Mapping[Open311Status, tuple[CaseStatus, ...]]] = {
    "open": ("open", "overdue"),
    "closed": ("answered",),
}
"""The case statuses of each Open311 status: a case is closed once its agency answered it."""

WINDOW: Final = timedelta(days=90)
"""GET Service Requests: `start_date` and `end_date` "may not span more than 90 days"; "when not
specified, the range defaults to most recent 90 days"."""

PAGE_LIMIT: Final = 1000
"""Response Volume: "Default query limit is a span of 90 days or first 1000 requests returned,
whichever is smallest"."""

_CASE_ID = re.compile(r"[0-9]{1,20}")
"""A case id is the X post id of the complaint that opened it."""
_W3C_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+ -][0-9]{2}:[0-9]{2})"
)
"""The W3C profile of ISO 8601 with a time, and a time zone, which the specification requires."""
_WHOLE = re.compile(r"[0-9]{1,9}")
"""Nine digits at most: any page times any page size stays within SQLite's integers."""
_STATUS_NAMES: Final[Mapping[str, Open311Status]] = {"open": "open", "closed": "closed"}
_EXAMPLE = "2024-05-01T00:00:00+07:00 or 2024-04-30T17:00:00Z"


class QueryError(AduanError):
    """A query parameter of an Open311 request has a value aduan cannot answer: a 400."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@dataclass(frozen=True, slots=True)
class RequestsQuery:
    """What a `requests.json` query selects. Times are UTC and rounded inwards to the
    millisecond, the precision aduan stores them at, so both bounds stay inclusive."""

    ids: tuple[str, ...] = ()
    """`service_request_id`s (case keys). When there are any, the specification has them
    override every other argument: the filters below are then empty."""
    service_codes: tuple[str, ...] = ()
    """Agency ids; empty: every agency."""
    start: datetime | None = None
    """The earliest `requested_datetime` (`opened_at`) to include; None only with `ids`."""
    end: datetime | None = None
    """The latest `requested_datetime` to include; None only with `ids`."""
    statuses: tuple[Open311Status, ...] = ()
    """Empty: every status."""
    limit: int = PAGE_LIMIT
    offset: int = 0
    """Requests to skip, for the `page` extension; 0 without it."""

    @property
    def case_statuses(self) -> tuple[CaseStatus, ...]:
        """The case statuses the query selects; empty: every status."""
        return tuple(case for status in self.statuses for case in CASE_STATUSES[status])

    @property
    def opened_from(self) -> str | None:
        """`start` as aduan stores times: the earliest `opened_at` to include."""
        return None if self.start is None else _stored(self.start)

    @property
    def opened_to(self) -> str | None:
        """`end` as aduan stores times: the latest `opened_at` to include."""
        return None if self.end is None else _stored(self.end)


def parse_request_id(value: str) -> tuple[str, str]:
    """The agency id and case id of a `service_request_id` (`<agency-id>:<case-id>`)."""
    agency, _, case = value.partition(":")
    if not AGENCY_ID.fullmatch(agency) or not _CASE_ID.fullmatch(case):
        raise QueryError(
            "service_request_id",
            f"service_request_id {value!r} is not a case key; write <agency-id>:<case-id> as "
            "requests.json returns it, e.g. kejati-jateng:1790000000000000000",
        )
    return agency, case


def parse_requests_query(params: Mapping[str, str], now: datetime) -> RequestsQuery:
    """The query of GET Service Requests, with the specification's defaults, as of `now`.

    An empty parameter counts as absent (the specification's "Optional Arguments"), and an
    unknown one is ignored: the specification defines no error for it, lets a server of one
    jurisdiction ignore `jurisdiction_id`, and servers add extensions. Of those, the paging
    one (`page`, `page_size`) is read, as clients page with it. A parameter given more than
    once: pass its values joined with commas, as in the specification's lists."""
    if now.utcoffset() is None:
        raise ValueError(f"now {now.isoformat()} has no time zone; pass an aware datetime")
    given = {name: value.strip() for name, value in params.items() if value.strip()}

    ids = _items(given.get("service_request_id"))
    if ids:
        for value in ids:
            parse_request_id(value)
        if len(ids) > PAGE_LIMIT:
            raise QueryError(
                "service_request_id",
                f"service_request_id lists {len(ids)} requests; ask for at most {PAGE_LIMIT} "
                "at a time",
            )
        return RequestsQuery(ids=ids)

    codes = _items(given.get("service_code"))
    for code in codes:
        if not AGENCY_ID.fullmatch(code):
            raise QueryError(
                "service_code",
                f"service_code {code!r} is not an agency id; use a service_code that "
                "services.json lists, e.g. kejati-jateng",
            )

    statuses: dict[Open311Status, None] = {}
    for value in _items(given.get("status")):
        status = _STATUS_NAMES.get(value.lower())
        if status is None:
            raise QueryError(
                "status", f"status {value!r} is unknown; use open, closed or open,closed"
            )
        statuses[status] = None

    start, end = _window(given.get("start_date"), given.get("end_date"), now)
    limit = _whole(given, "page_size", PAGE_LIMIT, 1, PAGE_LIMIT)
    page = _whole(given, "page", 1, 1, None)
    return RequestsQuery(
        service_codes=codes,
        start=start,
        end=end,
        statuses=tuple(statuses),
        limit=limit,
        offset=(page - 1) * limit,
    )


def _items(value: str | None) -> tuple[str, ...]:
    """The distinct items of a comma-delimited list, in order; blank items are skipped."""
    if value is None:
        return ()
    return tuple(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))


def _window(
    start_text: str | None, end_text: str | None, now: datetime
) -> tuple[datetime, datetime]:
    start = None if start_text is None else _time(start_text, "start_date")
    end = None if end_text is None else _time(end_text, "end_date")
    days = WINDOW.days
    try:
        if end is None:
            end = now.astimezone(UTC) if start is None else start + WINDOW
        if start is None:
            start = end - WINDOW
        if end < start:
            raise QueryError(
                "end_date",
                f"end_date {end_text!r} is before start_date {start_text!r}; give an end_date "
                "at or after the start_date",
            )
        if end - start > WINDOW:
            raise QueryError(
                "end_date",
                f"start_date {start_text!r} and end_date {end_text!r} span more than the {days} "
                f"days GeoReport v2 allows; ask for at most {days} days at a time",
            )
        # Rounded inwards: stored times are whole milliseconds, so no bound lets one in or out.
        return _ceil_ms(start), _floor_ms(end)
    except OverflowError:
        raise QueryError(
            "start_date" if start_text is not None else "end_date",
            f"a {days}-day window from start_date {start_text!r} or to end_date {end_text!r} "
            f"leaves the calendar; give dates of this era, e.g. {_EXAMPLE}",
        ) from None


def _time(text: str, parameter: str) -> datetime:
    """A W3C datetime with a time zone, in UTC."""
    if _W3C_DATETIME.fullmatch(text):
        # An unencoded '+' of an offset arrives as a space after URL decoding.
        if text[-6] == " ":
            text = f"{text[:-6]}+{text[-5:]}"
        try:
            return datetime.fromisoformat(text).astimezone(UTC)
        except (ValueError, OverflowError):
            pass
    raise QueryError(
        parameter,
        f"{parameter} {text!r} cannot be read as a W3C datetime with a time zone; write a "
        f"date, a time and Z or an offset, e.g. {_EXAMPLE}",
    )


def _whole(
    given: Mapping[str, str], parameter: str, default: int, least: int, most: int | None
) -> int:
    text = given.get(parameter)
    if text is None:
        return default
    if _WHOLE.fullmatch(text) and int(text) >= least and (most is None or int(text) <= most):
        return int(text)
    bounds = f"from {least} to {most}" if most is not None else f"of at least {least}"
    raise QueryError(
        parameter, f"{parameter} {text!r} is not a whole number {bounds}; e.g. {parameter}=1"
    )


def _ceil_ms(moment: datetime) -> datetime:
    extra = moment.microsecond % 1000
    return moment + timedelta(microseconds=1000 - extra) if extra else moment


def _floor_ms(moment: datetime) -> datetime:
    return moment - timedelta(microseconds=moment.microsecond % 1000)


def _stored(moment: datetime) -> str:
    """A UTC time as aduan stores times (`2024-05-01T03:04:05.000Z`): such strings sort as
    times."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
