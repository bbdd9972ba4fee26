"""Stream-queue replay and Kafka → AMQP forwarding throughput (issues 5 and 7).

    python bench/stream_bench.py                         # own `mqgateway serve --data-dir <tmp>`, + RabbitMQ on :5673 if up
    python bench/stream_bench.py --messages 1000000 --size 100 --runs 1
    python bench/stream_bench.py --gateway-url amqp://... --rabbitmq-url amqp://... [--no-forward]

replay: a stream queue is filled with N messages (publisher confirms, in windows of 1000; the
fill rate is also the AMQP → Kafka figure, a stream being a topic), then one AMQP consumer
(prefetch 1000, `x-stream-offset: first`, ack multiple every 500) reads all N; the figure is N /
(time from basic.consume to the N-th delivery). Run beside RabbitMQ when one is reachable.

forward (mqgateway only, needs the Kafka port): a confluent-kafka producer (lz4, linger 5 ms)
writes N records to a fresh topic while an AMQP consumer (no-ack) of a queue bound to
`amq.kafka` counts them; the figure is N / (first produce → N-th AMQP delivery).

The AMQP client is dlx_bench's raw-socket one (reads only frame headers and delivery tags).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from pamqp import commands, frame as pframe

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.amqp_bench import DEFAULT_RABBITMQ_URL, reachable  # noqa: E402
from bench.dlx_bench import Client, deliveries, publish_confirmed  # noqa: E402

PREFETCH = 1000
ACK_EVERY = 500


async def fill(url: str, queue: str, messages: int, size: int) -> None:
    client = await Client.connect(url)
    client.send(1, commands.Queue.Declare(queue=queue, durable=True, arguments={"x-queue-type": "stream"}))
    await client.expect(commands.Queue.DeclareOk)
    client.send(1, commands.Confirm.Select())
    await client.expect(commands.Confirm.SelectOk)
    await publish_confirmed(client, queue, messages, size)
    await client.close()


async def replay_once(url: str, messages: int, size: int, timeout: float) -> tuple[float, float]:
    """(replay msg/s, fill msg/s: publish + confirm into the stream, i.e. AMQP → Kafka records)."""
    queue = f"stream-bench-{uuid.uuid4().hex[:8]}"
    filling = time.perf_counter()
    await fill(url, queue, messages, size)
    fill_rate = messages / (time.perf_counter() - filling)
    consumer = await Client.connect(url)
    consumer.send(1, commands.Basic.Qos(prefetch_count=PREFETCH))
    await consumer.expect(commands.Basic.QosOk)
    acked = 0

    def on_tag(tag: int) -> None:
        nonlocal acked
        if tag - acked >= ACK_EVERY or tag >= messages:
            consumer.writer.write(pframe.marshal(commands.Basic.Ack(delivery_tag=tag, multiple=True), 1))
            acked = tag

    started = time.perf_counter()
    consumer.send(1, commands.Basic.Consume(queue=queue, consumer_tag="replay",
                                            arguments={"x-stream-offset": "first"}))
    done = await asyncio.wait_for(deliveries(consumer, messages, on_tag), timeout)
    await consumer.close()
    cleanup = await Client.connect(url)
    cleanup.send(1, commands.Queue.Delete(queue=queue))
    await cleanup.expect(commands.Queue.DeleteOk)
    await cleanup.close()
    return messages / (done - started), fill_rate


async def forward_once(url: str, bootstrap: str, messages: int, size: int, timeout: float) -> float:
    from confluent_kafka import Producer

    topic = f"fwd-bench-{uuid.uuid4().hex[:8]}"
    consumer = await Client.connect(url)
    consumer.send(1, commands.Queue.Declare(queue="", exclusive=True))
    ok = await consumer.expect(commands.Queue.DeclareOk)
    consumer.send(1, commands.Queue.Bind(queue=ok.queue, exchange="amq.kafka", routing_key=topic))
    await consumer.expect(commands.Queue.BindOk)
    consumer.send(1, commands.Basic.Consume(queue=ok.queue, consumer_tag="fwd", no_ack=True))
    await consumer.expect(commands.Basic.ConsumeOk)
    value = os.urandom(size)

    def produce() -> None:
        producer = Producer({"bootstrap.servers": bootstrap, "compression.type": "lz4", "linger.ms": 5,
                             "queue.buffering.max.messages": 1_000_000})
        for i in range(messages):
            while True:
                try:
                    producer.produce(topic, value=value, key=b"%d" % (i % 64))
                    break
                except BufferError:
                    producer.poll(0.01)
        producer.flush(60)

    started = time.perf_counter()
    produced = asyncio.get_running_loop().run_in_executor(None, produce)
    done = await asyncio.wait_for(deliveries(consumer, messages), timeout)
    await produced
    await consumer.close()
    return messages / (done - started)


def start_gateway(data_dir: Path):
    from tests.server import free_port, wait_for_port

    kafka_port, amqp_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "gateway", "serve", "--kafka", f"127.0.0.1:{kafka_port}",
           "--amqp", f"127.0.0.1:{amqp_port}", "--log-level", "warning", "--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    wait_for_port(amqp_port)
    wait_for_port(kafka_port)
    return proc, f"amqp://guest:guest@127.0.0.1:{amqp_port}/", f"127.0.0.1:{kafka_port}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--gateway-url")
    parser.add_argument("--kafka-bootstrap")
    parser.add_argument("--rabbitmq-url", default=DEFAULT_RABBITMQ_URL)
    parser.add_argument("--no-forward", action="store_true")
    args = parser.parse_args(argv)
    proc = None
    with tempfile.TemporaryDirectory() as tmp:
        url, bootstrap = args.gateway_url, args.kafka_bootstrap
        if url is None:
            proc, url, bootstrap = start_gateway(Path(tmp))
        try:
            best, fill_rate = max(asyncio.run(replay_once(url, args.messages, args.size, args.timeout))
                                  for _ in range(args.runs))
            print(f"mqgateway  stream replay from first: {best:,.0f} msg/s ({args.messages} x {args.size} B)")
            print(f"mqgateway  AMQP → Kafka (publish + confirm into a stream/topic): {fill_rate:,.0f} msg/s")
            if reachable(args.rabbitmq_url):
                best, fill_rate = max(asyncio.run(replay_once(args.rabbitmq_url, args.messages, args.size,
                                                              args.timeout)) for _ in range(args.runs))
                print(f"RabbitMQ   stream replay from first: {best:,.0f} msg/s")
                print(f"RabbitMQ   publish + confirm into a stream: {fill_rate:,.0f} msg/s")
            if not args.no_forward and bootstrap:
                best = max(asyncio.run(forward_once(url, bootstrap, args.messages, args.size, args.timeout))
                           for _ in range(args.runs))
                print(f"mqgateway  Kafka → AMQP forwarding:   {best:,.0f} records/s (produce → AMQP delivery)")
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
