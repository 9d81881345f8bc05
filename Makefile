# geofs — one non-recursive Makefile.
#
#   make                 build build/geofs and build/geoctl
#   make test            install missing Debian packages (as root), build, run every test
#   make demo            build and mount the demo tree under ./demo
#   make bench           benchmark against the peers (see README)
#   make install         install under $(DESTDIR)$(PREFIX)
#   make SANITIZE=1 test the same suite under AddressSanitizer + UBSan (objects in build-san/)

PKG_CONFIG ?= pkg-config
PKGS       = fuse3 libcrypto liblz4 libattr
PREFIX     ?= /usr/local
DESTDIR    ?=
PYTHON     ?= /usr/bin/python3

ifeq ($(SANITIZE),1)
BUILD      ?= build-san
SANFLAGS   = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
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

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALLCFLAGS) -o $@ $^ $(LDLIBS) $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

$(BUILD)/tests/unit/%.o: tests/unit/%.c | $(COUNTRY_H)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null) $(ALLCFLAGS) -Wno-missing-prototypes -c -o $@ $<

# ---- tests -----------------------------------------------------------------
# Debian packages the build and the tests need; `make deps` installs the
# missing ones when run as root, and prints the apt-get line otherwise.
DEB_BUILD  = build-essential pkg-config libfuse3-dev fuse3 libssl-dev liblz4-dev libattr1-dev iso-codes
DEB_TEST   = libcmocka-dev python3 python3-pytest attr util-linux man-db groff-base

deps:
	@scripts/deps.sh $(DEB_BUILD) $(DEB_TEST)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

mount-tests: all
	@GEOFS_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests/mount

test: deps
	@$(MAKE) --no-print-directory all unit
	@$(MAKE) --no-print-directory mount-tests

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh $(abspath $(BUILD))

demo-stop:
	@scripts/demo.sh --stop

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench.sh $(abspath $(BUILD))

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/geofs $(DESTDIR)$(PREFIX)/bin/geofs
	install -m 0755 $(BUILD)/geoctl $(DESTDIR)$(PREFIX)/bin/geoctl
	install -d $(DESTDIR)$(PREFIX)/share/geofs/examples
	install -m 0644 mountcfg/*.conf $(DESTDIR)$(PREFIX)/share/geofs/examples/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/geofs $(DESTDIR)$(PREFIX)/bin/geoctl
	rm -rf $(DESTDIR)$(PREFIX)/share/geofs

clean:
	rm -rf build build-san

.PHONY: all deps unit mount-tests test demo demo-stop bench install uninstall clean
.SECONDARY:

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
