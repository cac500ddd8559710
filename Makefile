# Sandman: build, test, demo. See README.md.
SWIFT ?= swift
# python3-venv: the GitLabSim tests install python-gitlab from PyPI into .build/python-gitlab-venv.
APT_PACKAGES := liblua5.4-dev libcurl4-openssl-dev libsqlite3-dev pkg-config python3 python3-venv
BIN := .build/debug/sandman
# Python with the official Kubernetes client, for the KubeSim compatibility tests.
PYTHON_VENV := .build-python
PYTHON_PACKAGES := kubernetes==37.0.2

.PHONY: deps python-deps build test demo bench clean kubesim-generated

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

## A virtualenv with the Python packages the tests drive KubeSim with.
python-deps:
	@test -x $(PYTHON_VENV)/bin/python || python3 -m venv $(PYTHON_VENV)
	@$(PYTHON_VENV)/bin/python -c "import kubernetes" 2>/dev/null || $(PYTHON_VENV)/bin/pip install -q $(PYTHON_PACKAGES)

## Regenerates KubeSim's embedded schemas, protobuf messages and CRDs (see scripts/).
kubesim-generated:
	@test -x $(PYTHON_VENV)/bin/python || python3 -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/pip install -q kubernetes-validate==1.37.0
	$(PYTHON_VENV)/bin/python scripts/kubesim_schemas.py
	python3 scripts/kubesim_protobuf.py /usr/lib/google-cloud-sdk/bin/kubectl.1.33
	sh scripts/kubesim_crds.sh

build: deps
	$(SWIFT) build

test: deps python-deps
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
