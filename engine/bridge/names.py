"""The `amq.kafka` exchange and the rule that keeps the bridge free of routing cycles.

`amq.kafka` is a durable topic exchange predeclared in vhost `/` (created before the definitions
are recovered, so bindings to it survive restarts). The forwarder (engine/bridge/forwarder.py)
publishes every committed record of every topic to it with the topic name as routing key.

A cycle would be: topic T's records → amq.kafka → (exchange bindings…) → a stream queue, i.e. a
topic, whose records are forwarded again. Any path from `amq.kafka` into a stream queue can form
one (directly, T bound to itself, or T → U → T), so such bindings are refused at bind time with
406 PRECONDITION_FAILED (the text names the binding): binding a stream queue to `amq.kafka` or to
an exchange `amq.kafka` reaches, and binding an exchange `amq.kafka` reaches to an exchange from
which a stream queue is reachable. Records that reach a topic some other way are forwarded once.
"""

from __future__ import annotations

from engine.errors import PreconditionFailed

KAFKA_EXCHANGE = "amq.kafka"


def add_kafka_exchange(vhost) -> None:
    from engine.messaging.exchange import Exchange  # here: engine.messaging imports this module
    from engine.messaging.types import ExchangeType

    if KAFKA_EXCHANGE not in vhost.exchanges:
        vhost.exchanges[KAFKA_EXCHANGE] = Exchange(KAFKA_EXCHANGE, ExchangeType.TOPIC, durable=True,
                                                   auto_delete=False, internal=False, arguments={})


def _is_stream(dest) -> bool:
    return getattr(dest, "type_is_stream", False)


def _is_exchange(dest) -> bool:
    return hasattr(dest, "router")


def _reached_from(start) -> set:
    """Every exchange and queue reachable from `start` through current bindings (start included)."""
    seen: set = {start}
    pending = [start]
    while pending:
        exchange = pending.pop()
        for dest in _destinations(exchange):
            if dest not in seen:
                seen.add(dest)
                if _is_exchange(dest):
                    pending.append(dest)
    return seen


def _destinations(exchange):
    return exchange.router.bindings.keys()


def refuse_cycle(vhost, source, dest) -> None:
    kafka = vhost.exchanges.get(KAFKA_EXCHANGE)
    if kafka is None:
        return
    if source not in _reached_from(kafka):
        return
    if _is_stream(dest) or (_is_exchange(dest) and any(_is_stream(d) for d in _reached_from(dest))):
        raise PreconditionFailed(
            f"binding {dest.name!r} to {source.name!r} would forward the records of a topic back into a topic "
            f"through {KAFKA_EXCHANGE!r} (a routing cycle; see docs/cross-protocol.md)")
