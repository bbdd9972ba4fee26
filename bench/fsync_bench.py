"""The cost of each `--fsync` policy where it is plugged in.

    python bench/fsync_bench.py                      # both parts, every policy
    python bench/fsync_bench.py --part syncer --writers 1 8 64
    python bench/fsync_bench.py --part commits --connections 1 8 32 --seconds 5

Two parts:

- syncer:  engine/durability.py alone, in-process, on files in a temp dir on the data disk.
           W writers (asyncio tasks) each append a 1 KiB record to their own file, report it
           and wait for the syncer's barrier before the next append — the shape of a storage
           subsystem acknowledging appends. Prints acknowledged appends/s, fsync calls per
           append (group commit makes it fall as W grows) and the ack latency.
- commits: the groups journal, end to end: a real `mqgateway serve --data-dir` per policy,
           C raw Kafka connections each sending OffsetCommit v8 back to back for S seconds.
           Prints commits/s and latency (p50, p99). This is the only Kafka path whose
           acknowledgements the policy governs until engine/log and engine/messaging take
           part (docs/operations.md, "Fsync policy").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POLICIES = ("never", "interval", "always")


# -- part 1: the syncer alone ---------------------------------------------------------------------
async def _syncer_run(policy: str, writers: int, seconds: float, directory: Path, *, shared: bool) -> dict:
    from engine.durability import Syncer

    syncer = Syncer(policy, interval_ms=1000)
    record = b"x" * 1024
    acks = 0
    latencies: list[float] = []
    files = 1 if shared else writers
    handles = [syncer.track(os.open(directory / f"w{i}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
                            f"w{i}") for i in range(files)]
    deadline = time.monotonic() + seconds

    async def writer(handle) -> None:
        nonlocal acks
        while time.monotonic() < deadline:
            started = time.perf_counter()
            mark = syncer.seq
            os.write(handle.fd, record)
            handle.written()
            waiter = syncer.barrier(since=mark)
            if waiter is not None:
                await waiter
            else:
                await asyncio.sleep(0)  # let the others run, as a real loop would
            latencies.append(time.perf_counter() - started)
            acks += 1

    started = time.monotonic()
    await asyncio.gather(*(writer(handles[i % files]) for i in range(writers)))
    elapsed = time.monotonic() - started
    fsyncs = syncer.fsyncs
    for handle in handles:
        handle.close()
    syncer.close()
    latencies.sort()
    return {"acks_per_s": acks / elapsed, "fsyncs_per_ack": fsyncs / max(acks, 1),
            "p50_ms": latencies[len(latencies) // 2] * 1000, "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000}


def bench_syncer(writer_counts: list[int], seconds: float, data_dir: Path) -> None:
    print(f"\nsyncer: 1 KiB appends, each acknowledged per policy ({seconds:g} s per row; files in {data_dir})")
    print("  one file: all writers append to one file (a journal, a partition with many producers)")
    print("  own file: each writer has its own (many partitions or queues)")
    print(f"{'policy':9} {'files':9} {'writers':>7} {'acks/s':>10} {'fsync/ack':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for policy in POLICIES:
        for shared in (True, False):
            for writers in writer_counts:
                if writers == 1 and not shared:
                    continue
                with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
                    r = asyncio.run(_syncer_run(policy, writers, seconds, Path(tmp), shared=shared))
                print(f"{policy:9} {'one file' if shared else 'own file':9} {writers:>7} {r['acks_per_s']:>10.0f} "
                      f"{r['fsyncs_per_ack']:>10.4f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}", flush=True)


# -- part 2: OffsetCommit through a real server -------------------------------------------------
def _commit_frame(correlation_id: int, group: str, offset: int) -> bytes:
    from kafka_wire.build import make
    from tests.kafka_wire.groupraw import schema
    from tests.reliability.support import kafka_frame

    m = schema("offset_commit", 8)
    request = make(
        m.OffsetCommitRequest, group_id=group, generation_id_or_member_epoch=-1, member_id="", group_instance_id=None,
        topics=(m.OffsetCommitRequestTopic(name="bench", partitions=(
            make(m.OffsetCommitRequestPartition, partition_index=0, committed_offset=offset, committed_leader_epoch=-1,
                 committed_metadata=""),)),))
    return kafka_frame(request, correlation_id=correlation_id)


def _committer(port: int, index: int, seconds: float, latencies: list[float], barrier: threading.Barrier) -> None:
    from tests.reliability.support import read_frame

    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    frames = [_commit_frame(i, f"bench-{index}", i) for i in range(256)]
    barrier.wait()
    deadline = time.monotonic() + seconds
    n = 0
    while time.monotonic() < deadline:
        started = time.perf_counter()
        sock.sendall(frames[n % 256])
        frame = read_frame(sock)
        assert struct.unpack_from(">i", frame)[0] == n % 256
        latencies.append(time.perf_counter() - started)
        n += 1
    sock.close()


def bench_commits(connection_counts: list[int], seconds: float, data_dir: Path) -> None:
    from tests.reliability.support import kafka_frame, read_frame
    from tests.kafka_wire.kafka_requests import metadata
    from tests.server import free_port, wait_for_port

    print(f"\nOffsetCommit v8 through `mqgateway serve --data-dir` ({seconds:g} s per row; data in {data_dir})")
    print(f"{'policy':9} {'conns':>5} {'commits/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    for policy in POLICIES:
        with tempfile.TemporaryDirectory(dir=data_dir) as tmp:
            port, amqp_port = free_port(), free_port()
            proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve", "--kafka", f"127.0.0.1:{port}",
                                     "--amqp", f"127.0.0.1:{amqp_port}", "--data-dir", tmp, "--fsync", policy,
                                     "--log-level", "warning"], cwd=ROOT)
            try:
                wait_for_port(port)
                with socket.create_connection(("127.0.0.1", port)) as sock:
                    sock.sendall(kafka_frame(metadata(12, ["bench"])))
                    read_frame(sock)
                for connections in connection_counts:
                    latencies: list[float] = []
                    barrier = threading.Barrier(connections + 1)
                    threads = [threading.Thread(target=_committer, args=(port, i, seconds, latencies, barrier))
                               for i in range(connections)]
                    for thread in threads:
                        thread.start()
                    barrier.wait()
                    started = time.monotonic()
                    for thread in threads:
                        thread.join()
                    elapsed = time.monotonic() - started
                    latencies.sort()
                    print(f"{policy:9} {connections:>5} {len(latencies) / elapsed:>10.0f} "
                          f"{statistics.median(latencies) * 1000:>8.2f} "
                          f"{latencies[int(len(latencies) * 0.99)] * 1000:>8.2f}", flush=True)
            finally:
                proc.terminate()
                proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("syncer", "commits", "both"), default="both")
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the files go: put it on the disk the broker would use")
    args = parser.parse_args()
    if args.part in ("syncer", "both"):
        bench_syncer(args.writers, args.seconds, args.data_dir)
    if args.part in ("commits", "both"):
        bench_commits(args.connections, args.seconds, args.data_dir)


if __name__ == "__main__":
    main()
