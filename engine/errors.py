"""Engine errors, named for what went wrong rather than for any protocol's code.

Each wire package keeps one table from these to its own codes (kafka_wire/errors.py,
amqp_wire/errors.py). The message of an error is meant for that table to use or ignore;
the wire layer decides the exact text a client sees.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class NotFound(EngineError):
    """A named thing (topic, partition, queue, exchange, group) does not exist."""


class AlreadyExists(EngineError):
    """Creating something that exists already."""


class PreconditionFailed(EngineError):
    """A request conflicts with the current state (AMQP 406, Kafka various)."""


class ResourceLocked(EngineError):
    """Exclusive to someone else."""


class AccessRefused(EngineError):
    pass


class InvalidName(EngineError):
    """A topic, queue or exchange name the engine cannot hold."""


class InvalidConfig(EngineError):
    """A config key or value that is unknown, malformed, or names something not built."""


class InvalidArgument(EngineError):
    """A request value out of range (partition counts, offsets, timeouts)."""


class OffsetOutOfRange(EngineError):
    pass


class CorruptRecord(EngineError):
    """A record batch whose framing or CRC is wrong."""


class UnsupportedRecordFormat(EngineError):
    """A record batch of a magic version the log does not store (only v2 is stored)."""


class RecordTooLarge(EngineError):
    """A batch above the topic's max.message.bytes."""


class DuplicateSequence(EngineError):
    """An idempotent retry of a batch already appended; carries its original offsets."""

    def __init__(self, base_offset: int, last_offset: int, log_append_time_ms: int = -1) -> None:
        super().__init__(f"duplicate batch at offset {base_offset}")
        self.base_offset = base_offset
        self.last_offset = last_offset
        self.log_append_time_ms = log_append_time_ms


class OutOfOrderSequence(EngineError):
    pass


class InvalidProducerEpoch(EngineError):
    pass


class UnknownProducerId(EngineError):
    pass


class StorageError(EngineError):
    """The disk refused a write or read (full, permissions, I/O error)."""
