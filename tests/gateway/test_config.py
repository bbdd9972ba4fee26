"""Config: defaults in one object, TOML < environment < flags."""

from pathlib import Path

import pytest

from gateway.config import Config, ConfigError, HostPort, load


def test_defaults_are_the_documented_ones():
    config = load(flags={}, environ={})
    assert config == Config()
    assert config.data_dir == Path("./mqgateway-data")
    assert config.kafka == HostPort(host="localhost", port=9092)
    assert config.amqp == HostPort(host="localhost", port=5672)
    assert config.default_partitions == 1
    assert config.kafka.bind_hosts() == ("127.0.0.1", "::1")


def test_precedence_file_then_environment_then_flags(tmp_path):
    toml = tmp_path / "mq.toml"
    toml.write_text('default-partitions = 3\nkafka = "127.0.0.1:9000"\nmemory = true\nlog_level = "debug"\n')
    env = {"MQGW_KAFKA": "127.0.0.1:9001", "MQGW_DEFAULT_PARTITIONS": "4"}
    config = load(flags={"default_partitions": 5}, environ=env, config_file=toml)
    assert config.default_partitions == 5
    assert config.kafka == HostPort(host="127.0.0.1", port=9001)
    assert config.memory is True
    assert config.log_level == "debug"


def test_advertised_defaults_to_listener_and_never_a_wildcard():
    assert Config(kafka=HostPort.parse("0.0.0.0:9092")).advertised_kafka() == HostPort(host="localhost", port=9092)
    assert Config(kafka=HostPort.parse("127.0.0.1:0")).advertised_kafka(41000) == HostPort(host="127.0.0.1", port=41000)
    explicit = HostPort.parse("broker.example:19092")
    assert Config(kafka_advertised=explicit).advertised_kafka(1) == explicit


@pytest.mark.parametrize("text", ["9092", "host:", "host:port", "host:70000"])
def test_bad_host_port_is_refused(text):
    with pytest.raises(ConfigError):
        HostPort.parse(text)


def test_ipv6_host_port():
    assert HostPort.parse("[::1]:9092") == HostPort(host="::1", port=9092)


def test_unknown_toml_key_is_refused(tmp_path):
    toml = tmp_path / "mq.toml"
    toml.write_text("kafak = '127.0.0.1:1'\n")
    with pytest.raises(ConfigError, match="unknown setting 'kafak'"):
        load(flags={}, environ={}, config_file=toml)


def test_bad_values_are_refused():
    with pytest.raises(ConfigError):
        load(flags={}, environ={"MQGW_MEMORY": "perhaps"})
    with pytest.raises(ConfigError):
        load(flags={"default_partitions": 0}, environ={})


def test_limits_and_fsync_have_documented_defaults_and_one_name_each():
    config = load(flags={}, environ={})
    assert (config.max_connections, config.max_connections_per_source) == (65536, 4096)
    assert (config.handshake_timeout_ms, config.kafka_idle_timeout_ms) == (10_000, 600_000)
    assert config.kafka_max_request_bytes == 100 * 1024 * 1024
    assert (config.fsync, config.fsync_interval_ms) == ("never", 1000)
    env = {"MQGW_MAX_CONNECTIONS_PER_SOURCE": "7", "MQGW_FSYNC": "ALWAYS", "MQGW_KAFKA_IDLE_TIMEOUT_MS": "0"}
    config = load(flags={"handshake_timeout_ms": 250, "fsync_interval_ms": 20}, environ=env)
    assert config.max_connections_per_source == 7 and config.fsync == "always"
    assert config.kafka_idle_timeout_ms == 0 and config.handshake_timeout_ms == 250 and config.fsync_interval_ms == 20


def test_resource_alarm_thresholds_default_to_rabbitmqs():
    config = load(flags={}, environ={})
    assert (config.disk_free_limit, config.memory_high_watermark) == (50_000_000, 0.4)
    config = load(flags={"memory_high_watermark": "536870912"}, environ={"MQGW_DISK_FREE_LIMIT": "0"})
    assert (config.disk_free_limit, config.memory_high_watermark) == (0, 536870912.0)


@pytest.mark.parametrize("flags", [
    {"fsync": "sometimes"}, {"max_connections": -1}, {"handshake_timeout_ms": -5},
    {"fsync_interval_ms": 0}, {"kafka_max_request_bytes": 10}, {"disk_free_limit": -1},
    {"memory_high_watermark": "lots"}, {"memory_high_watermark": -0.1}, {"group_min_session_timeout_ms": -1},
])
def test_bad_limit_or_fsync_values_are_refused(flags):
    with pytest.raises(ConfigError):
        load(flags=flags, environ={})


def test_every_limit_and_fsync_setting_has_its_flag():
    from gateway.cli import build_parser

    serve = build_parser()._subparsers._group_actions[0].choices["serve"]
    flags = {option for action in serve._actions for option in action.option_strings}
    for name in ("max_connections", "max_connections_per_source", "handshake_timeout_ms", "kafka_idle_timeout_ms",
                 "kafka_max_request_bytes", "fsync", "fsync_interval_ms", "amqp_max_message_size", "amqp_frame_max",
                 "amqp_channel_max", "amqp_heartbeat", "disk_free_limit", "memory_high_watermark",
                 "group_min_session_timeout_ms"):
        assert "--" + name.replace("_", "-") in flags, name
        args = build_parser().parse_args(["serve", "--" + name.replace("_", "-"), "always" if name == "fsync" else "7"])
        assert getattr(args, name) is not None


def test_memory_watermark_is_a_fraction_of_ram_with_a_floor_or_bytes():
    from gateway.pressure import MIN_FRACTIONAL_LIMIT, memory_limit

    gib = 1024 ** 3
    assert memory_limit(0.4, total=24 * gib) == int(24 * gib * 0.4)
    assert memory_limit(0.4, total=gib // 2) == MIN_FRACTIONAL_LIMIT  # a small container
    assert memory_limit(1_000_000, total=24 * gib) == 1_000_000  # above 1: bytes, as given
    assert memory_limit(0, total=24 * gib) == 0
