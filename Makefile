# Delta Neutral Engine. `make` alone lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SITE := $(shell $(PYTHON) -c 'import sys; print(f"lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages")')
PROTOS := $(shell find protos -name '*.proto')
export PYTHONDONTWRITEBYTECODE := 1

.DEFAULT_GOAL := help
SUDO := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: help run run-live-sim test proto lint bench clean env browser helm image sim requirements

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-13s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: env proto ## Start every service in paper mode on the recorded Drift data
	$(PY) -m services.launcher

run-live-sim: env proto ## Start everything in LIVE mode against the local Solana/Drift stand-ins
	$(PY) -m services.launcher --live-sim

# Two workers (pytest-xdist), one test module each at a time: a module's system starts once.
test: env proto browser ## Install what is missing, lint, and run every test
	$(VENV)/bin/ruff check services tests bench sim
	$(PY) -m pytest -q -n 2 --dist loadscope

proto: gen/.stamp ## Compile protos/ into gen/ with grpcio-tools

lint: env proto ## Ruff over the project's own code
	$(VENV)/bin/ruff check services tests bench sim

# The real paper system beside a bare gRPC/FastAPI floor, one table (issue 12); not part of
# make test. QUICK=1: 300 samples a path and a 5 s load instead of 1000 and 30 s.
bench: env proto ## Measure the system against its floor and targets: make bench [QUICK=1]
	$(PY) -m bench $(if $(QUICK),--quick)

# The seeded fault campaign (issue 9): N schedules over 2 worker processes, or one SEED replayed
# with its schedule and every fault. PYTHONHASHSEED fixed: a replay iterates sets alike.
N ?= 10000
sim: env proto ## Fault campaign over engine, executor, vault: make sim [N=10000] [SEED=n]
	PYTHONHASHSEED=0 $(PY) -m sim $(if $(SEED),--seed $(SEED),--schedules $(N) --workers 2)

env: $(VENV)/.installed ## Create .venv with the pinned packages

browser: ## Install Debian's chromium for the browser tests when it is missing
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# Every package, its dependencies included, is pinned with its hashes (hash-checking mode); the
# project itself (-e .) is built in pip's isolated build environment, as before.
$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes \
	  -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	# Generated code lives in gen/ (not in git); put it on the venv's path.
	echo "$(CURDIR)/gen" > $(VENV)/$(SITE)/dne-generated.pth
	touch $@

# requirements.in (the services, the image) and requirements-dev.in (tests, lint, chart tools)
# resolved into pinned, hashed lists; UPGRADE=1 moves every package as far as the pins allow.
requirements: env ## Re-resolve requirements*.in into requirements*.txt with hashes [UPGRADE=1]
	for name in requirements requirements-dev; do \
	  CUSTOM_COMPILE_COMMAND="make requirements" $(VENV)/bin/pip-compile --quiet \
	    --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	    --no-emit-find-links $(if $(UPGRADE),--upgrade) -o $$name.txt $$name.in || exit 1; \
	done

gen/.stamp: $(PROTOS) $(VENV)/.installed
	rm -rf gen && mkdir -p gen
	$(PY) -m grpc_tools.protoc -I protos --python_out=gen --grpc_python_out=gen --pyi_out=gen $(PROTOS)
	touch $@

helm: env ## Lint and render the Helm chart (deploy/helm), refresh its golden examples, test it
	$(PY) -m tests.kit.deploy_chart write
	$(PY) -m pytest -q tests/deploy

# The image the chart runs, recorded Drift data (data/) included. Push it where the cluster
# pulls from and set the chart's image.repository and image.tag, e.g.
#   make image IMAGE=registry.example.com/dne/delta-neutral-engine && docker push ...
IMAGE ?= delta-neutral-engine
IMAGE_TAG ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}/\1/p' deploy/helm/Chart.yaml)
image: ## Build the services' image for deploy/helm (needs Docker)
	docker build -t $(IMAGE):$(IMAGE_TAG) .

clean: ## Remove the environment, generated code and local state
	rm -rf $(VENV) gen var .pytest_cache .hypothesis
