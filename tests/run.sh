#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs it.
#
#   bash tests/run.sh [pytest args...]
#
# - Debian packages: kcat, amqp-tools, rabbitmq-server (the reference broker for the
#   differential AMQP tests), Node.js/npm for the kafkajs and amqplib tests.
# - A virtualenv in .venv with mqgateway and its `test` extra (the real clients).
# - npm packages of the Node test folders.
# - A private RabbitMQ node on port 5673 (never 5672), stopped again on exit.
# Then: the whole suite against mqgateway, and the AMQP compat suite against RabbitMQ,
# which proves every AMQP expectation against the real broker.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

need_apt=()
command -v kcat >/dev/null || need_apt+=(kcat)
command -v amqp-publish >/dev/null || need_apt+=(amqp-tools)
command -v rabbitmq-server >/dev/null || [ -x /usr/sbin/rabbitmq-server ] || need_apt+=(rabbitmq-server)
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

for dir in tests/compat/*/node tests/compat/*_node tests/compat/node; do
  [ -f "$dir/package.json" ] || continue
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
done

rabbit_started=""
if [ -f .ci/rabbitmq.sh ]; then
  bash .ci/rabbitmq.sh start
  rabbit_started=1
  trap 'bash "$ROOT/.ci/rabbitmq.sh" stop || true' EXIT
fi

status=0
.venv/bin/python -m pytest -q -p no:cacheprovider "$@" || status=$?
if [ -n "$rabbit_started" ] && [ -d tests/compat/amqp ] && [ $# -eq 0 ]; then
  echo "--- the AMQP compat suite against RabbitMQ (differential) ---"
  AMQP_URL=amqp://guest:guest@127.0.0.1:5673/ .venv/bin/python -m pytest -q -p no:cacheprovider tests/compat/amqp || status=$?
fi
exit $status
