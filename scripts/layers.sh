#!/bin/sh
# layers.sh — the module graph of fs/ and of tools/geoctl/, read from the built
# objects with nm: a module is one .c file, and A -> B when A.o needs a symbol
# that B.o defines (calls and data, whatever the includes say). Arrows from
# geoctl into the core library are left out: the core is the floor below it.
#
#   layers.sh [--build DIR] [--allow FILE]   check: print every cycle (a strongly
#        connected component of more than one module); exit 1 on a cycle that
#        FILE (default scripts/layers.allow) does not list, or on a listed one
#        that is gone, so the list only shrinks. Run by `make layers-check`.
#   layers.sh [--build DIR] --floors         the modules floor by floor: floor 0
#        needs no other module of its group, floor N needs only floors below N;
#        a cycle sits on one floor as {a.c b.c}.
#
# Needs the objects of `make all` (DIR defaults to build/, relative to the
# source tree); exit 2 when one is missing or on a usage error. --root SRC
# reads another source tree (SRC/fs, SRC/tools/geoctl; its tests use it).
set -eu
root="$(dirname "$0")/.."

build=build
allow=scripts/layers.allow
mode=check
while [ $# -gt 0 ]; do
	case "$1" in
	--build) [ $# -ge 2 ] || { echo "layers.sh: --build needs a directory" >&2; exit 2; }
		build=$2; shift 2 ;;
	--allow) [ $# -ge 2 ] || { echo "layers.sh: --allow needs a file" >&2; exit 2; }
		allow=$2; allow_given=1; shift 2 ;;
	--floors) mode=floors; shift ;;
	--root) [ $# -ge 2 ] || { echo "layers.sh: --root needs a directory" >&2; exit 2; }
		root=$2; shift 2 ;;
	-h|--help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "layers.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
	esac
done
# An --allow FILE is as given, from here; the default is the tree's own.
[ -z "${allow_given:-}" ] || case "$allow" in /*) ;; *) allow="$PWD/$allow" ;; esac
cd "$root" || exit 2
[ "$mode" = floors ] || [ -r "$allow" ] ||
	{ echo "layers.sh: $allow: cannot read the allowed-cycle list" >&2; exit 2; }

# One line per symbol: "GROUP MODULE.c D|U SYMBOL". The modules are the .c
# files of the source tree, so an object left over from a deleted file does
# not count, and a missing object is an error rather than a smaller graph.
symbols() { # GROUP SRCDIR
	for c in "$2"/*.c; do
		o="$build/${c%.c}.o"
		[ -r "$o" ] || { echo "layers.sh: $o: missing (run make all first)" >&2; exit 2; }
		nm -P "$o" | awk -v g="$1" -v m="${c##*/}" '
			$2 == "U" { print g, m, "U", $1; next }
			$2 ~ /^[A-TV-Z]$/ { print g, m, "D", $1 }'
	done
}

tmp="${TMPDIR:-/tmp}/layers.$$"
trap 'rm -f "$tmp"' EXIT
{ symbols fs fs; symbols geoctl tools/geoctl; } > "$tmp"

awk -v mode="$mode" -v allowfile="$allow" '
function sortwords(s,    n, a, i, j, t, out) {
	n = split(s, a, " ")
	for (i = 2; i <= n; i++) {
		t = a[i]
		for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]
		a[j + 1] = t
	}
	out = ""
	for (i = 1; i <= n; i++) out = out (i > 1 ? " " : "") a[i]
	return out
}
# Tarjan: comp[g SUBSEP v] = the SCC id of v; members[g SUBSEP id] = its modules.
function strong(g, v,    n, a, i, w, m) {
	idx[g, v] = low[g, v] = ++counter
	stack[++sp] = v; onstack[g, v] = 1
	n = split(adj[g, v], a, " ")
	for (i = 1; i <= n; i++) {
		w = a[i]
		if (!((g, w) in idx)) {
			strong(g, w)
			if (low[g, w] < low[g, v]) low[g, v] = low[g, w]
		} else if (onstack[g, w] && idx[g, w] < low[g, v])
			low[g, v] = idx[g, w]
	}
	if (low[g, v] == idx[g, v]) {
		ncomp[g]++; m = ""
		do {
			w = stack[sp--]; onstack[g, w] = 0
			comp[g, w] = ncomp[g]; m = m " " w
		} while (w != v)
		members[g, ncomp[g]] = sortwords(m)
	}
}
# The shortest arrow path from a to b inside SCC c, as " x.c y.c ... b" (a left out).
function path(g, c, a, b,    q, head, tail, seen, prev, v, n, x, i, out) {
	head = 1; tail = 0; q[++tail] = a; seen[a] = 1
	while (head <= tail) {
		v = q[head++]
		if (v == b) break
		n = split(adj[g, v], x, " ")
		for (i = 1; i <= n; i++)
			if (comp[g, x[i]] == c && !(x[i] in seen)) {
				seen[x[i]] = 1; prev[x[i]] = v; q[++tail] = x[i]
			}
	}
	out = ""
	for (v = b; v != a; v = prev[v]) out = " " v out
	return out
}
# A closed walk through every module of SCC c along real arrows:
# "a.c -> b.c -> a.c" for two, longer walks when no single loop covers all.
function walk(g, c,    n, m, i, w, cur) {
	n = split(members[g, c], m, " ")
	w = m[1]; cur = m[1]
	for (i = 2; i <= n; i++) {
		if (index(" " w " ", " " m[i] " ")) continue
		w = w path(g, c, cur, m[i]); cur = m[i]
	}
	w = w path(g, c, cur, m[1])
	gsub(/ /, " -> ", w)
	return w
}
# The arrows of walk w with the first symbol behind each, for the reader who must cut one.
function why(g, w,    n, a, i) {
	n = split(w, a, " -> ")
	for (i = 1; i < n; i++)
		printf "    %s -> %s: %s%s\n", a[i], a[i + 1], first[g, a[i], a[i + 1]], \
			(nsym[g, a[i], a[i + 1]] > 1 ? " (+" (nsym[g, a[i], a[i + 1]] - 1) " more)" : "")
}
function floor_of(g, c,    n, a, i, j, k, f, d, e) {
	if ((g, c) in fl) return fl[g, c]
	f = 0
	n = split(members[g, c], a, " ")
	for (i = 1; i <= n; i++) {
		k = split(adj[g, a[i]], d, " ")
		for (j = 1; j <= k; j++)
			if (comp[g, d[j]] != c) {
				e = floor_of(g, comp[g, d[j]]) + 1
				if (e > f) f = e
			}
	}
	return fl[g, c] = f
}

{ g = $1; m = $2 }
!((g, m) in ismod) { ismod[g, m] = 1; mods[g] = mods[g] " " m }
$3 == "D" { def[g, $4] = m; next }
{ need[++nneed] = g SUBSEP m SUBSEP $4 }

END {
	groups = "fs geoctl"
	for (i = 1; i <= nneed; i++) {
		split(need[i], x, SUBSEP); g = x[1]; m = x[2]; s = x[3]
		if (!((g, s) in def)) continue    # libc, a library, or (geoctl) the core
		t = def[g, s]
		if (t == m) continue
		if (!((g, m, t) in nsym)) { adj[g, m] = adj[g, m] " " t; first[g, m, t] = s; narrows[g]++ }
		nsym[g, m, t]++
	}
	split(groups, G, " ")
	for (gi = 1; gi <= 2; gi++) {
		g = G[gi]
		nm = split(sortwords(mods[g]), M, " "); nmods[g] = nm
		for (i = 1; i <= nm; i++) adj[g, M[i]] = sortwords(adj[g, M[i]])
		counter = 0; sp = 0
		for (i = 1; i <= nm; i++) if (!((g, M[i]) in idx)) strong(g, M[i])
	}

	if (mode == "floors") {
		for (gi = 1; gi <= 2; gi++) {
			g = G[gi]; top = 0
			printf "%s (%s):%s\n", g, g == "fs" ? "fs/" : "tools/geoctl/, on the core", ""
			for (c = 1; c <= ncomp[g]; c++) {
				f = floor_of(g, c); if (f > top) top = f
				item = members[g, c]
				if (index(item, " ")) { gsub(/ /, "\001", item); item = "{" item "}" }
				onfloor[g, f] = onfloor[g, f] " " item
			}
			for (f = 0; f <= top; f++) {
				line = sortwords(onfloor[g, f]); gsub(/\001/, " ", line)
				printf "  floor %d: %s\n", f, line
			}
		}
		exit 0
	}

	# The allowed list: "GROUP: a.c b.c ..." per line, # comments.
	while ((r = getline line < allowfile) > 0) {
		ln++
		sub(/#.*/, "", line)
		if (line ~ /^[ \t]*$/) continue
		if (!match(line, /^[ \t]*[a-z]+:/)) {
			printf "%s:%d: expected \"GROUP: a.c b.c ...\", got \"%s\"\n", allowfile, ln, line > "/dev/stderr"
			bad = 1; continue
		}
		g = substr(line, RSTART, RLENGTH - 1); sub(/^[ \t]*/, "", g)
		set = sortwords(substr(line, RSTART + RLENGTH))
		if (g != "fs" && g != "geoctl") {
			printf "%s:%d: unknown group \"%s\" (fs or geoctl)\n", allowfile, ln, g > "/dev/stderr"
			bad = 1; continue
		}
		allowed[g, set] = ln
	}
	if (r < 0) { printf "%s: cannot read\n", allowfile > "/dev/stderr"; exit 2 }

	for (gi = 1; gi <= 2; gi++) {
		g = G[gi]; ncyc = 0
		for (c = 1; c <= ncomp[g]; c++) {
			if (!index(members[g, c], " ")) continue
			ncyc++
			w = walk(g, c)
			if ((g, members[g, c]) in allowed) {
				printf "cycle: %s   (%s: allowed by %s:%d)\n", w, g, allowfile, allowed[g, members[g, c]]
				seenallowed[g, members[g, c]] = 1
			} else {
				printf "cycle: %s   (%s: NOT allowed)\n", w, g
				why(g, w)
				bad = 1
			}
		}
		printf "layers: %s: %d module%s, %d arrow%s, %d cycle%s\n", g, nmods[g], \
			(nmods[g] == 1 ? "" : "s"), narrows[g], (narrows[g] == 1 ? "" : "s"), \
			ncyc, (ncyc == 1 ? "" : "s")
	}
	for (k in allowed) {
		if (k in seenallowed) continue
		split(k, x, SUBSEP)
		printf "%s:%d: %s: %s is no longer a cycle: remove the line\n", allowfile, allowed[k], x[1], x[2] > "/dev/stderr"
		bad = 1
	}
	exit bad
}' "$tmp"
