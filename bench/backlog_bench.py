"""RAM cost of a long AMQP queue backlog: bytes of broker RAM per queued message.

    python bench/backlog_bench.py                                # own `mqgateway serve --data-dir <tmp>`
    python bench/backlog_bench.py --messages 500000 --size 256
    python bench/backlog_bench.py --variant persistent           # only one of the two variants
    python bench/backlog_bench.py --rabbitmq-url amqp://guest:guest@127.0.0.1:5673/ \\
        --rabbitmq-pid "$(cat ${TMPDIR:-/tmp}/mqgw-rabbitmq/node.pid)"   # same workload on RabbitMQ

Each variant gets a fresh `mqgateway serve --data-dir <tmp>` (so one variant's freed but not
returned heap does not count against the next). The server's resident set size (RSS,
/proc/<pid>/statm × page size) is read after start-up and again after a warm-up (a few
thousand messages published, confirmed and consumed through a throw-away queue, so the
code paths, the allocator's arenas and the AMQP session are in place). Then N messages of
--size bytes are published into ONE queue with publisher confirms (at most --window
unconfirmed; a batch is written, then the confirm of its last message awaited), nothing
consuming; after --settle seconds RSS is read again. The figure is

    (RSS after publishing - RSS after warm-up) / N   = bytes of RAM per queued message

for two variants: persistent messages (delivery_mode 2) in a durable queue, and transient
ones (delivery_mode 1) in a non-durable queue. With a disk store both keep message bodies
in RAM only up to the queue's 8 MiB budget (engine/messaging/queue.py DEFAULT_RAM_BUDGET)
and page the rest out to the queue's segment files, so for a long backlog the figure is
dominated by what stays in RAM per message regardless of its body: the queue entry (plus
that first 8 MiB of resident bodies spread over N).

Finally one consumer (basic.consume no-ack) drains the queue, to show every message is
there: the number of deliveries must equal N (queue.declare passive reports N before and
0 after), and the consume rate is printed.

The client speaks AMQP on plain sockets (bench/dlx_bench.py's `Client`), so a Python client
library does not bound the rates. `--rabbitmq-url` repeats the publish and drain against a
RabbitMQ; its memory is read the same way only when `--rabbitmq-pid` names its beam process
(RabbitMQ's own accounting differs; RSS is the comparable number).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from pamqp import commands

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.amqp_bench import start_gateway  # noqa: E402
from bench.dlx_bench import Client, deliveries, publish_confirmed  # noqa: E402

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MIB = 1024 * 1024
WARMUP_MESSAGES = 20_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Variant:
    name: str
    durable: bool
    delivery_mode: int


VARIANTS = {
    "persistent": Variant(name="persistent", durable=True, delivery_mode=2),
    "transient": Variant(name="transient", durable=False, delivery_mode=1),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    broker: str
    variant: str
    queued: int  # message_count of queue.declare-ok after publishing
    rss_start: int | None  # bytes, after start-up (None: not measurable)
    rss_before: int | None  # after the warm-up
    rss_after: int | None  # after publishing N and settling
    publish_rate: float
    consumed: int
    consume_rate: float
    left: int  # message_count after the drain

    @property
    def per_message(self) -> float | None:
        if self.rss_before is None or self.rss_after is None or not self.queued:
            return None
        return (self.rss_after - self.rss_before) / self.queued


def rss(pid: int | None) -> int | None:
    """Resident set size of `pid` in bytes (second field of /proc/<pid>/statm, in pages)."""
    if pid is None:
        return None
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE_SIZE


async def declare(client: Client, queue: str, *, durable: bool = False, passive: bool = False) -> int:
    client.send(1, commands.Queue.Declare(queue=queue, durable=durable, passive=passive))
    ok = await client.expect(commands.Queue.DeclareOk)
    return ok.message_count


async def publish(client: Client, queue: str, count: int, size: int, delivery_mode: int, window: int) -> float:
    """Publishes `count` messages with confirms; returns the seconds taken until the last confirm."""
    return await publish_confirmed(client, queue, count, size, commands.Basic.Properties(delivery_mode=delivery_mode),
                                   window)


async def drain(client: Client, queue: str, count: int, timeout: float) -> tuple[int, float]:
    """Consumes `count` messages with no-ack; returns (deliveries seen, seconds)."""
    started = time.perf_counter()
    client.send(1, commands.Basic.Consume(queue=queue, consumer_tag="drain", no_ack=True))
    # deliveries() reads until `count` basic.deliver frames arrived: a short queue times out here
    done = await asyncio.wait_for(deliveries(client, count), timeout)
    return count, done - started


async def warm_up(url: str, size: int, window: int, timeout: float) -> None:
    client = await Client.connect(url)
    queue = f"backlog-warmup-{uuid.uuid4().hex[:8]}"
    await declare(client, queue)
    client.send(1, commands.Confirm.Select())
    await client.expect(commands.Confirm.SelectOk)
    await publish(client, queue, WARMUP_MESSAGES, size, 1, window)
    await client.close()
    consumer = await Client.connect(url)
    await drain(consumer, queue, WARMUP_MESSAGES, timeout)
    await consumer.close()
    cleanup = await Client.connect(url)
    cleanup.send(1, commands.Queue.Delete(queue=queue))
    await cleanup.expect(commands.Queue.DeleteOk)
    await cleanup.close()


async def measure(broker: str, url: str, pid: int | None, variant: Variant, args) -> Result:
    rss_start = rss(pid)
    await warm_up(url, args.size, args.window, args.timeout)
    await asyncio.sleep(args.settle)
    rss_before = rss(pid)

    queue = f"backlog-{variant.name}-{uuid.uuid4().hex[:8]}"
    publisher = await Client.connect(url)
    await declare(publisher, queue, durable=variant.durable)
    publisher.send(1, commands.Confirm.Select())
    await publisher.expect(commands.Confirm.SelectOk)
    seconds = await publish(publisher, queue, args.messages, args.size, variant.delivery_mode, args.window)
    await asyncio.sleep(args.settle)
    rss_after = rss(pid)
    queued = await declare(publisher, queue, passive=True)
    await publisher.close()

    consumer = await Client.connect(url)
    consumed, drain_seconds = await drain(consumer, queue, queued, args.timeout)
    await consumer.close()
    checker = await Client.connect(url)
    left = await declare(checker, queue, passive=True)
    checker.send(1, commands.Queue.Delete(queue=queue))
    await checker.expect(commands.Queue.DeleteOk)
    await checker.close()
    return Result(broker=broker, variant=variant.name, queued=queued, rss_start=rss_start, rss_before=rss_before,
                  rss_after=rss_after, publish_rate=args.messages / seconds, consumed=consumed,
                  consume_rate=consumed / drain_seconds, left=left)


def on_own_gateway(variant: Variant, args) -> Result:
    with tempfile.TemporaryDirectory(prefix="backlog-bench-") as tmp:
        proc, url = start_gateway(Path(tmp) / "data")
        try:
            time.sleep(args.settle)  # let start-up finish (imports, recovery) before the first reading
            return asyncio.run(measure("mqgateway", url, proc.pid, variant, args))
        finally:
            proc.terminate()
            proc.wait(30)


def mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / MIB:,.1f}"


def report(results: list[Result], args) -> None:
    print(f"{args.messages:,} messages of {args.size} B into one queue, publisher confirms "
          f"(window {args.window}), nothing consuming; RSS read {args.settle:g} s after publishing")
    head = (f"{'broker':<10} {'variant':<11} {'queued':>9} {'RSS start':>10} {'RSS before':>11} {'RSS after':>10} "
            f"{'B/msg':>7} {'publish/s':>10} {'consume/s':>10} {'consumed':>9} {'left':>5}")
    print(head)
    for r in results:
        per = "n/a" if r.per_message is None else f"{r.per_message:,.0f}"
        print(f"{r.broker:<10} {r.variant:<11} {r.queued:>9,} {mib(r.rss_start):>10} {mib(r.rss_before):>11} "
              f"{mib(r.rss_after):>10} {per:>7} {r.publish_rate:>10,.0f} {r.consume_rate:>10,.0f} "
              f"{r.consumed:>9,} {r.left:>5}")
    print("RSS in MiB; B/msg = (RSS after - RSS before) / queued = bytes of broker RAM per queued message")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", "-n", type=int, default=500_000)
    parser.add_argument("--size", type=int, default=256, help="body bytes")
    parser.add_argument("--variant", choices=["both", *VARIANTS], default="both")
    parser.add_argument("--window", type=int, default=1000, help="unconfirmed publishes in flight")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to wait before reading RSS")
    parser.add_argument("--rabbitmq-url", help="also run the publish and drain against this RabbitMQ")
    parser.add_argument("--rabbitmq-pid", type=int, help="RabbitMQ's beam process, to read its RSS")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)

    variants = list(VARIANTS.values()) if args.variant == "both" else [VARIANTS[args.variant]]
    results = []
    for variant in variants:
        results.append(on_own_gateway(variant, args))
        if args.rabbitmq_url:
            results.append(asyncio.run(measure("RabbitMQ", args.rabbitmq_url, args.rabbitmq_pid, variant, args)))
    report(results, args)
    failed = [r for r in results if r.queued != args.messages or r.consumed != args.messages or r.left != 0]
    for r in failed:
        print(f"FAILED: {r.broker} {r.variant}: queued {r.queued}, consumed {r.consumed}, left {r.left}, "
              f"expected {args.messages}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
