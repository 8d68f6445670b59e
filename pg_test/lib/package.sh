# Debian packages of safe_ddl, one per PostgreSQL major, from `cargo pgrx package` output.
# Source this file after majors.sh. Usage: build_package N  (writes
# target/packages/postgresql-N-safe-ddl_<version>_amd64.deb and prints its path last).
#
# The package holds what `cargo pgrx package` stages for major N, moved to Debian's layout for
# that major whatever the building pg_config's own paths are (17 is built through the Debian 13
# root's wrapper, 18 against a source build in /opt/safe_ddl/pg18):
#   the library      /usr/lib/postgresql/N/lib/safe_ddl.so
#   control and SQL  /usr/share/postgresql/N/extension/safe_ddl.control, safe_ddl--<v>.sql
#   the docs         /usr/share/postgresql/N/doc/safe_ddl/ (where messages point: safe_ddl.docs_url)
# Depends: postgresql-N. It does not preload itself: shared_preload_libraries is the DBA's
# postgresql.conf, and a restart is theirs to schedule (README).

package_version() {
    sed -nE 's/^version = "([^"]+)"/\1/p' Cargo.toml | head -1
}

build_package() {
    local n="$1" pgc version stage pkgroot log
    pgc="$(pg_config_of "$n")"
    version="$(package_version)"
    log="target/package-pg$n.log"
    mkdir -p target/packages
    printf '\033[1m[setup]\033[0m %s\n' "building the PostgreSQL $n package (release)" >&2
    cargo pgrx package --pg-config "$pgc" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
    stage="${CARGO_TARGET_DIR:-target}/release/safe_ddl-pg$n"
    pkgroot="target/packages/root-pg$n"
    rm -rf "$pkgroot"
    local libdst="$pkgroot/usr/lib/postgresql/$n/lib" extdst="$pkgroot/usr/share/postgresql/$n/extension"
    mkdir -p "$libdst" "$extdst" "$pkgroot/DEBIAN" "$pkgroot/usr/share/doc/postgresql-$n-safe-ddl"
    install -m 0644 "$stage$("$pgc" --pkglibdir)/safe_ddl.so" "$libdst/safe_ddl.so"
    install -m 0644 "$stage$("$pgc" --sharedir)/extension/"safe_ddl* "$extdst/"
    strip --strip-unneeded "$libdst/safe_ddl.so"
    install -m 0644 README.md "$pkgroot/usr/share/doc/postgresql-$n-safe-ddl/README.md"
    # The docs pages messages point to (safe_ddl.docs_url's default: <sharedir>/doc/safe_ddl).
    mkdir -p "$pkgroot/usr/share/postgresql/$n/doc"
    cp -r docs "$pkgroot/usr/share/postgresql/$n/doc/safe_ddl"
    find "$pkgroot/usr/share/postgresql/$n/doc" -type d -exec chmod 0755 {} +
    find "$pkgroot/usr/share/postgresql/$n/doc" -type f -exec chmod 0644 {} +
    cat >"$pkgroot/DEBIAN/control" <<EOF
Package: postgresql-$n-safe-ddl
Version: $version
Architecture: amd64
Maintainer: safe_ddl developers <safe-ddl@localhost>
Depends: postgresql-$n, libc6 (>= 2.34)
Section: database
Priority: optional
Installed-Size: $(du -sk "$pkgroot/usr" | cut -f1)
Homepage: https://github.com/safe-ddl/safe_ddl
Description: zero-downtime schema changes by default for PostgreSQL $n
 safe_ddl guards every client of a cluster against DDL that blocks or rewrites
 production tables (CREATE INDEX without CONCURRENTLY, ALTER COLUMN TYPE,
 validating scans under ACCESS EXCLUSIVE, ...): it refuses them with the safe
 recipe as exact SQL, bounds lock waits, and offers batched backfills and
 expand/contract helpers. Add safe_ddl to shared_preload_libraries, restart,
 then CREATE EXTENSION safe_ddl.
EOF
    write_deb "$pkgroot" "target/packages/postgresql-$n-safe-ddl_${version}_amd64.deb"
}

# write_deb PKGROOT DEB: build DEB from PKGROOT (DEBIAN/control and the files), remove PKGROOT,
# print DEB's path.
write_deb() {
    dpkg-deb --root-owner-group -Zxz --build "$1" "$2" >/dev/null
    rm -rf "$1"
    printf '\033[1m[setup]\033[0m %s\n' "wrote $2" >&2
    echo "$2"
}

# The `safe-ddl` command's package, one for every major (the program talks to any server over
# libpq; --ephemeral needs one of the postgresql-N-safe-ddl packages, hence Recommends):
# target/packages/safe-ddl_<version>_amd64.deb with /usr/bin/safe-ddl. Prints its path last.
# Needs install.sh (build_cli) sourced.
build_cli_package() {
    local version pkgroot bin
    version="$(package_version)"
    mkdir -p target/packages
    printf '\033[1m[setup]\033[0m %s\n' "building the safe-ddl command's package (release)" >&2
    bin="$(build_cli "$(pg_config_of 15)" target/package-cli.log | tail -1)" || return 1
    pkgroot="target/packages/root-cli"
    rm -rf "$pkgroot"
    mkdir -p "$pkgroot/usr/bin" "$pkgroot/DEBIAN" "$pkgroot/usr/share/doc/safe-ddl"
    install -m 0755 "$bin" "$pkgroot/usr/bin/safe-ddl"
    strip --strip-unneeded "$pkgroot/usr/bin/safe-ddl"
    install -m 0644 docs/ci.md "$pkgroot/usr/share/doc/safe-ddl/ci.md"
    cat >"$pkgroot/DEBIAN/control" <<CONTROL
Package: safe-ddl
Version: $version
Architecture: amd64
Maintainer: safe_ddl developers <safe-ddl@localhost>
Depends: libpq5, libc6 (>= 2.34)
Recommends: postgresql-18-safe-ddl | postgresql-17-safe-ddl | postgresql-15-safe-ddl
Section: database
Priority: optional
Installed-Size: $(du -sk "$pkgroot/usr" | cut -f1)
Homepage: https://github.com/safe-ddl/safe_ddl
Description: check PostgreSQL migrations with safe_ddl in CI and pre-commit hooks
 safe-ddl check reads migration files and reports each statement the safe_ddl
 extension would refuse (hazard, lock, table size, the safe recipe) with its
 file, line and column, as text, JSON or GitHub annotations: against a live
 database or a hot standby (read-only, nothing executed), or against a
 throwaway cluster it starts itself with the schema loaded (--ephemeral).
CONTROL
    write_deb "$pkgroot" "target/packages/safe-ddl_${version}_amd64.deb"
}
