"""The errors the shell reports to users, beside the core's (`agents.core.errors`): each says what
failed, where, and how to mend it. Kafka clients' own errors become `BrokerError` in one place,
`streams.kafka.connection.kafka_errors`."""

from __future__ import annotations

from agents.core.errors import AduanError


class BrokerError(AduanError):
    """The Kafka cluster could not be reached or refused a request."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable
        """Whether the same request may succeed later (a broker away, a leader moving), as the
        Kafka client that failed judged it; a refusal or a bad request never does."""


class XRefusedError(AduanError):
    """X refused the bearer token (HTTP 401) or what it may do (HTTP 403): retrying cannot help."""


class UnverifiedVersionError(AduanError):
    """An installed dependency is not a version the patches were verified against."""
