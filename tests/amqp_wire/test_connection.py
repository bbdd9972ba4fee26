"""The connection state machine without sockets: a fake Link, bytes in, frames out."""

from __future__ import annotations

import asyncio
import struct

from pamqp import commands, frame as pframe
from pamqp.header import ContentHeader
from pamqp.body import ContentBody

from amqp_wire.frames import build, decode_method, marshal_method
from amqp_wire.service import AmqpService, AmqpSettings
from engine import Engine


class FakeLink:
    def __init__(self, peer=("127.0.0.1", 5555)) -> None:
        self.peer = peer
        self.local = ("127.0.0.1", 5672)
        self.data = bytearray()
        self.closed = False
        self.aborted = False
        self.handshaken = False

    def write(self, data) -> None:
        self.data += data

    def writelines(self, chunks) -> None:
        for chunk in chunks:
            self.data += chunk

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed

    def write_buffer_size(self) -> int:
        return 0

    async def drain(self) -> None:
        pass

    def handshake_done(self) -> None:
        self.handshaken = True

    def frames(self):
        """Decodes and consumes everything written so far: [(channel, method or bytes)]."""
        out = []
        data = bytes(self.data)
        self.data.clear()
        pos = 0
        while pos < len(data):
            ftype, channel, size = struct.unpack_from(">BHI", data, pos)
            payload = data[pos + 7: pos + 7 + size]
            pos += 8 + size
            if ftype == 1:
                out.append((channel, decode_method(struct.unpack_from(">I", payload)[0], payload)))
            else:
                out.append((channel, (ftype, payload)))
        return out


def method(channel: int, m) -> bytes:
    payload = marshal_method(m)
    return struct.pack(">BHI", 1, channel, len(payload)) + payload + b"\xce"


async def _settle():
    for _ in range(3):
        await asyncio.sleep(0)


def _engine():
    engine = Engine(data_dir=None)
    engine.open()
    return engine


async def connect(link=None, **settings):
    service = AmqpService(_engine(), AmqpSettings(**settings))
    link = link or FakeLink()
    session = service.new_session(link)
    session.data_received(b"AMQP\x00\x00\x09\x01")
    await _settle()
    (ch, start), = link.frames()
    assert start.name == "Connection.Start"
    session.data_received(method(0, build(commands.Connection.StartOk, client_properties={},
                                          mechanism="PLAIN", response="\x00guest\x00guest", locale="en_US")))
    await _settle()
    return service, session, link


async def open_connection(**settings):
    service, session, link = await connect(**settings)
    (_, tune), = link.frames()
    session.data_received(method(0, build(commands.Connection.TuneOk, channel_max=tune.channel_max,
                                          frame_max=tune.frame_max, heartbeat=0)))
    session.data_received(method(0, build(commands.Connection.Open, virtual_host="/")))
    await _settle()
    (_, ok), = link.frames()
    assert ok.name == "Connection.OpenOk"
    return service, session, link


async def test_bad_protocol_header_is_answered_with_ours_and_closed():
    service = AmqpService(_engine(), AmqpSettings())
    link = FakeLink()
    session = service.new_session(link)
    session.data_received(b"HELO\n\n\n\n")
    assert bytes(link.data) == b"AMQP\x00\x00\x09\x01" and link.closed


async def test_other_amqp_version_gets_our_header():
    service = AmqpService(_engine(), AmqpSettings())
    link = FakeLink()
    service.new_session(link).data_received(b"AMQP\x01\x01\x00\x0a")
    assert bytes(link.data) == b"AMQP\x00\x00\x09\x01" and link.closed


async def test_header_split_across_reads():
    service = AmqpService(_engine(), AmqpSettings())
    link = FakeLink()
    session = service.new_session(link)
    session.data_received(b"AM")
    session.data_received(b"QP\x00\x00\x09\x01")
    await _settle()
    assert link.frames()[0][1].name == "Connection.Start"


async def test_start_properties_advertise_rabbitmqs_nine_capabilities():
    service = AmqpService(_engine(), AmqpSettings())
    link = FakeLink()
    service.new_session(link).data_received(b"AMQP\x00\x00\x09\x01")
    await _settle()
    (_, start), = link.frames()
    caps = start.server_properties["capabilities"].value
    assert {k for k, v in caps.items() if v.value} == {
        "publisher_confirms", "exchange_exchange_bindings", "basic.nack", "consumer_cancel_notify",
        "connection.blocked", "consumer_priorities", "authentication_failure_close", "per_consumer_qos",
        "direct_reply_to"}
    assert start.mechanisms == "PLAIN AMQPLAIN" and start.locales == "en_US"
    assert "host" not in start.server_properties


async def test_guest_is_refused_from_a_non_loopback_peer():
    link = FakeLink(peer=("10.1.2.3", 40000))
    service = AmqpService(_engine(), AmqpSettings())
    session = service.new_session(link)
    session.data_received(b"AMQP\x00\x00\x09\x01")
    session.data_received(method(0, build(
        commands.Connection.StartOk, mechanism="PLAIN", response="\x00guest\x00guest", locale="en_US",
        client_properties={"capabilities": {"authentication_failure_close": True}})))
    await _settle()
    close = link.frames()[-1][1]
    assert (close.name, close.reply_code) == ("Connection.Close", 403)
    assert close.reply_text == ("ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. "
                                "For details see the broker logfile.")


async def test_tune_ok_above_the_server_values_is_530():
    service, session, link = await connect()
    link.frames()
    session.data_received(method(0, build(commands.Connection.TuneOk, channel_max=2047, frame_max=10_000_000,
                                          heartbeat=0)))
    await _settle()
    (_, close), = link.frames()
    assert close.reply_code == 530
    assert close.reply_text == ("NOT_ALLOWED - negotiated frame_max = 10000000 is higher than the maximum "
                                "allowed value (131072)")


async def test_unknown_vhost_is_530():
    service, session, link = await connect()
    link.frames()
    session.data_received(method(0, build(commands.Connection.TuneOk, channel_max=10, frame_max=131072,
                                          heartbeat=0)))
    session.data_received(method(0, build(commands.Connection.Open, virtual_host="nope")))
    await _settle()
    (_, close), = link.frames()
    assert (close.reply_code, close.reply_text) == (530, "NOT_ALLOWED - vhost nope not found")
    assert (close.class_id, close.method_id) == (10, 40)


async def test_channel_open_beyond_channel_max_open_channels_is_530():
    # RabbitMQ (rabbit_reader:create_channel) bounds the count of open channels, not the
    # channel number: channel 3 opens under channel_max=2, a third open channel does not.
    service, session, link = await connect()
    link.frames()
    session.data_received(method(0, build(commands.Connection.TuneOk, channel_max=2, frame_max=131072, heartbeat=0)))
    session.data_received(method(0, build(commands.Connection.Open, virtual_host="/")))
    session.data_received(method(3, build(commands.Channel.Open)))
    session.data_received(method(65535, build(commands.Channel.Open)))
    await _settle()
    assert [type(f[1]) for f in link.frames()[-2:]] == [commands.Channel.OpenOk] * 2
    session.data_received(method(1, build(commands.Channel.Open)))
    await _settle()
    close = link.frames()[-1][1]
    assert close.reply_code == 530
    assert close.reply_text == "NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)"


async def test_publish_split_into_many_body_frames_and_byte_exact_properties():
    service, session, link = await open_connection()
    session.data_received(method(1, build(commands.Channel.Open)))
    session.data_received(method(1, build(commands.Queue.Declare, queue="q")))
    props = commands.Basic.Properties(content_type="a/b", headers={"k": [1, "x", {"n": None}]}, priority=3,
                                      delivery_mode=1, message_id="id", app_id="app")
    body = bytes(range(256)) * 40
    data = method(1, build(commands.Basic.Publish, exchange="", routing_key="q"))
    data += pframe.marshal(ContentHeader(0, len(body), props), 1)
    for i in range(0, len(body), 1000):
        data += pframe.marshal(ContentBody(body[i:i + 1000]), 1)
    # deliver the whole thing one byte at a time: framing must not care
    for i in range(len(data)):
        session.data_received(data[i:i + 1])
    session.data_received(method(1, build(commands.Basic.Get, queue="q", no_ack=True)))
    await _settle()
    got = link.frames()
    get_ok = [m for _, m in got if getattr(m, "name", "") == "Basic.GetOk"][0]
    assert get_ok.message_count == 0
    header_payload = [p for _, p in got if isinstance(p, tuple) and p[0] == 2][0][1]
    assert header_payload[12:] == props.marshal()
    assert b"".join(p[1] for _, p in got if isinstance(p, tuple) and p[0] == 3) == body


async def test_frame_errors_close_only_the_connection():
    service, session, link = await open_connection()
    session.data_received(b"\x01\x00\x00\x00\x00\x00\x04\x00\x0a\x00\x33\x00")  # bad frame-end octet
    await _settle()
    (_, close), = link.frames()
    assert close.reply_code == 501 and close.reply_text.startswith("FRAME_ERROR - ")
    session.data_received(b"more garbage is ignored")
    assert link.frames() == []


async def test_heartbeats_sent_and_missed_ones_detected():
    service, session, link = await connect()
    link.frames()
    session.data_received(method(0, build(commands.Connection.TuneOk, channel_max=10, frame_max=131072, heartbeat=1)))
    session.data_received(method(0, build(commands.Connection.Open, virtual_host="/")))
    await asyncio.sleep(0.7)
    assert (0, (8, b"")) in link.frames()
    await asyncio.sleep(2.2)
    assert link.aborted


async def test_service_close_sends_connection_forced():
    service, session, link = await open_connection()
    task = asyncio.ensure_future(service.close())
    await _settle()
    (_, close), = link.frames()
    assert (close.reply_code, close.reply_text) == (
        320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")
    session.data_received(method(0, build(commands.Connection.CloseOk)))
    await task
    assert link.closed


# -- bad input never escapes the session -------------------------------------------------

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

_INDEXES = sorted(commands.INDEX_MAPPING)


@st.composite
def _frames(draw):
    kind = draw(st.sampled_from(["method", "header", "body", "heartbeat", "raw"]))
    channel = draw(st.sampled_from([0, 1, 2, 9]))
    if kind == "method":
        index = draw(st.sampled_from(_INDEXES))
        payload = struct.pack(">I", index) + draw(st.binary(max_size=60))
        return struct.pack(">BHI", 1, channel, len(payload)) + payload + b"\xce"
    if kind == "header":
        payload = struct.pack(">HHQ", 60, 0, draw(st.integers(0, 40))) + draw(st.binary(max_size=30))
        return struct.pack(">BHI", 2, channel, len(payload)) + payload + b"\xce"
    if kind == "body":
        payload = draw(st.binary(max_size=40))
        return struct.pack(">BHI", 3, channel, len(payload)) + payload + b"\xce"
    if kind == "heartbeat":
        return b"\x08\x00\x00\x00\x00\x00\x00\xce"
    return draw(st.binary(min_size=1, max_size=30))


@given(st.lists(_frames(), max_size=12))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_frames_never_escape_the_session(frames_in):
    async def run():
        service, session, link = await open_connection()
        session.data_received(method(1, build(commands.Channel.Open)))
        session.data_received(method(1, build(commands.Queue.Declare, queue="fuzz")))
        for data in frames_in:
            session.data_received(data)  # must not raise, whatever it is
        await _settle()
        closes = [m for _, m in link.frames() if getattr(m, "name", "") == "Connection.Close"]
        # 541 INTERNAL_ERROR is what a bug turns into: bad input must get a protocol error
        assert all(c.reply_code != 541 for c in closes), closes[0].reply_text
        session.connection_lost(None)
        service.engine.close()

    asyncio.run(run())


_VALUES = {
    "shortstr": st.sampled_from(["", "fuzz", "amq.direct", "amq.x", "x", "q2", "topic", "headers", "nope"]),
    "longstr": st.sampled_from(["", "\x00guest\x00guest", "x"]),
    "bit": st.booleans(),
    "octet": st.integers(0, 255),
    "short": st.integers(0, 65535),
    "long": st.integers(0, 2 ** 32 - 1),
    "longlong": st.integers(0, 20),
    "timestamp": st.just(0),
    "table": st.sampled_from([{}, {"x-match": "any", "a": 1}, {"alternate-exchange": "x"}, {"x-priority": 1},
                              {"x-queue-type": "quorum"}, {"x-match": "bogus"}, {"x-message-ttl": 5}]),
}


@st.composite
def _methods(draw):
    cls = commands.INDEX_MAPPING[draw(st.sampled_from(_INDEXES))]
    values = {name: draw(_VALUES[cls.amqp_type(name)]) for name in cls.__slots__}
    channel = draw(st.sampled_from([0, 1, 1, 1, 2]))
    data = method(channel, build(cls, **values))
    if cls is commands.Basic.Publish and draw(st.booleans()):
        body = draw(st.binary(max_size=10))
        props = draw(st.sampled_from([b"\x00\x00", commands.Basic.Properties(headers={"a": 1}).marshal(),
                                      commands.Basic.Properties(expiration="x1", user_id="bob").marshal()]))
        header = struct.pack(">HHQ", 60, 0, len(body)) + props
        data += struct.pack(">BHI", 2, channel, len(header)) + header + b"\xce"
        if body:
            data += struct.pack(">BHI", 3, channel, len(body)) + body + b"\xce"
    return data


@given(st.lists(_methods(), max_size=15))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_random_well_formed_methods_get_protocol_answers(methods_in):
    test_random_frames_never_escape_the_session.hypothesis.inner_test(methods_in)
