# apim-conformance. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
PATTERN ?= 6
FAULT ?=
RUN_ID ?=

.PHONY: help test demo test-pattern-N test-pattern-0 test-pattern-1 test-pattern-2 test-pattern-3 test-pattern-4 test-pattern-5 test-pattern-6 bench vet fmt-check testenv-up testenv-down lint-workflows

help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

demo: ## pattern PATTERN (default 6) against the emulator, seconds, any machine; FAULT=<name> injects a fault
	$(GO) run ./tools/apimconf demo --pattern $(PATTERN) $(if $(FAULT),--fault $(FAULT)) $(if $(RUN_ID),--run-id $(RUN_ID))

test: vet fmt-check lint-workflows ## the self-tests: unit tests, fault matrix, infrastructure tests (REQUIRE_TESTENV=1 makes missing infra fail)
	$(GO) test -count=1 ./...

bench: ## benchmarks (full pattern-6 check run against the emulator)
	$(GO) test -run '^$$' -bench . -benchtime 5x ./suites/...

lint-workflows: ## actionlint the GitHub workflows (a Go tool of this module: no separate install)
	$(GO) tool actionlint .github/workflows/*.yml

vet: ## go vet
	$(GO) vet ./...

fmt-check: ## fail when gofmt would change a file
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

testenv-up: ## start the local test infrastructure (control plane + kwok, dockerd + local MySQL image, MariaDB); idempotent; prints the env to export (eval "$$(make -s testenv-up)")
	@bash tools/testenv/testenv.sh up

testenv-down: ## stop everything testenv-up started, remove its containers, bridge and data dirs (safe to run twice; TESTENV_PURGE=1 also drops the image store)
	@bash tools/testenv/testenv.sh down

test-pattern-N: ## make test-pattern-0 ... test-pattern-6: pattern N for real: kind, MySQL, the pattern's WSO2 charts (6: IS 7 + APIM), every check (needs Docker; without Docker: make demo PATTERN=N)
	@echo >&2 "make test-pattern-N: name the pattern, e.g. make test-pattern-3 (patterns 0-6; make test-pattern-6 is all-in-one + IS 7)"; exit 2

test-pattern-0 test-pattern-1 test-pattern-2 test-pattern-3 test-pattern-4 test-pattern-5 test-pattern-6: test-pattern-%:
	@$(GO) run ./tools/apimconf doctor --pattern $* --platform kind || { echo >&2 "make test-pattern-$*: needs a running Docker engine with enough CPU/memory (fix lines above); no Docker? try 'make demo$(if $(filter-out 6,$*), PATTERN=$*)' (Go only, seconds)"; exit 1; }
	$(GO) run ./tools/apimconf run --pattern $* --platform kind $(if $(RUN_ID),--run-id $(RUN_ID))
