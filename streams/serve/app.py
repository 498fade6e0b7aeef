"""`aduan serve`'s HTTP app: the read side of Open311 GeoReport v2 over the view, behind
per-agency keys, with `/healthz`, `/readyz`, `/metrics` and the OpenAPI document
(docs/decisions/0034-serve-from-a-sqlite-view.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Protocol

import orjson
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import (
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from prometheus_client import CollectorRegistry, generate_latest
from starlette.exceptions import HTTPException
from starlette.responses import Response

from agents.core.registry import Registry
from agents.core.workdays import WorkCalendar
from streams.serve.inbox import router as inbox
from streams.serve.keys import ADMIN, Holder, Keyring
from streams.serve.open311 import error_body, requests_json, services
from streams.serve.open311_query import QueryError, parse_request_id, parse_requests_query
from streams.serve.view import CaseFilter, View

log = logging.getLogger(__name__)

OPEN311 = "/open311/v2"
BODY_LIMIT = 16 * 1024
"""Bytes a request may carry: the API only reads, so a body is never needed."""


class Readiness(Protocol):
    @property
    def ready(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Served:
    """What the app answers from."""

    view: View
    follower: Readiness
    keyring: Keyring
    registry: Callable[[], Registry]
    """The registry in force."""
    clock: Callable[[], datetime]
    metrics: CollectorRegistry
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    """The working days the inbox counts."""


class Open311Error(Exception):
    """A request answered with an Open311 error."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


_bearer = HTTPBearer(auto_error=False, description="An agency's key, or an admin key")
_basic = HTTPBasic(
    auto_error=False,
    description="The key as the user name, the password empty (as Stripe's API takes its keys): "
    "for clients that only send Basic credentials, such as those reading ~/.netrc",
)


def create_app(
    served: Served, background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = ()
) -> FastAPI:
    """The app; `background` runs beside it while it serves (the followers of the keys and of
    the registry)."""

    stopped: list[asyncio.Task[None]] = []
    """Background tasks that ended; one that failed makes /healthz fail."""

    def ended(task: asyncio.Task[None]) -> None:
        stopped.append(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s stopped", task.get_coro(), exc_info=task.exception())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(run()) for run in background]
        for task in tasks:
            task.add_done_callback(ended)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    app = FastAPI(
        title="aduan",
        summary="Complaints to Central Java's agencies on X, as Open311 GeoReport v2 requests",
        version="GeoReport v2",
        redoc_url=None,
        lifespan=lifespan,
    )
    _add_errors(app)

    app.state.served = served
    app.include_router(inbox)

    @app.get(f"{OPEN311}/services.json", tags=["Open311"])
    def get_services(caller: Caller) -> Response:
        """GET Service List: one service per agency, its code the agency id."""
        return json(services(served.registry()))

    @app.get(f"{OPEN311}/requests.json", tags=["Open311"])
    async def get_requests(
        request: Request,
        caller: Caller,
        *,
        service_request_id: Annotated[
            str | None, Query(description="case keys, comma-separated; override the rest")
        ] = None,
        service_code: Annotated[
            str | None, Query(description="agency ids, comma-separated")
        ] = None,
        start_date: Annotated[str | None, Query(description="earliest requested_datetime")] = None,
        end_date: Annotated[str | None, Query(description="latest requested_datetime")] = None,
        status: Annotated[str | None, Query(description="open, closed, or both")] = None,
        page: Annotated[str | None, Query(description="the paging extension: 1 on")] = None,
        page_size: Annotated[str | None, Query(description="requests a page")] = None,
    ) -> Response:
        """GET Service Requests: the caller's cases (an admin's: every agency's), newest first;
        by default those opened in the last 90 days, at most 1000."""
        # Async, so on the event loop rather than a thread: a page is a millisecond of work, and
        # under load threads taking turns at the interpreter lock cost more than they overlap.
        params = {
            name: ",".join(request.query_params.getlist(name)) for name in request.query_params
        }
        query = parse_requests_query(params, served.clock())
        agencies = query.service_codes or None
        if caller is not ADMIN:
            agencies = tuple(a for a in agencies or (caller,) if a == caller)
        where = CaseFilter(
            agencies=agencies,
            keys=query.ids,
            statuses=query.case_statuses,
            opened_from=query.opened_from,
            opened_to=query.opened_to,
            limit=query.limit,
            offset=query.offset,
        )
        return _requests(served.view.requests(where), served.registry())

    @app.get(f"{OPEN311}/requests/{{service_request_id}}.json", tags=["Open311"])
    async def get_request(service_request_id: str, caller: Caller) -> Response:
        """GET Service Request: one case, as a one-element array. Another agency's case is
        answered as one that does not exist."""
        agency, _ = parse_request_id(service_request_id)
        found = served.view.requests(CaseFilter(keys=(service_request_id,)))
        if not found or (caller is not ADMIN and agency != caller):
            raise Open311Error(404, f"no service request {service_request_id}")
        return _requests(found, served.registry())

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> Response:
        failed = [task for task in stopped if not task.cancelled() and task.exception()]
        if failed:
            # Revoked keys would keep working, or the registry go stale: restart the process.
            return json({"status": f"stopped following: {failed[0].exception()}"}, 503)
        return json({"status": "ok"})

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        if served.follower.ready:
            return json({"status": "ready", "cases": served.view.count()})
        return json({"status": "catching up with the topics"}, 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(served.metrics), media_type="text/plain; version=0.0.4")

    return app


def _holder(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
) -> Holder:
    """Whom the request's key lets in; a missing, unknown or revoked key, or one of an agency
    the registry in force no longer lists, is refused."""
    served: Served = request.app.state.served
    presented = bearer.credentials if bearer else basic.username if basic else ""
    who = served.keyring.who(presented)
    if who is None or (who is not ADMIN and who not in served.registry().agency_ids):
        raise Open311Error(
            401,
            "a valid key is required: send it as 'Authorization: Bearer <key>' (or as the user "
            "name of Basic credentials); an agency gets one from the province's operators "
            "(aduan agencies key create)",
        )
    return who


Caller = Annotated[Holder, Depends(_holder)]


def _requests(requests: Sequence[tuple[str, bytes]], registry: Registry) -> Response:
    """An array of service requests, as the view rendered them, named after their agencies in
    `registry`."""
    names = {agency.id: agency.name for agency in registry.agencies}
    return Response(requests_json(requests, names), media_type="application/json")


def _add_errors(app: FastAPI) -> None:
    """Every error in the specification's format, naming what was wrong; never a stack trace."""

    @app.middleware("http")
    async def refuse_bodies(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length", "0")
        # A chunked body announces no length: it could be any size.
        chunked = "transfer-encoding" in request.headers
        if chunked or not length.isdigit() or int(length) > BODY_LIMIT:
            return json(error_body(413, f"requests carry at most {BODY_LIMIT} bytes"), 413)
        return await call_next(request)

    @app.exception_handler(Open311Error)
    async def refused(_: Request, error: Open311Error) -> Response:
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        response = json(error_body(error.status, error.description), error.status)
        response.headers.update(headers or {})
        return response

    @app.exception_handler(QueryError)
    async def bad_query(_: Request, error: QueryError) -> Response:
        return json(error_body(400, str(error)), 400)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> Response:
        where = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in error.errors())
        return json(error_body(400, f"invalid request: {where}"), 400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> Response:
        said = "no such path" if error.status_code == 404 else str(error.detail)
        return json(error_body(error.status_code, said), error.status_code)

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> Response:
        log.error("%s %s failed: %r", request.method, request.url.path, error)
        return json(error_body(500, "the server failed; the operators have its log"), 500)
