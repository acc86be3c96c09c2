#!/usr/bin/env bash
# Times the web pages with N pauses in the database (default 100,000): each page is
# fetched 20 times by a signed-in admin and the median and slowest are printed.
# Needs curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${COUNT:-100000}
cargo build --release --quiet
BIN=target/x86_64-unknown-linux-gnu/release/hitl
DIR=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT

for name in deploy-bot outreach-agent migrations support-bot finance-bot crm-sync; do
  "$BIN" --data-dir "$DIR" key create --name "$name" >/dev/null 2>&1
done
echo "a long admin password" | "$BIN" --data-dir "$DIR" user add admin@example.com --role admin --password-stdin >/dev/null
bench/seed "$DIR/hitl.db" "$COUNT"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
"$BIN" --data-dir "$DIR" --log warn serve --listen "127.0.0.1:$PORT" &
PID=$!
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.1; done
COOKIE=$(curl -s -o /dev/null -D - -X POST "$URL/signin" --data-urlencode email=admin@example.com \
  --data-urlencode "password=a long admin password" | awk -F'[ ;]' 'tolower($1) == "set-cookie:" {print $2}')
WATCH=$(python3 -c "import sqlite3; print(sqlite3.connect('$DIR/hitl.db').execute('SELECT watch_id FROM pauses ORDER BY id DESC LIMIT 1 OFFSET 5000').fetchone()[0])")
KEY=$(python3 -c "import sqlite3; print(sqlite3.connect('$DIR/hitl.db').execute('SELECT id FROM api_keys LIMIT 1').fetchone()[0])")
FROM=$(date -u -d '-30 days' +%F); TO=$(date -u -d '-20 days' +%F)

time_page() {
  local path=$1 times=()
  for _ in $(seq 20); do
    times+=("$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -H "Cookie: $COOKIE" "$URL$path")")
  done
  printf '%s\n' "${times[@]}" | python3 -c "
import sys
rows = [l.split() for l in sys.stdin if l.strip()]
codes = {r[0] for r in rows}
ms = sorted(float(r[1]) * 1000 for r in rows)
print(f'{ms[len(ms)//2]:7.1f} ms median {ms[-1]:7.1f} ms max  HTTP {\",\".join(sorted(codes))}  $path')"
}

echo "hitl $("$BIN" --version | cut -d' ' -f2): web pages with $COUNT pauses (20 fetches each)"
for p in "/" "/review/$WATCH" "/history" "/history?status=pending" "/history?status=expired&status=cancelled" \
  "/history?tag=finance" "/history?key=$KEY" "/history?from=$FROM&to=$TO" "/history?q=invoice" \
  "/history?q=ticket%20%2312345" "/history?q=no-such-words-anywhere" "/history?status=rejected&tag=prod&q=roll" \
  "/audit" "/audit?event=pause.rejected" "/audit?watch_id=$WATCH" "/audit?from=$FROM&to=$TO" "/keys" "/users" "/about"; do
  time_page "$p"
done
