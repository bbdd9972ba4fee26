#!/usr/bin/env bash
# Installs amqplib for the Node compat tests (node_modules is never committed).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
