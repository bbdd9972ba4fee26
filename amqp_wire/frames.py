"""AMQP 0-9-1 framing and method codec (sans-I/O: bytes in, values out, bytes out).

A frame (§4.2.3) is `type u8, channel u16, size u32, payload[size], 0xCE`. Types: 1
method (`class-id u16, method-id u16, arguments`), 2 content header, 3 content body, 8
heartbeat (always on channel 0, empty: `08 0000 00000000 CE`, errata §12).

Methods are pamqp 4.0.1's classes (`pamqp.commands`), with two deliberate departures:

- Decoding walks pamqp's own field list and types but decodes `table` arguments with
  amqp_wire/fieldtable.py, keeping the type tags RabbitMQ's argument rules need.
- Encoding builds and marshals methods without calling pamqp's `validate()`: pamqp
  refuses queue and exchange names outside `[a-zA-Z0-9-_.:@#,/+ ]` (its DOMAIN_REGEX),
  which RabbitMQ accepts (any UTF-8 up to 255 bytes), and validates in `__init__`, so a
  declare-ok for such a queue could not even be built (tests/amqp_wire/test_pamqp_edges.py).

The hot methods — basic.publish and basic.ack in, basic.deliver out — are coded here with
`struct` directly; tests check them against pamqp byte for byte.
"""

from __future__ import annotations

import inspect
import struct
from typing import Any

from pamqp import commands, decode, encode
from pamqp.base import Frame

from amqp_wire.fieldtable import decode_table

FRAME_METHOD = 1
FRAME_HEADER = 2
FRAME_BODY = 3
FRAME_HEARTBEAT = 8
FRAME_END = 0xCE
FRAME_END_BYTE = b"\xce"
FRAME_HEADER_SIZE = 7
FRAME_OVERHEAD = 8  # header + end octet
HEARTBEAT = b"\x08\x00\x00\x00\x00\x00\x00\xce"

FRAME_HDR = struct.Struct(">BHI")
_METHOD_ID = struct.Struct(">HH")
_INDEX = struct.Struct(">I")
_CONTENT_HDR = struct.Struct(">HHQ")
_U16 = struct.Struct(">H")
_QB = struct.Struct(">QB")

BASIC_PUBLISH = 0x003C0028
BASIC_ACK = 0x003C0050
BASIC_CLASS = 60


class FrameDecodeError(ValueError):
    """A method frame whose arguments do not decode."""


def method_name(index: int) -> str:
    cls = commands.INDEX_MAPPING.get(index)
    return cls.name if cls is not None else f"method {index >> 16}.{index & 0xFFFF}"


# -- decoding ---------------------------------------------------------------------------

_SLOTS: dict[type, tuple[tuple[str, str], ...]] = {}


def _fields(cls: type[Frame]) -> tuple[tuple[str, str], ...]:
    fields = _SLOTS.get(cls)
    if fields is None:
        fields = _SLOTS[cls] = tuple((name, cls.amqp_type(name)) for name in cls.__slots__)
    return fields


def decode_method(index: int, payload: bytes, offset: int = 4) -> Frame:
    """The method in a method frame's payload; `index` is `class-id << 16 | method-id`."""
    cls = commands.INDEX_MAPPING.get(index)
    if cls is None:
        raise KeyError(index)
    method = cls.__new__(cls)
    pos = offset
    bits = -1
    bit_pos = 8
    try:
        for name, kind in _fields(cls):
            if kind == "bit":
                if bit_pos == 8:
                    bits = payload[pos]
                    pos += 1
                    bit_pos = 0
                value: Any = bool(bits >> bit_pos & 1)
                bit_pos += 1
            else:
                bit_pos = 8
                if kind == "table":
                    value, pos = decode_table(payload, pos)
                elif kind == "shortstr":
                    n = payload[pos]
                    if pos + 1 + n > len(payload):
                        raise FrameDecodeError("short string runs past the frame")
                    value = payload[pos + 1: pos + 1 + n].decode("utf-8")
                    pos += 1 + n
                else:
                    consumed, value = decode.by_type(payload[pos:], kind)
                    pos += consumed
            setattr(method, name, value)
    except (IndexError, ValueError, struct.error) as exc:
        raise FrameDecodeError(str(exc)) from None
    return method


def parse_publish(payload: bytes) -> tuple[str, str, bool, bool]:
    """basic.publish: (exchange, routing_key, mandatory, immediate); ticket ignored."""
    try:
        pos = 6
        n = payload[pos]
        exchange = payload[pos + 1: pos + 1 + n].decode("utf-8")
        pos += 1 + n
        n = payload[pos]
        routing_key = payload[pos + 1: pos + 1 + n].decode("utf-8")
        pos += 1 + n
        bits = payload[pos]
    except (IndexError, UnicodeDecodeError) as exc:
        raise FrameDecodeError(str(exc)) from None
    return exchange, routing_key, bool(bits & 1), bool(bits & 2)


def parse_ack(payload: bytes) -> tuple[int, bool]:
    """basic.ack: (delivery_tag, multiple)."""
    try:
        tag, bits = _QB.unpack_from(payload, 4)
    except struct.error as exc:
        raise FrameDecodeError(str(exc)) from None
    return tag, bool(bits & 1)


# -- encoding ---------------------------------------------------------------------------

_DEFAULTS: dict[type, dict[str, Any]] = {}


def build(cls: type[Frame], **values: Any) -> Frame:
    """A pamqp method with `values` and pamqp's defaults for the rest, without validation."""
    defaults = _DEFAULTS.get(cls)
    if defaults is None:
        params = inspect.signature(cls.__init__).parameters
        defaults = _DEFAULTS[cls] = {
            name: p.default for name, p in params.items() if p.default is not inspect.Parameter.empty
        }
    method = cls.__new__(cls)
    for name in cls.__slots__:
        setattr(method, name, values[name] if name in values else defaults.get(name))
    return method


def marshal_method(method: Frame) -> bytes:
    """pamqp's `Frame.marshal` minus `validate()` (see module docstring)."""
    out = [_INDEX.pack(method.index)]
    byte = 0
    bit_pos = -1
    for name, kind in _fields(type(method)):
        value = getattr(method, name)
        if kind == "bit":
            if bit_pos == -1 or bit_pos == 8:
                if bit_pos == 8:
                    out.append(bytes((byte,)))
                byte, bit_pos = 0, 0
            if value:
                byte |= 1 << bit_pos
            bit_pos += 1
            continue
        if bit_pos != -1:
            out.append(bytes((byte,)))
            bit_pos = -1
        if value is None:
            value = {} if kind == "table" else ("" if "str" in kind else 0)
        out.append(encode.by_type(value, kind))
    if bit_pos != -1:
        out.append(bytes((byte,)))
    return b"".join(out)


def frame(frame_type: int, channel: int, payload: bytes) -> bytes:
    return b"".join((FRAME_HDR.pack(frame_type, channel, len(payload)), payload, FRAME_END_BYTE))


def method_frame(channel: int, method: Frame) -> bytes:
    return frame(FRAME_METHOD, channel, marshal_method(method))


def shortstr(text: str) -> bytes:
    data = text.encode()
    if len(data) > 255:
        data = data[:255]
    return bytes((len(data),)) + data


def content_frames(channel: int, properties: bytes, body: bytes, frame_max: int) -> list[bytes]:
    """The content header frame and the body frames (none for an empty body)."""
    header = _CONTENT_HDR.pack(BASIC_CLASS, 0, len(body)) + properties
    parts = [FRAME_HDR.pack(FRAME_HEADER, channel, len(header)), header, FRAME_END_BYTE]
    size = len(body)
    if size:
        chunk = frame_max - FRAME_OVERHEAD
        if size <= chunk:
            parts += (FRAME_HDR.pack(FRAME_BODY, channel, size), body, FRAME_END_BYTE)
        else:
            view = memoryview(body)
            for start in range(0, size, chunk):
                piece = view[start:start + chunk]
                parts += (FRAME_HDR.pack(FRAME_BODY, channel, len(piece)), piece, FRAME_END_BYTE)
    return parts


_DELIVER_HEAD = struct.Struct(">BHIHH")  # frame header + class/method ids


_SHORTSTRS: dict[str, bytes] = {}
_SHORTSTRS_MAX = 4096


def cached_shortstr(text: str) -> bytes:
    """`shortstr` for the few exchange names and routing keys a broker sees over and over."""
    data = _SHORTSTRS.get(text)
    if data is None:
        if len(_SHORTSTRS) >= _SHORTSTRS_MAX:
            _SHORTSTRS.clear()
        data = _SHORTSTRS[text] = shortstr(text)
    return data


def deliver_frames(channel: int, consumer_tag: bytes, delivery_tag: int, redelivered: bool,
                   exchange: str, routing_key: str, properties: bytes, body: bytes,
                   frame_max: int) -> bytes:
    """basic.deliver + content, as one bytes; `consumer_tag` is already a shortstr."""
    args = b"".join((consumer_tag, _QB.pack(delivery_tag, 1 if redelivered else 0),
                     cached_shortstr(exchange), cached_shortstr(routing_key)))
    parts = [_DELIVER_HEAD.pack(FRAME_METHOD, channel, 4 + len(args), 60, 60), args, FRAME_END_BYTE]
    parts += content_frames(channel, properties, body, frame_max)
    return b"".join(parts)
