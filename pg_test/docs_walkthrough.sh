#!/usr/bin/env bash
# The docs' walk-throughs run as shown (issue 16): for each page below, the blocks marked
# ```sql walkthrough (setup) and ```psql walkthrough (a psql transcript) run in page order in one
# psql session on a fresh database `app` of a throwaway cluster with safe_ddl preloaded, and the
# output each transcript shows must be the real one, normalised only where it varies between
# runs (timestamps, durations, sizes, pids, batch counts; pg_test/lib/walkthrough.py). A page
# whose output differs fails with a diff. Takes about 40 seconds.
#
# Usage: bash pg_test/docs_walkthrough.sh [PORT]   (default 55480; as root or postgres)
# Needs the extension installed (pg_test/lib/install.sh). The cluster lives in
# /tmp/docs_walkthrough and is removed on success (kept with the outputs after a failure, or with
# DOCS_WALKTHROUGH_KEEP=1). After a change of output: python3 pg_test/lib/walkthrough.py PAGE regen
# /tmp/docs_walkthrough/NAME.out writes the real output into the page; review it with git diff.
set -euo pipefail
cd "$(dirname "$0")/.."
. pg_test/lib/cluster.sh

PORT="${1:-55480}"
DIR=/tmp/docs_walkthrough
PAGES=(docs/expand-contract.md README.md docs/hazards/constraint_validation.md docs/hazards/index_build.md
    docs/hazards/index_drop.md docs/hazards/large_dml.md docs/hazards/not_null_scan.md
    docs/hazards/partition_detach.md docs/hazards/partition_scan.md docs/hazards/table_rewrite.md
    docs/hazards/drop_column.md docs/hazards/drop_table.md docs/hazards/rename.md
    docs/hazards/active_column_change.md)
OK=0

cleanup() {
    cluster_stop "$DIR" 2>/dev/null || true
    if [ "$OK" != 1 ]; then
        echo "docs_walkthrough: FAILED; outputs and server.log kept in $DIR" >&2
    elif [ -n "${DOCS_WALKTHROUGH_KEEP:-}" ]; then
        echo "docs_walkthrough: outputs kept in $DIR"
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT

cluster_start "$DIR" "$PORT"
failed=0
for page in "${PAGES[@]}"; do
    name="$(basename "$page" .md)"
    python3 pg_test/lib/walkthrough.py "$page" script >"$DIR/$name.sql"
    if ! grep -qv '^\\' "$DIR/$name.sql"; then
        echo "FAIL: $page has no walk-through blocks"; failed=1; continue
    fi
    cluster_psql "$DIR" "$PORT" -d postgres -qAt -v ON_ERROR_STOP=1 \
        -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS app" -c "CREATE DATABASE app" >/dev/null
    # As a reader pastes it: one session, no psqlrc, every input line echoed (-a), from stdin
    # (no "psql:file:line:" prefix on errors).
    cluster_psql "$DIR" "$PORT" -d app -a <"$DIR/$name.sql" >"$DIR/$name.out" 2>&1 || true
    if python3 pg_test/lib/walkthrough.py "$page" compare "$DIR/$name.out" >"$DIR/$name.diff"; then
        echo "PASS: $page: every walk-through output shown is the real one"
    else
        cat "$DIR/$name.diff"
        echo "FAIL: $page: the output shown differs from the real one (above; $DIR/$name.out)"
        failed=1
    fi
done
grep -E "terminated by signal|PANIC:" "$DIR/server.log" && failed=1
[ $failed = 0 ] || exit 1
OK=1
