"""Class 10, connection: start/start-ok, tune/tune-ok, open, close, update-secret.

Served: the handshake as RabbitMQ runs it (`rabbit_reader`): connection.start offers
PLAIN and AMQPLAIN, locale en_US, and server properties with a capabilities table listing
only what this server implements; start-ok is checked against the one configured user,
and the default user `guest` is refused from anything but loopback (RabbitMQ's
`loopback_users`); tune proposes channel_max, frame_max and heartbeat and tune-ok may
lower but not raise them (530); connection.open accepts the vhosts the engine has (530
"vhost X not found" otherwise); close and close-ok both ways; update-secret is
acknowledged (there are no expiring credentials to update).

Authentication failures: 403 ACCESS_REFUSED with RabbitMQ's safe text, sent as
connection.close only if the client advertised `authentication_failure_close`; other
clients just see the socket close, as with RabbitMQ.

connection.blocked / unblocked are sent by the session under a resource alarm
(amqp_wire/connection.py, "resource alarms"), to clients that advertised the capability.

Not done: connection.secure (no challenge-response mechanism is offered), the ANONYMOUS
mechanism.
"""

from __future__ import annotations

import ipaddress
import logging
import platform

from pamqp import commands

from engine.errors import EngineError
from amqp_wire import frames
from amqp_wire.errors import AmqpError, ReplyCode, from_engine
from amqp_wire.fieldtable import TableError, decode_table_body
from amqp_wire.handlers import connection_method

log = logging.getLogger("mqgateway.amqp")

PRODUCT = "mqgateway"
VERSION = "0.1.0"
MECHANISMS = "PLAIN AMQPLAIN"
FRAME_MIN_SIZE = 4096  # AMQP 0-9-1 §4.2.1 / rabbit_framing: frame_max may not be lower
# Only what is implemented (shared/reference/rabbitmq-behaviour.md §1.1): all nine of RabbitMQ's.
CAPABILITIES = {
    "publisher_confirms": True,
    "exchange_exchange_bindings": True,
    "basic.nack": True,
    "consumer_cancel_notify": True,
    "connection.blocked": True,
    "consumer_priorities": True,
    "authentication_failure_close": True,
    "per_consumer_qos": True,
    "direct_reply_to": True,
}


def server_properties() -> dict:
    return {
        "capabilities": dict(CAPABILITIES),
        "cluster_name": "mqgateway",
        "copyright": "mqgateway contributors",
        "information": "Licensed under the Apache License 2.0",
        "platform": f"Python {platform.python_version()}",
        "product": PRODUCT,
        "version": VERSION,
    }


def send_start(session) -> None:
    session.send_method(0, frames.build(
        commands.Connection.Start, version_major=0, version_minor=9,
        server_properties=server_properties(), mechanisms=MECHANISMS, locales="en_US"))


def _is_loopback(peer: tuple) -> bool:
    try:
        address = ipaddress.ip_address(str(peer[0]).split("%")[0])
    except (ValueError, IndexError):
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _text(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _credentials(mechanism: str, response) -> tuple[str, str] | None:
    raw = response.encode("utf-8", "surrogateescape") if isinstance(response, str) else bytes(response or b"")
    if mechanism == "PLAIN":
        parts = raw.split(b"\x00")
        if len(parts) != 3:
            return None
        return parts[1].decode("utf-8", "replace"), parts[2].decode("utf-8", "replace")
    if mechanism == "AMQPLAIN":
        try:
            table = decode_table_body(raw, 0, len(raw))
        except TableError:
            return None
        login, password = table.get("LOGIN"), table.get("PASSWORD")
        if login is None or password is None:
            return None
        return _text(login.value), _text(password.value)
    return None


def _refuse(session, mechanism: str, username: str | None, why: str) -> None:
    log.warning("amqp: %s login refused from %s: %s", mechanism, session.link.peer, why)
    if session.capabilities.get("authentication_failure_close"):
        session.close_by_server(ReplyCode.ACCESS_REFUSED, (
            f"Login was refused using authentication mechanism {mechanism}. "
            "For details see the broker logfile."))
    else:
        session.abandon()


@connection_method(commands.Connection.StartOk)
def start_ok(session, method) -> None:
    from amqp_wire.connection import State

    if session.state is not State.START_OK:
        raise AmqpError(ReplyCode.CHANNEL_ERROR, f"unexpected method in connection state {session.state.value}")
    properties = method.client_properties or {}
    session.client_properties = properties
    caps = properties.get("capabilities")
    if caps is not None and caps.value:
        session.capabilities = {k: bool(v.value) for k, v in caps.value.items()}
    mechanism = method.mechanism or ""
    if mechanism not in MECHANISMS.split():
        raise AmqpError(ReplyCode.COMMAND_INVALID, f"unknown authentication mechanism '{mechanism}'")
    creds = _credentials(mechanism, method.response)
    settings = session.settings
    if creds is None:
        _refuse(session, mechanism, None, "response invalid")
        return
    user, password = creds
    if user != settings.user or password != settings.password:
        _refuse(session, mechanism, user, f"user '{user}' - invalid credentials")
        return
    if user == "guest" and not _is_loopback(session.link.peer):
        _refuse(session, mechanism, user, "user 'guest' can only connect via localhost")
        return
    session.user = user
    session.state = State.TUNE_OK
    session.send_method(0, frames.build(
        commands.Connection.Tune, channel_max=settings.channel_max, frame_max=settings.frame_max,
        heartbeat=settings.heartbeat))


def _negotiated(name: str, value: int, server: int, minimum: int = 0) -> None:
    # rabbit_reader:validate_negotiated_integer_value/3
    if value < minimum:
        raise AmqpError(ReplyCode.NOT_ALLOWED,
                        f"negotiated {name} = {value} is lower than the minimum allowed value ({minimum})")
    if server != 0 and (value == 0 or value > server):
        raise AmqpError(ReplyCode.NOT_ALLOWED,
                        f"negotiated {name} = {value} is higher than the maximum allowed value ({server})")


@connection_method(commands.Connection.TuneOk)
def tune_ok(session, method) -> None:
    from amqp_wire.connection import State

    if session.state is not State.TUNE_OK:
        raise AmqpError(ReplyCode.CHANNEL_ERROR, f"unexpected method in connection state {session.state.value}")
    settings = session.settings
    _negotiated("frame_max", method.frame_max, settings.frame_max, FRAME_MIN_SIZE)
    _negotiated("channel_max", method.channel_max, settings.channel_max)
    session.frame_max = method.frame_max
    session.channel_max = method.channel_max
    session.heartbeat = method.heartbeat
    session.state = State.OPEN


@connection_method(commands.Connection.Open)
def open_(session, method) -> None:
    from amqp_wire.connection import State

    if session.state is not State.OPEN:
        raise AmqpError(ReplyCode.CHANNEL_ERROR, f"unexpected method in connection state {session.state.value}")
    name = method.virtual_host or ""  # "" is a vhost name like any other (530 unless it exists)
    try:
        session.vhost = session.messaging.vhost(name)
    except EngineError as err:
        raise from_engine(err) from None
    session.vhost_name = name
    session.state = State.RUNNING
    session.start_heartbeats()
    session.send_method(0, frames.build(commands.Connection.OpenOk, known_hosts=""))
    # The listener's handshake timeout (handshake_timeout_ms) ends here, as RabbitMQ's
    # handshake_timeout covers everything up to connection.open-ok.
    session.link.handshake_done()


@connection_method(commands.Connection.Close)
def close(session, method) -> None:
    session.client_closed()


@connection_method(commands.Connection.CloseOk)
def close_ok(session, method) -> None:
    # close-ok without our close: nothing to finish; RabbitMQ ignores it the same way
    pass


@connection_method(commands.Connection.UpdateSecret)
def update_secret(session, method) -> None:
    session.send_method(0, frames.build(commands.Connection.UpdateSecretOk))
