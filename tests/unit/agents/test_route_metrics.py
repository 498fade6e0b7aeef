"""`agents.route_metrics`: each post counted once by outcome, complaints by agency."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from agents.route_metrics import RoutingMetrics
from tests.unit.agents.factories import (
    BPK_HANDLE,
    BPK_ID,
    KEJATI_HANDLE,
    KEJATI_ID,
    build_registry,
    make_post,
    make_router,
    make_user,
    stream_line,
)

REGISTRY = build_registry()


def counted(*lines: bytes) -> CollectorRegistry:
    registry = CollectorRegistry()
    metrics = RoutingMetrics(registry)
    metrics.use_registry(REGISTRY)
    router = make_router(REGISTRY)
    metrics.count([router.route_line(raw) for raw in lines[:2]])  # two batches
    metrics.count([router.route_line(raw) for raw in lines[2:]])
    return registry


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_a_post_to_two_agencies_is_one_routed_mention_and_two_complaints() -> None:
    both = make_post(
        "@KejatiJateng @BPKJateng dana desa",
        id="1790000000000000101",
        mentions=[(KEJATI_ID, KEJATI_HANDLE), (BPK_ID, BPK_HANDLE)],
    )
    registry = counted(stream_line(both))
    assert value(registry, "aduan_mentions_total", outcome="routed") == 1
    assert value(registry, "aduan_complaints_routed_total", agency="kejati-jateng") == 1
    assert value(registry, "aduan_complaints_routed_total", agency="bpk-jateng") == 1
    assert value(registry, "aduan_complaints_routed_total", agency="unrouted") == 0


def test_every_outcome_and_rejection_reason() -> None:
    addressed = make_post(
        "@KejatiJateng tolong", id="1790000000000000102", mentions=[(KEJATI_ID, KEJATI_HANDLE)]
    )
    unaddressed = make_post("jalan rusak", id="1790000000000000103")
    unverified = stream_line(
        make_post("@KejatiJateng", id="1790000000000000104", mentions=[(KEJATI_ID, KEJATI_HANDLE)]),
        [make_user(verified=False, verified_type="none")],
    )
    registry = counted(
        stream_line(addressed),
        stream_line(addressed),  # the same post again: a duplicate
        stream_line(unaddressed),
        unverified,
        b"{not json",
    )
    assert {
        outcome: value(registry, "aduan_mentions_total", outcome=outcome)
        for outcome in ("routed", "unrouted", "rejected", "dead_letter")
    } == {"routed": 1, "unrouted": 1, "rejected": 2, "dead_letter": 1}
    assert value(registry, "aduan_rejections_total", reason="duplicate") == 1
    assert value(registry, "aduan_rejections_total", reason="unverified_author") == 1
    assert value(registry, "aduan_rejections_total", reason="retweet") == 0
    assert value(registry, "aduan_complaints_routed_total", agency="unrouted") == 1
    last = value(registry, "aduan_last_mention_timestamp_seconds")
    assert last is not None and last > 0


def test_registry_info_names_only_the_version_in_force() -> None:
    registry = CollectorRegistry()
    metrics = RoutingMetrics(registry)
    metrics.use_registry(REGISTRY)
    metrics.use_registry(build_registry())  # same content, same version
    assert value(registry, "aduan_registry_agencies") == len(REGISTRY.agencies)
    assert value(registry, "aduan_registry_info", version=REGISTRY.version) == 1
    infos = [s for m in registry.collect() if m.name == "aduan_registry_info" for s in m.samples]
    assert len(infos) == 1
