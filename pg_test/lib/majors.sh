# PostgreSQL majors other than Debian 12's own 15, for building and testing safe_ddl on each.
# Source this file (as root). Everything lives under $SAFE_DDL_OPT (default /opt/safe_ddl):
#
#   15  Debian 12's packages (postgresql-15, postgresql-server-dev-15), installed by setup.sh.
#   17  Debian 13's binary packages, in a Debian 13 root made with debootstrap
#       ($SAFE_DDL_OPT/trixie): they need glibc 2.38, Debian 12 has 2.36, so they run only in that
#       root. $SAFE_DDL_OPT/pg17/bin/pg_config is a wrapper that runs the root's pg_config and
#       prefixes the paths it prints, for building on the host (a library built against the older
#       glibc loads in the newer server). Servers and tests of 17 run inside the root (in_trixie).
#   18  Debian's source package (suite sid), built into $SAFE_DDL_OPT/pg18 (runs on the host).
#
# Other suites are reached through a private apt configuration (own sources list and lists
# directory): the machine's apt sources are never changed, and no other suite's binaries are
# installed on the host.

SAFE_DDL_OPT="${SAFE_DDL_OPT:-/opt/safe_ddl}"
TRIXIE="$SAFE_DDL_OPT/trixie"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# Packages of the Debian 13 root: the server and headers of 17, and what building and testing
# safe_ddl inside the root needs (clang for bindgen, sudo and python3 for the test scripts).
TRIXIE_PACKAGES=(postgresql-17 postgresql-server-dev-17 clang libclang-dev gcc libc6-dev
                 sudo python3 ca-certificates make)

majors_say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# pg_config_of N: the pg_config the host can run for major N (empty if not installed).
pg_config_of() {
    case "$1" in
        15) [ -x /usr/lib/postgresql/15/bin/pg_config ] && echo /usr/lib/postgresql/15/bin/pg_config ;;
        17) [ -x "$SAFE_DDL_OPT/pg17/bin/pg_config" ] && [ -x "$TRIXIE/usr/lib/postgresql/17/bin/postgres" ] \
                && echo "$SAFE_DDL_OPT/pg17/bin/pg_config" ;;
        18) [ -x "$SAFE_DDL_OPT/pg18/bin/postgres" ] && echo "$SAFE_DDL_OPT/pg18/bin/pg_config" ;;
        *) return 1 ;;
    esac
    return 0
}

# in_trixie CMD...: runs CMD as root inside the Debian 13 root, in a private mount namespace (the
# mounts vanish with the last process in it): /proc, /dev, a tmpfs /dev/shm, and the directories
# in SAFE_DDL_BIND (the checkout, the Rust toolchain) at the same paths as on the host.
in_trixie() {
    # sudo inside the root looks the machine's name up in the root's /etc/hosts.
    local host
    host="$(hostname 2>/dev/null || true)"
    if [ -n "$host" ] && [ -f "$TRIXIE/etc/hosts" ] && ! grep -qw -- "$host" "$TRIXIE/etc/hosts"; then
        echo "127.0.1.1 $host" >>"$TRIXIE/etc/hosts"
    fi
    unshare --mount --propagation private -- bash -c '
        set -e
        root="$1"; shift
        mount -t proc proc "$root/proc"
        mount --rbind /dev "$root/dev"
        mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
        for d in $SAFE_DDL_BIND; do
            [ -d "$d" ] || continue
            mkdir -p "$root$d"
            mount --bind "$d" "$root$d"
        done
        exec chroot "$root" "$@"' in_trixie "$TRIXIE" "$@"
}

# get_pg17: the Debian 13 root with PostgreSQL 17, and the host-side pg_config wrapper.
get_pg17() {
    if [ ! -f "$TRIXIE/.safe_ddl_ready" ]; then
        command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
        if [ ! -x "$TRIXIE/usr/bin/apt-get" ]; then
            majors_say "making a Debian 13 root in $TRIXIE (debootstrap, about 20 s)"
            rm -rf "$TRIXIE"
            mkdir -p "$SAFE_DDL_OPT"
            debootstrap --variant=minbase trixie "$TRIXIE" "$DEBIAN_MIRROR" >"$SAFE_DDL_OPT/debootstrap.log" 2>&1 \
                || { tail -20 "$SAFE_DDL_OPT/debootstrap.log" >&2; return 1; }
        fi
        majors_say "installing PostgreSQL 17 in the Debian 13 root (about 1 minute)"
        # No cluster of its own: the tests make theirs.
        mkdir -p "$TRIXIE/etc/postgresql-common/createcluster.d"
        echo "create_main_cluster = false" >"$TRIXIE/etc/postgresql-common/createcluster.d/safe_ddl.conf"
        in_trixie env DEBIAN_FRONTEND=noninteractive bash -c \
            "apt-get update -qq && apt-get install -y -qq --no-install-recommends ${TRIXIE_PACKAGES[*]}" \
            >"$SAFE_DDL_OPT/trixie-apt.log" 2>&1 \
            || { tail -20 "$SAFE_DDL_OPT/trixie-apt.log" >&2; return 1; }
        touch "$TRIXIE/.safe_ddl_ready"
    fi
    mkdir -p "$SAFE_DDL_OPT/pg17/bin"
    # The wrapper: the root's pg_config, with the paths it prints seen from the host.
    cat >"$SAFE_DDL_OPT/pg17/bin/pg_config.new" <<EOF
#!/bin/sh
# pg_config of PostgreSQL 17 in the Debian 13 root $TRIXIE, paths prefixed with the root
# (written by safe_ddl's setup.sh).
root='$TRIXIE'
case "\$1" in
    --bindir|--docdir|--htmldir|--includedir|--pkgincludedir|--includedir-server|--libdir|--pkglibdir|--localedir|--mandir|--sharedir|--sysconfdir|--pgxs)
        echo "\$root\$(chroot "\$root" /usr/lib/postgresql/17/bin/pg_config "\$1")" ;;
    "")
        chroot "\$root" /usr/lib/postgresql/17/bin/pg_config \\
            | sed -E "s#^(BINDIR|DOCDIR|HTMLDIR|INCLUDEDIR|PKGINCLUDEDIR|INCLUDEDIR-SERVER|LIBDIR|PKGLIBDIR|LOCALEDIR|MANDIR|SHAREDIR|SYSCONFDIR|PGXS) = #\\\\1 = \$root#" ;;
    *)
        exec chroot "\$root" /usr/lib/postgresql/17/bin/pg_config "\$@" ;;
esac
EOF
    chmod 755 "$SAFE_DDL_OPT/pg17/bin/pg_config.new"
    mv -f "$SAFE_DDL_OPT/pg17/bin/pg_config.new" "$SAFE_DDL_OPT/pg17/bin/pg_config"
}

# get_pg18: PostgreSQL 18 from Debian's source package (sid), built into $SAFE_DDL_OPT/pg18.
get_pg18() {
    local pgc="$SAFE_DDL_OPT/pg18/bin/pg_config"
    if [ -x "$SAFE_DDL_OPT/pg18/bin/postgres" ] && [ -x "$pgc" ] \
        && [ -x "$("$pgc" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress" ] \
        && [ -f "$("$pgc" --sharedir)/extension/dblink.control" ]; then
        return 0
    fi
    local apt="$SAFE_DDL_OPT/apt-sid" src="$SAFE_DDL_OPT/src18"
    for p in bison flex; do
        command -v "$p" >/dev/null || { apt-get install -y -qq bison flex >/dev/null; break; }
    done
    majors_say "downloading PostgreSQL 18's Debian source package (suite sid)"
    mkdir -p "$apt/lists/partial" "$src"
    echo "deb-src $DEBIAN_MIRROR sid main" >"$apt/sources.list"
    local opts=(-o Dir::Etc::sourcelist="$apt/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$apt/lists")
    apt-get "${opts[@]}" update -qq >/dev/null
    (cd "$src" && rm -f ./*.orig.tar.* && apt-get "${opts[@]}" source --download-only -qq postgresql-18 >/dev/null)
    local tarball
    tarball="$(ls "$src"/postgresql-18_*.orig.tar.*)"
    rm -rf "$src/build" && mkdir -p "$src/build"
    tar -xf "$tarball" -C "$src/build" --strip-components=1
    majors_say "building PostgreSQL 18 into $SAFE_DDL_OPT/pg18 (about 3 minutes)"
    (cd "$src/build" \
        && ./configure --prefix="$SAFE_DDL_OPT/pg18" --without-icu --without-readline --without-zlib >"$src/configure.log" 2>&1 \
        && make -j"$(nproc)" -s >"$src/make.log" 2>&1 \
        && make -s install >>"$src/make.log" 2>&1 \
        && make -s -C src/test/isolation install >>"$src/make.log" 2>&1 \
        && for m in citext dblink pg_prewarm pg_stat_statements; do make -s -C "contrib/$m" install || exit 1; done >>"$src/make.log" 2>&1) \
        || { tail -30 "$src/configure.log" "$src/make.log" >&2; return 1; }
    rm -rf "$src/build"
}
