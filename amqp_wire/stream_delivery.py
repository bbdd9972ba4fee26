"""How a stream record becomes an AMQP delivery, and an AMQP message a record (docs/cross-protocol.md).

AMQP → record (publish into a stream queue, or into a topic bound to an exchange): value = body;
record headers, in this order:

    x-amqp-properties   the AMQP property list exactly as published (flags + values), so an
                        AMQP consumer of the stream gets every property and header back byte
                        for byte (RabbitMQ keeps the whole message in a stream chunk too)
    x-amqp-exchange     the exchange it was published to (UTF-8)
    x-amqp-routing-key  its routing key (UTF-8)
    <name>              each AMQP header whose value is a longstr (its bytes as they are) or
                        another scalar (its text), for Kafka consumers; `x-kafka-key` is not
                        copied, it becomes the record key
    content-type, content-encoding, correlation-id, reply-to, message-id, type, app-id
                        the basic properties that are strings, when set

Record → delivery: a record carrying `x-amqp-properties` is delivered with those properties;
any other record (produced by a Kafka client) gets properties built from it: headers table =
its record headers as longstr (bytes kept, never decoded), plus `x-kafka-key` (longstr, the
key bytes), `x-kafka-timestamp` (long, ms); the string properties above come from record
headers of the same names; `timestamp` = record timestamp in seconds. Stream deliveries also
carry `x-stream-offset` (long), as RabbitMQ's, and, from a multi-partition topic, the record's
partition as `x-kafka-partition` (int; the offset is that partition's); the bridge's deliveries (`amq.kafka`) carry
`x-kafka-topic`, `x-kafka-partition` and `x-kafka-offset` instead.
"""

from __future__ import annotations

import struct

from engine.log.record_codec import Record
from engine.messaging.fields import Field, FieldKind
from engine.messaging.stream_queue import PROPERTIES_HEADER

from amqp_wire.fieldtable import encode_entry, table_entries
from amqp_wire.properties import _split, rewrite, scan, headers_of

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
EXCHANGE_HEADER = "x-amqp-exchange"
ROUTING_KEY_HEADER = "x-amqp-routing-key"
KEY_HEADER = "x-kafka-key"
_INTERNAL = frozenset({PROPERTIES_HEADER, EXCHANGE_HEADER, ROUTING_KEY_HEADER})
# basic properties that are short strings: (property bit, record header name)
STRING_PROPERTIES = ((15, "content-type"), (14, "content-encoding"), (10, "correlation-id"), (9, "reply-to"),
                     (7, "message-id"), (5, "type"), (3, "app-id"))
_STRING_BITS = dict((name, bit) for bit, name in STRING_PROPERTIES)


def record_headers(exchange: str, routing_key: str, props: bytes) -> tuple[list[tuple[str, bytes | None]], bytes | None]:
    """(record headers, record key) for an AMQP message (see module docstring)."""
    headers: list[tuple[str, bytes | None]] = [
        (PROPERTIES_HEADER, props), (EXCHANGE_HEADER, exchange.encode()), (ROUTING_KEY_HEADER, routing_key.encode())]
    key = None
    try:
        flags, values, _tail = _split(props)
        table = headers_of(props, scan(props).headers_at) if flags & (1 << 13) else None
    except ValueError:
        return headers, None
    for name, field in (table or {}).items():
        raw = _scalar(field)
        if name == KEY_HEADER:
            key = raw
        elif raw is not None:
            headers.append((name, raw))
    for bit, name in STRING_PROPERTIES:
        value = values.get(bit)
        if value is not None:
            headers.append((name, value[1:]))
    return headers, key


def _scalar(field: Field) -> bytes | None:
    if field.kind in (FieldKind.LONGSTR, FieldKind.BINARY):
        return bytes(field.value)
    if field.kind in (FieldKind.TABLE, FieldKind.ARRAY, FieldKind.VOID):
        return None
    if field.kind is FieldKind.BOOL:
        return b"true" if field.value else b"false"
    return str(field.value).encode()


def delivery(record: Record, extra: list[tuple[str, Field]]) -> tuple[str, str, bytes]:
    """(exchange, routing key, properties) to deliver a record with; `extra` header entries win."""
    own = dict(record.headers)
    props = own.get(PROPERTIES_HEADER)
    if props is not None:
        exchange = (own.get(EXCHANGE_HEADER) or b"").decode("utf-8", "replace")
        routing_key = (own.get(ROUTING_KEY_HEADER) or b"").decode("utf-8", "replace")
        return exchange, routing_key, _with_headers(props, extra)
    return "", "", from_record(record, extra)


def _with_headers(props: bytes, extra: list[tuple[str, Field]]) -> bytes:
    flags, values, _tail = _split(props)
    names = {name for name, _ in extra}
    entries = [(name, encode_entry(name, field)) for name, field in extra]
    if 13 in values:
        own, _ = table_entries(values[13], 0)
        entries += [(name, raw) for name, raw in own if name not in names]
    body = b"".join(raw for _, raw in entries)
    return rewrite(props, headers_raw=_U32.pack(len(body)) + body)


def from_record(record: Record, extra: list[tuple[str, Field]]) -> bytes:
    """Properties for a record no AMQP client published (module docstring)."""
    values: dict[int, bytes] = {}
    table: list[tuple[str, Field]] = list(extra)
    if record.key is not None:
        table.append((KEY_HEADER, Field(FieldKind.LONGSTR, record.key)))
    table.append(("x-kafka-timestamp", Field(FieldKind.LONG, record.timestamp)))
    names = {name for name, _ in table}
    for name, value in record.headers:
        bit = _STRING_BITS.get(name)
        if bit is not None and value is not None and len(value) < 256 and bit not in values:
            values[bit] = bytes((len(value),)) + value
        elif name not in names:
            names.add(name)
            table.append((name, Field(FieldKind.LONGSTR, value) if value is not None else Field(FieldKind.VOID, None)))
    body = b"".join(encode_entry(name, field) for name, field in table)
    values[13] = _U32.pack(len(body)) + body
    if record.timestamp >= 0:
        values[6] = _U64.pack(record.timestamp // 1000)
    values[12] = b"\x02"  # persistent: a record is durable data, so durable queues keep it
    flags = sum(1 << bit for bit in values)
    return struct.pack(">H", flags) + b"".join(values[bit] for bit in sorted(values, reverse=True))


_OFFSET_ENTRY = b"\x0fx-stream-offsetl"
_I64 = struct.Struct(">q")
_SHORTSTR_BITS = (1 << 15, 1 << 14)  # content-type, content-encoding: the only properties before headers


def stream_delivery(record: Record, partition: int | None = None) -> tuple[str, str, bytes]:
    """A stream delivery: `x-stream-offset`, and `x-kafka-partition` when the topic has several."""
    if partition is not None:
        return delivery(record, [("x-stream-offset", Field(FieldKind.LONG, record.offset)),
                                 ("x-kafka-partition", Field(FieldKind.SIGNEDINT, partition))])
    headers = record.headers
    # Fast path (DESIGN.md §6): a record an AMQP client published, whose properties have no
    # headers table yet: the table with the one x-stream-offset entry goes in after the
    # properties that precede it (content-type, content-encoding).
    if len(headers) >= 3 and headers[0][0] == PROPERTIES_HEADER and headers[1][0] == EXCHANGE_HEADER:
        props = headers[0][1] or b"\x00\x00"
        flags = (props[0] << 8) | props[1]
        if not flags & 1 and not flags & (1 << 13):
            pos = 2
            try:
                for bit in _SHORTSTR_BITS:
                    if flags & bit:
                        pos += 1 + props[pos]
            except IndexError:
                pos = -1
            if 0 <= pos <= len(props):
                flags |= 1 << 13
                table = _U32.pack(len(_OFFSET_ENTRY) + 8) + _OFFSET_ENTRY + _I64.pack(record.offset)
                new = bytes(((flags >> 8) & 0xFF, flags & 0xFF)) + props[2:pos] + table + props[pos:]
                return (headers[1][1] or b"").decode("utf-8", "replace"), \
                    (headers[2][1] or b"").decode("utf-8", "replace"), new
    return delivery(record, [("x-stream-offset", Field(FieldKind.LONG, record.offset))])


def bridge_properties(record: Record, topic: str, partition: int) -> bytes:
    """Properties of a record forwarded to `amq.kafka` (module docstring)."""
    return delivery(record, [
        ("x-kafka-topic", Field(FieldKind.LONGSTR, topic.encode())),
        ("x-kafka-partition", Field(FieldKind.SIGNEDINT, partition)),
        ("x-kafka-offset", Field(FieldKind.LONG, record.offset)),
    ])[2]
