#!/bin/sh
# `make run`: serves liaison on 127.0.0.1:8080 in the foreground. Without a
# configured database it starts a private PostgreSQL cluster under var/,
# and on an empty database it loads the demo data and makes an admin key.
set -eu
bin=${1:-build/liaisond}
top=$(cd "$(dirname "$0")/.." && pwd)
var="$top/var"
mkdir -p "$var"
chmod 0755 "$var"

if [ -z "${LIAISON_DATABASE:-}" ] && [ -z "${LIAISON_CONFIG:-}" ]; then
	sock=$("$top/scripts/pgcluster.sh" start "$var/pg")
	base="host=$sock user=liaison"
	if ! "$(pg_config --bindir)/psql" -X -q -d "$base dbname=postgres" -tAc \
		"SELECT 1 FROM pg_database WHERE datname = 'liaison'" | grep -q 1; then
		"$(pg_config --bindir)/psql" -X -q -d "$base dbname=postgres" -c "CREATE DATABASE liaison"
	fi
	LIAISON_DATABASE="$base dbname=liaison"
	export LIAISON_DATABASE
	echo "PostgreSQL: private cluster in $("$top/scripts/pgcluster.sh" datadir "$var/pg")" \
		"(stop it with: scripts/pgcluster.sh stop $var/pg)"
fi

"$bin" migrate >/dev/null
tokenfile="$var/demo-admin-token"
"$top/scripts/demo.sh" "$bin" "$tokenfile"

# Rendered feeds kept across restarts of `make run` (feed_state_dir), unless
# a configuration file says where.
if [ -z "${LIAISON_CONFIG:-}" ]; then
	LIAISON_FEED_STATE_DIR=${LIAISON_FEED_STATE_DIR-$var/feeds}
	export LIAISON_FEED_STATE_DIR
fi

listen=${LIAISON_LISTEN:-127.0.0.1:8080}
echo
echo "liaison serves on http://$listen"
echo "An admin API token of the host org hcmc-dost is in $tokenfile:"
echo "  curl -H \"Authorization: Bearer \$(cat $tokenfile)\" http://$listen/v1/orgs"
echo "More tokens: $bin key create SLUG --role admin|editor|viewer"
echo
# The daemon stays in the foreground (signals reach it directly); the demo
# events are posted beside it once it answers.
(
	for _ in $(seq 100); do
		curl -sf "http://$listen/healthz" >/dev/null 2>&1 && break
		sleep 0.1
	done
	"$top/scripts/demo-events.sh" "http://$listen" "$var/demo-keys" || true
) &
exec "$bin" serve
