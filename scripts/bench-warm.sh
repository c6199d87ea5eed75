#!/usr/bin/env bash
# The cached-token routes against an open route, side by side
# (docs/BENCHMARKS.md, "Many instances": issues 13.6, 14 and 17.3).
#
#   bash scripts/bench-warm.sh            # 10 rounds of 2 s per run
#   ROUNDS=3 DURATION=3 bash scripts/bench-warm.sh
#   BIN=/tmp/bench-server-before bash scripts/bench-warm.sh   # another build, not rebuilt
#
# Starts two release `bench-server --workers 1` on 127.0.0.1 (free ports):
# A as the benchmarks run it, and B with `--open-routes`, where each
# protected route is replaced by a twin on the same path, in the same place
# in the App, answering the same body without authentication. Then, in
# interleaved rounds of `wrk -t1 -c32`, two comparisons of
# /jwt/hs256-revocable, /jwt/hs256 and /opaque (with the credentials A
# prints):
#
#   1. against /open: a round runs A's /open, revocable, /open, hs256,
#      /open, opaque, /open; a route's ratio is to the mean of the two /open
#      runs around it. /open is the first route the App registers, and
#      actix tries routes in order, so a later route also pays for the
#      routes before it (about 185 instructions each under callgrind), and
#      for its longer request: this ratio counts those as well as
#      authentication.
#   2. against its twin: then the round runs, for each route, B's route, A's
#      route, B's route, with the same `Authorization` header on all three
#      (B ignores it); the ratio is to the mean of B's two runs. Only
#      authentication differs.
#
# Servers on CPU 0 and wrk on CPU 1 when the machine has two and taskset is
# there (scripts/pinning.sh). For each run it prints requests/s and the server's CPU time per
# request (user + system from /proc/PID/stat), then the per-round ratios and
# their medians. Bounded: ROUNDS × 16 × DURATION seconds; the servers are
# stopped by their PIDs on exit.
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
# shellcheck source=pinning.sh
source scripts/pinning.sh
pin_benchmark
"${ON_SERVER_CPU[@]}" "$BIN" --workers 1 >"$OUT/A.out" 2>"$OUT/A.err" &
SERVER_A=$!
"${ON_SERVER_CPU[@]}" "$BIN" --workers 1 --open-routes >"$OUT/B.out" 2>"$OUT/B.err" &
SERVER_B=$!
trap 'kill "$SERVER_A" "$SERVER_B" 2>/dev/null || true; rm -rf "$OUT"' EXIT
for server in A B; do
  for _ in $(seq 1 300); do grep -q '^READY' "$OUT/$server.out" 2>/dev/null && break; sleep 0.2; done
  grep -q '^READY' "$OUT/$server.out" || { echo "bench-server $server did not start" >&2; cat "$OUT/$server.err" >&2; exit 1; }
done
port() { grep -o 'listening http://127.0.0.1:[0-9]*' "$OUT/$1.out" | grep -o '[0-9]*$'; }
declare -A PORT=([A]=$(port A) [B]=$(port B)) PID=([A]=$SERVER_A [B]=$SERVER_B)
val() { grep "^$1=" "$OUT/A.out" | cut -d= -f2-; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

# server|path|variable holding A's credential (none: the X-Bench header)
REV="/jwt/hs256-revocable|HS256_JTI_TOKEN"; HS="/jwt/hs256|HS256_TOKEN"; OP="/opaque|OPAQUE_TOKEN"
RUNS=("A|/open|" "A|$REV" "A|/open|" "A|$HS" "A|/open|" "A|$OP" "A|/open|"
  "B|$REV" "A|$REV" "B|$REV" "B|$HS" "A|$HS" "B|$HS" "B|$OP" "A|$OP" "B|$OP")
echo "round run server route requests/s cpu_us_per_request"
for round in $(seq 1 "$ROUNDS"); do
  for run in "${!RUNS[@]}"; do
    IFS='|' read -r server path var <<<"${RUNS[$run]}"
    header="X-Bench: 1"
    [ -n "$var" ] && header="Authorization: Bearer $(val "$var")"
    pid=${PID[$server]}
    before=$(cpu_ticks "$pid")
    report=$("${ON_WRK_CPU[@]}" wrk -t1 -c"$CONNS" -d"${DURATION}s" -H "$header" "http://127.0.0.1:${PORT[$server]}$path")
    after=$(cpu_ticks "$pid")
    if echo "$report" | grep -q 'Non-2xx'; then
      echo "$server $path answered non-2xx:" >&2; echo "$report" >&2; exit 1
    fi
    requests=$(echo "$report" | awk '/requests in/ {print $1}')
    rps=$(echo "$report" | awk '/Requests\/sec/ {print $2}')
    echo "$round $run $server $path $rps $(awk -v t="$((after - before))" -v k="$TICK" -v n="$requests" 'BEGIN {printf "%.2f", t * 1e6 / k / n}')"
  done
done | tee "$OUT/rounds"

python3 - "$OUT/rounds" <<'PY'
import statistics, sys
rounds = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if not parts or not parts[0].isdigit():
        continue
    rounds.setdefault(int(parts[0]), []).append(
        (parts[2], parts[3], float(parts[4]), float(parts[5])))

def ratios(route, against):
    """Per round: A's route against the runs on either side of it, which are
    A's /open (against="open") or B's same route (against="twin")."""
    rps, cpu = [], []
    for runs in rounds.values():
        for i in range(1, len(runs) - 1):
            before, run, after = runs[i - 1], runs[i], runs[i + 1]
            side = ("A", "/open") if against == "open" else ("B", route)
            if run[:2] == ("A", route) and before[:2] == side and after[:2] == side:
                rps.append(run[2] / ((before[2] + after[2]) / 2))
                cpu.append(((before[3] + after[3]) / 2) / run[3])
    return rps, cpu

for against, title in [("open", "against the /open runs around it (the router's extra included)"),
                       ("twin", "against its twin without authentication on the same path")]:
    print(f"\nroute: requests/s ratio {title}, per round (median); "
          "CPU-per-request ratio (median)")
    for route in ["/jwt/hs256-revocable", "/jwt/hs256", "/opaque"]:
        rps, cpu = ratios(route, against)
        assert rps, f"no {route} run between two {against} runs: check RUNS"
        print(f"{route}: {' '.join(f'{x:.2f}' for x in rps)} ({statistics.median(rps):.2f}); "
              f"{statistics.median(cpu):.2f}")
PY
