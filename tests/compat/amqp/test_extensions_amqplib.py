"""Node's amqplib against RabbitMQ's extensions: runs tests/compat/amqp/node/test/extensions.test.js
with `node --test` against the same broker as the rest of the suite (MQGW_LEGACY tells the script
when the broker is RabbitMQ 3.x, for the differences the script documents)."""

from __future__ import annotations

import os
import subprocess

from tests.compat.amqp.conftest import is_legacy_rabbitmq
from tests.compat.amqp.test_amqplib import NODE_DIR, ensure_amqplib


def test_amqplib_extensions(broker, names, server_properties):
    ensure_amqplib()
    env = dict(os.environ, AMQP_URL=broker.url(), MQGW_PREFIX=names.prefix,
               MQGW_LEGACY="1" if is_legacy_rabbitmq(server_properties) else "0")
    proc = subprocess.run(["node", "--test", "--test-reporter=tap", "test/extensions.test.js"], cwd=NODE_DIR,
                          env=env, capture_output=True, text=True, timeout=120)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    assert "# fail 0" in report and "# pass 6" in report, report
