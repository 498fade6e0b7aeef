"""The `aduan` command line."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from agents.core.errors import AduanError, ConfigError
from agents.core.registry import Registry, load_registry
from agents.core.route import Router
from agents.core.verify import VerificationPolicy
from streams.route_file import route_file
from streams.settings import ENVIRONMENT, SERVICES, Settings
from streams.x.synthetic import synthetic_lines

if TYPE_CHECKING:
    from streams.kafka.registry_topic import RegistryFollower
    from streams.producer.sink import RawSink


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        code: int = args.run(args, settings)
    except AduanError as exc:
        print(f"aduan {args.command}: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader (e.g. `head`) went away: not an error of ours. Point stdout at /dev/null so
        # the interpreter's final flush does not complain again.
        with contextlib.suppress(OSError):
            sys.stdout = open("/dev/null", "w")  # noqa: SIM115
        return 0
    except OSError as exc:
        # A read or write failing midway (disk full, I/O error): say so without a traceback.
        where = f" {exc.filename}" if exc.filename else ""
        print(f"aduan {args.command}:{where} {exc.strerror or exc}", file=sys.stderr)
        return 1
    return code


def _parser() -> argparse.ArgumentParser:
    environment = "\n".join(
        f"  {name:<22} {meaning} (default: {default})" for name, default, meaning in ENVIRONMENT
    )
    parser = argparse.ArgumentParser(
        prog="aduan",
        description="Routes X mentions of government agencies to per-agency complaint topics.",
        epilog=f"environment:\n{environment}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    route = commands.add_parser(
        "route",
        help="route a JSON Lines file of mentions offline, as the live pipeline would",
        description=(
            "Apply the routing decisions to every line of INPUT and write one JSON line per event: "
            '{"topic": ..., "key": ..., "value": {...}}. Per-topic counts go to stderr.'
        ),
    )
    _add_agencies_option(route)
    route.add_argument("--input", default="-", help="JSON Lines input, or - for stdin (default)")
    route.add_argument("--output", default="-", help="output file, or - for stdout (default)")
    _add_policy_option(route)
    route.set_defaults(run=_run_route)

    synthetic = commands.add_parser(
        "synthetic",
        help="write realistic synthetic mentions (X API v2 stream messages) as JSON Lines",
    )
    _add_agencies_option(synthetic)
    synthetic.add_argument("--count", type=_positive, default=1000, help="mentions (default 1000)")
    synthetic.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    synthetic.add_argument("--output", default="-", help="output file, or - for stdout (default)")
    synthetic.set_defaults(run=_run_synthetic)

    topics = commands.add_parser("topics", help="manage the pipeline's Kafka topics")
    topics_commands = topics.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = topics_commands.add_parser(
        "create", help="create the missing topics (idempotent); mentions.raw keeps forever"
    )
    _add_agencies_option(create)
    create.set_defaults(run=_run_topics_create)
    count = topics_commands.add_parser("count", help="print the number of messages per topic")
    _add_agencies_option(count)
    count.set_defaults(run=_run_topics_count)

    _add_agencies(commands)
    _add_services(commands)

    worker = commands.add_parser("worker", help="run the Faust worker that routes mentions.raw")
    worker.set_defaults(run=_run_worker)

    produce = commands.add_parser("produce", help="push mentions into mentions.raw")
    source = produce.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", help="JSON Lines of mentions (v2 or v1.1), or - for stdin")
    source.add_argument("--synthetic", type=_positive, metavar="N", help="N synthetic mentions")
    source.add_argument(
        "--x-stream", action="store_true", help="the X API v2 filtered stream (runs until stopped)"
    )
    source.add_argument(
        "--x-poll",
        action="store_true",
        help="poll each agency account's mentions timeline (runs until stopped)",
    )
    produce.add_argument("--rate", type=float, help="posts per second (default: unlimited)")
    _add_agencies_option(produce)
    produce.set_defaults(run=_run_produce)

    _add_subscribe(commands)

    _add_replay(commands)
    _add_report(commands)
    return parser


def _add_agencies(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    agencies = commands.add_parser("agencies", help="manage the agency registry")
    agencies_commands = agencies.add_subparsers(dest="action", required=True, metavar="ACTION")
    sync = agencies_commands.add_parser(
        "sync", help="validate the registry and publish it to running workers"
    )
    _add_agencies_option(sync)
    sync.set_defaults(run=_run_agencies_sync)
    grant = agencies_commands.add_parser(
        "grant",
        help="on a secured cluster: let an agency read its complaints topic, and nothing else",
    )
    grant.add_argument("--agency", required=True, help="agency id, as in the registry")
    _add_password_file(grant, "agency")
    _add_agencies_option(grant)
    grant.set_defaults(run=_run_agencies_grant)
    revoke = agencies_commands.add_parser("revoke", help="remove an agency's login and rights")
    revoke.add_argument("--agency", required=True, help="agency id")
    revoke.set_defaults(run=_run_agencies_revoke)


def _add_services(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    services = commands.add_parser(
        "services", help="on a secured cluster: logins of their own for the worker and producer"
    )
    services_commands = services.add_subparsers(dest="action", required=True, metavar="ACTION")
    service_grant = services_commands.add_parser(
        "grant", help="give the worker or the producer a login with the least rights it needs"
    )
    service_grant.add_argument("service", choices=SERVICES)
    _add_password_file(service_grant, "service")
    service_grant.set_defaults(run=_run_services_grant)
    service_revoke = services_commands.add_parser(
        "revoke", help="remove a service's login and rights"
    )
    service_revoke.add_argument("service", choices=SERVICES)
    service_revoke.set_defaults(run=_run_services_revoke)


def _add_password_file(parser: argparse.ArgumentParser, whose: str) -> None:
    parser.add_argument(
        "--password-file",
        type=Path,
        required=True,
        help=f"the {whose}'s password: read from this file, or made and written to it (mode 600)",
    )


def _add_subscribe(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    subscribe = commands.add_parser(
        "subscribe", help="print an agency's complaints, one JSON event per line"
    )
    subscribe.add_argument("--agency", required=True, help="agency id, as in the registry")
    subscribe.add_argument("--group", help="consumer group (default: aduan-agency-<ID>)")
    start = subscribe.add_mutually_exclusive_group()
    start.add_argument("--from-beginning", action="store_true", help="read the whole topic")
    start.add_argument("--since", type=_iso_time, help="read from this ISO 8601 time on")
    subscribe.add_argument("--max-events", type=_positive, help="stop after N events")
    subscribe.add_argument("--idle-timeout", type=float, help="stop after S seconds without events")
    subscribe.add_argument("--output", default="-", help="output file, or - for stdout (default)")
    subscribe.set_defaults(run=_run_subscribe)


def _add_replay(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    replay = commands.add_parser(
        "replay",
        help="re-route a time window of mentions.raw, e.g. to check a registry change",
        description=(
            "Re-route the posts of mentions.raw whose Kafka time is in [--since, --until) with "
            "a registry and policy (default: the ones in force), into a JSON Lines file (as "
            "aduan route writes) or into shadow topics PREFIX.complaints.<id> etc. Reads "
            "without a consumer group: the live worker is untouched. Never writes to live topics."
        ),
    )
    replay.add_argument("--since", type=_iso_time, required=True, help="ISO 8601 start time")
    replay.add_argument("--until", type=_iso_time, help="ISO 8601 end time (default: now)")
    _add_agencies_option(replay, "registry to route with (default: the one in force)")
    _add_policy_option(replay)
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("--output", help="JSON Lines file of the events, or - for stdout")
    target.add_argument("--to-topics", metavar="PREFIX", help="write to PREFIX.<live topic name>")
    replay.add_argument(
        "--diff",
        action="store_true",
        help="compare with what the live pipeline emitted for the same posts, per agency "
        "(printed to stdout, or to stderr when --output is -)",
    )
    replay.set_defaults(run=_run_replay)


def _add_report(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report",
        help="analyse the routed history: PNG charts, CSV tables and an HTML page",
        description=(
            "Complaints per agency per day, rejection reasons over time, share of verified "
            "authors, multi-agency complaints, top conversation threads and routing latency "
            "(--since only), from a file of events or from the live topics."
        ),
    )
    source = report.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--from-file",
        metavar="FILE",
        help="JSON Lines of aduan route, aduan replay or aduan subscribe, or - for stdin",
    )
    source.add_argument("--since", type=_iso_time, help="read the live topics from this time on")
    report.add_argument("--until", type=_iso_time, help="end of the --since window (default: now)")
    report.add_argument("--out", type=Path, required=True, help="directory to write into")
    report.set_defaults(run=_run_report)


def _add_agencies_option(
    parser: argparse.ArgumentParser, meaning: str = "registry file (default: $ADUAN_AGENCIES)"
) -> None:
    parser.add_argument("--agencies", type=Path, help=meaning)


def _add_policy_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verified-types",
        help="comma-separated verification types to serve (default: $ADUAN_VERIFIED_TYPES)",
    )


def _policy(args: argparse.Namespace, settings: Settings) -> VerificationPolicy:
    if args.verified_types is None:
        return settings.policy
    return VerificationPolicy.from_names(args.verified_types.split(","), "--verified-types")


def _run_route(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_registry(args.agencies or settings.registry_file())
    router = Router(registry, _policy(args, settings), seen=set())
    with _open(args.input, "rb", "input") as source, _open(args.output, "wb", "output") as sink:
        lines, counts = route_file(router, source, sink)
    total = sum(counts.values())
    print(f"{lines} lines -> {total} events (registry {registry.version})", file=sys.stderr)
    for topic, count in sorted(counts.items()):
        print(f"  {topic:<40} {count:>9}", file=sys.stderr)
    return 0


def _run_synthetic(args: argparse.Namespace, settings: Settings) -> int:
    registry = load_registry(args.agencies or settings.registry_file())
    with _open(args.output, "wb", "output") as sink:
        for line in synthetic_lines(registry, args.count, args.seed):
            sink.write(line + b"\n")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _run_topics_create(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.admin import create_topics, partition_mismatches, topic_specs

    registry = load_registry(args.agencies or settings.registry_file())
    created = create_topics(settings, registry)
    specs = topic_specs(settings, registry)
    mismatches = {mismatch.topic: mismatch for mismatch in partition_mismatches(settings, specs)}
    for topic, new in created.items():
        state = "created" if new else "exists"
        if topic in mismatches:
            state = f"exists, MISMATCH: {mismatches[topic].explain()}"
        print(f"{topic:<40} {state}", file=sys.stderr)
    broken = [mismatch for mismatch in mismatches.values() if mismatch.breaks_the_pipeline]
    if broken:
        more = f" ({len(broken) - 1} more above)" if len(broken) > 1 else ""
        raise ConfigError(broken[0].explain() + more)
    return 0


def _run_topics_count(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.admin import count_messages, topic_specs

    registry = load_registry(args.agencies or settings.registry_file())
    names = [spec.name for spec in topic_specs(settings, registry)]
    for topic, count in count_messages(settings, names).items():
        print(f"{topic:<40} {count:>9}")
    return 0


def _run_agencies_sync(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.registry_topic import publish

    registry = publish(settings, args.agencies or settings.registry_file())
    print(
        f"published registry {registry.version} ({len(registry.agencies)} agencies); "
        "running workers switch to it",
        file=sys.stderr,
    )
    return 0


def _run_agencies_grant(args: argparse.Namespace, settings: Settings) -> int:
    from streams.delivery.subscriber import agency_group
    from streams.kafka.access import agency_user, grant

    registry = load_registry(args.agencies or settings.registry_file())
    made = grant(settings, registry, args.agency, args.password_file)
    rights = (
        f"{agency_user(args.agency)} may read complaints.{args.agency} in group "
        f"{agency_group(args.agency)}"
    )
    return _granted(rights, made, args.password_file)


def _run_agencies_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.access import agency_user

    return _revoke(settings, agency_user(args.agency))


def _run_services_grant(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.access import grant_service, service_user

    user = service_user(args.service)
    made = grant_service(settings, args.service, args.password_file)
    rights = f"{user} may do what the {args.service} does, and nothing else"
    return _granted(rights, made, args.password_file)


def _granted(rights: str, made: bool, password_file: Path) -> int:
    where = "made and written to" if made else "read from"
    print(f"{rights}; its password was {where} {password_file}", file=sys.stderr)
    return 0


def _run_services_revoke(args: argparse.Namespace, settings: Settings) -> int:
    from streams.kafka.access import service_user

    return _revoke(settings, service_user(args.service))


def _revoke(settings: Settings, user: str) -> int:
    from streams.kafka.access import revoke

    revoke(settings, user)
    print(f"{user} has no login and no rights any more", file=sys.stderr)
    return 0


def _run_worker(args: argparse.Namespace, settings: Settings) -> int:
    from streams.worker.run import run_worker

    run_worker(settings)
    return 0


def _run_produce(args: argparse.Namespace, settings: Settings) -> int:
    from streams.compat.kafka_connected import broker_connected
    from streams.producer.metrics import ProducerMetrics, new_registry, serve
    from streams.producer.sink import RawSink, kafka_producer, produce_lines

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # tweepy's debug log line carries the bearer token: never let it through.
    logging.getLogger("tweepy").setLevel(logging.INFO)
    registry = load_registry(args.agencies or settings.registry_file())
    if (args.x_stream or args.x_poll) and args.rate:
        raise ConfigError(
            "--rate applies to --file and --synthetic; X sets the pace of its sources"
        )
    if (args.x_stream or args.x_poll) and not settings.x_bearer_token:
        raise ConfigError(
            "the X API needs a bearer token: set ADUAN_X_BEARER_TOKEN, or "
            "ADUAN_X_BEARER_TOKEN_FILE to a file holding it"
        )
    if args.x_stream:
        kind = "x-stream"
    elif args.x_poll:
        kind = "x-poll"
    else:
        kind = "file" if args.synthetic is None else "synthetic"
    metrics = ProducerMetrics(new_registry(), kind)
    producer = kafka_producer(settings)
    server = serve(
        settings.producer_web_port, metrics.registry, partial(broker_connected, producer)
    )
    sink = RawSink(producer, metrics, settings.kafka_user)
    try:
        if args.x_stream or args.x_poll:
            _from_x(args, settings, registry, sink)
        elif args.synthetic is not None:
            produce_lines(sink, synthetic_lines(registry, args.synthetic), args.rate)
        else:
            with _open(args.file, "rb", "input") as source:
                produce_lines(sink, _with_progress(source), args.rate)
    except KeyboardInterrupt:
        sink.flush()
    finally:
        producer.close()
        server.shutdown()
        server.server_close()
    print(f"{sink.sent} posts produced to mentions.raw", file=sys.stderr)
    return 0


def _from_x(
    args: argparse.Namespace, settings: Settings, registry: Registry, sink: RawSink
) -> None:
    """An X source, following the registry versions `aduan agencies sync` publishes, from the
    one in force on (`registry` where none was published yet), as the worker does."""
    from streams.kafka.registry_topic import RegistryFollower, registry_in_force

    registry, offset = registry_in_force(settings, registry)
    follower = RegistryFollower(settings, offset)
    try:
        if args.x_stream:
            _stream_from_x(settings, registry, follower, sink)
        else:
            _poll_x(settings, registry, follower, sink)
    finally:
        follower.close()


def _with_progress(source: BinaryIO) -> Iterator[bytes]:
    """The lines of `source`, with a progress bar on a terminal (bytes read, rate, ETA)."""
    from tqdm import tqdm

    try:
        total: int | None = os.fstat(source.fileno()).st_size or None
    except (OSError, ValueError):
        total = None
    with tqdm(total=total, unit="B", unit_scale=True, disable=not sys.stderr.isatty()) as bar:
        for line in source:
            bar.update(len(line))
            yield line


def _stream_from_x(
    settings: Settings, registry: Registry, follower: RegistryFollower, sink: RawSink
) -> None:
    from streams.x.source import MentionStream, run_stream

    # Each stream message is flushed on its own: a live stream has no natural batch end.
    def send(key: bytes | None, value: bytes) -> None:
        sink(key, value)
        sink.flush()

    stream = MentionStream(settings.x_bearer_token, send, sink.metrics)
    run_stream(stream, registry, settings.x_backfill_minutes, follower)


def _poll_x(
    settings: Settings, registry: Registry, follower: RegistryFollower, sink: RawSink
) -> None:
    import tweepy

    from streams.x.checkpoints import KafkaCheckpoints
    from streams.x.source import count_responses, poll_forever

    client = tweepy.Client(settings.x_bearer_token, return_type=dict, wait_on_rate_limit=True)
    count_responses(client.session, sink.metrics)
    checkpoints = KafkaCheckpoints(settings, sink.producer, sink.metrics)
    poll_forever(
        client,
        registry,
        updates=follower,
        checkpoints=checkpoints,
        sink=sink,
        flush=sink.flush,
        pause=settings.x_poll_seconds,
    )


def _run_subscribe(args: argparse.Namespace, settings: Settings) -> int:
    from streams.delivery.subscriber import subscribe

    with _open(args.output, "wb", "output") as sink:
        subscribe(
            settings,
            args.agency,
            args.group,
            sink,
            rewind=args.from_beginning,
            since=args.since,
            max_events=args.max_events,
            idle_timeout=args.idle_timeout,
        )
    return 0


def _run_replay(args: argparse.Namespace, settings: Settings) -> int:
    from schemas.topics import RAW_TOPIC
    from streams.history import replay
    from streams.history.diff import compare, format_diff, routings
    from streams.history.window import Window, find_spans
    from streams.kafka.registry_topic import latest_published

    window = Window(args.since, args.until)
    prefix = None if args.to_topics is None else replay.check_prefix(args.to_topics)
    if args.agencies is not None:
        registry = load_registry(args.agencies)
    else:
        registry = latest_published(settings)[0] or load_registry(settings.registry_file())
    spans = find_spans(settings, [RAW_TOPIC], window)
    total = sum(span.size for span in spans)
    with tempfile.TemporaryDirectory(prefix="aduan-replay-") as parts, _Progress(total) as show:
        job = replay.Job(settings, registry, _policy(args, settings), window, Path(parts), prefix)
        outcome = replay.replay(job, spans, show)
        if args.output is not None:
            with _open(args.output, "wb", "output") as sink:
                replay.merge(job.parts, spans, sink)
        print(
            f"replayed {outcome.read} of {total} posts of {RAW_TOPIC} -> "
            f"{sum(outcome.events.values())} events (registry {registry.version})",
            file=sys.stderr,
        )
        for topic, count in sorted(outcome.events.items()):
            shown = topic if prefix is None else f"{prefix}.{topic}"
            print(f"  {shown:<40} {count:>9}", file=sys.stderr)
        if outcome.interrupted:
            print(
                f"stopped by Ctrl-C: {outcome.where()}. The output holds the events of the "
                "posts before those offsets; replay again for the whole window.",
                file=sys.stderr,
            )
            return 130
        if args.diff:
            replayed = routings(replay.replayed_events(job.parts, spans))
            live = replay.live_routings(settings, window, replayed.keys())
            out = sys.stderr if args.output == "-" else sys.stdout
            print(format_diff(compare(live, replayed)), file=out)
    return 0


def _run_report(args: argparse.Namespace, settings: Settings) -> int:
    from streams.history.report import events_from_file, events_from_kafka, write_report
    from streams.history.report_tables import build_tables
    from streams.history.window import Window

    if args.from_file is not None:
        if args.until is not None:
            raise ConfigError("--until goes with --since; a file is reported whole")
        with _open(args.from_file, "rb", "input") as source:
            tables = build_tables(events_from_file(source, args.from_file))
        title = f"aduan report of {args.from_file}"
    else:
        window = Window(args.since, args.until)
        events, mentions = events_from_kafka(settings, window)
        tables = build_tables(events, mentions)
        title = f"aduan report from {args.since.isoformat()} to {(args.until or 'now')}"
    for path in write_report(tables, args.out, title):
        print(path, file=sys.stderr)
    return 0


class _Progress:
    """Messages read of `total`: a bar on a terminal (rate, ETA), else a log line every 10 s."""

    def __init__(self, total: int) -> None:
        from tqdm import tqdm

        self.total = total
        self.terminal = sys.stderr.isatty()
        self.bar = tqdm(total=total, unit="post", unit_scale=True, disable=not self.terminal)
        self.start = self.logged = time.monotonic()

    def __enter__(self) -> Callable[[int], None]:
        return self.show

    def __exit__(self, *_: object) -> None:
        self.bar.close()

    def show(self, done: int) -> None:
        self.bar.update(done - self.bar.n)
        now = time.monotonic()
        if not self.terminal and now - self.logged >= 10:
            self.logged = now
            rate = done / max(now - self.start, 1e-9)
            print(f"replay: {done} of {self.total} posts, {rate:,.0f}/s", file=sys.stderr)


def _iso_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone; add Z or +07:00")
    return moment


@contextlib.contextmanager
def _open(name: str, mode: str, role: str) -> Iterator[BinaryIO]:
    """`name` opened for `role`, `-` meaning stdin/stdout."""
    if name == "-":
        stream = sys.stdin.buffer if "r" in mode else sys.stdout.buffer
        yield stream
        stream.flush()
        return
    try:
        handle: BinaryIO = open(name, mode)  # type: ignore[assignment]  # noqa: SIM115
    except OSError as exc:
        raise AduanError(f"cannot open {role} {name}: {exc.strerror or exc}") from None
    with handle:
        yield handle
