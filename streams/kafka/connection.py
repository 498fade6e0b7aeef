"""The Kafka boundary: every client aduan makes is built here from one connection config
(bootstrap servers, SASL login, a client id), whatever its family: kafka-python for the producer,
the admin and the command-line consumers, aiokafka for history reads and the worker's registry
follower, Faust (aiokafka underneath) for the worker. The clients' errors become `BrokerError`
here too (`kafka_errors`), raised from the client's own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import aiokafka.errors
import kafka.errors
from aiokafka import AIOKafkaConsumer
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.partitioner import DefaultPartitioner

from agents.core.split import thread_of
from streams.errors import BrokerError
from streams.settings import SASL_MECHANISM, Settings

CLIENT_ERRORS = (kafka.errors.KafkaError, aiokafka.errors.KafkaError)
"""The base errors of both client families."""

REFUSALS = (
    kafka.errors.TopicAuthorizationFailedError,
    kafka.errors.GroupAuthorizationFailedError,
    aiokafka.errors.TopicAuthorizationFailedError,
    aiokafka.errors.GroupAuthorizationFailedError,
)
"""Kafka refused the user a right it lacks: only an operator's grant helps."""


@dataclass(frozen=True, slots=True)
class Connection:
    """Where the cluster is and who aduan logs in as."""

    bootstrap_servers: tuple[str, ...]
    username: str = ""
    password: str = field(default="", repr=False)

    @classmethod
    def of(cls, settings: Settings) -> Connection:
        return cls(settings.bootstrap_servers, settings.kafka_username, settings.kafka_password)

    @property
    def user(self) -> str:
        """Who Kafka sees, for messages: the login's user, or nobody in particular."""
        return self.username or "this anonymous user"

    @property
    def login(self) -> dict[str, str]:
        """Options that make a kafka-python or aiokafka client log in; none without a user."""
        if not self.username:
            return {}
        return {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": SASL_MECHANISM,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
        }

    @property
    def faust_broker(self) -> str:
        """The broker list in Faust's form: `kafka://host1:9092;host2:9092`."""
        return "kafka://" + ";".join(self.bootstrap_servers)

    def faust_options(self) -> dict[str, Any]:
        """A Faust app's `broker` and `broker_credentials` (Faust builds its aiokafka clients)."""
        # Imported here: Faust takes long to import, and only the worker needs it.
        from faust import SASLCredentials  # noqa: PLC0415

        credentials = None
        if self.username:
            credentials = SASLCredentials(
                username=self.username, password=self.password, mechanism=SASL_MECHANISM
            )
        return {"broker": self.faust_broker, "broker_credentials": credentials}

    def client_options(self, client_id: str) -> dict[str, Any]:
        """What every kafka-python or aiokafka client is built with."""
        return {
            "bootstrap_servers": list(self.bootstrap_servers),
            "client_id": client_id,
            **self.login,
        }


class ThreadPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """Kafka's default partitioning of the key's conversation part alone, so that a
    `mentions.raw` key `<conversation>/<post id>` lands where the thread's other posts do. Keys
    without a `/` (every other topic's) land where Kafka's default puts them."""

    def partition(  # noqa: PLR0917 (kafka-python calls it with these six, by position)
        self,
        topic: str,
        key: object,
        serialized_key: bytes | None,
        value: object,
        serialized_value: bytes | None,
        cluster: object,
    ) -> int:
        thread = None if serialized_key is None else thread_of(serialized_key)
        return int(super().partition(topic, key, thread, value, serialized_value, cluster))


def kafka_producer(settings: Settings, client_id: str = "aduan-producer") -> KafkaProducer:
    """A kafka-python producer, or a `BrokerError` that says how to reach the cluster.

    acks=all with idempotence: a record the broker acknowledged is on every in-sync replica, and a
    retried send is not written twice (docs/decisions/0024-producer-compression-and-paced-steps.md
    for the compression and linger)."""
    connection = Connection.of(settings)
    try:
        return KafkaProducer(
            **connection.client_options(client_id),
            acks="all",
            enable_idempotence=True,
            compression_type="gzip",
            linger_ms=5,
            partitioner=ThreadPartitioner(),
        )
    except kafka.errors.KafkaError as exc:
        raise unreachable(connection, exc) from exc


def kafka_consumer(settings: Settings, client_id: str, **options: Any) -> KafkaConsumer:
    """A kafka-python consumer, or a `BrokerError` that says how to reach the cluster."""
    connection = Connection.of(settings)
    try:
        return KafkaConsumer(**connection.client_options(client_id), **options)
    except kafka.errors.KafkaError as exc:
        raise unreachable(connection, exc) from exc


def kafka_admin(settings: Settings) -> KafkaAdminClient:
    """A kafka-python admin client, or a `BrokerError` that says how to reach the cluster."""
    connection = Connection.of(settings)
    try:
        return KafkaAdminClient(**connection.client_options("aduan-admin"))
    except kafka.errors.KafkaError as exc:
        raise unreachable(connection, exc) from exc


def aiokafka_consumer(settings: Settings, client_id: str, **options: Any) -> AIOKafkaConsumer:
    """An aiokafka consumer, not started: it reaches the cluster in `start()`."""
    return AIOKafkaConsumer(**Connection.of(settings).client_options(client_id), **options)


@asynccontextmanager
async def started_consumer(
    settings: Settings, client_id: str, **options: Any
) -> AsyncIterator[AIOKafkaConsumer]:
    """An aiokafka consumer, started (or a `BrokerError` that says how to reach the cluster) and
    stopped when the block ends."""
    connection = Connection.of(settings)
    consumer = AIOKafkaConsumer(**connection.client_options(client_id), **options)
    try:
        try:
            await consumer.start()
        except aiokafka.errors.KafkaConnectionError as exc:
            raise unreachable(connection, exc) from exc
        yield consumer
    finally:
        await consumer.stop()


@contextmanager
def kafka_errors(doing: str, hint: str = "", refused: str | None = None) -> Iterator[None]:
    """Either client family's error in the block, raised as `BrokerError`: `<doing> failed:
    <the client's words><hint>`, or `refused` alone when Kafka refused the user a right."""
    try:
        yield
    except CLIENT_ERRORS as exc:
        if refused is not None and isinstance(exc, REFUSALS):
            raise BrokerError(refused) from exc
        raise BrokerError(f"{doing} failed: {exc}{hint}", retriable=retriable(exc)) from exc


def retriable(exc: BaseException) -> bool:
    """Whether the client that raised `exc` judges that the same request may succeed later."""
    return bool(getattr(exc, "retriable", False))


def unreachable(connection: Connection, exc: Exception) -> BrokerError:
    """A client could not reach the cluster at all (a retry helps once it is up)."""
    login = ""
    if connection.username:
        login = (
            f", or it refused the login of ADUAN_KAFKA_USERNAME={connection.username} "
            "(check ADUAN_KAFKA_PASSWORD or ADUAN_KAFKA_PASSWORD_FILE)"
        )
    return BrokerError(
        f"cannot reach Kafka at {','.join(connection.bootstrap_servers)} ({exc}){login}; start "
        "it with deploy/kafka/broker.sh start, or set ADUAN_BROKER",
        retriable=True,
    )


def hidden_hint(settings: Settings) -> str:
    """For a topic that seems missing: a secured cluster hides the topics a user may not read."""
    if not settings.kafka_username:
        return ""
    return f", or ADUAN_KAFKA_USERNAME={settings.kafka_username} may not read it"
