"""AMQP throughput, side by side: mqgateway and a real RabbitMQ driven by the same client.

    python bench/amqp_bench.py                            # own `mqgateway serve` + RabbitMQ on 127.0.0.1:5673
    python bench/amqp_bench.py --start-rabbitmq           # also start (and stop) the node of .ci/rabbitmq.sh
    python bench/amqp_bench.py --gateway-url amqp://...  --rabbitmq-url amqp://...
    python bench/amqp_bench.py --messages 200000 --size 1024 --runs 3 [--persistent] [--client aio-pika]

The workload is one queue, one publisher with pipelined publisher confirms (up to --window
unconfirmed) and one consumer on its own connection with manual acks (prefetch --prefetch,
acked `multiple` every prefetch/2), messages of --size bytes (default 1 KiB). Publisher and
consumer run at the same time. Two rates are printed per broker: "publish" (published and
confirmed msg/s) and "end-to-end" (every message consumed and acked, msg/s), plus the ratio
mqgateway / RabbitMQ for each. The best of --runs runs is reported, since the machine is shared.

The client is the Go load generator in shared/tools/amqpperf (amqp091-go), built into a
temporary directory at run time, because a Python client saturates a core at ~10 k msg/s and
would measure itself rather than the broker. When Go or that source is missing, an aio-pika
client doing the same thing is used instead (its numbers are client-bound; the ratio still
compares the brokers under the same client).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DEFAULT_RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5673/"
AMQPPERF_LINE = re.compile(r"published\+confirmed (\d+) msg/s \| end-to-end (\d+) msg/s")


@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    publish: float
    end_to_end: float


# -- brokers --------------------------------------------------------------------------------

def reachable(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 5672), timeout=1):
            return True
    except OSError:
        return False


def start_gateway(data_dir: Path | None):
    from tests.server import free_port, wait_for_port

    kafka_port, amqp_port = free_port(), free_port()
    cmd = [sys.executable, "-m", "gateway", "serve", "--kafka", f"127.0.0.1:{kafka_port}",
           "--amqp", f"127.0.0.1:{amqp_port}", "--log-level", "warning"]
    cmd += ["--memory"] if data_dir is None else ["--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    wait_for_port(amqp_port)
    return proc, f"amqp://guest:guest@127.0.0.1:{amqp_port}/"


# -- amqpperf (Go) --------------------------------------------------------------------------

def side_by_side(args, data_dir: Path, cleanup: list) -> tuple[str, str | None]:
    """mqgateway's URL (`--gateway-url`, else our own server on `data_dir` or in memory) and
    RabbitMQ's, when one is reachable (`--start-rabbitmq` starts .ci/rabbitmq.sh's node).
    What must be undone afterwards is appended to `cleanup`."""
    gateway_url = args.gateway_url
    if gateway_url is None:
        proc, gateway_url = start_gateway(None if args.memory else data_dir)
        cleanup.append(lambda: (proc.terminate(), proc.wait(15)))
    if args.start_rabbitmq:
        subprocess.run(["bash", str(ROOT / ".ci" / "rabbitmq.sh"), "start"], check=True)
        cleanup.append(lambda: subprocess.run(["bash", str(ROOT / ".ci" / "rabbitmq.sh"), "stop"]))
    return gateway_url, (args.rabbitmq_url if reachable(args.rabbitmq_url) else None)


def default_amqpperf_src() -> Path:
    return Path(os.environ.get("MQGW_AMQPPERF_SRC", ROOT.parent / "shared" / "tools" / "amqpperf"))


def build_amqpperf(src: Path, out_dir: Path) -> Path | None:
    """Builds amqpperf against Debian's golang-github-rabbitmq-amqp091-go-dev; None if impossible."""
    go = shutil.which("go")
    if go is None or not (src / "main.go").exists():
        return None
    binary = out_dir / "amqpperf"
    env = dict(os.environ, GOPATH="/usr/share/gocode", GO111MODULE="off", GOCACHE=str(out_dir / "gocache"),
               GOFLAGS="")
    result = subprocess.run([go, "build", "-o", str(binary), "."], cwd=src, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"amqpperf build failed, falling back to aio-pika:\n{result.stderr}", file=sys.stderr)
        return None
    return binary


def run_amqpperf(binary: Path, url: str, args) -> Rates:
    cmd = [str(binary), "-url", url, "-n", str(args.messages), "-size", str(args.size),
           "-window", str(args.window), "-prefetch", str(args.prefetch)]
    if args.persistent:
        cmd.append("-persistent")
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    match = AMQPPERF_LINE.search(result.stdout)
    if result.returncode != 0 or match is None:
        raise RuntimeError(f"amqpperf failed against {url}: {result.stdout}{result.stderr}")
    return Rates(publish=float(match.group(1)), end_to_end=float(match.group(2)))


# -- aio-pika fallback ----------------------------------------------------------------------

async def aio_pika_run(url: str, args) -> Rates:
    import aio_pika

    queue_name = f"amqp-bench-{uuid.uuid4().hex[:8]}"
    pub_conn = await aio_pika.connect(url)
    con_conn = await aio_pika.connect(url)
    try:
        pub_ch = await pub_conn.channel(publisher_confirms=True)
        queue = await pub_ch.declare_queue(queue_name, durable=args.persistent)
        con_ch = await con_conn.channel(publisher_confirms=False)
        await con_ch.set_qos(prefetch_count=args.prefetch)
        con_queue = await con_ch.declare_queue(queue_name, passive=True)
        done = asyncio.get_running_loop().create_future()
        received = 0
        ack_every = max(1, args.prefetch // 2)

        async def on_message(message):
            nonlocal received
            received += 1
            if received % ack_every == 0 or received == args.messages:
                await message.ack(multiple=True)
            if received == args.messages and not done.done():
                done.set_result(time.perf_counter())

        consumer_tag = await con_queue.consume(on_message)
        body = os.urandom(args.size)
        mode = aio_pika.DeliveryMode.PERSISTENT if args.persistent else aio_pika.DeliveryMode.NOT_PERSISTENT
        exchange = pub_ch.default_exchange
        started = time.perf_counter()
        # pipelined confirms: a window of publishes in flight, awaited together
        for first in range(0, args.messages, args.window):
            count = min(args.window, args.messages - first)
            await asyncio.gather(*(exchange.publish(aio_pika.Message(body, delivery_mode=mode), routing_key=queue_name)
                                   for _ in range(count)))
        published = time.perf_counter()
        finished = await asyncio.wait_for(done, args.timeout)
        await con_queue.cancel(consumer_tag)
        await queue.delete(if_unused=False, if_empty=False)
        return Rates(publish=args.messages / (published - started), end_to_end=args.messages / (finished - started))
    finally:
        await con_conn.close()
        await pub_conn.close()


# -- driver ---------------------------------------------------------------------------------

def best_of(runs: int, measure) -> Rates:
    results = [measure() for _ in range(runs)]
    return Rates(publish=max(r.publish for r in results), end_to_end=max(r.end_to_end for r in results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gateway-url", help="an already running mqgateway; default: start one")
    parser.add_argument("--memory", action="store_true", help="start mqgateway with the memory backend")
    parser.add_argument("--rabbitmq-url", default=DEFAULT_RABBITMQ_URL)
    parser.add_argument("--start-rabbitmq", action="store_true", help="start/stop RabbitMQ with .ci/rabbitmq.sh")
    parser.add_argument("--messages", "-n", type=int, default=200_000)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--window", type=int, default=1000, help="unconfirmed publishes in flight")
    parser.add_argument("--prefetch", type=int, default=1000)
    parser.add_argument("--persistent", action="store_true", help="durable queue and persistent messages")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--client", choices=["auto", "amqpperf", "aio-pika"], default="auto")
    parser.add_argument("--amqpperf-src", type=Path, default=default_amqpperf_src())
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)

    cleanup = []
    with tempfile.TemporaryDirectory(prefix="amqp-bench-") as tmp:
        tmp_path = Path(tmp)
        try:
            binary = None
            if args.client in ("auto", "amqpperf"):
                binary = build_amqpperf(args.amqpperf_src, tmp_path)
                if binary is None and args.client == "amqpperf":
                    print("amqpperf could not be built (need go, golang-github-rabbitmq-amqp091-go-dev and "
                          f"{args.amqpperf_src}/main.go)", file=sys.stderr)
                    return 2
            client = "amqpperf (Go, amqp091-go)" if binary else "aio-pika"

            def measure(url: str) -> Rates:
                if binary:
                    return best_of(args.runs, lambda: run_amqpperf(binary, url, args))
                return best_of(args.runs, lambda: asyncio.run(aio_pika_run(url, args)))

            gateway_url, rabbit_url = side_by_side(args, tmp_path / "data", cleanup)

            print(f"client: {client}; {args.messages} messages of {args.size} B, one queue, "
                  f"confirm window {args.window}, prefetch {args.prefetch}, "
                  f"{'persistent/durable' if args.persistent else 'transient'}, best of {args.runs}")
            results = {"mqgateway": measure(gateway_url)}
            if rabbit_url:
                results["RabbitMQ"] = measure(rabbit_url)
            else:
                print(f"no RabbitMQ reachable at {args.rabbitmq_url} (try --start-rabbitmq): no ratio")
            print(f"{'broker':<10} {'publish msg/s':>14} {'end-to-end msg/s':>17}")
            for name, rates in results.items():
                print(f"{name:<10} {rates.publish:>14,.0f} {rates.end_to_end:>17,.0f}")
            if rabbit_url:
                g, r = results["mqgateway"], results["RabbitMQ"]
                print(f"{'ratio':<10} {g.publish / r.publish:>14.2f} {g.end_to_end / r.end_to_end:>17.2f}"
                      "   (mqgateway / RabbitMQ; target >= 1.0)")
        finally:
            for step in reversed(cleanup):
                step()
    return 0


if __name__ == "__main__":
    sys.exit(main())
