"""Stream filtering (RabbitMQ 3.13+, docs/streams.md "Filtering") over AMQP 0-9-1 with pika.

Publishers tag messages with the `x-stream-filter-value` header; a consumer with
`x-stream-filter` (a string or an array of strings) gets the messages tagged with one of its
values, plus the untagged ones when `x-stream-match-unfiltered` is true. RabbitMQ filters chunks
with a Bloom filter, so its consumers may get extra messages; ours filter exactly (a subset
RabbitMQ's clients must accept). Server only: RabbitMQ 3.10 (the CI node) has no filtering.
"""

from __future__ import annotations

import pika
import pytest

from tests.compat.amqp.test_streams import consume, declare_stream

pytestmark = pytest.mark.server_only

TAGS = ["california", "texas", None, "california", "oregon", None, "texas"]


def fill(channel, q: str) -> None:
    declare_stream(channel, q)
    for i, tag in enumerate(TAGS):
        headers = {"x-stream-filter-value": tag} if tag else {}
        channel.basic_publish("", q, b"m%d" % i, pika.BasicProperties(headers=headers))


def bodies(got) -> list[bytes]:
    return [body for body, _, _ in got]


@pytest.mark.parametrize(("arguments", "expected"), [
    ({"x-stream-filter": "california"}, [0, 3]),
    ({"x-stream-filter": ["california", "texas"]}, [0, 1, 3, 6]),
    ({"x-stream-filter": "texas", "x-stream-match-unfiltered": True}, [1, 2, 5, 6]),
    ({"x-stream-filter": "nowhere"}, []),
    ({}, list(range(len(TAGS)))),
])
def test_filter_values(connection, channel, names, arguments, expected):
    q = names.queue()
    fill(channel, q)
    ch = connection.channel()
    ch.basic_qos(prefetch_count=2)  # credit is spent on matching messages only
    got = []
    ch.basic_consume(q, lambda c, m, p, b: (got.append((b, p.headers.get("x-stream-offset"))),
                                            c.basic_ack(m.delivery_tag)),
                     arguments={"x-stream-offset": "first", **arguments})
    for _ in range(20):
        connection.process_data_events(time_limit=0.05)
    assert [body for body, _ in got] == [b"m%d" % i for i in expected]
    assert [offset for _, offset in got] == expected  # offsets are the stream's, gaps and all
    # a message published later is filtered the same way
    channel.basic_publish("", q, b"late", pika.BasicProperties(headers={"x-stream-filter-value": "california"}))
    for _ in range(20):
        connection.process_data_events(time_limit=0.05)
    wanted = arguments.get("x-stream-filter") in ("california", ["california", "texas"]) or not arguments
    assert (got[-1][0] == b"late") == wanted if got else not wanted
