#!/bin/sh
# Posts the demo events (scripts/demo-events.tsv: owner slug, TAB, JSON)
# through the running daemon's API, each with an Idempotency-Key, so that
# loading them again changes nothing.
#   scripts/demo-events.sh BASEURL KEYDIR
set -eu
base=$1
keydir=$2
[ -d "$keydir" ] || exit 0
n=0
tab=$(printf '\t')
while IFS="$tab" read -r slug json; do
	n=$((n + 1))
	[ -s "$keydir/$slug" ] || continue
	code=$(printf '%s' "$json" | curl -s -o /dev/null -w '%{http_code}' \
		-H "Authorization: Bearer $(cat "$keydir/$slug")" \
		-H "Content-Type: application/json" -H "Idempotency-Key: demo-event-$n" \
		--data-binary @- "$base/v1/events")
	[ "$code" = 201 ] || echo "demo event $n ($slug): HTTP $code" >&2
done <"$(dirname "$0")/demo-events.tsv"
