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
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/burst, bin/worker and bin/fakeinference (static)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/...

.PHONY: test
test: ## unit and integration tests (needs redis-server on PATH; starts its own)
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 20m $(PKGS)

.PHONY: bench
bench: ## Go benchmarks (fake inference fidelity, enqueue rate, send-time error)
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m $(PKGS)

.PHONY: fmt
fmt: ## gofmt the tree
	gofmt -w $$(git ls-files '*.go')
