"""Debian's amqp-tools (librabbitmq-c 0.11 command-line clients) against the broker:
amqp-declare-queue, amqp-publish, amqp-get, amqp-consume, amqp-delete-queue, and the errors they
print. Results are cross-checked with pika."""

from __future__ import annotations

import subprocess
import time

import pika

from tests.compat.amqp.helpers import channel_error, wait_for


def tool(*args: str, stdin: bytes | None = None, timeout: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), input=stdin, capture_output=True, timeout=timeout)


def test_declare_publish_get_delete(broker, names, channel):
    url = broker.url()
    q = names.queue()
    declared = tool("amqp-declare-queue", "-u", url, "-q", q, "-d")
    assert declared.returncode == 0, declared.stderr
    assert declared.stdout.decode().strip() == q
    channel.queue_declare(q, durable=True)  # it was declared durable: an equivalent redeclare is fine

    published = tool("amqp-publish", "-u", url, "-r", q, "-b", "hello tools", "-C", "text/plain",
                     "-E", "utf-8", "-H", "x-origin: amqp-tools", "-t", "reply.here", "-p")
    assert published.returncode == 0, published.stderr
    got = tool("amqp-get", "-u", url, "-q", q)
    assert (got.returncode, got.stdout) == (0, b"hello tools")
    empty = tool("amqp-get", "-u", url, "-q", q)
    assert empty.returncode == 2  # amqp-get's exit code for basic.get-empty

    tool("amqp-publish", "-u", url, "-r", q, "-b", "inspect me", "-C", "text/plain", "-H", "x-origin: amqp-tools", "-p")
    method, props, body = channel.basic_get(q, auto_ack=True)
    assert body == b"inspect me"
    assert (props.content_type, props.delivery_mode, props.headers) == ("text/plain", 2, {"x-origin": "amqp-tools"})

    channel.basic_publish("", q, b"one left")
    deleted = tool("amqp-delete-queue", "-u", url, "-q", q)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.decode().strip() == "1"


def test_line_buffered_publish_and_consume(broker, names, channel):
    url = broker.url()
    q = names.queue()
    channel.queue_declare(q)
    published = tool("amqp-publish", "-u", url, "-r", q, "-l", stdin=b"alpha\nbeta\ngamma\n")
    assert published.returncode == 0, published.stderr
    consumed = tool("amqp-consume", "-u", url, "-q", q, "-c", "3", "-p", "1", "--", "sh", "-c", "cat; echo '|'")
    assert consumed.returncode == 0, consumed.stderr
    bodies = [part.strip() for part in consumed.stdout.decode().split("|") if part.strip()]
    assert bodies == ["alpha", "beta", "gamma"]
    # they were acked after the command ran
    assert channel.queue_declare(q, passive=True).method.message_count == 0


def test_consume_declares_and_binds_an_auto_delete_queue(broker, names, channel):
    x, q = names.exchange(), names.queue()
    channel.exchange_declare(x, "topic")
    proc = subprocess.Popen(["amqp-consume", "-u", broker.url(), "-q", q, "-e", x, "-r", "tools.#", "-c", "1",
                             "--", "cat"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        probe = channel.connection.channel()

        def consuming() -> bool:
            nonlocal probe
            try:
                return probe.queue_declare(q, passive=True).method.consumer_count == 1
            except pika.exceptions.ChannelClosedByBroker:
                probe = channel.connection.channel()
                return False

        wait_for(consuming, timeout=10)
        channel.basic_publish(x, "tools.bound", b"routed via binding")
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out) == (0, b"routed via binding"), err
    # amqp-consume declared it auto-delete: its consumer left, so the queue went too
    assert channel_error(channel.connection, lambda ch: ch.queue_declare(q, passive=True))[0] == 404


def test_consume_from_exclusive_server_named_queue(broker, names, channel):
    x = names.exchange()
    channel.exchange_declare(x, "fanout")
    proc = subprocess.Popen(["amqp-consume", "-u", broker.url(), "-x", "-e", x, "-r", "any", "-c", "1", "-A",
                             "--", "cat"],  # without -r, amqp-tools 0.11 crashes binding the queue
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stderr.readline().decode()
        assert line.startswith("Server provided queue name: amq.gen-"), line
        queue = line.split(": ", 1)[1].strip()
        assert channel_error(channel.connection, lambda ch: ch.queue_declare(queue, passive=True))[0] == 405
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            channel.basic_publish(x, "", b"fanned out")  # until its consumer is up and takes one
            time.sleep(0.05)
        out = proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert (proc.returncode, out) == (0, b"fanned out")


def test_errors_are_reported_with_rabbitmq_texts(broker, names):
    bad_login = tool("amqp-get", "-u", broker.url(password="wrong-password"), "-q", "x")
    assert bad_login.returncode != 0
    assert ("server connection error 403, message: ACCESS_REFUSED - Login was refused using authentication "
            "mechanism PLAIN. For details see the broker logfile.") in bad_login.stderr.decode()

    missing = names.queue("missing")
    no_queue = tool("amqp-get", "-u", broker.url(), "-q", missing)
    assert no_queue.returncode != 0
    assert (f"server channel error 404, message: NOT_FOUND - no queue '{missing}' in vhost '/'"
            in no_queue.stderr.decode())

    # librabbitmq reads "amqp://host:port/" as the empty vhost "", not "/"
    empty_vhost = tool("amqp-get", "-u", f"amqp://{broker.user}:{broker.password}@{broker.host}:{broker.port}/",
                       "-q", "x")
    assert empty_vhost.returncode != 0
    assert "server connection error 530, message: NOT_ALLOWED - vhost  not found" in empty_vhost.stderr.decode()


def test_pika_publishes_tools_consume(broker, names, channel):
    q = names.queue()
    channel.queue_declare(q)
    for i in range(3):
        channel.basic_publish("", q, f"from pika {i}".encode(), pika.BasicProperties(delivery_mode=2))
    consumed = tool("amqp-consume", "-u", broker.url(), "-q", q, "-c", "3", "-A", "--", "sh", "-c", "cat; echo")
    assert consumed.returncode == 0, consumed.stderr
    assert consumed.stdout.decode().splitlines() == ["from pika 0", "from pika 1", "from pika 2"]
