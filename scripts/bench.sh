#!/usr/bin/env bash
# HTTP benchmarks of every strategy, side by side in one run (issue 7).
#
#   bash scripts/bench.sh            # ~3 minutes; needs no stdin
#
# Builds examples/bench-server in release, starts it on 127.0.0.1 (1 worker
# unless WORKERS is set), drives each route with wrk for DURATION with fixed
# connections, stops the server by its PID and prints a table (requests/s,
# p50, p99, ratio to /open from this same run). The routes are measured in
# ROUNDS interleaved rounds and every figure is the median over the rounds
# (a ratio is the median of the per-round ratios), so a burst of noise from
# a neighbour on a shared machine moves one round, not the table. Then the
# flood scenario: wrong Basic passwords hammer /basic while /jwt/hs256 is
# timed, against the same route timed idle, also in alternating rounds. The
# table replaces the generated part of docs/BENCHMARKS.md (between the bench
# markers), with date and machine.
#
# Tunables (environment): ROUNDS (3), DURATION (5s), CONNS (32),
# BASIC_CONNS (4), PROBE_CONNS (4), FLOOD_CONNS (64), WORKERS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=doc-section.sh
source scripts/doc-section.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
# The default argon2 pool on 2 CPUs holds 1 hashing + 4 queued requests;
# more connections than that on /basic measure 503 shedding, not password
# checks.
BASIC_CONNS=${BASIC_CONNS:-4}
PROBE_CONNS=${PROBE_CONNS:-4}
FLOOD_CONNS=${FLOOD_CONNS:-64}
WORKERS=${WORKERS:-1}
OUT=docs/BENCHMARKS.md

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk missing: installing it from Debian" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi

cargo build --release -q -p bench-server
BIN=${CARGO_TARGET_DIR:-target}/release/bench-server

TMP=$(mktemp -d)
SERVER_PID=
FLOOD_PID=
cleanup() {
  # Only the processes this script started, by PID.
  [ -n "$FLOOD_PID" ] && kill "$FLOOD_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

"$BIN" --workers "$WORKERS" >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
for _ in $(seq 1 100); do
  grep -q '^READY' "$TMP/server.out" 2>/dev/null && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.err" >&2; exit 1; }
  sleep 0.1
done
grep -q '^READY' "$TMP/server.out" || { echo "bench-server did not start" >&2; exit 1; }
BASE=$(sed -n 's/^listening //p' "$TMP/server.out" | head -n 1)
val() { sed -n "s/^$1=//p" "$TMP/server.out"; }
HS256=$(val HS256_TOKEN); RS256=$(val RS256_TOKEN); ES256=$(val ES256_TOKEN)
BASIC=$(val BASIC); BASIC_WRONG=$(val BASIC_WRONG)

# Every credential must work before anything is timed: a benchmark of 401s
# would be fast and meaningless.
check() { # path header expected-status
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "$2" "$BASE$1")
  [ "$code" = "$3" ] || { echo "sanity check failed: $1 answered $code, wanted $3" >&2; exit 1; }
}
check /open "X-None: 1" 200
check /jwt/hs256 "Authorization: Bearer $HS256" 200
check /jwt/rs256 "Authorization: Bearer $RS256" 200
check /jwt/es256 "Authorization: Bearer $ES256" 200
check /basic "Authorization: Basic $BASIC" 200
check /basic "Authorization: Basic $BASIC_WRONG" 401
check /basic-cached "Authorization: Basic $BASIC" 200
check /three "Authorization: Bearer $HS256" 200
check /jwt/hs256 "Authorization: Bearer ${HS256}x" 401

# wrk's latency lines are like "50%  1.23ms"; print milliseconds.
to_ms() { awk -v v="$1" 'BEGIN {
  n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
  if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
  printf "%.2f\n", n }'; }

# run NAME PATH CONNS [HEADER]: wrk with one thread (the other core is the
# server's), results into $TMP/NAME.{rps,p50,p99,non2xx}.
run() {
  local name=$1 path=$2 conns=$3 header=${4:-X-None: 1}
  wrk -t1 -c"$conns" -d"$DURATION" --latency -H "$header" "$BASE$path" >"$TMP/$name.wrk" 2>&1
  awk '/^Requests\/sec:/ {print $2}' "$TMP/$name.wrk" >"$TMP/$name.rps"
  to_ms "$(awk '$1 == "50%" {print $2}' "$TMP/$name.wrk")" >"$TMP/$name.p50"
  to_ms "$(awk '$1 == "99%" {print $2}' "$TMP/$name.wrk")" >"$TMP/$name.p99"
  # One awk, no pipe into head: under pipefail a SIGPIPE would end the run.
  awk '/Non-2xx/ {n = $NF} END {print n + 0}' "$TMP/$name.wrk" >"$TMP/$name.non2xx"
  echo "  $name: $(cat "$TMP/$name.rps") req/s, p99 $(cat "$TMP/$name.p99") ms" >&2
}

# median NAME FIELD: the median of $TMP/NAME.r*.FIELD over the rounds.
median() {
  cat "$TMP/$1".r*."$2" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "benchmarking $BASE ($ROUNDS rounds of $DURATION per route, $CONNS connections, $WORKERS worker(s))" >&2
for r in $(seq 1 "$ROUNDS"); do
  echo " round $r" >&2
  run open.r$r /open "$CONNS"
  run hs256.r$r /jwt/hs256 "$CONNS" "Authorization: Bearer $HS256"
  run rs256.r$r /jwt/rs256 "$CONNS" "Authorization: Bearer $RS256"
  run es256.r$r /jwt/es256 "$CONNS" "Authorization: Bearer $ES256"
  run three.r$r /three "$CONNS" "Authorization: Bearer $HS256"
  run basic.r$r /basic "$BASIC_CONNS" "Authorization: Basic $BASIC"
  run basic_cached.r$r /basic-cached "$CONNS" "Authorization: Basic $BASIC"
  # Per-round ratios to /open, measured minutes apart at most.
  for name in open hs256 rs256 es256 three basic basic_cached; do
    awk -v a="$(cat "$TMP/$name.r$r.rps")" -v b="$(cat "$TMP/open.r$r.rps")" \
      'BEGIN {printf "%.4f\n", a / b}' >"$TMP/$name.r$r.ratio"
  done
done

# Flood: an idle probe, then the same probe while wrong passwords flood,
# alternating for ROUNDS rounds.
echo "flood scenario" >&2
FLOOD_SECS=$(( ${DURATION%s} + 4 ))
for r in $(seq 1 "$ROUNDS"); do
  run idle_probe.r$r /jwt/hs256 "$PROBE_CONNS" "Authorization: Bearer $HS256"
  wrk -t1 -c"$FLOOD_CONNS" -d"${FLOOD_SECS}s" -H "Authorization: Basic $BASIC_WRONG" \
    "$BASE/basic" >"$TMP/flood.r$r.wrk" 2>&1 &
  FLOOD_PID=$!
  sleep 2
  run flood_probe.r$r /jwt/hs256 "$PROBE_CONNS" "Authorization: Bearer $HS256"
  wait "$FLOOD_PID" || true
  FLOOD_PID=
  awk '/^Requests\/sec:/ {print $2}' "$TMP/flood.r$r.wrk" >"$TMP/flood.r$r.rps"
  awk '/Non-2xx/ {n = $NF} END {print n + 0}' "$TMP/flood.r$r.wrk" >"$TMP/flood.r$r.non2xx"
done
FLOOD_RPS=$(median flood rps)
FLOOD_NON2XX=$(median flood non2xx)
HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=

row() { # label name target
  local rps p50 p99 non ratio verdict
  rps=$(median "$2" rps); p50=$(median "$2" p50); p99=$(median "$2" p99)
  non=$(cat "$TMP/$2".r*.non2xx | awk '{ s += $1 } END { print s + 0 }')
  ratio=$(awk -v r="$(median "$2" ratio)" 'BEGIN {printf "%.2f", r}')
  verdict=""
  if [ -n "$3" ]; then
    verdict=$(awk -v r="$ratio" -v t="$3" 'BEGIN {print (r >= t) ? "≥ " t " met" : "≥ " t " MISSED"}')
  fi
  printf '| `%s` | %s | %.0f | %s | %s | %s | %s | %s |\n' "$1" "$4" "$rps" "$p50" "$p99" "$ratio" "$non" "$verdict"
}
P99_IDLE=$(median idle_probe p99); P99_FLOOD=$(median flood_probe p99)
P99_FACTOR=$(awk -v a="$P99_FLOOD" -v b="$P99_IDLE" 'BEGIN {printf "%.2f", a / b}')
HWM_MIB=$(awk -v k="$HWM_KB" 'BEGIN {printf "%.1f", k / 1024}')
RSS_MIB=$(awk -v k="$RSS_KB" 'BEGIN {printf "%.1f", k / 1024}')

{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); $(uname -sr)."
  echo "Server: \`bench-server --workers $WORKERS\` (release). Load: \`wrk -t1 -c<conns> -d$DURATION --latency\`, one route after the other, $ROUNDS interleaved rounds; each figure is the median over the rounds (ratio: median of the per-round ratios to \`/open\`; non-2xx: summed)."
  echo
  echo '| route | strategies | requests/s | p50 ms | p99 ms | ratio to `/open` | non-2xx | target |'
  echo '|---|---|---:|---:|---:|---:|---:|---|'
  row /open open "" "none"
  row /jwt/hs256 hs256 0.85 "jwt HS256"
  row /jwt/rs256 rs256 0.7 "jwt RS256"
  row /jwt/es256 es256 0.7 "jwt ES256"
  row /three three 0.8 "basic, cookie jwt, jwt HS256"
  row /basic basic "" "basic, argon2id ($BASIC_CONNS conns)"
  row /basic-cached basic_cached "" "basic + verification cache"
  echo
  echo "Flood: \`wrk -c$FLOOD_CONNS\` of wrong Basic passwords on \`/basic\` (median $FLOOD_RPS req/s, $FLOOD_NON2XX non-2xx per round: 401s and 503 sheds) while \`/jwt/hs256\` is probed with \`wrk -c$PROBE_CONNS\`, idle and flooded in alternating rounds:"
  echo
  echo '| `/jwt/hs256` probe | requests/s | p50 ms | p99 ms |'
  echo '|---|---:|---:|---:|'
  echo "| idle | $(median idle_probe rps) | $(median idle_probe p50) | $P99_IDLE |"
  echo "| under flood | $(median flood_probe rps) | $(median flood_probe p50) | $P99_FLOOD |"
  echo
  echo "p99 under flood / idle: **${P99_FACTOR}×** (target ≤ 2×, $(awk -v f="$P99_FACTOR" 'BEGIN {print (f <= 2) ? "met" : "MISSED"}')). Server peak RSS (VmHWM) over the whole run: **${HWM_MIB} MiB** (VmRSS at the end ${RSS_MIB} MiB; target < 300 MiB, $(awk -v m="$HWM_MIB" 'BEGIN {print (m < 300) ? "met" : "MISSED"}'))."
} >"$TMP/table.md"

cat "$TMP/table.md"

replace_generated "$OUT" bench "$TMP/table.md" Benchmarks scripts/bench.sh
