#!/usr/bin/env bash
# bench/fresh_migrate.sh: what safe_ddl costs a migration history replayed on a new, empty
# database (a test run, a CI job, a new environment; issue 13).
#
# Two clusters of the installed PostgreSQL: one with safe_ddl preloaded (enforce mode, defaults),
# one without it. Each round creates a new database on each (the order alternating between
# rounds) and times `manage.py migrate` of the test project pg_test/django with every app it can
# install (SHOP_EXTRA_APPS=1: Django's contrib apps, django-allauth, django-celery-results, and
# the shop's unsafe chain with SHOP_SEED_ROWS=0): 39 statements that safe_ddl would refuse on a
# table holding data, all on empty tables or never-used objects here, so every one goes through
# the emptiness check under its lock or the creation record, none is refused. Reports the wall
# time per round, median and mean per side, and the ratio of the medians.
#
# Usage (repo root, as root, safe_ddl installed): bash bench/fresh_migrate.sh
# Environment: BENCH_DIR [/tmp/bench_fresh]  BENCH_PORT [55486] (and +1)  BENCH_ROUNDS [7]
#              BENCH_RESULTS [bench/results]
# Needs pg_test/django/.venv (made by pg_test/django_test.sh). About 1 min with the defaults.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
RESULTS="$(realpath -m "${BENCH_RESULTS:-$HERE/results}")"   # relative to the caller's directory
cd "$HERE/.."
. pg_test/lib/cluster.sh

DIR="${BENCH_DIR:-/tmp/bench_fresh}"
PORT="${BENCH_PORT:-55486}"
ROUNDS="${BENCH_ROUNDS:-7}"
PROJECT="$PWD/pg_test/django"
PY="$PROJECT/.venv/bin/python"
OUT="$RESULTS/fresh_migrate.txt"
[ -x "$PY" ] || { echo "fresh_migrate: $PY missing: run bash pg_test/django_test.sh once first" >&2; exit 1; }
mkdir -p "$RESULTS"

cleanup() {
    cluster_stop "$DIR/guarded" 2>/dev/null || true
    cluster_stop "$DIR/plain" 2>/dev/null || true
}
trap cleanup EXIT
cluster_start "$DIR/guarded" "$PORT"
SAFE_DDL_PRELOAD='' cluster_start "$DIR/plain" "$((PORT + 1))"

# migrate SIDE ROUND -> seconds (3 decimals); the database is new and empty
migrate() {
    local side="$1" round="$2" port="$PORT" db="fresh_$2" t0 t1
    [ "$side" = plain ] && port=$((PORT + 1))
    cluster_psql "$DIR/$side" "$port" -d postgres -qc "CREATE DATABASE $db" >/dev/null
    t0=$(date +%s.%N)
    env PGHOST="$DIR/$side/sock" PGPORT="$port" PGUSER=postgres PGDATABASE="$db" \
        SHOP_EXTRA_APPS=1 SHOP_MIGRATIONS=unsafe SHOP_SEED_ROWS=0 PYTHONDONTWRITEBYTECODE=1 \
        "$PY" "$PROJECT/manage.py" migrate --no-input >"$DIR/${side}_$round.out" 2>&1 \
        || { echo "fresh_migrate: migrate failed on $side, round $round:" >&2; cat "$DIR/${side}_$round.out" >&2; exit 1; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}

stats() { # values on stdin -> "median mean"
    sort -n | awk '{ v[NR] = $1; s += $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f %.3f\n", m, s / NR }'
}

{
    echo "command: bash bench/fresh_migrate.sh (BENCH_ROUNDS=$ROUNDS)"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GB; $("$PGBIN/postgres" --version); repo HEAD $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "$("$PY" -c 'import django; print("Django", django.get_version())'), apps: contrib (auth, contenttypes, sessions, admin, sites), allauth, django_celery_results, shop (unsafe chain, 0 rows)"
} | tee "$OUT"

migrate guarded 0 >/dev/null   # warm-up (caches, .pyc-free imports)
migrate plain 0 >/dev/null
guarded=(); plain=()
for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) -eq 1 ]; then order="guarded plain"; else order="plain guarded"; fi
    for side in $order; do
        s=$(migrate "$side" "$r")
        if [ "$side" = guarded ]; then guarded+=("$s"); else plain+=("$s"); fi
        echo "  round $r $side: $s s" | tee -a "$OUT"
    done
done
warnings=$(grep -c "safe_ddl" "$DIR/guarded/server.log" || true)
read -r g_med g_mean < <(printf '%s\n' "${guarded[@]}" | stats)
read -r p_med p_mean < <(printf '%s\n' "${plain[@]}" | stats)
ratio=$(awk -v a="$g_med" -v b="$p_med" 'BEGIN { printf "%.3f", a / b }')
echo "safe_ddl preloaded: median $g_med s (mean $g_mean); not loaded: median $p_med s (mean $p_mean); ratio $ratio" | tee -a "$OUT"
echo "server log lines naming safe_ddl on the guarded cluster (refusals, warnings): $warnings" | tee -a "$OUT"
