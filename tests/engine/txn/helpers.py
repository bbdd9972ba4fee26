"""Building blocks for transaction tests: transactional batches and a FakeClock engine in memory."""

from __future__ import annotations

import struct

import crc32c

from engine import Engine
from engine.clock import FakeClock
from engine.types import TopicPartition
from tests.engine.log.batches import encode_record

TRANSACTIONAL = 0x10
CONTROL = 0x20


def txn_batch(values: list[bytes], *, producer_id: int, producer_epoch: int, base_sequence: int,
              transactional: bool = True, timestamp: int = 1_700_000_000_000) -> bytes:
    """A RecordBatch v2 of `values` from an idempotent producer, transactional by default."""
    records = b"".join(encode_record(i, 0, None, v) for i, v in enumerate(values))
    attributes = TRANSACTIONAL if transactional else 0
    after_crc = struct.pack(">hiqqqhii", attributes, len(values) - 1, timestamp, timestamp,
                            producer_id, producer_epoch, base_sequence, len(values)) + records
    body = struct.pack(">ibI", 0, 2, crc32c.crc32c(after_crc)) + after_crc
    return struct.pack(">qi", 0, len(body)) + body


def batches_in(data: bytes) -> list[dict]:
    """Every stored batch of a read: base/last offset, producer id, and whether control/transactional."""
    out = []
    pos = 0
    while pos < len(data):
        base, length = struct.unpack_from(">qi", data, pos)
        (attributes,) = struct.unpack_from(">h", data, pos + 21)
        (delta,) = struct.unpack_from(">i", data, pos + 23)
        (producer_id, epoch) = struct.unpack_from(">qh", data, pos + 43)
        out.append({"base": base, "last": base + delta, "producer_id": producer_id, "epoch": epoch,
                    "control": bool(attributes & CONTROL), "transactional": bool(attributes & TRANSACTIONAL),
                    "bytes": data[pos:pos + length + 12]})
        pos += length + 12
    return out


def control_key(batch: bytes) -> tuple[int, int]:
    """(version, type) of a control batch's record key: read straight from the bytes (61 = header)."""
    pos = 61 + 1 + 1 + 1 + 1  # length varint (short), attributes, timestamp delta 0, offset delta 0
    assert batch[pos] == 8, "key length 4 as a zig-zag varint"
    return struct.unpack_from(">hh", batch, pos + 1)


def memory_engine(clock: FakeClock | None = None, *, partitions: int = 2) -> tuple[Engine, FakeClock]:
    clock = clock or FakeClock()
    engine = Engine(data_dir=None, clock=clock)
    engine.open()
    for name in ("in", "out"):
        engine.topics.create(name, partitions=partitions)
    return engine, clock


def tp(topic: str, partition: int = 0) -> TopicPartition:
    return TopicPartition(topic=topic, partition=partition)


class Producer:
    """What a transactional client does, straight against the engine (the handlers' calls, in order)."""

    def __init__(self, engine: Engine, transactional_id: str, *, timeout_ms: int = 60_000) -> None:
        self.engine = engine
        self.transactional_id = transactional_id
        self.timeout_ms = timeout_ms
        self.sequences: dict[TopicPartition, int] = {}
        self.init()

    def init(self, **kwargs) -> None:
        got = self.engine.txn.init_producer_id(self.transactional_id, timeout_ms=self.timeout_ms, **kwargs)
        self.producer_id, self.epoch = got.producer_id, got.producer_epoch
        self.sequences = {}

    def add(self, *partitions: TopicPartition) -> None:
        self.engine.txn.add_partitions(self.transactional_id, producer_id=self.producer_id,
                                       producer_epoch=self.epoch, partitions=partitions)

    def send(self, partition: TopicPartition, *values: bytes):
        """Produce's transactional path: verify with the coordinator, then append."""
        self.engine.txn.verify_produce(self.transactional_id, producer_id=self.producer_id,
                                       producer_epoch=self.epoch, partition=partition)
        sequence = self.sequences.get(partition, 0)
        result = self.engine.topics.partition(partition).append(txn_batch(
            list(values), producer_id=self.producer_id, producer_epoch=self.epoch, base_sequence=sequence))
        self.sequences[partition] = sequence + len(values)
        return result

    def end(self, commit: bool = True) -> None:
        from engine.txn import TxnResult

        self.engine.txn.end_txn(self.transactional_id, producer_id=self.producer_id, producer_epoch=self.epoch,
                                result=TxnResult.COMMIT if commit else TxnResult.ABORT)
