# Makefile for the regops.registry Ansible collection.
#
#   make test      everything CI runs (see TEST_SERIAL / TEST_CONCURRENT below), with a summary
#   make help      list the targets
#
# Python tooling runs from .venv (ansible-core 2.19, from requirements-dev.txt); the unit and e2e tests
# also run on ansible-core 2.18 from .venv-2.18 (requirements-2.18.txt), the oldest core that
# meta/runtime.yml claims. Debian tools (python3-venv, docker-registry, htpasswd, shellcheck, rsync, git,
# chromium, chromedriver) come from `make deps`. Everything is written under the checkout (build/, .venv*, .ansible/).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV := $(ROOT)/.venv
VENV_218 := $(ROOT)/.venv-2.18
PY := $(VENV)/bin/python
BUILD := $(ROOT)/build
# pytest, ansible-playbook and molecule find the collection through this
# directory: build/collections/ansible_collections/regops/registry -> repo root.
COLLECTIONS_DIR := $(BUILD)/collections
COLLECTION_LINK := $(COLLECTIONS_DIR)/ansible_collections/regops/registry
# pytest-xdist workers for the e2e suites; each worker starts its own registries and emulators on free
# ports, in its own temp dirs. Two suites (2.19 and 2.18) run at once in `make test`.
E2E_WORKERS ?= 2
# Several pytest runs share the checkout at once in `make test`: none of them writes .pytest_cache.
PYTEST_OPTS := -p no:cacheprovider
# e2e on 2.18 runs the tests marked `compat` (tests/e2e/conftest.py): every module on every provider, the role,
# and a module failing halfway, i.e. everything that touches ansible-core's API; the logic tests behind them (faults,
# races, the demo) run on 2.19 only. E2E_218_ARGS= runs them all.
E2E_218_ARGS ?= -m compat
# How many of the independent stages of `make test` run at once (scripts/run-stages.sh).
export REGOPS_STAGE_JOBS ?= 3

export VENV
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS_DIR)
ifeq ($(filter $(VENV)/bin,$(subst :, ,$(PATH))),)
export PATH := $(VENV)/bin:$(PATH)
endif
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# No bytecode next to the sources. (PYTHONPYCACHEPREFIX was measured 10-60% slower for the e2e suite: every
# ansible-playbook and module process then compiles the venv's packages into the prefix instead of using theirs.)
export PYTHONDONTWRITEBYTECODE := 1
# Temporary files and caches (pip's, ansible-lint's) go under build/ too: make test writes nothing outside the checkout.
export TMPDIR := $(BUILD)/tmp
export XDG_CACHE_HOME := $(BUILD)/cache
# The e2e harness and the demo let module processes reuse the bytecode of the AnsiballZ payload instead of compiling
# the same module_utils source in every module run (tests/support/zipimport_cache); REGOPS_ZIPIMPORT_CACHE= turns it off.
export REGOPS_ZIPIMPORT_CACHE ?= $(BUILD)/cache/ansiballz
# The e2e harness runs module processes from a warm interpreter (tests/support/warm_python.py); REGOPS_WARM_PYTHON=0
# gives every module process a fresh interpreter. `make demo` runs them fresh, as a user's run does.
$(shell mkdir -p $(BUILD)/tmp)

# `make test`: the prerequisites one after another, then the independent stages side by side, longest first.
TEST_SERIAL := deps venv venv-2.18 collection-link
TEST_CONCURRENT := e2e e2e-2.18 sanity lint molecule bench-smoke galaxy docs-check unit unit-2.18 changelog

.PHONY: help venv venv-2.18 deps collection-link unit unit-2.18 e2e e2e-2.18 sanity lint molecule \
	docs docs-check galaxy changelog changelog-release bench bench-smoke demo test clean distclean

help:
	@echo "Targets:"
	@echo "  deps        apt-get install what the tests need, if missing (python3-venv docker-registry apache2-utils"
	@echo "              shellcheck rsync git chromium chromium-driver)"
	@echo "  venv        create/refresh .venv (ansible-core 2.19 + tooling; stamped, instant when unchanged)"
	@echo "  venv-2.18   create/refresh .venv-2.18 (ansible-core 2.18, for unit and e2e tests)"
	@echo "  unit        pytest tests/unit and tests/emulators on ansible-core 2.19; unit-2.18 on 2.18"
	@echo "  e2e         pytest tests/e2e on 2.19 (E2E_WORKERS=$(E2E_WORKERS) xdist workers, real docker-registry"
	@echo "              and emulators on free ports); e2e-2.18 on 2.18"
	@echo "  sanity      ansible-test sanity on build/ansible_collections/regops/registry (3.11, plus 3.12/3.13"
	@echo "              compile+import when found)"
	@echo "  lint        ansible-lint --profile production (plain) + antsibull-docs lint + ansible-doc + shellcheck"
	@echo "  molecule    the cleanup role's molecule scenario (roles/cleanup/molecule/default)"
	@echo "  docs        HTML docs site with antsibull-docs and Sphinx into build/docs/html"
	@echo "  docs-check  docs, then tests/docs: the site in headless Chromium (every page, no broken link)"
	@echo "  galaxy      build the tarball, check its file list (tests/release), run galaxy-importer on it"
	@echo "  changelog   antsibull-changelog lint; CHANGELOG.rst matches changelogs/changelog.yaml"
	@echo "  changelog-release  release galaxy.yml's version from changelogs/fragments (scripts/changelog.sh)"
	@echo "  bench       python bench/run.py (every suite: oci, providers, growth; about 30 minutes)"
	@echo "  bench-smoke every benchmark suite at its smallest (--quick), results in build/bench-smoke: the code keeps working"
	@echo "  demo        python scripts/demo.py"
	@echo "  test        $(TEST_SERIAL), then $(TEST_CONCURRENT)"
	@echo "              ($(REGOPS_STAGE_JOBS) at a time), with a summary; fails if any stage fails"
	@echo "  clean       remove build/ and test output; distclean also removes .venv, .venv-2.18 and .ansible/"

venv:
	@$(ROOT)/scripts/venv.sh

venv-2.18:
	@VENV=$(VENV_218) REQUIREMENTS=$(ROOT)/requirements-2.18.txt $(ROOT)/scripts/venv.sh

deps:
	@$(ROOT)/scripts/deps.sh

collection-link:
	@mkdir -p $(dir $(COLLECTION_LINK))
	@if [ "$$(readlink $(COLLECTION_LINK) 2>/dev/null)" != "$(ROOT)" ]; then \
		rm -rf $(COLLECTION_LINK); ln -s $(ROOT) $(COLLECTION_LINK); fi

# tests/emulators holds the self-tests of the fake provider APIs the e2e suite
# uses; they are fast and hermetic, so they run with the unit tests. They import
# nothing from ansible-core (tests/unit/support/test_emulators_stand_alone.py
# checks it), so they run once, on 2.19.
unit: venv collection-link
	@$(ROOT)/scripts/pytest.sh tests/unit $(PYTEST_OPTS)
	@$(ROOT)/scripts/pytest.sh tests/emulators $(PYTEST_OPTS)

unit-2.18: venv-2.18 collection-link
	@VENV=$(VENV_218) $(ROOT)/scripts/pytest.sh tests/unit $(PYTEST_OPTS)

e2e: deps venv collection-link
	@$(ROOT)/scripts/pytest.sh tests/e2e $(PYTEST_OPTS) -n $(E2E_WORKERS) --durations=10

e2e-2.18: deps venv-2.18 collection-link
	@VENV=$(VENV_218) $(ROOT)/scripts/pytest.sh tests/e2e $(PYTEST_OPTS) -n $(E2E_WORKERS) --durations=10 $(E2E_218_ARGS)

sanity: deps venv
	@$(ROOT)/scripts/sanity.sh

lint: deps venv
	@$(ROOT)/scripts/lint.sh

# The cleanup role's scenario: roles/cleanup/molecule/default (a real docker-registry on loopback).
molecule: deps venv collection-link
	@$(ROOT)/scripts/molecule.sh

docs: venv
	@$(ROOT)/scripts/docs.sh

docs-check: deps docs
	@$(ROOT)/scripts/pytest.sh tests/docs $(PYTEST_OPTS)

galaxy: venv
	@$(ROOT)/scripts/galaxy.sh

changelog: venv
	@$(ROOT)/scripts/changelog.sh lint

changelog-release: venv
	@$(ROOT)/scripts/changelog.sh release

bench: deps venv collection-link
	@if [ -f $(ROOT)/bench/run.py ]; then \
		cd $(ROOT) && $(PY) bench/run.py; \
	else \
		echo "bench: SKIPPED: bench/run.py does not exist yet"; \
	fi

# `make demo` runs the role on a local registry; `make demo PROVIDER=vultr`, `gitlab`, `github` or `ncloud` through that provider's emulator, offline.
PROVIDER ?= oci
# The figures are make bench's; this only proves that every suite still runs (the benchmark imports the test support
# code, which changes). The providers suite runs on the two emulators that need no registry behind them.
bench-smoke: deps venv collection-link
	@mkdir -p $(BUILD)/bench-smoke
	@cd $(ROOT) && $(PY) bench/run.py --suite oci --quick --output $(BUILD)/bench-smoke/oci.json
	@cd $(ROOT) && $(PY) bench/run.py --suite growth --quick --output $(BUILD)/bench-smoke/growth.json
	@cd $(ROOT) && $(PY) bench/run.py --suite providers --quick --providers gitlab --output $(BUILD)/bench-smoke/providers.json

demo: deps venv collection-link
	@cd $(ROOT) && $(PY) scripts/demo.py --provider $(PROVIDER)

# The README's test command. The prerequisites run first (a failure there stops the run, since nothing
# else can work); then every independent stage runs, $(REGOPS_STAGE_JOBS) at a time, each with its own
# log in build/logs/; the summary lists each stage's result and time.
test:
	@$(ROOT)/scripts/run-stages.sh $(TEST_SERIAL) -- $(TEST_CONCURRENT)

clean:
	rm -rf $(BUILD) $(ROOT)/tests/output $(ROOT)/.pytest_cache

distclean: clean
	rm -rf $(VENV) $(VENV_218) $(ROOT)/.ansible
