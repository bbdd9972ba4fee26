"""engine/log/record_codec.py and engine/bridge/murmur2.py: records built and decoded, every codec."""

from __future__ import annotations

import pytest

from engine.bridge.murmur2 import murmur2, partition_for
from engine.log import batch as batches
from engine.log.record_codec import build_batch, decode_records, iter_batches
from tests.engine.log import batches as test_batches


def test_built_batch_validates_and_decodes_back():
    raw = build_batch([(b"\xffkey", b"value", (("h", b"\x80"), ("n", None))), (None, None, ())],
                      timestamp_ms=1_700_000_000_000)
    headers = batches.validate(raw)  # CRC, lengths, magic
    records = decode_records(headers[0], raw)
    assert [(r.offset, r.timestamp, r.key, r.value, r.headers) for r in records] == [
        (0, 1_700_000_000_000, b"\xffkey", b"value", (("h", b"\x80"), ("n", None))),
        (1, 1_700_000_000_000, None, None, ()),
    ]


@pytest.mark.parametrize("codec", sorted(test_batches.CODECS))
def test_compressed_batches_decode(codec):
    raw = test_batches.build_batch([b"a", b"bb", b"ccc"], compression=codec, keys=[b"k1", None, b"k3"],
                                   base_offset=40)
    [(header, batch)] = list(iter_batches(raw))
    records = decode_records(header, batch)
    assert [(r.offset, r.key, r.value) for r in records] == [(40, b"k1", b"a"), (41, None, b"bb"), (42, b"k3", b"ccc")]
    assert [r.timestamp for r in records] == [1_700_000_000_000, 1_700_000_000_001, 1_700_000_000_002]


@pytest.mark.parametrize(("key", "expected"), [
    # org.apache.kafka.common.utils.UtilsTest#testMurmur2
    ("21", -973932308), ("foobar", -790332482), ("a-little-bit-long-string", -985981536),
    ("a-little-bit-longer-string", -1486304829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971),
    ("abc", 479470107),
])
def test_murmur2_matches_kafka(key, expected):
    assert murmur2(key.encode()) == expected


def test_partition_for_is_positive_modulo():
    assert partition_for(b"21", 7) == (-973932308 & 0x7FFFFFFF) % 7
