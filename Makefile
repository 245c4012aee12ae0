# Makefile for the regops.registry Ansible collection.
#
#   make test      everything CI runs: deps venv unit e2e sanity lint molecule
#   make help      list the targets
#
# All Python tooling runs from .venv (created by `make venv` from
# requirements-dev.txt). Debian tools (docker-registry, htpasswd, shellcheck,
# rsync) come from `make deps`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
PY := $(VENV)/bin/python
BUILD := $(ROOT)/build
# pytest, ansible-playbook and molecule find the collection through this
# directory: build/collections/ansible_collections/regops/registry -> repo root.
COLLECTIONS_DIR := $(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS_DIR)/ansible_collections/regops/registry

export VENV
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_DIR)
ifeq ($(filter $(VENV)/bin,$(subst :, ,$(PATH))),)
export PATH := $(VENV)/bin:$(PATH)
endif
export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv deps collection-link unit e2e sanity lint molecule bench demo test clean distclean

help:
	@echo "Targets:"
	@echo "  venv      create/refresh .venv from requirements-dev.txt (stamped, instant when unchanged)"
	@echo "  deps      apt-get install docker-registry apache2-utils shellcheck rsync git if missing"
	@echo "  unit      pytest tests/unit, then tests/emulators"
	@echo "  e2e       pytest tests/e2e (real docker-registry binaries on free ports)"
	@echo "  sanity    ansible-test sanity on build/ansible_collections/regops/registry (SANITY_PYTHONS='3.11 3.12 3.13')"
	@echo "  lint      ansible-lint (production) + antsibull-docs lint + ansible-doc render + shellcheck"
	@echo "  molecule  molecule test (extensions/molecule/ or roles/*/molecule/)"
	@echo "  bench     python bench/run.py"
	@echo "  demo      python scripts/demo.py"
	@echo "  test      deps venv unit e2e sanity lint molecule, with a summary; fails if any stage fails"
	@echo "  clean     remove build/ and test output; distclean also removes .venv"

venv:
	@$(ROOT)/scripts/venv.sh

deps:
	@$(ROOT)/scripts/deps.sh

collection-link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@if [ "$$(readlink $(COLLECTION_LINK) 2>/dev/null)" != "$(ROOT)" ]; then \
		rm -rf $(COLLECTION_LINK); ln -s $(ROOT) $(COLLECTION_LINK); fi

# tests/emulators holds the self-tests of the fake provider APIs the e2e suite
# uses; they are fast and hermetic, so they run with the unit tests.
unit: venv collection-link
	@$(ROOT)/scripts/pytest.sh tests/unit
	@$(ROOT)/scripts/pytest.sh tests/emulators

e2e: deps venv collection-link
	@$(ROOT)/scripts/pytest.sh tests/e2e

sanity: deps venv
	@$(ROOT)/scripts/sanity.sh

lint: deps venv
	@$(ROOT)/scripts/lint.sh

# TODO(molecule): the cleanup role's scenario is not written yet. Until
# extensions/molecule/ or roles/cleanup/molecule/ exists this target prints
# "SKIPPED" and succeeds; as soon as the scenario directory lands it runs
# `molecule test --all` there and any failure fails `make test`.
molecule: deps venv collection-link
	@$(ROOT)/scripts/molecule.sh

bench: deps venv collection-link
	@if [ -f $(ROOT)/bench/run.py ]; then \
		cd $(ROOT) && $(PY) bench/run.py; \
	else \
		echo "bench: SKIPPED: bench/run.py does not exist yet"; \
	fi

demo: deps venv collection-link
	@if [ -f $(ROOT)/scripts/demo.py ]; then \
		cd $(ROOT) && $(PY) scripts/demo.py; \
	else \
		echo "demo: scripts/demo.py does not exist yet" >&2; exit 1; \
	fi

# The README's test command. Every stage runs (deps/venv failures stop early,
# since nothing else can work); the summary lists each stage's result.
test:
	@$(ROOT)/scripts/run-stages.sh deps venv unit e2e sanity lint molecule

clean:
	rm -rf $(BUILD) $(ROOT)/tests/output $(ROOT)/.pytest_cache

distclean: clean
	rm -rf $(VENV)
