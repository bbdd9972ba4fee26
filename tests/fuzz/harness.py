"""Runs fuzz cases against a real server over sockets, and well-behaved clients beside them.

`run_kafka_case` / `run_amqp_case` send one case on a fresh connection and report what the
broker did with it (`Outcome`); after the case they send a *probe* on the same connection
(Kafka: ApiVersions v0 with its own correlation id; AMQP: channel.open on a spare channel),
so "the connection is still served" is an answer, not a timeout. Every frame the broker sends
back must itself be well-formed.

`Witness` runs the well-behaved clients the issue asks for in threads for the whole module —
a kafka-python producer (acks=all) and consumer, a pika publisher with confirms and basic.get
— and records every error they see; `ok()` at the end demands none and some progress.
"""

from __future__ import annotations

import enum
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field

from tests.fuzz.cases import Case, Expect
from tests.reliability.support import AMQP_HEADER, API_VERSIONS_V0

PROBE_CORRELATION = 0x7EAD
KAFKA_PROBE = API_VERSIONS_V0[:8] + struct.pack(">i", PROBE_CORRELATION) + API_VERSIONS_V0[12:]
AMQP_PROBE_CHANNEL = 2046


class Outcome(enum.Enum):
    ALIVE = "alive"  # the probe behind the case was answered
    CLOSED = "closed"  # the broker closed the connection (FIN or RST)
    CONN_ERROR = "connection-error"  # AMQP connection.close from the broker, then closed
    PARKED = "parked"  # nothing within the time limit (a long poll that a mutation made long)


@dataclass(slots=True)
class Result:
    outcome: Outcome
    reply_codes: list[int] = field(default_factory=list)  # AMQP connection/channel close codes seen
    answers: int = 0  # Kafka frames answered before the probe


class BrokenAnswer(AssertionError):
    """The broker sent bytes that are not a well-formed frame of its protocol."""


def _recv(sock: socket.socket, deadline: float) -> bytes | None:
    """Some bytes, b"" at EOF/reset, None at the deadline."""
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    sock.settimeout(left)
    try:
        return sock.recv(1 << 20)
    except (ConnectionResetError, BrokenPipeError):
        return b""
    except socket.timeout:
        return None


# -- Kafka --------------------------------------------------------------------------------------
def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no Nagle delay between case and probe
    return sock


def run_kafka_case(port: int, case: Case, *, timeout: float = 3.0) -> Result:
    sock = _connect(port)
    try:
        try:
            sock.sendall(case.data)
            if case.half_close:
                sock.shutdown(socket.SHUT_WR)
            else:
                sock.sendall(KAFKA_PROBE)
        except (BrokenPipeError, ConnectionResetError):
            return Result(Outcome.CLOSED)
        deadline = time.monotonic() + timeout
        buffer = b""
        answers = 0
        while True:
            while len(buffer) >= 4:
                (size,) = struct.unpack_from(">i", buffer)
                if not 4 <= size <= 128 * 1024 * 1024:
                    raise BrokenAnswer(f"answer frame of size {size}")
                if len(buffer) < 4 + size:
                    break
                frame, buffer = buffer[4:4 + size], buffer[4 + size:]
                (correlation,) = struct.unpack_from(">i", frame)
                if correlation == PROBE_CORRELATION and not case.half_close:
                    return Result(Outcome.ALIVE, answers=answers)
                if case.kind == "bad_api_versions" and answers == 0:
                    # KIP-511: v0 body (error_code first) with UNSUPPORTED_VERSION (35).
                    if correlation != 77 or frame[4:6] != b"\x00\x23":
                        raise BrokenAnswer(f"unknown ApiVersions version answered {frame[:8]!r}")
                answers += 1
            chunk = _recv(sock, deadline)
            if chunk is None:
                return Result(Outcome.PARKED, answers=answers)
            if chunk == b"":
                return Result(Outcome.CLOSED, answers=answers)
            buffer += chunk
    finally:
        sock.close()


def check_kafka(case: Case, result: Result) -> None:
    if case.half_close:
        # We half-closed: whatever was parsed is answered, then the broker must close too.
        assert result.outcome is Outcome.CLOSED, f"{case.kind}: half-closed connection left {result.outcome}"
    if case.expect is Expect.MUST_REFUSE:
        assert result.outcome is Outcome.CLOSED, f"{case.kind} {case.data[:40]!r}: {result.outcome}, not closed"
    if case.kind == "bad_api_versions":
        assert result.answers >= 1 or result.outcome is Outcome.CLOSED


# -- AMQP ---------------------------------------------------------------------------------------
def _amqp_frames(buffer: bytearray):
    """Complete frames at the front of `buffer` (consumed): (type, channel, payload)."""
    while len(buffer) >= 8:
        if buffer[:4] == b"AMQP":  # the broker's protocol header, answering a bad one
            del buffer[:8]
            yield ("header", 0, b"")
            continue
        frame_type, channel, size = struct.unpack_from(">BHI", buffer)
        if size > 1 << 20:
            raise BrokenAnswer(f"frame of size {size} from the broker")
        if len(buffer) < 8 + size:
            return
        if buffer[7 + size] != 0xCE:
            raise BrokenAnswer("frame without frame-end from the broker")
        payload = bytes(buffer[7:7 + size])
        del buffer[:8 + size]
        yield (frame_type, channel, payload)


CONNECTION_CLOSE = struct.pack(">HH", 10, 50)
CONNECTION_CLOSE_OK = struct.pack(">BHI", 1, 0, 4) + struct.pack(">HH", 10, 51) + b"\xce"
CHANNEL_CLOSE = struct.pack(">HH", 20, 40)
CHANNEL_OPEN_OK = struct.pack(">HH", 20, 11)


def _handshake(sock: socket.socket) -> None:
    from pamqp import commands, frame

    from tests.compat.amqp.rawamqp import CLIENT_PROPERTIES, plain_response

    buffer = bytearray()

    def expect(class_method: tuple[int, int]) -> None:
        deadline = time.monotonic() + 5
        while True:
            for frame_type, _, payload in _amqp_frames(buffer):
                if frame_type == 1 and struct.unpack_from(">HH", payload) == class_method:
                    return
            chunk = _recv(sock, deadline)
            if not chunk:
                raise AssertionError(f"handshake: no {class_method} from the broker")
            buffer.extend(chunk)

    sock.sendall(AMQP_HEADER)
    expect((10, 10))
    sock.sendall(frame.marshal(commands.Connection.StartOk(
        client_properties=CLIENT_PROPERTIES, mechanism="PLAIN", response=plain_response("guest", "guest"),
        locale="en_US"), 0))
    expect((10, 30))
    sock.sendall(frame.marshal(commands.Connection.TuneOk(channel_max=2047, frame_max=131072, heartbeat=0), 0))
    sock.sendall(frame.marshal(commands.Connection.Open(virtual_host="/"), 0))
    expect((10, 41))
    sock.sendall(frame.marshal(commands.Channel.Open(), 1))
    expect((20, 11))


def run_amqp_case(port: int, case: Case, *, timeout: float = 3.0) -> Result:
    from pamqp import commands, frame

    sock = _connect(port)
    try:
        if not case.fresh:
            _handshake(sock)
        try:
            sock.sendall(case.data)
            if case.half_close:
                sock.shutdown(socket.SHUT_WR)
            elif not case.fresh:
                sock.sendall(frame.marshal(commands.Channel.Open(), AMQP_PROBE_CHANNEL))
        except (BrokenPipeError, ConnectionResetError):
            return Result(Outcome.CLOSED)
        result = Result(Outcome.PARKED)
        buffer = bytearray()
        deadline = time.monotonic() + timeout
        while True:
            for frame_type, channel, payload in _amqp_frames(buffer):
                if frame_type != 1:
                    continue
                if payload[:4] == CONNECTION_CLOSE:
                    result.reply_codes.append(struct.unpack_from(">H", payload, 4)[0])
                    # The protocol's error: answer close-ok and go (after a framing error
                    # the broker discards input for a moment before it hangs up).
                    try:
                        sock.sendall(CONNECTION_CLOSE_OK)
                    except OSError:
                        pass
                    result.outcome = Outcome.CONN_ERROR
                    return result
                elif payload[:4] == CHANNEL_CLOSE:
                    result.reply_codes.append(struct.unpack_from(">H", payload, 4)[0])
                elif payload[:4] == CHANNEL_OPEN_OK and channel == AMQP_PROBE_CHANNEL:
                    result.outcome = Outcome.ALIVE
                    return result
            chunk = _recv(sock, deadline)
            if chunk is None:
                result.outcome = Outcome.PARKED
                return result
            if chunk == b"":
                result.outcome = Outcome.CLOSED
                return result
            buffer.extend(chunk)
    finally:
        sock.close()


# Reply codes a broken or hostile input may earn (AMQP 0-9-1 §1.2 constants, RabbitMQ's use).
AMQP_ERROR_CODES = {311, 312, 313, 320, 402, 403, 404, 405, 406, 501, 502, 503, 504, 505, 506, 530, 540}


def check_amqp(case: Case, result: Result) -> None:
    assert 541 not in result.reply_codes, f"{case.kind}: internal error 541 for {case.data[:60]!r}"
    assert set(result.reply_codes) <= AMQP_ERROR_CODES, f"{case.kind}: unexpected reply codes {result.reply_codes}"
    if case.fresh or case.half_close or case.expect is Expect.MUST_REFUSE:
        assert result.outcome in (Outcome.CLOSED, Outcome.CONN_ERROR), \
            f"{case.kind} {case.data[:60]!r}: {result.outcome}, connection not refused"
    else:
        assert result.outcome is not Outcome.PARKED, f"{case.kind} {case.data[:60]!r}: no answer to the probe"


# -- the well-behaved clients -------------------------------------------------------------------
class Witness:
    """kafka-python producer+consumer and pika publisher+getter, looping until stopped."""

    def __init__(self, kafka_bootstrap: str, amqp_url: str) -> None:
        self.kafka_bootstrap = kafka_bootstrap
        self.amqp_url = amqp_url
        self.errors: list[str] = []
        self.kafka_acked = 0
        self.kafka_consumed = 0
        self.amqp_confirmed = 0
        self.amqp_got = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._guard, args=(self._kafka,), daemon=True),
                         threading.Thread(target=self._guard, args=(self._amqp,), daemon=True)]

    def start(self) -> "Witness":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _guard(self, loop) -> None:
        try:
            loop()
        except Exception as exc:  # every failure of a well-behaved client is a finding
            self.errors.append(f"{loop.__name__}: {type(exc).__name__}: {exc}")

    def _kafka(self) -> None:
        from kafka import KafkaConsumer, KafkaProducer

        topic = f"witness-{uuid.uuid4().hex[:8]}"
        producer = KafkaProducer(bootstrap_servers=self.kafka_bootstrap, acks="all", retries=0)
        consumer = KafkaConsumer(topic, bootstrap_servers=self.kafka_bootstrap, auto_offset_reset="earliest",
                                 group_id=f"{topic}-g", fetch_max_wait_ms=50)
        try:
            n = 0
            while not self._stop.is_set():
                producer.send(topic, str(n).encode()).get(timeout=10)
                n += 1
                self.kafka_acked = n
                for records in consumer.poll(timeout_ms=50).values():
                    for record in records:
                        if record.value != str(self.kafka_consumed).encode():
                            raise AssertionError(f"consumer got {record.value!r}, expected {self.kafka_consumed}")
                        self.kafka_consumed += 1
                time.sleep(0.02)
            deadline = time.monotonic() + 10
            while self.kafka_consumed < n and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=100).values():
                    self.kafka_consumed += len(records)
            if self.kafka_consumed != n:
                raise AssertionError(f"consumed {self.kafka_consumed} of {n} acknowledged records")
        finally:
            producer.close(timeout=5)
            consumer.close()

    def _amqp(self) -> None:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self.amqp_url))
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            queue = channel.queue_declare(f"witness-{uuid.uuid4().hex[:8]}", durable=True).method.queue
            n = 0
            while not self._stop.is_set():
                body = str(n).encode()
                channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=2), mandatory=True)
                self.amqp_confirmed += 1
                method, _, got = channel.basic_get(queue, auto_ack=False)
                if method is None or got != body:
                    raise AssertionError(f"basic.get returned {got!r}, expected {body!r}")
                channel.basic_ack(method.delivery_tag)
                self.amqp_got += 1
                n += 1
                time.sleep(0.02)
        finally:
            connection.close()

    def check(self) -> None:
        assert self.errors == [], self.errors
        assert self.kafka_acked > 0 and self.amqp_got > 0, "the well-behaved clients made no progress"
