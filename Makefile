# Spona's two commands, on a fresh Debian machine, as root or not:
#   make run    the server with its database (a private PostgreSQL cluster under .data/ when
#               DATABASE_URL is not set), migrated, on http://127.0.0.1:8080
#   make test   every test against a real PostgreSQL; stops the cluster it started
# and, for measurements, make bench.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

SWIFT ?= swift
BUILD_FLAGS ?=
DB := scripts/dev-db.sh
# Loads the private cluster's URLs unless the caller gave DATABASE_URL.
WITH_DB = if [ -z "$${DATABASE_URL:-}" ]; then $(DB) start; . .data/env; fi;

.PHONY: help run test bench fuzz demo build db-start db-stop clean install
DEMO_CASES ?= 2000

help:
	@echo "make run     serve on http://127.0.0.1:8080 (private PostgreSQL unless DATABASE_URL is set)"
	@echo "make test    run every test against a real PostgreSQL"
	@echo "make bench   measure the event store against plain INSERTs"
	@echo "make fuzz    schemathesis against the served OpenAPI document, as every role"
	@echo "make demo    fill the database with an invented history (DEMO_CASES=2000); never on real data"
	@echo "make db-stop stop the private PostgreSQL cluster"
	@echo "make install a release build, Schema/ and Reference/, and the systemd units on this machine (as root; PREFIX=/usr/local)"

build:
	scripts/ensure-build-deps.sh
	$(SWIFT) build $(BUILD_FLAGS) --product spona

run: build
	@$(WITH_DB) \
	.build/debug/spona migrate; \
	if [ -n "$${SPONA_OWNER_DATABASE_URL:-}" ]; then \
		.build/debug/spona reference load --institutions Reference/institutions-2025.csv --trainings Reference/trainings-2025.csv; \
		echo; \
		echo "spona: a first admin token (shown once; only its hash is stored):"; \
		echo "    .build/debug/spona tokens issue --institution 00000000-0000-4000-8000-00000000c2e0 --role admin"; \
		echo "  with SPONA_OWNER_DATABASE_URL from .data/env (. .data/env) when the private cluster runs."; \
	else \
		echo "spona: set SPONA_OWNER_DATABASE_URL and run 'spona reference load' once to register the Center"; \
	fi; \
	if [ -z "$${SPONA_MASTER_KEY:-}$${SPONA_MASTER_KEY_FILE:-}" ]; then \
		if [ ! -s .data/master.key ]; then \
			mkdir -p .data; (umask 077; .build/debug/spona keys generate > .data/master.key); \
			echo "spona: generated a development master key in .data/master.key (set SPONA_MASTER_KEY_FILE in production)"; \
		fi; \
		export SPONA_MASTER_KEY_FILE=.data/master.key; \
	fi; \
	export SPONA_KEY_DIR="$${SPONA_KEY_DIR:-.data/keys}"; \
	if [ -z "$${SPONA_SEAL_KEY:-}$${SPONA_SEAL_KEY_FILE:-}" ]; then \
		if [ ! -s .data/seal.key ]; then \
			(umask 077; .build/debug/spona keys generate-seal-key > .data/seal.key 2>/dev/null); \
		fi; \
		export SPONA_SEAL_KEY_FILE=.data/seal.key; \
		.build/debug/spona keys seal-public-key > .data/seal.pub; \
		echo "spona: seals are signed with .data/seal.key; auditors verify with the public key in .data/seal.pub"; \
	fi; \
	echo "spona: for an invented history to try the views with, run 'make demo' in another terminal (never on real data)"; \
	echo "spona: serving on http://$${SPONA_HOST:-127.0.0.1}:$${SPONA_PORT:-8080} (Ctrl-C stops it; the API is described at /openapi.yaml)"; \
	echo "spona: the dashboard is at /dashboard (browser sign-in needs SPONA_DASHBOARD_URL and the identity provider: README, operators' section)"; \
	exec .build/debug/spona serve

test:
	scripts/ensure-build-deps.sh
	scripts/test.sh

bench:
	scripts/ensure-build-deps.sh
	scripts/bench.sh

fuzz:
	scripts/ensure-build-deps.sh
	scripts/fuzz.sh

demo: build
	@$(WITH_DB) \
	.build/debug/spona migrate; \
	if [ -z "$${SPONA_MASTER_KEY:-}$${SPONA_MASTER_KEY_FILE:-}" ] && [ -s .data/master.key ]; then \
		export SPONA_MASTER_KEY_FILE=.data/master.key SPONA_KEY_DIR="$${SPONA_KEY_DIR:-.data/keys}"; \
	fi; \
	.build/debug/spona demo --cases $(DEMO_CASES)

db-start:
	$(DB) start

db-stop:
	$(DB) stop

clean: db-stop
	rm -rf .build .data

# A plain machine with systemd: the release binary, the schema and reference data beside it,
# the units, the spona user; then write /etc/spona/env and /etc/spona/owner.env (README,
# "Installing") and `systemctl enable --now spona`. DESTDIR stages it for a package instead.
PREFIX ?= /usr/local
install:
	scripts/ensure-build-deps.sh
	$(SWIFT) build -c release --product spona --static-swift-stdlib
	install -D -m 0755 "$$($(SWIFT) build -c release --show-bin-path)/spona" "$(DESTDIR)$(PREFIX)/bin/spona"
	install -d "$(DESTDIR)$(PREFIX)/share/spona/Schema" "$(DESTDIR)$(PREFIX)/share/spona/Reference"
	install -m 0644 Schema/*.sql "$(DESTDIR)$(PREFIX)/share/spona/Schema/"
	install -m 0644 Reference/*.csv "$(DESTDIR)$(PREFIX)/share/spona/Reference/"
	sed "s|/usr/local|$(PREFIX)|g" deploy/spona.service | install -D -m 0644 /dev/stdin "$(DESTDIR)/etc/systemd/system/spona.service"
	sed "s|/usr/local|$(PREFIX)|g" deploy/spona-migrate.service | install -D -m 0644 /dev/stdin "$(DESTDIR)/etc/systemd/system/spona-migrate.service"
	install -d -m 0750 "$(DESTDIR)/etc/spona"
	if [ -z "$(DESTDIR)" ]; then \
		id spona >/dev/null 2>&1 || useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin spona; \
		chgrp spona /etc/spona; \
		systemctl daemon-reload 2>/dev/null || true; \
		echo "installed; write /etc/spona/env and /etc/spona/owner.env, then: systemctl enable --now spona"; \
	fi
