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
delivery-mode, priority, expiration, user-id and, for headers exchanges, headers.
"""

from __future__ import annotations

import struct

from engine.messaging.fields import Field
from amqp_wire.fieldtable import decode_table

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


class PropertiesError(ValueError):
    """A property list that does not parse."""


class Scan:
    """What the broker reads from one message's properties."""

    __slots__ = ("delivery_mode", "priority", "expiration", "user_id", "headers_at")

    def __init__(self) -> None:
        self.delivery_mode = 0
        self.priority = 0
        self.expiration: bytes | None = None
        self.user_id: bytes | None = None
        self.headers_at = -1  # offset of the headers table in the property bytes, or -1


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
        if not flags & (F_EXPIRATION | F_USER_ID):
            if pos > len(props):
                raise PropertiesError("properties run past the content header")
            return result
        if flags & F_CORRELATION_ID:
            pos += 1 + props[pos]
        if flags & F_REPLY_TO:
            pos += 1 + props[pos]
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


def headers_of(props: bytes, headers_at: int) -> dict[str, Field] | None:
    if headers_at < 0:
        return None
    table, _ = decode_table(props, headers_at)
    return table
