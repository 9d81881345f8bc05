#!/bin/sh
# scripts/demo.sh BUILD_DIR   mount the demo tree under ./demo (make demo)
# scripts/demo.sh --stop      unmount it (make demo-stop)
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

if [ "${1:-}" = "--stop" ]; then
	stop
	is_mounted && die "$MNT is still mounted"
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

echo
echo "The demo is mounted at $MNT. Look around with getfattr -d -m - FILE."
echo "Unmount with:  make demo-stop   (or: fusermount3 -u $MNT)"
