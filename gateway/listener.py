"""TCP listeners: the only place that owns sockets, and where abusive clients are turned away.

A wire package (kafka_wire, amqp_wire) never sees asyncio transports. It is handed a
`Link` per connection — write bytes, close, wait for the peer to drain, pause reading —
and returns a session object that receives bytes. Flow control lives here: when the
transport's write buffer passes its high-water mark, `Link.drain()` waits until it has
fallen below the low-water mark again, and a wire layer that must stop reading (an AMQP
connection that is blocked, a Kafka connection whose client does not read its answers)
says so through `pause_reading()`.

Limits (docs/operations.md; every one is a Config setting):

- Connections, in total over both listeners and per source address (`Admission`). Over a
  limit the socket is closed at once, before any protocol byte, as Kafka does for
  `max.connections` / `max.connections.per.ip` (a client sees the connection drop and
  retries with backoff).
- Handshake timeout (slowloris): a connection that has not completed its protocol's
  handshake within the timeout is closed. The wire session says when it has, through
  `Link.handshake_done()` (Kafka: the first request that parsed; AMQP: connection.open);
  a listener built with `Handshake.FIRST_BYTES` counts the first bytes received instead,
  for a wire package that does not report it.
- Idle timeout (Kafka's `connections.max.idle.ms`, 10 minutes): a connection with no
  bytes received for that long, and no answer still owed or buffered, is closed.

Refusals and timeouts are logged with their reason, at most once a minute per source and
reason, with the count of those not logged in between, so a flood cannot flood the log.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import socket
from collections import deque
from typing import Callable, Protocol

log = logging.getLogger("mqgateway.listener")

# Write-buffer marks of every transport: drain() waits above HIGH until below LOW.
WRITE_HIGH_WATER = 4 * 1024 * 1024
WRITE_LOW_WATER = 1024 * 1024


class Session(Protocol):
    """What a wire package returns for each accepted connection."""

    def data_received(self, data: bytes) -> None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...


SessionFactory = Callable[["Link"], Session]


class Handshake(enum.Enum):
    """How a listener learns that a connection has finished its protocol handshake."""

    REPORTED = "reported"  # the wire session calls Link.handshake_done()
    FIRST_BYTES = "first-bytes"  # any received byte counts


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

    def is_writable(self) -> bool:
        """False while the write buffer is above its high-water mark (until drained below low)."""
        return self._protocol._writable

    async def drain(self) -> None:
        """Waits while the peer is not reading fast enough (TCP backpressure)."""
        await self._protocol.wait_writable()

    def handshake_done(self) -> None:
        """The peer has spoken the protocol: the handshake timeout no longer applies."""
        self._protocol.handshaken = True


class _StreamProtocol(asyncio.Protocol):
    # Slotted and without per-connection Events or timers: 10,000 idle connections must
    # stay cheap (tests/reliability/test_idle_connections.py states the bound).
    __slots__ = ("_listener", "_session", "_link", "_writable", "_waiters", "_lost", "source",
                 "handshaken", "last_received")

    def __init__(self, listener: "Listener") -> None:
        self._listener = listener
        self._session: Session | None = None
        self._link: Link | None = None
        self._writable = True
        self._waiters: list[asyncio.Future] | None = None
        self._lost = False
        self.source: str | None = None  # admitted source address, released when lost
        self.handshaken = False
        self.last_received = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        listener = self._listener
        peer = transport.get_extra_info("peername") or ("?", 0)
        source = str(peer[0])
        refusal = listener.admission.admit(source) if listener.admission is not None else None
        if refusal is not None:
            listener.warn(source, "refused", f"refused {listener.name} connection from {source}: {refusal}")
            self._lost = True
            transport.abort()
            return
        self.source = source
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=WRITE_HIGH_WATER, low=WRITE_LOW_WATER)
        self.last_received = listener.loop.time()
        link = Link(transport, self)  # type: ignore[arg-type]
        self._link = link
        listener.links.add(link)
        listener.watch(self)
        try:
            self._session = listener.session_factory(link)
        except Exception:
            log.exception("%s: could not start a session for %s", listener.name, link.peer)
            transport.abort()

    def data_received(self, data: bytes) -> None:
        self.last_received = self._listener.loop.time()
        if not self.handshaken and self._listener.handshake is Handshake.FIRST_BYTES:
            self.handshaken = True
        if self._session is not None:
            self._session.data_received(data)

    def eof_received(self) -> bool:
        return False  # close our side too

    def pause_writing(self) -> None:
        self._writable = False

    def resume_writing(self) -> None:
        self._writable = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    async def wait_writable(self) -> None:
        if self._writable or self._lost:
            return
        waiter = self._listener.loop.create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        await waiter

    def idle_for(self, now: float) -> float:
        """Seconds without input, or 0 while the session still owes or is sending an answer."""
        session = self._session
        link = self._link
        if link is None or session is None:
            return 0.0
        has_pending = getattr(session, "has_pending", None)
        if (has_pending is not None and has_pending()) or link.write_buffer_size():
            return 0.0
        return now - self.last_received

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._writable = True
        self._wake()
        listener = self._listener
        if self._link is not None:
            listener.links.discard(self._link)
        if self.source is not None and listener.admission is not None:
            listener.admission.release(self.source)
            self.source = None
        if self._session is not None:
            session, self._session = self._session, None
            session.connection_lost(exc)


class Admission:
    """Counts connections in total and per source address; shared by the listeners."""

    def __init__(self, *, max_connections: int, max_per_source: int) -> None:
        self.max_connections = max_connections  # 0: no limit
        self.max_per_source = max_per_source  # 0: no limit
        self.total = 0
        self.by_source: dict[str, int] = {}
        self.refused = 0

    def admit(self, source: str) -> str | None:
        """None if admitted (and counted), else the reason for refusing."""
        if self.max_connections and self.total >= self.max_connections:
            self.refused += 1
            return f"the broker holds its maximum of {self.max_connections} connections (max_connections)"
        count = self.by_source.get(source, 0)
        if self.max_per_source and count >= self.max_per_source:
            self.refused += 1
            return f"{source} holds its maximum of {self.max_per_source} connections (max_connections_per_source)"
        self.by_source[source] = count + 1
        self.total += 1
        return None

    def release(self, source: str) -> None:
        count = self.by_source.get(source, 0) - 1
        if count > 0:
            self.by_source[source] = count
        else:
            self.by_source.pop(source, None)
        self.total -= 1


class _RateLimitedLog:
    """One warning per (source, kind) per interval; the ones held back are counted."""

    def __init__(self, interval: float = 60.0) -> None:
        self.interval = interval
        self._last: dict[tuple[str, str], list] = {}  # key -> [time logged, held back]

    def warn(self, now: float, source: str, kind: str, message: str) -> None:
        key = (source, kind)
        entry = self._last.get(key)
        if entry is not None and now - entry[0] < self.interval:
            entry[1] += 1
            return
        held = entry[1] if entry is not None else 0
        if held:
            message += f" ({held} more since the last such message)"
        log.warning("%s", message)
        if len(self._last) > 10_000:  # a flood from many sources: forget the old ones
            self._last = {k: v for k, v in self._last.items() if now - v[0] < self.interval}
        self._last[key] = [now, 0]


class Listener:
    """Accepts connections on one or more addresses and hands each to a session factory."""

    def __init__(
        self,
        name: str,
        session_factory: SessionFactory,
        *,
        admission: Admission | None = None,
        handshake_timeout: float = 0.0,
        idle_timeout: float = 0.0,
        handshake: Handshake = Handshake.REPORTED,
    ) -> None:
        self.name = name
        self.session_factory = session_factory
        self.admission = admission
        self.handshake_timeout = handshake_timeout  # seconds; 0: none
        self.idle_timeout = idle_timeout  # seconds; 0: none
        self.handshake = handshake
        self.links: set[Link] = set()
        self.closed_handshake = 0  # connections closed by each limit (metrics, tests)
        self.closed_idle = 0
        self._servers: list[asyncio.base_events.Server] = []
        self._unshaken: deque[tuple[float, _StreamProtocol]] = deque()  # in accept order
        self._sweeper: asyncio.Task | None = None
        self._log = _RateLimitedLog()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def start(self, hosts: tuple[str, ...], port: int) -> list[tuple[str, int]]:
        """Binds every host on the same port (port 0: the first bind picks it)."""
        loop = self.loop = asyncio.get_running_loop()
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
        if self.handshake_timeout > 0 or self.idle_timeout > 0:
            self._sweeper = asyncio.ensure_future(self._sweep())
        return bound

    @property
    def port(self) -> int:
        return self._servers[0].sockets[0].getsockname()[1]

    def warn(self, source: str, kind: str, message: str) -> None:
        self._log.warn(self.loop.time() if self.loop else 0.0, source, kind, message)

    def watch(self, protocol: _StreamProtocol) -> None:
        if self.handshake_timeout > 0:
            self._unshaken.append((protocol.last_received + self.handshake_timeout, protocol))

    async def _sweep(self) -> None:
        """One timer per listener, not one per connection: checks deadlines a few times a timeout."""
        timeouts = [t for t in (self.handshake_timeout, self.idle_timeout) if t > 0]
        period = min(1.0, max(0.05, min(timeouts) / 4))
        idle_every = max(period, self.idle_timeout / 20) if self.idle_timeout > 0 else 0.0
        next_idle = self.loop.time() + idle_every
        while True:
            await asyncio.sleep(period)
            now = self.loop.time()
            self._expire_handshakes(now)
            if idle_every and now >= next_idle:
                next_idle = now + idle_every
                self._expire_idle(now)

    def _expire_handshakes(self, now: float) -> None:
        queue = self._unshaken
        while queue and (queue[0][0] <= now or queue[0][1].handshaken or queue[0][1]._lost):
            deadline, protocol = queue.popleft()
            if protocol.handshaken or protocol._lost or protocol._link is None:
                continue
            self.closed_handshake += 1
            source = protocol.source or "?"
            self.warn(source, "handshake", f"closing {self.name} connection from {source}: no protocol handshake "
                      f"within {self.handshake_timeout:g} s (handshake_timeout_ms)")
            protocol._link.abort()

    def _expire_idle(self, now: float) -> None:
        for link in list(self.links):
            protocol = link._protocol
            if protocol.idle_for(now) >= self.idle_timeout:
                self.closed_idle += 1
                source = protocol.source or "?"
                self.warn(source, "idle", f"closing idle {self.name} connection from {source}: nothing received "
                          f"for {self.idle_timeout:g} s (kafka_idle_timeout_ms)")
                link.close()

    async def stop(self) -> None:
        """Stops accepting; the sessions' owners close the connections themselves."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
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
