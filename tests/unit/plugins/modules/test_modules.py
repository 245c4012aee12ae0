# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's main() in-process, against a real local HTTP server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.regops.registry.plugins.module_utils import providers
from ansible_collections.regops.registry.plugins.modules import (
    artifact,
    artifact_info,
    registry,
    registry_info,
    registry_user,
    registry_user_info,
    repository,
    repository_info,
    tag,
    tag_info,
)
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import FakeOci, ScriptedServer

D1 = "sha256:" + "1" * 64

MINIMAL_ARGS = {
    artifact: {"digest": ["team/app@" + D1], "state": "absent"},
    artifact_info: {"repository": ["team/app"]},
    registry: {"name": "main"},
    registry_info: {},
    registry_user: {"registry": "main", "name": ["ci"]},
    registry_user_info: {"registry": "main"},
    repository: {"name": "team/app", "state": "absent"},
    repository_info: {},
    tag: {"name": ["team/app:v1"], "state": "absent"},
    tag_info: {"repository": ["team/app"]},
}


@pytest.fixture
def server():
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def fake(server):
    return FakeOci(server, tag_delete=400)


@pytest.fixture(autouse=True)
def no_docker_credentials(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)


def run(module, capsys, **args):
    """Run ``module.main()`` with ``args``; return (exit code, result)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            module.main()
    return caught.value.code, json.loads(capsys.readouterr().out)


def oci(server, **args):
    return dict(args, provider="oci", api_url=server.url, retries=0)


@pytest.mark.parametrize("module", sorted(MINIMAL_ARGS, key=lambda m: m.__name__), ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_unavailable_provider_fails_before_any_request(server, capsys, module):
    if "vultr" in providers.AVAILABLE:
        pytest.skip("the vultr provider is available now")
    code, result = run(module, capsys, provider="vultr", api_url=server.url, api_token="tok-vultr-123", **MINIMAL_ARGS[module])
    assert code == 1
    assert result["failed"] is True
    assert result["msg"] == "Provider 'vultr' is not available in this version of regops.registry yet; available: %s." % (
        ", ".join(sorted(providers.AVAILABLE)))
    assert "oci" in result["msg"]
    assert not server.requests


def test_unknown_provider_is_rejected_by_choices(server, capsys):
    code, result = run(tag_info, capsys, provider="quay", api_url=server.url)
    assert code == 1 and "provider" in result["msg"] and "quay" in result["msg"]
    assert not server.requests


@pytest.mark.parametrize("module, what", [
    (registry, "registry"), (registry_info, "registry_info"), (registry_user, "registry_user"), (registry_user_info, "registry_user_info"),
], ids=["registry", "registry_info", "registry_user", "registry_user_info"])
def test_oci_has_no_registries_or_users(server, capsys, module, what):
    code, result = run(module, capsys, **oci(server, **MINIMAL_ARGS[module]))
    assert code == 1
    assert result["msg"].startswith("Provider 'oci' cannot manage %s: " % what)
    assert "Provider 'oci' supports: repository (state=absent, repository_info); artifact (state=present|absent, artifact_info); " \
           "tag (state=present|absent, tag_info)." in result["msg"]
    assert not server.requests


def test_oci_cannot_create_a_repository(server, capsys):
    code, result = run(repository, capsys, **oci(server, name="team/app", state="present"))
    assert code == 1
    assert "does not support repository state=present" in result["msg"]
    assert not server.requests


def test_oci_rejects_unsupported_options_before_any_request(server, capsys):
    code, result = run(registry, capsys, **oci(server, name="main", storage_limit=5))
    assert code == 1 and "cannot manage registry" in result["msg"]
    assert not server.requests


@pytest.mark.parametrize("module, args, message", [
    (tag, {"name": ["team/app:bad tag!"], "state": "absent"}, "'bad tag!' is not a valid tag"),
    (tag, {"name": ["team/app:.hidden"], "state": "absent"}, "'.hidden' is not a valid tag"),
    (tag, {"name": ["Team/App:v1"], "state": "absent"}, "'Team/App' is not a valid OCI repository name"),
    (tag, {"name": ["v1"], "repository": "team//app", "digest": D1}, "'team//app' is not a valid OCI repository name"),
    (tag, {"name": ["team/app:v1"], "digest": "sha256:xyz"}, "'sha256:xyz' is not a valid digest"),
    (tag, {"name": ["v1"], "state": "absent"}, "names no repository"),
    (tag, {"name": ["team/app:v1"], "source": "Bad/Repo:v1"}, "'Bad/Repo' is not a valid OCI repository name"),
    (tag, {"name": ["team/app:v1"], "source": "team/base@sha256:abc"}, "'sha256:abc' is not a valid digest"),
    (tag, {"name": ["team/app:v1"], "source": "bad tag"}, "'bad tag' is not a valid tag"),
    (artifact, {"digest": ["team/app@sha256:abc"], "state": "absent"}, "'sha256:abc' is not a valid digest"),
    (artifact, {"digest": ["Team@" + D1], "state": "absent"}, "'Team' is not a valid OCI repository name"),
    (artifact, {"digest": [D1], "state": "absent"}, "names no repository"),
    (artifact_info, {"digest": ["team/app@md5"]}, "'md5' is not a valid digest"),
    (artifact_info, {"repository": ["UPPER"]}, "'UPPER' is not a valid OCI repository name"),
    (repository, {"name": "team/App", "state": "absent"}, "'team/App' is not a valid OCI repository name"),
    (repository_info, {"name": ["bad..name"]}, "'bad..name' is not a valid OCI repository name"),
    (tag_info, {"repository": ["team/app"], "name": ["-x"]}, "'-x' is not a valid tag"),
    (tag_info, {"repository": ["a b"]}, "'a b' is not a valid OCI repository name"),
])
def test_invalid_names_fail_before_any_request(server, capsys, module, args, message):
    code, result = run(module, capsys, **oci(server, **args))
    assert code == 1
    assert message in result["msg"]
    assert not server.requests


def test_tag_absent_check_mode_only_reads(fake, server, capsys):
    digest = fake.add_image("team/app", tags=["v1", "v2"])
    code, result = run(tag, capsys, _ansible_check_mode=True, _ansible_diff=True,
                       **oci(server, repository="team/app", name=["v1", "gone", "team/app:v2"], state="absent"))
    assert code == 0
    assert result["changed"] is True
    assert result["actions"] == [{"ref": "team/app:v1", "action": "deleted"}, {"ref": "team/app:gone", "action": "absent"},
                                 {"ref": "team/app:v2", "action": "deleted"}]
    assert [t["digest"] for t in result["tags"]] == [digest, digest]
    assert result["diff"]["after"] == {}
    assert set(result["diff"]["before"]) == {"team/app:v1", "team/app:v2"}
    assert set(r.method for r in server.requests) <= {"GET", "HEAD"}
    assert sorted(fake.tags["team/app"]) == ["v1", "v2"]


def test_tag_absent_removes_only_the_named_tags(fake, server, capsys):
    digest = fake.add_image("team/app", tags=["v1", "v2", "keep"])
    code, result = run(tag, capsys, **oci(server, name=["team/app:v1", "team/app:v2"], state="absent"))
    assert code == 0, result
    assert result["changed"] is True
    assert [a["action"] for a in result["actions"]] == ["deleted", "deleted"]
    assert fake.tags["team/app"] == {"keep": digest}
    code, result = run(tag, capsys, **oci(server, name=["team/app:v1"], state="absent"))
    assert code == 0 and result["changed"] is False


def test_tag_absent_on_a_registry_without_deletes_fails_cleanly(server, capsys):
    fake = FakeOci(server, tag_delete=405, manifest_delete=False)
    fake.add_image("team/app", tags=["v1"])
    code, result = run(tag, capsys, **oci(server, name=["team/app:v1"], state="absent"))
    assert code == 1
    assert "storage.delete.enabled" in result["msg"]
    assert result["actions"] == [{"ref": "team/app:v1", "action": "failed", "msg": result["actions"][0]["msg"]}]
    assert not [r for r in server.requests if r.method in ("PUT", "POST")]
    assert sorted(fake.tags["team/app"]) == ["v1"]


def test_tag_present_check_mode_sends_no_write(fake, server, capsys):
    digest = fake.add_image("team/app", tags=["v1"])
    code, result = run(tag, capsys, _ansible_check_mode=True, **oci(server, repository="team/app", name=["stable", "v1"], source="v1"))
    assert code == 0
    assert result["changed"] is True
    assert result["actions"] == [{"ref": "team/app:stable", "action": "created"}, {"ref": "team/app:v1", "action": "unchanged"}]
    assert [t["digest"] for t in result["tags"]] == [digest, digest]
    assert set(r.method for r in server.requests) <= {"GET", "HEAD"}
    assert "stable" not in fake.tags["team/app"]


def test_tag_present_copies_across_repositories(fake, server, capsys):
    digest = fake.add_image("team/base", tags=["v1"])
    code, result = run(tag, capsys, **oci(server, name=["team/app:stable"], source="team/base@" + digest))
    assert code == 0, result
    assert result["actions"] == [{"ref": "team/app:stable", "action": "created"}]
    assert fake.tags["team/app"] == {"stable": digest}


def test_tag_present_unknown_source_fails(fake, server, capsys):
    fake.add_image("team/app", tags=["v1"])
    code, result = run(tag, capsys, **oci(server, name=["team/app:stable"], source="nope"))
    assert code == 1
    assert result["msg"] == "tag nope not found in repository team/app"


def test_tag_info_and_artifact_info(fake, server, capsys):
    digest = fake.add_image("team/app", tags=["v1", "latest"])
    code, result = run(tag_info, capsys, **oci(server, repository=["team/app"]))
    assert code == 0
    assert [(t["name"], t["digest"]) for t in result["tags"]] == [("latest", digest), ("v1", digest)]
    code, result = run(artifact_info, capsys, **oci(server, repository=["team/app"]))
    assert code == 0
    (found,) = result["artifacts"]
    assert found["digest"] == digest
    assert found["tags"] == ["latest", "v1"]
    assert found["platforms"] == ["linux/amd64"]
    assert found["created_at"] == "2024-01-01T00:00:00Z"
    assert set(r.method for r in server.requests) <= {"GET", "HEAD"}


def test_repository_info_lists_the_catalog(fake, server, capsys):
    fake.add_image("team/app", tags=["v1"])
    fake.add_image("team/base", tags=["v1"])
    code, result = run(repository_info, capsys, **oci(server))
    assert code == 0
    assert [r["name"] for r in result["repositories"]] == ["team/app", "team/base"]
    assert result["repositories"][0]["location"] == "%s/team/app" % server.url.split("://", 1)[1]


def test_artifact_absent_check_mode_and_real(fake, server, capsys):
    digest = fake.add_image("team/app", tags=["v1"])
    code, result = run(artifact, capsys, _ansible_check_mode=True, **oci(server, digest=["team/app@" + digest], state="absent"))
    assert code == 0 and result["changed"] is True
    assert set(r.method for r in server.requests) <= {"GET", "HEAD"}
    code, result = run(artifact, capsys, **oci(server, digest=["team/app@" + digest], state="absent"))
    assert code == 0 and result["actions"] == [{"ref": "team/app@" + digest, "action": "deleted"}]
    assert ("team/app", digest) not in fake.manifests


def test_api_token_is_not_logged_and_sent_as_bearer(fake, server, capsys):
    fake.add_image("team/app", tags=["v1"])
    code, result = run(tag_info, capsys, **oci(server, repository=["team/app"], api_token="tok-secret"))
    assert code == 0
    assert "tok-secret" not in json.dumps(result)
    assert all(r.headers.get("authorization") == "Bearer tok-secret" for r in server.requests)
