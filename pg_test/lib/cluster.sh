# Throwaway PostgreSQL clusters for safe_ddl's demo and tests. Source this file.
#
# initdb refuses to run as root, so the cluster belongs to the postgres OS user; it listens only
# on a private Unix socket directory and port, never on TCP.

# The PostgreSQL of $PG_CONFIG (default: the pg_config on PATH, Debian 12's 15).
PG_CONFIG="${PG_CONFIG:-$(command -v pg_config)}"
PGBIN="$("$PG_CONFIG" --bindir)"
PGXS_TEST="$("$PG_CONFIG" --pkglibdir)/pgxs/src/test"
PG_MAJOR="$("$PG_CONFIG" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"

as_postgres() {
    # From /: the caller's directory may be one postgres cannot enter (a checkout under /root),
    # and Postgres' programs complain (or fail) when they cannot stay in it. Paths are absolute.
    if [ "$(id -un)" = postgres ]; then "$@"; else (cd / && sudo -u postgres -H -- "$@"); fi
}

# cluster_start DIR PORT [extra postgresql.conf lines...]
# Creates DIR/data (fresh), starts the server with safe_ddl preloaded (unless
# SAFE_DDL_PRELOAD is set to something else, e.g. empty), sockets in DIR/sock.
cluster_start() {
    local dir="$1" port="$2"; shift 2
    cluster_stop "$dir" 2>/dev/null || true
    rm -rf "$dir"
    mkdir -p "$dir/sock"
    chown -R postgres:postgres "$dir" 2>/dev/null || true
    as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log"; return 1; }
    {
        echo "port = $port"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$dir/sock'"
        echo "shared_preload_libraries = '${SAFE_DDL_PRELOAD-safe_ddl}'"
        echo "fsync = off"
        echo "synchronous_commit = off"
        echo "full_page_writes = off"
        echo "max_connections = 50"
        echo "logging_collector = off"
        echo "log_line_prefix = '%m [%p] %u@%d '"
        # Messages keep saying "See docs/hazards/x.md" (this repository's path) in test outputs;
        # the installed default is tested by pg_test/regress/sql/docs_url.sql.
        echo "safe_ddl.docs_url = 'docs'"
        for line in "$@"; do echo "$line"; done
    } | as_postgres tee -a "$dir/data/postgresql.conf" >/dev/null
    # RUST_BACKTRACE in the server's environment would append backtraces to error DETAILs.
    as_postgres env -u RUST_BACKTRACE "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
        || { cat "$dir/server.log"; return 1; }
}

cluster_stop() {
    local dir="$1"
    [ -f "$dir/data/postmaster.pid" ] || return 0
    as_postgres "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

# cluster_psql DIR PORT [psql args...]
cluster_psql() {
    local dir="$1" port="$2"; shift 2
    as_postgres "$PGBIN/psql" -X -h "$dir/sock" -p "$port" -U postgres "$@"
}
