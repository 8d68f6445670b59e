#!/usr/bin/env bash
# safe_ddl setup: installs what a fresh Debian 12 machine (as root) lacks, builds and installs
# the extension into the system PostgreSQL 15, then runs the demo (default) or every test.
#
#   bash setup.sh          set up, then run the demo (pg_test/demo.sh)
#   bash setup.sh test     set up, then run every test (pg_test/run.sh)
#   bash setup.sh install  set up only
#
# Idempotent: each step checks first and is skipped when already done, so a second run takes
# seconds (plus the demo or the tests).
set -euo pipefail
cd "$(dirname "$0")"

ACTION="${1:-demo}"
PGRX_VERSION=0.18.1
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-client-15 libclang-dev clang sudo python3 python3-venv gnuplot-nox)

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs packages and writes into PostgreSQL's directories)" >&2
    exit 1
fi

# 1. Debian packages.
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
    say "Debian packages present"
fi
PG_CONFIG="$(command -v pg_config)"
case "$("$PG_CONFIG" --version)" in
    "PostgreSQL 15"*) ;;
    *) echo "setup.sh: $PG_CONFIG is not PostgreSQL 15" >&2; exit 1 ;;
esac

# 2. Rust toolchain and cargo-pgrx.
if ! command -v cargo >/dev/null && [ -f "$HOME/.cargo/env" ]; then
    # shellcheck disable=SC1091
    . "$HOME/.cargo/env"
fi
command -v cargo >/dev/null || { echo "setup.sh: cargo not found (install Rust with rustup)" >&2; exit 1; }
if [ "$(cargo pgrx --version 2>/dev/null || true)" != "cargo-pgrx $PGRX_VERSION" ]; then
    say "installing cargo-pgrx $PGRX_VERSION (takes about 5 minutes)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --quiet
else
    say "cargo-pgrx $PGRX_VERSION present"
fi

# 3. pgrx against the system PostgreSQL 15 (no download, no private Postgres build).
if ! grep -qs "^pg15 = \"$PG_CONFIG\"" "${PGRX_HOME:-$HOME/.pgrx}/config.toml"; then
    say "cargo pgrx init --pg15 $PG_CONFIG"
    cargo pgrx init --pg15 "$PG_CONFIG" >/dev/null
else
    say "pgrx initialised for $PG_CONFIG"
fi

# 4. Build (release) and install into the system PostgreSQL.
say "building and installing safe_ddl into $("$PG_CONFIG" --pkglibdir)"
# shellcheck source=pg_test/lib/install.sh
. pg_test/lib/install.sh
mkdir -p target
install_extension "$PG_CONFIG" target/install.log
say "safe_ddl installed"

case "$ACTION" in
    demo) exec bash pg_test/demo.sh ;;
    test) exec bash pg_test/run.sh ;;
    install) ;;
    *) echo "usage: bash setup.sh [demo|test|install]" >&2; exit 2 ;;
esac
