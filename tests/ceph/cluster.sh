#!/bin/bash
# cluster.sh -- a throwaway single-node Ceph cluster on 127.0.0.1 for the tests.
#
#   cluster.sh start DIR [--fs]          monitor, one BlueStore OSD on a sparse
#                                        file, radosgw (beast, http + https); with
#                                        --fs also one MDS and a CephFS
#   cluster.sh stop DIR                  stop what `start` started, by pid:
#                                        ceph-fuse mounts, radosgw, mds, osd, mon
#   cluster.sh fuse-mount DIR MNT        mount the CephFS with ceph-fuse (a new
#                                        client session per mount)
#   cluster.sh fuse-umount DIR MNT       unmount it and wait for its ceph-fuse
#   cluster.sh rgw-stop DIR [--kill]     stop radosgw alone (SIGKILL with --kill)
#   cluster.sh rgw-start DIR             start it again, wait until it answers
#   cluster.sh logs DIR [LINES]          the tail of every daemon log
#
# Everything lives in DIR: ceph.conf, keyrings, daemon data, logs, crash dir,
# admin sockets, the monitor's cluster log, the pids (DIR/pids/), and DIR/env,
# a KEY=VALUE file (no quoting needed: no value has a space) for shell and
# Python: RGW_ENDPOINT, RGW_TLS_ENDPOINT, RGW_CA, RGW_ACCESS_KEY,
# RGW_SECRET_KEY, CEPH_CONF, CEPH_KEYRING and, with --fs, CEPHFS_NAME and
# CEPHFS_CLIENT.
#
# Daemons run in the foreground (-f) in the background of this script; the
# script records their pids itself (radosgw writes its pid file late, or never
# when it fails). Nothing listens on any address but 127.0.0.1: the ports are
# picked below the ephemeral range, free of every socket, and checked after
# start. With GEOFS_CEPH_OWNER=PID set, a watcher stops the cluster when that
# process dies (a test run killed with SIGKILL leaves no daemons behind).
#
# Exit: 0 ok, 1 the cluster did not come up (daemon logs on stderr), 2 usage.

set -u
set -o pipefail

STOP_TERM_SECS=${CEPH_STOP_TERM_SECS:-20}	# SIGTERM -> SIGKILL after this
START_SECS=${CEPH_START_SECS:-120}		# each wait of `start`
OSD_SIZE=${CEPH_OSD_SIZE:-10G}			# sparse block file
PORT_SPAN=24					# mon, http, https, daemon window

die() { echo "cluster.sh: $*" >&2; exit 1; }
usage() { sed -n '3,12p' "$0" >&2; exit 2; }

# ---- helpers -------------------------------------------------------------------

ceph_() { timeout 60 ceph --conf "$D/ceph.conf" --connect-timeout 30 "$@"; }

# now_ms: a monotonic-enough clock for the timing lines
now_ms() { date +%s%3N; }

# wait_for SECONDS WHAT CMD...: retries CMD until it succeeds
wait_for() {
	local secs=$1 what=$2 end; shift 2
	end=$(( $(date +%s) + secs ))
	until "$@" >/dev/null 2>&1; do
		check_alive || fail "a daemon died while waiting for $what"
		[ "$(date +%s)" -lt "$end" ] || fail "timed out after ${secs}s waiting for $what"
		sleep 0.2
	done
}

# Pid files hold "PID STARTTIME" (field 22 of /proc/PID/stat, which a fork's
# exec keeps), so a recycled pid is never signalled and a child caught in the
# middle of its exec still counts as ours.
pid_start() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	set -- $stat
	echo "${20}"
}

pid_of() { local pid _st; read -r pid _st <"$1" 2>/dev/null && echo "$pid"; }

# pid_ours PIDFILE: the process recorded there is alive (not a zombie)
pid_ours() {
	local pid st now
	read -r pid st <"$1" 2>/dev/null || return 1
	[ -n "$pid" ] && [ -n "$st" ] || return 1
	now=$(pid_start "$pid") || return 1
	[ "$now" = "$st" ] || return 1
	! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null
}

# check_alive: every daemon recorded so far is still running
check_alive() {
	local f
	for f in "$D"/pids/*.pid; do
		[ -e "$f" ] || continue
		case $f in */watch.pid) continue ;; esac
		pid_ours "$f" || { echo "cluster.sh: $(basename "$f" .pid) is not running" >&2; return 1; }
	done
	return 0
}

# logs [LINES]: the tail of each daemon log, for failure reports
logs() {
	local n=${1:-30} f
	for f in "$D"/log/*.log "$D"/log/*.out; do
		[ -s "$f" ] || continue
		case $f in */ceph.audit.log|*/openssl.out) continue ;; esac
		echo "---- $f (last $n lines)"
		tail -n "$n" "$f"
	done
}

fail() {
	echo "cluster.sh: start failed: $*" >&2
	logs 30 >&2
	stop_all >&2
	exit 1
}

# spawn NAME CMD...: runs CMD in the background, records its pid
spawn() {
	local name=$1; shift
	"$@" </dev/null >>"$D/log/$name.out" 2>&1 &
	echo "$! $(pid_start $!)" >"$D/pids/$name.pid"
}

# port_free P: no socket of any state and family uses P as its local port
port_free() {
	! ss -Htanu 2>/dev/null | awk '{print $4}' | grep -qE ":$1\$"
}

# pick_ports: BASE..BASE+PORT_SPAN-1 all free and below the ephemeral range
pick_ports() {
	local lo hi base p ok tries=0
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	hi=$(( lo - PORT_SPAN - 1 ))
	[ "$hi" -gt 11000 ] || die "ephemeral range starts at $lo: no room below it"
	while [ $tries -lt 200 ]; do
		tries=$(( tries + 1 ))
		base=$(( 10000 + (RANDOM * 32768 + RANDOM) % (hi - 10000) ))
		ok=1
		for (( p = base; p < base + PORT_SPAN; p++ )); do
			port_free "$p" || { ok=0; break; }
		done
		[ $ok = 1 ] && { echo "$base"; return 0; }
	done
	die "no $PORT_SPAN free consecutive ports below $lo"
}

# check_loopback: no listening socket of our daemons is bound elsewhere
check_loopback() {
	local f pid bad="" n=0
	for f in "$D"/pids/*.pid; do
		[ -e "$f" ] || continue
		pid_ours "$f" || continue
		pid=$(pid_of "$f")
		while read -r line; do
			[ -n "$line" ] || continue
			n=$(( n + 1 ))
			local addr
			addr=$(awk '{print $5}' <<<"$line")
			case $addr in 127.0.0.1:*) ;; *) bad="$bad
  $(basename "$f" .pid): $line" ;; esac
		done < <(ss -Htulnp 2>/dev/null | grep -E "pid=$pid,")
	done
	[ -z "$bad" ] || fail "listening outside 127.0.0.1:$bad"
	[ $n -gt 0 ] || fail "no listening socket found for the daemons (ss -p)"
}

# ---- stop ----------------------------------------------------------------------

# stop_one NAME: SIGTERM, wait STOP_TERM_SECS, SIGKILL, wait; forgets the pid
stop_one() {
	local f="$D/pids/$1.pid" pid i
	[ -e "$f" ] || return 0
	pid=$(pid_of "$f")
	if pid_ours "$f"; then
		kill -TERM "$pid" 2>/dev/null
		for (( i = 0; i < STOP_TERM_SECS * 10; i++ )); do
			pid_ours "$f" || break
			sleep 0.1
		done
		if pid_ours "$f"; then
			echo "cluster.sh: $1 (pid $pid) ignored SIGTERM for ${STOP_TERM_SECS}s: SIGKILL" >&2
			kill -KILL "$pid" 2>/dev/null
			for (( i = 0; i < 100; i++ )); do
				pid_ours "$f" || break
				sleep 0.1
			done
			pid_ours "$f" && { echo "cluster.sh: $1 (pid $pid) survived SIGKILL" >&2; return 1; }
		fi
	fi
	rm -f "$f"
}

# fuse_umount_one MNT PIDFILE
fuse_umount_one() {
	local mnt=$1 f=$2 i
	if mounted "$mnt"; then
		fusermount3 -u "$mnt" 2>/dev/null || fusermount -u "$mnt" 2>/dev/null || umount "$mnt" 2>/dev/null
		for (( i = 0; i < 50; i++ )); do mounted "$mnt" || break; sleep 0.1; done
		mounted "$mnt" && { umount -l "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null; }
	fi
	stop_one "fuse/$(basename "$f" .pid)"
}

# mounted MNT: from /proc/self/mountinfo, without touching MNT
mounted() {
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' /proc/self/mountinfo
}

stop_all() {
	local f rc=0 t0
	t0=$(now_ms)
	[ -d "$D/pids" ] || return 0
	for f in "$D"/pids/fuse/*.pid; do
		[ -e "$f" ] || continue
		fuse_umount_one "$(cat "${f%.pid}.mnt" 2>/dev/null)" "$f" || rc=1
		rm -f "${f%.pid}.mnt"
	done
	local n t times=""
	for n in rgw mds osd mon; do
		[ -e "$D/pids/$n.pid" ] || continue
		t=$(now_ms)
		stop_one "$n" || rc=1
		times="$times $n $(( $(now_ms) - t )) ms,"
	done
	# the watcher last; not when the watcher itself runs this stop
	if [ -e "$D/pids/watch.pid" ] && [ "$(pid_of "$D/pids/watch.pid")" != "${WATCHER_PID:-}" ]; then
		stop_one watch || rc=1
	fi
	echo "cluster.sh: stopped in $(( $(now_ms) - t0 )) ms (${times%,} )" >&2
	return $rc
}

# ---- start ---------------------------------------------------------------------

write_conf() {
	local base=$1
	MON_PORT=$base
	RGW_PORT=$(( base + 1 ))
	RGW_TLS_PORT=$(( base + 2 ))
	cat >"$D/ceph.conf" <<EOF
# Throwaway test cluster written by tests/ceph/cluster.sh; everything in $D.
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
ms bind msgr1 = false
ms bind msgr2 = true
ms bind port min = $(( base + 3 ))
ms bind port max = $(( base + PORT_SPAN - 1 ))
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $D/keyring
run dir = $D/run
crash dir = $D/crash
admin socket = $D/run/\$name.\$pid.asok
log file = $D/log/\$name.log
log to stderr = false
err to stderr = true
pid file =
# one OSD: pools of one replica, 8 PGs each, no autoscaler (it needs the mgr)
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
osd objectstore = bluestore

[mon]
mon data = $D/mon.\$id
mon cluster log file = default=$D/log/ceph.\$channel.log cluster=$D/log/cluster.log
mon cluster log to file = true
mon paxos propose interval = 0.1
paxos propose interval = 0.1
mon initial members = a
mon mgr beacon grace = 3600

[osd]
osd data = $D/osd.\$id
keyring = $D/osd.\$id/keyring
bluestore block create = true
bluestore block size = $OSD_SIZE
bluestore fsck on mkfs = false
bluestore fsck on mount = false
bluestore cache autotune = false
bluestore cache size = 128M
osd memory target = 939524096
osd crush update on start = true
osd fast shutdown = true

[mds]
mds data = $D/mds.\$id
keyring = $D/mds.\$id/keyring

[client]
log file = $D/log/\$name.\$pid.log

[client.rgw]
rgw data = $D/rgw
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT ssl_endpoint=127.0.0.1:$RGW_TLS_PORT ssl_certificate=$D/tls/server.pem ssl_private_key=$D/tls/server.key
rgw thread pool size = 64
rgw enable usage log = false
rgw dns name = 127.0.0.1
log file = $D/log/rgw.log
EOF
}

make_tls() {
	mkdir -p "$D/tls" || return 1
	(
		cd "$D/tls" || exit 1
		umask 077
		openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj "/CN=geofs test CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
			-keyout ca.key -out ca.pem &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
			-keyout server.key -out server.csr &&
		printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >ext.cnf &&
		openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 7 \
			-extfile ext.cnf -out server.pem
	) >"$D/log/openssl.out" 2>&1 || return 1
	chmod 0644 "$D/tls/ca.pem"
	cp "$D/tls/ca.pem" "$D/ca.pem"
}

# http_up URL [CA]: any HTTP answer from radosgw
http_up() {
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 ${2:+--cacert "$2"} "$1") || return 1
	[ "$code" != 000 ]
}

# mds_active: the file system has an active MDS
mds_active() {
	ceph_ fs dump -f json 2>/dev/null | grep -q '"state": *"up:active"'
}

start() {
	local with_fs=$1 t0 t base key uuid
	t0=$(now_ms)
	if [ -e "$D/ceph.conf" ]; then
		die "$D already holds a cluster (stop it, then remove the directory)"
	fi
	mkdir -p "$D"/{log,run,crash,pids/fuse,tls,mon.a,osd.0,rgw} || die "cannot create $D"
	D=$(cd "$D" && pwd)
	FSID=$(cat /proc/sys/kernel/random/uuid)
	base=$(pick_ports) || exit 1
	write_conf "$base"

	make_tls || fail "openssl could not make the test CA"

	# keys: mon., client.admin (all caps), client.rgw, client.geofs (CephFS)
	ceph-authtool --create-keyring "$D/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null &&
	ceph-authtool --create-keyring "$D/keyring" --gen-key -n client.admin \
		--cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null &&
	ceph-authtool "$D/keyring" --gen-key -n client.rgw \
		--cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null &&
	ceph-authtool "$D/mon.keyring" --import-keyring "$D/keyring" >/dev/null ||
		fail "ceph-authtool failed"
	chmod 0600 "$D/keyring" "$D/mon.keyring"

	monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$D/monmap" \
		>"$D/log/monmaptool.out" 2>&1 || fail "monmaptool failed"
	ceph-mon --conf "$D/ceph.conf" --mkfs -i a --monmap "$D/monmap" --keyring "$D/mon.keyring" \
		>"$D/log/mon.mkfs.out" 2>&1 || fail "ceph-mon --mkfs failed"
	spawn mon ceph-mon --conf "$D/ceph.conf" -f -i a
	wait_for "$START_SECS" "the monitor" ceph_ mon stat
	t=$(now_ms); echo "cluster.sh: mon up after $(( t - t0 )) ms" >&2

	# the OSD: register, mkfs on the sparse block file, start
	uuid=$(cat /proc/sys/kernel/random/uuid)
	key=$(ceph-authtool --gen-print-key) || fail "ceph-authtool --gen-print-key failed"
	printf '{"cephx_secret": "%s"}\n' "$key" >"$D/osd.0/new.json"
	local id
	id=$(ceph_ osd new "$uuid" -i "$D/osd.0/new.json" 2>>"$D/log/ceph-cli.out") || fail "ceph osd new failed"
	[ "$id" = 0 ] || fail "ceph osd new gave id '$id', expected 0"
	rm -f "$D/osd.0/new.json"
	ceph-authtool --create-keyring "$D/osd.0/keyring" -n osd.0 --add-key "$key" >/dev/null ||
		fail "osd keyring"
	ceph-osd --conf "$D/ceph.conf" -i 0 --mkfs --osd-uuid "$uuid" \
		>"$D/log/osd.mkfs.out" 2>&1 || fail "ceph-osd --mkfs failed"
	spawn osd ceph-osd --conf "$D/ceph.conf" -f -i 0
	wait_for "$START_SECS" "the OSD to be up" sh -c \
		"timeout 30 ceph --conf '$D/ceph.conf' osd dump 2>/dev/null | grep -q '^osd.0 up'"
	t=$(now_ms); echo "cluster.sh: osd up after $(( t - t0 )) ms" >&2

	if [ "$with_fs" = 1 ]; then
		mkdir -p "$D/mds.a"
		ceph_ auth get-or-create mds.a mon 'allow profile mds' osd 'allow rwx' mds 'allow *' \
			mgr 'allow profile mds' -o "$D/mds.a/keyring" >/dev/null 2>>"$D/log/ceph-cli.out" ||
			fail "mds key"
		ceph_ osd pool create cephfs_metadata 8 8 >>"$D/log/ceph-cli.out" 2>&1 &&
		ceph_ osd pool create cephfs_data 8 8 >>"$D/log/ceph-cli.out" 2>&1 &&
		ceph_ fs new cephfs cephfs_metadata cephfs_data >>"$D/log/ceph-cli.out" 2>&1 ||
			fail "ceph fs new failed"
		ceph_ fs authorize cephfs client.geofs / rw >"$D/fs.keyring" 2>>"$D/log/ceph-cli.out" ||
			fail "ceph fs authorize failed"
		ceph-authtool "$D/keyring" --import-keyring "$D/fs.keyring" >/dev/null || fail "fs keyring"
		rm -f "$D/fs.keyring"
		spawn mds ceph-mds --conf "$D/ceph.conf" -f -i a
	fi

	# radosgw (its key went in with the monitor's mkfs) creates its pools on first start
	rgw_start
	t=$(now_ms); echo "cluster.sh: radosgw up after $(( t - t0 )) ms" >&2

	local akey skey
	akey=$(tr -dc 'A-Z0-9' </dev/urandom | head -c 20)
	skey=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 40)
	timeout 60 radosgw-admin --conf "$D/ceph.conf" -n client.admin user create --uid=geofs-test \
		--display-name="geofs test" --access-key="$akey" --secret-key="$skey" \
		>"$D/log/radosgw-admin.out" 2>&1 || fail "radosgw-admin user create failed"

	if [ "$with_fs" = 1 ]; then
		wait_for "$START_SECS" "an active MDS" mds_active
		t=$(now_ms); echo "cluster.sh: mds active after $(( t - t0 )) ms" >&2
	fi

	check_alive || fail "a daemon died during start"
	check_loopback

	# the watcher: stops the cluster when the owning process dies
	if [ -n "${GEOFS_CEPH_OWNER:-}" ]; then
		spawn watch setsid "$0" _watch "$D" "$GEOFS_CEPH_OWNER"
	fi

	{
		echo "RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT"
		echo "RGW_TLS_ENDPOINT=https://127.0.0.1:$RGW_TLS_PORT"
		echo "RGW_CA=$D/ca.pem"
		echo "RGW_ACCESS_KEY=$akey"
		echo "RGW_SECRET_KEY=$skey"
		echo "RGW_REGION=us-east-1"
		echo "CEPH_CONF=$D/ceph.conf"
		echo "CEPH_KEYRING=$D/keyring"
		if [ "$with_fs" = 1 ]; then
			echo "CEPHFS_NAME=cephfs"
			echo "CEPHFS_CLIENT=client.geofs"
		fi
	} >"$D/env.tmp" && chmod 0600 "$D/env.tmp" && mv "$D/env.tmp" "$D/env" || fail "cannot write $D/env"
	echo "cluster.sh: cluster up in $(( $(now_ms) - t0 )) ms ($D/env)" >&2
}

rgw_start() {
	spawn rgw radosgw --conf "$D/ceph.conf" -f -n client.rgw
	wait_for "$START_SECS" "radosgw on http://127.0.0.1:$RGW_PORT" http_up "http://127.0.0.1:$RGW_PORT/"
	wait_for 30 "radosgw on https://127.0.0.1:$RGW_TLS_PORT" http_up "https://127.0.0.1:$RGW_TLS_PORT/" "$D/ca.pem"
}

# ---- ceph-fuse -----------------------------------------------------------------

env_get() { sed -n "s/^$1=//p" "$D/env"; }

fuse_mount() {
	local mnt=$1 fs client tag i
	[ -e "$D/env" ] || die "$D: no running cluster (no $D/env)"
	fs=$(env_get CEPHFS_NAME)
	client=$(env_get CEPHFS_CLIENT)
	[ -n "$fs" ] || die "$D: the cluster was started without --fs"
	mkdir -p "$mnt" || die "cannot create $mnt"
	mnt=$(cd "$mnt" && pwd)
	mounted "$mnt" && die "$mnt is already mounted"
	tag=$(printf '%s' "$mnt" | md5sum | cut -c1-12)
	[ -e "$D/pids/fuse/$tag.pid" ] && die "$mnt: a ceph-fuse of this cluster is recorded for it"
	echo "$mnt" >"$D/pids/fuse/$tag.mnt"
	# as root; fuse_allow_other so the daemon's other users reach it; user
	# xattrs are on by default (client_acl_type empty, xattrs not disabled)
	spawn "fuse/$tag" ceph-fuse --conf "$D/ceph.conf" -n "$client" -f \
		--client_fs "$fs" --fuse_allow_other=true --client_die_on_failed_remount=false "$mnt"
	for (( i = 0; i < START_SECS * 10; i++ )); do
		mounted "$mnt" && break
		pid_ours "$D/pids/fuse/$tag.pid" || break
		sleep 0.1
	done
	if ! mounted "$mnt"; then
		echo "cluster.sh: ceph-fuse did not mount $mnt" >&2
		tail -n 30 "$D/log/fuse/$tag.out" >&2 2>/dev/null
		fuse_umount_one "$mnt" "$D/pids/fuse/$tag.pid"
		rm -f "$D/pids/fuse/$tag.mnt"
		exit 1
	fi
	# user xattrs must work: geofs keeps its stub metadata in them
	local probe="$mnt/.cluster-xattr-probe.$$"
	if ! { : >"$probe" && setfattr -n user.geofs.probe -v ok "$probe" &&
		[ "$(getfattr --only-values -n user.geofs.probe "$probe" 2>/dev/null)" = ok ]; }; then
		rm -f "$probe"
		fuse_umount_one "$mnt" "$D/pids/fuse/$tag.pid"
		rm -f "$D/pids/fuse/$tag.mnt"
		die "user.* xattrs do not work on the ceph-fuse mount $mnt"
	fi
	rm -f "$probe"
}

fuse_umount() {
	local mnt=$1 tag
	mnt=$(cd "$mnt" 2>/dev/null && pwd || echo "$mnt")
	tag=$(printf '%s' "$mnt" | md5sum | cut -c1-12)
	[ -e "$D/pids/fuse/$tag.pid" ] || { mounted "$mnt" && die "$mnt is not a ceph-fuse mount of $D"; return 0; }
	fuse_umount_one "$mnt" "$D/pids/fuse/$tag.pid" || exit 1
	rm -f "$D/pids/fuse/$tag.mnt"
	mounted "$mnt" && die "$mnt is still mounted"
	return 0
}

# ---- main ----------------------------------------------------------------------

[ $# -ge 2 ] || usage
cmd=$1 D=$2
shift 2
case $cmd in
start)
	with_fs=0
	for a in "$@"; do
		case $a in --fs) with_fs=1 ;; *) usage ;; esac
	done
	start "$with_fs"
	;;
stop)
	[ $# = 0 ] || usage
	[ -d "$D" ] || exit 0
	D=$(cd "$D" && pwd)
	stop_all
	;;
fuse-mount|fuse-umount)
	[ $# = 1 ] || usage
	D=$(cd "$D" && pwd) || die "no directory $D"
	mkdir -p "$D/log/fuse"
	if [ "$cmd" = fuse-mount ]; then fuse_mount "$1"; else fuse_umount "$1"; fi
	;;
rgw-stop)
	D=$(cd "$D" && pwd) || die "no directory $D"
	case ${1:-} in
	"") stop_one rgw ;;
	--kill)
		pid_ours "$D/pids/rgw.pid" && kill -KILL "$(pid_of "$D/pids/rgw.pid")"
		STOP_TERM_SECS=5 stop_one rgw ;;
	*) usage ;;
	esac
	;;
rgw-start)
	[ $# = 0 ] || usage
	D=$(cd "$D" && pwd) || die "no directory $D"
	[ -e "$D/env" ] || die "$D: no running cluster (no $D/env)"
	pid_ours "$D/pids/rgw.pid" && die "radosgw is already running"
	RGW_PORT=$(env_get RGW_ENDPOINT); RGW_PORT=${RGW_PORT##*:}
	RGW_TLS_PORT=$(env_get RGW_TLS_ENDPOINT); RGW_TLS_PORT=${RGW_TLS_PORT##*:}
	# a failed restart must not take the rest of the cluster down
	fail() { echo "cluster.sh: rgw-start failed: $*" >&2; tail -n 30 "$D/log/rgw.log" >&2; stop_one rgw; exit 1; }
	rgw_start
	check_loopback
	;;
logs)
	D=$(cd "$D" && pwd) || die "no directory $D"
	logs "${1:-30}"
	;;
_watch)
	# internal: stop the cluster when process $1 is gone
	owner=$1
	while kill -0 "$owner" 2>/dev/null; do sleep 1; done
	D=$(cd "$D" && pwd) || exit 0
	WATCHER_PID=$$ stop_all
	;;
*)
	usage
	;;
esac
