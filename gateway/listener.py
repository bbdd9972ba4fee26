"""TCP listeners: the only place that owns sockets.

A wire package (kafka_wire, amqp_wire) never sees asyncio transports. It is handed a
`Link` per connection — write bytes, close, wait for the peer to drain, pause reading —
and returns a session object that receives bytes. Flow control lives here: when the
transport's write buffer passes its high-water mark, `Link.drain()` waits until it has
fallen below the low-water mark again, and a wire layer that must stop reading (an AMQP
connection that is blocked, a Kafka connection with too many requests in flight) says so
through `pause_reading()`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Callable, Protocol

log = logging.getLogger("mqgateway.listener")


class Session(Protocol):
    """What a wire package returns for each accepted connection."""

    def data_received(self, data: bytes) -> None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...


SessionFactory = Callable[["Link"], Session]


class Link:
    """One accepted connection as a wire session sees it."""

    __slots__ = ("_transport", "_protocol", "peer", "local")

    def __init__(self, transport: asyncio.Transport, protocol: "_StreamProtocol") -> None:
        self._transport = transport
        self._protocol = protocol
        self.peer: tuple = transport.get_extra_info("peername") or ("?", 0)
        self.local: tuple = transport.get_extra_info("sockname") or ("?", 0)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    def writelines(self, chunks) -> None:
        if not self._transport.is_closing():
            self._transport.writelines(chunks)

    def close(self) -> None:
        """Closes after everything written so far has been sent."""
        self._transport.close()

    def abort(self) -> None:
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def pause_reading(self) -> None:
        if not self._transport.is_closing():
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if not self._transport.is_closing():
            self._transport.resume_reading()

    def write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    async def drain(self) -> None:
        """Waits while the peer is not reading fast enough (TCP backpressure)."""
        await self._protocol.wait_writable()


class _StreamProtocol(asyncio.Protocol):
    def __init__(self, listener: "Listener") -> None:
        self._listener = listener
        self._session: Session | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=4 * 1024 * 1024, low=1024 * 1024)
        link = Link(transport, self)
        self._listener.links.add(link)
        self._link = link
        try:
            self._session = self._listener.session_factory(link)
        except Exception:
            log.exception("%s: could not start a session for %s", self._listener.name, link.peer)
            transport.abort()

    def data_received(self, data: bytes) -> None:
        if self._session is not None:
            self._session.data_received(data)

    def eof_received(self) -> bool:
        return False  # close our side too

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    async def wait_writable(self) -> None:
        if not self._writable.is_set() and not self._lost:
            await self._writable.wait()

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._writable.set()
        self._listener.links.discard(self._link)
        if self._session is not None:
            session, self._session = self._session, None
            session.connection_lost(exc)


class Listener:
    """Accepts connections on one or more addresses and hands each to a session factory."""

    def __init__(self, name: str, session_factory: SessionFactory) -> None:
        self.name = name
        self.session_factory = session_factory
        self.links: set[Link] = set()
        self._servers: list[asyncio.base_events.Server] = []

    async def start(self, hosts: tuple[str, ...], port: int) -> list[tuple[str, int]]:
        """Binds every host on the same port (port 0: the first bind picks it)."""
        loop = asyncio.get_running_loop()
        bound: list[tuple[str, int]] = []
        for host in hosts:
            try:
                server = await loop.create_server(
                    lambda: _StreamProtocol(self), host=host, port=port, reuse_address=True, backlog=1024
                )
            except OSError as exc:
                await self.stop()
                raise OSError(exc.errno, f"cannot listen for {self.name} on {host}:{port}: {exc.strerror}") from None
            self._servers.append(server)
            for sock in server.sockets:
                addr = sock.getsockname()
                bound.append((addr[0], addr[1]))
                port = addr[1]
        return bound

    @property
    def port(self) -> int:
        return self._servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stops accepting; the sessions' owners close the connections themselves."""
        for server in self._servers:
            server.close()
        for server in self._servers:
            try:
                await asyncio.wait_for(server.wait_closed(), 0.1)
            except (asyncio.TimeoutError, Exception):
                pass
        self._servers.clear()

    def abort_all(self) -> None:
        for link in list(self.links):
            link.abort()
