"""Values that cross the seam between the wire packages and the engine.

Frozen, slotted, keyword-only dataclasses (DESIGN.md §3); closed sets are enums.
Subsystems add their own boundary values next to their code (engine/log, engine/groups,
engine/messaging) and re-export nothing here they do not share.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True, order=True)
class TopicPartition:
    topic: str
    partition: int

    def __str__(self) -> str:
        return f"{self.topic}-{self.partition}"
