"""Runs a real `mqgateway serve` process for tests, the way a user starts it.

    with ServerProcess(tmp_path) as server:      # files backend in tmp_path/data
        server.kafka_bootstrap                    # "127.0.0.1:PORT"
        server.amqp_url                           # "amqp://guest:guest@127.0.0.1:PORT/"
        server.kill9(); server.start()            # crash and recover on the same ports

Ports are picked free before start so the advertised Kafka address is known; the
process is started with `python -m gateway serve` and is ready once both ports accept.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


class ServerProcess:
    def __init__(self, workdir: Path | None = None, *, memory: bool = False, extra_args: tuple[str, ...] = (),
                 file_size_limit: int | None = None) -> None:
        self.memory = memory or workdir is None
        # RLIMIT_FSIZE for the server: writes past it fail (EFBIG) as on a full disk.
        self.file_size_limit = file_size_limit
        self.data_dir = None if workdir is None else Path(workdir) / "data"
        self.kafka_port = free_port()
        self.amqp_port = free_port()
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None
        self.log_path = (Path(workdir) if workdir else Path("/tmp")) / f"mqgateway-{self.kafka_port}.log"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "gateway", "serve",
               "--kafka", f"127.0.0.1:{self.kafka_port}", "--amqp", f"127.0.0.1:{self.amqp_port}"]
        cmd += ["--memory"] if self.memory else ["--data-dir", str(self.data_dir)]
        return cmd + list(self.extra_args)

    def start(self) -> "ServerProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     cwd=Path(__file__).resolve().parents[1], env=os.environ.copy(),
                                     preexec_fn=self._limit_file_size if self.file_size_limit else None)
        log.close()
        try:
            wait_for_port(self.kafka_port)
            wait_for_port(self.amqp_port)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"server did not start; log:\n{self.log()}")
        return self

    def _limit_file_size(self) -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (self.file_size_limit, self.file_size_limit))

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
