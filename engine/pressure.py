"""Resource alarms: the broker is low on disk or on memory (RabbitMQ's resource alarms).

The engine holds the current alarms; something outside it measures (gateway/pressure.py
samples free disk space and the process's resident memory) and raises or clears them with
`set()`. Storage that fails a write with "no space" raises the disk alarm at once through
`write_failed()`, before the next sample would notice.

What each alarm means is the wire layers' business (docs/operations.md, "Disk and memory
pressure"): Kafka produces are refused with KAFKA_STORAGE_ERROR under the disk alarm and
throttled under the memory alarm; AMQP connections that publish are blocked under either
(connection.blocked) until both clear. Consumers, acks and offset commits carry on, so
queues and topics can drain. Subscribers are told of every change of the set of alarms.
"""

from __future__ import annotations

import errno
import enum
import logging
from typing import Callable

log = logging.getLogger("mqgateway")

# Errors a write can fail with when the filesystem has no room (or the user's quota is spent).
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})


class Alarm(enum.Flag):
    NONE = 0
    MEMORY = enum.auto()
    DISK = enum.auto()


def describe(alarms: Alarm) -> str:
    """RabbitMQ's connection.blocked reason: "low on memory", "low on disk", or both."""
    names = [name for flag, name in ((Alarm.MEMORY, "memory"), (Alarm.DISK, "disk")) if flag in alarms]
    return "low on " + " & ".join(names)


class Pressure:
    def __init__(self) -> None:
        self.alarms = Alarm.NONE
        self._subscribers: list[Callable[[Alarm], None]] = []

    @property
    def disk(self) -> bool:
        return Alarm.DISK in self.alarms

    @property
    def memory(self) -> bool:
        return Alarm.MEMORY in self.alarms

    def subscribe(self, callback: Callable[[Alarm], None]) -> Callable[[], None]:
        """`callback(alarms)` after every change; returns the function that unsubscribes."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def set(self, alarm: Alarm, on: bool, detail: str = "") -> None:
        alarms = (self.alarms | alarm) if on else (self.alarms & ~alarm)
        if alarms == self.alarms:
            return
        self.alarms = alarms
        name = "disk" if alarm is Alarm.DISK else "memory"
        if on:
            log.warning("resource alarm: %s%s; publishers are blocked, consumers go on", describe(alarm),
                        f" ({detail})" if detail else "")
        else:
            log.warning("resource alarm cleared: %s%s", name, f" ({detail})" if detail else "")
        for callback in list(self._subscribers):
            callback(alarms)

    def write_failed(self, exc: BaseException) -> None:
        """A storage write failed: if for lack of space, raise the disk alarm now."""
        while exc is not None:
            if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
                self.set(Alarm.DISK, True, f"a write failed: {exc.strerror}")
                return
            exc = exc.__cause__
