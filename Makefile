# Common tasks. `make run` starts the chat example; `make test` runs every
# check a contributor must pass (and is what CI runs).

GO       ?= go
NODE     ?= node
NPM      ?= npm
# Time per fuzz target: short in `make test`, longer in `make fuzz`.
FUZZTIME ?= 5s
FUZZTIME_LONG ?= 2m
# Length of `make soak` (`make test` runs it for 1m).
SOAK ?= 10m
# Go servers under compat-tests/ that the Node tests start (built as
# compat-tests/.bin/<name>, '/' replaced by '-').
COMPAT_SERVERS := eioserver sioserver cluster/gonode

.PHONY: run cluster test vet gotest fuzz-smoke fuzz soak compat compat-servers browser bench bench-quick node-deps

## run: the chat example on :3000 with the in-memory adapter
run: node-deps
	$(GO) run ./examples/chat

## cluster: the chat on two nodes (:3001, :3002) sharing the Redis at REDIS_ADDR (default 127.0.0.1:6379); Ctrl-C stops both
cluster: node-deps
	GO="$(GO)" examples/cluster/run.sh

## test: vet, race-enabled tests, a fuzz smoke run, the Node compatibility and browser tests
test:
	@GO="$(GO)" NODE="$(NODE)" MAKE="$(MAKE)" FUZZTIME="$(FUZZTIME)" scripts/test.sh

## vet: go vet on every package
vet:
	$(GO) vet ./...

## gotest: the Go tests with the race detector
gotest:
	$(GO) test -race -count=1 ./...

## fuzz-smoke: every fuzz target for $(FUZZTIME)
fuzz-smoke:
	GO="$(GO)" FUZZTIME="$(FUZZTIME)" scripts/fuzz.sh

## fuzz: every fuzz target for $(FUZZTIME_LONG)
fuzz:
	GO="$(GO)" FUZZTIME="$(FUZZTIME_LONG)" scripts/fuzz.sh

## soak: a soak run of $(SOAK) (`make soak SOAK=1m`; see cmd/sio-bench/soak.go)
# Churn, rooms, broadcasts, acks and cut connections against a server process;
# fails on a lost, duplicated or reordered delivery, or when the server's
# goroutines or heap do not return to baseline.
soak:
	$(GO) run ./cmd/sio-bench -soak -duration $(SOAK)

## compat: the Node compatibility tests only (stock clients against Go test servers)
# Test files are listed here: node 21+ no longer searches a directory
# argument for them.
COMPAT_TESTS = $(shell find compat-tests -name '*.test.mjs' -not -path '*/node_modules/*' | sort)
compat: node-deps compat-servers
	SIO_COMPAT_PREBUILT=1 $(NODE) --test --test-reporter=spec $(COMPAT_TESTS)

## browser: the browser tests (headless Debian chromium driven by playwright-core)
BROWSER_TESTS = $(shell find browser-tests -name '*.test.mjs' -not -path '*/node_modules/*' 2>/dev/null | sort)
browser: node-deps
	$(NODE) --test --test-reporter=spec $(BROWSER_TESTS)

compat-servers:
	@mkdir -p compat-tests/.bin
	$(foreach s,$(COMPAT_SERVERS),$(GO) build -o compat-tests/.bin/$(subst /,-,$(s)) ./compat-tests/$(s) &&) true

## bench: sio against the Node reference server, full sizes (see BENCHMARKS.md)
bench: node-deps
	$(GO) run ./cmd/sio-bench -suite

## bench-quick: the same with small sizes, as a smoke run
bench-quick: node-deps
	$(GO) run ./cmd/sio-bench -suite -quick

## node-deps: npm ci when node_modules is missing or older than the lockfile
node-deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund
	@touch $@
