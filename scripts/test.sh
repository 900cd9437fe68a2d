#!/usr/bin/env bash
# README command 2: install what the tests need and run them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh --test
bash scripts/web.sh --test
bash unity-bridge/build.sh   # Mono (apt, once) and the C# bridge; tests/test_unity_bridge.py runs its NUnit tests
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
