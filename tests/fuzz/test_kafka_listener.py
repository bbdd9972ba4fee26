"""Hostile input on the Kafka listener: generated and mutated frames over real sockets (cases.py)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.fuzz.cases import kafka_case
from tests.fuzz.conftest import EXAMPLES
from tests.fuzz.harness import check_kafka, run_kafka_case
from tests.reliability.support import api_versions_ok, rss_bytes


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rnd=st.randoms(use_true_random=False))
def test_kafka_listener_survives_hostile_frames(fuzz_env, rnd):
    case = kafka_case(rnd)
    result = run_kafka_case(fuzz_env.server.kafka_port, case)
    fuzz_env.record(case.kind, result.outcome)
    check_kafka(case, result)
    assert api_versions_ok(fuzz_env.server.kafka_port), "a fresh connection is not served any more"


def test_the_broker_and_its_other_clients_came_through(fuzz_env):
    fuzz_env.witness.stop()
    print("\n" + fuzz_env.summary("kafka"))
    fuzz_env.witness.check()
    assert fuzz_env.server.proc.poll() is None
    grown = rss_bytes(fuzz_env.server.proc.pid) - fuzz_env.rss_start
    assert grown < 64 * 1024 * 1024, f"server RSS grew {grown / 2**20:.1f} MiB"
    log = fuzz_env.server.log()
    assert "Traceback" not in log, log
