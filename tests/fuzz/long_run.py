"""The deep fuzz run, by hand: both listeners for N minutes, with the well-behaved clients beside.

    python -m tests.fuzz.long_run --minutes 30            # random seed, printed
    python -m tests.fuzz.long_run --minutes 5 --seed 42 --listener kafka
    python -m tests.fuzz.long_run --atheris -- -max_total_time=600   # coverage-guided, in-process

The default mode uses the same case generators as the CI tests (cases.py) with a seeded
Random against a real `mqgateway serve` process over sockets, checks every outcome the same
way (harness.py), and every 500 cases checks the server's memory and a fresh connection. It
prints counts per listener, case kind and outcome, and stops at the first failure with the
seed and case index that reproduce it (`--seed S --start I`).

`--atheris` (pip install atheris) fuzzes in-process instead, where coverage guidance can see
the code: each input is fed to a Kafka session and an AMQP session (after a handshake) of a
broker held in memory, through stand-in links; a crash or an exception escaping a session is
the finding.
"""

from __future__ import annotations

import argparse
import collections
import random
import sys
import tempfile
import time
from pathlib import Path

from tests.fuzz.cases import amqp_case, kafka_case
from tests.fuzz.harness import Witness, check_amqp, check_kafka, run_amqp_case, run_kafka_case
from tests.reliability.support import api_versions_ok, rss_bytes
from tests.server import ServerProcess

RSS_GROWTH_LIMIT = 256 * 1024 * 1024


def run(minutes: float, seed: int, listeners: tuple[str, ...], start: int) -> int:
    print(f"seed {seed}; listeners {', '.join(listeners)}; {minutes} min", flush=True)
    counts: collections.Counter = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(Path(tmp), memory=True) as server:
        witness = Witness(server.kafka_bootstrap, server.amqp_url).start()
        time.sleep(1.0)
        baseline = peak = rss_bytes(server.proc.pid)
        deadline = time.monotonic() + minutes * 60
        index = start
        failure = None
        try:
            while time.monotonic() < deadline and failure is None:
                rnd = random.Random(f"{seed}:{index}")
                listener = listeners[index % len(listeners)]
                case = kafka_case(rnd) if listener == "kafka" else amqp_case(rnd)
                try:
                    if listener == "kafka":
                        result = run_kafka_case(server.kafka_port, case)
                        check_kafka(case, result)
                    else:
                        result = run_amqp_case(server.amqp_port, case)
                        check_amqp(case, result)
                    counts[(listener, case.kind, result.outcome.value)] += 1
                    if server.proc.poll() is not None:
                        raise AssertionError("the server process died")
                    if index % 500 == 0:
                        peak = max(peak, rss_bytes(server.proc.pid))
                        if peak - baseline > RSS_GROWTH_LIMIT:
                            raise AssertionError(f"server RSS grew {(peak - baseline) / 2**20:.0f} MiB")
                        if not api_versions_ok(server.kafka_port):
                            raise AssertionError("a fresh Kafka connection is not served")
                        if witness.errors:
                            raise AssertionError(f"a well-behaved client failed: {witness.errors}")
                except Exception as exc:  # report and stop: the seed and index reproduce it
                    failure = f"case {index} ({listener} {case.kind}, data {case.data[:120]!r}): {exc}"
                index += 1
                if index % 5000 == 0:
                    print(f"  {index - start} cases, RSS {rss_bytes(server.proc.pid) / 2**20:.1f} MiB", flush=True)
        finally:
            witness.stop()
        total = sum(counts.values())
        per_listener = collections.Counter()
        for (listener, _, _), n in counts.items():
            per_listener[listener] += n
        print(f"\n{total} cases ({', '.join(f'{k} {v}' for k, v in sorted(per_listener.items()))}); "
              f"server RSS {baseline / 2**20:.1f} MiB, peak {peak / 2**20:.1f} MiB; witness: kafka "
              f"{witness.kafka_acked} acked / {witness.kafka_consumed} consumed, amqp {witness.amqp_got} round trips, "
              f"{len(witness.errors)} errors")
        for (listener, kind, outcome), n in sorted(counts.items()):
            print(f"  {listener:6} {kind:24} {outcome:18} {n}")
        if failure is None and witness.errors:
            failure = f"well-behaved client errors: {witness.errors}"
        if failure is not None:
            print(f"\nFAILED (reproduce: --seed {seed} --start {index - 1}): {failure}")
            print(server.log()[-3000:])
            return 1
    return 0


def run_atheris(argv: list[str]) -> int:
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        print("atheris is not installed: pip install atheris", file=sys.stderr)
        return 2
    import asyncio

    with atheris.instrument_imports():
        from amqp_wire.service import AmqpService, AmqpSettings
        from engine import Engine
        from kafka_wire.service import KafkaService, KafkaSettings

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    engine = Engine(data_dir=None)
    engine.open()
    kafka = KafkaService(engine, KafkaSettings(advertised_host="127.0.0.1", advertised_port=9092))
    amqp = AmqpService(engine, AmqpSettings())

    class Link:
        peer = ("127.0.0.1", 1)
        local = ("127.0.0.1", 2)

        def __init__(self) -> None:
            self.closed = False

        def write(self, data) -> None: ...
        def writelines(self, chunks) -> None: ...
        def close(self) -> None: self.closed = True
        def abort(self) -> None: self.closed = True
        def is_closing(self) -> bool: return self.closed
        def pause_reading(self) -> None: ...
        def resume_reading(self) -> None: ...
        def write_buffer_size(self) -> int: return 0
        def is_writable(self) -> bool: return True
        def handshake_done(self) -> None: ...
        async def drain(self) -> None: ...

    def settle() -> None:
        loop.run_until_complete(asyncio.sleep(0))

    def one_input(data: bytes) -> None:
        session = kafka.new_session(Link())
        session.data_received(data)
        settle()
        session.connection_lost(None)
        link = Link()
        session = amqp.new_session(link)
        session.data_received(b"AMQP\x00\x00\x09\x01" + data)
        settle()
        session.connection_lost(None)
        settle()

    atheris.Setup([sys.argv[0], *argv], one_input)
    atheris.Fuzz()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--start", type=int, default=0, help="first case index (to reproduce a failure)")
    parser.add_argument("--listener", choices=("both", "kafka", "amqp"), default="both")
    parser.add_argument("--atheris", action="store_true", help="in-process, coverage-guided (needs atheris)")
    args, rest = parser.parse_known_args(argv)
    if args.atheris:
        return run_atheris(rest)
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    listeners = ("kafka", "amqp") if args.listener == "both" else (args.listener,)
    return run(args.minutes, seed, listeners, args.start)


if __name__ == "__main__":
    sys.exit(main())
