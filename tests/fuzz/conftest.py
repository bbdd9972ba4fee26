"""One real server per fuzz module, with the well-behaved clients running beside the fuzzing."""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field

import pytest

from tests.fuzz.harness import Witness
from tests.reliability.support import rss_bytes
from tests.server import ServerProcess

# A fixed, small budget: the whole folder runs in well under a minute on two shared cores.
# `python -m tests.fuzz.long_run --minutes N` is the deep run.
EXAMPLES = 1500


@dataclass
class FuzzEnv:
    server: ServerProcess
    witness: Witness
    rss_start: int
    started: float = field(default_factory=time.monotonic)
    counts: collections.Counter = field(default_factory=collections.Counter)
    examples: int = 0

    def record(self, kind: str, outcome) -> None:
        self.examples += 1
        self.counts[(kind, outcome.value)] += 1
        assert self.server.proc.poll() is None, f"the server died; log:\n{self.server.log()}"

    def summary(self, listener: str) -> str:
        lines = [f"{listener}: {self.examples} fuzz cases in {time.monotonic() - self.started:.1f} s; "
                 f"server RSS {self.rss_start / 2**20:.1f} -> {rss_bytes(self.server.proc.pid) / 2**20:.1f} MiB; "
                 f"witness: kafka {self.witness.kafka_acked} acked / {self.witness.kafka_consumed} consumed, "
                 f"amqp {self.witness.amqp_confirmed} confirmed / {self.witness.amqp_got} got"]
        for (kind, outcome), n in sorted(self.counts.items()):
            lines.append(f"  {kind:24} {outcome:18} {n}")
        return "\n".join(lines)


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("fuzz"), memory=True).start()
    witness = Witness(server.kafka_bootstrap, server.amqp_url).start()
    time.sleep(1.0)  # the witnesses connect and warm the server before the baseline
    env = FuzzEnv(server=server, witness=witness, rss_start=rss_bytes(server.proc.pid))
    try:
        yield env
    finally:
        witness.stop()
        server.stop()
