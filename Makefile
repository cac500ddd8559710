# Sandman: build, test, demo. See README.md.
SWIFT ?= swift
# python3-venv: the GitLabSim tests install python-gitlab from PyPI into .build/python-gitlab-venv.
# prometheus: promtool and a real server for the monitoring tests; binutils: readelf for the image test;
# postgresql: the Store tests start a throwaway server (initdb in a temporary directory).
APT_PACKAGES := liblua5.4-dev libcurl4-openssl-dev libsqlite3-dev pkg-config python3 python3-venv prometheus binutils postgresql
BIN := .build/debug/sandman
# Debug builds without debug information: a clean build (CI's) is faster and much smaller, and
# crashes still name their functions. Every target uses the same flags, so none rebuilds another's.
BUILD_FLAGS ?= -Xswiftc -gnone
# Python with the official Kubernetes client, for the KubeSim compatibility tests.
PYTHON_VENV := .build-python
PYTHON_PACKAGES := kubernetes==37.0.2 kubernetes-validate==1.37.0

.PHONY: deps python-deps build test demo bench clean kubesim-generated image
IMAGE ?= registry.example.com/sandman:latest

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
	@$(PYTHON_VENV)/bin/python -c "import kubernetes, kubernetes_validate" 2>/dev/null || $(PYTHON_VENV)/bin/pip install -q $(PYTHON_PACKAGES)

## Regenerates KubeSim's embedded schemas, protobuf messages and CRDs (see scripts/).
kubesim-generated:
	@test -x $(PYTHON_VENV)/bin/python || python3 -m venv $(PYTHON_VENV)
	$(PYTHON_VENV)/bin/pip install -q kubernetes-validate==1.37.0
	$(PYTHON_VENV)/bin/python scripts/kubesim_schemas.py
	python3 scripts/kubesim_protobuf.py /usr/lib/google-cloud-sdk/bin/kubectl.1.33
	sh scripts/kubesim_crds.sh

build: deps
	$(SWIFT) build $(BUILD_FLAGS)

# At most 8 tests at once: the suite runs real servers and processes, and 300 of them started
# together on a 2-core machine starve each other for tens of seconds.
test: deps python-deps
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=8 $(SWIFT) test --skip-build $(BUILD_FLAGS)

demo: deps
	$(SWIFT) build --product sandman $(BUILD_FLAGS)
	$(BIN) demo

## Release build, then every benchmark; record the numbers in docs/benchmarks.md.
bench: deps
	$(SWIFT) build -c release --product sandman
	$(SWIFT) build -c release --product sandman-bench
	.build/release/sandman-bench all

## The container image (Dockerfile): release binary on a slim Debian runtime.
image:
	docker build -t $(IMAGE) .

clean:
	rm -rf .build
