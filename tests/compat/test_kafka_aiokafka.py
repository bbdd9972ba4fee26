"""aiokafka 0.14 against a real server: non-flexible versions only (ApiVersions v0, Produce v7,
Fetch v11, Metadata v5, ListOffsets v3), admin create/delete, keyed produce with headers,
assign + seek consume, offsets by timestamp.
"""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.compat.kafka_helpers import keyed_records, topic_name


async def consume(bootstrap: str, tps: list, expected: int, seek: dict | None = None) -> list:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        consumer.assign(tps)
        if seek:
            for tp, offset in seek.items():
                consumer.seek(tp, offset)
        else:
            await consumer.seek_to_beginning(*tps)
        records = []
        deadline = time.monotonic() + 20
        while len(records) < expected and time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        return records
    finally:
        await consumer.stop()


async def test_create_produce_consume_keyed_with_headers(kafka_bootstrap):
    topic = topic_name("aio")
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=5)
        await producer.start()
        sent = keyed_records(60)
        try:
            futures = [await producer.send(topic, key=k, value=v, headers=h) for k, v, h in sent]
            metas = await asyncio.gather(*futures)
        finally:
            await producer.stop()
        assert {m.partition for m in metas} == {0, 1, 2}
        received = await consume(kafka_bootstrap, [TopicPartition(topic, p) for p in range(3)], len(sent))
        assert len(received) == len(sent)
        for partition in range(3):
            got = [r for r in received if r.partition == partition]
            expected = [(m, s) for m, s in zip(metas, sent) if m.partition == partition]
            assert [r.offset for r in got] == list(range(len(expected)))
            assert [(r.key, r.value, list(r.headers)) for r in got] == [(k, v, h) for _, (k, v, h) in expected]
        await admin.delete_topics([topic])
        assert topic not in await admin.list_topics()
    finally:
        await admin.close()


async def test_offsets_by_timestamp_and_seek(kafka_bootstrap):
    topic = topic_name("aio-ts")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    base = int(time.time() * 1000) - 100_000
    try:
        # The first send auto-creates the topic through Metadata.
        for i in range(10):
            await producer.send_and_wait(topic, value=b"v%d" % i, timestamp_ms=base + i * 1000)
    finally:
        await producer.stop()
    tp = TopicPartition(topic, 0)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        consumer.assign([tp])
        assert await consumer.beginning_offsets([tp]) == {tp: 0}
        assert await consumer.end_offsets([tp]) == {tp: 10}
        found = (await consumer.offsets_for_times({tp: base + 2500}))[tp]
        assert (found.offset, found.timestamp) == (3, base + 3000)
        assert (await consumer.offsets_for_times({tp: base + 100_000}))[tp] is None
    finally:
        await consumer.stop()
    records = await consume(kafka_bootstrap, [tp], 2, seek={tp: 8})
    assert [(r.offset, r.value, r.timestamp) for r in records] == [(8, b"v8", base + 8000), (9, b"v9", base + 9000)]
