"""Reading the few content properties the broker acts on, from the raw property list.

A content header (AMQP 0-9-1 §4.2.6.1) is `class-id u16, weight u16, body-size u64`,
then property flags (u16 words, bit 0 of each word says another follows) and the present
properties in flag order. basic's 14 properties, highest bit first:

    15 content-type shortstr   14 content-encoding shortstr   13 headers table
    12 delivery-mode octet     11 priority octet              10 correlation-id shortstr
     9 reply-to shortstr        8 expiration shortstr          7 message-id shortstr
     6 timestamp u64            5 type shortstr                4 user-id shortstr
     3 app-id shortstr          2 cluster-id shortstr (reserved)

The broker keeps the flags-and-values bytes as they came (so all 14 properties and every
field-table type round-trip byte for byte) and reads, by skipping over the rest, only
delivery-mode, priority, expiration, user-id, whether reply-to asks for direct reply-to
and, for headers exchanges and the CC/BCC headers, headers.

It rewrites a property list only where RabbitMQ changes the message: the BCC header is
removed before the message is stored (docs/sender-selected.md), `reply_to =
amq.rabbitmq.reply-to` becomes the channel's own reply name, and on delivery a message
with a dead-letter history or a quorum delivery count gets its `x-death`,
`x-first-death-*`, `x-last-death-*` and `x-delivery-count` headers and loses its
expiration (`mc_amqpl:protocol_state/2`, RabbitMQ 4.x: the history is rendered over any
`x-death` the publisher set, and the headers come out sorted by name).
"""

from __future__ import annotations

import struct

from engine.messaging.deaths import Deaths
from engine.messaging.fields import Field, FieldKind
from amqp_wire.fieldtable import decode_table, encode_entry, encode_table, table_entries

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")

F_CONTENT_TYPE = 1 << 15
F_CONTENT_ENCODING = 1 << 14
F_HEADERS = 1 << 13
F_DELIVERY_MODE = 1 << 12
F_PRIORITY = 1 << 11
F_CORRELATION_ID = 1 << 10
F_REPLY_TO = 1 << 9
F_EXPIRATION = 1 << 8
F_MESSAGE_ID = 1 << 7
F_TIMESTAMP = 1 << 6
F_TYPE = 1 << 5
F_USER_ID = 1 << 4
F_APP_ID = 1 << 3
F_CLUSTER_ID = 1 << 2
FAST_REPLY_TO = b"amq.rabbitmq.reply-to"


class PropertiesError(ValueError):
    """A property list that does not parse."""


class Scan:
    """What the broker reads from one message's properties."""

    __slots__ = ("delivery_mode", "priority", "expiration", "user_id", "headers_at", "fast_reply")

    def __init__(self) -> None:
        self.delivery_mode = 0
        self.priority = 0
        self.expiration: bytes | None = None
        self.user_id: bytes | None = None
        self.headers_at = -1  # offset of the headers table in the property bytes, or -1
        self.fast_reply = False  # reply-to is exactly "amq.rabbitmq.reply-to"


def scan(props: bytes) -> Scan:
    """Reads delivery-mode, priority, expiration, user-id and where headers are."""
    result = Scan()
    try:
        (flags,) = _U16.unpack_from(props, 0)
        pos = 2
        if flags & 1:  # more flag words: basic has only 14 properties, skip the rest
            while True:
                (more,) = _U16.unpack_from(props, pos)
                pos += 2
                if not more & 1:
                    break
        if not flags & 0xFFF0:
            return result
        if flags & F_CONTENT_TYPE:
            pos += 1 + props[pos]
        if flags & F_CONTENT_ENCODING:
            pos += 1 + props[pos]
        if flags & F_HEADERS:
            result.headers_at = pos
            pos += 4 + _U32.unpack_from(props, pos)[0]
        if flags & F_DELIVERY_MODE:
            result.delivery_mode = props[pos]
            pos += 1
        if flags & F_PRIORITY:
            result.priority = props[pos]
            pos += 1
        if not flags & (F_EXPIRATION | F_USER_ID | F_REPLY_TO):
            if pos > len(props):
                raise PropertiesError("properties run past the content header")
            return result
        if flags & F_CORRELATION_ID:
            pos += 1 + props[pos]
        if flags & F_REPLY_TO:
            n = props[pos]
            if n == 21 and props[pos + 1: pos + 22] == FAST_REPLY_TO:
                result.fast_reply = True
            pos += 1 + n
        if flags & F_EXPIRATION:
            n = props[pos]
            result.expiration = props[pos + 1: pos + 1 + n]
            pos += 1 + n
        if flags & F_USER_ID:
            if flags & F_MESSAGE_ID:
                pos += 1 + props[pos]
            if flags & F_TIMESTAMP:
                pos += 8
            if flags & F_TYPE:
                pos += 1 + props[pos]
            n = props[pos]
            result.user_id = props[pos + 1: pos + 1 + n]
            pos += 1 + n
        if pos > len(props):
            raise PropertiesError("properties run past the content header")
    except (IndexError, struct.error):
        raise PropertiesError("truncated content header properties") from None
    return result


def headers_from_properties(props: bytes) -> dict[str, Field] | None:
    return headers_of(props, scan(props).headers_at)


def headers_of(props: bytes, headers_at: int) -> dict[str, Field] | None:
    if headers_at < 0:
        return None
    table, _ = decode_table(props, headers_at)
    return table


# -- rewriting --------------------------------------------------------------------------

# Value encodings by flag bit: s shortstr, t table, o octet, q u64.
_KINDS = ((15, "s"), (14, "s"), (13, "t"), (12, "o"), (11, "o"), (10, "s"), (9, "s"), (8, "s"), (7, "s"),
          (6, "q"), (5, "s"), (4, "s"), (3, "s"), (2, "s"))
_KEEP = object()


def _split(props: bytes) -> tuple[int, dict[int, bytes], bytes]:
    """(first flag word, {bit: encoded value}, raw tail after basic's 14 properties)."""
    try:
        (flags,) = _U16.unpack_from(props, 0)
        pos = 2
        extra = b""
        if flags & 1:
            start = pos
            while True:
                (more,) = _U16.unpack_from(props, pos)
                pos += 2
                if not more & 1:
                    break
            extra = props[start:pos]
        values: dict[int, bytes] = {}
        for bit, kind in _KINDS:
            if not flags & (1 << bit):
                continue
            if kind == "s":
                end = pos + 1 + props[pos]
            elif kind == "t":
                end = pos + 4 + _U32.unpack_from(props, pos)[0]
            elif kind == "o":
                end = pos + 1
            else:
                end = pos + 8
            if end > len(props):
                raise PropertiesError("properties run past the content header")
            values[bit] = props[pos:end]
            pos = end
    except (IndexError, struct.error):
        raise PropertiesError("truncated content header properties") from None
    return flags, values, extra + props[pos:]


def rewrite(props: bytes, *, headers=_KEEP, drop_expiration: bool = False, reply_to: bytes | None = None,
            headers_raw: bytes | None = None) -> bytes:
    """The property list with headers replaced (None removes them; `headers_raw`: an encoded table),
    expiration dropped, reply-to set."""
    flags, values, tail = _split(props)
    if headers_raw is not None:
        values[13] = headers_raw
    elif headers is not _KEEP:
        if headers:
            values[13] = encode_table(headers)
        else:
            values.pop(13, None)
    if drop_expiration:
        values.pop(8, None)
    if reply_to is not None:
        values[9] = bytes((len(reply_to),)) + reply_to
    flags = (flags & 1) | sum(1 << bit for bit in values)
    return _U16.pack(flags) + b"".join(values[bit] for bit, _ in _KINDS if bit in values) + tail


def sender_selected(props: bytes, headers_at: int) -> tuple[tuple[str, ...], tuple[str, ...], bytes]:
    """(CC keys, BCC keys, properties without the BCC header) of a message whose headers may name them.

    CC and BCC must be arrays; their longstr items are routing keys, others are skipped
    (`rabbit_basic:header_routes/1`). Any other type is refused: ValueError carrying
    RabbitMQ's error term.
    """
    table = headers_of(props, headers_at) or {}
    keys: list[tuple[str, ...]] = []
    for name in ("CC", "BCC"):
        field = table.get(name)
        if field is None:
            keys.append(())
        elif field.kind is FieldKind.ARRAY:
            keys.append(tuple(bytes(item.value).decode("utf-8", "replace")
                              for item in field.value if item.kind is FieldKind.LONGSTR))
        else:
            raise ValueError(f'{{unacceptable_type_in_header,"{name}",{field.kind}}}')
    if "BCC" in table:
        del table["BCC"]
        props = rewrite(props, headers=table or None)
    return keys[0], keys[1], props


def _longstr(text: str) -> Field:
    return Field(FieldKind.LONGSTR, text.encode())


def _death_headers(deaths: Deaths) -> dict[str, Field]:
    tables = []
    for death in deaths.records:
        table: dict[str, Field] = {}
        if death.ttl is not None:
            table["original-expiration"] = _longstr(str(death.ttl))
        table["count"] = Field(FieldKind.LONG, death.count)
        table["reason"] = _longstr(str(death.reason))
        table["queue"] = _longstr(death.queue)
        table["time"] = Field(FieldKind.TIMESTAMP, death.first_time_ms // 1000)
        table["exchange"] = _longstr(death.exchange)
        table["routing-keys"] = Field(FieldKind.ARRAY, [_longstr(k) for k in death.routing_keys])
        tables.append(Field(FieldKind.TABLE, table))
    return {
        "x-death": Field(FieldKind.ARRAY, tables),
        "x-first-death-exchange": _longstr(deaths.first_exchange),
        "x-first-death-queue": _longstr(deaths.first_queue),
        "x-first-death-reason": _longstr(str(deaths.first_reason)),
        "x-last-death-exchange": _longstr(deaths.last_exchange),
        "x-last-death-queue": _longstr(deaths.last_queue),
        "x-last-death-reason": _longstr(str(deaths.last_reason)),
    }


_RENDERED: dict[tuple, list[tuple[str, bytes]]] = {}
_RENDERED_MAX = 1024


def _render_key(deaths: Deaths | None, delivery_count: int) -> tuple:
    if deaths is None:
        return (None, delivery_count)
    # what the headers show: time in seconds, and not last_time_ms (it only orders the records)
    return (tuple((d.queue, d.reason, d.count, d.first_time_ms // 1000, d.exchange, d.routing_keys, d.ttl)
                  for d in deaths.records),
            deaths.first_reason, deaths.first_queue, deaths.first_exchange,
            deaths.last_reason, deaths.last_queue, deaths.last_exchange, delivery_count)


def _added_entries(deaths: Deaths | None, delivery_count: int) -> list[tuple[str, bytes]]:
    """The encoded header entries the broker adds; many messages share them, so they are cached."""
    key = _render_key(deaths, delivery_count)
    entries = _RENDERED.get(key)
    if entries is None:
        added: dict[str, Field] = {}
        if deaths is not None:
            added.update(_death_headers(deaths))
        if delivery_count:
            added["x-delivery-count"] = Field(FieldKind.LONG, delivery_count)
        entries = [(name, encode_entry(name, field)) for name, field in added.items()]
        if len(_RENDERED) >= _RENDERED_MAX:
            _RENDERED.clear()
        _RENDERED[key] = entries
    return entries


def annotated(props: bytes, deaths: Deaths | None, delivery_count: int) -> bytes:
    """The properties a message is delivered with when the broker annotated it (see module docstring).

    The message's own header entries are spliced as they are; the broker's entries replace any of
    the same name, and the whole table comes out sorted by name.
    """
    flags, values, _tail = _split(props)
    added = _added_entries(deaths, delivery_count)
    names = {name for name, _ in added}
    entries = list(added)
    if 13 in values:
        own, _ = table_entries(values[13], 0)
        entries += [(name, raw) for name, raw in own if name not in names]
    entries.sort(key=_first)
    body = b"".join(raw for _, raw in entries)
    return rewrite(props, headers_raw=_U32.pack(len(body)) + body, drop_expiration=deaths is not None)


def _first(item: tuple[str, bytes]) -> str:
    return item[0]
