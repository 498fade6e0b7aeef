"""CPU time a record of aiokafka's `send`, one call a record, against
`streams.kafka.batches.Batches`,
which builds one batch a topic partition, in one run on a broker of its own.

    python3 bench/send_bench.py [--count 200000] [--rounds 2]

Both send the same keyed records (about 390 bytes, like a complaint event) to a topic of three
partitions, 500 records at a time as the worker sends a batch of posts, with the worker's producer
settings (acks=all, idempotent, 1 ms linger, batches of up to 1 MB), and wait for every
acknowledgement. Each round uses a new topic and producer; the two alternate.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pipeline_bench import own_broker

from streams.kafka.batches import Batches
from streams.worker.app import PRODUCER_BATCH_BYTES

VALUE = b'{"event_id":"x","tweet_id":"1790000000000000000","agency_id":"kejati-jateng","text":"%s"}'
ROUND = 500  # records sent together, as a batch of posts' events


async def send_all(broker: str, topic: str, count: int, batched: bool) -> float:
    """CPU seconds of this process for sending `count` records until all are acknowledged."""
    admin = AIOKafkaAdminClient(bootstrap_servers=broker)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 3, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(
        bootstrap_servers=broker,
        acks="all",
        enable_idempotence=True,
        linger_ms=1,
        max_batch_size=PRODUCER_BATCH_BYTES,
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"first", key=b"first")  # metadata and producer id
        value = VALUE % (b"a" * 300)
        started = time.process_time()
        acknowledged: list[asyncio.Future[Any]] = []
        for first in range(0, count, ROUND):
            keys = [str(number).encode() for number in range(first, min(first + ROUND, count))]
            if batched:
                batches = Batches(producer)
                for key in keys:
                    await batches.add(topic, key, value)
                acknowledged.append(await batches.send())
            else:
                acknowledged += [await producer.send(topic, value, key=key) for key in keys]
        await asyncio.gather(*acknowledged)
        return time.process_time() - started
    finally:
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000, help="records a round")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each")
    args = parser.parse_args()
    costs: dict[str, list[float]] = {"send": [], "Batches": []}
    with tempfile.TemporaryDirectory() as tmp, own_broker(tmp) as env:
        for round_ in range(args.rounds):
            for name, cost in costs.items():
                topic = f"send-bench-{name}-{round_}"
                cpu = asyncio.run(send_all(env["ADUAN_BROKER"], topic, args.count, name != "send"))
                cost.append(cpu / args.count)
    for name, per_record in costs.items():
        print(f"{name}: CPU a record {', '.join(f'{1e6 * cpu:.1f} µs' for cpu in per_record)}")
    ratios = [b / s for b, s in zip(costs["Batches"], costs["send"], strict=True)]
    print(f"Batches / send, round by round: {', '.join(f'{ratio:.2f}x' for ratio in ratios)}")


if __name__ == "__main__":
    main()
