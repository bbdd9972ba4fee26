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

from kafka_wire.framing import FrameReader, FrameTooLarge, peek_header
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


class KafkaSession:
    def __init__(self, service, link: Link) -> None:
        self.service = service
        self.link = link
        self._frames = FrameReader()
        self._pending: deque[_Pending] = deque()
        self._closed = False
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
        for frame in frames:
            if self._closed:
                return
            self._dispatch(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        for pending in self._pending:
            if pending.task is not None and not pending.task.done():
                pending.task.cancel()
        self._pending.clear()
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
                self._enqueue_done(correlation_id, type(response), False, response)
                return
            self._refuse(f"unsupported version {version} of api key {api_key}")
            return
        request_type = entry.request_types[version]
        flexible = request_type.__flexible__
        try:
            header, used = (_read_header_v2 if flexible else _read_header_v1)(frame, 0)
            body, body_used = entity_reader(request_type)(frame, used)
        except Exception as exc:
            self._refuse(f"malformed {ApiKey(api_key).name} v{version} request ({type(exc).__name__})")
            return
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
        try:
            result = entry.handler(ctx, body)
        except Exception:
            log.exception("%s v%d handler failed; closing the connection", ApiKey(api_key).name, version)
            self._refuse("internal error")
            return
        if inspect.isawaitable(result):
            pending = _Pending(correlation_id, response_type, header_flexible)
            pending.task = asyncio.ensure_future(result)
            pending.task.add_done_callback(lambda task, p=pending: self._completed(p, task))
            self._pending.append(pending)
        elif result is not None:
            self._enqueue_done(correlation_id, response_type, header_flexible, result)

    # -- output ------------------------------------------------------------------------
    def _enqueue_done(self, correlation_id: int, response_type: type, header_flexible: bool, response: Any) -> None:
        if not self._pending:
            self._write(correlation_id, response_type, header_flexible, response)
            return
        pending = _Pending(correlation_id, response_type, header_flexible, done=True, response=response)
        self._pending.append(pending)

    def _completed(self, pending: _Pending, task: asyncio.Future) -> None:
        if task.cancelled() or self._closed:
            return
        exc = task.exception()
        if exc is not None:
            log.error("request handler failed; closing the connection", exc_info=exc)
            self._refuse("internal error")
            return
        pending.done = True
        pending.response = task.result()
        while self._pending and self._pending[0].done:
            head = self._pending.popleft()
            if head.response is not None:
                self._write(head.correlation_id, head.response_type, head.header_flexible, head.response)

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

    def has_pending(self) -> bool:
        return bool(self._pending)

    async def finish(self, timeout: float) -> None:
        """Broker shutdown: stop reading, let in-flight answers go out, then close."""
        self.link.pause_reading()
        tasks = [p.task for p in self._pending if p.task is not None and not p.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        self._closed = True
        self.link.close()


def _peer(link: Link) -> str:
    peer = getattr(link, "peer", None)
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)
