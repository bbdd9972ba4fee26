"""The protocol-neutral engine: logs, queues, exchanges, groups, offsets and their storage.

Never imports gateway, kafka_wire, amqp_wire, kio or pamqp (tests/test_layering.py).
"""

from engine.engine import Engine
from engine.settings import EngineSettings

__all__ = ["Engine", "EngineSettings"]
