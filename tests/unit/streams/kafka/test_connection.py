"""`streams.kafka.connection`: every client from one connection config, and the clients' errors
as aduan's `BrokerError`."""

from __future__ import annotations

import aiokafka.errors
import kafka.errors
import pytest

from streams.errors import BrokerError
from streams.kafka import connection
from streams.kafka.connection import Connection, broker_error, kafka_admin, kafka_consumer
from streams.settings import Settings


def test_every_client_gets_the_servers_its_id_and_the_login() -> None:
    login = Connection(("a:9092", "b:9093"), "worker", "pw")
    assert login.client_options("aduan-history") == {
        "bootstrap_servers": ["a:9092", "b:9093"],
        "client_id": "aduan-history",
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "worker",
        "sasl_plain_password": "pw",
    }
    assert login.user == "worker"
    anonymous = Connection(("a:9092",))
    assert anonymous.client_options("x") == {"bootstrap_servers": ["a:9092"], "client_id": "x"}
    assert anonymous.user == "this anonymous user"


@pytest.mark.parametrize(
    ("error", "retriable"),
    [
        (kafka.errors.KafkaTimeoutError("no answer"), True),
        (kafka.errors.TopicAuthorizationFailedError("denied"), False),
        (aiokafka.errors.KafkaConnectionError("connection reset"), True),
        (aiokafka.errors.TopicAuthorizationFailedError("denied"), False),
    ],
)
def test_both_client_families_translate_with_whether_a_retry_can_help(
    error: Exception, retriable: bool
) -> None:
    translated = broker_error(error, "reading mentions.raw")
    assert isinstance(translated, BrokerError)
    assert str(translated).startswith(f"reading mentions.raw failed: {error}")
    assert translated.retriable is retriable


def test_both_client_families_are_caught_by_client_errors() -> None:
    for error in (kafka.errors.KafkaError("a"), aiokafka.errors.KafkaError("b")):
        with pytest.raises(connection.CLIENT_ERRORS):
            raise error


def test_a_cluster_out_of_reach_is_named_with_how_to_reach_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_brokers(**options: object) -> None:
        raise kafka.errors.KafkaConnectionError("no broker answered")

    monkeypatch.setattr(connection, "KafkaAdminClient", no_brokers)
    settings = Settings.from_env({"ADUAN_BROKER": "b1:9092", "ADUAN_KAFKA_USERNAME": "ops"})
    with pytest.raises(BrokerError) as refused:
        kafka_admin(settings)
    message = str(refused.value)
    assert message.startswith("cannot reach Kafka at b1:9092 (KafkaConnectionError: no broker")
    assert "refused the login of ADUAN_KAFKA_USERNAME=ops" in message
    assert "deploy/kafka/broker.sh start, or set ADUAN_BROKER" in message
    assert refused.value.retriable
    assert isinstance(refused.value.__cause__, kafka.errors.KafkaConnectionError)


def test_clients_are_built_with_the_connection_options(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[dict[str, object]] = []
    monkeypatch.setattr(connection, "KafkaConsumer", lambda **options: built.append(options))
    kafka_consumer(Settings.from_env({}), "aduan-count", enable_auto_commit=False)
    assert built == [
        {
            "bootstrap_servers": ["localhost:9092"],
            "client_id": "aduan-count",
            "enable_auto_commit": False,
        }
    ]
