# scaler: `make test` and `make run` are the two commands a newcomer needs;
# `make` alone lists the rest.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO ?= go
BIN := bin
# Integration tests start containers and wait on health checks: generous.
TEST_TIMEOUT ?= 20m
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
images: ## Build demoapp:dev, scaler-nginx:dev, scaler-redis:dev locally (no registry; cached)
	hack/build-images.sh

##@ Run

# scalectl of `make run`'s daemon; SCALER_SOCKET lets it find the socket.
SCALECTL := SCALER_SOCKET=$${SCALER_SOCKET:-.scaler/scalerd.sock} $(BIN)/scalectl

.PHONY: run
run: build images ## Start scalerd on manifests/ in the background; the app serves on 127.0.0.1:8080
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

.PHONY: test
test: check-docker images ## Unit and integration tests (needs the Docker Engine)
	$(GO) test -timeout $(TEST_TIMEOUT) $(TEST_FLAGS) ./...

.PHONY: check-docker
check-docker: ## Fail clearly when the Docker Engine is unreachable
	hack/check-docker.sh

##@ Bench

.PHONY: bench
bench: ## Benchmarks: demoapp throughput, zero downtime against docker-compose, reaction, footprint (BENCHMARKS.md, 15-20 min)
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
