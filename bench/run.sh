#!/usr/bin/env bash
# hitl benchmark: every figure of the performance targets in one run, then a summary
# table (figure | target | before | now | met?) for the README. In order:
#   - the machine, the date (UTC), the hitl version and commit, the binary's size;
#   - on a fresh data directory: throughput of /healthz, status reads and creates (wrk;
#     creates and /healthz again at 4x the connections), idle memory;
#   - bench/longpoll.py: decision -> long-poll wake latency idle, the memory held by
#     WAITERS concurrent long-polls, and the wake latency again while those are held and
#     creates flow;
#   - bench/webhook_latency.py: decision -> webhook received latency;
#   - (that server stopped) bench/scale.py: COUNT pauses: start to healthy, every list
#     API query, status reads and the web pages;
#   - bench/soak.py: SOAK_SECONDS of mixed load (RSS flat, no error, outbox drained).
# Usage: bench/run.sh
#   DURATION=10s CONNECTIONS=64 WAITERS=10000 COUNT=1000000 SOAK_SECONDS=300 (the
#   target's hour: SOAK_SECONDS=3600), SCALE_KEEP=DIR (seed COUNT pauses into DIR once,
#   reuse it later), BUILD=0 (use the binary as it is, no cargo build), BIN=PATH.
# Exits 1 if a step failed to run (an HTTP error, a script that crashed), not for a
# missed target: those say MISSED in the summary. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
WAITERS=${WAITERS:-10000}
COUNT=${COUNT:-1000000}
SCALE_KEEP=${SCALE_KEEP:-}
SOAK_SECONDS=${SOAK_SECONDS:-300}
BUILD=${BUILD:-1}
BIN=${BIN:-target/x86_64-unknown-linux-gnu/release/hitl}

command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install -y wrk)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench: python3 is missing" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench: curl is missing" >&2; exit 1; }

if [ "$BUILD" != 0 ]; then cargo build --release --quiet; fi
[ -x "$BIN" ] || { echo "bench: no executable $BIN (cargo build --release, or BIN=PATH)" >&2; exit 1; }
DIR=$(mktemp -d)
PID=
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; fi
  rm -rf "$DIR"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

ERRORS=()
step_error() { ERRORS+=("$1"); echo "bench: ERROR: $1" >&2; }

MODEL=$(awk -F': *' '/^model name/ {print $2; exit}' /proc/cpuinfo)
MEMORY=$(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
MACHINE="$(nproc) cores, ${MODEL:-unknown CPU}, $MEMORY memory, Linux $(uname -r)"
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
VERSION=$("$BIN" --version | cut -d' ' -f2)
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT with uncommitted changes"
BIN_BYTES=$(stat -c %s "$BIN")
echo "machine: $MACHINE"
echo "date: $DATE"
echo "hitl $VERSION (commit $COMMIT)"
echo "binary: $(python3 -c "print(f'{$BIN_BYTES / 1e6:.1f} MB ({$BIN_BYTES / 2**20:.1f} MiB)')") $BIN"

AGENT=$("$BIN" --data-dir "$DIR" key create --name bench-agent | head -1)
echo "bench password 123" | "$BIN" --data-dir "$DIR" user add bench@example.com --password-stdin >/dev/null
REVIEWER=$("$BIN" --data-dir "$DIR" key create --name bench-reviewer --user bench@example.com | head -1)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"

"$BIN" --data-dir "$DIR" --log warn serve --listen "127.0.0.1:$PORT" &
PID=$!
for _ in $(seq 100); do curl -fs "$URL/healthz" >/dev/null && break; sleep 0.1; done
curl -fs "$URL/healthz" >/dev/null || { echo "bench: the server did not answer /healthz" >&2; exit 1; }
sleep 2
# Page by page, not /proc/PID/status's lagging VmRSS (bench/README.md, "Memory").
IDLE_KIB=$(awk '/^Rss:/ {print $2}' "/proc/$PID/smaps_rollup")

WATCH=$(curl -fs -X POST "$URL/api/pause" -H "Authorization: Bearer $AGENT" -d '{"action":"bench status"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["watchId"])')

rate() { awk '/Requests\/sec/ {print $2}' "$DIR/$1.txt"; }
# wrk into $DIR/NAME.txt; an error (wrk failing, any non-2xx answer) is noted, not fatal.
run_wrk() {
  local name=$1 connections=$2
  shift 2
  if ! wrk -t2 -c"$connections" -d"$DURATION" --latency "$@" >"$DIR/$name.txt" 2>&1; then
    step_error "wrk $name failed: $(tail -3 "$DIR/$name.txt")"
  elif grep -q "Non-2xx" "$DIR/$name.txt"; then
    step_error "wrk $name had errors:"$'\n'"$(cat "$DIR/$name.txt")"
  fi
}
p99() { awk '$1 == "99%" {print $2}' "$DIR/$1.txt"; }
pct() { python3 -c 'import sys; a, b = sys.argv[1:]; print(round(100 * float(a) / float(b)) if a and b else "?")' "$1" "$2"; }

echo "wrk -t2 -c$CONNECTIONS -d$DURATION on 127.0.0.1:"
run_wrk health "$CONNECTIONS" "$URL/healthz"
HITL_BENCH_KEY=$AGENT run_wrk status "$CONNECTIONS" -s bench/status.lua "$URL/api/pause/$WATCH"
HITL_BENCH_KEY=$AGENT run_wrk create "$CONNECTIONS" -s bench/create.lua "$URL/api/pause"
# Group commit gathers every create waiting at once: more clients, bigger commits.
WIDE=$((CONNECTIONS * 4))
run_wrk health_wide "$WIDE" "$URL/healthz"
HITL_BENCH_KEY=$AGENT run_wrk create_wide "$WIDE" -s bench/create.lua "$URL/api/pause"
HEALTH=$(rate health) STATUS=$(rate status) CREATE=$(rate create)
HEALTH_WIDE=$(rate health_wide) CREATE_WIDE=$(rate create_wide)

printf '%-22s %10s req/s   p99 %s\n' "GET /healthz" "$HEALTH" "$(p99 health)"
printf '%-22s %10s req/s   p99 %s   (%s%% of /healthz; target >= 70%%)\n' "GET /api/pause/:id" "$STATUS" "$(p99 status)" \
  "$(pct "$STATUS" "$HEALTH")"
printf '%-22s %10s req/s   p99 %s   (%s%% of /healthz; target >= 40%%)\n' "POST /api/pause" "$CREATE" "$(p99 create)" \
  "$(pct "$CREATE" "$HEALTH")"
printf '%-22s %10s req/s   p99 %s   (%s connections)\n' "GET /healthz" "$HEALTH_WIDE" "$(p99 health_wide)" "$WIDE"
printf '%-22s %10s req/s   p99 %s   (%s connections; %s%% of /healthz)\n' "POST /api/pause" "$CREATE_WIDE" "$(p99 create_wide)" "$WIDE" \
  "$(pct "$CREATE_WIDE" "$HEALTH_WIDE")"
echo "idle RSS: $((IDLE_KIB / 1024)) MiB ($IDLE_KIB KiB; target <= 20 MB)"

# A python step's output goes to the terminal and to $DIR/NAME.txt; its exit status is kept.
step() {
  local name=$1
  shift
  set +e
  python3 -u "$@" 2>&1 | tee "$DIR/$name.txt"
  local rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}
step longpoll bench/longpoll.py --port "$PORT" --agent "$AGENT" --reviewer "$REVIEWER" --pid "$PID" --waiters "$WAITERS" ||
  step_error "bench/longpoll.py failed"
step webhook bench/webhook_latency.py --port "$PORT" --agent "$AGENT" --reviewer "$REVIEWER" ||
  step_error "bench/webhook_latency.py failed"
echo "database after the run: $(du -h "$DIR/hitl.db" | cut -f1)"
kill "$PID" 2>/dev/null || step_error "the server had exited before the end of its steps"
wait "$PID" || true
PID=

# scale.py and soak.py start their own servers (free ports, their own data directories);
# they exit 1 for a missed target too: a step failed only if it printed no verdict.
echo
echo "== bench/scale.py --count $COUNT${SCALE_KEEP:+ --keep $SCALE_KEEP}"
step scale bench/scale.py --bin "$BIN" --count "$COUNT" ${SCALE_KEEP:+--keep "$SCALE_KEEP"} ||
  grep -q '^scale: some targets MISSED' "$DIR/scale.txt" || step_error "bench/scale.py failed"
echo
echo "== bench/soak.py --duration $SOAK_SECONDS"
step soak bench/soak.py --bin "$BIN" --duration "$SOAK_SECONDS" ||
  { grep -q '^load: ' "$DIR/soak.txt" && grep -q '^soak: FAIL' "$DIR/soak.txt"; } || step_error "bench/soak.py failed"

echo
DIR=$DIR MACHINE=$MACHINE DATE=$DATE VERSION=$VERSION COMMIT=$COMMIT BIN_BYTES=$BIN_BYTES IDLE_KIB=$IDLE_KIB \
  HEALTH=$HEALTH STATUS=$STATUS CREATE=$CREATE HEALTH_WIDE=$HEALTH_WIDE CREATE_WIDE=$CREATE_WIDE \
  CONNECTIONS=$CONNECTIONS WIDE=$WIDE DURATION=$DURATION WAITERS=$WAITERS COUNT=$COUNT SOAK_SECONDS=$SOAK_SECONDS \
  python3 - <<'EOF'
import os, re

env = os.environ
def read(name):
    try:
        with open(os.path.join(env["DIR"], name + ".txt")) as f:
            return f.read()
    except OSError:
        return ""
def num(s):
    return float(s.replace(",", ""))

rows = []  # (figure, target, before, now, met): met is True, False or None (no target)
def row(figure, target, before, now, met):
    rows.append((figure, target, before, now if now is not None else "not measured (error)",
                 "—" if met is None and now is not None else "yes" if met else "MISSED" if now is not None else "ERROR"))

def share(a, b):
    try:
        return 100 * float(env[a]) / float(env[b])
    except (KeyError, ValueError, ZeroDivisionError):
        return None

c = env["CONNECTIONS"]
s = share("CREATE", "HEALTH")
row(f"Durable creates, % of /healthz ({c} connections)", ">= 40%", "36%",
    None if s is None else f"{s:.0f}% ({num(env['CREATE']):,.0f}/s)", s is not None and s >= 40)
s = share("CREATE_WIDE", "HEALTH_WIDE")
row(f"Durable creates, % of /healthz ({env['WIDE']} connections)", "—", "—",
    None if s is None else f"{s:.0f}% ({num(env['CREATE_WIDE']):,.0f}/s)", None)
s = share("STATUS", "HEALTH")
row(f"Status reads, % of /healthz ({c} connections)", ">= 70%", "202%",
    None if s is None else f"{s:.0f}% ({num(env['STATUS']):,.0f}/s)", s is not None and s >= 70)
kib = int(env["IDLE_KIB"])
row("Idle RSS", "<= 20 MB", "13.5 MB", f"{kib / 1024:.1f} MiB", kib * 1024 <= 20e6)

lp = read("longpoll")
m = re.search(r"^(\d+) concurrent long-polls: RSS .*\(\+([-\d.]+) MiB, ([-\d.]+) KiB per", lp, re.M)
answered = re.search(r"answered (\d+)/(\d+) waiters", lp)
if m:
    waiters, mib, per = int(m[1]), float(m[2]), float(m[3])
    scaled = "" if waiters == 10000 else f"; {mib * 1.048576 * 10000 / waiters:.0f} MB per 10,000"
    ok = answered and answered[1] == answered[2]
    row(f"{waiters:,} held long-polls", "<= 100 MB per 10,000", "+195 MB (about 19 KiB each)",
        f"+{mib:.1f} MiB ({per:.1f} KiB each{scaled})" + ("" if ok else "; NOT ALL ANSWERED"),
        mib * 2**20 <= 100e6 * waiters / 10000 and ok)
else:
    row(f"{int(env['WAITERS']):,} held long-polls", "<= 100 MB per 10,000", "+195 MB (about 19 KiB each)", None, False)
m = re.search(r"^wake latency, idle \(.*n=(\d+)\): p50 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms", lp, re.M)
row("Decision -> wake p99, idle", "<= 5 ms", "8.0 ms",
    m and f"{m[3]} ms (p50 {m[2]}, max {m[4]}, n={m[1]})", m and float(m[3]) <= 5)
# Twice: at the steady create rate of the issue's first measurement, and as fast as
# the creates go.
for load, before in (("at a steady ", "2.65 ms at ~6,800 creates/s (no waiters held)"),
                     ("as fast as they go", "—")):
    m = re.search(r"^wake latency with (\d+) long-polls held and creates flowing " + re.escape(load) +
                  r"([\d,]*)/?s? ?\(~?([\d,.?]+) creates/s, n=(\d+)[^)]*\): "
                  r"p50 ([\d.]+) ms, p99 ([\d.]+) ms, max ([\d.]+) ms", lp, re.M)
    shown = load + (m[2] + "/s" if m and m[2] else "")
    row(f"Decision -> wake p99, {int(env['WAITERS']):,} long-polls held, creates {shown.strip()}", "<= 5 ms",
        before, m and f"{m[6]} ms (p50 {m[5]}, max {m[7]}, n={m[4]}; {m[3]} creates/s)", m and float(m[6]) <= 5)
m = re.search(r"^webhook latency .*n=(\d+)\): p50 ([\d.]+) ms, p99 ([\d.]+) ms", read("webhook"), re.M)
row("Decision -> webhook received p99", "—", "—", m and f"{m[3]} ms (p50 {m[2]}, n={m[1]})", None)

sc = read("scale")
m = re.search(r"^hitl with ([\d,]+) pauses", sc, re.M)
count = int(m[1].replace(",", "")) if m else int(env["COUNT"])
at = "a million pauses" if count == 1_000_000 else f"{count:,} pauses"
m = re.search(r"^start to healthy: median (\d+) ms, max (\d+) ms over (\d+) starts", sc, re.M)
row(f"{at}: start to healthy", "<= 100 ms", "52 ms", m and f"{m[1]} ms median (max {m[2]}, {m[3]} starts)",
    m and int(m[1]) <= 100)
timed = [(float(t[0]), float(t[1]), t[2], int(t[3]), t[4]) for t in
         re.findall(r"^\s+([\d.]+) ms p50\s+([\d.]+) ms p99\s+\((ok|MISSED), target p99 <= (\d+) ms\)\s+(\S+)", sc, re.M)]
for limit, name, before in ((20, "every list API query and status read", "0.3–2.3 ms, but unfiltered list 60 ms"),
                            (50, "queue, review, history (every filter), audit pages", "not measured at a million")):
    these = [t for t in timed if t[3] == limit]
    worst = max(these, key=lambda t: t[1]) if these else None
    missed = sum(1 for t in these if t[2] != "ok")
    row(f"{at}: {name}, worst p99", f"<= {limit} ms", before,
        worst and f"{worst[1]:.2f} ms ({worst[4]}); {len(these) - missed}/{len(these)} met", worst and not missed)

so = read("soak")
verdict = re.search(r"^soak: (PASS|FAIL.*)$", so, re.M)
if verdict and re.search(r"^load: ", so, re.M):
    load = re.search(r"^load: (\d+) s, (\d+) creates = ([\d.]+)/s", so, re.M)
    rss = re.search(r"^RSS after warm-up \((\d+) samples\): first ([\d.]+) MiB, min ([\d.]+), max ([\d.]+) "
                    r"\(([-+\d.]+)% / ([-+\d.]+)%\), slope ([-+\d.]+) MiB/h", so, re.M)
    outbox = re.search(r"^outbox: (\d+) pending and (\d+) failed", so, re.M)
    errors = re.search(r"\b(\d+) errors\b", verdict[1])
    parts = [verdict[1] if verdict[1] == "PASS" else "FAIL"]
    parts.append(f"{load[1]} s at {float(load[3]):.0f} creates/s" if load else "")
    parts.append(f"RSS {rss[2]} MiB {rss[5]}%/{rss[6]}% after warm-up" if rss else "RSS not judged")
    parts.append(f"{errors[1] if errors else 0} errors")
    parts.append(f"outbox {outbox[1]} pending, {outbox[2]} failed" if outbox else "")
    parts += [r for r in verdict[1].removeprefix("FAIL: ").split("; ")
              if verdict[1] != "PASS" and not re.match(r"RSS not within|\d+ errors$", r)]
    now, met = "; ".join(p for p in parts if p), verdict[1] == "PASS"
else:
    now, met = None, False
secs = float(env["SOAK_SECONDS"])
row("An hour of mixed load" + ("" if secs >= 3600 else f" (this run: {secs:.0f} s)"),
    "RSS within 10% after warm-up, no error, outbox not growing", "never measured", now, met)
row("Binary size", "—", "17.7 MB", f"{int(env['BIN_BYTES']) / 1e6:.1f} MB", None)

print(f"Summary: hitl {env['VERSION']} (commit {env['COMMIT']}), {env['DATE']}")
print(f"machine: {env['MACHINE']}")
print(f"wrk -t2 -c{env['CONNECTIONS']} (and -c{env['WIDE']}) -d{env['DURATION']}; {int(env['WAITERS']):,} long-polls; {count:,} pauses; soak {secs:.0f} s")
print()
head = ("figure", "target", "before (issue, 2026-12-01)", "now", "met?")
width = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
line = lambda r: "| " + " | ".join(v.ljust(w) for v, w in zip(r, width)) + " |"
print(line(head))
print("|" + "|".join("-" * (w + 2) for w in width) + "|")
for r in rows:
    print(line(r))
missed = [r[0] for r in rows if r[4] in ("MISSED", "ERROR")]
print()
print(f"targets MISSED or not measured: {len(missed)}" + "".join(f"\n  {m}" for m in missed) if missed
      else "every target met")
EOF

if [ ${#ERRORS[@]} -gt 0 ]; then
  echo "bench: ${#ERRORS[@]} step(s) failed:" >&2
  printf '  %s\n' "${ERRORS[@]}" >&2
  exit 1
fi
