"""One Kafka client connection: frames in, handlers called in arrival order, responses out in order.

Kafka answers the requests of one connection strictly in the order they arrived (clients
match responses by correlation id but several, librdkafka among them, also rely on the
order). A handler may answer at once or later (a long-polling Fetch, a JoinGroup waiting
for the other members); a later response holds back the ones behind it, as in Kafka.
Every handler is *called* in arrival order, so engine effects (appends, commits) happen
in the order the client sent them even while an earlier response is still pending.

Broken input closes only this connection, as Kafka does: a frame whose declared size is
absurd, an unknown API key, a version outside the served range (except ApiVersions,
which answers with the v0-shaped UNSUPPORTED_VERSION body, KIP-511), or a body kio
cannot parse.

Flow control (docs/operations.md): a client that sends requests but does not read the
answers must not make the broker buffer without bound. While the transport's write buffer
is above its high-water mark, or `MAX_IN_FLIGHT` answers are still owed, the session stops
dispatching and stops reading; TCP then pushes back on the client. Kafka itself goes
further and mutes a connection from the moment a request arrives until its answer is sent;
we keep pipelining (clients send up to five produce requests ahead) and bound it instead.

Durability: under `--fsync always` an answer to a request that wrote to disk waits for
the group commit that covers the write (engine/durability.py), and holds back the answers
behind it as any pending answer does.

The listener is told when the connection completed its "handshake" (the first request
that parsed), which ends its slowloris timer.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Protocol

from kio.schema.request_header.v1.header import RequestHeader as RequestHeaderV1
from kio.schema.request_header.v2.header import RequestHeader as RequestHeaderV2
from kio.schema.response_header.v0.header import ResponseHeader as ResponseHeaderV0
from kio.schema.response_header.v1.header import ResponseHeader as ResponseHeaderV1
from kio.serial import entity_reader, entity_writer

from engine.errors import StorageError
from kafka_wire.framing import MAX_REQUEST_BYTES, FrameReader, FrameTooLarge, check_lengths, peek_header
from kafka_wire.registry import REGISTRY, ApiKey

log = logging.getLogger("mqgateway.kafka")

_read_header_v1 = entity_reader(RequestHeaderV1)
_read_header_v2 = entity_reader(RequestHeaderV2)
_write_header_v0 = entity_writer(ResponseHeaderV0)
_write_header_v1 = entity_writer(ResponseHeaderV1)


class Link(Protocol):
    """What this package needs of a connection (gateway.listener.Link provides it)."""

    peer: tuple

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...

    def is_closing(self) -> bool: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...

    def is_writable(self) -> bool:
        """False while the write buffer is above its high-water mark."""
        ...

    async def drain(self) -> None:
        """Returns once the write buffer is below its low-water mark (or the link is gone)."""
        ...

    def handshake_done(self) -> None:
        """The peer spoke the protocol: the listener's handshake timeout no longer applies."""
        ...


# Answers owed on one connection before it stops reading: Kafka's queued.max.requests
# (500, for a whole broker) as a per-connection bound. Clients keep far fewer in flight
# (max.in.flight.requests.per.connection is 5 in the Java client).
MAX_IN_FLIGHT = 500


@dataclass(slots=True, kw_only=True)
class RequestContext:
    """What a handler knows about the request beyond its body."""

    service: Any  # kafka_wire.service.KafkaService (engine, settings)
    session: "KafkaSession"
    api_key: int
    api_version: int
    correlation_id: int
    client_id: str | None

    @property
    def engine(self):
        return self.service.engine

    @property
    def settings(self):
        return self.service.settings


@dataclass(slots=True)
class _Pending:
    correlation_id: int
    response_type: type
    header_flexible: bool
    done: bool = False
    response: Any = None
    task: asyncio.Future | None = field(default=None)
    # The response is known; the task only waits for it to be durable (--fsync always).
    awaits_sync: bool = False


class KafkaSession:
    def __init__(self, service, link: Link) -> None:
        self.service = service
        self.link = link
        self._frames = FrameReader(getattr(service.settings, "max_request_bytes", MAX_REQUEST_BYTES))
        # Both made on first use: an idle connection should not carry two empty deques
        # (760 bytes each; docs/operations.md counts the bytes of an idle connection).
        self._pending: deque[_Pending] | None = None  # answers owed, in arrival order
        self._queued: deque[bytes] | None = None  # parsed, not dispatched while flow is held
        self._closed = False
        self._handshaken = False
        self._reading_paused = False
        self._drain_task: asyncio.Future | None = None
        self._throttled_until = 0.0  # loop time; requests are held back until then (quotas)
        engine = getattr(service, "engine", None)
        self._syncer = getattr(engine, "durability", None)
        # Per-connection protocol state handlers may keep (e.g. SASL stage later).
        self.state: dict[str, Any] = {}

    # -- input -------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            frames = self._frames.feed(data)
        except FrameTooLarge as exc:
            self._refuse(f"{exc}")
            return
        if self._queued is not None:  # held back already: keep arrival order
            self._queued.extend(frames)
            self._pump()
            return
        for i, frame in enumerate(frames):
            if self._closed:
                return
            if self._held():
                self._queued = deque(frames[i:])
                break
            self._dispatch(frame)
        self._update_flow()

    def _pump(self) -> None:
        """Dispatches queued requests while the flow allows, then pauses or resumes reading."""
        queued = self._queued
        while queued and not self._closed and not self._held():
            self._dispatch(queued.popleft())
        if not queued:
            self._queued = None
        self._update_flow()

    def _held(self) -> bool:
        return ((self._pending is not None and len(self._pending) >= MAX_IN_FLIGHT) or not self.link.is_writable()
                or (self._throttled_until > 0.0 and self._throttled_until > asyncio.get_running_loop().time()))

    def throttle(self, seconds: float) -> None:
        """Reads and handles nothing more from this connection for `seconds` (Kafka's channel
        muting for quotas, KIP-219); the answer being built still goes out at once."""
        loop = asyncio.get_running_loop()
        self._throttled_until = loop.time() + seconds
        loop.call_later(seconds, self._unthrottle)

    def _unthrottle(self) -> None:
        if asyncio.get_running_loop().time() + 0.001 < self._throttled_until:
            return  # throttled again since: that throttle's own timer ends it
        self._throttled_until = 0.0
        if not self._closed:
            self._pump()

    def _update_flow(self) -> None:
        if self._closed:
            return
        held = self._held()
        if held and not self._reading_paused:
            self._reading_paused = True
            self.link.pause_reading()
        if held and self._drain_task is None and not self.link.is_writable():
            self._drain_task = asyncio.ensure_future(self._wait_drained())
        if not held and self._reading_paused and not self._queued:
            self._reading_paused = False
            self.link.resume_reading()

    async def _wait_drained(self) -> None:
        try:
            await self.link.drain()
        finally:
            self._drain_task = None
        if not self._closed:
            self._pump()

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._queued = None
        if self._drain_task is not None:
            self._drain_task.cancel()
        for pending in self._pending or ():
            if pending.task is not None and not pending.task.done():
                pending.task.cancel()
        self._pending = None
        self.service.session_closed(self)

    def _refuse(self, reason: str) -> None:
        log.warning("closing kafka connection from %s: %s", _peer(self.link), reason)
        self._closed = True
        self.link.close()

    def _dispatch(self, frame: bytes) -> None:
        try:
            api_key, version, correlation_id = peek_header(frame)
        except Exception:
            self._refuse("truncated request header")
            return
        entry = REGISTRY.get(api_key)
        if entry is None:
            self._refuse(f"unknown api key {api_key}")
            return
        if not entry.min_version <= version <= entry.max_version:
            if api_key == ApiKey.API_VERSIONS:
                from kafka_wire.handlers.k18_api_versions import unsupported_version_response

                response = unsupported_version_response()
                self._handshake_done()
                self._enqueue_done(correlation_id, type(response), False, response)
                return
            self._refuse(f"unsupported version {version} of api key {api_key}")
            return
        request_type = entry.request_types[version]
        flexible = request_type.__flexible__
        try:
            # Lengths first: kio's reader would trust a declared count (framing.check_lengths).
            used = check_lengths(RequestHeaderV2 if flexible else RequestHeaderV1, frame, 0)
            check_lengths(request_type, frame, used)
            header, used = (_read_header_v2 if flexible else _read_header_v1)(frame, 0)
            body, body_used = entity_reader(request_type)(frame, used)
        except Exception as exc:
            self._refuse(f"malformed {ApiKey(api_key).name} v{version} request ({type(exc).__name__})")
            return
        if not self._handshaken:
            self._handshake_done()
        ctx = RequestContext(
            service=self.service,
            session=self,
            api_key=api_key,
            api_version=version,
            correlation_id=correlation_id,
            client_id=header.client_id,
        )
        response_type = entry.response_types[version]
        header_flexible = response_type.__flexible__ and api_key != ApiKey.API_VERSIONS
        syncer = self._syncer
        mark = syncer.seq if syncer is not None else 0
        try:
            result = entry.handler(ctx, body)
        except Exception:
            log.exception("%s v%d handler failed; closing the connection", ApiKey(api_key).name, version)
            self._refuse("internal error")
            return
        if inspect.isawaitable(result):
            if syncer is not None and syncer.policy == "always":
                result = _durable(result, syncer, mark)
            pending = _Pending(correlation_id, response_type, header_flexible)
            pending.task = asyncio.ensure_future(result)
            pending.task.add_done_callback(lambda task, p=pending: self._completed(p, task))
            self._owe(pending)
        elif result is not None:
            waiter = syncer.barrier(since=mark) if syncer is not None else None
            if waiter is None:
                self._enqueue_done(correlation_id, response_type, header_flexible, result)
                return
            pending = _Pending(correlation_id, response_type, header_flexible, response=result, awaits_sync=True)
            pending.task = waiter
            waiter.add_done_callback(lambda task, p=pending: self._completed(p, task))
            self._owe(pending)

    def _owe(self, pending: _Pending) -> None:
        if self._pending is None:
            self._pending = deque()
        self._pending.append(pending)

    def _handshake_done(self) -> None:
        self._handshaken = True
        self.link.handshake_done()

    # -- output ------------------------------------------------------------------------
    def _enqueue_done(self, correlation_id: int, response_type: type, header_flexible: bool, response: Any) -> None:
        if not self._pending:
            self._write(correlation_id, response_type, header_flexible, response)
            return
        pending = _Pending(correlation_id, response_type, header_flexible, done=True, response=response)
        self._owe(pending)

    def _completed(self, pending: _Pending, task: asyncio.Future) -> None:
        if task.cancelled() or self._closed:
            return
        exc = task.exception()
        if exc is not None:
            if isinstance(exc, StorageError):
                # Not on disk, so not acknowledged: the client retries, and sees what recovery kept.
                self._refuse(f"storage: {exc}")
                return
            log.error("request handler failed; closing the connection", exc_info=exc)
            self._refuse("internal error")
            return
        pending.done = True
        if not pending.awaits_sync:
            pending.response = task.result()
        while self._pending and self._pending[0].done:
            head = self._pending.popleft()
            if head.response is not None:
                self._write(head.correlation_id, head.response_type, head.header_flexible, head.response)
        # Answers went out (or the in-flight count fell): requests held back may go on.
        self._pump()

    def _write(self, correlation_id: int, response_type: type, header_flexible: bool, response: Any) -> None:
        buffer = io.BytesIO()
        buffer.write(b"\0\0\0\0")
        if header_flexible:
            _write_header_v1(buffer, ResponseHeaderV1(correlation_id=correlation_id))
        else:
            _write_header_v0(buffer, ResponseHeaderV0(correlation_id=correlation_id))
        entity_writer(response_type)(buffer, response)
        data = buffer.getbuffer()
        data[0:4] = (len(data) - 4).to_bytes(4, "big")
        self.link.write(data)  # the transport copies only what it cannot send at once
        if not self._reading_paused and not self.link.is_writable():
            self._update_flow()

    def has_pending(self) -> bool:
        return bool(self._pending)

    async def finish(self, timeout: float) -> None:
        """Broker shutdown: stop reading, let in-flight answers go out, then close."""
        self._reading_paused = True
        self._queued = None
        self.link.pause_reading()
        tasks = [p.task for p in self._pending or () if p.task is not None and not p.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        self._closed = True
        self.link.close()


async def _durable(result, syncer, mark: int):
    """A late answer (long-poll, rebalance) that also waits for its writes to be durable."""
    response = await result
    waiter = syncer.barrier(since=mark)
    if waiter is not None:
        await waiter
    return response


def _peer(link: Link) -> str:
    peer = getattr(link, "peer", None)
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)
