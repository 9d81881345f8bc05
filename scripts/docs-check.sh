#!/bin/sh
# docs-check.sh — every relative link of README.md and docs/*.md must name a
# file of the repository (a man page, a docs/ page, an example...), and
# every file path docs/architecture.md names must exist.
# Run by `make test` (target docs-check). Usage: docs-check.sh [PENDING...]
# PENDING: pages other branches add, tolerated as missing (with a note)
# until they are merged; a pending page that exists gets a reminder.
set -eu
cd "$(dirname "$0")/.."
bad=0
for f in README.md docs/*.md; do
	dir=$(dirname "$f")
	# [text](target) with a relative target; no URL scheme, no pure #anchor
	for t in $(grep -o '\]([^)#: ]*[^)]*)' "$f" | sed 's/^](//; s/)$//; s/#.*//' | sort -u); do
		case "$t" in ''|*://*|mailto:*) continue ;; esac
		p=$(realpath -m --relative-to=. "$dir/$t")
		if [ -e "$p" ]; then
			for q in "$@"; do
				[ "$q" = "$p" ] && echo "docs-check: $p exists now: drop it from DOCS_PENDING" >&2
			done
			continue
		fi
		pending=no
		for q in "$@"; do [ "$q" = "$p" ] && pending=yes; done
		if [ $pending = yes ]; then
			echo "docs-check: $f links $t, not merged yet (DOCS_PENDING)" >&2
		else
			echo "docs-check: $f links $t: no such file" >&2
			bad=1
		fi
	done
done
# docs/architecture.md is a map: every file path it names (fs/x.c, also
# as fs/x.c:function; tools/, tests/, scripts/, contrib/, docs/, bench/)
# must exist. Templates such as fs/store_<kind>.c are skipped.
if [ -f docs/architecture.md ]; then
	for p in $(grep -oE '(fs|tools|tests|scripts|contrib|docs|bench)/[A-Za-z0-9_./<>*-]+' \
			docs/architecture.md | sed 's/[.]*$//' | sort -u); do
		case "$p" in *'<'*|*'*'*) continue ;; esac
		if [ ! -e "$p" ]; then
			echo "docs-check: docs/architecture.md names $p: no such file" >&2
			bad=1
		fi
	done
fi
[ $bad = 0 ] && echo "  DOCS    README.md docs/*.md: every link resolves; docs/architecture.md names only files that exist"
exit $bad
