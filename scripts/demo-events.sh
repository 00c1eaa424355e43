#!/bin/sh
# Posts the demo data (scripts/demo-events.tsv: owner slug, TAB, collection
# ("events", "agreements", "checklists" or "visits"), TAB, JSON)
# through the running daemon's API, once.
#   scripts/demo-events.sh BASEURL KEYDIR
set -eu
base=$1
keydir=$2
# Loaded once: agreements take no Idempotency-Key, so a marker says so.
[ -d "$keydir" ] && [ ! -e "$keydir/.loaded" ] || exit 0
n=0
tab=$(printf '\t')
while IFS="$tab" read -r slug collection json; do
	n=$((n + 1))
	[ -s "$keydir/$slug" ] || continue
	code=$(printf '%s' "$json" | curl -s -o /dev/null -w '%{http_code}' \
		-H "Authorization: Bearer $(cat "$keydir/$slug")" \
		-H "Content-Type: application/json" -H "Idempotency-Key: demo-$n" \
		--data-binary @- "$base/v1/$collection")
	[ "$code" = 201 ] || echo "demo item $n ($slug, $collection): HTTP $code" >&2
done <"$(dirname "$0")/demo-events.tsv"
touch "$keydir/.loaded"
