#!/usr/bin/env bash
# The cached-token routes against /open, side by side (docs/BENCHMARKS.md,
# "Many instances": issues 13.6, 14 and 17.3).
#
#   bash scripts/bench-warm.sh            # 10 rounds of 2 s per run
#   ROUNDS=3 DURATION=3 bash scripts/bench-warm.sh
#   BIN=/tmp/bench-server-before bash scripts/bench-warm.sh   # another build, not rebuilt
#
# Starts one release `bench-server --workers 1` on 127.0.0.1 (a free port),
# then, in interleaved rounds, `wrk -t1 -c32` on /jwt/hs256-revocable,
# /jwt/hs256 and /opaque with the credentials the server prints, each run
# between two runs on /open: a round is /open, revocable, /open, hs256,
# /open, opaque, /open (server on CPU 0 and wrk on CPU 1 when the machine
# has two and taskset is there). For each run it prints requests/s and the server's
# CPU time per request (user + system from /proc/PID/stat). A route's ratio
# in a round is to the mean of the two /open runs around it, so the other
# load on a shared machine moves both sides of a ratio alike; the script
# prints the per-round ratios and their medians. Bounded: ROUNDS × 7 ×
# DURATION seconds; the server is stopped by its PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-2}
CONNS=${CONNS:-32}
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }

if [ -z "${BIN:-}" ]; then
  cargo build --release -q -p bench-server
  BIN=target/release/bench-server
fi
OUT=$(mktemp -d)
# Server on CPU 0 and wrk on CPU 1 when there are two CPUs and taskset.
ON_SERVER_CPU=(); ON_WRK_CPU=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  ON_SERVER_CPU=(taskset -c 0); ON_WRK_CPU=(taskset -c 1)
fi
"${ON_SERVER_CPU[@]}" "$BIN" --workers 1 >"$OUT/server.out" 2>"$OUT/server.err" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 1 300); do grep -q '^READY' "$OUT/server.out" 2>/dev/null && break; sleep 0.2; done
grep -q '^READY' "$OUT/server.out" || { echo "bench-server did not start" >&2; cat "$OUT/server.err" >&2; exit 1; }
PORT=$(grep -o 'listening http://127.0.0.1:[0-9]*' "$OUT/server.out" | grep -o '[0-9]*$')
val() { grep "^$1=" "$OUT/server.out" | cut -d= -f2-; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }
TICK=$(getconf CLK_TCK)

ROUTES=("/open|" "/jwt/hs256-revocable|HS256_JTI_TOKEN" "/open|" "/jwt/hs256|HS256_TOKEN"
  "/open|" "/opaque|OPAQUE_TOKEN" "/open|")
echo "round run route requests/s cpu_us_per_request"
for round in $(seq 1 "$ROUNDS"); do
  for run in "${!ROUTES[@]}"; do
    spec=${ROUTES[$run]}
    path=${spec%%|*}
    var=${spec#*|}
    header="X-Bench: 1"
    [ -n "$var" ] && header="Authorization: Bearer $(val "$var")"
    before=$(cpu_ticks)
    report=$("${ON_WRK_CPU[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "$header" "http://127.0.0.1:$PORT$path")
    after=$(cpu_ticks)
    if echo "$report" | grep -q 'Non-2xx'; then
      echo "$path answered non-2xx:" >&2; echo "$report" >&2; exit 1
    fi
    requests=$(echo "$report" | awk '/requests in/ {print $1}')
    rps=$(echo "$report" | awk '/Requests\/sec/ {print $2}')
    echo "$round $run $path $rps $(awk -v t="$((after - before))" -v k="$TICK" -v n="$requests" 'BEGIN {printf "%.2f", t * 1e6 / k / n}')"
  done
done | tee "$OUT/rounds"

python3 - "$OUT/rounds" <<'PY'
import statistics, sys
rounds = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if not parts or not parts[0].isdigit():
        continue
    rounds.setdefault(int(parts[0]), []).append((parts[2], float(parts[3]), float(parts[4])))
print("\nroute: requests/s ratio to the /open runs around it, per round (median); "
      "CPU-per-request ratio (median)")
for route in ["/jwt/hs256-revocable", "/jwt/hs256", "/opaque"]:
    rps, cpu = [], []
    for runs in rounds.values():
        i = next(i for i, run in enumerate(runs) if run[0] == route)
        before, after = runs[i - 1], runs[i + 1]
        rps.append(runs[i][1] / ((before[1] + after[1]) / 2))
        cpu.append(((before[2] + after[2]) / 2) / runs[i][2])
    print(f"{route}: {' '.join(f'{x:.2f}' for x in rps)} ({statistics.median(rps):.2f}); "
          f"{statistics.median(cpu):.2f}")
PY
