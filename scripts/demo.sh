#!/bin/sh
# scripts/demo.sh BUILD_DIR   mount the demo tree under ./demo (make demo)
# scripts/demo.sh --stop      unmount it (make demo-stop), and stop the
#                             local Ceph of demo-s3 if it runs
# DEMO_S3=1 scripts/demo.sh BUILD_DIR
#                             the same with the Korean backend seoul-1 on S3:
#                             a throwaway local Ceph (tests/ceph/cluster.sh,
#                             127.0.0.1 only) under demo/ceph (make demo-s3)
#
# Idempotent: a demo that is still mounted is unmounted first; the tree and
# keyring are kept between runs.
set -eu

cd "$(dirname "$0")/.."
DEMO=demo
MNT=$DEMO/mnt
CFG=$DEMO/geofs.conf

die() {
	echo "demo: $*" >&2
	exit 1
}

is_mounted() {
	p=$(realpath "$MNT" 2>/dev/null) || return 1
	awk -v p="$p" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

stop() {
	is_mounted || return 0
	i=0
	while is_mounted && [ $i -lt 25 ]; do
		fusermount3 -u "$MNT" 2>/dev/null || sleep 0.2
		i=$((i + 1))
	done
	if is_mounted; then
		echo "demo: $MNT is busy; detaching it lazily" >&2
		fusermount3 -uz "$MNT" || die "cannot unmount $MNT"
	fi
	echo "demo: unmounted $MNT"
}

# xattr helpers: setfattr/getfattr (package attr) or python3.
setx() {
	if command -v setfattr >/dev/null 2>&1; then
		setfattr -n "$2" -v "$3" "$1"
	else
		python3 -c 'import os, sys; os.setxattr(sys.argv[1], sys.argv[2], sys.argv[3].encode())' "$1" "$2" "$3"
	fi
}

getx() {
	if command -v getfattr >/dev/null 2>&1; then
		getfattr --absolute-names --only-values -n "$2" "$1"
	else
		python3 -c 'import os, sys; sys.stdout.write(os.getxattr(sys.argv[1], sys.argv[2]).decode())' "$1" "$2"
	fi
}

CEPH=$DEMO/ceph

stop_ceph() {
	[ -e "$CEPH/env" ] || return 0
	tests/ceph/cluster.sh stop "$CEPH" >/dev/null && rm -f "$CEPH/env" &&
		echo "demo: stopped the local Ceph in $CEPH"
}

# Starts the local Ceph and turns [backend seoul-1] of $CFG into an S3
# backend on a bucket of it.
use_s3() {
	stop_ceph
	rm -rf "$CEPH"
	mkdir -p "$CEPH"
	echo "demo: starting a local Ceph (radosgw on 127.0.0.1) in $CEPH"
	tests/ceph/cluster.sh start "$(realpath "$CEPH")" >"$DEMO/ceph.log" 2>&1 ||
		{ cat "$DEMO/ceph.log" >&2; die "the local Ceph did not start"; }
	# shellcheck disable=SC1091
	. "$CEPH/env"
	umask 077
	printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
		"$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" > "$DEMO/seoul.credentials"
	umask 022
	awk -v ep="$RGW_ENDPOINT" -v cr="$(realpath "$DEMO/seoul.credentials")" '
		/^\[backend seoul-1\]/ { print; print "kind = s3"; print "endpoint = " ep;
			print "bucket = geofs-demo-kr"; print "credentials = " cr; s = 1; next }
		/^\[/ { s = 0 }
		s && /^path =/ { next }
		{ print }' "$CFG" > "$CFG.tmp"
	mv "$CFG.tmp" "$CFG"
}

if [ "${1:-}" = "--stop" ]; then
	stop
	is_mounted && die "$MNT is still mounted"
	stop_ceph
	exit 0
fi

BUILD=${1:-build}
GEOFS=$BUILD/geofs
GEOCTL=$BUILD/geoctl
if [ ! -x "$GEOFS" ] || [ ! -x "$GEOCTL" ]; then
	die "$GEOFS or $GEOCTL missing; run make first"
fi
command -v fusermount3 >/dev/null 2>&1 || die "fusermount3 missing (Debian package fuse3)"

stop

mkdir -p "$DEMO/meta" "$MNT"
# In the demo you are the admin: your primary group may retag anything.
sed "s/^admin_group = .*/admin_group = $(id -gn)/" mountcfg/demo.conf > "$CFG.tmp"
mv "$CFG.tmp" "$CFG"
[ "${DEMO_S3:-}" = 1 ] && use_s3

if [ ! -e "$DEMO/keyring" ]; then
	"$GEOCTL" keys init -c "$CFG" || die "geoctl keys init failed"
fi
# Each backend directory carries a marker naming it and its country; geofs
# stores nothing in an unmarked directory. keys init marks them the first
# time; this keeps a re-run working if demo/backends was removed.
"$GEOCTL" backend init --create -c "$CFG" >/dev/null || die "geoctl backend init failed"

echo "demo: mounting $MNT  ($GEOFS -c $CFG $MNT)"
"$GEOFS" -c "$CFG" "$MNT" || die "geofs refused to mount (see above)"
i=0
until is_mounted; do
	i=$((i + 1))
	[ $i -le 100 ] || die "geofs did not mount $MNT within 10 s"
	sleep 0.1
done

echo
echo "== a medical record of a patient in Japan"
mkdir -p "$MNT/patients"
setx "$MNT/patients" user.geo.category medical || die "cannot tag $MNT/patients"
setx "$MNT/patients" user.geo.origin JP || die "cannot tag $MNT/patients"
echo "Yamada Taro, born 1980-04-01: consultation notes, insurance card 1234-5678" \
	> "$MNT/patients/yamada-taro.txt" || die "cannot write $MNT/patients/yamada-taro.txt"
f=$MNT/patients/yamada-taro.txt
echo "$f"
for a in category origin placement status; do
	printf '  user.geo.%-10s %s\n' "$a" "$(getx "$f" "user.geo.$a")"
done
pl=$(getx "$f" user.geo.placement)
[ "$pl" = "JP/osaka-1,JP/tokyo-1" ] || die "unexpected placement '$pl' (expected JP/osaka-1,JP/tokyo-1)"
[ -s "$f" ] || die "$f is empty after the write"
echo "  (two replicas, both in Japan; the Korean backend holds none of it)"

echo
echo "== an offshore write is refused"
mkdir -p "$MNT/france"
setx "$MNT/france" user.geo.origin FR || die "cannot tag $MNT/france"
echo "$MNT/france: category personal, origin FR; no backend in FR is configured"
echo "\$ echo 'Dupont Marie' > $MNT/france/dupont.txt"
before=$(find "$DEMO/backends" -path '*/objects/*' -type f | wc -l)
if sh -c 'echo "Dupont Marie" > "$1"' sh "$MNT/france/dupont.txt" 2>"$DEMO/.err"; then
	rm -f "$DEMO/.err"
	die "the offshore write was accepted: this is a bug"
fi
sed 's/^/  /' "$DEMO/.err"
rm -f "$DEMO/.err"
after=$(find "$DEMO/backends" -path '*/objects/*' -type f | wc -l)
[ "$before" = "$after" ] || die "objects appeared on the backends after the refused write"
[ ! -e "$MNT/france/dupont.txt" ] || die "$MNT/france/dupont.txt exists after the refused write"
echo "  (nothing was stored anywhere: still $after objects on the backends, no file)"

if [ "${DEMO_S3:-}" = 1 ]; then
	echo
	echo "== media may be stored in Korea: on the S3 bucket"
	mkdir -p "$MNT/photos"
	setx "$MNT/photos" user.geo.category media || die "cannot tag $MNT/photos"
	head -c 300000 /dev/urandom > "$MNT/photos/cat.jpg" || die "cannot write $MNT/photos/cat.jpg"
	printf '%s\n  user.geo.placement %s\n' "$MNT/photos/cat.jpg" \
		"$(getx "$MNT/photos/cat.jpg" user.geo.placement)"
	"$GEOCTL" status "$MNT" | sed -n '/^BACKEND/,/^$/p'
fi

echo
echo "The demo is mounted at $MNT. Look around with getfattr -d -m - FILE."
echo "Unmount with:  make demo-stop   (or: fusermount3 -u $MNT)"
