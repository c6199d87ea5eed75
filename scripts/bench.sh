#!/usr/bin/env bash
# HTTP benchmarks of every strategy, side by side in one run (issue 7).
#
#   bash scripts/bench.sh            # ~12 minutes on 2 CPUs; needs no stdin
#
# Builds tools/bench-server in release, starts it on 127.0.0.1 (1 worker
# unless WORKERS is set), drives each route with wrk for DURATION with fixed
# connections, stops the server by its PID and prints a table (requests/s,
# p50, p99, ratio to /open from this same run). The routes are measured in
# ROUNDS interleaved rounds and every figure is the median over the rounds
# (a ratio is the median of the per-round ratios), so a burst of noise from
# a neighbour on a shared machine moves one round, not the table. Then the
# flood scenario: wrong Basic passwords hammer /basic while /jwt/hs256 is
# timed, against the same route timed idle, also in alternating rounds.
# Then two clients (issue 18.3; formerly auth-basic's flood harness): on
# /basic-guarded (a hashing pool of its own, the brute-force guard with its
# default limits) one client sprays wrong passwords while another logs in,
# told apart by X-Forwarded-For; the logging-in client is timed idle and
# during the spray, in alternating rounds (scripts/fairness.lua, bounded in
# requests as well as in time). The table replaces the generated part of
# docs/BENCHMARKS.md (between the bench markers), with date and machine.
#
#   ROUNDS=1 DURATION=3s bash scripts/bench.sh fairness
#
# runs the two-client rows alone and prints them (docs are not written).
#
# Cold path (issue 17.1): every request carries a different valid token
# (scripts/tokens.lua reads the tokens bench-server minted; each round
# starts at a fresh offset, and the script reports whether a round ever
# sent more than its share, which would let the cache answer), on
# bench-server and on tools/peer-server, a hand-written actix-web-httpauth +
# jsonwebtoken server (same jsonwebtoken build, so the same backend), each
# also timed on its own /open. The peer also gets the repeated HS256 token.
#
# Scaling rows (issue 13.6), also run alone with `bash scripts/bench.sh
# scale` (about a minute after the build): `/jwt/hs256-revocable` (the
# HS256 route checking every request against a revocation list of 11 000
# entries) against `/open` and `/jwt/hs256`, in interleaved rounds; Redis
# operations per login, counted on a redis-server this script starts on a
# free 127.0.0.1 port (`INFO commandstats` for commands, `MONITOR` for
# round trips, a MULTI..EXEC block being one) against the todo example
# (release) on it, over LOGINS logins of each kind; and the revocation
# propagation delay A -> B over Redis (and PostgreSQL when
# AUTH_TEST_POSTGRES_URL is set) from auth-store's tests. These go into
# their own generated section of docs/BENCHMARKS.md (the `scale` markers).
# Needs redis-server and redis-cli (`source .ci/services.sh && install_redis`).
#
# Memory rows (issue 17.4), `bash scripts/bench.sh memory`: two fresh
# bench-servers minting MEM_TOKENS HS256 tokens with a MEM_PAD-byte pad
# claim (long tokens, so that the verified-token cache's byte bound is the
# one that binds); one is sent the same token, the other a different token
# on every request, in MEM_ROUNDS alternating rounds; VmRSS and VmHWM
# (/proc/PID/status) and the cache's token count (bench-server's /stats)
# after each round show whether memory plateaus. The `memory` markers.
#
# Flood rows (issue 17.5), `bash scripts/bench.sh floods`: the /jwt/hs256
# probe (PROBE_CONNS) under FLOOD_CONNS connections of valid /open requests
# (the baseline), of wrong Basic passwords on /basic and on /basic-guarded,
# of garbage tokens (scripts/floods.lua) and of expired tokens on
# /jwt/hs256; p99 against the baseline's (target ≤ 1.5) and the server's
# peak RSS (target ≤ 64 MiB). The `floods` markers.
#
# Neither writes the other sections, and neither needs the peer or Redis.
#
# Tunables (environment): ROUNDS (3), DURATION (5s), CONNS (32),
# BASIC_CONNS (4), PROBE_CONNS (4), FLOOD_CONNS (64), WORKERS (1), OUT (the
# Markdown file written, docs/BENCHMARKS.md), FAIR_LOGINS (at most this many
# logins per timed run of the two-client rows, 5000), FAIR_SPRAY (at most
# this many sprayed requests per round, 500000),
# TOKENS (distinct tokens minted per algorithm,
# hs256=1200000,rs256=240000,es256=180000,eddsa=300000: at least ROUNDS times
# what one round sends on this machine; the run says if not), LOGINS (200),
# MEM_TOKENS (30000), MEM_PAD (1500), MEM_ROUNDS (4), EXPIRED_TOKENS
# (20000), SKIP_BUILD (1: use the release binaries already built).
set -euo pipefail
MODE=${1:-all}
case "$MODE" in
  all | scale | fairness | memory | floods) ;;
  *) echo "usage: bash scripts/bench.sh [scale | fairness | memory | floods]" >&2; exit 2 ;;
esac
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
TOKENS=${TOKENS:-hs256=1200000,rs256=240000,es256=180000,eddsa=300000}
COLD_ALGS="hs256 rs256 es256 eddsa"
OUT=${OUT:-docs/BENCHMARKS.md}
FAIR_LOGINS=${FAIR_LOGINS:-5000}
FAIR_SPRAY=${FAIR_SPRAY:-500000}
MEM_TOKENS=${MEM_TOKENS:-30000}
MEM_PAD=${MEM_PAD:-1500}
MEM_ROUNDS=${MEM_ROUNDS:-4}
EXPIRED_TOKENS=${EXPIRED_TOKENS:-20000}

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk missing: installing it from Debian" >&2
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq wrk >/dev/null
  else sudo apt-get update -qq && sudo apt-get install -y -qq wrk >/dev/null; fi
fi

LOGINS=${LOGINS:-200}
# Separate builds: one invocation would unify the features of their common
# dependencies and rebuild them. SKIP_BUILD=1 uses the binaries already in
# the target directory as they are.
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  cargo build --release -q -p bench-server -p peer-server
  cargo build --release -q -p todo
fi
BIN=${CARGO_TARGET_DIR:-target}/release/bench-server
PEER_BIN=${CARGO_TARGET_DIR:-target}/release/peer-server
TODO_BIN=${CARGO_TARGET_DIR:-target}/release/todo

TMP=$(mktemp -d)
SERVER_PID=
PEER_PID=
FLOOD_PID=
REDIS_PID=
TODO_PID=
MONITOR_PID=
SAME_PID=
cleanup() {
  # Only the processes this script started, by PID.
  [ -n "$MONITOR_PID" ] && kill "$MONITOR_PID" 2>/dev/null || true
  [ -n "$TODO_PID" ] && kill "$TODO_PID" 2>/dev/null && wait "$TODO_PID" 2>/dev/null || true
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null || true
  [ -n "$FLOOD_PID" ] && kill "$FLOOD_PID" 2>/dev/null || true
  [ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null && wait "$PEER_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [ -n "$SAME_PID" ] && kill "$SAME_PID" 2>/dev/null && wait "$SAME_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# wait_ready PID OUT ERR NAME: until OUT has READY (minting RSA tokens takes
# a while), or the process died.
wait_ready() {
  for _ in $(seq 1 3000); do
    grep -q '^READY' "$2" 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || { cat "$3" >&2; echo "$4 exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "$4 did not start" >&2; exit 1
}

# Every credential must work before anything is timed: a benchmark of 401s
# would be fast and meaningless.
check() { # path header expected-status
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "$2" "$BASE$1")
  [ "$code" = "$3" ] || { echo "sanity check failed: $1 answered $code, wanted $3" >&2; exit 1; }
}
# wrk's latency lines are like "50%  1.23ms"; print milliseconds.
to_ms() { awk -v v="$1" 'BEGIN {
  n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
  if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
  printf "%.2f\n", n }'; }

# run NAME PATH CONNS [HEADER]: wrk with one thread (the other core is the
# server's), results into $TMP/NAME.{rps,p50,p99,non2xx}. With COLD=FILE:OFFSET
# in the environment, each request carries the next token of FILE instead;
# with TARGET set, TARGET is the base URL instead of bench-server's. With
# FAIR=MODE:MAX and CLIENT=ADDRESS, scripts/fairness.lua drives the request
# (MODE login or spray, at most MAX responses) as client ADDRESS
# (X-Forwarded-For), and the statuses go to $TMP/NAME.statuses.
run() {
  local name=$1 path=$2 conns=$3 header=${4:-X-None: 1}
  local base=${TARGET:-$BASE}
  if [ -n "${COLD:-}" ]; then
    wrk -t1 -c"$conns" -d"$DURATION" --latency -s scripts/tokens.lua "$base$path" \
      -- "${COLD%:*}" "${COLD##*:}" >"$TMP/$name.wrk" 2>&1
    awk '/ requests in / {print $1}' "$TMP/$name.wrk" >"$TMP/$name.sent"
  elif [ -n "${FAIR:-}" ]; then
    wrk -t1 -c"$conns" -d"$DURATION" --latency -s scripts/fairness.lua -H "$header" \
      -H "X-Forwarded-For: $CLIENT" "$base$path" -- "${FAIR%:*}" "${FAIR##*:}" >"$TMP/$name.wrk" 2>&1
    sed -n 's/^statuses: //p' "$TMP/$name.wrk" >"$TMP/$name.statuses"
  else
    wrk -t1 -c"$conns" -d"$DURATION" --latency -H "$header" "$base$path" >"$TMP/$name.wrk" 2>&1
  fi
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

# A free TCP port on 127.0.0.1 (redis-server cannot pick one itself).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# login_status EMAIL PASSWORD: the status of POST /users/login on the todo.
login_status() {
  curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    -d "{\"email\":\"$1\",\"password\":\"$2\"}" "$TODO_BASE/users/login"
}

# redis_count KIND EXPECTED CMD...: runs CMD LOGINS times (each must answer
# EXPECTED), counting what reaches Redis: commands per command name (INFO
# commandstats, reset before) and round trips (MONITOR; a MULTI..EXEC block
# is one). Results in $TMP/ops.KIND.{cmds,rtt,total}.
redis_count() {
  local kind=$1 expected=$2 code i
  shift 2
  redis-cli -p "$REDIS_PORT" CONFIG RESETSTAT >/dev/null
  redis-cli -p "$REDIS_PORT" MONITOR >"$TMP/monitor.$kind" &
  MONITOR_PID=$!
  sleep 0.3
  for i in $(seq 1 "$LOGINS"); do
    code=$("$@")
    [ "$code" = "$expected" ] || { echo "$kind $i answered $code, wanted $expected" >&2; exit 1; }
  done
  sleep 0.3
  kill "$MONITOR_PID" 2>/dev/null || true
  wait "$MONITOR_PID" 2>/dev/null || true
  MONITOR_PID=
  redis-cli -p "$REDIS_PORT" INFO commandstats | tr -d '\r' | awk -F'[:=,]' -v n="$LOGINS" '
    /^cmdstat_/ { c = substr($1, 9); if (c !~ /^(info|config|monitor)/) {
      printf "%s %.2f\n", toupper(c), $3 / n; t += $3 } }
    END { printf "TOTAL %.2f\n", t / n }' | sort >"$TMP/ops.$kind.cmds"
  awk -v n="$LOGINS" '$4 ~ /^"/ { c = toupper($4); gsub(/"/, "", c)
      if (c == "MULTI") { inside = 1; next }
      if (c == "EXEC") { inside = 0; r++; next }
      if (!inside) r++ }
    END { printf "%.2f\n", r / n }' "$TMP/monitor.$kind" >"$TMP/ops.$kind.rtt"
  echo "  $kind: $(tr '\n' ' ' <"$TMP/ops.$kind.cmds")/ round trips $(cat "$TMP/ops.$kind.rtt")" >&2
}

# The scaling rows (issue 13.6); see the header.
scale_section() {
  echo "scaling rows: revocation checks" >&2
  "$BIN" --workers "$WORKERS" >"$TMP/scale.out" 2>"$TMP/scale.err" &
  SERVER_PID=$!
  wait_ready "$SERVER_PID" "$TMP/scale.out" "$TMP/scale.err" bench-server
  BASE=$(sed -n 's/^listening //p' "$TMP/scale.out" | head -n 1)
  local hs jti revoked r name
  hs=$(sed -n 's/^HS256_TOKEN=//p' "$TMP/scale.out")
  jti=$(sed -n 's/^HS256_JTI_TOKEN=//p' "$TMP/scale.out")
  revoked=$(sed -n 's/^HS256_REVOKED_TOKEN=//p' "$TMP/scale.out")
  check /jwt/hs256-revocable "Authorization: Bearer $jti" 200
  check /jwt/hs256-revocable "Authorization: Bearer $revoked" 401
  check /jwt/hs256 "Authorization: Bearer $revoked" 200
  for r in $(seq 1 "$ROUNDS"); do
    echo " round $r" >&2
    run s_open.r$r /open "$CONNS"
    run s_hs256.r$r /jwt/hs256 "$CONNS" "Authorization: Bearer $hs"
    run s_revocable.r$r /jwt/hs256-revocable "$CONNS" "Authorization: Bearer $jti"
    for name in s_open s_hs256 s_revocable; do
      awk -v a="$(cat "$TMP/$name.r$r.rps")" -v b="$(cat "$TMP/s_open.r$r.rps")" \
        'BEGIN {printf "%.4f\n", a / b}' >"$TMP/$name.r$r.ratio"
    done
    awk -v a="$(cat "$TMP/s_revocable.r$r.rps")" -v b="$(cat "$TMP/s_hs256.r$r.rps")" \
      'BEGIN {printf "%.4f\n", a / b}' >"$TMP/s_revocable.r$r.vs_hs256"
  done
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=

  echo "scaling rows: Redis operations per login" >&2
  REDIS_PORT=$(free_port)
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$TMP" \
    >"$TMP/redis.log" 2>&1 &
  REDIS_PID=$!
  until redis-cli -p "$REDIS_PORT" PING >/dev/null 2>&1; do
    kill -0 "$REDIS_PID" 2>/dev/null || { cat "$TMP/redis.log" >&2; echo "redis-server exited" >&2; exit 1; }
    sleep 0.05
  done
  mkdir -p "$TMP/todo"
  # No periodic resync during the count (it is a SCAN every 10 s by
  # default, not per login); a high guard limit so wrong logins stay 401.
  env -i PATH="$PATH" HOST=127.0.0.1 PORT=0 TODO_DATA_DIR="$TMP/todo" NO_COLOR=1 \
    REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" LOGIN_MAX_FAILURES=1000000 \
    REVOCATION_RESYNC_SECS=3600 REVOCATION_MAX_STALENESS_SECS=3600 RUST_LOG=warn,todo=info \
    "$TODO_BIN" >"$TMP/todo.log" 2>&1 &
  TODO_PID=$!
  for _ in $(seq 1 600); do
    grep -q 'listening on http://' "$TMP/todo.log" && break
    kill -0 "$TODO_PID" 2>/dev/null || { cat "$TMP/todo.log" >&2; echo "todo exited" >&2; exit 1; }
    sleep 0.1
  done
  TODO_BASE=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$TMP/todo.log" | head -n 1)
  [ -n "$TODO_BASE" ] || { cat "$TMP/todo.log" >&2; echo "todo did not start" >&2; exit 1; }
  local email=bench@example.com password='correct horse 42' code token
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" "$TODO_BASE/signup")
  [ "$code" = 200 ] || { echo "signup answered $code" >&2; exit 1; }
  # Warm-up: scripts loaded, connections open.
  for _ in 1 2 3; do login_status "$email" "$password" >/dev/null; login_status "$email" wrong >/dev/null; done
  token=$(curl -s -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" "$TODO_BASE/users/login" |
    sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
  redis_count login 200 login_status "$email" "$password"
  redis_count failed 401 login_status "$email" "not the password"
  redis_count bearer 200 curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$TODO_BASE/whoAmI"
  kill "$TODO_PID"; wait "$TODO_PID" 2>/dev/null || true; TODO_PID=
  kill "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=

  echo "scaling rows: revocation propagation (auth-store's tests)" >&2
  cargo test -q -p auth-store --all-features --test redis the_contract_holds_on_redis -- --nocapture \
    >"$TMP/prop.redis" 2>&1 || { cat "$TMP/prop.redis" >&2; exit 1; }
  if [ -n "${AUTH_TEST_POSTGRES_URL:-}" ]; then
    cargo test -q -p auth-store --all-features --test sql revocations_propagate -- --nocapture \
      >"$TMP/prop.sql" 2>&1 || { cat "$TMP/prop.sql" >&2; exit 1; }
  else
    echo "AUTH_TEST_POSTGRES_URL not set: PostgreSQL not measured" >"$TMP/prop.sql"
  fi

  local ratio vs verdict
  ratio=$(awk -v r="$(median s_revocable ratio)" 'BEGIN {printf "%.2f", r}')
  vs=$(awk -v r="$(median s_revocable vs_hs256)" 'BEGIN {printf "%.2f", r}')
  verdict=$(awk -v r="$ratio" 'BEGIN {print (r >= 0.8) ? "≥ 0.8 met" : "≥ 0.8 MISSED"}')
  {
    echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); $(uname -sr); $(redis-server --version | cut -d' ' -f1-3); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Command: \`bash scripts/bench.sh scale\` (or the full run). Server: \`bench-server --workers $WORKERS\` (release) on 127.0.0.1. Load: \`wrk -t1 -c$CONNS -d$DURATION --latency\`, $ROUNDS interleaved rounds, medians over the rounds."
    echo
    echo '| route | strategies | requests/s | p50 ms | p99 ms | ratio to `/open` | non-2xx | target |'
    echo '|---|---|---:|---:|---:|---:|---:|---|'
    row /open s_open "" "none"
    row /jwt/hs256 s_hs256 "" "jwt HS256, no revocation check"
    printf '| `%s` | %s | %.0f | %s | %s | **%s** | %s | %s |\n' /jwt/hs256-revocable \
      "jwt HS256 + revocation check (11 000 entries in the mirror)" "$(median s_revocable rps)" \
      "$(median s_revocable p50)" "$(median s_revocable p99)" "$ratio" \
      "$(cat "$TMP"/s_revocable.r*.non2xx | awk '{ s += $1 } END { print s + 0 }')" "$verdict"
    echo
    echo "The revocation check against \`/jwt/hs256\` without it: **$vs** (median of the per-round ratios)."
    echo
    echo "Redis per request, against the todo example (release, SQLite users, \`REDIS_URL\` state) over $LOGINS requests of each kind, after a warm-up; commands from \`INFO commandstats\`, round trips from \`MONITOR\` (a \`MULTI\`..\`EXEC\` block is one):"
    echo
    echo '| request | round trips | commands | by command (per request) |'
    echo '|---|---:|---:|---|'
    for kind in login failed bearer; do
      local label total by
      case $kind in
        login) label='`POST /users/login`, right password' ;;
        failed) label='`POST /users/login`, wrong password' ;;
        bearer) label='`GET /whoAmI` with a bearer token (revocation-checked)' ;;
      esac
      total=$(awk '$1 == "TOTAL" {print $2}' "$TMP/ops.$kind.cmds")
      by=$(awk '$1 != "TOTAL" && $2 > 0 {printf "%s%s %s", sep, $1, $2; sep = ", "}' "$TMP/ops.$kind.cmds")
      echo "| $label | $(cat "$TMP/ops.$kind.rtt") | $total | ${by:-none} |"
    done
    echo
    echo "Revocation propagation A → B (two stores on one backend, 1 000 revocations, polled every 0.2 ms; \`cargo test -p auth-store --all-features --test redis|sql -- --nocapture\`, debug build):"
    echo
    grep -h 'revocation A -> B' "$TMP/prop.redis" "$TMP/prop.sql" | sed 's/^/- /' || true
    grep -h 'not set' "$TMP/prop.sql" | sed 's/^/- /' || true
  } >"$TMP/scale.md"
  cat "$TMP/scale.md"
  replace_generated "$OUT" scale "$TMP/scale.md" Benchmarks scripts/bench.sh
}

# sum_statuses NAME: the statuses of $TMP/NAME.r*.statuses, summed over the rounds.
sum_statuses() {
  cat "$TMP/$1".r*.statuses | awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); s[kv[1]] += kv[2] } }
    END { printf "200=%d 401=%d 429=%d 503=%d other=%d\n", s["200"], s["401"], s["429"], s["503"], s["other"] }'
}

# Two clients on /basic-guarded: the logging-in client (HONEST, the right
# password, one connection) idle, then while a spraying client (a new
# address each round, so that the guard's lock-out of an earlier round's
# sprayer does not carry over) floods wrong passwords over FLOOD_CONNS
# connections; ROUNDS alternating rounds.
HONEST=203.0.113.7
fairness_rounds() {
  local r spray_secs=$(( ${DURATION%s} + 2 ))
  echo "two-client scenario" >&2
  for r in $(seq 1 "$ROUNDS"); do
    FAIR="login:$FAIR_LOGINS" CLIENT=$HONEST run login_idle.r$r /basic-guarded 1 "Authorization: Basic $BASIC"
    wrk -t1 -c"$FLOOD_CONNS" -d"${spray_secs}s" -s scripts/fairness.lua \
      -H "X-Forwarded-For: 198.51.100.$(( 10 + r ))" "$BASE/basic-guarded" \
      -- spray "$FAIR_SPRAY" >"$TMP/spray.r$r.wrk" 2>&1 &
    FLOOD_PID=$!
    sleep 1
    FAIR="login:$FAIR_LOGINS" CLIENT=$HONEST run login_spray.r$r /basic-guarded 1 "Authorization: Basic $BASIC"
    wait "$FLOOD_PID" || true
    FLOOD_PID=
    sed -n 's/^statuses: //p' "$TMP/spray.r$r.wrk" >"$TMP/spray.r$r.statuses"
    awk '/^Requests\/sec:/ {print $2}' "$TMP/spray.r$r.wrk" >"$TMP/spray.r$r.rps"
    echo "  spray.r$r: $(cat "$TMP/spray.r$r.rps") req/s, $(cat "$TMP/spray.r$r.statuses")" >&2
  done
}

# The two-client rows, as Markdown.
fairness_table() {
  local idle_p99 spray_p99 factor refused
  idle_p99=$(median login_idle p99); spray_p99=$(median login_spray p99)
  factor=$(awk -v a="$spray_p99" -v b="$idle_p99" 'BEGIN {printf "%.2f", a / b}')
  refused=$(sum_statuses login_spray | awk '{ n = 0; for (i = 1; i <= NF; i++) { split($i, kv, "="); if (kv[1] != "200") n += kv[2] } print n }')
  echo "Two clients: on \`/basic-guarded\` (argon2id, a hashing pool of its own with the default sizing, the brute-force guard with its default limits, \`X-Forwarded-For\` believed from 127.0.0.1) one client sprays wrong passwords for ever-new usernames (\`wrk -c$FLOOD_CONNS -s scripts/fairness.lua\`, at most $FAIR_SPRAY requests a round, a new client address each round) while another client logs in with the right password over one connection (at most $FAIR_LOGINS logins a run), idle and during the spray, in $ROUNDS alternating rounds of $DURATION (medians; statuses summed):"
  echo
  echo '| logging-in client | requests/s | p50 ms | p99 ms | statuses |'
  echo '|---|---:|---:|---:|---|'
  echo "| idle | $(median login_idle rps) | $(median login_idle p50) | $idle_p99 | $(sum_statuses login_idle) |"
  echo "| while another client sprays | $(median login_spray rps) | $(median login_spray p50) | $spray_p99 | $(sum_statuses login_spray) |"
  echo
  echo "Spraying client: median $(median spray rps) req/s; statuses $(sum_statuses spray) (401: hashed and wrong; 429: over its share of the pool or past the guard's limit; 503: pool full). Login p99 during the spray / idle: **${factor}×**; logins refused during the spray: **$refused** (target 0, $( [ "$refused" = 0 ] && echo met || echo MISSED))."
}

# mib PID FIELD: FIELD (VmRSS, VmHWM) of /proc/PID/status in MiB.
mib() { awk -v f="$2:" '$1 == f {printf "%.1f\n", $2 / 1024}' "/proc/$1/status"; }
# cached_tokens BASE: tokens in bench-server's hs256 verified-token cache.
cached_tokens() { curl -s "$1/stats" | sed -n 's/.*"hs256_cached_tokens":\([0-9]*\).*/\1/p'; }

# Verified-token cache memory (issue 17.4): two fresh bench-servers, alike
# (each minted the same number of padded tokens with its own secret); one
# gets the same long token on every request, the other a different one
# (scripts/tokens.lua, continuing where the previous round stopped and
# cycling through MEM_TOKENS tokens, far more than the cache holds, so that
# with its oldest-first eviction every request misses), in MEM_ROUNDS
# alternating rounds; VmRSS, VmHWM and the cache's token count after each.
memory_section() {
  local s r sent offset=0 len cost bound_entries unbounded
  echo "memory rows: two bench-servers, $MEM_TOKENS HS256 tokens each with a $MEM_PAD-byte pad claim" >&2
  "$BIN" --workers "$WORKERS" --tokens-dir "$TMP/mem_same" --tokens "hs256=$MEM_TOKENS" \
    --token-pad "$MEM_PAD" >"$TMP/mem_same.out" 2>"$TMP/mem_same.err" &
  SAME_PID=$!
  "$BIN" --workers "$WORKERS" --tokens-dir "$TMP/mem_distinct" --tokens "hs256=$MEM_TOKENS" \
    --token-pad "$MEM_PAD" >"$TMP/mem_distinct.out" 2>"$TMP/mem_distinct.err" &
  SERVER_PID=$!
  wait_ready "$SAME_PID" "$TMP/mem_same.out" "$TMP/mem_same.err" bench-server
  wait_ready "$SERVER_PID" "$TMP/mem_distinct.out" "$TMP/mem_distinct.err" bench-server
  local same_base distinct_base same_token file
  same_base=$(sed -n 's/^listening //p' "$TMP/mem_same.out" | head -n 1)
  distinct_base=$(sed -n 's/^listening //p' "$TMP/mem_distinct.out" | head -n 1)
  same_token=$(head -n 1 "$TMP/mem_same/hs256.tokens")
  file="$TMP/mem_distinct/hs256.tokens"
  BASE=$same_base check /jwt/hs256 "Authorization: Bearer $same_token" 200
  BASE=$distinct_base check /jwt/hs256 "Authorization: Bearer $(tail -n 1 "$file")" 200
  BASE=$distinct_base check /jwt/hs256 "Authorization: Bearer $same_token" 401
  len=${#same_token}
  # The cache's accounting (auth-jwt: 3 x the token's length + 256 bytes an
  # entry, at least the byte bound / the entry bound), default bounds.
  cost=$(( 3 * len + 256 )); [ "$cost" -ge $(( 33554432 / 10000 )) ] || cost=$(( 33554432 / 10000 ))
  bound_entries=$(( 33554432 / cost )); [ "$bound_entries" -le 10000 ] || bound_entries=10000
  unbounded=$(awk -v n="$MEM_TOKENS" -v c="$cost" 'BEGIN {printf "%.0f", n * c / 1048576}')
  echo "0 - $(mib "$SAME_PID" VmRSS) $(mib "$SAME_PID" VmHWM) $(cached_tokens "$same_base") - 0 $(mib "$SERVER_PID" VmRSS) $(mib "$SERVER_PID" VmHWM) $(cached_tokens "$distinct_base")" >"$TMP/mem.rows"
  local total=0
  for r in $(seq 1 "$MEM_ROUNDS"); do
    echo " round $r" >&2
    TARGET=$same_base run mem_same.r$r /jwt/hs256 "$CONNS" "Authorization: Bearer $same_token"
    COLD="$file:$offset" TARGET=$distinct_base run mem_distinct.r$r /jwt/hs256 "$CONNS"
    sent=$(cat "$TMP/mem_distinct.r$r.sent")
    total=$(( total + sent )); offset=$(( (offset + sent) % MEM_TOKENS ))
    echo "$r $(printf '%.0f' "$(cat "$TMP/mem_same.r$r.rps")") $(mib "$SAME_PID" VmRSS) $(mib "$SAME_PID" VmHWM) $(cached_tokens "$same_base") $(printf '%.0f' "$(cat "$TMP/mem_distinct.r$r.rps")") $total $(mib "$SERVER_PID" VmRSS) $(mib "$SERVER_PID" VmHWM) $(cached_tokens "$distinct_base")" >>"$TMP/mem.rows"
    tail -n 1 "$TMP/mem.rows" >&2
  done
  local non
  non=$(cat "$TMP"/mem_*.r*.non2xx | awk '{ s += $1 } END { print s + 0 }')
  kill "$SAME_PID" "$SERVER_PID"
  wait "$SAME_PID" "$SERVER_PID" 2>/dev/null || true
  SAME_PID=; SERVER_PID=

  # The plateau: from the first round on, the distinct-token server's VmRSS
  # moves by at most 2 MiB or 5 %, and its cache never exceeds the bound.
  local verdict
  verdict=$(awk -v b="$bound_entries" 'NR > 1 {
      if (first == "") first = $8; last = $8; if ($10 + 0 > b) over = 1 }
    END { d = last - first; if (d < 0) d = -d; lim = first * 0.05; if (lim < 2) lim = 2
      print ((d <= lim && !over) ? "holds" : "does NOT hold") }' "$TMP/mem.rows")
  {
    echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); $(uname -sr); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Command: \`bash scripts/bench.sh memory\` (MEM_TOKENS=$MEM_TOKENS, MEM_PAD=$MEM_PAD, MEM_ROUNDS=$MEM_ROUNDS, DURATION=$DURATION, CONNS=$CONNS). Two fresh \`bench-server --workers $WORKERS --tokens hs256=$MEM_TOKENS --token-pad $MEM_PAD\` (release) side by side; their tokens are $len bytes long, so the cache counts $cost bytes an entry and its default byte bound (32 MiB) holds at most $bound_entries of them (the entry bound, 10 000, does not bind). Load on \`/jwt/hs256\`: \`wrk -t1 -c$CONNS -d$DURATION\`, the same token on one server, a different token on every request on the other (\`-s scripts/tokens.lua\`, cycling through the $MEM_TOKENS tokens: a cache without its bound would account for ${unbounded} MiB), alternating. Figures after each round; the cache's token count from bench-server's \`/stats\`; non-2xx over all rounds: $non."
    echo
    echo '| after round | same token: req/s | VmRSS MiB | VmHWM MiB | cached tokens | distinct tokens: req/s | tokens sent (total) | VmRSS MiB | VmHWM MiB | cached tokens |'
    echo '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
    awk '{ printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", ($1 == 0 ? "start" : $1), $2, $3, $4, $5, $6, $7, $8, $9, $10 }' "$TMP/mem.rows"
    echo
    awk -v v="$verdict" 'NR == 1 { s0 = $3; d0 = $8 } NR > 1 { s = $3; d = $8; h = $9 }
      END { printf "Distinct-token server minus same-token server, VmRSS after the last round: **%.1f MiB** (at the start %.1f MiB); its peak (VmHWM) %.1f MiB. Bound: **%s** (VmRSS flat within 2 MiB or 5 %% from the first round on, the cache at or under its bound).\n", d - s, d0 - s0, h, v }' "$TMP/mem.rows"
  } >"$TMP/memory.md"
  cat "$TMP/memory.md"
  replace_generated "$OUT" memory "$TMP/memory.md" Benchmarks scripts/bench.sh
}

# Floods (issue 17.5): the /jwt/hs256 probe (PROBE_CONNS connections, the
# same valid token) while FLOOD_CONNS connections send, in turn: valid
# requests to /open (the baseline), wrong Basic passwords to /basic and to
# /basic-guarded (a new client address each round), garbage tokens
# (scripts/floods.lua) and expired tokens (scripts/tokens.lua over
# EXPIRED_TOKENS validly signed, expired tokens) to /jwt/hs256; ROUNDS
# rounds, the floods in this order in each. Each probe's p99 is compared
# with the p99 under the /open flood of the same round.
FLOOD_KINDS="open basic basic_guarded garbage expired"
flood_start() { # KIND ROUND SECONDS: starts the flood in the background (FLOOD_PID)
  local out="$TMP/fl_$1.r$2.flood"
  case $1 in
    open) wrk -t1 -c"$FLOOD_CONNS" -d"$3s" "$BASE/open" >"$out" 2>&1 & ;;
    basic) wrk -t1 -c"$FLOOD_CONNS" -d"$3s" -H "Authorization: Basic $BASIC_WRONG" "$BASE/basic" >"$out" 2>&1 & ;;
    basic_guarded) wrk -t1 -c"$FLOOD_CONNS" -d"$3s" -H "Authorization: Basic $BASIC_WRONG" \
      -H "X-Forwarded-For: 198.51.100.$(( 100 + $2 ))" "$BASE/basic-guarded" >"$out" 2>&1 & ;;
    garbage) wrk -t1 -c"$FLOOD_CONNS" -d"$3s" -s scripts/floods.lua "$BASE/jwt/hs256" >"$out" 2>&1 & ;;
    expired) wrk -t1 -c"$FLOOD_CONNS" -d"$3s" -s scripts/tokens.lua "$BASE/jwt/hs256" \
      -- "$TMP/floods/hs256-expired.tokens" 0 >"$out" 2>&1 & ;;
  esac
  FLOOD_PID=$!
}
# thread_ticks PID: "thread-name cpu-ticks" per thread of PID (utime +
# stime from /proc/PID/task/*/stat; the name has its spaces replaced).
thread_ticks() {
  local t
  for t in /proc/"$1"/task/*; do
    awk '{ s = $0; sub(/^[^(]*\(/, "", s); n = s; sub(/\).*$/, "", n); sub(/^.*\) /, "", s)
      split(s, f, " "); gsub(/ /, "_", n); print n, f[12] + f[13] }' "$t/stat" 2>/dev/null || true
  done
}
# cpu_split BEFORE AFTER SECONDS: per thread name, CPU % over the window
# (100 % = one CPU), busiest first, as "name 93%, name 41%".
cpu_split() {
  awk -v secs="$3" -v hz="$(getconf CLK_TCK)" 'FNR == NR { b[$1] += $2; next } { a[$1] += $2 }
    END { for (n in a) { p = (a[n] - b[n]) / hz / secs * 100; if (p >= 1) printf "%.0f %s\n", p, n } }' "$1" "$2" |
    sort -rn | awk '{ printf "%s%s %s%%", sep, $2, $1; sep = ", " }'
}
floods_section() {
  local r kind flood_secs=$(( ${DURATION%s} + 2 ))
  echo "flood rows: minting $EXPIRED_TOKENS expired tokens" >&2
  "$BIN" --workers "$WORKERS" --tokens-dir "$TMP/floods" --tokens "hs256-expired=$EXPIRED_TOKENS" \
    >"$TMP/floods.out" 2>"$TMP/floods.err" &
  SERVER_PID=$!
  wait_ready "$SERVER_PID" "$TMP/floods.out" "$TMP/floods.err" bench-server
  BASE=$(sed -n 's/^listening //p' "$TMP/floods.out" | head -n 1)
  HS256=$(sed -n 's/^HS256_TOKEN=//p' "$TMP/floods.out")
  BASIC_WRONG=$(sed -n 's/^BASIC_WRONG=//p' "$TMP/floods.out")
  check /jwt/hs256 "Authorization: Bearer $HS256" 200
  check /jwt/hs256 "Authorization: Bearer $(head -n 1 "$TMP/floods/hs256-expired.tokens")" 401
  check /jwt/hs256 "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.bm90IGEgdG9rZW4.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" 401
  check /basic "Authorization: Basic $BASIC_WRONG" 401
  check /basic-guarded "Authorization: Basic $BASIC_WRONG" 401
  local rss_start
  rss_start=$(mib "$SERVER_PID" VmRSS)
  for r in $(seq 1 "$ROUNDS"); do
    echo " round $r" >&2
    for kind in $FLOOD_KINDS; do
      flood_start "$kind" "$r" "$flood_secs"
      sleep 1
      thread_ticks "$SERVER_PID" >"$TMP/fl_$kind.r$r.ticks0"
      run "fl_$kind.r$r" /jwt/hs256 "$PROBE_CONNS" "Authorization: Bearer $HS256"
      thread_ticks "$SERVER_PID" >"$TMP/fl_$kind.r$r.ticks1"
      cpu_split "$TMP/fl_$kind.r$r.ticks0" "$TMP/fl_$kind.r$r.ticks1" "${DURATION%s}" >"$TMP/fl_$kind.r$r.cpu"
      wait "$FLOOD_PID" || true
      FLOOD_PID=
      awk '/^Requests\/sec:/ {print $2}' "$TMP/fl_$kind.r$r.flood" >"$TMP/flood_$kind.r$r.rps"
      awk '/Non-2xx/ {n = $NF} END {print n + 0}' "$TMP/fl_$kind.r$r.flood" >"$TMP/flood_$kind.r$r.non2xx"
      echo "   flood $kind: $(cat "$TMP/flood_$kind.r$r.rps") req/s, non-2xx $(cat "$TMP/flood_$kind.r$r.non2xx")" >&2
    done
    for kind in $FLOOD_KINDS; do
      awk -v a="$(cat "$TMP/fl_$kind.r$r.p99")" -v b="$(cat "$TMP/fl_open.r$r.p99")" \
        'BEGIN {printf "%.4f\n", a / b}' >"$TMP/fl_$kind.r$r.ratio"
    done
  done
  local hwm rss_end
  hwm=$(mib "$SERVER_PID" VmHWM); rss_end=$(mib "$SERVER_PID" VmRSS)
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=

  local met=0 missed=0 label ratio verdict per
  {
    echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); $(uname -sr); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Command: \`bash scripts/bench.sh floods\` (ROUNDS=$ROUNDS, DURATION=$DURATION, PROBE_CONNS=$PROBE_CONNS, FLOOD_CONNS=$FLOOD_CONNS, EXPIRED_TOKENS=$EXPIRED_TOKENS). Server: \`bench-server --workers $WORKERS\` (release) on 127.0.0.1. Probe: \`wrk -t1 -c$PROBE_CONNS -d$DURATION --latency\` on \`/jwt/hs256\` with a valid token, started 1 s into a flood of \`wrk -t1 -c$FLOOD_CONNS -d${flood_secs}s\`; the five floods one after the other in each of $ROUNDS rounds; medians over the rounds (the ratio is the median of the per-round ratios of the probe's p99 to its p99 under the \`/open\` flood of the same round)."
    echo
    echo '| flood ('"$FLOOD_CONNS"' connections) | flood req/s | flood non-2xx / round | probe req/s | probe p50 ms | probe p99 ms | p99 / p99 under `/open` flood (per round) | target ≤ 1.5 |'
    echo '|---|---:|---:|---:|---:|---:|---:|---|'
    for kind in $FLOOD_KINDS; do
      case $kind in
        open) label='valid requests to `/open` (baseline)' ;;
        basic) label='wrong Basic passwords on `/basic` (argon2id, shared pool)' ;;
        basic_guarded) label='wrong Basic passwords on `/basic-guarded` (own pool, brute-force guard)' ;;
        garbage) label='garbage tokens on `/jwt/hs256` (`scripts/floods.lua`)' ;;
        expired) label='expired tokens on `/jwt/hs256` (validly signed, each different)' ;;
      esac
      ratio=$(awk -v r="$(median "fl_$kind" ratio)" 'BEGIN {printf "%.2f", r}')
      per=$(cat "$TMP"/fl_"$kind".r*.ratio | awk '{printf "%s%.2f", sep, $1; sep = ", "}')
      if [ "$kind" = open ]; then verdict=""
      elif awk -v r="$ratio" 'BEGIN {exit !(r <= 1.5)}'; then verdict=met; met=$((met + 1))
      else verdict=MISSED; missed=$((missed + 1)); fi
      printf '| %s | %.0f | %.0f | %.0f | %s | %s | **%s** (%s) | %s |\n' "$label" "$(median "flood_$kind" rps)" \
        "$(median "flood_$kind" non2xx)" "$(median "fl_$kind" rps)" "$(median "fl_$kind" p50)" \
        "$(median "fl_$kind" p99)" "$ratio" "$per" "$verdict"
    done
    echo
    echo "Server CPU by thread while the probe ran (last round; 100 % = one CPU):"
    echo
    for kind in $FLOOD_KINDS; do
      echo "- $kind: $(cat "$TMP/fl_$kind.r$ROUNDS.cpu")"
    done
    echo
    echo "Server peak RSS (VmHWM) over all the floods: **$hwm MiB** (VmRSS $rss_start MiB before the first flood, $rss_end MiB after the last; target ≤ 64 MiB, $(awk -v m="$hwm" 'BEGIN {print (m <= 64) ? "met" : "MISSED"}')). p99 ratio target ≤ 1.5: met by $met flood(s) of 4, missed by $missed."
  } >"$TMP/floods.md"
  cat "$TMP/floods.md"
  replace_generated "$OUT" floods "$TMP/floods.md" Benchmarks scripts/bench.sh
}

if [ "$MODE" = memory ]; then
  memory_section
  exit 0
fi
if [ "$MODE" = floods ]; then
  floods_section
  exit 0
fi
if [ "$MODE" = scale ]; then
  scale_section
  exit 0
fi

# The cold-path tokens (and the peer) only for the full run.
TOKEN_ARGS=(--tokens-dir "$TMP/tokens" --tokens "$TOKENS")
[ "$MODE" = fairness ] && TOKEN_ARGS=()
echo "starting bench-server${TOKEN_ARGS:+ and minting the cold-path tokens ($TOKENS)}" >&2
"$BIN" --workers "$WORKERS" "${TOKEN_ARGS[@]}" \
  >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
wait_ready "$SERVER_PID" "$TMP/server.out" "$TMP/server.err" bench-server
BASE=$(sed -n 's/^listening //p' "$TMP/server.out" | head -n 1)
if [ "$MODE" = all ]; then
  "$PEER_BIN" --workers "$WORKERS" --secret-file "$TMP/tokens/hs256.secret" \
    >"$TMP/peer.out" 2>"$TMP/peer.err" &
  PEER_PID=$!
  wait_ready "$PEER_PID" "$TMP/peer.out" "$TMP/peer.err" peer-server
  PEER=$(sed -n 's/^listening //p' "$TMP/peer.out" | head -n 1)
fi
val() { sed -n "s/^$1=//p" "$TMP/server.out"; }
HS256=$(val HS256_TOKEN); RS256=$(val RS256_TOKEN); ES256=$(val ES256_TOKEN)
BASIC=$(val BASIC); BASIC_WRONG=$(val BASIC_WRONG)

check /open "X-None: 1" 200
check /jwt/hs256 "Authorization: Bearer $HS256" 200
check /jwt/rs256 "Authorization: Bearer $RS256" 200
check /jwt/es256 "Authorization: Bearer $ES256" 200
check /basic "Authorization: Basic $BASIC" 200
check /basic "Authorization: Basic $BASIC_WRONG" 401
check /basic-cached "Authorization: Basic $BASIC" 200
check /basic-guarded "Authorization: Basic $BASIC" 200
check /three "Authorization: Bearer $HS256" 200
check /jwt/hs256 "Authorization: Bearer ${HS256}x" 401
EDDSA=$(val EDDSA_TOKEN)
check /jwt/eddsa "Authorization: Bearer $EDDSA" 200
OPAQUE=$(val OPAQUE_TOKEN)
check /opaque "Authorization: Bearer $OPAQUE" 200
[ "${OPAQUE: -1}" = A ] && OTHER=B || OTHER=A
check /opaque "Authorization: Bearer ${OPAQUE%?}$OTHER" 401
# Both servers take the same minted tokens and refuse a tampered one.
for alg in $([ "$MODE" = all ] && echo "$COLD_ALGS"); do
  first=$(head -n 1 "$TMP/tokens/$alg.tokens"); last=$(tail -n 1 "$TMP/tokens/$alg.tokens")
  for base in "$BASE" "$PEER"; do
    for token in "$first" "$last"; do
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base/jwt/$alg")
      [ "$code" = 200 ] || { echo "sanity check failed: $base/jwt/$alg answered $code" >&2; exit 1; }
    done
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${first}x" "$base/jwt/$alg")
    [ "$code" = 401 ] || { echo "sanity check failed: tampered token on $base/jwt/$alg answered $code" >&2; exit 1; }
  done
done

if [ "$MODE" = fairness ]; then
  fairness_rounds
  fairness_table
  exit 0
fi

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
  run eddsa.r$r /jwt/eddsa "$CONNS" "Authorization: Bearer $EDDSA"
  run opaque.r$r /opaque "$CONNS" "Authorization: Bearer $OPAQUE"
  # The peer, and the cold path on both.
  TARGET=$PEER run peer_open.r$r /open "$CONNS"
  TARGET=$PEER run peer_hs256.r$r /jwt/hs256 "$CONNS" "Authorization: Bearer $HS256"
  for alg in $COLD_ALGS; do
    file="$TMP/tokens/$alg.tokens"
    total=$(wc -l <"$file")
    offset=$(( (r - 1) * total / ROUNDS ))
    COLD="$file:$offset" run cold_$alg.r$r /jwt/$alg "$CONNS"
    COLD="$file:$offset" TARGET=$PEER run peer_cold_$alg.r$r /jwt/$alg "$CONNS"
    echo "$(( total / ROUNDS ))" >"$TMP/cold_$alg.r$r.share"
  done
  # Per-round ratios to each server's own /open, measured minutes apart at most.
  for name in open hs256 rs256 es256 eddsa opaque three basic basic_cached cold_hs256 cold_rs256 cold_es256 cold_eddsa; do
    awk -v a="$(cat "$TMP/$name.r$r.rps")" -v b="$(cat "$TMP/open.r$r.rps")" \
      'BEGIN {printf "%.4f\n", a / b}' >"$TMP/$name.r$r.ratio"
  done
  for name in peer_open peer_hs256 peer_cold_hs256 peer_cold_rs256 peer_cold_es256 peer_cold_eddsa; do
    awk -v a="$(cat "$TMP/$name.r$r.rps")" -v b="$(cat "$TMP/peer_open.r$r.rps")" \
      'BEGIN {printf "%.4f\n", a / b}' >"$TMP/$name.r$r.ratio"
  done
  # Ours against the peer, cold path, per round.
  for alg in $COLD_ALGS; do
    awk -v a="$(cat "$TMP/cold_$alg.r$r.rps")" -v b="$(cat "$TMP/peer_cold_$alg.r$r.rps")" \
      'BEGIN {printf "%.4f\n", a / b}' >"$TMP/cold_$alg.r$r.vs_peer"
  done
done
# Did any cold round send more tokens than its share (so that a token could
# come round again while still cached)?
COLD_REUSE=""
for alg in $COLD_ALGS; do
  for r in $(seq 1 "$ROUNDS"); do
    sent=$(cat "$TMP/cold_$alg.r$r.sent"); share=$(cat "$TMP/cold_$alg.r$r.share")
    [ "$sent" -le "$share" ] || COLD_REUSE="$COLD_REUSE $alg(round $r: $sent sent, share $share)"
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
fairness_rounds
HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$SERVER_PID/status")
RSS_KB=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status")

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
kill "$PEER_PID"
wait "$PEER_PID" 2>/dev/null || true
PEER_PID=

prow() { # label name server extra
  local non
  non=$(cat "$TMP/$2".r*.non2xx | awk '{ s += $1 } END { print s + 0 }')
  printf '| `%s` | %s | %.0f | %s | %s | %.2f | %s | %s |\n' "$1" "$3" "$(median "$2" rps)" \
    "$(median "$2" p50)" "$(median "$2" p99)" "$(median "$2" ratio)" "$non" "$4"
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
  row /jwt/eddsa eddsa "" "jwt EdDSA"
  row /opaque opaque 0.8 "auth token (auth-token, in-process store, local cache)"
  row /three three 0.8 "basic, cookie jwt, jwt HS256"
  row /basic basic "" "basic, argon2id ($BASIC_CONNS conns)"
  row /basic-cached basic_cached "" "basic + verification cache"
  echo
  echo "Cold path: a different valid token on every request (\`wrk -s scripts/tokens.lua\`, tokens minted by bench-server: $TOKENS; each round starts at a fresh third of the list), on bench-server and on \`tools/peer-server\` (actix-web-httpauth + jsonwebtoken by hand, same jsonwebtoken build). Ratios to each server's own \`/open\` in the same round; \"vs peer\" is the median of the per-round ratios of requests/s. $( [ -z "$COLD_REUSE" ] && echo "No round sent more tokens than its share: nothing could be served from the cache." || echo "WARNING: rounds sent more than their share of tokens (raise TOKENS):$COLD_REUSE.")"
  echo
  echo '| route | server | requests/s | p50 ms | p99 ms | ratio to own `/open` | non-2xx | vs peer (target ≥ 0.95) |'
  echo '|---|---|---:|---:|---:|---:|---:|---|'
  for alg in $COLD_ALGS; do
    vs=$(awk -v r="$(median "cold_$alg" vs_peer)" 'BEGIN {printf "%.2f", r}')
    verdict=$(awk -v r="$vs" 'BEGIN {print (r >= 0.95) ? "met" : "MISSED"}')
    case "$COLD_REUSE" in *" $alg("*) verdict="not measured: tokens came round again" ;; esac
    prow "/jwt/$alg (cold)" "cold_$alg" "bench-server" "**$vs** $verdict"
    prow "/jwt/$alg (cold)" "peer_cold_$alg" "peer-server" ""
  done
  prow "/jwt/hs256 (same token)" hs256 "bench-server" ""
  prow "/jwt/hs256 (same token)" peer_hs256 "peer-server" ""
  prow /open open "bench-server" ""
  prow /open peer_open "peer-server" ""
  echo
  echo "Flood: \`wrk -c$FLOOD_CONNS\` of wrong Basic passwords on \`/basic\` (median $FLOOD_RPS req/s, $FLOOD_NON2XX non-2xx per round: 401s and 503 sheds) while \`/jwt/hs256\` is probed with \`wrk -c$PROBE_CONNS\`, idle and flooded in alternating rounds:"
  echo
  echo '| `/jwt/hs256` probe | requests/s | p50 ms | p99 ms |'
  echo '|---|---:|---:|---:|'
  echo "| idle | $(median idle_probe rps) | $(median idle_probe p50) | $P99_IDLE |"
  echo "| under flood | $(median flood_probe rps) | $(median flood_probe p50) | $P99_FLOOD |"
  echo
  echo "p99 under flood / idle: **${P99_FACTOR}×** (issue 7's target ≤ 2×, $(awk -v f="$P99_FACTOR" 'BEGIN {print (f <= 2) ? "met" : "MISSED"}'); superseded by issue 17.5, see "Floods restated" below). Server peak RSS (VmHWM) over the whole run: **${HWM_MIB} MiB** (VmRSS at the end ${RSS_MIB} MiB; target < 300 MiB, $(awk -v m="$HWM_MIB" 'BEGIN {print (m < 300) ? "met" : "MISSED"}'))."
  echo
  fairness_table
} >"$TMP/table.md"

cat "$TMP/table.md"

replace_generated "$OUT" bench "$TMP/table.md" Benchmarks scripts/bench.sh

scale_section
