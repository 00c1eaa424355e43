#!/bin/sh
# Posts the demo data (scripts/demo-events.tsv: owner slug, TAB, collection
# ("events", "agreements", "checklists", "visits", or "follow-up-template",
# which is PUT), TAB, JSON) through the running daemon's API, once. "@N" in
# a JSON stands for the id of the item of line N (an agreement links the
# visits and events before it).
#   scripts/demo-events.sh BASEURL KEYDIR
set -eu
base=$1
keydir=$2
# Loaded once: a marker says so (the Idempotency-Keys make a rerun cheap).
[ -d "$keydir" ] && [ ! -e "$keydir/.loaded" ] || exit 0
ids=$(mktemp)
trap 'rm -f "$ids"' EXIT
n=0
tab=$(printf '\t')
while IFS="$tab" read -r slug collection json; do
	n=$((n + 1))
	[ -s "$keydir/$slug" ] || continue
	method=POST want=201
	[ "$collection" = follow-up-template ] && method=PUT want=200
	while IFS=' ' read -r k id; do
		json=$(printf '%s' "$json" | sed "s/\"@$k\"/\"$id\"/g")
	done <"$ids"
	out=$(printf '%s' "$json" | curl -s -o /dev/null -D - -w '%{http_code}' -X "$method" \
		-H "Authorization: Bearer $(cat "$keydir/$slug")" \
		-H "Content-Type: application/json" -H "Idempotency-Key: demo-$n" \
		--data-binary @- "$base/v1/$collection")
	code=$(printf '%s' "$out" | tail -n 1)
	id=$(printf '%s' "$out" | sed -n 's#^[Ll]ocation: /v1/[a-z-]*/\([0-9a-f-]*\).*#\1#p')
	[ -n "$id" ] && echo "$n $id" >>"$ids"
	[ "$code" = "$want" ] || echo "demo item $n ($slug, $collection): HTTP $code" >&2
done <"$(dirname "$0")/demo-events.tsv"
touch "$keydir/.loaded"
