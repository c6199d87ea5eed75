#!/usr/bin/env bash
# Floods /basic with wrong passwords from one client while timing /open and
# the logins of another client, to show that
#  - password hashing (bounded pool + bounded queue, 503 past it) does not
#    starve other routes, and
#  - one flooding client gets its share of the pool only (2 hashes in
#    flight; more are refused with 429 and counted by the brute-force
#    guard), so it is locked out within its first burst while another
#    client keeps logging in (issue 18.3).
# Release build, bounded in time, server on 127.0.0.1, stopped by its PID.
# The server believes X-Forwarded-For from 127.0.0.1, so the two clients
# are told apart by that header (as behind a reverse proxy).
#
# Usage: auth-basic/scripts/flood.sh [seconds]   (default 15)
# Needs wrk (apt-get install -y wrk).
set -euo pipefail

DURATION=${1:-15}
PORT=${PORT:-18089}
ADDR="127.0.0.1:$PORT"
FLOODER=198.51.100.66
HONEST=203.0.113.7
cd "$(dirname "$0")/../.."

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

cargo build --release -q -p auth-basic --example flood_server
./target/release/examples/flood_server "$ADDR" &
SERVER=$!
TMP=$(mktemp -d)
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$TMP"' EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://$ADDR/open" >/dev/null 2>&1 && break
  sleep 0.1
done

START_RSS=$(awk '/VmRSS/ {print $2, $3}' "/proc/$SERVER/status")
RIGHT="Basic $(printf 'admin:correct horse battery staple' | base64 -w0)"

p99() { awk '/ 99%/ {print $2}'; }
p50() { awk '/ 50%/ {print $2}'; }
rps() { awk '/Requests\/sec/ {print $2}'; }

echo "== idle: /open for ${DURATION}s"
IDLE=$(wrk -t1 -c4 -d"${DURATION}s" --latency "http://$ADDR/open")

echo "== idle: logins of one client for ${DURATION}s"
LOGIN_IDLE=$(wrk -t1 -c1 -d"${DURATION}s" --latency -s auth-basic/scripts/status-count.lua \
  -H "Authorization: $RIGHT" -H "X-Forwarded-For: $HONEST" "http://$ADDR/basic")

echo "== flood: wrong passwords from $FLOODER over 64 connections, for $((2 * DURATION + 2))s,"
echo "   while timing /open, then the logins of $HONEST"
wrk -t2 -c64 -d"$((2 * DURATION + 2))s" -s auth-basic/scripts/spray.lua \
  -H "X-Forwarded-For: $FLOODER" "http://$ADDR/basic" >"$TMP/flood" &
FLOOD=$!
sleep 1
BUSY=$(wrk -t1 -c4 -d"${DURATION}s" --latency "http://$ADDR/open")
LOGIN_BUSY=$(wrk -t1 -c1 -d"${DURATION}s" --latency -s auth-basic/scripts/status-count.lua \
  -H "Authorization: $RIGHT" -H "X-Forwarded-For: $HONEST" "http://$ADDR/basic")
wait "$FLOOD"

HWM=$(awk '/VmHWM/ {print $2, $3}' "/proc/$SERVER/status")
THREADS=$(awk '/Threads/ {print $2}' "/proc/$SERVER/status")

echo
echo "open p99 idle:            $(echo "$IDLE" | p99)  ($(echo "$IDLE" | rps) req/s)"
echo "open p99 under flood:     $(echo "$BUSY" | p99)  ($(echo "$BUSY" | rps) req/s)"
echo "logins idle:              p50 $(echo "$LOGIN_IDLE" | p50), p99 $(echo "$LOGIN_IDLE" | p99), $(echo "$LOGIN_IDLE" | rps) req/s, $(echo "$LOGIN_IDLE" | grep '^statuses:')"
echo "logins under flood:       p50 $(echo "$LOGIN_BUSY" | p50), p99 $(echo "$LOGIN_BUSY" | p99), $(echo "$LOGIN_BUSY" | rps) req/s, $(echo "$LOGIN_BUSY" | grep '^statuses:')"
echo "flood on /basic:          $(rps <"$TMP/flood") req/s, $(grep '^statuses:' "$TMP/flood") (401 = hashed and wrong, 429 = refused: its share in flight or the guard's limit, 503 = pool full)"
echo "server RSS at start:      $START_RSS"
echo "server peak RSS:          $HWM ($THREADS threads; each hashing thread needs argon2's m_cost, 19 MiB by default)"
