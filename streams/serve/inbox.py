"""The web inbox of `aduan serve`: an agency signed in with its key sees its open and overdue
cases, an admin the province's agencies ranked by the share of answers given on time.

Plain HTML rendered on the server, no JavaScript. The key is pasted into a form once and then kept
in an HttpOnly, SameSite=Strict cookie, checked again on every page, so a revoked key signs out at
the next click."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Request
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.responses import HTMLResponse, RedirectResponse, Response

from agents.core.workdays import WorkCalendar
from schemas.events import Case
from streams.history.report_tables import Responses, Tables
from streams.serve.inbox_rows import InboxCase, inbox_case, moment_shown, ranking
from streams.serve.keys import ADMIN, Holder
from streams.serve.view import CaseFilter, View

if TYPE_CHECKING:
    from streams.serve.app import Served

INBOX: Final = "/inbox"
COOKIE: Final = "aduan_inbox"
INBOX_LIMIT: Final = 500
"""Cases a page lists, the most urgent first; the Open311 API lists every one."""
OVERVIEW_DAYS: Final = 90
"""The overview ranks the cases opened in these last days, the Open311 API's default window."""

_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    # The inbox's own forms keep their Origin (under no-referrer it is "null"); X learns nothing.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}
_BAD_KEY: Final = (
    "That key is not valid. Paste the whole key, aduan_ and all, as the province's operators "
    "gave it; a revoked key no longer signs in."
)
_CROSS_SITE: Final = "Sign in from this page: a form on another site cannot sign you in or out."
_LAPSED_KEY: Final = "The key you signed in with is no longer valid: sign in with a new one."

_templates = Environment(
    loader=PackageLoader("streams.serve", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
router = APIRouter(prefix=INBOX, include_in_schema=False)


@router.get("")
def inbox(request: Request) -> Response:
    """The signed-in agency's cases, the admin's overview, or the form to sign in."""
    served = _served(request)
    key = request.cookies.get(COOKIE)
    if key is None:
        return _page("sign_in.html", title="Sign in", error=None)
    holder = _holder(served, key)
    if holder is None:
        response = _page("sign_in.html", 401, title="Sign in", error=_LAPSED_KEY)
        _clear_cookie(response, request)
        return response
    now = served.clock()
    names = {agency.id: agency.name for agency in served.registry().agencies}
    if holder is ADMIN:
        return _page(
            "overview.html",
            title="Province overview",
            now=moment_shown(now),
            days=OVERVIEW_DAYS,
            standings=ranking(_responses(served.view, now), names),
        )
    cases = _unanswered(served.view, holder, now, served.calendar)
    return _page(
        "agency.html",
        title=names.get(holder, holder),
        now=moment_shown(now),
        cases=cases[:INBOX_LIMIT],
        unanswered=len(cases),
        overdue=sum(case.overdue for case in cases),
    )


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Check the pasted key, and keep it in the inbox's cookie."""
    if _cross_site(request):
        return _page("sign_in.html", 403, title="Sign in", error=_CROSS_SITE)
    key = _pasted_key(request.headers.get("content-type", ""), await request.body())
    if _holder(_served(request), key) is None:
        return _page("sign_in.html", 401, title="Sign in", error=_BAD_KEY)
    response = _private(RedirectResponse(INBOX, 303))
    response.set_cookie(
        COOKIE,
        key,
        path=INBOX,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )
    return response


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    if _cross_site(request):
        return _page("sign_in.html", 403, title="Sign in", error=_CROSS_SITE)
    response = _private(RedirectResponse(INBOX, 303))
    _clear_cookie(response, request)
    return response


def _served(request: Request) -> Served:
    served: Served = request.app.state.served
    return served


def _holder(served: Served, key: str) -> Holder | None:
    """Whom `key` lets in, by the rule of the Open311 API: not an agency the registry in force
    no longer lists."""
    who = served.keyring.who(key)
    if who is None or (who is not ADMIN and who not in served.registry().agency_ids):
        return None
    return who


def _cross_site(request: Request) -> bool:
    """Whether a form was posted from another site's page: SameSite keeps the cookie from being
    sent there, not from being set or cleared."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:  # every current browser sends it
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin not in (None, "null", f"{request.url.scheme}://{request.url.netloc}")


def _pasted_key(content_type: str, body: bytes) -> str:
    """The key field of a form post; empty for anything else."""
    if content_type.partition(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        return ""
    try:
        fields = parse_qs(body.decode("utf-8", errors="replace"), max_num_fields=4)
    except ValueError:  # more fields than the form has
        return ""
    return fields.get("key", [""])[0].strip()


def _page(template: str, status: int = 200, **context: object) -> Response:
    html = _templates.get_template(template).render(**context)
    return _private(HTMLResponse(html, status))


def _private(response: Response) -> Response:
    """Never cached, framed or sniffed; a link out tells X nothing of the inbox."""
    response.headers.update(_HEADERS)
    return response


def _clear_cookie(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE,
        path=INBOX,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def _unanswered(view: View, agency: str, now: datetime, calendar: WorkCalendar) -> list[InboxCase]:
    """Every unanswered case of `agency`, the earliest due first."""
    where = CaseFilter(agencies=(agency,), statuses=("open", "overdue"), limit=-1)
    rows = [(orjson.loads(row.state), row) for row in view.cases(where)]
    rows.sort(key=lambda item: (item[0]["due_at"], item[1].key))
    return [
        inbox_case(row.key, case, row.text, row.url, now=now, calendar=calendar)
        for case, row in rows
    ]


def _responses(view: View, now: datetime) -> list[Responses]:
    """How each agency answered the cases opened in the last `OVERVIEW_DAYS`, as
    `aduan report` counts it; one agency's cases in memory at a time."""
    since = _stored_time(now - timedelta(days=OVERVIEW_DAYS))
    return [
        Tables(cases=dict(_states(group))).responses(now)[0]
        for _, group in itertools.groupby(view.states(since), key=lambda row: row[0])
    ]


def _states(rows: Iterable[Any]) -> Iterator[tuple[str, Case]]:
    for _, key, state in rows:
        yield str(key), orjson.loads(state)


def _stored_time(moment: datetime) -> str:
    """`moment` as aduan stores times: ISO 8601 UTC to the millisecond."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
