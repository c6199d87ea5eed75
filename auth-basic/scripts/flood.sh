#!/usr/bin/env bash
# Floods /basic with wrong passwords while timing /open, to show that password
# hashing (bounded pool + bounded queue, 503 past it) does not starve other
# routes. Release build, bounded in time, server on 127.0.0.1, stopped by PID.
#
# Usage: auth-basic/scripts/flood.sh [seconds]   (default 15)
# Needs wrk (apt-get install -y wrk).
set -euo pipefail

DURATION=${1:-15}
PORT=${PORT:-18089}
ADDR="127.0.0.1:$PORT"
cd "$(dirname "$0")/../.."

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

cargo build --release -q -p auth-basic --example flood_server
./target/release/examples/flood_server "$ADDR" &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://$ADDR/open" >/dev/null 2>&1 && break
  sleep 0.1
done

START_RSS=$(awk '/VmRSS/ {print $2, $3}' "/proc/$SERVER/status")
WRONG="Basic $(printf 'admin:wrong-password' | base64)"

p99() { awk '/ 99%/ {print $2}'; }

echo "== idle: /open for ${DURATION}s"
IDLE=$(wrk -t1 -c4 -d"${DURATION}s" --latency "http://$ADDR/open")
IDLE_P99=$(echo "$IDLE" | p99)
IDLE_RPS=$(echo "$IDLE" | awk '/Requests\/sec/ {print $2}')

echo "== flood: wrong passwords on /basic while timing /open for ${DURATION}s"
wrk -t1 -c64 -d"$((DURATION + 2))s" -s auth-basic/scripts/status-count.lua \
  -H "Authorization: $WRONG" "http://$ADDR/basic" >/tmp/flood-basic.$$ &
FLOOD=$!
sleep 1
BUSY=$(wrk -t1 -c4 -d"${DURATION}s" --latency "http://$ADDR/open")
wait "$FLOOD"
BUSY_P99=$(echo "$BUSY" | p99)
BUSY_RPS=$(echo "$BUSY" | awk '/Requests\/sec/ {print $2}')
FLOOD_RPS=$(awk '/Requests\/sec/ {print $2}' /tmp/flood-basic.$$)
FLOOD_STATUSES=$(grep '^statuses:' /tmp/flood-basic.$$ || true)
rm -f /tmp/flood-basic.$$

# 401 vs 503 split of the flood: one request of each kind.
S401=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: $WRONG" "http://$ADDR/basic")
HWM=$(awk '/VmHWM/ {print $2, $3}' "/proc/$SERVER/status")
THREADS=$(awk '/Threads/ {print $2}' "/proc/$SERVER/status")

echo
echo "open p99 idle:         $IDLE_P99  ($IDLE_RPS req/s)"
echo "open p99 under flood:  $BUSY_P99  ($BUSY_RPS req/s)"
echo "flood on /basic:       $FLOOD_RPS req/s, $FLOOD_STATUSES (401 = verified and wrong, 503 = shed); a lone wrong guess: $S401"
echo "server RSS at start:   $START_RSS"
echo "server peak RSS:       $HWM ($THREADS threads; each hashing thread needs argon2's m_cost, 19 MiB by default)"
