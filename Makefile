# geofs — one non-recursive Makefile.
#
#   make                 build build/geofs and build/geoctl
#   make test            install missing Debian packages (as root), build, run every test
#   make demo            build and mount the demo tree under ./demo
#   make demo-s3         the same with the Korean backend on S3 (a local Ceph)
#   make bench           benchmark against the peers (docs/performance.md)
#   make install         install under $(DESTDIR)$(PREFIX) (PREFIX=/usr/local); make uninstall
#   make man-check       the man pages render without warnings (part of make test)
#   make docs-check      every file README.md and docs/ link, and docs/architecture.md names, exists (part of make test)
#   make layers-check    no module cycle in fs/ or tools/geoctl/ beyond scripts/layers.allow
#                        (part of make test; docs/development.md)
#   make SANITIZE=1 test the same suite under AddressSanitizer + UBSan (objects in build-san/)
#   make SANITIZE=thread ThreadSanitizer build (objects in build-tsan/)
#   make stress          long integrity/crash/concurrency runs, then the concurrency tests
#                        against the ThreadSanitizer daemon (docs/guarantees.md)
#   make fuzz            libFuzzer (clang) on the six parsers, FUZZ_SECONDS each (objects in build-fuzz/)

PKG_CONFIG ?= pkg-config
PKGS       = fuse3 libcrypto liblz4 libattr libsystemd libcurl
PREFIX     ?= /usr/local
DESTDIR    ?=
PYTHON     ?= /usr/bin/python3

ifeq ($(SANITIZE),1)
BUILD      ?= build-san
SANFLAGS   = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SANITIZE),thread)
BUILD      ?= build-tsan
SANFLAGS   = -fsanitize=thread -fno-omit-frame-pointer
else
BUILD      ?= build
SANFLAGS   =
endif

CC         ?= cc
CFLAGS     ?= -O2 -g
WARN       = -Wall -Wextra -Wshadow -Wformat=2 -Wno-unused-parameter -Wmissing-prototypes
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CPPFLAGS   += -DFUSE_USE_VERSION=314 -D_GNU_SOURCE -Ifs -I$(BUILD)/gen $(PKG_CFLAGS)
ALLCFLAGS  = -std=gnu11 $(WARN) $(CFLAGS) $(SANFLAGS) -pthread -MMD -MP
LDLIBS     = $(PKG_LIBS) -pthread

# The core: everything in fs/ except the FUSE front end (ops*.c, main.c).
FUSE_SRCS  = $(wildcard fs/ops*.c) fs/main.c
CORE_SRCS  = $(filter-out $(FUSE_SRCS),$(wildcard fs/*.c))
CTL_SRCS   = $(wildcard tools/geoctl/*.c)
UNIT_SRCS  = $(wildcard tests/unit/test_*.c)

CORE_OBJS  = $(CORE_SRCS:%.c=$(BUILD)/%.o)
FUSE_OBJS  = $(FUSE_SRCS:%.c=$(BUILD)/%.o)
CTL_OBJS   = $(CTL_SRCS:%.c=$(BUILD)/%.o)
UNIT_BINS  = $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
CORE_LIB   = $(BUILD)/libgeocore.a
COUNTRY_H  = $(BUILD)/gen/country_table.h
ISO_JSON   = /usr/share/iso-codes/json/iso_3166-1.json

all: $(BUILD)/geofs $(BUILD)/geoctl

$(COUNTRY_H): $(ISO_JSON) Makefile
	@mkdir -p $(dir $@)
	@echo "  GEN     $@"
	@{ echo '/* Generated from $(ISO_JSON) by the Makefile; do not edit. */'; \
	   echo 'static const char country_codes[][3] = {'; \
	   sed -n 's/.*"alpha_2": *"\([A-Z][A-Z]\)".*/\1/p' $< | sort -u | sed 's/.*/\t"&",/'; \
	   echo '};'; \
	   echo '/* The short name of each code above, in the same order. */'; \
	   echo 'static const char *const country_names[] = {'; \
	   awk '/"alpha_2":/ { split($$0, a, "\""); cc = a[4] } \
	        /^ *"name":/ { sub(/^ *"name": *"/, ""); sub(/",? *$$/, ""); print cc "\t" $$0 }' $< | \
	     sort -u -t '	' -k1,1 | sed 's/^[A-Z][A-Z]	\(.*\)/\t"\1",/'; \
	   echo '};'; } > $@.tmp
	@test $$(grep -c '^	"' $@.tmp) -gt 200 || { echo "$(ISO_JSON): too few country codes" >&2; exit 1; }
	@mv $@.tmp $@

$(BUILD)/%.o: %.c | $(COUNTRY_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(ALLCFLAGS) -c -o $@ $<

$(CORE_LIB): $(CORE_OBJS)
	@echo "  AR      $@"
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/geofs: $(FUSE_OBJS) $(CORE_LIB)
	@echo "  LD      $@"
	@$(CC) $(ALLCFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/geoctl: $(CTL_OBJS) $(CORE_LIB)
	@echo "  LD      $@"
	@$(CC) $(ALLCFLAGS) -o $@ $^ $(LDLIBS)

# What padding costs (size, codec throughput): scripts/bench.sh runs it.
$(BUILD)/padbench: $(BUILD)/bench/padbench.o $(CORE_LIB)
	@echo "  LD      $@"
	@$(CC) $(ALLCFLAGS) -o $@ $^ $(LDLIBS) -lm

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALLCFLAGS) -o $@ $^ $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

# The user.geo.info round trip reads the text back with geoctl's parser.
$(BUILD)/tests/test_info_text: $(BUILD)/tools/geoctl/info.o

$(BUILD)/tests/unit/%.o: tests/unit/%.c | $(COUNTRY_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null) $(ALLCFLAGS) -Wno-missing-prototypes -c -o $@ $<

# ---- tests -----------------------------------------------------------------
# Debian packages the build and the tests need; `make deps` installs the
# missing ones when run as root, and prints the apt-get line otherwise.
DEB_BUILD  = build-essential pkg-config libfuse3-dev fuse3 libssl-dev liblz4-dev libattr1-dev iso-codes libsystemd-dev libcurl4-openssl-dev
DEB_TEST   = libcmocka-dev python3 python3-pytest attr util-linux man-db groff-base chromium \
	     $(DEB_CEPH)
# The throwaway Ceph cluster of the mount tests (tests/ceph/cluster.sh):
# radosgw for the S3 backends, an MDS + ceph-fuse for a meta root on CephFS.
DEB_CEPH   = ceph-mon ceph-osd ceph-mds radosgw ceph-fuse ceph-common ceph-base \
	     openssl curl iproute2

deps:
	@scripts/deps.sh $(DEB_BUILD) $(DEB_TEST)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

mount-tests: all
	@GEOFS_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests/mount

# ---- stress (docs/guarantees.md) ---------------------------------------------
# The long variants in tests/stress/ against the normal build (STRESS_CRASHES
# kill -9 iterations, STRESS_BATCHES exerciser batches per worker,
# STRESS_CONC_SCALE times the concurrency work), then the concurrency tests
# against the daemon built with ThreadSanitizer (build-tsan/; suppressions,
# each justified, in tests/stress/tsan.supp).
STRESS_CRASHES ?= 120

stress: deps
	@$(MAKE) --no-print-directory all
	@GEOFS_BUILD=$(abspath $(BUILD)) STRESS_CRASHES=$(STRESS_CRASHES) $(PYTHON) -m pytest -q \
		-p no:cacheprovider $(PYTEST_ARGS) tests/stress/test_long.py
	@$(MAKE) --no-print-directory SANITIZE=thread BUILD=build-tsan all
	@GEOFS_BUILD=$(abspath build-tsan) $(PYTHON) -m pytest -q -p no:cacheprovider \
		$(PYTEST_ARGS) tests/stress/test_tsan.py

test: deps
	@$(MAKE) --no-print-directory all layers-check unit man-check docs-check
	@$(MAKE) --no-print-directory mount-tests

# ---- pjdfstest ----------------------------------------------------------------
# The POSIX conformance suite (github.com/pjd/pjdfstest) against a fresh
# geofs mount, as root: it builds from a checkout given as PJDFSTEST_SRC
# (the suite is not vendored and CI has no network, so `make test` never
# needs it) into $(BUILD)/pjdfstest and runs `prove -r` over
# PJDFSTEST_TESTS (default: all of tests/) with the mount as the working
# directory. The mount is the mount tests' default site (-o allow_other;
# default_permissions is always on); tests/pjdfstest/run.py.
DEB_PJD         = autoconf automake perl
PJDFSTEST_SRC   ?=
PJDFSTEST_TESTS ?= tests

pjdfstest: all
	@test -n "$(PJDFSTEST_SRC)" || { echo "usage: make pjdfstest PJDFSTEST_SRC=DIR (a checkout of pjdfstest)" >&2; exit 2; }
	@scripts/deps.sh $(DEB_PJD)
	@rm -rf $(BUILD)/pjdfstest && mkdir -p $(BUILD)/pjdfstest
	@cp -a $(PJDFSTEST_SRC)/. $(BUILD)/pjdfstest/
	@cd $(BUILD)/pjdfstest && autoreconf -ifs >/dev/null 2>&1 && ./configure -q && $(MAKE) -s pjdfstest
	@GEOFS_BUILD=$(abspath $(BUILD)) $(PYTHON) tests/pjdfstest/run.py $(abspath $(BUILD))/pjdfstest $(PJDFSTEST_TESTS)

# ---- xfstests' exercisers ------------------------------------------------------
# fsx and fsstress from xfstests (git.kernel.org/pub/scm/fs/xfs/xfstests-dev)
# against a fresh geofs mount, as root, then geoctl fsck on what they left:
# built from a checkout given as XFSTESTS_SRC (not vendored, no network in
# CI, so `make test` never needs it); FSX_OPS operations per fsx run,
# FSSTRESS_OPS per fsstress process; tests/xfstests/run.py.
DEB_XFSTESTS  = autoconf automake libtool libtool-bin uuid-dev xfslibs-dev libacl1-dev \
                libaio-dev liburing-dev libgdbm-dev libgdbm-compat-dev libcap-dev
XFSTESTS_SRC ?=
FSX_OPS      ?= 20000
FSSTRESS_OPS ?= 3000

xfstests: all
	@test -n "$(XFSTESTS_SRC)" || { echo "usage: make xfstests XFSTESTS_SRC=DIR (a checkout of xfstests)" >&2; exit 2; }
	@scripts/deps.sh $(DEB_XFSTESTS)
	@rm -rf $(BUILD)/xfstests && mkdir -p $(BUILD)/xfstests
	@cp -a $(XFSTESTS_SRC)/. $(BUILD)/xfstests/
	@cd $(BUILD)/xfstests && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL sh -c \
		'make -s configure && ./configure -q && make -s -C lib && make -s -C ltp fsx fsstress' \
		>$(abspath $(BUILD))/xfstests-build.log 2>&1 || \
		{ echo "xfstests: the build failed; see $(BUILD)/xfstests-build.log" >&2; exit 2; }
	@GEOFS_BUILD=$(abspath $(BUILD)) XFSTESTS_LOGS=$(abspath $(BUILD))/xfstests-logs \
		$(PYTHON) tests/xfstests/run.py $(abspath $(BUILD))/xfstests $(FSX_OPS) $(FSSTRESS_OPS)

# ---- fuzzing -----------------------------------------------------------------
# The parsers built with clang + libFuzzer + ASan/UBSan against the core
# sources compiled afresh (not the gcc-built libgeocore.a). Each target runs
# FUZZ_SECONDS on a working corpus in build-fuzz/corpus/ seeded from
# tests/fuzz/corpus/ and tests/fuzz/crashes/; a crash stops `make fuzz`
# and leaves its input as build-fuzz/crash-*: fix it, and copy the input
# to tests/fuzz/crashes/TARGET/ (tests/unit/test_regressions.c replays it).
DEB_FUZZ     = clang libclang-rt-dev
FUZZ_BUILD   = build-fuzz
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_ARGS    ?=
FUZZ_CFLAGS  = -std=gnu11 -g -O1 -fno-omit-frame-pointer -Wall -Wno-unused-parameter \
	       -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS = $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/%)
FUZZ_CORE    = $(CORE_SRCS:%.c=$(FUZZ_BUILD)/%.o)

$(FUZZ_BUILD)/fs/%.o: fs/%.c | $(COUNTRY_H)
	@mkdir -p $(dir $@)
	@echo "  FUZZCC  $<"
	@$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_CORE)
	@echo "  FUZZLD  $@"
	@$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< \
		$(FUZZ_CORE) $(LDLIBS)

fuzz-build: $(FUZZ_BINS)

fuzz: deps
	@scripts/deps.sh $(DEB_FUZZ)
	@$(MAKE) --no-print-directory fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
		n=$${t#fuzz_}; mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
		echo "== $$t: $(FUZZ_SECONDS) s"; \
		$(FUZZ_BUILD)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/crash-$$n- $(FUZZ_ARGS) \
			$$(test -f tests/fuzz/$$n.dict && echo -dict=tests/fuzz/$$n.dict) \
			$(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n \
			$$(test -d tests/fuzz/crashes/$$n && echo tests/fuzz/crashes/$$n) \
			2>&1 | grep -E '^(==|INFO: Seed|#[0-9]+ *DONE|stat::number_of_executed_units|SUMMARY|Test unit written)|ERROR|check failed|runtime error' \
			|| true; \
		test -z "$$(ls $(FUZZ_BUILD)/crash-$$n-* 2>/dev/null)" || \
			{ echo "$$t: crash input(s): $$(ls $(FUZZ_BUILD)/crash-$$n-*)" >&2; exit 1; }; \
	done

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(abspath $(BUILD))

# The demo with its Korean backend on S3 (a local Ceph, Debian packages of
# DEB_CEPH); demo-stop stops that Ceph too.
demo-s3: deps
	@$(MAKE) --no-print-directory all
	@DEMO_S3=1 scripts/demo.sh $(abspath $(BUILD))

demo-stop:
	@scripts/demo.sh --stop

bench: deps
	@$(MAKE) --no-print-directory all $(BUILD)/padbench
	@scripts/bench.sh $(abspath $(BUILD))

# ---- install -----------------------------------------------------------------
# FHS layout under $(DESTDIR)$(PREFIX); a Debian package builds with
# `make install PREFIX=/usr DESTDIR=debian/geofs` (contrib/README.md).
# Both programs go to bin/: geofs must be on the PATH mount(8) gives
# mount.fuse3 (/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
# for `mount -t fuse.geofs` and fstab, so no mount helper of our own is needed.
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DATADIR    ?= $(PREFIX)/share/geofs
UNITDIR    ?= $(PREFIX)/lib/systemd/system
COMPLDIR   ?= $(PREFIX)/share/bash-completion/completions
DEMO_DIR   ?= /var/tmp/geofs-demo
MANPAGES   = contrib/man/geofs.8 contrib/man/geoctl.8 contrib/man/geofs.conf.5
EXAMPLES   = $(wildcard mountcfg/*.conf) contrib/fstab.example \
	     contrib/systemd/geofs.env.example contrib/systemd/backends.conf.example

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(COMPLDIR) $(DESTDIR)$(DATADIR)/examples
	install -m 0755 $(BUILD)/geofs $(BUILD)/geoctl $(DESTDIR)$(BINDIR)/
	install -m 0644 $(filter %.8,$(MANPAGES)) $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 $(filter %.5,$(MANPAGES)) $(DESTDIR)$(MANDIR)/man5/
	sed -e 's|@BINDIR@|$(BINDIR)|g' contrib/systemd/geofs@.service.in \
		> $(DESTDIR)$(UNITDIR)/geofs@.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/geofs@.service
	install -m 0644 contrib/bash-completion/geoctl $(DESTDIR)$(COMPLDIR)/geoctl
	install -m 0644 $(filter-out mountcfg/demo.conf,$(EXAMPLES)) $(DESTDIR)$(DATADIR)/examples/
	@# The demo's paths are relative to the source tree: point them at a
	@# scratch directory that exists on any machine.
	sed -e '1i # Installed copy: the demo tree is $(DEMO_DIR) (create it with geoctl keys init -c THIS_FILE).' \
	    -e 's|= \.\./demo/|= $(DEMO_DIR)/|' \
	    -e 's|^# \(.*\)\.\./demo/|# \1$(DEMO_DIR)/|' mountcfg/demo.conf \
		> $(DESTDIR)$(DATADIR)/examples/demo.conf
	chmod 0644 $(DESTDIR)$(DATADIR)/examples/demo.conf

# The directories install creates: uninstall removes each that is left
# empty, and its parents while they are empty (never $(DESTDIR) itself).
INSTALL_DIRS = $(BINDIR) $(MANDIR)/man5 $(MANDIR)/man8 $(UNITDIR) $(COMPLDIR)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/geofs $(DESTDIR)$(BINDIR)/geoctl
	rm -f $(patsubst contrib/man/%,$(DESTDIR)$(MANDIR)/man8/%,$(filter %.8,$(MANPAGES)))
	rm -f $(patsubst contrib/man/%,$(DESTDIR)$(MANDIR)/man5/%,$(filter %.5,$(MANPAGES)))
	rm -f $(DESTDIR)$(UNITDIR)/geofs@.service $(DESTDIR)$(COMPLDIR)/geoctl
	rm -rf $(DESTDIR)$(DATADIR)
	@for d in $(INSTALL_DIRS); do \
		while [ "$$d" != / ] && [ -n "$$d" ] && \
		      rmdir "$(DESTDIR)$$d" 2>/dev/null; do d=$$(dirname "$$d"); done; \
	done

# Each man page must render without a single groff/man warning (the check
# lintian runs); any output fails the build.
man-check:
	@set -e; for m in $(MANPAGES); do \
		out=$$(LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 \
			man --warnings -E UTF-8 -l -Tutf8 -Z $$m 2>&1 >/dev/null); \
		if [ -n "$$out" ]; then printf '%s: man warnings:\n%s\n' "$$m" "$$out" >&2; exit 1; fi; \
	done; echo "  MAN     $(MANPAGES): no warnings"

# Pages the README links that other branches add; drop each once merged.
DOCS_PENDING =

docs-check:
	@scripts/docs-check.sh $(DOCS_PENDING)

# The module graph from the objects (nm): a call cycle not in
# scripts/layers.allow, or a listed one that is gone, fails.
layers-check: all
	@scripts/layers.sh --build $(BUILD)

clean:
	rm -rf build build-san build-fuzz build-tsan

.PHONY: all deps unit man-check docs-check layers-check mount-tests test demo demo-s3 demo-stop bench install uninstall clean fuzz fuzz-build stress pjdfstest xfstests
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
-include $(shell find $(FUZZ_BUILD) -name '*.d' 2>/dev/null)
