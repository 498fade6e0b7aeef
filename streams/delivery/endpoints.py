"""An agency's webhook endpoint: its address and secret (read from the registry's secret_file),
and one signed POST to it. The retries are `streams.delivery.lanes`'."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from agents.core.errors import AduanError
from agents.core.registry import Registry
from streams.delivery.signing import (
    EVENT_ID_HEADER,
    RESPONSE_KEPT,
    SIGNATURE_HEADER,
    Delivery,
    sign,
)

REQUEST_TIMEOUT = 10.0
"""Seconds an endpoint has to answer an attempt, as GitHub allows its webhooks."""
_SHORTEST_SECRET = 16


class WebhookError(AduanError):
    """An agency's webhook cannot be used as registered."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    url: str
    secret: bytes = field(repr=False)


def read_endpoints(registry: Registry) -> dict[str, Endpoint]:
    """Each agency's webhook with its secret, read from its `secret_file` now."""
    endpoints = {}
    for agency in registry.agencies:
        if agency.webhook is None:
            continue
        path = agency.webhook.secret_file
        make = f"openssl rand -hex 32 > {path}, readable by the user running aduan deliver"
        try:
            secret = Path(path).read_bytes().strip()
        except OSError as exc:
            raise WebhookError(
                f"agency {agency.id!r}: cannot read its webhook secret_file {path}: "
                f"{exc.strerror}; create it ({make}) and give the agency the secret, or correct "
                "secret_file in the registry"
            ) from None
        if len(secret) < _SHORTEST_SECRET:
            raise WebhookError(
                f"agency {agency.id!r}: its webhook secret_file {path} holds fewer than "
                f"{_SHORTEST_SECRET} characters; write a random secret there ({make}) and give "
                "the agency the new one"
            )
        endpoints[agency.id] = Endpoint(agency.webhook.url, secret)
    return endpoints


@dataclass(frozen=True, slots=True)
class Attempt:
    status: int | None
    """None when no answer came."""
    cause: str
    """The HTTP status as text, `timeout` or `connection`."""
    error: str = ""
    """The failure in words; empty for a 2xx."""
    response: bytes = b""
    """The start of the answer's body, up to one byte more than a dead letter keeps."""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status <= 299


Post = Callable[[Endpoint, Delivery], Awaitable[Attempt]]
DeadLetters = Callable[[bytes, bytes], Awaitable[None]]
"""Writes a dead letter's key and value, and returns once Kafka has it."""


class HttpPoster:
    """POSTs a delivery, signed at the moment it is sent; never follows a redirect."""

    def __init__(self, session: aiohttp.ClientSession, timeout: float = REQUEST_TIMEOUT) -> None:
        self.session = session
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def __call__(self, endpoint: Endpoint, delivery: Delivery) -> Attempt:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "aduan-webhooks",
            EVENT_ID_HEADER: delivery.event_id,
            SIGNATURE_HEADER: sign(endpoint.secret, delivery.body, int(time.time())),
        }
        try:
            async with self.session.post(
                endpoint.url,
                data=delivery.body,
                headers=headers,
                allow_redirects=False,
                timeout=self.timeout,
            ) as response:
                kept = b""
                while len(kept) <= RESPONSE_KEPT:
                    chunk = await response.content.read(RESPONSE_KEPT + 1 - len(kept))
                    if not chunk:
                        break
                    kept += chunk
                status = response.status
                error = "" if 200 <= status <= 299 else f"HTTP {status}"
                return Attempt(status, str(status), error, kept)
        except TimeoutError:
            return Attempt(None, "timeout", f"no answer within {self.timeout.total:g} s")
        except aiohttp.ClientError as exc:
            return Attempt(None, "connection", f"connection failed: {type(exc).__name__}: {exc}")
