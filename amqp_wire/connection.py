"""One AMQP 0-9-1 connection: protocol header, framing, channels, writer, heartbeats.

Sans-I/O over the listener's `Link`: `data_received(bytes)` parses whole frames out of the
input, dispatches them, and after each batch of input runs the end-of-batch work in this
order: dispatch queues whose consumers regained credit, hand appended message records to
the OS (`Messaging.sync`), then send the publisher confirms of the batch — so a confirm
never precedes the write of what it confirms. Under `--fsync always` the confirms (and
tx.commit-ok) wait further, for the engine's Syncer to have those writes on disk
(`after_durable`, engine/durability.py): each confirming channel's `publish_seq` is recorded
at the end of the batch and confirmed up to that number when the fsync round ends. Under
`never` and `interval` the callback runs at once, in the same tick as before. An fsync
failure is final (the Syncer's contract): the waiting publishes are nacked and the
connection is closed with 541. Everything sent goes through one writer:
frames are collected in a list and written with one `writelines` per loop tick.

Frame errors end only this connection: a bad frame-end octet, a frame above frame_max,
an unknown frame type (501 FRAME_ERROR); a content frame where a method was due, or the
reverse (505 UNEXPECTED_FRAME); a method on a channel never opened (504); a channel.open
once channel_max channels are open (530 — RabbitMQ's `rabbit_reader:create_channel` counts
open channels, it does not bound the channel number: channel 65535 opens under a
channel_max of 2047, as aiormq's test_bad_channel expects). Each is answered with connection.close carrying RabbitMQ's code,
and input stops being read.

Resource alarms (RabbitMQ's `rabbit_reader` throttle): while the engine has an alarm raised
(low on disk or memory, engine/pressure.py), a connection that sends basic.publish has that
input handled and then stops being read — TCP backpressure on the publisher — and gets
connection.blocked("low on disk" …) once, if it advertised the capability. Connections
that do not publish go on (consumers drain the queues). When every alarm has cleared,
blocked connections are read again and get connection.unblocked. Heartbeats we do not read
while blocked do not count as missed.

Connection states: HEADER (waiting for `AMQP\\0\\0\\x09\\x01`), START_OK, TUNE_OK, OPEN
(waiting for connection.open), RUNNING, CLOSING (we sent connection.close and wait for
close-ok, dropping everything else), CLOSED.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import struct
from typing import TYPE_CHECKING, Protocol

from engine.errors import EngineError
from engine.pressure import describe as describe_alarms

from amqp_wire import frames
from amqp_wire.channel import Channel, ChannelState
from amqp_wire.errors import AmqpError, ReplyCode, from_engine
from amqp_wire.frames import FRAME_BODY, FRAME_HEADER, FRAME_HEARTBEAT, FRAME_METHOD, FrameDecodeError
from amqp_wire.handlers import CHANNEL_HANDLERS, CONNECTION_HANDLERS

if TYPE_CHECKING:
    from amqp_wire.service import AmqpService

log = logging.getLogger("mqgateway.amqp")

PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
PROTOCOL_HEADER_0_9 = b"AMQP\x01\x01\x00\x09"  # 0-9 is served as 0-9-1, as RabbitMQ does
CLOSE_OK_TIMEOUT = 3.0
DISCARD_DELAY = 0.2  # after a framing error: how long to swallow input before closing
OUT_HIGH_WATER = 4 * 1024 * 1024  # stop delivering to consumers while this much is unsent
_FRAME_HDR = frames.FRAME_HDR
_INDEX = struct.Struct(">I")
BASIC_PUBLISH = frames.BASIC_PUBLISH
BASIC_ACK = frames.BASIC_ACK
CONNECTION_CLOSE = 0x000A0032
CONNECTION_CLOSE_OK = 0x000A0033
CHANNEL_OPEN = 0x0014000A
CHANNEL_CLOSE = 0x00140028
CHANNEL_CLOSE_OK = 0x00140029


class Link(Protocol):
    """What this package needs of gateway's Link (DESIGN.md §3)."""

    peer: tuple
    local: tuple

    def write(self, data: bytes) -> None: ...

    def writelines(self, chunks) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...

    def is_closing(self) -> bool: ...

    def write_buffer_size(self) -> int: ...

    async def drain(self) -> None: ...

    def handshake_done(self) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class State(enum.Enum):
    HEADER = "header"
    START_OK = "start_ok"
    TUNE_OK = "tune_ok"
    OPEN = "open"
    RUNNING = "running"
    CLOSING = "closing"
    CLOSED = "closed"


class Session:
    def __init__(self, service: "AmqpService", link: Link) -> None:
        self.service = service
        self.settings = service.settings
        self.messaging = service.engine.messaging
        self.syncer = self.messaging.syncer
        self.link = link
        self.state = State.HEADER
        self.loop = asyncio.get_running_loop()
        self._buf = bytearray()
        self._out: list[bytes] = []
        self._out_size = 0
        self._flush_scheduled = False
        self.channels: dict[int, Channel] = {}
        self.frame_max = self.settings.frame_max
        self.channel_max = self.settings.channel_max
        self.heartbeat = 0
        self.user: str | None = None
        self.vhost = None
        self.vhost_name = ""
        self.client_properties: dict = {}
        self.capabilities: dict[str, bool] = {}
        self.dirty_queues: set = set()
        self.confirming: set[Channel] = set()
        self.blocked = False  # socket buffer full: consumers get no credit
        self.pressure = service.engine.pressure
        self._published_under_alarm = False  # a basic.publish arrived while an alarm was raised
        self.publishing_blocked = False  # not read because of a resource alarm
        self._sent_blocked = False  # connection.blocked went out, so unblocked is owed
        self._starved = False  # a consumer was refused credit because of the writer
        self._last_recv = self.loop.time()
        self._last_send = self._last_recv
        # The handshake timeout is the listener's (handshake_timeout_ms): it closes a
        # connection that has not reached connection.open-ok (Link.handshake_done()).
        self._timer: asyncio.TimerHandle | None = None  # heartbeats
        self._closing_timer: asyncio.TimerHandle | None = None
        self._discarding = False
        # Frames RabbitMQ's channel process sends after its reply to the method in hand (None
        # outside a channel method): see `send_after_reply`.
        self._after_reply: list[bytes] | None = None

    # -- output -------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self._out.append(data)
        self._out_size += len(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self.loop.call_soon(self._flush)

    def send_method(self, channel: int, method) -> None:
        self.send(frames.method_frame(channel, method))

    def send_after_reply(self, channel: int, method) -> None:
        """Send `method` after the reply to the channel method being handled, if any.

        A consumer's basic.cancel for a deleted queue reaches RabbitMQ's channel as the queue
        process's exit (`rabbit_channel:handle_consuming_queue_down_or_eol`), after the
        channel has answered the queue.delete that caused it: delete-ok, then cancel. py-amqp
        (kombu) waiting for delete-ok raises ConsumerCancelled when the cancel comes first."""
        frame = frames.method_frame(channel, method)
        if self._after_reply is None:
            self.send(frame)
        else:
            self._after_reply.append(frame)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._out:
            return
        out, self._out = self._out, []
        self._out_size = 0
        self._last_send = self.loop.time()
        self.link.writelines(out)
        if not self.blocked and self.link.write_buffer_size() > OUT_HIGH_WATER:
            self.blocked = True
            self.loop.create_task(self._wait_writable())
        elif self._starved and not self.blocked:
            self._redispatch()

    async def _wait_writable(self) -> None:
        try:
            await self.link.drain()
        finally:
            self.blocked = False
        if self.state is not State.CLOSED:
            self._redispatch()

    def writable(self) -> bool:
        if self.blocked or self._out_size > OUT_HIGH_WATER:
            self._starved = True
            return False
        return True

    def _redispatch(self) -> None:
        self._starved = False
        queues = {c.queue for ch in self.channels.values() for c in ch.consumers.values()}
        for queue in queues:
            if not queue.deleted:
                queue.dispatch()

    # -- input --------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.state is State.CLOSED or self._discarding:
            return
        self._last_recv = self.loop.time()
        if self._buf:
            self._buf += data
            buf = self._buf
        else:
            buf = data
        if self.state is State.HEADER:
            if len(buf) < 8:
                start = bytes(buf[:4])
                if b"AMQP"[: len(start)] != start:
                    self._bad_header()
                elif not self._buf:
                    self._buf = bytearray(buf)
                return
            header = bytes(buf[:8])
            if header not in (PROTOCOL_HEADER, PROTOCOL_HEADER_0_9):
                self._bad_header()
                return
            self._start()
            buf = bytes(buf[8:])
            self._buf = bytearray()
        try:
            pos = self._frames(buf)
        except Exception:  # never let a bug take the process down: 541 and close
            log.exception("amqp: internal error on connection from %s", self.link.peer)
            self._close_connection(AmqpError(ReplyCode.INTERNAL_ERROR, "internal error"))
            return
        if self.state is State.CLOSED:
            return
        if pos < len(buf):
            rest = buf[pos:]
            if self._buf is buf:
                del self._buf[:pos]
            else:
                self._buf = bytearray(rest)
        elif self._buf:
            self._buf = bytearray()
        try:
            self._after_input()
        except Exception:
            log.exception("amqp: internal error on connection from %s", self.link.peer)
            self._close_connection(AmqpError(ReplyCode.INTERNAL_ERROR, "internal error"))
            return
        if self._published_under_alarm:
            self._block_publisher()

    # -- resource alarms ----------------------------------------------------------------

    def _block_publisher(self) -> None:
        self._published_under_alarm = False
        alarms = self.pressure.alarms
        if not alarms or self.publishing_blocked or self.state is not State.RUNNING:
            return
        self.publishing_blocked = True
        self.link.pause_reading()
        if self.capabilities.get("connection.blocked") and not self._sent_blocked:
            self._sent_blocked = True
            self.send_method(0, frames.build(_commands().Connection.Blocked, reason=describe_alarms(alarms)))

    def alarms_changed(self, alarms) -> None:
        """The engine's alarms changed: once none is left, blocked publishers are read again."""
        if alarms or not self.publishing_blocked or self.state is State.CLOSED:
            return
        self.publishing_blocked = False
        self._last_recv = self.loop.time()  # the heartbeats we did not read were not missed
        if self._sent_blocked:
            self._sent_blocked = False
            self.send_method(0, frames.build(_commands().Connection.Unblocked))
        self.link.resume_reading()

    def _frames(self, buf) -> int:
        pos = 0
        end = len(buf)
        limit = self.frame_max
        view = memoryview(buf)
        try:
            while end - pos >= 8:
                frame_type, channel, size = _FRAME_HDR.unpack_from(buf, pos)
                if size > limit:
                    raise AmqpError(ReplyCode.FRAME_ERROR, (
                        f"type {frame_type}, all octets = <<>>: "
                        f"{{frame_too_large,{size},{limit - frames.FRAME_OVERHEAD}}}"))
                stop = pos + 7 + size
                if stop >= end:
                    break
                if buf[stop] != 0xCE:
                    raise AmqpError(ReplyCode.FRAME_ERROR, (
                        f"type {frame_type}, {_snippet(view[pos + 7:stop])}: "
                        f"{{invalid_frame_end_marker,{buf[stop]}}}"))
                payload = view[pos + 7:stop].tobytes()
                pos = stop + 1
                self._frame(frame_type, channel, payload)
                if self.state is State.CLOSED:
                    return end
        except AmqpError as err:
            # After a framing error the input cannot be trusted: close at once. Other hard
            # errors wait for the client's close-ok, as RabbitMQ does.
            self._close_connection(err, stop_reading=err.code is ReplyCode.FRAME_ERROR)
            return end
        finally:
            view.release()
        return pos

    def _frame(self, frame_type: int, channel_id: int, payload: bytes) -> None:
        state = self.state
        if state is State.CLOSING:
            if frame_type == FRAME_METHOD and len(payload) >= 4:
                index = _INDEX.unpack_from(payload)[0]
                if index == CONNECTION_CLOSE_OK and channel_id == 0:
                    self._finish_close()
                elif index == CONNECTION_CLOSE and channel_id == 0:
                    self.send_method(0, frames.build(_commands().Connection.CloseOk))
                    self._finish_close()
            return
        try:
            if frame_type == FRAME_METHOD:
                if len(payload) < 4:
                    raise AmqpError(ReplyCode.FRAME_ERROR, f"type 1, {_snippet(payload)}: short_method_frame")
                index = _INDEX.unpack_from(payload)[0]
                if channel_id == 0:
                    self._method0(index, payload)
                    return
                if state is not State.RUNNING:
                    raise AmqpError(ReplyCode.CHANNEL_ERROR,
                                    f"unexpected method in connection state {state.value}")
                channel = self.channels.get(channel_id)
                if channel is None:
                    if index != CHANNEL_OPEN:
                        raise AmqpError(ReplyCode.CHANNEL_ERROR, "expected 'channel.open'",
                                        index >> 16, index & 0xFFFF)
                    self._open_channel(channel_id, payload)
                    return
                if channel.state is not ChannelState.OPEN:
                    if index == CHANNEL_CLOSE_OK:
                        del self.channels[channel_id]
                    elif index == CHANNEL_CLOSE:
                        # both sides closed at once: answer, and the channel is gone
                        self.send_method(channel_id, frames.build(_commands().Channel.CloseOk))
                        del self.channels[channel_id]
                    return
                if channel.expecting_content():
                    channel.unexpected_method()
                if index == BASIC_PUBLISH:
                    if self.pressure.alarms:
                        self._published_under_alarm = True
                    channel.begin_publish(frames.parse_publish(payload))
                elif index == BASIC_ACK:
                    tag, multiple = frames.parse_ack(payload)
                    channel.ack(tag, multiple)
                else:
                    self._channel_method(channel, index, payload)
            elif frame_type == FRAME_HEADER or frame_type == FRAME_BODY:
                if channel_id == 0 or state is not State.RUNNING:
                    raise AmqpError(ReplyCode.UNEXPECTED_FRAME,
                                    f"type {frame_type}, {_snippet(payload)}: unexpected_frame on channel {channel_id}")
                channel = self.channels.get(channel_id)
                if channel is None:
                    raise AmqpError(ReplyCode.CHANNEL_ERROR, "expected 'channel.open'")
                if channel.state is not ChannelState.OPEN:
                    return
                if frame_type == FRAME_HEADER:
                    channel.header_frame(payload)
                else:
                    channel.body_frame(payload)
            elif frame_type == FRAME_HEARTBEAT:
                if channel_id != 0:
                    raise AmqpError(ReplyCode.FRAME_ERROR,
                                    f"type 8, {_snippet(payload)}: {{non_zero_channel_heartbeat,{channel_id}}}")
            else:
                raise AmqpError(ReplyCode.FRAME_ERROR, f"type {frame_type}, {_snippet(payload)}: unknown_frame")
        except FrameDecodeError:
            index = _INDEX.unpack_from(payload)[0]
            raise AmqpError(ReplyCode.FRAME_ERROR, f"cannot decode {_snippet(payload[4:])}",
                            index >> 16, index & 0xFFFF) from None
        except AmqpError as err:
            if err.hard or channel_id == 0:
                raise
            channel = self.channels.get(channel_id)
            if channel is not None:
                channel.close_by_server(err)

    def _method0(self, index: int, payload: bytes) -> None:
        handler = CONNECTION_HANDLERS.get(index)
        if handler is None:
            if index >> 16 == 10:
                raise AmqpError(ReplyCode.COMMAND_INVALID, "unimplemented method", index >> 16, index & 0xFFFF)
            raise AmqpError(ReplyCode.CHANNEL_ERROR, f"unexpected method in connection state {self.state.value}",
                            index >> 16, index & 0xFFFF)
        method = frames.decode_method(index, payload)
        try:
            handler(self, method)
        except AmqpError as err:
            raise err.at(index >> 16, index & 0xFFFF)
        except EngineError as err:
            raise from_engine(err).at(index >> 16, index & 0xFFFF) from None

    def _channel_method(self, channel: Channel, index: int, payload: bytes) -> None:
        handler = CHANNEL_HANDLERS.get(index)
        if handler is None:
            if index not in _commands().INDEX_MAPPING:
                raise AmqpError(ReplyCode.COMMAND_INVALID, "unknown method", index >> 16, index & 0xFFFF)
            raise AmqpError(ReplyCode.COMMAND_INVALID, "unimplemented method", index >> 16, index & 0xFFFF)
        method = frames.decode_method(index, payload)
        self._after_reply = []
        try:
            handler(channel, method)
        except AmqpError as err:
            raise err.at(index >> 16, index & 0xFFFF)
        except EngineError as err:
            raise from_engine(err).at(index >> 16, index & 0xFFFF) from None
        finally:
            held, self._after_reply = self._after_reply, None
            for frame in held:
                self.send(frame)

    def _open_channel(self, channel_id: int, payload: bytes) -> None:
        if self.channel_max and len(self.channels) >= self.channel_max:
            raise AmqpError(ReplyCode.NOT_ALLOWED, (
                f"number of channels opened ({len(self.channels)}) has reached the negotiated "
                f"channel_max ({self.channel_max})"), 20, 10)
        self.channels[channel_id] = Channel(self, channel_id)
        self.send_method(channel_id, frames.build(_commands().Channel.OpenOk))

    def _after_input(self) -> None:
        if self.dirty_queues:
            queues, self.dirty_queues = self.dirty_queues, set()
            for queue in queues:
                if not queue.deleted:
                    queue.dispatch()
        try:
            self.messaging.sync()
            failed = False
        except OSError as exc:
            # RabbitMQ nacks what a queue could not take on an internal error; the
            # connection itself stays up (and the next sync retries the write). No space
            # raises the disk alarm, which blocks this publisher from its next publish.
            log.error("amqp: could not write messages to the store: %s", exc)
            self.pressure.write_failed(exc)
            failed = True
        if self.confirming:
            channels, self.confirming = self.confirming, set()
            if failed:
                for channel in channels:
                    channel.send_confirms(failed=True)
                return
            marks = [(channel, channel.publish_seq) for channel in channels]

            def confirm() -> None:
                for channel, upto in marks:
                    channel.send_confirms(upto=upto)

            def refuse(exc: BaseException) -> None:
                for channel, upto in marks:
                    channel.send_confirms(failed=True, upto=upto)

            self.after_durable(confirm, refuse)

    def after_durable(self, callback, on_error) -> None:
        """Runs `callback` once every write made so far is on disk as `--fsync` demands (at
        once under `never`/`interval`); `on_error(exc)` instead if the fsync failed, after
        which the connection is closed: the Syncer fails every later wait too."""
        deferred = False

        def done() -> None:
            if self.state in (State.CLOSING, State.CLOSED):
                return  # nothing may follow our connection.close
            callback()
            if deferred:
                self._flush()  # the round ended outside any input batch: write now

        def failed(exc: BaseException) -> None:
            if self.state in (State.CLOSING, State.CLOSED):
                return
            on_error(exc)
            self.close_by_server(ReplyCode.INTERNAL_ERROR, f"could not sync messages to disk: {exc}")
            self._flush()

        self.syncer.after_sync(done, on_error=failed)
        deferred = True

    # -- handshake ----------------------------------------------------------------------

    def _bad_header(self) -> None:
        # Always answer with an AMQP header (amqplib's CI greps for it), then close.
        self.link.write(PROTOCOL_HEADER)
        self.state = State.CLOSED
        self._cancel_timers()
        self.link.close()

    def _start(self) -> None:
        from amqp_wire.handlers.c10_connection import send_start

        self.state = State.START_OK
        send_start(self)

    def start_heartbeats(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.heartbeat > 0:
            self._timer = self.loop.call_later(self.heartbeat / 2, self._heartbeat_tick)

    def _heartbeat_tick(self) -> None:
        self._timer = None
        if self.state is State.CLOSED:
            return
        now = self.loop.time()
        if now - self._last_recv > 2 * self.heartbeat and not self.publishing_blocked:
            log.info("amqp: missed heartbeats from %s, timeout: %ss", self.link.peer, self.heartbeat)
            self._connection_gone()
            self.link.abort()
            return
        if now - self._last_send >= self.heartbeat / 2 - 0.05:
            self.send(frames.HEARTBEAT)
        self._timer = self.loop.call_later(self.heartbeat / 2, self._heartbeat_tick)

    # -- closing ------------------------------------------------------------------------

    def _close_connection(self, err: AmqpError, *, stop_reading: bool = False) -> None:
        """Sends connection.close for a hard error and waits for close-ok (or gives up)."""
        if self.state in (State.CLOSING, State.CLOSED):
            return
        log.info("amqp: closing connection from %s: %s", self.link.peer, err.reply_text)
        self.send_method(0, frames.build(_commands().Connection.Close, reply_code=int(err.code),
                                         reply_text=err.reply_text, class_id=err.class_id,
                                         method_id=err.method_id))
        self._release_resources()
        self.state = State.CLOSING
        if stop_reading:
            # The input can no longer be framed: send the close, discard what still comes,
            # and hang up shortly. Closing at once with unread input would make the kernel
            # answer with RST, and the client could lose our connection.close.
            self._discarding = True
            self._flush()
            self._closing_timer = self.loop.call_later(DISCARD_DELAY, self._finish_close)
            return
        self._closing_timer = self.loop.call_later(CLOSE_OK_TIMEOUT, self._finish_close)

    def close_by_server(self, code: ReplyCode, explanation: str) -> None:
        self._close_connection(AmqpError(code, explanation))

    def _finish_close(self) -> None:
        if self.state is State.CLOSED:
            return
        self.state = State.CLOSED
        self._cancel_timers()
        self._flush()
        self.link.close()

    def client_closed(self) -> None:
        """The client sent connection.close: answer close-ok and hang up."""
        self._release_resources()
        self.send_method(0, frames.build(_commands().Connection.CloseOk))
        self._flush()
        self.state = State.CLOSED
        self._cancel_timers()
        self.link.close()

    def abandon(self) -> None:
        """Hangs up without a connection.close (auth failure for clients without the capability)."""
        self._release_resources()
        self.state = State.CLOSED
        self._cancel_timers()
        self._flush()
        self.link.close()

    def _release_resources(self) -> None:
        channels = list(self.channels.values())
        for channel in channels:
            channel.release()
        self.messaging.owner_closed(self)

    def _cancel_timers(self) -> None:
        for timer in (self._timer, self._closing_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._closing_timer = None

    def _connection_gone(self) -> None:
        if self.state is not State.CLOSED:
            self.state = State.CLOSED
        self._cancel_timers()
        self._release_resources()
        self.channels.clear()

    def connection_lost(self, exc: Exception | None) -> None:
        self._connection_gone()
        self._out.clear()


def _snippet(payload) -> str:
    """RabbitMQ's `payload_snippet`: the first 16 octets as an Erlang binary."""
    data = bytes(payload)
    if len(data) <= 16:
        label, part = "all octets", data
    else:
        label, part = "first 16 octets", data[:16]
    return f"{label} = <<{','.join(str(b) for b in part)}>>"


def _commands():
    from pamqp import commands

    return commands
