#!/usr/bin/env bash
# safe_ddl setup: installs what a fresh Debian 12 machine (as root) lacks, builds and installs
# the extension, then runs the demo (default) or every test.
#
#   bash setup.sh                    set up (PostgreSQL 15), then run the demo (pg_test/demo.sh)
#   bash setup.sh test               set up 15, 17 and 18, then run every test: the full suite on
#                                    15, the server-behaviour suites on 17 and 18, the .deb test
#   bash setup.sh install [--pg N]   set up only, for major N (15, 17 or 18; default 15): gets
#                                    PostgreSQL N if the machine has none, builds and installs
#                                    safe_ddl into it, and the safe-ddl command at
#                                    /usr/local/bin/safe-ddl. Last line: pg_config: <path>
#   bash setup.sh cluster [--pg N] [stop]
#                                    start (or restart) a throwaway cluster of major N with
#                                    safe_ddl preloaded, Unix socket only; last line:
#                                    host=<socket dir> port=<port>. With stop: stop it.
#   bash setup.sh package [--pg N]   Debian packages in target/packages/, one per tested major
#                                    (or only N): postgresql-<N>-safe-ddl_<version>_amd64.deb,
#                                    and the safe-ddl command's: safe-ddl_<version>_amd64.deb
#
# Where the majors come from (pg_test/lib/majors.sh): 15 from Debian 12's packages; 17 from Debian
# 13's packages in a debootstrap root under /opt/safe_ddl (they need a newer glibc than Debian
# 12's); 18 built from Debian's source package into /opt/safe_ddl/pg18. The machine's apt sources
# are never changed.
#
# Idempotent: each step checks first and is skipped when already done, so a second run takes
# seconds (plus the demo or the tests).
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$PWD"

ACTION="${1:-demo}"
[ $# -gt 0 ] && shift
MAJOR=15
MAJOR_GIVEN=0
STOP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --pg) MAJOR="${2:-}"; MAJOR_GIVEN=1; shift 2 || { echo "setup.sh: --pg needs a major (15, 17 or 18)" >&2; exit 2; } ;;
        --pg=*) MAJOR="${1#--pg=}"; MAJOR_GIVEN=1; shift ;;
        stop) STOP=1; shift ;;
        *) echo "setup.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
TESTED_MAJORS=(15 17 18)
case " ${TESTED_MAJORS[*]} " in
    *" $MAJOR "*) ;;
    *) echo "setup.sh: PostgreSQL $MAJOR is not one of the tested majors (${TESTED_MAJORS[*]}); 16 and 14 are untested" >&2; exit 2 ;;
esac

PGRX_VERSION=0.18.1
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-client-15 libclang-dev clang sudo python3 python3-venv
              gnuplot-nox debootstrap bison flex)

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "setup.sh: run as root (it installs packages and writes into PostgreSQL's directories)" >&2
    exit 1
fi

# shellcheck source=pg_test/lib/majors.sh
. pg_test/lib/majors.sh
# shellcheck source=pg_test/lib/install.sh
. pg_test/lib/install.sh
# shellcheck source=pg_test/lib/package.sh
. pg_test/lib/package.sh

# 1. Debian packages.
base_packages() {
    local missing=() p
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
}

# 2. Rust toolchain and cargo-pgrx.
rust_toolchain() {
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
}

# 3. PostgreSQL N, and pgrx initialised for every major this machine has (cargo pgrx init
# rewrites its list, so it is given all of them; no download, no private Postgres build).
get_major() {
    case "$1" in
        15) ;;
        17) get_pg17 ;;
        18) get_pg18 ;;
    esac
    local pgc
    pgc="$(pg_config_of "$1")" || true
    [ -n "$pgc" ] || { echo "setup.sh: PostgreSQL $1 not found after installing it" >&2; exit 1; }
}

pgrx_init() {
    local args=() want="" n pgc
    for n in "${TESTED_MAJORS[@]}"; do
        pgc="$(pg_config_of "$n")" || true
        [ -n "$pgc" ] || continue
        args+=("--pg$n" "$pgc")
        want+="pg$n = \"$pgc\""$'\n'
    done
    local config="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
    if [ "$(grep -s '^pg[0-9]* = ' "$config" | sort)" != "$(printf '%s' "$want" | sort)" ]; then
        say "cargo pgrx init ${args[*]}"
        cargo pgrx init "${args[@]}" >/dev/null
    else
        say "pgrx initialised for ${args[*]}"
    fi
}

# 4. Build (release) and install into PostgreSQL N.
install_into() {
    local pgc
    pgc="$(pg_config_of "$1")"
    say "building and installing safe_ddl into PostgreSQL $1 ($("$pgc" --pkglibdir))"
    mkdir -p target
    install_extension "$pgc" "target/install-pg$1.log"
    install_cli "$pgc" "target/install-cli.log"
    say "safe_ddl installed; the safe-ddl command: /usr/local/bin/safe-ddl"
}

setup_major() {
    base_packages
    rust_toolchain
    get_major "$1"
    pgrx_init
    install_into "$1"
}

# The throwaway cluster of `setup.sh cluster --pg N`: 15 and 18 on the host, 17 inside the
# Debian 13 root (its socket directory is visible from the host under the root).
cluster_dir_of() { echo "/var/lib/safe_ddl/cluster$1"; }
cluster_port_of() { echo "543$1"; }

cluster_cmd() {
    local n="$1" stop="$2" dir port
    dir="$(cluster_dir_of "$n")"
    port="$(cluster_port_of "$n")"
    if [ "$n" = 17 ]; then
        # The root's own copy of cluster.sh: the checkout may not stay where it is.
        mkdir -p "$TRIXIE/var/lib/safe_ddl"
        cp pg_test/lib/cluster.sh "$TRIXIE/var/lib/safe_ddl/cluster.sh"
        local fn=cluster_start
        [ "$stop" = 1 ] && fn=cluster_stop
        in_trixie env PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config bash -c \
            ". /var/lib/safe_ddl/cluster.sh && $fn $dir $port"
        dir="$TRIXIE$dir"
    else
        (
            PG_CONFIG="$(pg_config_of "$n")"
            # shellcheck source=pg_test/lib/cluster.sh
            . pg_test/lib/cluster.sh
            if [ "$stop" = 1 ]; then cluster_stop "$dir"; else cluster_start "$dir" "$port"; fi
        )
    fi
    if [ "$stop" = 1 ]; then
        say "PostgreSQL $n cluster stopped"
    else
        say "PostgreSQL $n cluster with safe_ddl preloaded; log: $dir/server.log"
        say "connect: psql -h $dir/sock -p $port -U postgres postgres"
        echo "host=$dir/sock port=$port"
    fi
}

# The test command: the full suite on 15; on 17 and 18 the suites that check server behaviour
# (unit, #[pg_test], pg_regress, isolation, robustness), 18 on the host, 17 inside the Debian 13
# root (with the checkout and the Rust toolchain bound in, its own target directory and pgrx home).
test_all() {
    local failed=() started=$SECONDS
    for n in "${TESTED_MAJORS[@]}"; do get_major "$n"; done
    pgrx_init
    install_into 15

    say "==== PostgreSQL 15: every suite ===="
    # pg_test/cli.sh tests the safe-ddl command install_into just built and installed.
    SAFE_DDL_BIN=/usr/local/bin/safe-ddl bash pg_test/run.sh || failed+=("PostgreSQL 15")

    say "==== PostgreSQL 17 and 18: the safe_ddl library builds without warnings (clippy) ===="
    local n
    for n in 17 18; do
        cargo clippy --quiet --all-targets --no-default-features --features "pg$n pg_test" -- -D warnings \
            || failed+=("clippy pg$n")
    done

    say "==== PostgreSQL 18: server behaviour suites ===="
    PG_CONFIG="$(pg_config_of 18)" SAFE_DDL_TEST_DIR=/tmp/safe_ddl_test18 SAFE_DDL_TEST_PORT=54360 \
        bash pg_test/run.sh --server-only || failed+=("PostgreSQL 18")

    say "==== PostgreSQL 17 (inside the Debian 13 root): server behaviour suites ===="
    test_in_trixie || failed+=("PostgreSQL 17")

    say "==== Debian packages: install, use and remove on clean Debian roots (15: Debian 12, 17: Debian 13, 18: sid) ===="
    for n in "${TESTED_MAJORS[@]}"; do
        bash pg_test/package_test.sh "$n" || failed+=("package $n")
    done

    say "tests took $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
    if [ ${#failed[@]} -ne 0 ]; then
        printf '\nFAILED: %s\n' "${failed[@]}"
        return 1
    fi
    printf '\nAll safe_ddl tests passed on PostgreSQL %s.\n' "${TESTED_MAJORS[*]}"
}

test_in_trixie() {
    local cargo_home="${CARGO_HOME:-$HOME/.cargo}" rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
    SAFE_DDL_BIND="$ROOT $cargo_home $rustup_home" in_trixie env -i \
        HOME="$HOME" CARGO_HOME="$cargo_home" RUSTUP_HOME="$rustup_home" \
        PATH="$cargo_home/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
        LANG=C.UTF-8 PGRX_HOME=/var/lib/safe_ddl/pgrx CARGO_TARGET_DIR="$ROOT/target/trixie" \
        PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config SAFE_DDL_TEST_DIR=/tmp/safe_ddl_test17 \
        SAFE_DDL_TEST_PORT=54380 bash -c '
            set -e
            cd "$1"
            if ! grep -qs "^pg17 = " "$PGRX_HOME/config.toml"; then
                mkdir -p "$PGRX_HOME"
                cargo pgrx init --pg17 "$PG_CONFIG" >/dev/null
            fi
            exec bash pg_test/run.sh --server-only' test_in_trixie "$ROOT"
}

case "$ACTION" in
    demo)
        setup_major 15
        exec bash pg_test/demo.sh ;;
    install)
        setup_major "$MAJOR"
        echo "pg_config: $(pg_config_of "$MAJOR")" ;;
    cluster)
        if [ "$STOP" = 0 ]; then setup_major "$MAJOR"; fi
        cluster_cmd "$MAJOR" "$STOP" ;;
    package)
        base_packages
        rust_toolchain
        majors=("${TESTED_MAJORS[@]}")
        if [ "$MAJOR_GIVEN" = 1 ]; then majors=("$MAJOR"); fi
        for n in "${majors[@]}"; do get_major "$n"; done
        pgrx_init
        for n in "${majors[@]}"; do build_package "$n"; done
        build_cli_package ;;
    test)
        base_packages
        rust_toolchain
        test_all ;;
    *) echo "usage: bash setup.sh [demo|test|install|cluster|package] [--pg 15|17|18] [stop]" >&2; exit 2 ;;
esac
