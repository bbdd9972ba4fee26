"""AMQP 0-9-1 field tables decoded with their type tags kept (engine `Field` values).

The tags are RabbitMQ's (the 0-9-1 errata table, `rabbit_binary_parser:parse_field_value/1`):

    t bool      b byte (signed)   B unsignedbyte    s short (signed)   u unsignedshort
    I signedint i unsignedint     l long (signed 64) L long (64, py-amqp/pamqp also read it)
    f float     d double          D decimal (scale u8, value i32)
    S longstr   x binary          A array           T timestamp (u64)  F table   V void

pamqp decodes tables to plain Python values and drops the tags, and reads a timestamp
above 2^32 as milliseconds; RabbitMQ's argument checks and texts need the tags
(engine/messaging/fields.py), so this module decodes tables itself, and encodes the
tables the broker writes into messages (x-death, a removed BCC header) with the same tags.
Connection.start's server properties are left to pamqp.
"""

from __future__ import annotations

import decimal
import struct

from engine.messaging.fields import Field, FieldKind

_U8 = struct.Struct(">B")
_I8 = struct.Struct(">b")
_U16 = struct.Struct(">H")
_I16 = struct.Struct(">h")
_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_I64 = struct.Struct(">q")
_U64 = struct.Struct(">Q")
_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")


class TableError(ValueError):
    """A field table that does not parse."""


def _value(data: bytes | memoryview, pos: int, end: int) -> tuple[Field, int]:
    if pos >= end:
        raise TableError("truncated field value")
    tag = data[pos]
    pos += 1
    try:
        if tag == 0x53 or tag == 0x78:  # S, x
            (n,) = _U32.unpack_from(data, pos)
            pos += 4
            if pos + n > end:
                raise TableError("string runs past the table")
            kind = FieldKind.LONGSTR if tag == 0x53 else FieldKind.BINARY
            return Field(kind, bytes(data[pos:pos + n])), pos + n
        if tag == 0x49:  # I
            return Field(FieldKind.SIGNEDINT, _I32.unpack_from(data, pos)[0]), pos + 4
        if tag == 0x69:  # i
            return Field(FieldKind.UNSIGNEDINT, _U32.unpack_from(data, pos)[0]), pos + 4
        if tag == 0x6C or tag == 0x4C:  # l, L
            return Field(FieldKind.LONG, _I64.unpack_from(data, pos)[0]), pos + 8
        if tag == 0x74:  # t
            return Field(FieldKind.BOOL, data[pos] != 0), pos + 1
        if tag == 0x62:  # b
            return Field(FieldKind.BYTE, _I8.unpack_from(data, pos)[0]), pos + 1
        if tag == 0x42:  # B
            return Field(FieldKind.UNSIGNEDBYTE, data[pos]), pos + 1
        if tag == 0x73:  # s
            return Field(FieldKind.SHORT, _I16.unpack_from(data, pos)[0]), pos + 2
        if tag == 0x75:  # u
            return Field(FieldKind.UNSIGNEDSHORT, _U16.unpack_from(data, pos)[0]), pos + 2
        if tag == 0x66:  # f
            return Field(FieldKind.FLOAT, _F32.unpack_from(data, pos)[0]), pos + 4
        if tag == 0x64:  # d
            return Field(FieldKind.DOUBLE, _F64.unpack_from(data, pos)[0]), pos + 8
        if tag == 0x44:  # D
            scale = data[pos]
            (raw,) = _I32.unpack_from(data, pos + 1)  # signed, as pamqp and py-amqp write it
            return Field(FieldKind.DECIMAL, decimal.Decimal(raw).scaleb(-scale)), pos + 5
        if tag == 0x54:  # T
            return Field(FieldKind.TIMESTAMP, _U64.unpack_from(data, pos)[0]), pos + 8
        if tag == 0x46:  # F
            table, pos = decode_table(data, pos)
            return Field(FieldKind.TABLE, table), pos
        if tag == 0x41:  # A
            (n,) = _U32.unpack_from(data, pos)
            pos += 4
            stop = pos + n
            if stop > end:
                raise TableError("array runs past its container")
            items = []
            while pos < stop:
                item, pos = _value(data, pos, stop)
                items.append(item)
            return Field(FieldKind.ARRAY, items), pos
        if tag == 0x56:  # V
            return Field(FieldKind.VOID, None), pos
    except (struct.error, IndexError):
        raise TableError("truncated field value") from None
    raise TableError(f"unknown field type {chr(tag)!r}")


def decode_table(data: bytes | memoryview, pos: int = 0) -> tuple[dict[str, Field], int]:
    """A length-prefixed table at `pos`: (table, position after it)."""
    try:
        (n,) = _U32.unpack_from(data, pos)
    except struct.error:
        raise TableError("truncated table length") from None
    pos += 4
    end = pos + n
    if end > len(data):
        raise TableError("table runs past the frame")
    return decode_table_body(data, pos, end), end


def decode_table_body(data: bytes | memoryview, pos: int, end: int) -> dict[str, Field]:
    """The key/value pairs between pos and end (AMQPLAIN's response is a table without its length)."""
    table: dict[str, Field] = {}
    while pos < end:
        n = data[pos]
        pos += 1
        if pos + n > end:
            raise TableError("field name runs past the table")
        try:
            key = bytes(data[pos:pos + n]).decode("utf-8")
        except UnicodeDecodeError:
            raise TableError("field name is not UTF-8") from None
        pos += n
        value, pos = _value(data, pos, end)
        table[key] = value
    if pos != end:
        raise TableError("field value runs past the table")
    return table


# -- encoding ---------------------------------------------------------------------------
# Used where the broker writes headers itself (x-death and friends, a BCC header removed):
# every value keeps the type tag it came with.

_TAGS = {
    FieldKind.BOOL: b"t", FieldKind.BYTE: b"b", FieldKind.UNSIGNEDBYTE: b"B", FieldKind.SHORT: b"s",
    FieldKind.UNSIGNEDSHORT: b"u", FieldKind.SIGNEDINT: b"I", FieldKind.UNSIGNEDINT: b"i", FieldKind.LONG: b"l",
    FieldKind.FLOAT: b"f", FieldKind.DOUBLE: b"d", FieldKind.DECIMAL: b"D", FieldKind.LONGSTR: b"S",
    FieldKind.BINARY: b"x", FieldKind.TIMESTAMP: b"T", FieldKind.TABLE: b"F", FieldKind.ARRAY: b"A",
    FieldKind.VOID: b"V",
}


def _encode_value(field: Field, out: list[bytes]) -> None:
    kind, value = field.kind, field.value
    out.append(_TAGS[kind])
    if kind is FieldKind.LONGSTR or kind is FieldKind.BINARY:
        data = bytes(value)
        out.append(_U32.pack(len(data)))
        out.append(data)
    elif kind is FieldKind.LONG:
        out.append(_I64.pack(value))
    elif kind is FieldKind.SIGNEDINT:
        out.append(_I32.pack(value))
    elif kind is FieldKind.UNSIGNEDINT:
        out.append(_U32.pack(value))
    elif kind is FieldKind.BOOL:
        out.append(b"\x01" if value else b"\x00")
    elif kind is FieldKind.BYTE:
        out.append(_I8.pack(value))
    elif kind is FieldKind.UNSIGNEDBYTE:
        out.append(_U8.pack(value))
    elif kind is FieldKind.SHORT:
        out.append(_I16.pack(value))
    elif kind is FieldKind.UNSIGNEDSHORT:
        out.append(_U16.pack(value))
    elif kind is FieldKind.FLOAT:
        out.append(_F32.pack(value))
    elif kind is FieldKind.DOUBLE:
        out.append(_F64.pack(value))
    elif kind is FieldKind.DECIMAL:
        sign, digits, exponent = decimal.Decimal(value).as_tuple()
        raw = int("".join(map(str, digits)) or "0") * (-1 if sign else 1)
        out.append(_U8.pack(max(-int(exponent), 0)))
        out.append(_I32.pack(raw))
    elif kind is FieldKind.TIMESTAMP:
        out.append(_U64.pack(value))
    elif kind is FieldKind.TABLE:
        out.append(encode_table(value))
    elif kind is FieldKind.ARRAY:
        items: list[bytes] = []
        for item in value:
            _encode_value(item, items)
        data = b"".join(items)
        out.append(_U32.pack(len(data)))
        out.append(data)
    # VOID: the tag alone


def encode_table(table: dict[str, Field]) -> bytes:
    """A length-prefixed field table (the inverse of decode_table, type tags kept)."""
    out: list[bytes] = []
    for key, field in table.items():
        name = key.encode()
        out.append(_U8.pack(len(name)))
        out.append(name)
        _encode_value(field, out)
    data = b"".join(out)
    return _U32.pack(len(data)) + data


def table_entries(data: bytes | memoryview, pos: int = 0) -> tuple[list[tuple[str, bytes]], int]:
    """A length-prefixed table's entries as (key, encoded entry bytes), unchanged: for splicing."""
    (n,) = _U32.unpack_from(data, pos)
    pos += 4
    end = pos + n
    if end > len(data):
        raise TableError("table runs past the frame")
    entries = []
    while pos < end:
        start = pos
        size = data[pos]
        key = bytes(data[pos + 1:pos + 1 + size]).decode("utf-8", "replace")
        _field, pos = _value(data, pos + 1 + size, end)
        entries.append((key, bytes(data[start:pos])))
    return entries, end


def encode_entry(key: str, field: Field) -> bytes:
    """One encoded table entry (key and tagged value)."""
    name = key.encode()
    out: list[bytes] = [_U8.pack(len(name)), name]
    _encode_value(field, out)
    return b"".join(out)
