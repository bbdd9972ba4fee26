"""Typed values of arguments and message headers, as the engine keeps them.

AMQP 0-9-1 field tables carry a type tag with every value, and RabbitMQ's behaviour
depends on it: declare-argument equivalence compares the *type class* and the value
(`rabbit_misc:assert_args_equivalence`, integers of any width are one class), and its
error texts name the type ("received the value '2000' of type 'signedint'"). So a value
crossing into the engine is a `Field(kind, value)` where `kind` uses RabbitMQ's own type
names (`rabbit_binary_parser`). The wire layer decodes its table encoding into these;
the engine never sees the encoding.

Python value per kind: bool -> bool; the integer kinds -> int; float/double -> float;
decimal -> decimal.Decimal; longstr/binary -> bytes; timestamp -> int (seconds);
table -> dict[str, Field]; array -> list[Field]; void -> None.

`to_json`/`from_json` give the definitions file (engine/messaging/definitions.py) a
lossless text form of these values.
"""

from __future__ import annotations

import base64
import decimal
import enum
from dataclasses import dataclass
from typing import Any, Mapping


class FieldKind(enum.StrEnum):
    BOOL = "bool"
    BYTE = "byte"
    UNSIGNEDBYTE = "unsignedbyte"
    SHORT = "short"
    UNSIGNEDSHORT = "unsignedshort"
    SIGNEDINT = "signedint"
    UNSIGNEDINT = "unsignedint"
    LONG = "long"
    FLOAT = "float"
    DOUBLE = "double"
    DECIMAL = "decimal"
    LONGSTR = "longstr"
    BINARY = "binary"
    TIMESTAMP = "timestamp"
    TABLE = "table"
    ARRAY = "array"
    VOID = "void"


INTEGER_KINDS = frozenset({
    FieldKind.BYTE, FieldKind.UNSIGNEDBYTE, FieldKind.SHORT, FieldKind.UNSIGNEDSHORT,
    FieldKind.SIGNEDINT, FieldKind.UNSIGNEDINT, FieldKind.LONG,
})


@dataclass(frozen=True, slots=True)
class Field:
    kind: FieldKind
    value: Any

    def type_class(self) -> str:
        """RabbitMQ's `type_class/1`: every integer width is one class, `int`."""
        return "int" if self.kind in INTEGER_KINDS else str(self.kind)

    def equivalent(self, other: "Field") -> bool:
        return self.type_class() == other.type_class() and self.value == other.value

    def render(self) -> str:
        """The value as RabbitMQ prints it inside quotes in error texts."""
        return render_value(self)


Table = Mapping[str, Field]


def render_value(field: Field) -> str:
    value = field.value
    if field.kind is FieldKind.BOOL:
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if field.kind is FieldKind.TABLE:
        return "[" + ",".join(f"{{<<\"{k}\">>,{v.kind},{render_value(v)}}}" for k, v in value.items()) + "]"
    if field.kind is FieldKind.ARRAY:
        return "[" + ",".join(f"{{{v.kind},{render_value(v)}}}" for v in value) + "]"
    if value is None:
        return "undefined"
    return str(value)


def longstr(text: str) -> Field:
    return Field(FieldKind.LONGSTR, text.encode())


def as_text(field: Field | None) -> str | None:
    """A longstr argument as text (names of exchanges and the like)."""
    if field is None or field.kind is not FieldKind.LONGSTR:
        return None
    return bytes(field.value).decode("utf-8", "replace")


def values_equal(a: Field, b: Field) -> bool:
    """Erlang's `==` on two field values: numbers compare across int/float, bool is not a number."""
    if (a.kind is FieldKind.BOOL) != (b.kind is FieldKind.BOOL):
        return False
    return a.value == b.value


def to_json(field: Field) -> list:
    kind, value = field.kind, field.value
    if kind in (FieldKind.LONGSTR, FieldKind.BINARY):
        value = base64.b64encode(bytes(value)).decode()
    elif kind is FieldKind.DECIMAL:
        value = str(value)
    elif kind is FieldKind.TABLE:
        value = {k: to_json(v) for k, v in value.items()}
    elif kind is FieldKind.ARRAY:
        value = [to_json(v) for v in value]
    return [str(kind), value]


def from_json(raw: list) -> Field:
    kind, value = FieldKind(raw[0]), raw[1]
    if kind in (FieldKind.LONGSTR, FieldKind.BINARY):
        value = base64.b64decode(value)
    elif kind is FieldKind.DECIMAL:
        value = decimal.Decimal(value)
    elif kind is FieldKind.TABLE:
        value = {k: from_json(v) for k, v in value.items()}
    elif kind is FieldKind.ARRAY:
        value = [from_json(v) for v in value]
    return Field(kind, value)


def table_to_json(table: Table) -> dict:
    return {k: to_json(v) for k, v in table.items()}


def table_from_json(raw: dict) -> dict[str, Field]:
    return {k: from_json(v) for k, v in raw.items()}
