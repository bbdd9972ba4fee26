"""kill -9 under load, restart, and every acknowledgement kept (crash.py has the workloads and checks).

CI mode: a few cycles within a fixed budget. `MQGW_RELIABILITY_LONG=1` runs the long mode
(MQGW_RELIABILITY_CYCLES cycles, default 50), as does `python -m tests.reliability.crash`.
The counts are printed (`pytest -s`) and asserted: lost = 0, duplicated beyond the guarantee = 0.
"""

from __future__ import annotations

import os

import pytest

from tests.reliability.crash import run

LONG = os.environ.get("MQGW_RELIABILITY_LONG") == "1"
CYCLES = int(os.environ.get("MQGW_RELIABILITY_CYCLES", "50")) if LONG else 4


@pytest.mark.timeout(3600 if LONG else 240)
def test_acknowledged_data_survives_kill9_at_random_moments(tmp_path):
    report = run(workdir=tmp_path, cycles=CYCLES, seed=int(os.environ.get("MQGW_RELIABILITY_SEED", "8")),
                 load_seconds=(0.5, 2.5) if LONG else (0.3, 1.5),
                 log=lambda line: print(line, flush=True))
    print("\n" + report.line())
    assert report.cycles == CYCLES
    assert report.kafka_idempotent_acked > 0 and report.kafka_plain_acked > 0 and report.amqp_confirmed > 0
    assert report.commits_checked > 0
    assert report.problems == [], report.problems
    assert report.lost == 0
    assert report.duplicated_beyond_guarantee == 0
