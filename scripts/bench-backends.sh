#!/usr/bin/env bash
# The crypto backends side by side (issue 17.2): bench-server built with
# auth-jwt's default backend (aws-lc-rs) and with the pure-Rust one
# (`--no-default-features --features rust-crypto`, the default before issue
# 17.2), both running at once, driven in the same rounds on the cold path
# (a different valid token on every request, so every request pays one
# signature verification) and on `/open`.
#
#   bash scripts/bench-backends.sh     # ~3 minutes, most of it minting tokens
#
# Both servers verify the same token files (minted by the aws-lc-rs build;
# the RS256, ES256 and EdDSA keys are the auth-jwt/tests/keys fixtures both
# builds compile in). Each round starts at a fresh share of each file, and
# each server has its own verified-token cache, so no request of a round is
# a cache hit; the run says if a round sent more than its share. Medians
# over ROUNDS interleaved rounds, as in scripts/bench.sh; the table replaces
# the `backends` section of docs/BENCHMARKS.md.
#
# Tunables (environment): ROUNDS (3), DURATION (3s), CONNS (32), WORKERS
# (1), OUT (docs/BENCHMARKS.md), TOKENS (rs256=240000,es256=150000,eddsa=150000).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=doc-section.sh
source scripts/doc-section.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-3s}
CONNS=${CONNS:-32}
WORKERS=${WORKERS:-1}
TOKENS=${TOKENS:-rs256=240000,es256=150000,eddsa=150000}
ALGS="rs256 es256 eddsa"
OUT=${OUT:-docs/BENCHMARKS.md}
command -v wrk >/dev/null 2>&1 || { echo "wrk missing (apt-get install wrk)" >&2; exit 1; }

# Both servers on CPU 0 and wrk on CPU 1 when there are two CPUs and
# taskset (scripts/pinning.sh); the servers are driven one at a time.
# shellcheck source=pinning.sh
source scripts/pinning.sh
pin_benchmark
PINNING="not pinned"
[ "$PINNED" = 1 ] && PINNING="both pinned to CPU $SERVER_CPU and wrk to CPU $WRK_CPU (taskset)"

TMP=$(mktemp -d)
NEW_PID=
OLD_PID=
cleanup() {
  # Only the processes this script started, by PID.
  [ -n "$NEW_PID" ] && kill "$NEW_PID" 2>/dev/null && wait "$NEW_PID" 2>/dev/null || true
  [ -n "$OLD_PID" ] && kill "$OLD_PID" 2>/dev/null && wait "$OLD_PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

BIN=${CARGO_TARGET_DIR:-target}/release/bench-server
cargo build --release -q -p bench-server --no-default-features --features rust-crypto
cp "$BIN" "$TMP/bench-server-rust-crypto"
cargo build --release -q -p bench-server
cp "$BIN" "$TMP/bench-server-aws-lc-rs"

wait_ready() { # PID OUT ERR NAME
  for _ in $(seq 1 6000); do
    grep -q '^READY' "$2" 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || { cat "$3" >&2; echo "$4 exited" >&2; exit 1; }
    sleep 0.1
  done
  echo "$4 did not start" >&2; exit 1
}

echo "minting $TOKENS with the aws-lc-rs build" >&2
"${ON_SERVER_CPU[@]}" "$TMP/bench-server-aws-lc-rs" --workers "$WORKERS" --tokens-dir "$TMP/tokens" --tokens "$TOKENS" \
  >"$TMP/new.out" 2>"$TMP/new.err" &
NEW_PID=$!
wait_ready "$NEW_PID" "$TMP/new.out" "$TMP/new.err" "bench-server (aws-lc-rs)"
"${ON_SERVER_CPU[@]}" "$TMP/bench-server-rust-crypto" --workers "$WORKERS" >"$TMP/old.out" 2>"$TMP/old.err" &
OLD_PID=$!
wait_ready "$OLD_PID" "$TMP/old.out" "$TMP/old.err" "bench-server (rust-crypto)"
NEW=$(sed -n 's/^listening //p' "$TMP/new.out" | head -n 1)
OLD=$(sed -n 's/^listening //p' "$TMP/old.out" | head -n 1)
# Each binary says which backend it verifies with: the comparison is void
# if feature unification gave both the same one.
[ "$(sed -n 's/^BACKEND=//p' "$TMP/new.out")" = aws-lc-rs ] || { echo "new build is not on aws-lc-rs" >&2; exit 1; }
[ "$(sed -n 's/^BACKEND=//p' "$TMP/old.out")" = rust-crypto ] || { echo "old build is not on rust-crypto" >&2; exit 1; }

# Both servers accept the first and last token of each file and refuse a
# tampered one: a benchmark of 401s would be fast and meaningless.
for alg in $ALGS; do
  for token in "$(head -n 1 "$TMP/tokens/$alg.tokens")" "$(tail -n 1 "$TMP/tokens/$alg.tokens")"; do
    for base in "$NEW" "$OLD"; do
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "$base/jwt/$alg")
      [ "$code" = 200 ] || { echo "sanity check failed: $base/jwt/$alg answered $code" >&2; exit 1; }
      code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${token}x" "$base/jwt/$alg")
      [ "$code" = 401 ] || { echo "sanity check failed: tampered token on $base/jwt/$alg answered $code" >&2; exit 1; }
    done
  done
done

# wrk's latency lines are like "99%  1.23ms"; print milliseconds.
to_ms() { awk -v v="$1" 'BEGIN {
  n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
  if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
  printf "%.2f\n", n }'; }

# run NAME BASE PATH [FILE:OFFSET]: wrk with one thread (on the CPU the
# servers are not pinned to); requests/s, p99 and tokens sent into
# $TMP/NAME.*.
run() {
  local name=$1 base=$2 path=$3 cold=${4:-}
  if [ -n "$cold" ]; then
    "${ON_WRK_CPU[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency -s scripts/tokens.lua "$base$path" \
      -- "${cold%:*}" "${cold##*:}" >"$TMP/$name.wrk" 2>&1
  else
    "${ON_WRK_CPU[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$base$path" >"$TMP/$name.wrk" 2>&1
  fi
  awk '/^Requests\/sec:/ {print $2}' "$TMP/$name.wrk" >"$TMP/$name.rps"
  awk '/ requests in / {print $1}' "$TMP/$name.wrk" >"$TMP/$name.sent"
  to_ms "$(awk '$1 == "99%" {print $2}' "$TMP/$name.wrk")" >"$TMP/$name.p99"
  awk '/Non-2xx/ {n = $NF} END {print n + 0}' "$TMP/$name.wrk" >"$TMP/$name.non2xx"
  echo "  $name: $(cat "$TMP/$name.rps") req/s" >&2
}
median() { # NAME FIELD
  cat "$TMP/$1".r*."$2" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "benchmarking ($ROUNDS rounds of $DURATION per route, $CONNS connections, $WORKERS worker(s) each)" >&2
for r in $(seq 1 "$ROUNDS"); do
  echo " round $r" >&2
  run new_open.r$r "$NEW" /open
  run old_open.r$r "$OLD" /open
  for alg in $ALGS; do
    file="$TMP/tokens/$alg.tokens"
    total=$(wc -l <"$file")
    offset=$(( (r - 1) * total / ROUNDS ))
    run "old_$alg.r$r" "$OLD" "/jwt/$alg" "$file:$offset"
    run "new_$alg.r$r" "$NEW" "/jwt/$alg" "$file:$offset"
    echo "$(( total / ROUNDS ))" >"$TMP/$alg.r$r.share"
    awk -v a="$(cat "$TMP/new_$alg.r$r.rps")" -v b="$(cat "$TMP/old_$alg.r$r.rps")" \
      'BEGIN {printf "%.4f\n", a / b}' >"$TMP/speedup_$alg.r$r.x"
  done
done
REUSE=""
for alg in $ALGS; do
  for r in $(seq 1 "$ROUNDS"); do
    share=$(cat "$TMP/$alg.r$r.share")
    for side in old new; do
      sent=$(cat "$TMP/${side}_$alg.r$r.sent")
      [ "$sent" -le "$share" ] || REUSE="$REUSE $side/$alg(round $r: $sent sent, share $share)"
    done
  done
done

nonsum() { cat "$TMP/$1".r*.non2xx | awk '{ s += $1 } END { print s + 0 }'; }
{
  echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo); $(uname -sr); $(rustc --version)."
  echo "Command: \`bash scripts/bench-backends.sh\` (ROUNDS=$ROUNDS, DURATION=$DURATION, CONNS=$CONNS, TOKENS=$TOKENS). Two release builds of \`bench-server --workers $WORKERS\` running at once, $PINNING, driven one at a time: auth-jwt's default backend (aws-lc-rs) and \`--no-default-features --features rust-crypto\` (RustCrypto, the default before issue 17.2). Load: \`wrk -t1 -c$CONNS -d$DURATION -s scripts/tokens.lua\`, a different valid token on every request, the same tokens for both; medians over the interleaved rounds. $( [ -z "$REUSE" ] && echo "No round sent more tokens than its share: nothing was served from a cache." || echo "WARNING: rounds sent more than their share (raise TOKENS):$REUSE.")"
  echo
  echo '| route | rust-crypto req/s | p99 ms | aws-lc-rs req/s | p99 ms | aws-lc-rs / rust-crypto (target ≥ 5 for RS256, ES256) | non-2xx |'
  echo '|---|---:|---:|---:|---:|---:|---:|'
  for alg in $ALGS; do
    x=$(awk -v v="$(median "speedup_$alg" x)" 'BEGIN {printf "%.2f", v}')
    verdict=""
    case $alg in rs256|es256) verdict=$(awk -v v="$x" 'BEGIN {print (v >= 5) ? " met" : " MISSED"}') ;; esac
    printf '| `/jwt/%s` (cold) | %.0f | %s | %.0f | %s | **%s×**%s | %s |\n' "$alg" \
      "$(median "old_$alg" rps)" "$(median "old_$alg" p99)" "$(median "new_$alg" rps)" "$(median "new_$alg" p99)" \
      "$x" "$verdict" "$(( $(nonsum "old_$alg") + $(nonsum "new_$alg") ))"
  done
  printf '| `/open` | %.0f | %s | %.0f | %s | | %s |\n' "$(median old_open rps)" "$(median old_open p99)" \
    "$(median new_open rps)" "$(median new_open p99)" "$(( $(nonsum old_open) + $(nonsum new_open) ))"
} >"$TMP/table.md"
cat "$TMP/table.md"
replace_generated "$OUT" backends "$TMP/table.md" Benchmarks scripts/bench-backends.sh
