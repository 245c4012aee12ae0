# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules of GitHub's artifact metadata and attestations (``artifact`` with ``storage_record``, ``deployment_record``,
``attestation``, ``attestation_info``), main() in-process against the GitHub emulator: what they refuse before any request,
and what they return."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import sys

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.regops.registry.plugins.modules import artifact, attestation, attestation_info, deployment_record

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
if ROOT not in sys.path:  # the emulators live in tests/emulators of the repository
    sys.path.insert(0, ROOT)

from tests.emulators.github import DEFAULT_TOKEN, GitHubEmulator  # noqa: E402 pylint: disable=wrong-import-position

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
GHCR = "https://ghcr.io"


@pytest.fixture(scope="module")
def emulator():
    with GitHubEmulator(clock="2026-05-30T12:00:00Z") as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    emulator.reset()
    yield emulator
    emulator.reset()


def run(module, capsys, emu, **args):
    """``module.main()`` with the emulator's connection and ``args``; (exit code, result)."""
    args = dict({"provider": "github", "api_url": emu.url, "api_token": DEFAULT_TOKEN, "retries": 0}, **args)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            module.main()
    return caught.value.code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("module, args, message", [
    (artifact, {"registry": "acme", "repository": "app", "digest": [D1], "storage_record": {"name": "app", "registry_url": GHCR}},
     "storage_record works on the storage records of each digest: repository cannot go with it"),
    (artifact, {"registry": "acme", "digest": [D1], "storage_record": {}, "state": "absent", "expected_tags": {D1: []}},
     "expected_tags cannot go with it"),
    (artifact, {"digest": [D1], "storage_record": {"name": "app", "registry_url": GHCR}}, "storage_record needs registry"),
    (artifact, {"registry": "acme", "digest": [D1], "storage_record": {"name": "app"}}, "state=present needs storage_record.registry_url"),
    (artifact, {"registry": "acme", "digest": [D1], "storage_record": {"status": "eol"}, "state": "absent"},
     "storage_record.status 'eol' does not go with state=absent"),
    (artifact, {"registry": "acme", "digest": [D1], "storage_record": {"status": "gone"}},
     "value of status must be one of: active, eol, deleted, got: gone found in storage_record"),
    (artifact, {"registry": "user:octocat", "digest": [D1], "storage_record": {}, "state": "absent"},
     "exists for organizations only: registry 'user:octocat' is a user account"),
    (deployment_record, {"registry": "acme", "digest": [D1, D2], "name": "app", "logical_environment": "prod", "deployment_name": "web"},
     "digest: state=present records one deployment, which holds one digest"),
    (deployment_record, {"registry": "acme", "digest": [D1], "deployments": [{"digest": D1, "deployment_name": "web"}]},
     "parameters are mutually exclusive: digest|deployments"),
    (deployment_record, {"registry": "acme"}, "one of the following is required: digest, deployments"),
    (deployment_record, {"registry": "acme", "deployments": []}, "deployments is empty"),
    (deployment_record, {"registry": "acme", "digest": [D1], "name": "app", "deployment_name": "web"},
     "state=present records a deployment: logical_environment is missing"),
    (deployment_record, {"registry": "acme", "digest": [D1], "state": "absent", "runtime_risks": ["exposed"]},
     "value of runtime_risks must be one or more of"),
    (deployment_record, {"registry": "acme", "logical_environment": "prod", "cluster": "c1",
                         "deployments": [{"digest": D1, "deployment_name": "web", "name": "app", "tags": dict.fromkeys("abcdef", "x")}]},
     "deployments['web'].tags has 6 entries: GitHub takes at most 5"),
    (deployment_record, {"registry": "user:octocat", "digest": [D1], "state": "absent"}, "exists for organizations only"),
    (attestation, {"registry": "acme", "digest": [D1], "state": "present"}, "value of state must be one of: absent"),
    (attestation, {"registry": "acme", "digest": ["sha512:" + "a" * 128]}, "is not a sha256 digest"),
    (attestation_info, {"registry": "acme", "digest": [D1], "predicate_type": " "}, "predicate_type must not be empty"),
])
def test_bad_input_fails_before_any_request(emu, capsys, module, args, message):
    code, result = run(module, capsys, emu, **args)
    assert code == 1 and message in result["msg"], result
    assert emu.log.records == []


@pytest.mark.parametrize("module, args, what", [
    (artifact, {"digest": [D1], "storage_record": {"name": "app", "registry_url": GHCR}, "registry": "x"}, "storage_record"),
    (deployment_record, {"registry": "x", "digest": [D1], "state": "absent"}, "deployment_record"),
    (attestation, {"registry": "x", "digest": [D1]}, "attestation"),
    (attestation_info, {"registry": "x", "digest": [D1]}, "attestation_info"),
])
def test_other_providers_refuse_before_any_request(emu, capsys, module, args, what):
    code, result = run(module, capsys, emu, provider="gitlab", **args)
    assert code == 1 and result["msg"].startswith("Provider 'gitlab' cannot manage %s: it has no such resource." % what), result
    assert emu.log.records == []


def test_storage_records_through_the_artifact_module(emu, capsys):
    code, result = run(artifact, capsys, emu, registry="acme", digest=[D1], storage_record={"name": "app", "registry_url": GHCR})
    assert code == 0 and result["changed"] is True and [a["action"] for a in result["actions"]] == ["created"]
    assert [(r["name"], r["status"]) for r in result["storage_records"]] == [("app", "active")]
    assert "artifacts" not in result
    code, result = run(artifact, capsys, emu, registry="acme", digest=[D1, D2], storage_record={}, state="absent", _ansible_check_mode=True)
    assert code == 0 and result["changed"] is True and [a["action"] for a in result["actions"]] == ["deleted", "absent"]
    code, result = run(artifact, capsys, emu, registry="acme", digest=[D1, D2], storage_record={}, state="absent")
    assert code == 0 and result["storage_records"][0]["status"] == "deleted"
    assert [r.method for r in emu.log.records].count("POST") == 2


def test_deployment_record_and_attestation_modules(emu, capsys):
    emu.add_attestation("org", "acme", D1)
    code, result = run(deployment_record, capsys, emu, registry="acme", digest=[D1], name="app", logical_environment="prod",
                       cluster="c1", deployment_name="web", tags={"replicas": 3})
    assert code == 0 and result["deployment_records"][0]["tags"] == {"replicas": "3"}
    assert result["deployment_records"][0]["attestation_id"] == emu.attestation_ids("org", "acme")[0]
    code, result = run(attestation_info, capsys, emu, registry="acme", digest=[D1])
    assert code == 0 and result["changed"] is False and len(result["attestations"]) == 1 and "bundle" not in result["attestations"][0]
    code, result = run(attestation, capsys, emu, registry="acme", digest=[D1, D2])
    assert code == 0 and [a["action"] for a in result["actions"]] == ["deleted", "absent"]
    assert result["attestations"][0]["count"] == 1
