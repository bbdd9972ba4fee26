"""Property-list rewriting (BCC removal, reply-to, annotations on delivery) and typed field-table
encoding: checked against pamqp's decoder and by round trips (Hypothesis)."""

from __future__ import annotations

import datetime
import decimal

from hypothesis import given, settings, strategies as st
from pamqp import commands, header

from engine.messaging import DeathReason
from engine.messaging.deaths import record_death
from engine.messaging.fields import Field, FieldKind

from amqp_wire.fieldtable import decode_table, encode_table
from amqp_wire.properties import annotated, rewrite, scan, sender_selected

import pytest

KIND_VALUES = {
    FieldKind.BOOL: st.booleans(),
    FieldKind.BYTE: st.integers(-128, 127),
    FieldKind.UNSIGNEDBYTE: st.integers(0, 255),
    FieldKind.SHORT: st.integers(-2**15, 2**15 - 1),
    FieldKind.UNSIGNEDSHORT: st.integers(0, 2**16 - 1),
    FieldKind.SIGNEDINT: st.integers(-2**31, 2**31 - 1),
    FieldKind.UNSIGNEDINT: st.integers(0, 2**32 - 1),
    FieldKind.LONG: st.integers(-2**63, 2**63 - 1),
    FieldKind.DOUBLE: st.floats(allow_nan=False),
    FieldKind.DECIMAL: st.decimals(places=3, min_value=-10**5, max_value=10**5, allow_nan=False,
                                   allow_infinity=False),
    FieldKind.LONGSTR: st.binary(max_size=20),
    FieldKind.BINARY: st.binary(max_size=20),
    FieldKind.TIMESTAMP: st.integers(0, 2**40),
    FieldKind.VOID: st.none(),
}
scalar_fields = st.one_of(*(values.map(lambda v, k=kind: Field(k, v)) for kind, values in KIND_VALUES.items()))
fields = st.recursive(
    scalar_fields,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(lambda items: Field(FieldKind.ARRAY, items)),
        st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=3).map(lambda t: Field(FieldKind.TABLE, t)),
    ),
    max_leaves=10,
)
tables = st.dictionaries(st.text(min_size=1, max_size=8), fields, max_size=5)


@given(tables)
@settings(max_examples=300)
def test_encode_table_round_trips_with_type_tags(table):
    raw = encode_table(table)
    decoded, end = decode_table(raw)
    assert end == len(raw)
    assert decoded == table


def _props(**values) -> bytes:
    return commands.Basic.Properties(**values).marshal()


def _decode(props: bytes) -> commands.Basic.Properties:
    frame = header.ContentHeader()
    frame.unmarshal(b"\x00\x3c\x00\x00" + b"\x00" * 8 + props)
    return frame.properties


def test_rewrite_keeps_every_other_property_byte_for_byte():
    stamp = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    props = _props(content_type="text/plain", headers={"a": 1}, delivery_mode=2, priority=3, correlation_id="c",
                   reply_to="amq.rabbitmq.reply-to", expiration="500", message_id="m", timestamp=stamp,
                   message_type="t", user_id="guest", app_id="app")
    assert scan(props).fast_reply
    out = rewrite(props, reply_to=b"amq.rabbitmq.reply-to.abc", drop_expiration=True)
    got = _decode(out)
    assert got.reply_to == "amq.rabbitmq.reply-to.abc" and got.expiration is None
    assert (got.content_type, got.headers, got.delivery_mode, got.priority, got.correlation_id, got.message_id,
            got.timestamp, got.message_type, got.user_id, got.app_id) == (
        "text/plain", {"a": 1}, 2, 3, "c", "m", stamp, "t", "guest", "app")
    assert rewrite(props) == props


def test_sender_selected_keys_and_bcc_removal():
    props = _props(headers={"CC": ["c1", "c2"], "BCC": ["b1"], "x": "y"}, delivery_mode=2)
    cc, bcc, stored = sender_selected(props, scan(props).headers_at)
    assert (cc, bcc) == (("c1", "c2"), ("b1",))
    got = _decode(stored)
    assert got.headers == {"CC": ["c1", "c2"], "x": "y"} and got.delivery_mode == 2
    only_bcc = _props(headers={"BCC": ["b"]})
    assert _decode(sender_selected(only_bcc, scan(only_bcc).headers_at)[2]).headers is None
    wrong = _props(headers={"CC": "not-an-array"})
    with pytest.raises(ValueError, match=r'\{unacceptable_type_in_header,"CC",longstr\}'):
        sender_selected(wrong, scan(wrong).headers_at)


def test_annotated_renders_x_death_as_rabbitmq_4():
    props = _props(headers={"x-death": "published by the client", "app": decimal.Decimal("1.5")},
                   expiration="500", correlation_id="c")
    deaths = record_death(None, queue="q1", reason=DeathReason.EXPIRED, exchange="x", routing_keys=("rk", "cc"),
                          ttl=500, now_ms=1_700_000_000_123)
    deaths = record_death(deaths, queue="q2", reason=DeathReason.REJECTED, exchange="dlx", routing_keys=("rk",),
                          ttl=None, now_ms=1_700_000_005_000)
    out = annotated(props, deaths, 0)
    assert scan(out).expiration is None
    table, _ = decode_table(out, scan(out).headers_at)
    assert list(table) == sorted(table)  # mc_amqpl sorts the headers when it adds annotations
    newest, oldest = table["x-death"].value
    assert newest.value == {
        "count": Field(FieldKind.LONG, 1), "reason": Field(FieldKind.LONGSTR, b"rejected"),
        "queue": Field(FieldKind.LONGSTR, b"q2"), "time": Field(FieldKind.TIMESTAMP, 1_700_000_005),
        "exchange": Field(FieldKind.LONGSTR, b"dlx"),
        "routing-keys": Field(FieldKind.ARRAY, [Field(FieldKind.LONGSTR, b"rk")])}
    assert oldest.value["original-expiration"] == Field(FieldKind.LONGSTR, b"500")
    assert oldest.value["time"] == Field(FieldKind.TIMESTAMP, 1_700_000_000)
    assert {k: bytes(v.value) for k, v in table.items() if k.startswith(("x-first", "x-last"))} == {
        "x-first-death-exchange": b"x", "x-first-death-queue": b"q1", "x-first-death-reason": b"expired",
        "x-last-death-exchange": b"dlx", "x-last-death-queue": b"q2", "x-last-death-reason": b"rejected"}
    assert table["app"] == Field(FieldKind.DECIMAL, decimal.Decimal("1.5"))
    assert _decode(out).correlation_id == "c"


def test_annotated_delivery_count_only():
    props = _props(expiration="100")
    out = annotated(props, None, 3)
    assert scan(out).expiration == b"100"  # only dead-lettering drops the expiration
    assert decode_table(out, scan(out).headers_at)[0] == {"x-delivery-count": Field(FieldKind.LONG, 3)}
