#!/usr/bin/env bash
# Private RabbitMQ node for the differential AMQP compat suite (tests/compat/amqp).
#
#   bash .ci/rabbitmq.sh start    # starts mqgwtest@localhost (MQGW_RABBITMQ_NODE overrides the name) on 127.0.0.1:5673, waits until it speaks AMQP
#   bash .ci/rabbitmq.sh status   # rabbitmqctl status of that node
#   bash .ci/rabbitmq.sh stop     # stops it (its data dir is kept until the next start)
#   MQGW_RABBITMQ_KEEP_DATA=1 bash .ci/rabbitmq.sh start   # restart on the existing data (durability checks)
#   AMQP_URL=amqp://guest:guest@127.0.0.1:5673/ /work/venv/bin/pytest tests/compat/amqp -q
#
# Needs Debian's rabbitmq-server (3.10.x) installed; it does not use, start or stop the system
# service (which may run on 5672): this node has its own name, ports, HOME (hence its own fresh
# Erlang cookie), Mnesia dir, logs and an empty plugin list, all under MQGW_RABBITMQ_BASE.
set -euo pipefail

BASE="${MQGW_RABBITMQ_BASE:-${TMPDIR:-/tmp}/mqgw-rabbitmq}"
PORT="${MQGW_RABBITMQ_PORT:-5673}"
DIST_PORT="${MQGW_RABBITMQ_DIST_PORT:-25673}"
NODE="${MQGW_RABBITMQ_NODE:-mqgwtest@localhost}"
RMQ_BIN=/usr/lib/rabbitmq/bin

node_env() {
    export HOME="$BASE/home"
    export RABBITMQ_NODENAME="$NODE"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT="$PORT"
    export RABBITMQ_DIST_PORT="$DIST_PORT"
    export RABBITMQ_MNESIA_BASE="$BASE/mnesia"
    export RABBITMQ_LOG_BASE="$BASE/log"
    export RABBITMQ_LOGS="$BASE/log/node.log"
    export RABBITMQ_PID_FILE="$BASE/node.pid"
    export RABBITMQ_ENABLED_PLUGINS_FILE="$BASE/enabled_plugins"
    export RABBITMQ_PLUGINS_EXPAND_DIR="$BASE/plugins-expand"
    # Keep /etc/rabbitmq out of it: an empty env file and our own config file.
    export RABBITMQ_CONF_ENV_FILE="$BASE/rabbitmq-env.conf"
    export RABBITMQ_CONFIG_FILE="$BASE/rabbitmq.conf"
    export RABBITMQ_ADVANCED_CONFIG_FILE="$BASE/advanced.config"
}

ctl() {
    node_env
    "$RMQ_BIN/rabbitmqctl" -n "$NODE" "$@"
}

speaks_amqp() {
    # A 0-9-1 header is answered with a connection.start method frame (frame type 1).
    local first
    first=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT && printf 'AMQP\\0\\0\\011\\001' >&3 && head -c 1 <&3" 2>/dev/null | od -An -tx1 | tr -d ' \n') || true
    [ "$first" = "01" ]
}

start() {
    [ -x "$RMQ_BIN/rabbitmq-server" ] || { echo "rabbitmq-server is not installed (apt-get install -y rabbitmq-server)" >&2; exit 1; }
    if speaks_amqp && ctl status >/dev/null 2>&1; then
        echo "RabbitMQ $NODE already running on 127.0.0.1:$PORT"
        return 0
    fi
    [ -n "${MQGW_RABBITMQ_KEEP_DATA:-}" ] || rm -rf "$BASE"
    mkdir -p "$BASE/home" "$BASE/mnesia" "$BASE/log"
    : > "$BASE/rabbitmq-env.conf"
    printf '[].\n' > "$BASE/enabled_plugins"
    printf '[].\n' > "$BASE/advanced.config"
    cat > "$BASE/rabbitmq.conf" <<EOF
loopback_users.guest = true
log.console = false
log.file.level = info
EOF
    node_env
    nohup "$RMQ_BIN/rabbitmq-server" > "$BASE/log/startup.log" 2>&1 < /dev/null &
    echo $! > "$BASE/launcher.pid"
    local deadline=$((SECONDS + 90))
    until speaks_amqp; do
        if ! kill -0 "$(cat "$BASE/launcher.pid")" 2>/dev/null; then
            echo "RabbitMQ exited during startup:" >&2
            tail -n 40 "$BASE/log/startup.log" "$BASE/log/node.log" >&2 2>/dev/null || true
            exit 1
        fi
        if [ $SECONDS -ge $deadline ]; then
            echo "RabbitMQ did not accept AMQP on 127.0.0.1:$PORT within 90s" >&2
            tail -n 40 "$BASE/log/startup.log" "$BASE/log/node.log" >&2 2>/dev/null || true
            exit 1
        fi
        sleep 0.5
    done
    ctl await_startup >/dev/null
    ctl status >/dev/null
    echo "RabbitMQ $(ctl eval 'rabbit_misc:version().' 2>/dev/null | tr -d '"') $NODE on amqp://guest:guest@127.0.0.1:$PORT/"
}

stop() {
    [ -d "$BASE" ] || return 0
    ctl stop >/dev/null 2>&1 || true
    if [ -f "$BASE/launcher.pid" ]; then
        local pid
        pid=$(cat "$BASE/launcher.pid")
        for _ in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        kill "$pid" 2>/dev/null || true
        rm -f "$BASE/launcher.pid"
    fi
    echo "RabbitMQ $NODE stopped"
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    status) ctl status ;;
    *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac
