"""InitProducerId v0–4: fresh ids for idempotent producers; for transactional ids, epochs that fence."""

from __future__ import annotations

import pytest
from kio.schema.errors import ErrorCode

from tests.kafka_wire.groupraw import unique
from tests.kafka_wire.rawkafka import RawKafka
from tests.kafka_wire.txnraw import init_producer_id


@pytest.mark.parametrize("version", range(0, 5))
def test_idempotent_producers_get_fresh_ids(server, version):
    with RawKafka(server.kafka_bootstrap) as kafka:
        first = kafka.send(init_producer_id(version, None))
        second = kafka.send(init_producer_id(version, None, timeout_ms=0))
    assert first.error_code == second.error_code == ErrorCode.none
    assert first.producer_epoch == second.producer_epoch == 0
    assert first.producer_id >= 0 and second.producer_id != first.producer_id


@pytest.mark.parametrize("version", range(0, 5))
def test_a_transactional_id_keeps_its_producer_id_and_bumps_the_epoch(server, version):
    tid = unique("tx")
    with RawKafka(server.kafka_bootstrap) as kafka:
        first = kafka.send(init_producer_id(version, tid))
        second = kafka.send(init_producer_id(version, tid))
        other = kafka.send(init_producer_id(version, unique("tx")))
    assert (first.error_code, second.error_code) == (ErrorCode.none, ErrorCode.none)
    assert first.producer_id == second.producer_id != other.producer_id
    assert (first.producer_epoch, second.producer_epoch) == (0, 1)


@pytest.mark.parametrize("version", range(0, 5))
def test_invalid_timeouts_and_ids(server, version):
    with RawKafka(server.kafka_bootstrap) as kafka:
        for timeout_ms in (0, 900_001):
            response = kafka.send(init_producer_id(version, unique("tx"), timeout_ms=timeout_ms))
            assert response.error_code == ErrorCode.invalid_transaction_timeout
            assert (response.producer_id, response.producer_epoch) == (-1, -1)
        assert kafka.send(init_producer_id(version, "")).error_code == ErrorCode.invalid_request
        assert kafka.send(init_producer_id(version, unique("tx"), timeout_ms=900_000)).error_code == ErrorCode.none


@pytest.mark.parametrize("version", [3, 4])
def test_kip_360_bump_retry_and_fence(server, version):
    tid = unique("tx")
    with RawKafka(server.kafka_bootstrap) as kafka:
        first = kafka.send(init_producer_id(version, tid))
        pid = first.producer_id
        bumped = kafka.send(init_producer_id(version, tid, producer_id=pid, producer_epoch=0))
        assert (bumped.error_code, bumped.producer_id, bumped.producer_epoch) == (ErrorCode.none, pid, 1)
        retried = kafka.send(init_producer_id(version, tid, producer_id=pid, producer_epoch=0))
        assert (retried.producer_id, retried.producer_epoch) == (pid, 1)
        kafka.send(init_producer_id(version, tid))  # another instance: epoch 2
        stale = kafka.send(init_producer_id(version, tid, producer_id=pid, producer_epoch=1))
        # KIP-588: PRODUCER_FENCED from v4; v3 clients know it as INVALID_PRODUCER_EPOCH.
        assert stale.error_code == (ErrorCode.producer_fenced if version >= 4 else ErrorCode.invalid_producer_epoch)
        half = kafka.send(init_producer_id(version, tid, producer_id=pid))
        assert half.error_code == ErrorCode.invalid_request
