"""Node's amqplib: runs tests/compat/amqp/node/test/*.test.js with `node --test` against the same
broker as the rest of the suite. amqplib is installed by tests/compat/amqp/node/install.sh
(`npm ci`); this test runs it when node_modules is missing, so a fresh checkout works."""

from __future__ import annotations

import os
import subprocess

from tests.compat.amqp.conftest import HERE

NODE_DIR = HERE / "node"


def ensure_amqplib() -> None:
    if not (NODE_DIR / "node_modules" / "amqplib" / "package.json").exists():
        subprocess.run(["bash", str(NODE_DIR / "install.sh")], check=True, timeout=300)


def test_amqplib_suite(broker, names):
    ensure_amqplib()
    env = dict(os.environ, AMQP_URL=broker.url(), MQGW_PREFIX=names.prefix)
    # node's test runner exits non-zero when any test fails and prints a TAP report
    proc = subprocess.run(["node", "--test", "--test-reporter=tap", "test/amqplib.test.js"], cwd=NODE_DIR, env=env,
                          capture_output=True, text=True, timeout=120)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    assert "# fail 0" in report and "# pass 12" in report, report
