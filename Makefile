# scaler: `make test` and `make run` are the two commands a newcomer needs;
# `make` alone lists the rest.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go
BIN := bin
# Integration tests start containers and wait on health checks: generous.
TEST_TIMEOUT ?= 25m
# -count=1: a cached pass says nothing about the images or the Engine now.
TEST_FLAGS ?= -count=1
TEST_LABEL := scaler.dev/test

##@ General

.PHONY: help
help: ## List the targets
	@awk 'BEGIN { FS = ":.*## "; print "usage: make <target>" } \
		/^##@/ { printf "\n%s\n", substr($$0, 5) } \
		/^[a-zA-Z0-9_-]+:.*## / { printf "  %-14s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

##@ Build

.PHONY: build
build: ## Build bin/scalerd, bin/scalectl, bin/demoapp (static binaries)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

##@ Images

.PHONY: images
images: ## Build demoapp:dev, scaler-nginx:dev, scaler-redis:dev, scalerd:dev locally (no registry; cached)
	hack/build-images.sh

##@ Install

# Where `make install` puts things; packagers set DESTDIR (a staging root)
# and PREFIX (/usr for a distribution package). systemd reads units from
# /usr/local/lib/systemd/system as well as /usr/lib/systemd/system, so the
# default PREFIX works as is.
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
INSTALL ?= install

# Every file `make install` installs, as `make uninstall` removes them.
INSTALLED := $(BINDIR)/scalerd $(BINDIR)/scalectl \
	$(UNITDIR)/scalerd.service $(SYSUSERSDIR)/scaler.conf \
	$(DATADIR)/bash-completion/completions/scalectl \
	$(DATADIR)/zsh/site-functions/_scalectl \
	$(DATADIR)/fish/vendor_completions.d/scalectl.fish

.PHONY: install
install: ## Install scalerd, scalectl, completions and the systemd unit (PREFIX=/usr/local, DESTDIR)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/scalerd ./cmd/scalectl
	$(INSTALL) -D -m 0755 $(BIN)/scalerd $(DESTDIR)$(BINDIR)/scalerd
	$(INSTALL) -D -m 0755 $(BIN)/scalectl $(DESTDIR)$(BINDIR)/scalectl
	$(INSTALL) -d -m 0755 $(DESTDIR)$(UNITDIR)
	sed 's|@BINDIR@|$(BINDIR)|g' hack/systemd/scalerd.service.in >$(DESTDIR)$(UNITDIR)/scalerd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/scalerd.service
	$(INSTALL) -D -m 0644 hack/systemd/scaler.sysusers $(DESTDIR)$(SYSUSERSDIR)/scaler.conf
	$(INSTALL) -d -m 0755 $(DESTDIR)$(DATADIR)/bash-completion/completions \
		$(DESTDIR)$(DATADIR)/zsh/site-functions $(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	$(BIN)/scalectl completion bash >$(DESTDIR)$(DATADIR)/bash-completion/completions/scalectl
	$(BIN)/scalectl completion zsh >$(DESTDIR)$(DATADIR)/zsh/site-functions/_scalectl
	$(BIN)/scalectl completion fish >$(DESTDIR)$(DATADIR)/fish/vendor_completions.d/scalectl.fish
	@echo "installed under $(DESTDIR)$(PREFIX); see README.md, 'Running in production', to enable scalerd.service"

.PHONY: uninstall
uninstall: ## Remove what `make install` installed (same PREFIX and DESTDIR); specs and state are kept
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@echo "removed scaler from $(DESTDIR)$(PREFIX); /etc/scaler/specs and /var/lib/scaler are left for you"

##@ Run

# scalectl of `make run`'s daemon; SCALER_SOCKET lets it find the socket.
SCALECTL := SCALER_SOCKET=$${SCALER_SOCKET:-.scaler/scalerd.sock} $(BIN)/scalectl

.PHONY: run
run: build images ## Start scalerd on manifests/ (copied to .scaler/specs/ with a generated Redis password); the app serves on 127.0.0.1:8080
	hack/run.sh

.PHONY: stop
stop: ## Stop scalerd; the app keeps running (a new `make run` adopts it)
	hack/down.sh

.PHONY: down
down: ## Stop scalerd and remove the app's containers and network
	hack/down.sh --all

.PHONY: scale-up
scale-up: ## Scale web to 5 replicas, with no request lost
	$(SCALECTL) scale web --replicas 5
	$(SCALECTL) rollout status web --timeout 3m

.PHONY: scale-down
scale-down: ## Scale web to 1 replica, with no request lost
	$(SCALECTL) scale web --replicas 1
	$(SCALECTL) rollout status web --timeout 3m

.PHONY: scale-status
scale-status: ## Show the replicas of web, their health and upstream membership
	$(SCALECTL) get -o wide
	$(SCALECTL) describe web

##@ Test

# go test -json through hack/testprogress: a line per finished package, a
# line per failed test, every 30 s the tests still running, then each
# failure's full output and a summary. Its exit status is go test's
# (pipefail). TEST_RAW=1 prints go test's own output instead.
.PHONY: test
test: no-short check-docker images ## Unit and integration tests (needs the Docker Engine), with progress
ifeq ($(TEST_RAW),1)
	$(GO) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...
else
	@$(GO) build -o $(BIN)/testprogress ./hack/testprogress
	$(GO) test -json -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./... 2>&1 | $(BIN)/testprogress
endif

# -short skips every Docker and nginx integration test while `go test`
# still prints ok: `make test` refuses it rather than pass on unit tests.
.PHONY: no-short
no-short:
	@case " $${GOFLAGS-} $(TEST_FLAGS) " in *" -short "*|*" -short=true "*|*" -test.short "*) \
		echo "make test: -short (in GOFLAGS or TEST_FLAGS) would skip every Docker and nginx integration test; unset it, or run the unit tests alone with: go test -short ./..." >&2; \
		exit 1;; esac

.PHONY: mutate
mutate: ## Deliberate bugs of hack/mutations.txt against the unit tests, one at a time: caught or survived (not in CI; a few minutes)
	hack/mutate.sh

.PHONY: fuzz
fuzz: ## Every fuzz target for 60 s each (FUZZTIME=10s to shorten); CI runs it after make test
	hack/fuzz.sh

.PHONY: chaos
chaos: check-docker images ## Fault-injection suite, long form: kills, restarts, broken files under load; prints RELIABILITY.md's table (about 15 min)
	hack/chaos.sh

.PHONY: check-docker
check-docker: ## Fail clearly when the Docker Engine is unreachable
	hack/check-docker.sh

##@ Bench

.PHONY: bench
bench: ## Benchmarks: demoapp throughput, zero downtime against docker-compose, reaction, footprint, capacity (BENCHMARKS.md, 15-20 min)
	hack/bench.sh

# What `make load-test` sends; e.g. make load-test LOADTEST_FLAGS="--rate 0 -c 64 -d 10s"
LOADTEST_URL ?= http://127.0.0.1:8080/
LOADTEST_FLAGS ?= --rate 100 --duration 30s

.PHONY: load-test
load-test: build ## Steady load on the `make run` stack; fails if any request fails
	$(BIN)/scalectl loadtest $(LOADTEST_URL) $(LOADTEST_FLAGS)

##@ Lint

.PHONY: lint
lint: ## gofmt, go vet (and shellcheck when installed)
	@unformatted=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [[ -n $$unformatted ]]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	@if command -v shellcheck >/dev/null; then shellcheck -x hack/*.sh .ci/run; \
	else echo "shellcheck not installed: skipped (apt-get install -y shellcheck)"; fi

##@ Clean

.PHONY: clean
clean: ## Remove bin/ and the containers and networks tests left behind
	rm -rf $(BIN)
	@if docker info >/dev/null 2>&1; then \
		docker ps -aq --filter label=$(TEST_LABEL) | xargs -r docker rm -f -v >/dev/null; \
		docker network ls -q --filter label=$(TEST_LABEL) | xargs -r docker network rm >/dev/null; \
		echo "removed test containers and networks (label $(TEST_LABEL))"; \
	else echo "Docker Engine unreachable: test leftovers not checked"; fi
