"""Dead-lettering throughput, side by side: mqgateway and a real RabbitMQ, the same client for both.

    python bench/dlx_bench.py                             # own `mqgateway serve --data-dir <tmp>` + RabbitMQ on :5673
    python bench/dlx_bench.py --start-rabbitmq            # also start (and stop) the node of .ci/rabbitmq.sh
    python bench/dlx_bench.py --messages 100000 --size 1024 --runs 3 [--persistent] [--queue-type quorum]
    python bench/dlx_bench.py --gateway-url amqp://...  --rabbitmq-url amqp://...

The workload: a source queue with `x-dead-letter-exchange` set (a direct exchange routing to one
dead-letter queue) is filled with N messages; then one consumer (prefetch 1000) rejects every
delivery with `basic.nack requeue=false multiple=true` every 500 deliveries, while a second
consumer drains the dead-letter queue with no-ack. The figure is N / (time from the first
basic.consume until the N-th dead-lettered message arrived), in msg/s: each message crosses the
broker twice (delivered, rejected, dead-lettered with its x-death header, delivered again).

The client speaks AMQP on plain sockets and reads only frame headers and delivery tags, so it
stays far from being the bottleneck (a Python client library would measure itself): pamqp
builds the handshake and the few methods, the hot loop is `struct` on the received bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import struct
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

from pamqp import commands, frame as pframe, header
from pamqp.body import ContentBody

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.amqp_bench import DEFAULT_RABBITMQ_URL, side_by_side  # noqa: E402

_HDR = struct.Struct(">BHI")
_METHOD = struct.Struct(">HH")
_TAG = struct.Struct(">Q")
PREFETCH = 1000
NACK_EVERY = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    rate: float  # dead-lettered msg/s
    seconds: float


class Client:
    """One AMQP connection over asyncio streams; channel 1 only."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, url: str) -> "Client":
        parts = urllib.parse.urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port or 5672)
        client = cls(reader, writer)
        writer.write(b"AMQP\x00\x00\x09\x01")
        await client.expect(commands.Connection.Start)
        user = urllib.parse.unquote(parts.username or "guest")
        password = urllib.parse.unquote(parts.password or "guest")
        client.send(0, commands.Connection.StartOk(
            client_properties={"product": "dlx_bench", "capabilities": {"basic.nack": True,
                                                                        "publisher_confirms": True}},
            mechanism="PLAIN", response=f"\x00{user}\x00{password}"))
        tune = await client.expect(commands.Connection.Tune)
        client.send(0, commands.Connection.TuneOk(channel_max=tune.channel_max, frame_max=tune.frame_max,
                                                  heartbeat=0))
        vhost = urllib.parse.unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
        client.send(0, commands.Connection.Open(virtual_host=vhost))
        await client.expect(commands.Connection.OpenOk)
        client.send(1, commands.Channel.Open())
        await client.expect(commands.Channel.OpenOk)
        return client

    def send(self, channel: int, value) -> None:
        self.writer.write(pframe.marshal(value, channel))

    async def read_frame(self) -> tuple[int, int, bytes]:
        head = await self.reader.readexactly(7)
        frame_type, channel, size = _HDR.unpack(head)
        payload = await self.reader.readexactly(size + 1)
        return frame_type, channel, payload[:-1]

    async def expect(self, cls):
        while True:
            frame_type, _channel, payload = await self.read_frame()
            if frame_type != 1:
                continue
            _consumed, _channel, value = pframe.unmarshal(_HDR.pack(frame_type, _channel, len(payload)) + payload
                                                          + b"\xce")
            if isinstance(value, (commands.Connection.Close, commands.Channel.Close)):
                raise RuntimeError(f"broker closed: {value.reply_code} {value.reply_text}")
            if isinstance(value, cls):
                return value

    async def close(self) -> None:
        self.send(0, commands.Connection.Close(reply_code=200, reply_text="bye", class_id=0, method_id=0))
        try:
            await asyncio.wait_for(self.expect(commands.Connection.CloseOk), 5)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, RuntimeError):
            pass
        self.writer.close()


async def deliveries(client: Client, count: int, on_tag=None) -> float:
    """Reads until `count` basic.deliver frames arrived; returns the time of the last one."""
    reader = client.reader
    buf = bytearray()
    seen = 0
    while seen < count:
        chunk = await reader.read(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed by the broker")
        buf += chunk
        pos = 0
        end = len(buf)
        last_tag = 0
        while end - pos >= 7:
            frame_type, _channel, size = _HDR.unpack_from(buf, pos)
            if end - pos < size + 8:
                break
            if frame_type == 1:
                class_id, method_id = _METHOD.unpack_from(buf, pos + 7)
                if class_id == 60 and method_id == 60:
                    seen += 1
                    tag_at = pos + 11 + 1 + buf[pos + 11]  # after the consumer tag shortstr
                    last_tag = _TAG.unpack_from(buf, tag_at)[0]
                elif class_id in (10, 20) and method_id == 40:
                    raise RuntimeError("the broker closed the channel or connection")
            pos += size + 8
        del buf[:pos]
        if on_tag is not None and last_tag:
            on_tag(last_tag)
    return time.perf_counter()


async def publish_confirmed(client: Client, queue: str, count: int, size: int,
                            properties: commands.Basic.Properties | None = None, window: int = 1000) -> float:
    """Publishes `count` random bodies of `size` bytes to `queue` on a channel in confirm mode,
    at most `window` unconfirmed; returns the seconds until the last confirm."""
    body = os.urandom(size)
    one = (pframe.marshal(commands.Basic.Publish(exchange="", routing_key=queue), 1)
           + pframe.marshal(header.ContentHeader(0, len(body), properties or commands.Basic.Properties()), 1)
           + pframe.marshal(ContentBody(body), 1))
    started = time.perf_counter()
    sent = 0
    while sent < count:
        batch = min(window, count - sent)
        client.writer.write(one * batch)
        sent += batch
        await client.writer.drain()
        # confirms are cumulative (multiple=true) or one by one; wait for the batch's last tag
        while True:
            ack = await client.expect((commands.Basic.Ack, commands.Basic.Nack))
            if isinstance(ack, commands.Basic.Nack):
                raise RuntimeError(f"publish {ack.delivery_tag} nacked")
            if ack.delivery_tag >= sent:
                break
    return time.perf_counter() - started


async def fill(url: str, queue: str, args, dlq: str, dlx: str) -> None:
    client = await Client.connect(url)
    source_args = {"x-dead-letter-exchange": dlx}
    if args.queue_type == "quorum":
        source_args["x-queue-type"] = "quorum"
    durable = args.persistent or args.queue_type == "quorum"
    client.send(1, commands.Exchange.Declare(exchange=dlx, exchange_type="direct", durable=durable))
    await client.expect(commands.Exchange.DeclareOk)
    client.send(1, commands.Queue.Declare(queue=dlq, durable=durable))
    await client.expect(commands.Queue.DeclareOk)
    client.send(1, commands.Queue.Bind(queue=dlq, exchange=dlx, routing_key=queue))
    await client.expect(commands.Queue.BindOk)
    client.send(1, commands.Queue.Declare(queue=queue, durable=durable, arguments=source_args))
    await client.expect(commands.Queue.DeclareOk)
    client.send(1, commands.Confirm.Select())
    await client.expect(commands.Confirm.SelectOk)
    await publish_confirmed(client, queue, args.messages, args.size,
                            commands.Basic.Properties(delivery_mode=2 if args.persistent else 1))
    await client.close()


async def run_once(url: str, args) -> Result:
    queue = f"dlx-bench-{uuid.uuid4().hex[:8]}"
    dlq, dlx = f"{queue}.dead", f"{queue}.dlx"
    await fill(url, queue, args, dlq, dlx)
    rejecter = await Client.connect(url)
    drainer = await Client.connect(url)
    drainer.send(1, commands.Basic.Consume(queue=dlq, consumer_tag="drain", no_ack=True))
    rejecter.send(1, commands.Basic.Qos(prefetch_count=PREFETCH))
    await rejecter.expect(commands.Basic.QosOk)
    nacked = 0

    def on_tag(tag: int) -> None:
        nonlocal nacked
        if tag - nacked >= NACK_EVERY or tag >= args.messages:
            rejecter.writer.write(pframe.marshal(commands.Basic.Nack(delivery_tag=tag, multiple=True, requeue=False), 1))
            nacked = tag

    started = time.perf_counter()
    rejecter.send(1, commands.Basic.Consume(queue=queue, consumer_tag="reject"))
    reject_task = asyncio.ensure_future(deliveries(rejecter, args.messages, on_tag))
    done = await asyncio.wait_for(deliveries(drainer, args.messages), args.timeout)
    await reject_task
    seconds = done - started
    cleanup = await Client.connect(url)
    for name in (queue, dlq):
        cleanup.send(1, commands.Queue.Delete(queue=name))
        await cleanup.expect(commands.Queue.DeleteOk)
    cleanup.send(1, commands.Exchange.Delete(exchange=dlx))
    await cleanup.expect(commands.Exchange.DeleteOk)
    for client in (rejecter, drainer, cleanup):
        await client.close()
    return Result(rate=args.messages / seconds, seconds=seconds)


def best_of(url: str, args) -> Result:
    results = [asyncio.run(run_once(url, args)) for _ in range(args.runs)]
    return max(results, key=lambda r: r.rate)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway-url", help="an already running mqgateway; default: start one")
    parser.add_argument("--memory", action="store_true", help="start mqgateway with the memory backend")
    parser.add_argument("--rabbitmq-url", default=DEFAULT_RABBITMQ_URL)
    parser.add_argument("--start-rabbitmq", action="store_true", help="start/stop RabbitMQ with .ci/rabbitmq.sh")
    parser.add_argument("--messages", "-n", type=int, default=100_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--persistent", action="store_true", help="durable queues and persistent messages")
    parser.add_argument("--queue-type", choices=["classic", "quorum"], default="classic",
                        help="type of the source queue (the dead-letter queue is classic)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)

    cleanup = []
    with tempfile.TemporaryDirectory(prefix="dlx-bench-") as tmp:
        try:
            gateway_url, rabbit_url = side_by_side(args, Path(tmp) / "data", cleanup)
            print(f"{args.messages} messages of {args.size} B rejected into a DLX, {args.queue_type} source queue, "
                  f"{'persistent/durable' if args.persistent else 'transient'}, prefetch {PREFETCH}, "
                  f"best of {args.runs}")
            results = {"mqgateway": best_of(gateway_url, args)}
            if rabbit_url:
                results["RabbitMQ"] = best_of(rabbit_url, args)
            else:
                print(f"no RabbitMQ reachable at {args.rabbitmq_url} (try --start-rabbitmq): no ratio")
            print(f"{'broker':<10} {'dead-lettered msg/s':>20} {'seconds':>9}")
            for name, result in results.items():
                print(f"{name:<10} {result.rate:>20,.0f} {result.seconds:>9.2f}")
            if rabbit_url:
                ratio = results["mqgateway"].rate / results["RabbitMQ"].rate
                print(f"{'ratio':<10} {ratio:>20.2f}   (mqgateway / RabbitMQ)")
        finally:
            for step in reversed(cleanup):
                step()
    return 0


if __name__ == "__main__":
    sys.exit(main())
