"""A deliberately small AMQP 0-9-1 client over a plain socket, for wire-level compat tests.

Real client libraries hide exactly what some tests must observe (the bytes answering a bad
protocol header, heartbeat frames, a connection.close after a garbage frame, a content header's
raw property bytes), so those tests speak the protocol themselves. Frames are encoded and decoded
with pamqp, the AMQP codec the project pins; a frame is `type(1) channel(2) size(4) payload
frame-end(0xCE)` (AMQP 0-9-1 §4.2.3), and anything can also be written as raw bytes.
"""

from __future__ import annotations

import socket
import struct
import time

from pamqp import commands, encode, frame, header, heartbeat
from pamqp.body import ContentBody
from pamqp.exceptions import UnmarshalingException

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
FRAME_END = b"\xce"

# What a well-behaved modern client announces; RabbitMQ only sends some things (the 403 close on
# bad credentials, basic.cancel on queue deletion) to clients that claim the capability.
CLIENT_PROPERTIES = {
    "product": "mqgateway-compat-raw",
    "capabilities": {
        "authentication_failure_close": True,
        "consumer_cancel_notify": True,
        "basic.nack": True,
        "publisher_confirms": True,
        "exchange_exchange_bindings": True,
        "connection.blocked": True,
    },
}


def raw_frame(frame_type: int, channel: int, payload: bytes, *, end: bytes = FRAME_END) -> bytes:
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + end


def amqplain_response(user: str, password: str) -> str:
    # AMQPLAIN is a field table without its length prefix (RabbitMQ rabbit_auth_mechanism_amqplain).
    # pamqp takes the longstr as str; short ASCII credentials keep every byte below 0x80.
    return encode.field_table({"LOGIN": user, "PASSWORD": password})[4:].decode("ascii")


def plain_response(user: str, password: str) -> str:
    return f"\x00{user}\x00{password}"


class PeerClosed(Exception):
    """The server closed the TCP connection."""


class RawConnection:
    def __init__(self, host: str, port: int, *, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.timeout = timeout
        self.start: commands.Connection.Start | None = None
        self.tune: commands.Connection.Tune | None = None

    # -- bytes ------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, value, channel: int = 0) -> None:
        self.sock.sendall(frame.marshal(value, channel))

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from server")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout as exc:
            raise TimeoutError("no data from server") from exc
        except ConnectionResetError as exc:
            raise PeerClosed("connection reset") from exc
        if not chunk:
            raise PeerClosed("EOF")
        self.buffer += chunk

    def recv_exactly(self, count: int, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buffer) < count:
            self._fill(deadline)
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_to_eof(self, timeout: float | None = None) -> bytes:
        """Everything the server sends until it closes; TimeoutError if it never closes."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            try:
                self._fill(deadline)
            except PeerClosed:
                data, self.buffer = self.buffer, b""
                return data

    def recv_raw_frame(self, timeout: float | None = None) -> tuple[int, int, bytes]:
        """(frame type, channel, payload) of the next frame, undecoded."""
        head = self.recv_exactly(7, timeout)
        frame_type, channel, size = struct.unpack(">BHI", head)
        rest = self.recv_exactly(size + 1, timeout)
        assert rest[-1:] == FRAME_END, f"frame without frame-end: {rest[-8:]!r}"
        return frame_type, channel, rest[:-1]

    def recv_frame(self, timeout: float | None = None):
        """(channel, decoded pamqp frame) of the next frame."""
        frame_type, channel, payload = self.recv_raw_frame(timeout)
        data = struct.pack(">BHI", frame_type, channel, len(payload)) + payload + FRAME_END
        try:
            _, channel, value = frame.unmarshal(data)
        except UnmarshalingException as exc:  # pragma: no cover - diagnostic
            raise AssertionError(f"undecodable frame {data[:64]!r}") from exc
        return channel, value

    def expect(self, kind, timeout: float | None = None, *, skip_heartbeats: bool = True):
        """The next non-heartbeat frame, asserted to be an instance of `kind`."""
        while True:
            channel, value = self.recv_frame(timeout)
            if skip_heartbeats and isinstance(value, heartbeat.Heartbeat):
                continue
            assert isinstance(value, kind), f"expected {kind.__name__}, got {value!r} on channel {channel}"
            return value

    def expect_close_then_eof(self, timeout: float | None = None) -> commands.Connection.Close:
        """A connection.close from the server; answers close-ok and waits for the socket to end."""
        close = self.expect(commands.Connection.Close, timeout)
        self.send_frame(commands.Connection.CloseOk())
        self.read_to_eof(timeout)
        return close

    # -- handshake --------------------------------------------------------------------------
    def handshake(self, *, user: str = "guest", password: str = "guest", vhost: str = "/",
                  mechanism: str = "PLAIN", heartbeat_s: int = 0, frame_max: int | None = None,
                  channel_max: int | None = None, open_vhost: bool = True) -> None:
        self.send(PROTOCOL_HEADER)
        self.start = self.expect(commands.Connection.Start)
        response = (plain_response if mechanism == "PLAIN" else amqplain_response)(user, password)
        self.send_frame(commands.Connection.StartOk(
            client_properties=CLIENT_PROPERTIES, mechanism=mechanism, response=response, locale="en_US"))
        self.tune = self.expect(commands.Connection.Tune)
        self.send_frame(commands.Connection.TuneOk(
            channel_max=self.tune.channel_max if channel_max is None else channel_max,
            frame_max=self.tune.frame_max if frame_max is None else frame_max,
            heartbeat=heartbeat_s))
        if open_vhost:
            self.send_frame(commands.Connection.Open(virtual_host=vhost))
            self.expect(commands.Connection.OpenOk)

    def open_channel(self, channel: int = 1) -> None:
        self.send_frame(commands.Channel.Open(), channel)
        self.expect(commands.Channel.OpenOk)

    def publish(self, channel: int, *, exchange: str, routing_key: str, body: bytes,
                properties_payload: bytes | None = None, mandatory: bool = False) -> None:
        """basic.publish + header + one body frame; `properties_payload` is the raw
        property-flags-and-values part of the content header, when a test builds it by hand."""
        self.send_frame(commands.Basic.Publish(exchange=exchange, routing_key=routing_key,
                                               mandatory=mandatory), channel)
        if properties_payload is None:
            self.send_frame(header.ContentHeader(0, len(body), commands.Basic.Properties()), channel)
        else:
            payload = struct.pack(">HHQ", 60, 0, len(body)) + properties_payload
            self.send(raw_frame(2, channel, payload))
        if body:
            self.send_frame(ContentBody(body), channel)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "RawConnection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def shortstr(value: str) -> bytes:
    data = value.encode()
    return bytes([len(data)]) + data


def table(*entries: tuple[str, bytes, bytes]) -> bytes:
    """A field table from (key, type octet, encoded value) triples, with its length prefix; lets a
    test choose the exact wire type of every value (pamqp always picks the smallest integer type)."""
    body = b"".join(shortstr(key) + kind + value for key, kind, value in entries)
    return struct.pack(">I", len(body)) + body


def queue_declare_frame(channel: int, queue: str, *, arguments: bytes = b"\x00\x00\x00\x00", passive: bool = False,
                        durable: bool = False, exclusive: bool = False, auto_delete: bool = False) -> bytes:
    bits = passive | durable << 1 | exclusive << 2 | auto_delete << 3
    payload = struct.pack(">HHH", 50, 10, 0) + shortstr(queue) + bytes([bits]) + arguments
    return raw_frame(1, channel, payload)
