"""pamqp 4.0.1's sharp edges, and that our codec steps around each one (DESIGN.md §7).

If one of these starts failing after a pamqp upgrade, the workaround in amqp_wire/frames.py
or amqp_wire/fieldtable.py may no longer be needed — or may need changing.
"""

from __future__ import annotations

import struct

import pytest
from pamqp import commands, decode, encode

from amqp_wire import frames
from amqp_wire.fieldtable import decode_table
from engine.messaging.fields import FieldKind

ODD_NAMES = ["queue with é", "q!", "q*", "q\u4e2d", "\u00e9" * 120]  # the last is 240 bytes


@pytest.mark.parametrize("name", ODD_NAMES)
def test_pamqp_refuses_names_rabbitmq_accepts(name):
    with pytest.raises(ValueError):
        commands.Queue.DeclareOk(queue=name, message_count=0, consumer_count=0)


@pytest.mark.parametrize("name", ODD_NAMES)
def test_our_builder_encodes_them(name):
    data = frames.marshal_method(frames.build(commands.Queue.DeclareOk, queue=name, message_count=3,
                                              consumer_count=1))
    method = frames.decode_method(commands.Queue.DeclareOk.index, data)
    assert (method.queue, method.message_count, method.consumer_count) == (name, 3, 1)


def test_pamqp_unmarshal_does_not_validate_so_inbound_names_pass():
    raw = struct.pack(">I", commands.Queue.Declare.index) + struct.pack(">H", 0) + bytes([3]) + b"q!*" + b"\x00" \
        + struct.pack(">I", 0)
    method = frames.decode_method(commands.Queue.Declare.index, raw)
    assert method.queue == "q!*"


def test_pamqp_drops_table_types_and_we_keep_them():
    table = {"a": 5, "b": 70000, "c": "s"}
    raw = encode.field_table(table)
    _, plain = decode.field_table(raw)
    assert plain == {"a": 5, "b": 70000, "c": "s"}  # pamqp: types gone
    typed, end = decode_table(raw)
    assert end == len(raw)
    assert {k: v.kind for k, v in typed.items()} == {
        "a": FieldKind.BYTE, "b": FieldKind.SIGNEDINT, "c": FieldKind.LONGSTR}


def test_pamqp_reads_large_timestamps_as_milliseconds():
    raw = b"\x00\x00\x00\x0b\x01tT" + struct.pack(">Q", 2 ** 33)
    _, plain = decode.field_table(raw)
    assert plain["t"].year < 2100  # pamqp divided by 1000
    typed, _ = decode_table(raw)
    assert typed["t"].value == 2 ** 33  # we keep the seconds as sent


def test_pamqp_marshal_validates_in_init_for_exchange_names_too():
    with pytest.raises(ValueError):
        commands.Basic.Deliver(consumer_tag="c", delivery_tag=1, exchange="ex é", routing_key="k")
