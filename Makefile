# Sandman: build, test, demo. See README.md.
SWIFT ?= swift
# python3-venv: the GitLabSim tests install python-gitlab from PyPI into .build/python-gitlab-venv.
APT_PACKAGES := liblua5.4-dev libcurl4-openssl-dev libsqlite3-dev pkg-config python3 python3-venv
BIN := .build/debug/sandman

.PHONY: deps build test demo bench clean

## Installs the C libraries the build links against (as root), or says how to.
deps:
	@missing=""; \
	for package in $(APT_PACKAGES); do dpkg -s $$package >/dev/null 2>&1 || missing="$$missing $$package"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null || \
			{ apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null; }; \
		else \
			echo "missing packages:$$missing"; echo "run: sudo apt-get install -y$$missing"; exit 1; \
		fi; \
	fi

build: deps
	$(SWIFT) build

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: deps
	$(SWIFT) build --product sandman
	$(BIN) demo

## Release build, then every benchmark; record the numbers in docs/benchmarks.md.
bench: deps
	$(SWIFT) build -c release --product sandman-bench
	.build/release/sandman-bench all

clean:
	rm -rf .build
