#!/bin/sh
# The database layer's round trip. liaisond answers GET /v1/orgs/{slug}
# with one indexed single-row SELECT (the credential is served from the
# per-thread cache after the first request); pgbench runs the same SELECT
# with the same number of clients against the same cluster, in the same
# run. Each round runs every BIN given (e.g. the previous build beside this
# one) and then pgbench; prints each round's figures, then the medians of
# requests/s, transactions/s and of the rounds' ratios, and liaisond's RSS.
#   tests/bench/db_roundtrip.sh BIN [BIN2] [CLIENTS] [SECONDS] [ROUNDS]
set -eu
BINS=$(realpath "$1")
shift
if [ $# -gt 0 ] && [ -x "$1" ]; then
	BINS="$BINS $(realpath "$1")"
	shift
fi
CLIENTS=${1:-32}
SECS=${2:-10}
ROUNDS=${3:-1}
BIN=${BINS%% *}
. "$(dirname "$0")/lib.sh"
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench_cluster
bench_org

# pgbench reads ":MI" as a variable: the reference formats with dots, same cost.
cat >"$BENCH_TMP/select.sql" <<'SQL'
SELECT slug, name, timezone, country, is_host, to_char(created_at, 'YYYY-MM-DD"T"HH24.MI.SS"Z"') FROM orgs WHERE slug = 'hcmc-dost';
SQL
pgb() {
	"$PGBIN/pgbench" -n -M "$1" -c "$CLIENTS" -j2 -T "$SECS" -f "$BENCH_TMP/select.sql" \
		-h "$SOCK" -U liaison bench 2>/dev/null | pgbench_rate
}

echo "db_roundtrip: clients=$CLIENTS seconds=$SECS rounds=$ROUNDS cores=$(nproc)"
for round in $(seq "$ROUNDS"); do
	n=0
	for b in $BINS; do
		n=$((n + 1))
		BIN=$b
		bench_daemon
		rss_idle=$(rss_kib "$DAEMON_PID")
		url="http://127.0.0.1:$PORT/v1/orgs/hcmc-dost"
		curl -sf -H "Authorization: Bearer $TOKEN" "$url" >/dev/null
		wrk -t2 -c"$CLIENTS" -d2s -H "Authorization: Bearer $TOKEN" "$url" >/dev/null # warm-up
		(
			sleep $((SECS / 2))
			rss_kib "$DAEMON_PID" >"$BENCH_TMP/rss_load"
		) &
		sampler=$!
		wrk -t2 -c"$CLIENTS" -d"${SECS}s" -H "Authorization: Bearer $TOKEN" "$url" >"$BENCH_TMP/wrk.out"
		wait "$sampler"
		wrk_all_ok "$BENCH_TMP/wrk.out"
		wrk_rate <"$BENCH_TMP/wrk.out" >>"$BENCH_TMP/rps.$n"
		echo "$rss_idle $(cat "$BENCH_TMP/rss_load")" >"$BENCH_TMP/rss.$n"
		kill "$DAEMON_PID" && wait "$DAEMON_PID" 2>/dev/null || true
		DAEMON_PID=
	done
	pgb prepared >>"$BENCH_TMP/prepared" # the reference: next to the daemons' runs
	pgb simple >>"$BENCH_TMP/simple"
	pgb extended >>"$BENCH_TMP/extended"
	n=0
	for b in $BINS; do
		n=$((n + 1))
		rps=$(tail -1 "$BENCH_TMP/rps.$n")
		ratio "$rps" "$(tail -1 "$BENCH_TMP/prepared")" >>"$BENCH_TMP/ratio.$n"
		echo >>"$BENCH_TMP/ratio.$n"
		echo "  round $round: $b $rps req/s, pgbench prepared $(tail -1 "$BENCH_TMP/prepared") tps"
	done
done

pg_simple=$(median <"$BENCH_TMP/simple")
pg_ext=$(median <"$BENCH_TMP/extended")
pg_prep=$(median <"$BENCH_TMP/prepared")
echo "  pgbench same SELECT (simple)       $pg_simple tps"
echo "  pgbench same SELECT (extended)     $pg_ext tps"
echo "  pgbench same SELECT (prepared)     $pg_prep tps"
n=0
for b in $BINS; do
	n=$((n + 1))
	daemon_rps=$(median <"$BENCH_TMP/rps.$n")
	set -- $(cat "$BENCH_TMP/rss.$n")
	echo "  $b"
	echo "    liaisond GET /v1/orgs/{slug}     $daemon_rps req/s"
	echo "    ratio daemon/pgbench simple      $(ratio "$daemon_rps" "$pg_simple")"
	echo "    ratio daemon/pgbench extended    $(ratio "$daemon_rps" "$pg_ext")"
	echo "    ratio daemon/pgbench prepared    $(ratio "$daemon_rps" "$pg_prep") (median of the rounds' $(median <"$BENCH_TMP/ratio.$n"))"
	echo "    liaisond RSS idle                $1 KiB"
	echo "    liaisond RSS under load          $2 KiB"
done
