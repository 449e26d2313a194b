# dino-broker: a privilege-separated broker between local AI agents and Dino.
#
#   make run      build, install missing Debian packages (as root), serve
#   make check    build and run every test; ends with "N passed, N failed, N skipped"
#   make check SANITIZE=1   the same tests under ASan and UBSan
#   make fuzz FUZZ_SECONDS=N   each libFuzzer target for N seconds
#   make soak     1,000 agents for ten minutes, memory sampled (not in CI)
#   make valgrind the unit tests under valgrind memcheck
#
# Every top-level target first runs `deps`, then re-enters make so that the
# pkg-config flags are read after the packages are installed.

PREFIX	?= /usr/local
DESTDIR	?=
SANITIZE ?= 0

ifeq ($(SANITIZE),1)
B	:= build/san
else
B	:= build
endif

# Debian packages: to build, and to run the tests.
DEBS_BUILD := build-essential pkg-config libevent-dev libcurl4-openssl-dev \
	libcjson-dev libsodium-dev libseccomp-dev
DEBS_TEST  := python3 curl procps clang libclang-rt-14-dev dpkg-dev
PKGS	:= libevent libcurl libcjson libsodium libseccomp

CC	?= cc
CFLAGS_BASE := -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wpointer-arith \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
	-Wno-unused-parameter -fstack-protector-strong -fPIE \
	-fstack-clash-protection -fcf-protection -g -MMD -MP -iquote common
LDFLAGS_BASE := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack -Wl,--as-needed

ifeq ($(SANITIZE),1)
OPT	:= -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined -DDINO_SANITIZE=1
SANLD	:= -fsanitize=address,undefined
else
OPT	:= -O2 -D_FORTIFY_SOURCE=2
SANLD	:=
endif

PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS)) -lpthread

ALL_CFLAGS  = $(CFLAGS_BASE) $(OPT) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(LDFLAGS_BASE) $(SANLD) $(LDFLAGS)

# Each role folder builds one program from <role>/main.c plus a library of
# the rest, so unit tests can link a role's code without its main().
ROLES	:= sandbox frontend broker
PROGS	:= dino-sandbox dino-frontend dino-broker
prog_sandbox  := dino-sandbox
prog_frontend := dino-frontend
prog_broker   := dino-broker

COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/obj/%.o)

role_src  = $(wildcard $(1)/*.c)
role_lib  = $(filter-out $(1)/main.c,$(call role_src,$(1)))

# Clients: one program per clients/<name>.c that has a main, sharing the rest.
CLIENT_PROGS := $(patsubst clients/%.c,%,$(wildcard clients/dino.c clients/dinoctl.c))
CLIENT_LIB   := $(filter-out clients/dino.c clients/dinoctl.c,$(wildcard clients/*.c))

UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
ROLE_LIBS := $(foreach r,$(ROLES),$(B)/lib$(r).a) $(B)/libclients.a

.PHONY: all build-all deps check check-run run demo install clean tests bench format

all: deps
	@$(MAKE) --no-print-directory build-all

deps:
	@mk/deps.sh $(DEBS_BUILD) $(DEBS_TEST)

build-all: $(PROGS:%=$(B)/%) $(CLIENT_PROGS:%=$(B)/%)

tests: build-all $(UNIT_BINS)

check: deps
	@$(MAKE) --no-print-directory tests fuzz-build
	@tests/run-tests.sh $(B)

run: deps
	@$(MAKE) --no-print-directory build-all
	@tests/lib/run-stack.sh $(B)

demo: deps
	@$(MAKE) --no-print-directory build-all
	@tests/lib/demo.sh $(B)

bench: deps
	@mk/deps.sh nghttp2-client
	@$(MAKE) --no-print-directory build-all
	@tests/bench/run-bench.sh $(B)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libcommon.a: $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

define role_rules
$(B)/lib$(1).a: $(patsubst %.c,$(B)/obj/%.o,$(call role_lib,$(1))) $(B)/obj/.keep.o
	@rm -f $$@
	ar rcs $$@ $$^

$(B)/$(prog_$(1)): $(B)/obj/$(1)/main.o $(B)/lib$(1).a $(B)/libcommon.a
	$$(CC) $$(ALL_LDFLAGS) -o $$@ $$^ $$(PKG_LIBS)
endef
$(foreach r,$(ROLES),$(eval $(call role_rules,$(r))))

$(B)/libclients.a: $(CLIENT_LIB:%.c=$(B)/obj/%.o) $(B)/obj/.keep.o
	@rm -f $@
	ar rcs $@ $^

$(B)/dino $(B)/dinoctl: $(B)/%: $(B)/obj/clients/%.o $(B)/libclients.a $(B)/libcommon.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# An empty member keeps `ar` happy for a role with nothing but main.c.
$(B)/obj/.keep.o:
	@mkdir -p $(dir $@)
	echo 'typedef int dino_keep_empty_unit;' | $(CC) -x c -c -o $@ -

# A unit test links the library of the role its name starts with
# (test_frontend_*, test_broker_* and test_dino_*, test_sandbox_*,
# test_clients_*), else common code only.
test_role = $(strip $(if $(filter test_frontend_%,$(1)),frontend,\
	$(if $(filter test_broker_% test_dino_%,$(1)),broker,\
	$(if $(filter test_sandbox_%,$(1)),sandbox,\
	$(if $(filter test_clients_%,$(1)),clients)))))
test_libs = $(if $(call test_role,$(1)),$(B)/lib$(call test_role,$(1)).a)

.SECONDEXPANSION:
$(B)/tests/%: $(B)/obj/tests/unit/%.o $$(call test_libs,$$*) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(PKG_LIBS)

# Installation layout; every path can be overridden, and DESTDIR stages it.
BINDIR	  ?= $(PREFIX)/bin
SBINDIR	  ?= $(PREFIX)/sbin
MANDIR	  ?= $(PREFIX)/share/man
DATADIR	  ?= $(PREFIX)/share/dino-broker
UNITDIR	  ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSCONFDIR ?= /etc
MANPAGES  := $(wildcard */*.1 */*.5 */*.8)
UNITS	  := $(patsubst systemd/%.in,%,$(wildcard systemd/*.in))

install: all
	@$(MAKE) --no-print-directory install-files

.PHONY: install-files
install-files:
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DATADIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(SYSCONFDIR)/dino-broker
	install -d -m 0700 $(DESTDIR)$(SYSCONFDIR)/dino-broker/keys
	install -m 0755 $(B)/dino-broker $(B)/dino-frontend $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(B)/dino-sandbox $(CLIENT_PROGS:%=$(B)/%) \
		$(DESTDIR)$(BINDIR)/
	for m in $(MANPAGES); do \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/ || exit 1; \
	done
	for u in $(UNITS); do \
		sed 's|@sbindir@|$(SBINDIR)|g' systemd/$$u.in \
		    >$(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	install -m 0644 systemd/dino-broker.sysusers \
		$(DESTDIR)$(SYSUSERSDIR)/dino-broker.conf
	install -m 0644 systemd/dino-broker.tmpfiles \
		$(DESTDIR)$(TMPFILESDIR)/dino-broker.conf
	install -m 0644 docs/dino-broker.conf.example \
		$(DESTDIR)$(SYSCONFDIR)/dino-broker/dino-broker.conf.example
	install -m 0644 sandbox/seed.json $(DESTDIR)$(DATADIR)/seed.json
	for f in docs/nginx-webhook.conf docs/openapi.yaml; do \
		[ ! -f $$f ] || install -m 0644 $$f $(DESTDIR)$(DATADIR)/; \
	done

# Fuzzing (tests/fuzz): one libFuzzer target per input path, built with
# clang, ASan and UBSan whatever SANITIZE says.  The project's sources and
# Debian's cJSON source (mk/fuzz-cjson.sh) are compiled with the fuzzer's
# instrumentation into build/fuzz; the system's libcjson is not linked.
# `make fuzz FUZZ_SECONDS=N` runs each target for N seconds on a corpus
# kept in build/fuzz/corpus, seeded from tests/fuzz/corpus; `make check`
# runs each for a few seconds (tests/integration/test_fuzz.sh).
FZ	:= build/fuzz
FUZZ_SECONDS ?= 60
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS  := $(FUZZ_NAMES:%=$(FZ)/fuzz_%)
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# The gcc build holds the project's sources to -Werror; clang's extra
# warnings there are not this build's business, the harnesses' are.
FUZZ_CFLAGS = -std=gnu11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
	-DDINO_SANITIZE=1 -I$(FZ)/cjson -iquote common \
	$(filter-out -I/usr/include/cjson,$(PKG_CFLAGS))
FUZZ_WARN  := -Wall -Wextra -Werror -Wno-unused-parameter
FUZZ_LIBS  = $(filter-out -lcjson,$(PKG_LIBS))
# Each target links instrumented archives of common/ and of the role whose
# code it drives (build/fuzz/lib*.a, never the gcc-built build/lib*.a), so
# the linker takes only the objects that code needs, plus cJSON.
fuzz_role_validate := frontend
fuzz_role_ipc	   :=
fuzz_role_dinojson := broker
fuzz_role_config   := broker
fuzz_role_webhook  := broker
fuzz_role_journal  := broker
fuzz_role_mcp	   := clients
fuzz_role_src = $(if $(filter clients,$(1)),$(CLIENT_LIB),$(call role_lib,$(1)))
fuzz_libs = $(if $(fuzz_role_$(1)),$(FZ)/lib$(fuzz_role_$(1)).a) \
	$(FZ)/libcommon.a $(FZ)/obj/cJSON.o

$(foreach r,common frontend broker clients,$(eval $(FZ)/lib$(r).a: \
	$(patsubst %.c,$(FZ)/obj/%.o,$(if $(filter common,$(r)),$(COMMON_SRC),\
	$(call fuzz_role_src,$(r))))))
$(FZ)/lib%.a:
	@rm -f $@
	ar rcs $@ $^

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@tests/fuzz/run-fuzz.sh $(FZ) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz-build: $(FUZZ_BINS)

$(FZ)/cjson/cJSON.c:
	@mk/fuzz-cjson.sh $(FZ)

$(FZ)/obj/cJSON.o: $(FZ)/cjson/cJSON.c
	@mkdir -p $(dir $@)
	clang -std=gnu11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
		-fsanitize=fuzzer-no-link -w -c -o $@ $<

$(FZ)/obj/tests/fuzz/%.o: tests/fuzz/%.c $(FZ)/cjson/cJSON.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_WARN) -MMD -MP -c -o $@ $<

$(FZ)/obj/%.o: %.c $(FZ)/cjson/cJSON.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c -o $@ $<

$(FZ)/fuzz_%: $(FZ)/obj/tests/fuzz/fuzz_%.o $$(call fuzz_libs,$$*)
	clang $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS)

# Long, bounded runs (not in CI): 1,000 agents with faults on, memory sampled.
soak: deps
	@$(MAKE) --no-print-directory build-all
	@$(PY3) tests/soak/soak.py $(B)

# Every unit test under valgrind memcheck; confinement off there only.
valgrind: deps
	@mk/deps.sh valgrind
	@$(MAKE) --no-print-directory tests
	@tests/valgrind.sh $(B)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

PY3	:= /usr/bin/python3

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
-include $(shell find $(FZ)/obj -name '*.d' 2>/dev/null)
