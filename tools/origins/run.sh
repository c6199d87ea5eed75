#!/usr/bin/env bash
# The todo example against its origins (issue 17.6): an authenticated
# `GET /todos` on
#   - examples/todo (release build, SQLite by default, as shipped),
#   - LoopBack 4's todo-jwt example (loopback/app.cjs: the published
#     @loopback/example-todo plus @loopback/authentication-jwt, in-memory
#     datasource),
#   - a NestJS passport-jwt equivalent (nest/app.mjs),
# in one run, with interleaved rounds and medians.
#
#   bash tools/origins/run.sh            # ~3 minutes after the installs
#
# Installs the Node packages pinned in package.json/package-lock.json with
# `npm ci` (from npm only; again only when the lock file changed), builds
# the todo example in release, starts each server on 127.0.0.1 (a free
# port; a scratch directory each, removed at the end), signs up and logs
# in on each to get a bearer token, gives the user the same four todos
# (LoopBack's example seeds them from its data/db.json; the others get them
# through POST /todos), checks that the token is required and that each
# answers those four todos, warms each up (WARMUP runs of DURATION: Node's
# JIT needs thousands of requests, and on a loaded machine that takes
# seconds), then drives each with
# `wrk -t1 -c$CONNS -d$DURATION --latency` one after the other, ROUNDS
# rounds. Prints a Markdown table (requests/s, p50, p99, peak RSS, ratios
# from the same round, medians over the rounds) and writes it between the
# `origins` markers of docs/BENCHMARKS.md (OUT; WRITE=0 to only print).
# Servers are stopped by PID.
#
# Each server is pinned to one CPU and wrk to the other (taskset), and the
# server's CPU time is read from /proc/PID/stat around each run, so the
# table also gives requests per CPU-second, which the machine's other load
# moves least.
#
# Tunables (environment): ROUNDS (5), DURATION (5s), CONNS (32), WARMUP
# (3), SERVER_CPU (0), WRK_CPU (1), OUT (docs/BENCHMARKS.md), WRITE (1), SKIP_BUILD (1: do not build
# the todo example, use the release binary as it is).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
# shellcheck source=../../scripts/doc-section.sh
source scripts/doc-section.sh

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5s}
CONNS=${CONNS:-32}
WARMUP=${WARMUP:-3}
# Pinning (scripts/pinning.sh): every server on SERVER_CPU, wrk on WRK_CPU
# (on one CPU: no pinning). Each server then has the same one CPU, whatever
# its threads: the todo example's actix workers, Node's one JavaScript
# thread and its helpers.
# shellcheck source=../../scripts/pinning.sh
source scripts/pinning.sh
pin_benchmark
OUT=${OUT:-docs/BENCHMARKS.md}
WRITE=${WRITE:-1}

for tool in node npm wrk curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "$tool is needed" >&2; exit 1; }
done

# npm ci again only when the lock file is newer than the installed tree.
if [ ! -f "$HERE/node_modules/.package-lock.json" ] ||
  [ "$HERE/package-lock.json" -nt "$HERE/node_modules/.package-lock.json" ]; then
  echo "installing the Node packages (npm ci)" >&2
  (cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
# SKIP_BUILD=1: the release binary already in the target directory, as it is.
[ "${SKIP_BUILD:-0}" = 1 ] || cargo build --release -q -p todo
TODO_BIN=${CARGO_TARGET_DIR:-target}/release/todo

TMP=$(mktemp -d)
PIDS=()
cleanup() {
  # Only the processes this script started, by PID.
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT

# wait_listening NAME PID LOG: until LOG has `listening [on] http://...`; prints the URL.
wait_listening() {
  local url
  for _ in $(seq 1 1200); do
    url=$(sed -En 's/.*listening (on )?(http:\/\/[0-9.:]+).*/\2/p' "$3" | head -n 1)
    [ -n "$url" ] && { echo "$url"; return 0; }
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; echo "$1 exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "$1 did not start" >&2; exit 1
}

echo "starting the three servers" >&2
mkdir -p "$TMP/ours" "$TMP/loopback/data" "$TMP/nest"
"${ON_SERVER_CPU[@]}" env -i PATH="$PATH" HOST=127.0.0.1 PORT=0 TODO_DATA_DIR="$TMP/ours" NO_COLOR=1 \
  "$TODO_BIN" >"$TMP/ours.log" 2>&1 &
PIDS+=("$!"); OURS_PID=$!
cp "$HERE/node_modules/@loopback/example-todo/data/db.json" "$TMP/loopback/data/db.json"
(cd "$TMP/loopback" && exec "${ON_SERVER_CPU[@]}" env -i PATH="$PATH" NODE_ENV=production HOST=127.0.0.1 PORT=0 \
  NODE_PATH="$HERE/node_modules" node "$HERE/loopback/app.cjs") >"$TMP/loopback.log" 2>&1 &
PIDS+=("$!"); LB_PID=$!
(cd "$TMP/nest" && exec "${ON_SERVER_CPU[@]}" env -i PATH="$PATH" NODE_ENV=production HOST=127.0.0.1 PORT=0 \
  node "$HERE/nest/app.mjs") >"$TMP/nest.log" 2>&1 &
PIDS+=("$!"); NEST_PID=$!
declare -A URL PID
URL[ours]=$(wait_listening todo "$OURS_PID" "$TMP/ours.log"); PID[ours]=$OURS_PID
URL[loopback]=$(wait_listening loopback "$LB_PID" "$TMP/loopback.log"); PID[loopback]=$LB_PID
URL[nest]=$(wait_listening nest "$NEST_PID" "$TMP/nest.log"); PID[nest]=$NEST_PID
SERVERS="ours loopback nest"

EMAIL=bench@example.com
PASSWORD='correct horse 42'
CRED="{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}"
post() { # URL BODY [TOKEN]: prints the body, fails unless 200
  local out code
  out=$(curl -s -w '\n%{http_code}' -H 'content-type: application/json' \
    ${3:+-H "Authorization: Bearer $3"} -d "$2" "$1")
  code=${out##*$'\n'}
  [ "$code" = 200 ] || { echo "POST $1 answered $code: ${out%$'\n'*}" >&2; exit 1; }
  echo "${out%$'\n'*}"
}
declare -A TOKEN
for s in $SERVERS; do
  post "${URL[$s]}/signup" "$CRED" >/dev/null
  body=$(post "${URL[$s]}/users/login" "$CRED")
  # Ours answers RFC 6749's access_token; LoopBack and the NestJS app {token}.
  TOKEN[$s]=$(printf '%s' "$body" | sed -n 's/.*"\(access_token\|token\)":"\([^"]*\)".*/\2/p')
  [ -n "${TOKEN[$s]}" ] || { echo "$s: no token in $body" >&2; exit 1; }
done
# LoopBack's four todos, for the other two.
for s in ours nest; do
  post "${URL[$s]}/todos" '{"title":"Take over the galaxy","desc":"MWAHAHAHAHAHAHAHAHAHAHAHAHAMWAHAHAHAHAHAHAHAHAHAHAHAHA"}' "${TOKEN[$s]}" >/dev/null
  post "${URL[$s]}/todos" '{"title":"destroy alderaan","desc":"Make sure there are no survivors left!"}' "${TOKEN[$s]}" >/dev/null
  post "${URL[$s]}/todos" '{"title":"play space invaders","desc":"Become the very best!"}' "${TOKEN[$s]}" >/dev/null
  post "${URL[$s]}/todos" '{"title":"crush rebel scum","desc":"Every.Last.One."}' "${TOKEN[$s]}" >/dev/null
done
for s in $SERVERS; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "${URL[$s]}/todos")
  [ "$code" = 401 ] || { echo "$s: GET /todos without a token answered $code" >&2; exit 1; }
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN[$s]}x" "${URL[$s]}/todos")
  [ "$code" = 401 ] || { echo "$s: GET /todos with a tampered token answered $code" >&2; exit 1; }
  body=$(curl -s -H "Authorization: Bearer ${TOKEN[$s]}" "${URL[$s]}/todos")
  n=$(printf '%s' "$body" | grep -o '"title":' | wc -l)
  [ "$n" = 4 ] || { echo "$s: GET /todos answered $n todos, wanted 4: $body" >&2; exit 1; }
  printf '%s' "$body" >"$TMP/$s.body"
done

to_ms() { awk -v v="$1" 'BEGIN {
  n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
  if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
  printf "%.2f\n", n }'; }
# cpu_ticks PID: the process's CPU time so far (utime + stime, all threads), in ticks.
cpu_ticks() { awk '{ s = $0; sub(/^.*\) /, "", s); split(s, f, " "); print f[12] + f[13] }' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)
run() { # SERVER NAME DURATION
  local s=$1 name=$2 t0 t1
  t0=$(cpu_ticks "${PID[$s]}")
  "${ON_WRK_CPU[@]}" wrk -t1 -c"$CONNS" -d"$3" --latency -H "Authorization: Bearer ${TOKEN[$s]}" \
    "${URL[$s]}/todos" >"$TMP/$name.wrk" 2>&1
  awk '/^Requests\/sec:/ {print $2}' "$TMP/$name.wrk" >"$TMP/$name.rps"
  to_ms "$(awk '$1 == "50%" {print $2}' "$TMP/$name.wrk")" >"$TMP/$name.p50"
  to_ms "$(awk '$1 == "99%" {print $2}' "$TMP/$name.wrk")" >"$TMP/$name.p99"
  awk '/Non-2xx/ {n = $NF} END {print n + 0}' "$TMP/$name.wrk" >"$TMP/$name.non2xx"
  # Requests per CPU-second of the server: what the load on the machine
  # moves least.
  t1=$(cpu_ticks "${PID[$s]}")
  awk -v n="$(awk '/ requests in / {print $1}' "$TMP/$name.wrk")" -v t="$(( t1 - t0 ))" -v hz="$HZ" \
    'BEGIN {printf "%.0f\n", (t > 0) ? n / (t / hz) : 0}' >"$TMP/$name.percpu"
  echo "  $name: $(cat "$TMP/$name.rps") req/s, p99 $(cat "$TMP/$name.p99") ms" >&2
}
median() { # NAME FIELD over the rounds
  cat "$TMP/$1".r*."$2" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "warming up ($WARMUP runs of $DURATION each)" >&2
for w in $(seq 1 "$WARMUP"); do
  for s in $SERVERS; do run "$s" "warm$w.$s" "$DURATION"; done
done
echo "measuring: $ROUNDS rounds of $DURATION per server, $CONNS connections" >&2
for r in $(seq 1 "$ROUNDS"); do
  echo " round $r" >&2
  for s in $SERVERS; do run "$s" "$s.r$r" "$DURATION"; done
  ratio() { awk -v a="$(cat "$TMP/$1.r$r.rps")" -v b="$(cat "$TMP/$2.r$r.rps")" 'BEGIN {printf "%.4f\n", a / b}'; }
  ratio ours loopback >"$TMP/ours_lb.r$r.ratio"
  ratio ours nest >"$TMP/ours_nest.r$r.ratio"
  ratio nest loopback >"$TMP/nest_lb.r$r.ratio"
  cpu_ratio() { awk -v a="$(cat "$TMP/$1.r$r.percpu")" -v b="$(cat "$TMP/$2.r$r.percpu")" 'BEGIN {printf "%.4f\n", a / b}'; }
  cpu_ratio ours loopback >"$TMP/ours_lb_cpu.r$r.ratio"
  cpu_ratio ours nest >"$TMP/ours_nest_cpu.r$r.ratio"
done
declare -A HWM
for s in $SERVERS; do
  HWM[$s]=$(awk '/^VmHWM:/ {printf "%.1f", $2 / 1024}' "/proc/${PID[$s]}/status")
done
LOAD=$(cut -d' ' -f1-3 /proc/loadavg)

fmt() { awk -v r="$1" 'BEGIN {printf "%.1f", r}'; }
OURS_LB=$(fmt "$(median ours_lb ratio)")
OURS_NEST=$(fmt "$(median ours_nest ratio)")
NEST_LB=$(fmt "$(median nest_lb ratio)")
OURS_LB_CPU=$(fmt "$(median ours_lb_cpu ratio)")
OURS_NEST_CPU=$(fmt "$(median ours_nest_cpu ratio)")
VERDICT=$(awk -v r="$OURS_LB" 'BEGIN {print (r >= 50) ? "met" : "MISSED"}')
PER_ROUND=$(for r in $(seq 1 "$ROUNDS"); do printf '%s%s' "${sep:-}" "$(fmt "$(cat "$TMP/ours_lb.r$r.ratio")")"; sep=', '; done)
row() { # label server
  local non
  non=$(cat "$TMP/$2".r*.non2xx | awk '{ s += $1 } END { print s + 0 }')
  printf '| %s | %.0f | %s | %s | %.0f | %s | %s |\n' "$1" "$(median "$2" rps)" "$(median "$2" p50)" \
    "$(median "$2" p99)" "$(median "$2" percpu)" "${HWM[$2]}" "$non"
}
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); $(uname -sr); Node $(node --version); load average at the end $LOAD (the machine was shared: absolute figures are low, ratios are from the same rounds)."
  echo "Command: \`bash tools/origins/run.sh\` (ROUNDS=$ROUNDS, DURATION=$DURATION, CONNS=$CONNS, WARMUP=$WARMUP). Each server on 127.0.0.1, one process$( [ "$PINNED" = 1 ] && echo ", pinned to CPU $SERVER_CPU (\`taskset\`; wrk on CPU $WRK_CPU)"): the todo example (release, SQLite in a scratch directory, actix's default workers = $(nproc) on that one CPU, default logging: an access-log line per request), Node with NODE_ENV=production; LoopBack 4 todo-jwt (\`tools/origins/loopback/app.cjs\`: @loopback/example-todo 6.0.0 + @loopback/authentication 9.0.10 + @loopback/authentication-jwt 0.12.10, in-memory datasource), NestJS (\`tools/origins/nest/app.mjs\`: @nestjs/core 12.5.1, @nestjs/passport 12.0.0, passport-jwt 4.0.1, @nestjs/jwt 12.0.2, todos in memory). Load: \`wrk -t1 -c$CONNS -d$DURATION --latency -H 'Authorization: Bearer <token from /users/login>' URL/todos\`, the same four todos in each answer, servers one after the other in $ROUNDS interleaved rounds after $WARMUP warm-up runs of $DURATION each; medians over the rounds (ratios: medians of the per-round ratios of requests/s)."
  echo
  echo '| `GET /todos`, bearer JWT | requests/s | p50 ms | p99 ms | requests per CPU-second | peak RSS MiB | non-2xx |'
  echo '|---|---:|---:|---:|---:|---:|---:|'
  row "todo example (Rust, this workspace)" ours
  row "LoopBack 4 todo-jwt" loopback
  row "NestJS + passport-jwt" nest
  echo
  echo "Ours / LoopBack: **${OURS_LB}×** (per round: $PER_ROUND; target ≥ 50×, $VERDICT). Ours / NestJS: **${OURS_NEST}×**. NestJS / LoopBack: **${NEST_LB}×**. Per CPU-second of the server (requests served / CPU time the server used, from /proc/PID/stat; less moved by the other load on the machine): ours / LoopBack **${OURS_LB_CPU}×**, ours / NestJS **${OURS_NEST_CPU}×**."
} >"$TMP/origins.md"
cat "$TMP/origins.md"
if [ "$WRITE" = 1 ]; then
  replace_generated "$OUT" origins "$TMP/origins.md" Benchmarks tools/origins/run.sh
fi
