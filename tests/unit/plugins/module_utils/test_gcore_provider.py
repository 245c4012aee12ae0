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

    def make(url, **params):
        provider = GcoreProvider(provider_params("gcore", url, DEFAULT_API_KEY, project_id=DEFAULT_PROJECT_ID, region_id=DEFAULT_REGION_ID,
                                                 **params))
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


@pytest.mark.parametrize("concurrency", [1, 4])
def test_expected_tags_lists_the_repository_again_right_before_each_delete(emu, connect, concurrency):
    """Gcore has no read of one artifact: with ``expected_tags`` naming the digests, the repository's artifacts are listed
    again right before each DELETE (the deletes waiting at once share a listing). A tag pushed onto a listed digest after
    the call's read, or a kept tag moved onto it, keeps it (``skipped``, ``tags_changed``); one deleted since is
    ``absent``. Without ``expected_tags``, no listing is added."""
    registry_id = emu.add_registry("main")["id"]
    digests = ["sha256:%064x" % n for n in range(8)]
    for number, digest in enumerate(digests):
        emu.add_artifact("main", "app", digest=digest, size=10, tags=["old-%d" % number])
    emu.add_artifact("main", "app", digest=DIGEST_A, size=10, tags=["stable"])
    expected = dict((digest, ["old-%d" % n]) for n, digest in enumerate(digests))
    provider = connect(emu.url, expected_tags=expected, concurrency=concurrency)
    items = [{"registry": "main", "repository": "app", "digest": d} for d in digests]

    def meanwhile():
        emu.add_artifact("main", "app", digest=digests[6], tags=["hotfix"])  # a push onto a listed digest
        emu.add_artifact("main", "app", digest=digests[7], tags=["stable"])  # a kept tag moved onto one
        url = "%s/cloud/v1/registries/%d/%d/%d/repositories/app/artifacts/%s" % (
            emu.url, DEFAULT_PROJECT_ID, DEFAULT_REGION_ID, registry_id, digests[5])
        assert requests.delete(url, headers={"Authorization": "APIKey %s" % DEFAULT_API_KEY}, timeout=10).status_code == 204  # another run
    after_the_read(provider, meanwhile)
    emu.log.clear()
    result = engine.ensure(provider, "artifact", items, "absent", {})
    actions = [(a["action"], a.get("reason")) for a in result["actions"]]
    assert actions == [("deleted", None)] * 5 + [("absent", None), ("skipped", "tags_changed"), ("skipped", "tags_changed")]
    assert "tag(s) hotfix now point at this digest" in result["actions"][6]["msg"]
    assert sorted(a["digest"] for a in emu.artifacts.values()) == sorted([DIGEST_A, digests[6], digests[7]])
    listings = [r for r in emu.log.records if r.method == "GET" and r.path.endswith("/artifacts")]
    deletes = [r for r in emu.log.records if r.method == "DELETE"]
    assert len(deletes) == 6  # this run's 5 and the other run's
    if concurrency == 1:
        assert len(listings) == 1 + 8  # the call's read, then one right before each of the 8 deletes
    else:
        assert 1 + 2 <= len(listings) < 1 + 8  # shared by the deletes that asked at once

    emu.log.clear()
    plain = connect(emu.url)
    assert engine.ensure(plain, "artifact", items[6:], "absent", {})["changed"]
    assert [r.method for r in emu.log.records if "/artifacts" in r.path] == ["GET", "DELETE", "DELETE"]
