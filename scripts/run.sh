#!/usr/bin/env bash
# README command 1: install (if needed) and start the server on the embedded offline engines.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
bash scripts/web.sh || echo '==> the web client could not be built (see above); the server starts without it'
exec .venv/bin/python -m realtime "$@"
