#!/usr/bin/env bash
# Starts the servers the tests need, on 127.0.0.1 only, and exports their URLs.
# Sourced by .ci/run; safe to source again (a running server is reused).
# Installs what is missing from Debian's packages (CI runs as root on a fresh machine).

ci_apt_updated=0
ci_apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$ci_apt_updated" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q
    ci_apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
}

# PostgreSQL: a throwaway cluster owned by the postgres user, on port 55432.
start_postgres() {
  local bindir
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bindir" ]; then
    ci_apt_install postgresql
    bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  local data=/tmp/auth-ci-pg
  local port=55432
  if ! runuser -u postgres -- "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    rm -rf "$data"
    mkdir -p "$data" && chown postgres:postgres "$data"
    runuser -u postgres -- "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >/dev/null
    runuser -u postgres -- "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k /tmp -c max_connections=200 -c fsync=off" start >/dev/null
  fi
  runuser -u postgres -- "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'auth_test'" | grep -q 1 ||
    runuser -u postgres -- "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres auth_test
  export AUTH_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/auth_test"
  echo "PostgreSQL ready at $AUTH_TEST_POSTGRES_URL"
}

# The OpenID provider (oidc-provider from npm, pinned in .ci/oidc/package-lock.json)
# that the workspace tests start on 127.0.0.1 themselves (tests/tests/common/oidc.rs).
install_oidc_provider() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || ci_apt_install nodejs npm
  if [ ! -f .ci/oidc/node_modules/oidc-provider/package.json ] ||
    [ .ci/oidc/package-lock.json -nt .ci/oidc/node_modules/.package-lock.json ]; then
    npm ci --prefix .ci/oidc --no-audit --no-fund --loglevel=error
  fi
  echo "oidc-provider $(node -p "require('./.ci/oidc/node_modules/oidc-provider/package.json').version") installed (node $(node --version))"
}

# redis-server for auth-store's tests, which start their own servers on free
# 127.0.0.1 ports (auth-store/tests/redis.rs); only the binary is needed.
install_redis() {
  command -v redis-server >/dev/null 2>&1 || ci_apt_install redis-server
  echo "$(redis-server --version | cut -d' ' -f1-3) installed"
}

# A headless browser for the page tests (tests/tests/todo_browser.rs, through
# tests/tests/common/browser.rs): Debian's chromium, driven by playwright-core
# (pinned in .ci/browser/package-lock.json), which is pointed at
# /usr/bin/chromium and downloads no browser of its own.
install_browser() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || ci_apt_install nodejs npm
  [ -x /usr/bin/chromium ] || ci_apt_install chromium
  if [ ! -f .ci/browser/node_modules/playwright-core/package.json ] ||
    [ .ci/browser/package-lock.json -nt .ci/browser/node_modules/.package-lock.json ]; then
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix .ci/browser --no-audit --no-fund --loglevel=error
  fi
  echo "playwright-core $(node -p "require('./.ci/browser/node_modules/playwright-core/package.json').version") with $(/usr/bin/chromium --version 2>/dev/null | head -n 1)"
}

# openapi-spec-validator (PyPI, pinned) for the workspace test that validates the
# todo example's /openapi.json (tests/tests/openapi.rs); with CI=true the test
# fails when the validator is missing.
OPENAPI_SPEC_VALIDATOR_VERSION=0.9.0
install_openapi_validator() {
  if ! command -v python3 >/dev/null 2>&1; then
    ci_apt_install python3 python3-pip python3-venv
  fi
  local installed
  installed=$(python3 -c 'import openapi_spec_validator, importlib.metadata as m; print(m.version("openapi-spec-validator"))' 2>/dev/null || true)
  if [ "$installed" != "$OPENAPI_SPEC_VALIDATOR_VERSION" ] || ! command -v openapi-spec-validator >/dev/null 2>&1; then
    python3 -m pip install --quiet "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION" ||
      python3 -m pip install --quiet --break-system-packages "openapi-spec-validator==$OPENAPI_SPEC_VALIDATOR_VERSION"
  fi
  echo "openapi-spec-validator $(python3 -c 'import importlib.metadata as m; print(m.version("openapi-spec-validator"))') installed"
}
