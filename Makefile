# burst — make targets. `make` alone lists them.
SHELL := /bin/bash
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/burstbench/burst/internal/cli.Version=$(VERSION)
PKGS := ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/burst, bin/worker and bin/fakeinference (static)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

.PHONY: test
test: ## unit and integration tests (needs redis-server on PATH; starts its own)
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)

.PHONY: gobench
gobench: ## Go benchmarks (fake inference fidelity, enqueue rate, send-time error)
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m $(PKGS)

.PHONY: fmt
fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')

.PHONY: e2e
e2e: ## end-to-end tests on a real kind cluster with KEDA (needs Docker; see README "Sandbox")
	$(GO) test -tags e2e -count=1 -timeout 60m -v ./e2e/...

.PHONY: e2e-infra
e2e-infra: ## infrastructure checks on the kind cluster named by BURST_E2E_CLUSTER (default burst-dev, kept afterwards)
	$(GO) test -tags e2e -count=1 -timeout 30m -v ./internal/cluster/ ./internal/deploy/

.PHONY: up
up: build ## create or reuse the kind cluster with KEDA, Redis and the fake inference server
	$(BIN)/burst up

.PHONY: bench
bench: build ## burst up, run the shipped cluster scenarios, print the comparison table
	$(BIN)/burst up
	@mkdir -p results/bench
	@for s in scenarios/spike-50-lag-pending.yaml scenarios/spike-50-lag.yaml scenarios/seed-article.yaml; do \
		$(BIN)/burst run --scenario $$s --out results/bench || echo "burst: $$s exited $$?"; done
	$(BIN)/burst compare results/bench

.PHONY: down
down: build ## delete the kind cluster
	$(BIN)/burst down

.PHONY: lint
lint: build ## validate the shipped profiles and scenarios and show KEDA pitfall warnings
	$(BIN)/burst lint loadprofiles/profiles/*.yaml scenarios/*.yaml
