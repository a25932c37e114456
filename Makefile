# tutti: top-level build.
#   make                 build bin/tutti-api, bin/tutti-relay, bin/tutti-worker, bin/tutti
#   make run             install missing packages, build, migrate, demo library, start the stack
#   make test            install missing packages, build, run every test suite
#   make SANITIZE=address,undefined test    the same under sanitizers
#   make import DIR=~/Music   add every MP3 under DIR to the library
#   make install PREFIX=/usr/local [DESTDIR=...]   install the built programs (docs/deploy.md)
#   make fuzz            run every libFuzzer target for FUZZ_SECONDS (60) each
# Variables: PORT (8080), DATA (./data), CI (set: warnings are errors).

PORT     ?= 8080
DATA     ?= $(CURDIR)/data
RUNDIR   ?= $(CURDIR)/run
CC       ?= cc
PKGS     := libuv hiredis jansson sqlite3 libmpg123 libout123 libcurl libcrypto

WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wpointer-arith -Wformat=2 -Wno-format-nonliteral
ifdef CI
WARN     += -Werror
endif
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -D_GNU_SOURCE $(WARN) -MMD -MP -Icommon \
            $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS   += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lfcgi -lpthread -lm
ifdef SANITIZE
CFLAGS   += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif

B        := build
# Each program directory becomes a static library of everything but its main.c,
# so unit tests link against the real code.
lib_srcs  = $(filter-out $(1)/main.c,$(wildcard $(1)/*.c))
objs      = $(patsubst %.c,$(B)/%.o,$(1))

COMMON_O := $(call objs,$(call lib_srcs,common))
API_O    := $(call objs,$(call lib_srcs,fcgi))
RELAY_O  := $(call objs,$(call lib_srcs,relay))
WORKER_O := $(call objs,$(call lib_srcs,worker))
CLI_O    := $(call objs,$(call lib_srcs,cli))

LIBS     := $(B)/libapi.a $(B)/librelay.a $(B)/libworker.a $(B)/libcli.a $(B)/libcommon.a
PROGS    := bin/tutti-api bin/tutti-relay bin/tutti-worker bin/tutti
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

.PHONY: all deps run test unit migrate import clean distclean
all: $(PROGS)

# Objects depend on the flags they were built with: switching SANITIZE or CI
# rebuilds everything instead of mixing instrumented and plain objects.
FLAGS_STAMP := $(B)/.flags
FLAGS_NOW   := $(CC) $(CFLAGS) $(LDFLAGS) $(LDLIBS)
$(shell mkdir -p $(B); [ "$$(cat $(FLAGS_STAMP) 2>/dev/null)" = '$(FLAGS_NOW)' ] || \
    printf '%s\n' '$(FLAGS_NOW)' > $(FLAGS_STAMP))

$(B)/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

$(B)/libcommon.a: $(COMMON_O)
$(B)/libapi.a: $(API_O)
$(B)/librelay.a: $(RELAY_O)
$(B)/libworker.a: $(WORKER_O)
$(B)/libcli.a: $(CLI_O)
$(B)/lib%.a:
	@mkdir -p $(B)
	rm -f $@ && $(AR) rcs $@ $^

bin/tutti-api: $(B)/fcgi/main.o $(B)/libapi.a $(B)/libcommon.a
bin/tutti-relay: $(B)/relay/main.o $(B)/librelay.a $(B)/libcommon.a
bin/tutti-worker: $(B)/worker/main.o $(B)/libworker.a $(B)/libcommon.a
bin/tutti: $(B)/cli/main.o $(B)/libcli.a $(B)/libcommon.a
$(PROGS): $(FLAGS_STAMP)
	@mkdir -p bin
	$(CC) $(LDFLAGS) -o $@ $(filter-out $(FLAGS_STAMP),$^) $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS) -lcmocka

deps:
	@scripts/deps.sh

# The demo library: short MP3s with ID3 titles, generated with sox and lame.
demo: $(DATA)/.demo-stamp
$(DATA)/.demo-stamp: scripts/demo.sh
	scripts/demo.sh "$(DATA)"
	@touch $@

migrate:
	bin/tutti-api -d "$(DATA)" migrate

# The library from a server directory (recursively, *.mp3); safe to repeat:
# the same file twice is one track.
import: all
	@test -n "$(DIR)" || { echo "usage: make import DIR=/path/to/music" >&2; exit 2; }
	bin/tutti-api -d "$(DATA)" -m sql migrate
	bin/tutti-api -d "$(DATA)" import "$(DIR)"

run: deps
	@$(MAKE) --no-print-directory all
	exec scripts/run.sh -p "$(PORT)" -d "$(DATA)" -r "$(RUNDIR)"

unit: $(UNIT_BIN)
	@scripts/test.sh -u $(UNIT_BIN)

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@scripts/test.sh $(UNIT_BIN)

clean:
	rm -rf $(B) bin

distclean: clean
	rm -rf data run tests/e2e/node_modules

# ---- fuzzing: libFuzzer targets in tests/fuzz (clang, ASan + UBSan) ----
# Built apart in build/fuzz/, so the normal objects are not disturbed.
# New inputs go to build/fuzz/corpus-<target>/; the repository's seeds in
# tests/fuzz/corpus/<target>/ are only read (merging: see scripts/fuzz.sh).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_B       := $(B)/fuzz
FUZZ_TARGETS := ws handshake route json tus mp3 wsclient
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer -std=c11 -D_GNU_SOURCE $(WARN) \
                -Icommon $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
fuzz_objs     = $(patsubst %.c,$(FUZZ_B)/obj/%.o,$(1))
FUZZ_OBJ_ws        := $(call fuzz_objs,common/ws.c relay/msg.c common/text.c)
FUZZ_OBJ_handshake := $(call fuzz_objs,common/http.c common/ws.c common/query.c)
FUZZ_OBJ_route     := $(call fuzz_objs,$(call lib_srcs,fcgi) $(call lib_srcs,common))
FUZZ_OBJ_json      := $(call fuzz_objs,$(call lib_srcs,fcgi) $(call lib_srcs,common) tests/fuzz/fake_api.c)
FUZZ_OBJ_tus       := $(FUZZ_OBJ_json)
FUZZ_OBJ_mp3       := $(FUZZ_OBJ_json)
FUZZ_OBJ_wsclient  := $(call fuzz_objs,cli/lwsp.c common/ws.c common/text.c)
FUZZ_BINS    := $(patsubst %,$(FUZZ_B)/fuzz_%,$(FUZZ_TARGETS))
# (kept: pattern-built objects would otherwise be removed as intermediate)
.SECONDARY: $(sort $(foreach t,$(FUZZ_TARGETS),$(FUZZ_OBJ_$(t))))

.PHONY: fuzz fuzz-build fuzz-smoke
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@scripts/fuzz.sh -t $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# A few seconds of each target: the suite `make test` runs.
fuzz-smoke: fuzz-build
	@scripts/fuzz.sh -t 5 $(FUZZ_TARGETS)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link $(FUZZ_SAN) -c -o $@ $<

.SECONDEXPANSION:
$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c $$(FUZZ_OBJ_$$*)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -MF $@.d -MT $@ -fsanitize=fuzzer $(FUZZ_SAN) \
	    -o $@ $(filter %.c %.o,$^) $(LDLIBS)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

# ---- install: scripts/install.sh; the programs must be built (`make`) first ----
#   make install PREFIX=/usr/local [DESTDIR=staging]    make uninstall (same variables)
# Paths written into the installed files: STATEDIR (/var/lib/tutti), RUNSTATEDIR
# (/run/tutti), SYSCONFDIR, REDIS_SOCKET, TLS_CERT, TLS_KEY (docs/deploy.md).
PREFIX       ?= /usr/local
INSTALL_VARS  = PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' SYSCONFDIR='$(SYSCONFDIR)' \
                STATEDIR='$(STATEDIR)' RUNSTATEDIR='$(RUNSTATEDIR)' \
                REDIS_SOCKET='$(REDIS_SOCKET)' TLS_CERT='$(TLS_CERT)' TLS_KEY='$(TLS_KEY)'
.PHONY: install uninstall
install:
	@$(INSTALL_VARS) scripts/install.sh install
uninstall:
	@$(INSTALL_VARS) scripts/install.sh uninstall
