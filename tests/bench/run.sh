#!/bin/sh
# Runs every benchmark in this directory against BIN. Not part of `make check`:
# figures are ratios against a reference measured in the same run.
set -eu
BIN=${1:-build/liaisond}
dir=$(dirname "$0")
for b in "$dir"/*.sh; do
	# feeds_ab.sh compares two builds: run it by hand
	case "$(basename "$b")" in lib.sh|run.sh|feeds_ab.sh) continue ;; esac
	sh "$b" "$BIN"
done
