# Prism: two commands on a fresh machine, `make demo` and `make test`; everything else is set up for you.
SWIFT ?= swift
SWIFT_FLAGS ?=
export LIBTORCH

.PHONY: all bootstrap build debug test test-fast test-cpu-kernels demo bench clean

all: build

bootstrap:
	@scripts/bootstrap

build: bootstrap
	$(SWIFT) build -c release --product prism $(SWIFT_FLAGS)
	@echo "prism: $$($(SWIFT) build -c release --show-bin-path)/prism"

debug: bootstrap
	$(SWIFT) build --product prism $(SWIFT_FLAGS)

test: bootstrap
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build $(SWIFT_FLAGS)

# The suite without the tests tagged .slow (child processes killed and resumed, the bundled model's edits): for the
# edit-build-test loop. `make test` and CI run everything. Swift Testing filters by name, so the slow ones are listed.
SLOW_TESTS = KillSafetyTests|theBundledModelWithTheDefaultSettingsRemovesThePacemaker
test-fast: bootstrap
	$(SWIFT) build --build-tests $(SWIFT_FLAGS)
	$(SWIFT) test --skip-build --skip '$(SLOW_TESTS)' $(SWIFT_FLAGS)

# The suite again with libtorch's kernels capped at the portable and AVX2 sets (CI runs it after `make test`).
test-cpu-kernels: test
	@scripts/test-cpu-kernels

demo: build
	@$$($(SWIFT) build -c release --show-bin-path)/prism demo

bench: build
	@$$($(SWIFT) build -c release --show-bin-path)/prism bench

clean:
	rm -rf .build

# libFuzzer on the parsers of untrusted input (docs/reliability.md): every target for 1,000,000 executions or
# 10 minutes; `make fuzz FUZZ="png 60"` runs one target for 60 seconds.
.PHONY: fuzz
fuzz:
	@scripts/fuzz $(FUZZ)
