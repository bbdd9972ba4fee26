"""The `mqgateway serve` process as an operator meets it: start, log, refuse, stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from tests.server import ServerProcess, free_port


def _serve(*args: str, timeout: float = 10.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gateway", "serve", *args],
                          capture_output=True, text=True, timeout=timeout)


def test_logs_listening_addresses_and_stops_cleanly_on_sigterm(tmp_path):
    server = ServerProcess(tmp_path).start()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(10) == 0
    log = server.log()
    assert f"kafka listening on 127.0.0.1:{server.kafka_port}" in log
    assert f"amqp listening on 127.0.0.1:{server.amqp_port}" in log
    assert "stopped" in log


def test_sigint_stops_cleanly(tmp_path):
    server = ServerProcess(tmp_path).start()
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(10) == 0


def test_refuses_to_start_when_the_port_is_taken(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve("--data-dir", str(tmp_path / "d"), "--kafka", f"127.0.0.1:{port}",
                        "--amqp", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    # Start-up logs (storage recovery) may come first; the refusal is one line, no traceback.
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("mqgateway: ") and f"cannot listen for kafka on 127.0.0.1:{port}" in last
    assert "Traceback" not in result.stderr


def test_refuses_an_unusable_data_dir(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    result = _serve("--data-dir", str(not_a_dir), "--kafka", f"127.0.0.1:{free_port()}",
                    "--amqp", f"127.0.0.1:{free_port()}")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"mqgateway: data dir {not_a_dir} is unusable: File exists"]


def test_refuses_a_data_dir_another_server_holds_until_that_one_dies(tmp_path):
    first = ServerProcess(tmp_path).start()
    try:
        result = _serve("--data-dir", str(first.data_dir), "--kafka", f"127.0.0.1:{free_port()}",
                        "--amqp", f"127.0.0.1:{free_port()}")
        assert result.returncode == 1
        assert result.stderr.strip().splitlines()[-1] == (
            f"mqgateway: data dir {first.data_dir} is in use by another mqgateway process (pid {first.proc.pid})")
        first.kill9()  # the kernel drops a dead process's lock: no manual step before a restart
        second = ServerProcess(tmp_path)
        second.start()
        assert second.stop() == 0
    finally:
        first.stop()


def test_refuses_a_bad_flag_value(tmp_path):
    result = _serve("--kafka", "nonsense")
    assert result.returncode == 2
    assert "expected HOST:PORT" in result.stderr


def test_environment_variables_configure_the_process(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "serve"], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MQGW_KAFKA": f"127.0.0.1:{port}",
                                 "MQGW_AMQP": f"127.0.0.1:{free_port()}", "MQGW_MEMORY": "true"})
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise AssertionError("no listener on the port from MQGW_KAFKA")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert "storage: memory" in err
