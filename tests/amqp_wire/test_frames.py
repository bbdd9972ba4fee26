"""Our hot-path codecs against pamqp, byte for byte, and typed tables round-tripping."""

from __future__ import annotations

import datetime
import decimal
import struct

from hypothesis import given, settings, strategies as st
from pamqp import commands, encode, frame as pframe, header
from pamqp.body import ContentBody

from amqp_wire import frames
from amqp_wire.fieldtable import TableError, decode_table
from amqp_wire.properties import scan, headers_of

import pytest

# pamqp only builds names in its DOMAIN_REGEX (see test_pamqp_edges.py), so the comparisons stay ASCII
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789-_.:", max_size=40)


@given(exchange=names, routing_key=names, mandatory=st.booleans(), immediate=st.booleans())
def test_parse_publish_matches_pamqp(exchange, routing_key, mandatory, immediate):
    method = commands.Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=mandatory,
                                    immediate=immediate)
    payload = pframe.marshal(method, 1)[7:-1]
    assert frames.parse_publish(payload) == (exchange, routing_key, mandatory, immediate)


@given(tag=st.integers(min_value=0, max_value=2 ** 63 - 1), multiple=st.booleans())  # pamqp: signed
def test_parse_ack_matches_pamqp(tag, multiple):
    payload = pframe.marshal(commands.Basic.Ack(delivery_tag=tag, multiple=multiple), 1)[7:-1]
    assert frames.parse_ack(payload) == (tag, multiple)


@given(ctag=names, tag=st.integers(min_value=1, max_value=2 ** 63 - 1), redelivered=st.booleans(),
       exchange=names, routing_key=names, body=st.binary(max_size=3000))
@settings(max_examples=50)
def test_deliver_frames_match_pamqp(ctag, tag, redelivered, exchange, routing_key, body):
    props = commands.Basic.Properties(content_type="text/plain", headers={"a": 1}, delivery_mode=2)
    raw_props = props.marshal()
    ours = frames.deliver_frames(3, frames.shortstr(ctag), tag, redelivered, exchange, routing_key, raw_props,
                                 body, 1024)
    expected = [pframe.marshal(commands.Basic.Deliver(consumer_tag=ctag, delivery_tag=tag, redelivered=redelivered,
                                                      exchange=exchange, routing_key=routing_key), 3),
                pframe.marshal(header.ContentHeader(0, len(body), props), 3)]
    for i in range(0, len(body), 1024 - 8):
        expected.append(pframe.marshal(ContentBody(body[i:i + 1024 - 8]), 3))
    assert ours == b"".join(expected)


scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2 ** 63), max_value=2 ** 63 - 1),
    st.floats(width=32, allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    st.text(max_size=20),
    st.datetimes(min_value=datetime.datetime(1971, 1, 1), max_value=datetime.datetime(2100, 1, 1),
                 timezones=st.just(datetime.UTC)).map(lambda d: d.replace(microsecond=0)),
    st.decimals(places=2, min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False),
    st.none(),
)
tables = st.recursive(st.dictionaries(st.text(min_size=1, max_size=10), scalars, max_size=5),
                      lambda inner: st.dictionaries(st.text(min_size=1, max_size=10),
                                                    st.one_of(inner, st.lists(scalars, max_size=3)), max_size=4),
                      max_leaves=12)


def _plain(field):
    """Our typed value back to what pamqp would give for comparison."""
    from engine.messaging.fields import FieldKind

    if field.kind is FieldKind.TABLE:
        return {k: _plain(v) for k, v in field.value.items()}
    if field.kind is FieldKind.ARRAY:
        return [_plain(v) for v in field.value]
    if field.kind is FieldKind.LONGSTR:
        return field.value.decode()
    if field.kind is FieldKind.TIMESTAMP:
        return datetime.datetime.fromtimestamp(field.value, tz=datetime.UTC)
    return field.value


@given(tables)
@settings(max_examples=200)
def test_typed_tables_decode_what_pamqp_encodes(table):
    raw = encode.field_table(table)
    typed, end = decode_table(raw)
    assert end == len(raw)
    got = {k: _plain(v) for k, v in typed.items()}

    def same(a, b):
        if isinstance(b, dict):
            return isinstance(a, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in b)
        if isinstance(b, list):
            return isinstance(a, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
        if isinstance(b, float):
            return a == pytest.approx(b, rel=1e-6, abs=1e-6)  # pamqp writes floats as 32-bit 'f'
        return a == b and type(a) is type(b)

    assert same(got, table)


def test_truncated_tables_are_errors_not_crashes():
    raw = encode.field_table({"a": "hello", "b": [1, 2]})
    for cut in range(4, len(raw)):
        broken = struct.pack(">I", cut - 4) + raw[4:cut]
        try:
            decode_table(broken)
        except TableError:
            pass


@given(delivery_mode=st.sampled_from([None, 1, 2]), priority=st.one_of(st.none(), st.integers(0, 255)),
       expiration=st.one_of(st.none(), st.text(alphabet="0123456789", min_size=1, max_size=8)),
       user_id=st.one_of(st.none(), st.text(alphabet="abc", min_size=1, max_size=5)),
       headers=st.one_of(st.none(), st.dictionaries(st.text(min_size=1, max_size=5), st.integers(0, 100), max_size=3)),
       content_type=st.one_of(st.none(), st.just("application/json")),
       message_id=st.one_of(st.none(), st.just("m-1")), timestamp=st.booleans(), type_=st.one_of(st.none(), st.just("t")),
       reply_to=st.one_of(st.none(), st.just("r")), correlation_id=st.one_of(st.none(), st.just("c")))
def test_scan_reads_what_pamqp_writes(delivery_mode, priority, expiration, user_id, headers, content_type, message_id,
                                      timestamp, type_, reply_to, correlation_id):
    props = commands.Basic.Properties(
        content_type=content_type, headers=headers, delivery_mode=delivery_mode, priority=priority,
        correlation_id=correlation_id, reply_to=reply_to, expiration=expiration, message_id=message_id,
        timestamp=datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC) if timestamp else None, message_type=type_,
        user_id=user_id, app_id="app")
    raw = props.marshal()
    info = scan(raw)
    assert info.delivery_mode == (delivery_mode or 0)
    assert info.priority == (priority or 0)
    assert info.expiration == (expiration.encode() if expiration else None)
    assert info.user_id == (user_id.encode() if user_id else None)
    decoded = headers_of(raw, info.headers_at)
    if headers is not None:  # pamqp writes an empty table when given {}
        assert {k: v.value for k, v in decoded.items()} == headers
    else:
        assert decoded is None
