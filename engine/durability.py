"""When appended bytes reach the disk, and acknowledgements that wait for it (`--fsync`).

Every storage subsystem writes with plain `os.write`/`os.writev` before it lets the wire
layer acknowledge, so acknowledged data is in the OS page cache and survives a process
crash (kill -9) under every policy. The policy decides what survives a power loss or a
kernel crash:

    never     The OS writes dirty pages back when it likes (Linux: after
              vm.dirty_expire_centisecs, 30 s by default). A power loss can lose that much
              acknowledged data. Kafka's default (flush.ms = flush.messages = ∞: Kafka
              relies on replication, which one node does not have).
    interval  A background round fsyncs every file written since the previous round, every
              `fsync_interval_ms`. A power loss loses at most about one interval of
              acknowledged data. Kafka's `flush.ms`.
    always    An acknowledgement waits until the data it covers is fsynced: nothing
              acknowledged is lost to a power loss (on a disk that honours flushes).
              RabbitMQ's publisher confirms for persistent messages; Kafka's
              `flush.messages=1`, but group-committed.

Group commit (DESIGN.md §2): appends never wait on the event loop. A round takes every
file written since the previous round and fsyncs them in worker threads (up to
PARALLEL_FSYNCS at once, then the directories); every acknowledgement waiting for writes
made before the round started is released when it ends. Writes made while a round runs go into the next one, so under load one fsync
per file covers all the appends that arrived during the previous fsync.

How storage takes part (each subsystem, for each file it appends to):

    handle = syncer.track(fd, label)   after opening the file; the handle now owns the fd
    handle.written()                    after every write (a set insertion; no-op for `never`)
    handle.close()                      instead of os.close(fd): with a round in flight or
                                        writes not yet synced, the fd is closed after the
                                        round that syncs it, so the worker never fsyncs a
                                        closed (or, worse, reused) descriptor
    syncer.created(directory)           after creating, renaming or removing a file there:
                                        the directory entry itself is fsynced next round

How the acknowledging layer (a wire session) takes part:

    mark = syncer.seq                   before calling into the engine
    ...engine call that may write...
    waiter = syncer.barrier(since=mark) None if nothing needs waiting for (policy `never` or
                                        `interval`, or no write since `mark`), else a future
                                        resolved once every write made so far is on disk
    syncer.after_sync(callback)         the same as a callback, run at once when nothing waits

An fsync that fails (EIO, ENOSPC on write-back) leaves the page cache in an unknown state —
Linux may have dropped the dirty pages and a retried fsync can succeed without writing them
(PostgreSQL's "fsyncgate", 2018). So a failure is final: every waiter and every later
barrier fails with StorageError, and the operator has to restart (recovery then truncates
whatever the disk did not keep). Nothing unsynced is acknowledged under `always`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from engine.errors import StorageError

log = logging.getLogger("mqgateway.durability")


class FsyncPolicy(enum.StrEnum):
    """`--fsync`: see the module docstring for what each survives."""

    NEVER = "never"
    INTERVAL = "interval"
    ALWAYS = "always"


class SyncHandle:
    """One tracked file. Made by Syncer.track; owns the fd from then on."""

    __slots__ = ("_syncer", "fd", "label", "_dirty", "_busy", "_closed")

    def __init__(self, syncer: "Syncer", fd: int, label: str) -> None:
        self._syncer = syncer
        self.fd = fd
        self.label = label
        self._dirty = False  # written since the last round that took it
        self._busy = False  # in the round running now
        self._closed = False  # the owner is done with it; close the fd when idle

    def written(self) -> None:
        syncer = self._syncer
        syncer.seq += 1
        if not self._dirty:
            self._dirty = True
            syncer._dirty.append(self)
        if syncer._timer is None and syncer.policy is FsyncPolicy.INTERVAL:
            syncer._start_timer()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if not self._dirty and not self._busy:
            self._release_fd()
        else:
            # The round that syncs it closes it (Syncer._finish_round); start one now
            # rather than hold the descriptor until somebody waits.
            self._syncer._round_for_closed()

    def _release_fd(self) -> None:
        if self.fd >= 0:
            _close_fd(self.fd)
            self.fd = -1


class _NullHandle:
    """`never`: nothing is tracked; the handle only closes the fd."""

    __slots__ = ("fd", "label")

    def __init__(self, fd: int, label: str) -> None:
        self.fd = fd
        self.label = label

    def written(self) -> None:
        pass

    def close(self) -> None:
        if self.fd >= 0:
            _close_fd(self.fd)
            self.fd = -1


class Syncer:
    """The group-commit syncer of one engine (engine.durability)."""

    def __init__(self, policy: FsyncPolicy = FsyncPolicy.NEVER, *, interval_ms: int = 1000) -> None:
        if interval_ms <= 0:
            raise ValueError("fsync interval must be positive")
        self.policy = FsyncPolicy(policy)
        self.interval_ms = interval_ms
        # Writes reported so far, and the number of them known to be on disk.
        self.seq = 0
        self.synced_seq = 0
        self.rounds = 0  # completed rounds (for tests, benchmarks and metrics)
        self.fsyncs = 0  # fsync calls made by rounds
        self._dirty: list[SyncHandle] = []
        self._dirs: set[Path] = set()
        self._waiters: deque[tuple[int, Callable[[BaseException | None], None]]] = deque()
        self._round: asyncio.Future | None = None
        self._inflight: list[SyncHandle] = []
        self._round_seq = 0
        self._failed: StorageError | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    # -- storage side ----------------------------------------------------------------------
    def track(self, fd: int, label: str) -> SyncHandle | _NullHandle:
        if self.policy is FsyncPolicy.NEVER:
            return _NullHandle(fd, label)
        return SyncHandle(self, fd, label)

    def created(self, directory: Path) -> None:
        """A file was created, renamed or removed in `directory`: sync its entry next round."""
        if self.policy is FsyncPolicy.NEVER:
            return
        self._dirs.add(Path(directory))
        self.seq += 1
        if self._timer is None and self.policy is FsyncPolicy.INTERVAL:
            self._start_timer()

    # -- acknowledging side ----------------------------------------------------------------
    def barrier(self, *, since: int | None = None) -> asyncio.Future | None:
        """A future for "every write reported so far is on disk", or None if nothing waits.

        Only `always` makes acknowledgements wait. `since` is the `seq` read before the
        engine call: if nothing was written after it, the caller need not wait at all
        (a Metadata request must not queue behind somebody else's fsync).
        """
        if self.policy is not FsyncPolicy.ALWAYS:
            return None
        if since is not None and self.seq == since:
            return None
        if self._failed is not None:
            future = asyncio.get_running_loop().create_future()
            future.set_exception(self._failed)
            return future
        if self.synced_seq >= self.seq:
            return None
        future = asyncio.get_running_loop().create_future()

        def resolve(exc: BaseException | None, future=future) -> None:
            if future.done():
                return
            if exc is None:
                future.set_result(None)
            else:
                future.set_exception(exc)

        self._wait(resolve)
        return future

    def after_sync(self, callback: Callable[[], None], *, on_error: Callable[[BaseException], None] | None = None) -> None:
        """Calls `callback` once every write reported so far is on disk (at once if nothing waits)."""
        if self.policy is not FsyncPolicy.ALWAYS or (self.synced_seq >= self.seq and self._failed is None):
            callback()
            return
        if self._failed is not None:
            if on_error is not None:
                on_error(self._failed)
            return

        def resolve(exc: BaseException | None) -> None:
            if exc is None:
                callback()
            elif on_error is not None:
                on_error(exc)

        self._wait(resolve)

    def _wait(self, resolve: Callable[[BaseException | None], None]) -> None:
        self._waiters.append((self.seq, resolve))
        if self._round is None:
            self._start_round()

    # -- rounds ----------------------------------------------------------------------------
    def _start_round(self) -> None:
        if self._closed or self._failed is not None:
            return
        if not self._dirty and not self._dirs:
            # Everything reported was already taken by earlier rounds and none is running.
            self.synced_seq = self.seq
            self._release(None)
            return
        loop = self._loop_now()
        handles, self._dirty = self._dirty, []
        dirs, self._dirs = self._dirs, set()
        for handle in handles:
            handle._dirty = False
            handle._busy = True
        self._round_seq = self.seq
        self._inflight = handles
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=PARALLEL_FSYNCS, thread_name_prefix="mqgw-fsync")
        self._round = loop.create_task(self._run_round(loop, [h.fd for h in handles], sorted(dirs)))
        self._round.add_done_callback(lambda f, h=handles: self._finish_round(f, h))

    async def _run_round(self, loop: asyncio.AbstractEventLoop, fds: list[int], dirs: list[Path]) -> None:
        """The files of a round are synced in parallel (a disk queues them better than one
        at a time), then the directories, whose new entries name those files."""
        results = await asyncio.gather(*(loop.run_in_executor(self._executor, _sync_file, fd) for fd in fds),
                                       return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        if dirs:
            await loop.run_in_executor(self._executor, _sync_dirs, dirs)

    def _finish_round(self, round_: asyncio.Future, handles: list[SyncHandle]) -> None:
        if self._closed:
            return  # close() has synced and released everything already
        self._round = None
        self._inflight = []
        for handle in handles:
            handle._busy = False
            if handle._closed and not handle._dirty:
                handle._release_fd()
        exc = round_.exception() if not round_.cancelled() else StorageError("fsync round cancelled")
        if exc is not None:
            self._failed = exc if isinstance(exc, StorageError) else StorageError(f"fsync failed: {exc}")
            log.critical("fsync failed (%s): acknowledgements stop until the broker is restarted", exc)
            self._release_all(self._failed)
            return
        self.rounds += 1
        self.fsyncs += len(handles)
        self.synced_seq = max(self.synced_seq, self._round_seq)
        self._release(None)
        # Writes that arrived during this round, if someone waits for them: the next group.
        if self._waiters or (self._closed_handles_pending()):
            self._start_round()

    def _round_for_closed(self) -> None:
        if self._round is None and not self._closed:
            try:
                self._loop_now()
            except RuntimeError:
                return  # no loop: close() takes care of it
            self._start_round()

    def _closed_handles_pending(self) -> bool:
        return any(h._closed for h in self._dirty)

    def _release(self, exc: BaseException | None) -> None:
        waiters = self._waiters
        while waiters and waiters[0][0] <= self.synced_seq:
            _, resolve = waiters.popleft()
            resolve(exc)

    def _release_all(self, exc: BaseException) -> None:
        waiters, self._waiters = self._waiters, deque()
        for _, resolve in waiters:
            resolve(exc)

    def _loop_now(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def _start_timer(self) -> None:
        try:
            loop = self._loop_now()
        except RuntimeError:
            return  # no event loop (a synchronous engine test): close() syncs what is left
        self._timer = loop.call_later(self.interval_ms / 1000.0, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if self._closed:
            return
        if self._round is None and (self._dirty or self._dirs):
            self._start_round()
        if self._dirty or self._dirs or self._round is not None:
            self._start_timer()
        # else: idle; the next write starts the timer again.

    # -- lifecycle -------------------------------------------------------------------------
    def close(self) -> None:
        """Engine shutdown: syncs whatever is still dirty, here and now, and closes the fds."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)  # a round in flight finishes its fsyncs
            self._executor = None
        if self._round is not None:
            self._round.cancel()  # its result is not looked at: everything is synced again below
        # The in-flight round's handles are synced again: its result is not looked at.
        handles = self._inflight + self._dirty
        self._inflight, self._dirty, self._round = [], [], None
        dirs, self._dirs = self._dirs, set()
        try:
            if self._failed is None:
                _sync_all([h.fd for h in handles if h.fd >= 0], sorted(dirs))
                self.synced_seq = self.seq
        except StorageError as exc:
            log.error("fsync on close failed: %s", exc)
            self._failed = exc
        finally:
            for handle in handles:
                handle._dirty = handle._busy = False
                if handle._closed:
                    handle._release_fd()
        if self._waiters:
            if self._failed is None:
                self._release(None)
            self._release_all(self._failed or StorageError("the broker is shutting down"))


# fsyncs of one round that run at once, each in a worker thread.
PARALLEL_FSYNCS = 8


def _sync_all(fds: list[int], dirs: list[Path]) -> None:
    """A whole round in the calling thread (close())."""
    for fd in fds:
        _sync_file(fd)
    _sync_dirs(dirs)


def _sync_file(fd: int) -> None:
    try:
        _fdatasync(fd)
    except OSError as exc:
        raise StorageError(f"fsync: {exc.strerror or exc}") from exc


def _sync_dirs(dirs: list[Path]) -> None:
    for directory in dirs:
        try:
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue  # removed since (a deleted topic or queue): nothing left to keep
        except OSError as exc:
            raise StorageError(f"fsync {directory}: {exc.strerror or exc}") from exc
        try:
            _fsync(dir_fd)
        except OSError as exc:
            raise StorageError(f"fsync {directory}: {exc.strerror or exc}") from exc
        finally:
            os.close(dir_fd)


# One name each to replace in tests that make the disk slow or failing. Files get
# fdatasync: for appends it still writes the new size (the metadata needed to read the data
# back, fdatasync(2)) but not the modification time. Directories need a full fsync.
_fsync = os.fsync
_fdatasync = getattr(os, "fdatasync", os.fsync)


def _close_fd(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        pass


__all__ = ["FsyncPolicy", "SyncHandle", "Syncer"]
