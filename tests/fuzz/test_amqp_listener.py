"""Hostile input on the AMQP listener: bad headers, tables, UTF-8, lengths, channels (cases.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.fuzz.cases import amqp_case
from tests.fuzz.conftest import EXAMPLES
from tests.fuzz.harness import check_amqp, run_amqp_case
from tests.reliability.support import rss_bytes


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rnd=st.randoms(use_true_random=False))
def test_amqp_listener_survives_hostile_frames(fuzz_env, rnd):
    case = amqp_case(rnd)
    result = run_amqp_case(fuzz_env.server.amqp_port, case)
    fuzz_env.record(case.kind, result.outcome)
    check_amqp(case, result)


def test_the_broker_and_its_other_clients_came_through(fuzz_env):
    fuzz_env.witness.stop()
    print("\n" + fuzz_env.summary("amqp"))
    fuzz_env.witness.check()
    assert fuzz_env.server.proc.poll() is None
    grown = rss_bytes(fuzz_env.server.proc.pid) - fuzz_env.rss_start
    assert grown < 64 * 1024 * 1024, f"server RSS grew {grown / 2**20:.1f} MiB"
    log = fuzz_env.server.log()
    assert "Traceback" not in log, log
