"""InitProducerId v0–4: a fresh producer id, epoch 0, never repeated; transactional ids get one too."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from kio.schema.errors import ErrorCode

from kafka_wire.build import make
from tests.kafka_wire.rawkafka import RawKafka


def request(version: int, transactional_id: str | None = None):
    m = importlib.import_module(f"kio.schema.init_producer_id.v{version}.request")
    return make(m.InitProducerIdRequest, transactional_id=transactional_id,
                transaction_timeout=timedelta(seconds=60), producer_id=-1, producer_epoch=-1)


@pytest.mark.parametrize("version", range(0, 5))
def test_fresh_ids(server, version):
    with RawKafka(server.kafka_bootstrap) as kafka:
        first = kafka.send(request(version))
        second = kafka.send(request(version, transactional_id="tx-1"))
    assert first.error_code == second.error_code == ErrorCode.none
    assert first.producer_epoch == second.producer_epoch == 0
    assert first.producer_id >= 0 and second.producer_id != first.producer_id
