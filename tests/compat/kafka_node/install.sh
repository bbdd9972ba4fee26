#!/usr/bin/env bash
# Installs kafkajs for the Node compat tests (node_modules is never committed).
set -euo pipefail
cd "$(dirname "$0")"
if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
else
  npm install --no-audit --no-fund --loglevel=error
fi
