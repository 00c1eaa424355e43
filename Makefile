# Makefile - builds liaisond and its tests. See README.md.
#
#   make            build/liaisond
#   make run        the daemon on 127.0.0.1:8080 with a private PostgreSQL under var/
#   make check      every test (unit and integration) against a throw-away cluster
#   make asan       the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   make install    PREFIX (/usr/local) and DESTDIR honoured
#   make bench      the benchmarks in tests/bench/ (not part of check)
#   make lint       clang-format, cppcheck, the layers (scripts/check-layers.py)
#                   and the OpenAPI document (redocly.yaml)

CC ?= cc
BUILD ?= build
PREFIX ?= /usr/local
SAN ?=
PYTHON ?= /usr/bin/python3

PKGS := libevent libevent_pthreads libpq jansson libcrypto libsystemd libical icu-i18n icu-uc zlib libcurl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Wno-missing-field-initializers
ifeq ($(SAN),1)
OPT := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
else
OPT := -O2 -g -D_FORTIFY_SOURCE=2 -fstack-protector-strong
endif
CFLAGS ?=
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(OPT) $(CFLAGS) -Icommon -Idaemon \
              $(PKG_CFLAGS) -MMD -MP
LDFLAGS_ALL := $(OPT) $(LDFLAGS)

COMMON_SRC := $(wildcard common/*.c)
DAEMON_SRC := $(filter-out daemon/main.c,$(wildcard daemon/*.c daemon/*/*.c))
MIGRATIONS := $(sort $(wildcard sql/[0-9]*.sql))
GEN_SRC := $(BUILD)/gen/migrations.c

LIB_OBJ := $(COMMON_SRC:%.c=$(BUILD)/obj/%.o) $(DAEMON_SRC:%.c=$(BUILD)/obj/%.o) \
           $(BUILD)/obj/gen/migrations.o $(BUILD)/obj/gen/openapi.o
LIB := $(BUILD)/libliaison.a
BIN := $(BUILD)/liaisond

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Not a unit test (no test_ prefix): test_database.py runs it against the cluster.
PROBE_BIN := $(BUILD)/tests/dbpool_probe

.PHONY: FORCE all deps check asan layers run install clean bench unit-bins format lint openapi-lint valgrind fuzz fuzz-bins fuzz-run

all: $(BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/gen/openapi.c: daemon/api/openapi.json scripts/embed-file.sh
	@mkdir -p $(dir $@)
	scripts/embed-file.sh openapi_json $< > $@.tmp && mv $@.tmp $@

# The list of migrations as a file that changes only when the list does: a
# migration added with an older timestamp (a merge) still rebuilds.
$(BUILD)/gen/migrations.list: FORCE
	@mkdir -p $(dir $@)
	@echo $(MIGRATIONS) | cmp -s - $@ || echo $(MIGRATIONS) > $@

$(GEN_SRC): $(MIGRATIONS) $(BUILD)/gen/migrations.list scripts/embed-migrations.sh
	@mkdir -p $(dir $@)
	scripts/embed-migrations.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(LIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/daemon/main.o $(LIB)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -lpthread

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags cmocka) -o $@ $< $(LIB) \
		$(LDFLAGS_ALL) $(shell pkg-config --libs cmocka) $(PKG_LIBS) -lpthread

$(PROBE_BIN): tests/integration/dbpool_probe.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDFLAGS_ALL) $(PKG_LIBS) -lpthread

unit-bins: $(UNIT_BIN) $(PROBE_BIN)

deps:
	@scripts/deps.sh build

# The test command: installs what the tests need, builds, runs every test.
# TESTS=pattern runs only the tests whose name contains pattern.
check:
	@scripts/deps.sh check
	@$(MAKE) --no-print-directory layers all unit-bins
	$(PYTHON) tests/run.py --build $(BUILD) $(if $(TESTS),-k $(TESTS))

asan:
	@$(MAKE) --no-print-directory BUILD=build/asan SAN=1 check

valgrind:
	@scripts/deps.sh check
	@$(MAKE) --no-print-directory all unit-bins
	$(PYTHON) tests/run.py --build $(BUILD) --valgrind $(if $(TESTS),-k $(TESTS))

run:
	@scripts/deps.sh run
	@$(MAKE) --no-print-directory all
	@scripts/run.sh $(BIN)

bench:
	@scripts/deps.sh bench
	@$(MAKE) --no-print-directory all
	tests/bench/run.sh $(BIN)

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/liaison/sql \
		$(DESTDIR)$(PREFIX)/lib/systemd/system $(DESTDIR)$(PREFIX)/lib/sysusers.d \
		$(DESTDIR)$(PREFIX)/share/doc/liaison
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/liaisond
	install -m 0644 $(MIGRATIONS) $(DESTDIR)$(PREFIX)/share/liaison/sql/
	sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@DOCDIR@|$(PREFIX)/share/doc/liaison|g' \
		systemd/liaisond.service.in \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/liaisond.service
	install -m 0644 systemd/liaison.sysusers $(DESTDIR)$(PREFIX)/lib/sysusers.d/liaison.conf
	install -m 0644 etc/liaisond.conf.example etc/nginx-liaison.conf README.md \
		$(DESTDIR)$(PREFIX)/share/doc/liaison/

# Coverage-guided fuzzing of the parsers of outside input (clang + libFuzzer,
# with ASan and UBSan). `make fuzz-run FUZZ_SECONDS=60` runs each target.
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 30
# An input that takes longer, or more memory, is a finding (libFuzzer's
# defaults, 1,200 s and 2 GB, hid rules that stall the loop for seconds).
FUZZ_TIMEOUT ?= 2
FUZZ_RSS_MB ?= 1024

$(BUILD)/fuzz/%: tests/fuzz/%.c $(COMMON_SRC) $(GEN_SRC)
	@mkdir -p $(dir $@)
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Icommon \
		$(PKG_CFLAGS) -o $@ $< $(COMMON_SRC) $(GEN_SRC) $(PKG_LIBS) -lpthread

fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory fuzz-bins

fuzz-bins: $(FUZZ_TARGETS)

fuzz-run: fuzz
	@for t in $(FUZZ_TARGETS); do \
		name=$$(basename $$t | sed 's/^fuzz_//'); mkdir -p $(BUILD)/fuzz/corpus-$$name; \
		echo "fuzzing $$name for $(FUZZ_SECONDS)s"; \
		$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -print_final_stats=1 \
			-timeout=$(FUZZ_TIMEOUT) -rss_limit_mb=$(FUZZ_RSS_MB) \
			$(BUILD)/fuzz/corpus-$$name tests/fuzz/corpus/$$name >$(BUILD)/fuzz/$$name.log 2>&1; \
		rc=$$?; tail -3 $(BUILD)/fuzz/$$name.log; [ $$rc = 0 ] || exit 1; \
	done

format:
	clang-format -i common/*.[ch] daemon/*.[ch] daemon/*/*.[ch] tests/unit/*.c tests/integration/*.c

# The include graph of common/ and daemon/: no cycle, layers that point
# down (scripts/check-layers.py says which), and no shredded literal.
layers:
	$(PYTHON) scripts/check-layers.py

# The OpenAPI document as a generated client sees it: @redocly/cli's
# recommended rules, with a name, a 4xx answer and a license made errors
# (redocly.yaml). Its 1.x line still runs on Debian 12's node 18.
REDOCLY_VERSION := 1.34.5
REDOCLY := $(BUILD)/node/node_modules/.bin/redocly

$(REDOCLY):
	npm install --silent --no-audit --no-fund --prefix $(BUILD)/node @redocly/cli@$(REDOCLY_VERSION)

openapi-lint: $(REDOCLY)
	$(REDOCLY) lint --config redocly.yaml --format stylish daemon/api/openapi.json

lint:
	@scripts/deps.sh lint
	@$(MAKE) --no-print-directory layers openapi-lint
	clang-format --dry-run --Werror common/*.[ch] daemon/*.[ch] daemon/*/*.[ch] tests/unit/*.c tests/integration/*.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--suppress=missingIncludeSystem --inline-suppr -Icommon -Idaemon common daemon

clean:
	rm -rf build

FORCE:

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
