"""kcat (Debian's, librdkafka 2.0.2) against a real server: auto-create by producing, keys and
headers, consume from the beginning to the end (-e), offsets by timestamp (-Q), seek (-o).

This librdkafka is old enough to misread flexible responses carrying defaulted tagged
fields (reference/kafka-clients.md, "Measured here"), so it also guards our encodings.
"""

from __future__ import annotations

import subprocess
import time

from tests.compat.kafka_helpers import topic_name


def kcat(bootstrap: str, *args: str, data: bytes | None = None) -> str:
    proc = subprocess.run(["kcat", "-b", bootstrap, *args], input=data, capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc.stdout.decode()


def test_produce_auto_creates_then_consume_from_beginning(kafka_bootstrap):
    topic = topic_name("kcat")
    lines = b"".join(b"key-%d:value-%d\n" % (i % 4, i) for i in range(50))
    kcat(kafka_bootstrap, "-P", "-t", topic, "-p", "0", "-K:", "-H", "origin=kcat", "-H", "bin=x\x01y", data=lines)
    out = kcat(kafka_bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%p|%o|%k|%s|%h\n")
    rows = [line.split("|") for line in out.splitlines()]
    assert [r[1] for r in rows] == [str(i) for i in range(50)]
    assert [(r[2], r[3]) for r in rows] == [(f"key-{i % 4}", f"value-{i}") for i in range(50)]
    assert all(r[4] == "origin=kcat,bin=x\x01y" for r in rows)
    metadata = kcat(kafka_bootstrap, "-L", "-t", topic)
    assert f'topic "{topic}" with 1 partitions' in metadata


def test_query_offsets_by_timestamp_and_seek(kafka_bootstrap):
    topic = topic_name("kcat-ts")
    base = int(time.time() * 1000) - 100_000
    # kcat -P stamps each message with the wall clock: read the stamps back, then query by one.
    for i in range(5):
        kcat(kafka_bootstrap, "-P", "-t", topic, "-p", "0", data=b"v%d\n" % i)
    out = kcat(kafka_bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-f", "%o %T\n")
    stamps = [int(line.split()[1]) for line in out.splitlines()]
    assert len(stamps) == 5 and stamps == sorted(stamps) and stamps[0] > base
    query = kcat(kafka_bootstrap, "-Q", "-t", f"{topic}:0:{stamps[3]}")
    assert f"offset {next(i for i, s in enumerate(stamps) if s >= stamps[3])}" in query
    tail = kcat(kafka_bootstrap, "-C", "-t", topic, "-o", "3", "-e", "-f", "%o:%s\n")
    assert tail.splitlines() == ["3:v3", "4:v4"]
    end = kcat(kafka_bootstrap, "-C", "-t", topic, "-o", "-1", "-e", "-f", "%o:%s\n")
    assert end.splitlines() == ["4:v4"]
