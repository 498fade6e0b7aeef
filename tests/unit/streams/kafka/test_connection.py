"""`streams.kafka.connection`: every client from one connection config, and both client families'
errors as aduan's `BrokerError`."""

from __future__ import annotations

import aiokafka.errors
import kafka.errors
import kafka.partitioner
import pytest

from streams.errors import BrokerError
from streams.kafka import connection
from streams.kafka.connection import Connection, kafka_admin, kafka_consumer, kafka_errors
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
        (kafka.errors.UnknownTopicOrPartitionError("gone"), True),
        (kafka.errors.InvalidTopicError("bad name"), False),
        (aiokafka.errors.KafkaConnectionError("connection reset"), True),
        (aiokafka.errors.RecordTooLargeError("too big"), False),
    ],
)
def test_both_client_families_become_a_broker_error_saying_whether_a_retry_can_help(
    error: Exception, retriable: bool
) -> None:
    with pytest.raises(BrokerError) as raised, kafka_errors("reading mentions.raw", "; try X"):
        raise error
    assert str(raised.value) == f"reading mentions.raw failed: {error}; try X"
    assert raised.value.retriable is retriable
    assert raised.value.__cause__ is error


@pytest.mark.parametrize(
    "refusal",
    [
        kafka.errors.TopicAuthorizationFailedError("denied"),
        kafka.errors.GroupAuthorizationFailedError("denied"),
        aiokafka.errors.TopicAuthorizationFailedError("denied"),
    ],
)
def test_a_refused_right_is_told_with_who_grants_it(refusal: Exception) -> None:
    with pytest.raises(BrokerError) as raised, kafka_errors("reading x", refused="ask an operator"):
        raise refusal
    assert str(raised.value) == "ask an operator"
    assert not raised.value.retriable


def test_a_refused_right_without_its_own_message_is_told_like_any_other_error() -> None:
    with (
        pytest.raises(BrokerError, match=r"^reading x failed: .*denied"),
        kafka_errors("reading x"),
    ):
        raise kafka.errors.TopicAuthorizationFailedError("denied")


def test_errors_of_our_own_pass_through_untouched() -> None:
    with pytest.raises(ValueError, match="not Kafka's"), kafka_errors("reading x"):
        raise ValueError("not Kafka's")


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


def test_the_worker_gets_the_same_servers_and_login_in_faust_form() -> None:
    options = Connection(("a:9092", "b:9093"), "worker", "pw").faust_options()
    assert options["broker"] == "kafka://a:9092;b:9093"
    credentials = options["broker_credentials"]
    assert (credentials.username, credentials.password) == ("worker", "pw")
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert Connection(("a:9092",)).faust_options()["broker_credentials"] is None


class _Cluster:
    """What kafka-python's partitioners ask of cluster metadata."""

    def topics(self) -> set[str]:
        return {"mentions.raw"}

    def partitions_for_topic(self, _: str) -> set[int]:
        return set(range(12))

    def available_partitions_for_topic(self, _: str) -> set[int]:
        return set(range(12))


def test_a_post_lands_in_its_threads_partition_as_keys_of_a_thread_alone_did() -> None:
    partitioner = connection.ThreadPartitioner()
    default = kafka.partitioner.DefaultPartitioner()

    def placed(by: kafka.partitioner.Partitioner, key: bytes) -> int:
        return int(by.partition("mentions.raw", None, key, None, b"", _Cluster()))

    threads = [str(1790000000000000000 + 7919 * n).encode() for n in range(40)]
    for thread in threads:
        where = placed(default, thread)
        assert placed(partitioner, thread) == where  # keys made before post ids joined them
        for post in (thread, thread[:-3] + b"999", b"1"):
            assert placed(partitioner, thread + b"/" + post) == where
    assert len({placed(default, thread) for thread in threads}) > 1  # the premise: they spread
