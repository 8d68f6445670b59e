# bench/lib/common.sh: helpers shared by bench/headline.sh, bench/overhead.sh, bench/contrast.sh and bench/never_free.sh.
# Source it after pg_test/lib/cluster.sh. Needs bash, awk, sort, gnuplot.
#
# The pgbench helpers work on an "events" file made from pgbench's per-transaction logs
# (--log --log-prefix): one line per transaction, "start_s end_s latency_ms", seconds relative to a
# chosen zero (t0), so that every bench can say "at t = 15 s" the same way.

now() { date +%s.%N; }

# sleep_until T0 SECONDS: sleep until the epoch T0 + SECONDS (at once if that is past)
sleep_until() {
    local d
    d=$(awk -v t0="$1" -v off="$2" -v n="$(now)" 'BEGIN { d = t0 + off - n; if (d < 0) d = 0; printf "%.3f", d }')
    sleep "$d"
}

# elapsed SINCE_EPOCH: seconds since then, 1 decimal
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# bench_machine_facts COMMAND_LINE: machine facts on stdout (the caller tees them into a file)
bench_machine_facts() {
    local installed
    installed="$("${PG_CONFIG:-pg_config}" --pkglibdir)/safe_ddl.so"
    echo "command: $1"
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "host: $(uname -srm)"
    echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "nproc: $(nproc)"
    echo "load average (1/5/15 min) at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "memory: $(free -g | awk '/^Mem:/ { printf "total %s GB, used %s, free %s, buff/cache %s, available %s", $2, $3, $4, $6, $7 } /^Swap:/ { printf "; swap %s GB", $2 }')"
    echo "postgres --version: $("$PGBIN/postgres" --version)"
    echo "pgbench --version: $("$PGBIN/pgbench" --version)"
    if [ -f "$installed" ]; then
        echo "safe_ddl.so installed: md5 $(md5sum <"$installed" | cut -c1-32), $(date -u -r "$installed" '+%Y-%m-%d %H:%M:%S UTC')"
    fi
    echo "repo HEAD: $(git -C "$BENCH_LIB_DIR/../.." rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$BENCH_LIB_DIR/../.." status --porcelain 2>/dev/null | grep -q . && echo ' (+ uncommitted changes)')"
}
BENCH_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# bench_private_lib DEST: copy the installed safe_ddl.so to DEST (e.g. $BASE/lib/safe_ddl.so).
# Preloading the copy by absolute path pins the build for the whole bench, and a reinstall during
# the bench (cargo pgrx install/test copy the library in place) cannot crash the server with SIGBUS.
# Only usable without CREATE EXTENSION (which loads $libdir/safe_ddl, a second copy).
bench_private_lib() {
    local dest="$1" installed before
    installed="$("${PG_CONFIG:-pg_config}" --pkglibdir)/safe_ddl.so"
    mkdir -p "$(dirname "$dest")"
    for _ in 1 2 3 4 5; do   # retry if a reinstall is writing the file while we copy it
        before=$(stat -c '%s %Y' "$installed")
        install -m 0644 "$installed" "$dest"
        sleep 1
        [ "$(stat -c '%s %Y' "$installed")" != "$before" ] || break
    done
    chmod 0755 "$(dirname "$dest")"
}

# txn_events T0 LOGFILE...: the events file on stdout, "start_s end_s latency_ms" per transaction,
# seconds relative to the epoch T0. pgbench log columns: client_id transaction_no time_us script_no
# time_epoch time_us_fraction [...]; transactions whose latency is not a number (failed/skipped)
# are left out (count them with txn_failed).
txn_events() {
    local t0="$1"; shift
    [ "$#" -gt 0 ] || return 0
    cat "$@" | awk -v t0="$t0" 'NF >= 6 && $3 ~ /^[0-9]+$/ {
        e = ($5 - int(t0)) + $6 / 1e6 - (t0 - int(t0))
        printf "%.6f %.6f %.3f\n", e - $3 / 1e6, e, $3 / 1000
    }'
}

# txn_failed LOGFILE...: how many log lines have no numeric latency (failed / skipped)
txn_failed() {
    [ "$#" -gt 0 ] || { echo 0; return 0; }
    cat "$@" | awk 'NF >= 6 && $3 !~ /^[0-9]+$/ { n++ } END { print n + 0 }'
}

# per_second EVENTS FROM TO: one line per second s in [FROM, TO) (integers), columns
#   t         s + 0.5, the middle of the second
#   tps       transactions that ended in [s, s+1)
#   started   transactions that started in [s, s+1)
#   p50_ms p99_ms max_ms   latency of the transactions that started in [s, s+1) (NaN if none)
#   wait_ms   the longest any transaction in flight during [s, s+1) had been waiting by the end of
#             that second (or by its end, if sooner): a query stuck from t=15 to t=40 shows as a
#             ramp 1000, 2000, ... 25000 ms, so an outage is visible in every second it lasts
# p50/p99/max are bucketed by start time: a query that started at t = 15 and waited 25 s shows as
# one 25,000 ms point at t = 15.
per_second() {
    local ev="$1" from="$2" to="$3" waits
    waits=$(mktemp)
    awk 'function floor(x) { return x == int(x) || x > 0 ? int(x) : int(x) - 1 }
         { for (s = floor($1); s <= floor($2); s++) {
               w = ($2 < s + 1 ? $2 : s + 1) - $1
               if (!(s in m) || w > m[s]) m[s] = w
           } }
         END { for (s in m) printf "%d %.3f\n", s, m[s] * 1000 }' "$ev" >"$waits"
    awk 'function floor(x) { return x == int(x) || x > 0 ? int(x) : int(x) - 1 }
         { print floor($1), $3, floor($2) }' "$ev" |
        sort -k1,1n -k2,2g |
        awk -v from="$from" -v to="$to" -v waits="$waits" '
            function ceil(x) { return x == int(x) ? x : int(x) + 1 }
            function flush() {
                if (!have) return
                p50[cur] = a[ceil(0.50 * n)]; p99[cur] = a[ceil(0.99 * n)]; mx[cur] = a[n]; st[cur] = n
            }
            BEGIN { while ((getline line < waits) > 0) { split(line, f, " "); wt[f[1]] = f[2] } }
            { done[$3]++
              if (!have || $1 != cur) { flush(); cur = $1 + 0; n = 0; have = 1 }
              a[++n] = $2 }
            END {
                flush()
                print "# t tps started p50_ms p99_ms max_ms wait_ms"
                for (s = from; s < to; s++) {
                    w = (s in wt) ? wt[s] : "NaN"
                    if (s in st) printf "%.1f %d %d %.3f %.3f %.3f %s\n", s + 0.5, done[s] + 0, st[s], p50[s], p99[s], mx[s], w
                    else         printf "%.1f %d 0 NaN NaN NaN %s\n", s + 0.5, done[s] + 0, w
                }
            }'
    rm -f "$waits"
}

# lat_summary EVENTS [A B]: over all transactions, or those in flight at some point of [A, B]
# (seconds, same zero as EVENTS), prints "n p50_ms p99_ms max_ms gt100ms gt1s max_started_at_s"
lat_summary() {
    local ev="$1" a="${2:--1e18}" b="${3:-1e18}"
    awk -v a="$a" -v b="$b" '$1 <= b && $2 >= a { print $3, $1 }' "$ev" | sort -k1,1g |
        awk 'function ceil(x) { return x == int(x) ? x : int(x) + 1 }
             { l[++n] = $1; s = $2; if ($1 > 100) g1++; if ($1 > 1000) g2++ }
             END {
                 if (n == 0) { print "0 NaN NaN NaN 0 0 NaN"; exit }
                 printf "%d %.3f %.3f %.3f %d %d %.3f\n", n, l[ceil(0.5 * n)], l[ceil(0.99 * n)], l[n], g1, g2, s
             }'
}

# tps_between EVENTS A B: transactions that ended in [A, B] per second
tps_between() {
    awk -v a="$2" -v b="$3" '$2 >= a && $2 <= b { n++ } END { printf "%.0f\n", (b > a) ? n / (b - a) : 0 }' "$1"
}

# longest_gap EVENTS: the longest time between two consecutive transaction ends (any client),
# "gap_ms at_s"
longest_gap() {
    awk '{ print $2 }' "$1" | sort -g |
        awk 'NR > 1 && $1 - p > g { g = $1 - p; at = p } { p = $1 } END { printf "%.1f %.3f\n", g * 1000, at }'
}
