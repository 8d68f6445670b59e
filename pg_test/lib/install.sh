# Build the extension (release) and install it into the PostgreSQL of $PG_CONFIG atomically:
# each file is copied next to its destination and renamed over it, so backends that have the old
# safe_ddl.so mapped keep their copy instead of crashing on a half-overwritten file (which is
# what an in-place copy, as `cargo pgrx install` does, can do to a running cluster).
# The docs go to <sharedir>/doc/safe_ddl, where safe_ddl.docs_url points by default (messages say
# "See <sharedir>/doc/safe_ddl/hazards/<hazard>.md"), replaced whole.
# Usage: install_extension PG_CONFIG LOGFILE
SAFE_DDL_DOCS_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../docs" && pwd)"
install_extension() {
    local pg_config="$1" log="$2" stage
    cargo pgrx package --pg-config "$pg_config" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
    stage="${CARGO_TARGET_DIR:-target}/release/safe_ddl-pg$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"
    (cd "$stage" && find . -type f) | while read -r f; do
        local dst="/${f#./}"
        install -D -m 0644 "$stage/$f" "$dst.safe_ddl_new"
        mv -f "$dst.safe_ddl_new" "$dst"
    done
    install_docs "$("$pg_config" --sharedir)/doc/safe_ddl"
}

# install_docs DEST: docs/ (the pages messages point to) copied to DEST, replacing what was there.
install_docs() {
    local dst="$1"
    rm -rf "$dst.safe_ddl_new"
    mkdir -p "$(dirname "$dst")"
    cp -r "$SAFE_DDL_DOCS_SRC" "$dst.safe_ddl_new"
    find "$dst.safe_ddl_new" -type d -exec chmod 0755 {} + && find "$dst.safe_ddl_new" -type f -exec chmod 0644 {} +
    rm -rf "$dst"
    mv "$dst.safe_ddl_new" "$dst"
}

# The `safe-ddl` command (src/bin/safe-ddl), release. Built with the flags `cargo pgrx package`
# builds the library with, so the library compiled just before is reused and only the program
# is compiled (other flags would rebuild pgrx and everything under it). The program itself does
# not link the library. Usage: build_cli PG_CONFIG LOGFILE  (prints the binary's path last)
SAFE_DDL_PGRX_RUSTFLAGS="target.'cfg(all(target_family = \"unix\", not(target_os = \"macos\")))'.rustflags = [\"-C\", \"link-arg=-Wl,--no-gc-sections\"]"
build_cli() {
    local pg_config="$1" log="$2" n
    n="$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"
    cargo --config "$SAFE_DDL_PGRX_RUSTFLAGS" build --release --bin safe-ddl \
        --no-default-features --features "pg$n" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
    echo "${CARGO_TARGET_DIR:-target}/release/safe-ddl"
}

# install_cli PG_CONFIG LOGFILE: build_cli, then /usr/local/bin/safe-ddl (renamed into place).
install_cli() {
    local bin
    bin="$(build_cli "$1" "$2" | tail -1)" || return 1
    install -m 0755 "$bin" /usr/local/bin/safe-ddl.safe_ddl_new
    mv -f /usr/local/bin/safe-ddl.safe_ddl_new /usr/local/bin/safe-ddl
}
