# The project's commands. `make up` brings the platform up; `make test` runs every test.
# Caches (artifacts, image inputs) live outside the clone, under ~/.cache/whisk by default.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
PYTEST := $(VENV)/bin/pytest
export WHISK_ARTIFACTS ?= $(HOME)/.cache/whisk/artifacts
export WHISK_CACHE ?= $(HOME)/.cache/whisk
export WHISK_TEST_LOGS ?= $(ROOT)/test-logs
export PATH := $(VENV)/bin:$(PATH)
# Everything the project creates in Docker carries this label (DESIGN.md §3).
PROJECT_LABEL := org.whisk.project=whisk
# `make test` sets up once, then runs the tiers side by side (scripts/test-all.sh), each with
# WHISK_SETUP_DONE=1: a tier then neither sets up again nor cleans Docker under the others.
setup = $(if $(WHISK_SETUP_DONE),,$(1))

# Phases print their elapsed time, so the README's figures can be read off any run.
define timed
	@start=$$(date +%s%N); $(1); \
	awk -v s="$$start" -v e="$$(date +%s%N)" -v what="$(2)" \
	    'BEGIN { printf "make: %s took %.1f s\n", what, (e - s) / 1e9 }'
endef

.PHONY: help
help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{ printf "  make %-18s %s\n", $$1, $$2 }'

.PHONY: prereqs
prereqs:  ## install the Debian packages the project needs and start Docker Engine
	$(call timed,bash scripts/prereqs.sh,prereqs)

.PHONY: artifacts
artifacts: prereqs  ## stage Kafka, Consul and PouchDB Server into $WHISK_ARTIFACTS
	$(call timed,bash scripts/artifacts.sh,artifacts)

.PHONY: images
images: prereqs venv  ## build every image (debootstrap, no registry) and stage their archives
	$(call timed,bash scripts/images.sh && bash scripts/service-images.sh,images)

# Made from a wheelhouse outside the clone, keyed by the pins (scripts/venv.sh says how).
$(VENV)/.installed: python/pyproject.toml python/constraints.txt scripts/venv.sh
	$(call timed,bash scripts/venv.sh,venv)

.PHONY: venv
venv: $(VENV)/.installed  ## create the virtualenv at .venv with the package and its tools

.PHONY: docker-clean
docker-clean: prereqs  ## remove the containers, networks and volumes an earlier run left
	@bash scripts/thaw-nested.sh
	@ids=$$(docker ps -aq --filter label=$(PROJECT_LABEL)); \
	if [ -n "$$ids" ]; then docker rm -f $$ids >/dev/null; fi; \
	docker network prune -f --filter label=$(PROJECT_LABEL) >/dev/null; \
	docker volume prune -f --filter label=$(PROJECT_LABEL) >/dev/null

.PHONY: lint
lint: $(call setup,venv)  ## ruff, mypy --strict, import layers, yamllint, ansible-lint (production)
	$(VENV)/bin/ruff check --config python/pyproject.toml python bench scripts runtimes roles tests plugins
	$(VENV)/bin/ruff format --config python/pyproject.toml --check python bench scripts runtimes roles tests plugins
	cd python && $(VENV)/bin/mypy
	cd python && $(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/yamllint -s .
	$(VENV)/bin/ansible-lint
	$(PY) scripts/check_role_specs.py

.PHONY: test-unit
test-unit: $(call setup,venv)  ## the fast, offline unit tests
	$(call timed,cd python && $(PYTEST) -m 'not integration' -q --junitxml=$(WHISK_TEST_LOGS)/unit.xml,test-unit)

.PHONY: test-integration
test-integration: $(call setup,venv artifacts images docker-clean)  ## tests against real ZooKeeper, Kafka, Consul, CouchDB API, Docker
	$(call timed,cd python && $(PYTEST) -m integration -v --durations=30 --junitxml=$(WHISK_TEST_LOGS)/integration.xml,test-integration)

.PHONY: test
test:  ## everything: set-up once, then side by side lint, unit, integration, molecule, the cluster, the dev box
	$(call timed,$(MAKE) --no-print-directory prereqs artifacts images venv docker-clean && \
	    bash scripts/test-all.sh,test)

.PHONY: test-fast
test-fast:  ## lint, unit and integration (no deployment tiers)
	$(call timed,$(MAKE) --no-print-directory lint test-unit test-integration,test-fast)

.PHONY: bench
bench: venv artifacts images  ## the benchmarks; figures are printed and saved under bench/results/
	$(PY) bench/kafka_clients.py
	$(PY) bench/controller_reads.py
	$(PY) bench/invoke_latency.py

.PHONY: dev
dev: venv artifacts images  ## run CouchDB API, ZooKeeper, Kafka, controller, invoker locally; write .wskprops
	$(PY) scripts/dev.py up

.PHONY: dev-down
dev-down:  ## stop what `make dev` started (its data is kept)
	$(PY) scripts/dev.py down

.PHONY: cluster-up
cluster-up: prereqs artifacts images venv  ## a three-host cluster in local containers, by playbooks/site.yml
	$(call timed,bash scripts/cluster.sh up,cluster-up)

.PHONY: cluster-down
cluster-down: venv  ## remove the local cluster's hosts, volumes and network
	$(call timed,bash scripts/cluster.sh down,cluster-down)

.PHONY: test-molecule
test-molecule: $(call setup,venv images)  ## every role's molecule scenarios (WHISK_MOLECULE_JOBS at a time, default 4)
	$(call timed,bash scripts/molecule-all.sh,test-molecule)

.PHONY: test-cluster
test-cluster: $(call setup,prereqs artifacts images venv)  ## cluster-up, its checks, tests/infra, a rolling upgrade, cluster-down
	$(call timed,(status=0; export WHISK_WSKPROPS=$(WHISK_TEST_LOGS)/cluster.wskprops; \
	    bash scripts/cluster.sh up && bash scripts/cluster.sh verify && \
	    bash scripts/cluster.sh upgrade || status=$$?; \
	    bash scripts/cluster.sh down; exit $$status),test-cluster)

.PHONY: up
up: prereqs artifacts images venv  ## the dev box (Vagrant): the whole platform, a smoke test, how to reach it
	$(call timed,bash scripts/devbox.sh up,up)

.PHONY: down
down: venv  ## destroy the dev box (its volume and network too)
	$(call timed,bash scripts/devbox.sh down,down)

.PHONY: test-devbox
test-devbox: $(call setup,prereqs artifacts images venv)  ## make up, re-provision (changed=0), tests/infra, vagrant reload, make down
	$(call timed,(status=0; export WHISK_WSKPROPS=$(WHISK_TEST_LOGS)/devbox.wskprops; \
	    bash scripts/devbox.sh up && bash scripts/devbox.sh acceptance || status=$$?; \
	    bash scripts/devbox.sh down; exit $$status),test-devbox)
