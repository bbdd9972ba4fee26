"""Behaviours kombu's own integration suite (t/integration/test_py_amqp.py in the kombu sdist)
relies on, reproduced with kombu's pyamqp transport so a regression shows up here."""

from __future__ import annotations

import kombu
import pytest


@pytest.fixture
def kconn(broker):
    conn = kombu.Connection(hostname=broker.host, port=broker.port, userid=broker.user, password=broker.password,
                            virtual_host=broker.vhost, transport="pyamqp", connect_timeout=5)
    conn.connect()
    yield conn
    conn.release()


def test_delete_queue_consumed_on_the_same_channel(kconn, names):
    # kombu BaseEventLoop.test_ack_from_another_thread ends by deleting the queue on the
    # consuming channel. RabbitMQ answers queue.delete-ok first and sends the consumer's
    # basic.cancel after it; py-amqp waiting for delete-ok raises ConsumerCancelled if the
    # cancel comes first.
    name = names.queue()
    queue = kombu.Queue(name, routing_key=name, durable=False)  # the default exchange, as upstream
    kombu.Producer(kconn).publish({"n": 1}, exchange=queue.exchange, routing_key=name, declare=[queue])
    got = []
    with kombu.Consumer(kconn, [queue], callbacks=[lambda body, message: got.append(body)],
                        prefetch_count=1) as consumer:
        kconn.drain_events(timeout=5)
        assert got == [{"n": 1}]
        assert queue(consumer.channel).delete() == 0  # ready messages only: the one delivered is unacked
    # the channel is still usable afterwards: the late cancel is absorbed, not a channel error
    assert queue(consumer.channel).declare() == queue.name
