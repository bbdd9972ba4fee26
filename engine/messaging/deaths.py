"""A message's dead-letter history, and the cycle rule that stops it going round for ever.

RabbitMQ 4.x keeps this history as an annotation of the message container, not in the
message's headers (`mc:record_death/4`, `mc.hrl` `#death{}`), and renders it into the
AMQP 0-9-1 `x-death` header only when the message is delivered
(`mc_amqpl:protocol_state/2`, `deaths_to_headers/2`). We do the same: `Deaths` is a
protocol-neutral value carried by the `Message` (engine/messaging/types.py); amqp_wire
renders it (amqp_wire/properties.py).

One `Death` per (queue, reason), newest first ("deaths v2"): dead-lettering again from a
queue for the same reason increments that record's `count`, refreshes `last_time_ms` and
moves it to the front, and keeps what it recorded the first time — `first_time_ms` (the
`time` of `x-death`), the `exchange` and `routing_keys` the message had before that first
death, and the message's own TTL (`original-expiration`). Routing keys recorded include
CC but not BCC (`mc:record_death/4`).

Beside the records, the first death's reason, queue and exchange never change
(`x-first-death-*`) and the latest one's are kept as `x-last-death-*`; the latest exchange
is the one the message had at that death, which can differ from the exchange its record
remembers.

Cycle rule (`rabbit_dead_letter:detect_cycles/3`, `mc:is_cycle_v2/2`): a dead-lettered
message is not delivered to a target queue it already died in if every death from the
newest down to that queue's most recent one was automatic — none `rejected`. A death by
rejection skips the check altogether. So a TTL queue dead-lettering to itself drops the
message, while a consumer rejecting into a loop keeps it going.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace


class DeathReason(enum.StrEnum):
    REJECTED = "rejected"
    EXPIRED = "expired"
    MAXLEN = "maxlen"
    DELIVERY_LIMIT = "delivery_limit"


@dataclass(frozen=True, slots=True, kw_only=True)
class Death:
    queue: str
    reason: DeathReason
    count: int
    first_time_ms: int
    last_time_ms: int
    exchange: str
    routing_keys: tuple[str, ...]
    ttl: int | None  # the message's own expiration in ms when it first died here, if it had one


@dataclass(frozen=True, slots=True, kw_only=True)
class Deaths:
    records: tuple[Death, ...]  # newest first
    first_reason: DeathReason
    first_queue: str
    first_exchange: str
    last_reason: DeathReason
    last_queue: str
    last_exchange: str

    def to_json(self) -> dict:
        return {
            "records": [[d.queue, str(d.reason), d.count, d.first_time_ms, d.last_time_ms, d.exchange,
                         list(d.routing_keys), d.ttl] for d in self.records],
            "first": [str(self.first_reason), self.first_queue, self.first_exchange],
            "last": [str(self.last_reason), self.last_queue, self.last_exchange],
        }

    @classmethod
    def from_json(cls, raw: dict) -> "Deaths":
        records = tuple(
            Death(queue=q, reason=DeathReason(r), count=c, first_time_ms=ft, last_time_ms=lt, exchange=x,
                  routing_keys=tuple(rks), ttl=ttl)
            for q, r, c, ft, lt, x, rks, ttl in raw["records"])
        (fr, fq, fx), (lr, lq, lx) = raw["first"], raw["last"]
        return cls(records=records, first_reason=DeathReason(fr), first_queue=fq, first_exchange=fx,
                   last_reason=DeathReason(lr), last_queue=lq, last_exchange=lx)


def record_death(deaths: Deaths | None, *, queue: str, reason: DeathReason, exchange: str,
                 routing_keys: tuple[str, ...], ttl: int | None, now_ms: int) -> Deaths:
    """The history after one more death (`mc:record_death/4`)."""
    if deaths is None:
        death = Death(queue=queue, reason=reason, count=1, first_time_ms=now_ms, last_time_ms=now_ms,
                      exchange=exchange, routing_keys=routing_keys, ttl=ttl)
        return Deaths(records=(death,), first_reason=reason, first_queue=queue, first_exchange=exchange,
                      last_reason=reason, last_queue=queue, last_exchange=exchange)
    others = []
    found = None
    for death in deaths.records:
        if found is None and death.queue == queue and death.reason is reason:
            found = death
        else:
            others.append(death)
    if found is None:
        newest = Death(queue=queue, reason=reason, count=1, first_time_ms=now_ms, last_time_ms=now_ms,
                       exchange=exchange, routing_keys=routing_keys, ttl=ttl)
    else:
        newest = replace(found, count=found.count + 1, last_time_ms=now_ms)
    return replace(deaths, records=(newest, *others), last_reason=reason, last_queue=queue, last_exchange=exchange)


def is_cycle(deaths: Deaths | None, target_queue: str) -> bool:
    """Whether delivering to `target_queue` would close a fully automatic dead-letter loop."""
    if deaths is None:
        return False
    for death in deaths.records:
        if death.reason is DeathReason.REJECTED:
            return False
        if death.queue == target_queue:
            return True
    return False
