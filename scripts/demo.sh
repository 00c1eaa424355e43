#!/bin/sh
# Loads the demo organisations into an empty database and keeps one admin
# key per demo org in KEYDIR/<slug> (the host's is KEYDIR/../demo-admin-token).
# Does nothing when the host org exists already.
#   scripts/demo.sh BIN TOKENFILE
set -eu
bin=$1
tokenfile=$2
keydir=$(dirname "$tokenfile")/demo-keys
umask 077

if ! "$bin" org create hcmc-dost --host --timezone Asia/Ho_Chi_Minh --country VN \
	--name "Sở Khoa học và Công nghệ TP.HCM (HCMC DOST)" >/dev/null 2>&1; then
	[ -s "$tokenfile" ] || "$bin" key create hcmc-dost --role admin --name demo >"$tokenfile"
	exit 0
fi
mkdir -p "$keydir"
org() {
	slug=$1
	shift
	"$bin" org create "$slug" "$@" >/dev/null
	"$bin" key create "$slug" --role admin --name demo >"$keydir/$slug"
}
org busan-city --timezone Asia/Seoul --country KR --name "Busan Metropolitan City"
org haiphong --timezone Asia/Ho_Chi_Minh --country VN --name "Sở Khoa học và Công nghệ Hải Phòng"
org cabc --timezone America/Toronto --country CA --name "Canada-ASEAN Business Council"
org becamex-idc --timezone Asia/Ho_Chi_Minh --country VN --name "Becamex IDC"
org nus --timezone Asia/Singapore --country SG --name "National University of Singapore"
org binh-duong --timezone Asia/Ho_Chi_Minh --country VN --name "Tỉnh Bình Dương"
org eindhoven --timezone Europe/Amsterdam --country NL --name "Gemeente Eindhoven"
org sf-chamber --timezone America/Los_Angeles --country US --name "San Francisco Chamber of Commerce"
"$bin" key create hcmc-dost --role admin --name demo >"$tokenfile"
cp "$tokenfile" "$keydir/hcmc-dost"
echo "demo organisations loaded"
