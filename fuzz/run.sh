#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (600 by default), one after the
# other on one core, and prints libFuzzer's final statistics per target.
#
#   bash fuzz/run.sh [SECONDS] [TARGET ...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`); on a stable toolchain the
# sanitizer flags need RUSTC_BOOTSTRAP=1, which this script sets. New
# corpus entries stay in fuzz/corpus/<target>/ (ignored by git; the named
# seeds are committed). Logs go to fuzz/runs/<target>.log. A crash stops the
# run with libFuzzer's exit status and leaves the input in fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"
SECS=${1:-600}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(authorization_headers jwt_verify users_yml jwks)
export RUSTC_BOOTSTRAP=1
mkdir -p runs
cargo fuzz build -O
for t in "${TARGETS[@]}"; do
  echo "== $t (${SECS}s)" >&2
  cargo fuzz run -O "$t" -- -max_total_time="$SECS" -print_final_stats=1 >"runs/$t.log" 2>&1
  grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "runs/$t.log" | sed "s/^/$t /"
  echo "$t corpus: $(find "corpus/$t" -type f | wc -l) files"
done
