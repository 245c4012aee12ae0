# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``gcore`` provider's tag and artifact deletes against the Gcore emulator (``tests/emulators/gcore.py``), in this
process over real HTTP on loopback: what is reported when an item went before this run's DELETE."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

import pytest
import requests

from ansible_collections.regops.registry.plugins.module_utils import state as engine
from ansible_collections.regops.registry.plugins.module_utils.providers.gcore import GcoreProvider
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import after_the_read, provider_params

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
if ROOT not in sys.path:  # the emulators live in tests/emulators of the repository
    sys.path.insert(0, ROOT)

from tests.emulators.gcore import DEFAULT_API_KEY, DEFAULT_PROJECT_ID, DEFAULT_REGION_ID, GcoreEmulator  # noqa: E402 pylint: disable=wrong-import-position
from tests.support.faultproxy import FaultProxy, FaultRule  # noqa: E402 pylint: disable=wrong-import-position

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64


@pytest.fixture(scope="module")
def emulator():
    with GcoreEmulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    emulator.reset()
    yield emulator
    emulator.reset()


@pytest.fixture
def connect():
    made = []

    def make(url):
        provider = GcoreProvider(provider_params("gcore", url, DEFAULT_API_KEY, project_id=DEFAULT_PROJECT_ID, region_id=DEFAULT_REGION_ID))
        provider.connect()
        provider.client.sleep = lambda seconds: None
        made.append(provider)
        return provider
    yield make
    for provider in made:
        provider.close()


def test_gone_since_the_read_is_absent_not_deleted(emu, connect):
    """A tag or artifact another run (or a person) deleted between this run's read and its DELETE (404 to the first
    attempt) is reported ``absent``, never ``deleted``: a report must not count what its run did not do. A 404 to a
    repeated DELETE (the first went through, its answer was lost) is this run's delete; a plain delete stays ``deleted``."""
    registry_id = emu.add_registry("main")["id"]
    emu.add_artifact("main", "app", digest=DIGEST_A, size=100, tags=["v1", "keep-a"])
    emu.add_artifact("main", "app", digest=DIGEST_B, size=100, tags=["v2", "keep-b"])
    emu.add_artifact("main", "app", digest=DIGEST_C, size=100, tags=["v3", "keep-c"])
    base = "%s/cloud/v1/registries/%d/%d/%d/repositories/app/artifacts" % (emu.url, DEFAULT_PROJECT_ID, DEFAULT_REGION_ID, registry_id)

    def another_run_removes(path):
        assert requests.delete(base + path, headers={"Authorization": "APIKey %s" % DEFAULT_API_KEY}, timeout=10).status_code == 204

    tags = [{"registry": "main", "repository": "app", "name": n} for n in ("v1", "v2", "v3")]
    with FaultProxy(emu.url, rules=[FaultRule(rate=1.0, kinds=["reset_after"], match=r"^DELETE .*/tags/v3$", max_faults=1)]) as proxy:
        provider = connect(proxy.url)
        after_the_read(provider, lambda: another_run_removes("/%s/tags/v1" % DIGEST_A))
        result = engine.ensure(provider, "tag", tags, "absent", {})
        assert len(proxy.faulted()) == 1  # v3's DELETE acted and its answer was lost: the repeated DELETE got 404
    assert [a["action"] for a in result["actions"]] == ["absent", "deleted", "deleted"]
    assert result["actions"][0]["msg"] == "tag v1 is already gone: deleted since it was read (by another run, or by hand)"

    artifacts = [{"registry": "main", "repository": "app", "digest": d} for d in (DIGEST_A, DIGEST_B, DIGEST_C)]
    with FaultProxy(emu.url, rules=[FaultRule(rate=1.0, kinds=["reset_after"], match=r"^DELETE .*/artifacts/sha256:c+$", max_faults=1)]) as proxy:
        provider = connect(proxy.url)
        after_the_read(provider, lambda: another_run_removes("/" + DIGEST_A))
        result = engine.ensure(provider, "artifact", artifacts, "absent", {})
        assert len(proxy.faulted()) == 1
    assert [a["action"] for a in result["actions"]] == ["absent", "deleted", "deleted"]
    assert result["actions"][0]["msg"] == "already gone: deleted since it was read (by another run, or by hand)"
    assert not emu.artifacts
