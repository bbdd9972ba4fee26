"""The crash checks themselves can fail: each kind of loss or duplication is caught (crash.py)."""

from __future__ import annotations

import tests.reliability.crash as crash
from tests.reliability.crash import Deliveries, Report


class _Server:
    kafka_bootstrap = "unused:0"


def test_a_lost_or_moved_kafka_record_is_counted(monkeypatch):
    monkeypatch.setattr(crash, "read_log", lambda bootstrap, topic: {0: [(0, b"a"), (1, b"c")], 1: [], 2: []})
    report = Report()
    crash._check_kafka(report, _Server(), "t", {b"a": (0, 0), b"b": (0, 1), b"c": (0, 2)}, idempotent=False)
    assert report.lost == 2 and len(report.problems) == 2


def test_idempotent_duplicates_fail_and_plain_ones_are_counted_as_retries(monkeypatch):
    monkeypatch.setattr(crash, "read_log", lambda bootstrap, topic: {0: [(0, b"a"), (1, b"a")], 1: [], 2: []})
    report = Report()
    crash._check_kafka(report, _Server(), "t", {b"a": (0, 0)}, idempotent=True)
    assert report.kafka_duplicated == 1 and report.duplicated_beyond_guarantee == 1 and report.lost == 0
    report = Report()
    crash._check_kafka(report, _Server(), "t", {b"a": (0, 0)}, idempotent=False)
    assert report.duplicated_beyond_guarantee == 0 and report.duplicates_from_retries == 1


def test_a_commit_that_went_backwards_is_counted(monkeypatch):
    monkeypatch.setattr(crash, "fetch_committed", lambda bootstrap, topic, group: {0: 5, 1: 9, 2: -1001})
    report = Report()
    crash._check_commits(report, _Server(), "t", "g", {0: 5, 1: 10})
    assert report.lost == 1 and report.commits_checked == 2


def test_amqp_loss_duplicates_and_unacked_deliveries_are_told_apart():
    deliveries = Deliveries()
    for body in (b"m1", b"m2", b"m3"):
        deliveries.add(body)
    deliveries.ack(b"m1"), deliveries.ack(b"m2")
    deliveries.add(b"m2")  # again, with no crash in between: beyond the guarantee
    deliveries.ack(b"m2")
    deliveries.epoch = 1  # a kill
    deliveries.add(b"m1")  # its ack was lost with the broker: allowed
    deliveries.ack(b"m1")
    report = Report()
    crash._check_amqp(report, {b"m1", b"m2", b"m3", b"m4"}, deliveries)
    # m4 confirmed, never delivered; m3 delivered, never acked, never redelivered.
    assert report.lost == 2
    assert report.amqp_duplicated == 1 and report.amqp_redelivered == 1
