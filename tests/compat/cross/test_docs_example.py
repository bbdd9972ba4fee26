"""The runnable example of docs/cross-protocol.md, run as written against a real server (ports replaced)."""

from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.server_only

DOC = pathlib.Path(__file__).resolve().parents[3] / "docs" / "cross-protocol.md"


def test_cross_protocol_example_runs(server):
    code = re.search(r"## Example\n\n```python\n(.*?)```", DOC.read_text(), re.S).group(1)
    code = code.replace("amqp://guest:guest@127.0.0.1:5672/", server.amqp_url)
    code = code.replace("127.0.0.1:9092", server.kafka_bootstrap)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60, text=True)
    assert out.returncode == 0, out.stderr
    assert "b'customer-7'" in out.stdout and "b'{\"id\": 1}'" in out.stdout and "content-type" in out.stdout
