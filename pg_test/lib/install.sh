# Build the extension (release) and install it into the PostgreSQL of $PG_CONFIG atomically:
# each file is copied next to its destination and renamed over it, so backends that have the old
# safe_ddl.so mapped keep their copy instead of crashing on a half-overwritten file (which is
# what an in-place copy, as `cargo pgrx install` does, can do to a running cluster).
# Usage: install_extension PG_CONFIG LOGFILE
install_extension() {
    local pg_config="$1" log="$2" stage
    cargo pgrx package --pg-config "$pg_config" >"$log" 2>&1 || { cat "$log" >&2; return 1; }
    stage="${CARGO_TARGET_DIR:-target}/release/safe_ddl-pg$("$pg_config" --version | sed -E 's/^PostgreSQL ([0-9]+).*/\1/')"
    (cd "$stage" && find . -type f) | while read -r f; do
        local dst="/${f#./}"
        install -D -m 0644 "$stage/$f" "$dst.safe_ddl_new"
        mv -f "$dst.safe_ddl_new" "$dst"
    done
}
