#!/usr/bin/env bash
# Soak of the todo example with valid traffic mixed with garbage (issue 7).
#
#   bash scripts/soak.sh            # ~1.5 minutes after the build; needs no stdin
#
# Builds examples/todo and tools/soak in release, starts todo on
# 127.0.0.1 (free port, temporary data directory, a random JWT_SECRET the
# soak tool also gets, to sign expired tokens), records its RSS, runs the
# soak tool for DURATION (the mix of tools/soak/src/mix.rs over CONNS
# keep-alive connections), records RSS again and the peak (VmHWM), checks
# that the server is still alive and logged no panic, stops it by its PID
# and prints a report. The report replaces the generated part of
# docs/SOAK.md (between the soak markers), with date and machine.
#
# Exits non-zero when a 5xx other than 503 (deliberate shedding) was
# answered, a request went unanswered within TIMEOUT, a panic was logged,
# the server died or stopped answering, or the tool failed.
#
# Tunables (environment): DURATION (60, seconds), CONNS (16), USERS (4),
# TIMEOUT (10, seconds per request), SEED (random), LOGIN_MAX_FAILURES
# (the server's, default 5: a high value keeps wrong passwords reaching
# argon2 and its 503 shedding instead of the guard's 429).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=doc-section.sh
source scripts/doc-section.sh

DURATION=${DURATION:-60}
DURATION=${DURATION%s}
CONNS=${CONNS:-16}
USERS=${USERS:-4}
TIMEOUT=${TIMEOUT:-10}
SEED=${SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
OUT=docs/SOAK.md

cargo build --release -q -p todo -p soak
BIN_DIR=${CARGO_TARGET_DIR:-target}/release

TMP=$(mktemp -d)
SERVER_PID=
SAMPLER_PID=
cleanup() {
  # Only the processes this script started, by PID.
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

JWT_SECRET=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
export JWT_SECRET
env HOST=127.0.0.1 PORT=0 TODO_DATA_DIR="$TMP/data" NO_COLOR=1 RUST_LOG=info \
  ${LOGIN_MAX_FAILURES:+LOGIN_MAX_FAILURES=$LOGIN_MAX_FAILURES} \
  "$BIN_DIR/todo" </dev/null >"$TMP/server.out" 2>"$TMP/server.err" &
SERVER_PID=$!
ADDR=
for _ in $(seq 1 100); do
  ADDR=$(cat "$TMP/server.out" "$TMP/server.err" | sed -n 's/.*listening on http:\/\/\([^ ]*\).*/\1/p' | head -n 1)
  [ -n "$ADDR" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.out" "$TMP/server.err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$ADDR" ] || { echo "todo did not start" >&2; exit 1; }

kib() { awk -v k="$2" '$1 == k ":" {print $2}' "/proc/$1/status"; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
RSS_START=$(kib "$SERVER_PID" VmRSS)

# VmRSS every 10 s, to tell growth from a plateau.
(
  while kill -0 "$SERVER_PID" 2>/dev/null; do
    sleep 10
    kib "$SERVER_PID" VmRSS 2>/dev/null || true
  done
) >"$TMP/rss.series" &
SAMPLER_PID=$!

echo "soaking todo at $ADDR for ${DURATION}s ($CONNS connections, seed $SEED)" >&2
TOOL_RC=0
timeout $((DURATION + 3 * TIMEOUT + 60)) "$BIN_DIR/soak" "$ADDR" --duration "$DURATION" \
  --conns "$CONNS" --users "$USERS" --timeout "$TIMEOUT" --seed "$SEED" \
  --table "$TMP/table.md" >"$TMP/soak.out" 2>"$TMP/soak.err" || TOOL_RC=$?

ALIVE=no
RSS_END=0
HWM=0
if kill -0 "$SERVER_PID" 2>/dev/null; then
  ALIVE=yes
  RSS_END=$(kib "$SERVER_PID" VmRSS)
  HWM=$(kib "$SERVER_PID" VmHWM)
fi
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=
# The server logs to stdout, panics go to stderr: search both.
PANICS=$(cat "$TMP/server.out" "$TMP/server.err" | grep -c 'panicked' || true)

if [ "$TOOL_RC" != 0 ] || [ ! -s "$TMP/table.md" ]; then
  echo "the soak tool failed (exit $TOOL_RC):" >&2
  cat "$TMP/soak.err" >&2
  tail -n 20 "$TMP/server.out" "$TMP/server.err" >&2
  exit 1
fi
val() { sed -n "s/^$1=//p" "$TMP/soak.out"; }
REQUESTS=$(val requests); ELAPSED=$(val elapsed_secs); RPS=$(val requests_per_sec)
SERVER_ERRORS=$(val server_errors); SHED=$(val shed_503); CLOSED=$(val closed)
TIMEOUTS=$(val timeouts); UNEXPECTED=$(val unexpected); FINAL=$(val final_check)
SERIES=$(awk '{printf "%s%.1f", (NR > 1 ? ", " : ""), $1 / 1024}' "$TMP/rss.series")

FAILURES=()
[ "$SERVER_ERRORS" = 0 ] || FAILURES+=("$SERVER_ERRORS answers 5xx other than 503")
[ "$TIMEOUTS" = 0 ] || FAILURES+=("$TIMEOUTS requests unanswered within ${TIMEOUT}s")
[ "$PANICS" = 0 ] || FAILURES+=("$PANICS panics logged")
[ "$ALIVE" = yes ] || FAILURES+=("the server died")
[ "$FINAL" = 200 ] || FAILURES+=("GET /whoAmI after the run answered $FINAL")
if [ ${#FAILURES[@]} = 0 ]; then
  VERDICT="**pass**: no 5xx other than 503, no request unanswered, no panic, server alive and answering."
else
  VERDICT="**FAIL**: $(IFS=';'; echo "${FAILURES[*]}" | sed 's/;/; /g')."
fi

{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); $(uname -sr)."
  echo "Server: \`todo\` (release, default workers, SQLite in a temporary directory, \`RUST_LOG=info\`${LOGIN_MAX_FAILURES:+, \`LOGIN_MAX_FAILURES=$LOGIN_MAX_FAILURES\`}). Load: \`soak --duration $DURATION --conns $CONNS --users $USERS --timeout $TIMEOUT --seed $SEED\` (raw HTTP/1.1, keep-alive): **$REQUESTS requests** in $ELAPSED s ($RPS/s)."
  echo
  cat "$TMP/table.md"
  echo
  echo '| | |'
  echo '|---|---|'
  echo "| requests sent | $REQUESTS |"
  echo "| 5xx other than 503 | $SERVER_ERRORS |"
  echo "| 503 (deliberate shedding) | $SHED |"
  echo "| connections closed without a status | $CLOSED |"
  echo "| unanswered within ${TIMEOUT} s | $TIMEOUTS |"
  echo "| answers outside the allowed set | $UNEXPECTED |"
  echo "| panics in the server's output | $PANICS |"
  echo "| server alive after the run | $ALIVE (\`GET /whoAmI\` on a new connection: $FINAL) |"
  echo "| RSS at start / end / peak (VmHWM) | $(mib "$RSS_START") / $(mib "$RSS_END") / $(mib "$HWM") MiB |"
  echo "| RSS every 10 s during the run | ${SERIES:+$SERIES MiB} |"
  echo
  echo "Verdict: $VERDICT"
} >"$TMP/report.md"

cat "$TMP/report.md"

replace_generated "$OUT" soak "$TMP/report.md" Soak scripts/soak.sh
[ ${#FAILURES[@]} = 0 ]
