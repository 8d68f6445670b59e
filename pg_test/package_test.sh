#!/usr/bin/env bash
# A Debian package of safe_ddl on a clean Debian root (debootstrap, with Debian's postgresql-N
# and nothing of safe_ddl or Rust): `dpkg -i` installs it, a cluster with it preloaded refuses a
# plain CREATE INDEX on a populated table with safe_ddl's SQLSTATE and HINT, and `dpkg -r` leaves
# none of its files behind.
#
# Usage: bash pg_test/package_test.sh [N]   (as root; builds the package first)
#   N = 15 (default): the 15 package on Debian 12 (bookworm)
#   N = 17: the 17 package (built on this Debian 12 host) on Debian 13 (trixie), Debian's own 17
#   N = 18: the 18 package (built against the source build of 18) on Debian sid, Debian's own 18
# The root is kept in $SAFE_DDL_OPT/pkgtest-<suite> (made once, about 1 minute) and checked clean
# of safe_ddl before each run.
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/majors.sh
. pg_test/lib/install.sh
. pg_test/lib/package.sh

N="${1:-15}"
case "$N" in
    15) SUITE=bookworm ;;
    17) SUITE=trixie ;;
    18) SUITE=sid ;;
    *) echo "package_test: N is 15, 17 or 18" >&2; exit 2 ;;
esac
CLEAN_ROOT="$SAFE_DDL_OPT/pkgtest-$SUITE"
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }
in_clean_root() { TRIXIE="$CLEAN_ROOT" SAFE_DDL_BIND="" in_trixie "$@"; }

deb="$(build_package "$N" | tail -1)"
[ -f "$deb" ] || fail "no package built"
echo "package: $deb"
dpkg-deb -c "$deb" | awk '{print $6}'
cli_deb="$(build_cli_package | tail -1)"
[ -f "$cli_deb" ] || fail "no safe-ddl package built"
echo "package: $cli_deb"
dpkg-deb -c "$cli_deb" | awk '{print $6}'

if [ ! -f "$CLEAN_ROOT/.safe_ddl_ready" ]; then
    echo "making a clean Debian $SUITE root with postgresql-$N in $CLEAN_ROOT"
    rm -rf "$CLEAN_ROOT"
    debootstrap --variant=minbase "$SUITE" "$CLEAN_ROOT" "$DEBIAN_MIRROR" >/tmp/package_test_debootstrap.log 2>&1 \
        || { tail -20 /tmp/package_test_debootstrap.log; fail "debootstrap"; }
    # Check-Valid-Until=false: the mirror reachable here serves sid's Release file past its
    # Valid-Until date (apt refuses it otherwise); the stable suites are not affected.
    mkdir -p "$CLEAN_ROOT/etc/postgresql-common/createcluster.d"
    echo "create_main_cluster = false" >"$CLEAN_ROOT/etc/postgresql-common/createcluster.d/safe_ddl.conf"
    in_clean_root env DEBIAN_FRONTEND=noninteractive bash -c \
        "apt-get -o Acquire::Check-Valid-Until=false update -qq && apt-get install -y -qq --no-install-recommends postgresql-$N sudo" \
        >/tmp/package_test_apt.log 2>&1 || { tail -20 /tmp/package_test_apt.log; fail "apt-get install postgresql-$N"; }
    touch "$CLEAN_ROOT/.safe_ddl_ready"
fi

# The root has no toolchain and no copy of safe_ddl.
for f in usr/bin/cargo usr/bin/rustc usr/bin/clang root/.cargo/bin/cargo; do
    [ ! -e "$CLEAN_ROOT/$f" ] || fail "the clean root has $f"
done
if find "$CLEAN_ROOT/usr" -name 'safe_ddl*' | grep -q .; then
    in_clean_root dpkg -r "postgresql-$N-safe-ddl" safe-ddl >/dev/null 2>&1 || true
    ! find "$CLEAN_ROOT/usr" -name 'safe_ddl*' | grep . || fail "the clean root has safe_ddl files not from the package"
fi

[ ! -e "$CLEAN_ROOT/usr/bin/safe-ddl" ] || in_clean_root dpkg -r safe-ddl >/dev/null 2>&1 || true
[ ! -e "$CLEAN_ROOT/usr/bin/safe-ddl" ] || fail "the clean root has a safe-ddl command not from the package"
cp "$deb" "$CLEAN_ROOT/tmp/safe_ddl.deb"
cp "$cli_deb" "$CLEAN_ROOT/tmp/safe_ddl_cli.deb"
script='
set -euo pipefail
N=$1
dpkg -i /tmp/safe_ddl.deb
dpkg -s postgresql-$N-safe-ddl | grep -E "^(Status|Version|Depends):"
rm -rf /tmp/pkgtest && mkdir -p /tmp/pkgtest/sock && chown -R postgres:postgres /tmp/pkgtest
cd /
B=/usr/lib/postgresql/$N/bin
sudo -u postgres $B/initdb -D /tmp/pkgtest/data -U postgres --auth=trust --no-sync >/dev/null
cat >>/tmp/pkgtest/data/postgresql.conf <<CONF
listen_addresses = '\'''\''
unix_socket_directories = '\''/tmp/pkgtest/sock'\''
port = 54390
shared_preload_libraries = '\''safe_ddl'\''
CONF
sudo -u postgres $B/pg_ctl -D /tmp/pkgtest/data -l /tmp/pkgtest/server.log -w start >/dev/null
psql() { sudo -u postgres $B/psql -X -h /tmp/pkgtest/sock -p 54390 -U postgres "$@"; }
set +e
out="$(psql -v ON_ERROR_STOP=1 -v VERBOSITY=verbose 2>&1 <<SQL
CREATE EXTENSION safe_ddl;
SELECT value AS guard_active FROM safe_ddl.status() WHERE setting = '\''guard_active'\'';
CREATE TABLE orders (id bigint, customer int);
INSERT INTO orders SELECT g, g % 100 FROM generate_series(1, 20000) g;
ANALYZE orders;
\set VERBOSITY verbose
CREATE INDEX orders_customer ON orders (customer);
SQL
)"
rc=$?
set -e
echo "$out"
sudo -u postgres $B/pg_ctl -D /tmp/pkgtest/data -m fast -w stop >/dev/null
[ $rc -ne 0 ] || { echo "CREATE INDEX was not refused"; exit 1; }
echo "$out" | grep -q "guard_active" || { echo "no status row"; exit 1; }
echo "$out" | grep -Eq "ERROR:  [0-9A-Z]{5}: .*index_build|ERROR:.*index_build" || { echo "no index_build refusal"; exit 1; }
echo "$out" | grep -q "CREATE INDEX CONCURRENTLY" || { echo "no CONCURRENTLY recipe in the HINT"; exit 1; }
page=/usr/share/postgresql/$N/doc/safe_ddl/hazards/index_build.md
echo "$out" | grep -qF "See $page" || { echo "the HINT does not point to the installed docs ($page)"; exit 1; }
[ -s "$page" ] || { echo "$page is not installed"; exit 1; }
# The safe-ddl command from its package, as root (the throwaway cluster runs as postgres), from
# a clean directory: refused and allowed findings with file:line:col, exit status 1.
dpkg -i /tmp/safe_ddl_cli.deb
rm -rf /tmp/clitest && mkdir /tmp/clitest && cd /tmp/clitest
printf "CREATE TABLE orders (id bigint PRIMARY KEY, customer int);\n" >schema.sql
printf -- "-- safe_ddl: allow index_build\nCREATE INDEX orders_id2 ON orders (id);\nCREATE INDEX orders_customer ON orders (customer);\n" >0001_indexes.sql
set +e
out="$(safe-ddl check --ephemeral --schema schema.sql 0001_indexes.sql 2>&1)"
rc=$?
set -e
echo "$out"
[ $rc -eq 1 ] || { echo "safe-ddl check --ephemeral exited $rc, not 1"; exit 1; }
echo "$out" | grep -q "^0001_indexes.sql:3:1: .*index_build" || { echo "no refused index_build at 0001_indexes.sql:3:1"; exit 1; }
echo "$out" | grep -q "^0001_indexes.sql:2:1: .*allowed" || { echo "the inline allow at 0001_indexes.sql:2 was not reported as allowed"; exit 1; }
echo "$out" | grep -q "CREATE INDEX CONCURRENTLY orders_customer" || { echo "no recipe"; exit 1; }
! ls -d /tmp/safe-ddl.* 2>/dev/null || { echo "the throwaway cluster was left in /tmp"; exit 1; }
cd /
dpkg -r safe-ddl
dpkg -r postgresql-$N-safe-ddl
'
in_clean_root bash -c "$script" package_test "$N" || fail "install, refusal or removal failed inside the clean root"

# dpkg -r left none of the package's files.
left=0
while read -r f; do
    f="${f#./}"
    case "$f" in ""|*/) continue ;; esac
    if [ -f "$CLEAN_ROOT/$f" ]; then echo "left behind: /$f"; left=1; fi
done < <(dpkg-deb -c "$deb" | awk '{print $6}'; dpkg-deb -c "$cli_deb" | awk '{print $6}')
[ $left = 0 ] || fail "dpkg -r left files"
if find "$CLEAN_ROOT/usr" -name 'safe_ddl*' | grep .; then fail "safe_ddl files left after dpkg -r"; fi
rm -f "$CLEAN_ROOT/tmp/safe_ddl.deb" "$CLEAN_ROOT/tmp/safe_ddl_cli.deb"
echo "package_test: the $N package installs on a clean Debian $SUITE root, refuses a plain CREATE INDEX with its recipe and the installed docs page, the safe-ddl package checks a migration in a throwaway cluster as root, and both remove cleanly"
