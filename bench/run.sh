#!/usr/bin/env bash
# hitl benchmark: starts the release binary on a temporary data directory and prints
#   - throughput of creates, status reads and /healthz (wrk, one run each)
#   - decision -> long-poll wake latency (p50, p99)
#   - idle memory and the memory held by 10,000 concurrent long-polls
#   - decision -> webhook received latency (a receiver on 127.0.0.1)
# Usage: bench/run.sh            (DURATION=10s CONNECTIONS=64 WAITERS=10000 to change)
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WAITERS=${WAITERS:-10000}

command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install -y wrk)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench: python3 is missing" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench: curl is missing" >&2; exit 1; }

cargo build --release --quiet
BIN=target/x86_64-unknown-linux-gnu/release/hitl
DIR=$(mktemp -d)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$DIR"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

AGENT=$("$BIN" --data-dir "$DIR" key create --name bench-agent | head -1)
echo "bench password 123" | "$BIN" --data-dir "$DIR" user add bench@example.com --password-stdin >/dev/null
REVIEWER=$("$BIN" --data-dir "$DIR" key create --name bench-reviewer --user bench@example.com | head -1)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"

"$BIN" --data-dir "$DIR" --log warn serve --listen "127.0.0.1:$PORT" &
PID=$!
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.1; done
sleep 2
IDLE_KIB=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status")

WATCH=$(curl -fs -X POST "$URL/api/pause" -H "Authorization: Bearer $AGENT" -d '{"action":"bench status"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["watchId"])')

rate() { awk '/Requests\/sec/ {print $2}'; }
run_wrk() { wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$@"; }

echo "hitl $("$BIN" --version | cut -d' ' -f2) on $(nproc) cores; wrk -t2 -c$CONNECTIONS -d$DURATION"
HEALTH=$(run_wrk "$URL/healthz" | tee "$DIR/health.txt" | rate)
STATUS=$(HITL_BENCH_KEY=$AGENT run_wrk -s bench/status.lua "$URL/api/pause/$WATCH" | tee "$DIR/status.txt" | rate)
CREATE=$(HITL_BENCH_KEY=$AGENT run_wrk -s bench/create.lua "$URL/api/pause" | tee "$DIR/create.txt" | rate)
# Group commit gathers every create waiting at once: more clients, bigger commits.
WIDE=$((CONNECTIONS * 4))
HEALTH_WIDE=$(CONNECTIONS=$WIDE run_wrk "$URL/healthz" | tee "$DIR/health_wide.txt" | rate)
CREATE_WIDE=$(HITL_BENCH_KEY=$AGENT CONNECTIONS=$WIDE run_wrk -s bench/create.lua "$URL/api/pause" | tee "$DIR/create_wide.txt" | rate)
for f in health status create health_wide create_wide; do
  if grep -q "Non-2xx" "$DIR/$f.txt"; then echo "bench: $f had errors:"; cat "$DIR/$f.txt"; exit 1; fi
done
p99() { awk '$1 == "99%" {print $2}' "$DIR/$1.txt"; }

printf '%-22s %10s req/s   p99 %s\n' "GET /healthz" "$HEALTH" "$(p99 health)"
printf '%-22s %10s req/s   p99 %s   (%s%% of /healthz; target >= 70%%)\n' "GET /api/pause/:id" "$STATUS" "$(p99 status)" \
  "$(python3 -c "print(round(100*$STATUS/$HEALTH))")"
printf '%-22s %10s req/s   p99 %s   (%s%% of /healthz; target >= 40%%)\n' "POST /api/pause" "$CREATE" "$(p99 create)" \
  "$(python3 -c "print(round(100*$CREATE/$HEALTH))")"
printf '%-22s %10s req/s   p99 %s   (%s connections)\n' "GET /healthz" "$HEALTH_WIDE" "$(p99 health_wide)" "$WIDE"
printf '%-22s %10s req/s   p99 %s   (%s connections; %s%% of /healthz)\n' "POST /api/pause" "$CREATE_WIDE" "$(p99 create_wide)" "$WIDE" \
  "$(python3 -c "print(round(100*$CREATE_WIDE/$HEALTH_WIDE))")"
echo "idle RSS: $((IDLE_KIB / 1024)) MiB ($IDLE_KIB KiB; target <= 20 MB)"
python3 bench/longpoll.py --port "$PORT" --agent "$AGENT" --reviewer "$REVIEWER" --pid "$PID" --waiters "$WAITERS"
python3 bench/webhook_latency.py --port "$PORT" --agent "$AGENT" --reviewer "$REVIEWER"
echo "database after the run: $(du -h "$DIR/hitl.db" | cut -f1)"
