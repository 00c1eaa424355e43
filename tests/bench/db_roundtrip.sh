#!/bin/sh
# The database layer's round trip. liaisond answers GET /v1/orgs/{slug}
# with one indexed single-row SELECT (the credential is served from the
# per-thread cache after the first request); pgbench runs the same SELECT
# with the same number of clients against the same cluster, in the same
# run. Prints requests/s, transactions/s, their ratio and liaisond's RSS.
#   tests/bench/db_roundtrip.sh BIN [CLIENTS] [SECONDS]
set -eu
BIN=$(realpath "$1")
CLIENTS=${2:-32}
SECS=${3:-10}
. "$(dirname "$0")/lib.sh"

bench_cluster
bench_org
bench_daemon
rss_idle=$(rss_kib "$DAEMON_PID")

# pgbench reads ":MI" as a variable: the reference formats with dots, same cost.
cat >"$BENCH_TMP/select.sql" <<'SQL'
SELECT slug, name, timezone, country, is_host, to_char(created_at, 'YYYY-MM-DD"T"HH24.MI.SS"Z"') FROM orgs WHERE slug = 'hcmc-dost';
SQL
url="http://127.0.0.1:$PORT/v1/orgs/hcmc-dost"
curl -sf -H "Authorization: Bearer $TOKEN" "$url" >/dev/null

wrk -t2 -c"$CLIENTS" -d2s -H "Authorization: Bearer $TOKEN" "$url" >/dev/null # warm-up
( sleep $((SECS / 2)); rss_kib "$DAEMON_PID" >"$BENCH_TMP/rss_load" ) &
sampler=$!
wrk -t2 -c"$CLIENTS" -d"${SECS}s" -H "Authorization: Bearer $TOKEN" "$url" >"$BENCH_TMP/wrk.out"
wait "$sampler"
wrk_all_ok "$BENCH_TMP/wrk.out"
daemon_rps=$(wrk_rate <"$BENCH_TMP/wrk.out")
pg_simple=$("$PGBIN/pgbench" -n -M simple -c "$CLIENTS" -j2 -T "$SECS" -f "$BENCH_TMP/select.sql" \
	-h "$SOCK" -U liaison bench 2>/dev/null | pgbench_rate)
pg_ext=$("$PGBIN/pgbench" -n -M extended -c "$CLIENTS" -j2 -T "$SECS" -f "$BENCH_TMP/select.sql" \
	-h "$SOCK" -U liaison bench 2>/dev/null | pgbench_rate)
pg_prep=$("$PGBIN/pgbench" -n -M prepared -c "$CLIENTS" -j2 -T "$SECS" -f "$BENCH_TMP/select.sql" \
	-h "$SOCK" -U liaison bench 2>/dev/null | pgbench_rate)

echo "db_roundtrip: clients=$CLIENTS seconds=$SECS cores=$(nproc)"
echo "  liaisond GET /v1/orgs/{slug}       $daemon_rps req/s"
echo "  pgbench same SELECT (simple)       $pg_simple tps"
echo "  pgbench same SELECT (extended)     $pg_ext tps"
echo "  pgbench same SELECT (prepared)     $pg_prep tps"
echo "  ratio daemon/pgbench simple        $(ratio "$daemon_rps" "$pg_simple")"
echo "  ratio daemon/pgbench extended      $(ratio "$daemon_rps" "$pg_ext")"
echo "  ratio daemon/pgbench prepared      $(ratio "$daemon_rps" "$pg_prep")"
echo "  liaisond RSS idle                  $rss_idle KiB"
echo "  liaisond RSS under load            $(cat "$BENCH_TMP/rss_load") KiB"
