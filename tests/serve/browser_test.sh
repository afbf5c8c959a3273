#!/usr/bin/env bash
# The browser test of `r1 serve`: writes a store with serve_fixture, starts `r1 serve` on a free
# loopback port, and drives Debian's chromium (headless) with playwright-core through
# browser_test.mjs. Screenshots land in OUT_DIR. Exit 77 (skipped) when chromium or the npm
# packages are not installed (scripts/setup.sh installs both).
#   browser_test.sh R1_BINARY SERVE_FIXTURE OUT_DIR
set -euo pipefail
r1="$1"; fixture="$2"; out="$3"
here="$(cd "$(dirname "$0")" && pwd)"
chromium="${R1_CHROMIUM:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then echo "SKIP: $chromium not installed (scripts/setup.sh installs Debian's chromium)"; exit 77; fi
if [ ! -d "$here/node_modules/playwright-core" ]; then echo "SKIP: playwright-core not installed (scripts/setup.sh runs npm ci in tests/serve)"; exit 77; fi

rm -rf "$out"; mkdir -p "$out"
db="$out/dashboard.db"
read -r alpha beta base zero < <("$fixture" "$db")

server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT
"$r1" --db "$db" serve --port 0 > "$out/serve.out" 2> "$out/serve.err" &
server_pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's|^r1 serve: http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$out/serve.out")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "r1 serve exited:"; cat "$out/serve.err"; exit 1; }
  sleep 0.1
done
[ -n "$port" ] || { echo "r1 serve printed no port within 10 s"; exit 1; }

R1="$r1" DB="$db" PORT="$port" OUT="$out" CHROMIUM="$chromium" RUN_ALPHA="$alpha" RUN_BETA="$beta" PIPELINE_RUN="$zero" \
  timeout 240 node "$here/browser_test.mjs"
