#!/bin/bash
# shellcheck disable=SC2317  # cleanup() and mounts_under() run from the trap
# scripts/bench.sh [BUILD_DIR]   benchmark geofs against its peers (make bench)
#
# Installs what it needs from Debian when missing (fio, gocryptfs, mergerfs,
# libfuse3-dev for passthrough_ll's source), builds libfuse's passthrough_ll
# example, copies geofs and geoctl from BUILD_DIR (default build), and runs
# bench/bench.py, which prints one table of medians and keeps raw fio JSON
# under bench/results/<timestamp>/ (ignored by git).
#
# Knobs (environment; bench/bench.py documents them):
#   BENCH_SIZE=1G BENCH_RAND_SIZE=256M BENCH_RUNS=3 BENCH_FILES=10000
#   BENCH_TIME=15 BENCH_ONLY=geofs,gocryptfs BENCH_WORKLOADS=seq,rand,meta,s3
#   BENCH_PERF=1 (perf-record geofs during sequential I/O)
#   BENCH_TRACE=1 (strace -c and perf of geofs during the meta group's create)
#   BENCH_PAR_PROCS=4 BENCH_PAR_FILES=2500 (the parallel metadata group)
#   BENCH_CEPHMETA=0 skips geofs-cephmeta (geofs with its meta root on a
#   CephFS through ceph-fuse) in the meta group; it needs the Ceph cluster
#   below, started with an MDS and a CephFS (--fs)
#   BENCH_PAD=0 skips the padding figure: BUILD_DIR/padbench, the size
#   overhead of [data] pad = padme over a mixed set of file sizes and the
#   codec's throughput with pad = padme and off (bench/padbench.c); add
#   BENCH_ONLY=geofs,geofs-nopad BENCH_WORKLOADS=seq for the seq-write cost
#   BENCH_TMPDIR=/var/tmp (parent of the temporary tree; use a disk, not tmpfs)
#   Object-store group (workload `s3`, bench/s3.py; docs/performance-s3.md):
#   geofs-s3, s3fs and rclone-crypt side by side on one local radosgw, and
#   radosgw-1M, the gateway's own ceiling (parallel curl PUT/GET of 1 MiB
#   objects, RGW_PARALLEL=8 at a time).
#   BENCH_S3=0 skips it; BENCH_S3_SIZE=512M BENCH_S3_RAND_SIZE=128M
#   BENCH_S3_FILES=1000; BENCH_ONLY may name geofs-s3,s3fs,rclone-crypt,
#   radosgw-1M (and rclone-crypt-full, not in the default set).
#
# For that group this script starts a throwaway Ceph cluster (monitor, one
# OSD, radosgw on 127.0.0.1) with tests/ceph/cluster.sh in the temporary
# directory, and its trap stops it (by the pids cluster.sh recorded) once
# everything is unmounted.
#
# Everything mounted or created lives in one temporary directory that the
# EXIT/INT/TERM trap unmounts (fusermount3 -u, retried, then -uz) and removes,
# even when the run is interrupted. Needs root: it drops the page cache.
# Not part of `make test`: nothing there may depend on timing.
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
BUILD=$(realpath -m "${1:-build}")
PYTHON=/usr/bin/python3

die() {
	echo "bench: $*" >&2
	exit 2
}

[ "$(id -u)" -eq 0 ] || die "run as root: dropping the page cache between runs needs it"
if [ ! -x "$BUILD/geofs" ] || [ ! -x "$BUILD/geoctl" ]; then
	die "$BUILD/geofs or geoctl missing; run make first"
fi
# s3_wanted: the object-store group is selected (BENCH_S3, BENCH_WORKLOADS,
# BENCH_ONLY as bench/bench.py reads them)
s3_wanted() {
	local w=",${BENCH_WORKLOADS:-s3},"
	w=${w// /,}
	[ "${BENCH_S3:-1}" != 0 ] || return 1
	[[ $w == *,s3,* ]] || return 1
	[ -n "${BENCH_ONLY:-}" ] || return 0
	[[ ",${BENCH_ONLY// /,}," =~ ,(geofs-s3|s3fs|rclone-crypt|rclone-crypt-full|radosgw-1M), ]]
}
S3=0
s3_wanted && S3=1
# cephmeta_wanted: geofs-cephmeta runs (the meta group, BENCH_CEPHMETA, BENCH_ONLY)
cephmeta_wanted() {
	local w=",${BENCH_WORKLOADS:-meta},"
	w=${w// /,}
	[ "${BENCH_CEPHMETA:-1}" != 0 ] || return 1
	[[ $w == *,meta,* ]] || return 1
	[ -n "${BENCH_ONLY:-}" ] || return 0
	[[ ",${BENCH_ONLY// /,}," == *,geofs-cephmeta,* ]]
}
CEPHMETA=0
cephmeta_wanted && CEPHMETA=1

PKGS="fio gocryptfs mergerfs fuse3 libfuse3-dev pkg-config gcc python3 util-linux"
TOOLS="fio gocryptfs mergerfs fusermount3 $PYTHON"
if [ "$S3" = 1 ]; then
	PKGS="$PKGS s3fs rclone ceph-mon ceph-osd radosgw ceph-common ceph-base openssl curl iproute2"
	TOOLS="$TOOLS s3fs rclone radosgw"
fi
if [ "${BENCH_TRACE:-0}" != 0 ] || [ "${BENCH_PERF:-0}" != 0 ]; then
	PKGS="$PKGS strace linux-perf"
	TOOLS="$TOOLS strace perf"
fi
if [ "$CEPHMETA" = 1 ]; then
	PKGS="$PKGS ceph-mon ceph-osd ceph-mds ceph-fuse radosgw ceph-common ceph-base openssl curl iproute2"
	TOOLS="$TOOLS ceph-mds ceph-fuse"
fi
# shellcheck disable=SC2086
scripts/deps.sh $PKGS || die "missing Debian packages (see above)"
for t in $TOOLS; do
	command -v "$t" >/dev/null 2>&1 || die "$t not found after installing packages"
done

TMPROOT=${BENCH_TMPDIR:-/var/tmp}
TMP=$(mktemp -d "$TMPROOT/geofs-bench.XXXXXX")
chmod 0755 "$TMP"
mkdir -p "$TMP/bin" "$TMP/pids"
PY=
CEPH=

# Mount points under $TMP that are still mounted, deepest first.
mounts_under() {
	awk -v t="$TMP/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r
}

cleanup() {
	local rc=$? m i pid
	trap - EXIT INT TERM
	if [ -n "$PY" ] && kill -0 "$PY" 2>/dev/null; then
		kill -TERM "$PY" 2>/dev/null || true
		for i in $(seq 1 300); do
			kill -0 "$PY" 2>/dev/null || break
			sleep 0.3
		done
		kill -0 "$PY" 2>/dev/null && kill -KILL "$PY" 2>/dev/null
		wait "$PY" 2>/dev/null || true
	fi
	for m in $(mounts_under); do
		i=0
		while [ "$i" -lt 10 ] && ! fusermount3 -u "$m" 2>/dev/null; do
			sleep 0.3
			i=$((i + 1))
		done
		if awk -v p="$m" '$5 == p { f = 1 } END { exit !f }' /proc/self/mountinfo; then
			echo "bench: $m is busy; detaching it lazily" >&2
			fusermount3 -uz "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		fi
	done
	# Daemons the driver started and could not reap (their pid files name them).
	for f in "$TMP"/pids/*.pid; do
		[ -e "$f" ] || continue
		pid=$(cat "$f")
		if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$TMP/"; then
			kill -TERM "$pid" 2>/dev/null || true
			sleep 0.5
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	# The Ceph cluster last: the S3 filesystems above needed it to unmount.
	if [ -n "$CEPH" ]; then
		"$REPO/tests/ceph/cluster.sh" stop "$CEPH" >/dev/null 2>&1 ||
			echo "bench: stopping the Ceph cluster in $CEPH failed" >&2
	fi
	if [ -n "$(mounts_under)" ]; then
		echo "bench: still mounted, $TMP kept: $(mounts_under | tr '\n' ' ')" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# libfuse's passthrough_ll: the bare cost of FUSE.
EX=/usr/share/doc/libfuse3-dev/examples
if [ -f "$EX/passthrough_ll.c" ]; then
	cp "$EX/passthrough_ll.c" "$TMP/bin/"
elif [ -f "$EX/passthrough_ll.c.gz" ]; then
	gunzip -c "$EX/passthrough_ll.c.gz" > "$TMP/bin/passthrough_ll.c"
else
	die "$EX/passthrough_ll.c not found (Debian package libfuse3-dev)"
fi
h=passthrough_helpers.h
if [ -f "$EX/$h" ]; then
	cp "$EX/$h" "$TMP/bin/"
elif [ -f "$EX/$h.gz" ]; then
	gunzip -c "$EX/$h.gz" > "$TMP/bin/$h"
fi
# shellcheck disable=SC2046
cc -O2 -Wall -o "$TMP/bin/passthrough_ll" "$TMP/bin/passthrough_ll.c" \
	$(pkg-config --cflags --libs fuse3) -lpthread || die "building passthrough_ll failed"

# Copies, so that a rebuild during a long run cannot change what is measured.
cp "$BUILD/geofs" "$BUILD/geoctl" "$TMP/bin/"

RESULTS=$REPO/bench/results/$(date +%Y%m%d-%H%M%S)
mkdir -p "$RESULTS"
if [ "${BENCH_PAD:-1}" != 0 ]; then
	[ -x "$BUILD/padbench" ] || die "$BUILD/padbench missing; run make $BUILD/padbench"
	"$BUILD/padbench" | tee "$RESULTS/padding.txt" || die "padbench failed"
	echo
fi

S3ARGS=()
if [ "$S3" = 1 ] || [ "$CEPHMETA" = 1 ]; then
	CEPH=$TMP/ceph
	FS=()
	[ "$CEPHMETA" = 1 ] && FS=(--fs)
	echo "bench: starting a local Ceph cluster${FS:+ with a CephFS} for the object-store group or geofs-cephmeta" >&2
	# The watcher stops the cluster should this script die by SIGKILL.
	GEOFS_CEPH_OWNER=$$ tests/ceph/cluster.sh start "$CEPH" "${FS[@]}" >"$TMP/ceph.log" 2>&1 || {
		cat "$TMP/ceph.log" >&2
		die "the Ceph cluster did not start (BENCH_S3=0 skips the object-store group, BENCH_CEPHMETA=0 geofs-cephmeta)"
	}
	cp "$TMP/ceph.log" "$RESULTS/ceph-start.log"
	[ "$S3" = 1 ] && S3ARGS+=(--s3-env "$CEPH/env")
	[ "$CEPHMETA" = 1 ] && S3ARGS+=(--ceph-env "$CEPH/env")
fi
# In the background, so that the trap runs as soon as a signal arrives; the
# driver unmounts everything itself on SIGTERM, the trap then checks.
"$PYTHON" bench/bench.py --tmp "$TMP" --bin "$TMP/bin" --results "$RESULTS" "${S3ARGS[@]}" &
PY=$!
set +e
wait "$PY"
rc=$?
set -e
PY=
exit "$rc"
