# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every module's main() in-process, against a real local HTTP server."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.regops.registry.plugins.module_utils import providers
from ansible_collections.regops.registry.plugins.module_utils.oci import NO_SUCH_DIGEST, OCI_INDEX, OCI_MANIFEST, THROWAWAY_ANNOTATION
from ansible_collections.regops.registry.plugins.modules import (
    artifact,
    artifact_info,
    attestation,
    attestation_info,
    deployment_record,
    protection_rule,
    protection_rule_info,
    registry,
    registry_info,
    registry_user,
    registry_user_info,
    repository,
    repository_info,
    tag,
    tag_info,
)
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import FakeOci, Reply, ScriptedServer

D1 = "sha256:" + "1" * 64

MINIMAL_ARGS = {
    artifact: {"digest": ["team/app@" + D1], "state": "absent"},
    artifact_info: {"repository": ["team/app"]},
    attestation: {"registry": "acme", "digest": [D1]},
    attestation_info: {"registry": "acme", "digest": [D1]},
    deployment_record: {"registry": "acme", "digest": [D1], "state": "absent"},
    protection_rule: {"registry": "acme/app", "kind": "tag", "pattern": ["^v"], "state": "absent"},
    protection_rule_info: {"registry": "acme/app"},
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
def test_unavailable_provider_fails_before_any_request(server, capsys, monkeypatch, module):
    # every provider in the choices is available now: take one away, as a build without it would be
    monkeypatch.delitem(providers.AVAILABLE, "ncloud")
    code, result = run(module, capsys, provider="ncloud", api_url=server.url, access_key="NCPKEY", secret_key="ncp-secret-123",
                       **MINIMAL_ARGS[module])
    assert code == 1
    assert result["failed"] is True
    assert result["msg"] == "Provider 'ncloud' is not available in this version of regops.registry yet; available: %s." % (
        ", ".join(sorted(providers.AVAILABLE)))
    assert "oci" in result["msg"]
    assert not server.requests


def test_every_provider_in_the_choices_is_available():
    assert sorted(providers.AVAILABLE) == sorted(providers.PROVIDER_NAMES)


@pytest.mark.parametrize("module, args, message", [
    (tag_info, {"provider": "vultr", "api_token": "tok-123456", "registry": "main", "repository": ["app"], "region": "ewr"},
     "Provider 'vultr' does not support the option(s) region for tag"),
    (repository, {"provider": "gitlab", "api_token": "tok-123456", "registry": "acme/app", "name": "acme/app", "state": "absent",
                  "access_key": "NCPKEY123", "secret_key": "ncp-secret-123"},
     "Provider 'gitlab' does not support the option(s) access_key, secret_key for repository"),
    (registry, {"provider": "gcore", "api_token": "tok-123456", "project_id": 1, "region_id": 2, "name": "main", "storage_type": "ncloudStorage"},
     "Provider 'gcore' does not support the option(s) storage_type for registry"),
    (registry, {"provider": "vultr", "api_token": "tok-123456", "name": "main", "region": "ewr", "plan": "business", "bucket": "b1b"},
     "Provider 'vultr' does not support the option(s) bucket for registry"),
    (repository, {"provider": "vultr", "api_token": "tok-123456", "registry": "main", "name": "app", "full_description": "# app"},
     "Provider 'vultr' does not support the option(s) full_description for repository"),
    (repository, {"provider": "oci", "name": "app", "state": "absent", "region": "kr"}, "Provider 'oci' does not support the option(s) region"),
], ids=["region-vultr-tag", "keys-gitlab", "storage-type-gcore", "bucket-vultr", "full-description-vultr", "region-oci"])
def test_ncloud_options_are_refused_by_other_providers(server, capsys, module, args, message):
    code, result = run(module, capsys, api_url=server.url, retries=0, **args)
    assert code == 1 and message in result["msg"], result
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
    (tag, {"name": ["team/app:bad tag!"], "state": "absent"}, "tag \'bad tag!\' is not valid"),
    (tag, {"name": ["team/app:.hidden"], "state": "absent"}, "tag \'.hidden\' is not valid"),
    (tag, {"name": ["Team/App:v1"], "state": "absent"}, "repository name \'Team/App\' is not valid"),
    (tag, {"name": ["v1"], "repository": "team//app", "digest": D1}, "repository name \'team//app\' is not valid"),
    (tag, {"name": ["team/app:v1"], "digest": "sha256:xyz"}, "digest \'sha256:xyz\' is not valid"),
    (tag, {"name": ["v1"], "state": "absent"}, "names no repository"),
    (tag, {"name": ["team/app:v1"], "source": "Bad/Repo:v1"}, "repository name \'Bad/Repo\' is not valid"),
    (tag, {"name": ["team/app:v1"], "source": "team/base@sha256:abc"}, "digest \'sha256:abc\' is not valid"),
    (tag, {"name": ["team/app:v1"], "source": "bad tag"}, "tag \'bad tag\' is not valid"),
    (artifact, {"digest": ["team/app@sha256:abc"], "state": "absent"}, "digest \'sha256:abc\' is not valid"),
    (artifact, {"digest": ["Team@" + D1], "state": "absent"}, "repository name \'Team\' is not valid"),
    (artifact, {"digest": [D1], "state": "absent"}, "names no repository"),
    (artifact_info, {"digest": ["team/app@md5"]}, "digest \'md5\' is not valid"),
    (artifact_info, {"repository": ["UPPER"]}, "repository name \'UPPER\' is not valid"),
    (repository, {"name": "team/App", "state": "absent"}, "repository name \'team/App\' is not valid"),
    (repository_info, {"name": ["bad..name"]}, "repository name \'bad..name\' is not valid"),
    (tag_info, {"repository": ["team/app"], "name": ["-x"]}, "tag \'-x\' is not valid"),
    (tag_info, {"repository": ["a b"]}, "repository name \'a b\' is not valid"),
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


def test_an_artifact_gone_since_it_was_read_is_reported_absent_not_deleted(fake, server, capsys):
    """Another run deleted it between the read and the DELETE (404): absent, unchanged; a report must not count it as
    freed by this run."""
    digest = fake.add_image("team/app", tags=["v1"])
    server.route("DELETE", "/v2/team/app/manifests/" + digest,
                 Reply(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}))
    code, result = run(artifact, capsys, **oci(server, digest=["team/app@" + digest], state="absent"))
    assert code == 0 and result["changed"] is False
    assert result["actions"] == [{"ref": "team/app@" + digest, "action": "absent",
                                  "msg": "already gone: deleted since it was read (by another run, or by hand)"}]


def test_a_404_to_a_delete_sent_again_after_a_reset_means_this_run_deleted_it(fake, server, capsys):
    """The first DELETE went through but its answer was lost (a reset): the one sent again answers 404, which is done."""
    digest = fake.add_image("team/app", tags=["v1"])
    server.route("DELETE", "/v2/team/app/manifests/" + digest, Reply(reset=True),
                 Reply(404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}))
    args = oci(server, digest=["team/app@" + digest], state="absent")
    args["retries"] = 2
    code, result = run(artifact, capsys, **args)
    assert code == 0 and result["changed"] is True, result
    assert result["actions"] == [{"ref": "team/app@" + digest, "action": "deleted"}]
    assert [r.method for r in server.requests if r.method == "DELETE"] == ["DELETE", "DELETE"]


def test_api_token_is_not_logged_and_sent_as_bearer(fake, server, capsys):
    fake.add_image("team/app", tags=["v1"])
    code, result = run(tag_info, capsys, **oci(server, repository=["team/app"], api_token="tok-secret"))
    assert code == 0
    assert "tok-secret" not in json.dumps(result)
    assert all(r.headers.get("authorization") == "Bearer tok-secret" for r in server.requests)


# -- bad input fails before any request, for every provider -------------------------------


def gcore(server, **args):
    return dict(args, provider="gcore", api_url=server.url, api_token="key", project_id=1, region_id=2, retries=0)


@pytest.mark.parametrize("module, args, message", [
    (artifact, {"registry": "main", "digest": ["team/app@sha256:xyz"], "state": "absent"}, "digest 'sha256:xyz' is not valid"),
    (tag, {"registry": "main", "name": ["team/../app:v1"], "state": "absent"}, "repository name 'team/../app' is not valid"),
    (tag, {"registry": "main", "name": ["Team/App:v1"], "state": "absent"}, "repository name 'Team/App' is not valid"),
    (tag, {"registry": "main", "name": ["team/app:-bad"], "state": "absent"}, "tag '-bad' is not valid"),
    (repository, {"registry": "main", "name": "team/../app", "state": "absent"}, "repository name 'team/../app' is not valid"),
    (registry, {"name": "nl-reg\n"}, "registry name 'nl-reg\\n' is not valid on Gcore"),
    (registry_user, {"registry": "main", "name": ["ci\n"], "duration": 1}, "user name 'ci\\n' is not valid on Gcore"),
    (registry_user, {"registry": "nl-reg\n", "name": ["ci"], "duration": 1}, "registry name 'nl-reg\\n' is not valid on Gcore"),
    (artifact_info, {"registry": "main", "repository": ["UPPER"]}, "repository name 'UPPER' is not valid"),
])
def test_gcore_bad_input_fails_before_any_request(server, capsys, module, args, message):
    """What Gcore used to send (and answer 'absent', or create): malformed names, digests and tags, a trailing newline."""
    code, result = run(module, capsys, **gcore(server, **args))
    assert code == 1, result
    assert message in result["msg"]
    assert not server.requests


def gitlab(server, **args):
    return dict(args, provider="gitlab", api_url=server.url, api_token="glpat-unit", retries=0)


@pytest.mark.parametrize("module, what", [(protection_rule, "protection_rule"), (protection_rule_info, "protection_rule_info")],
                         ids=["protection_rule", "protection_rule_info"])
@pytest.mark.parametrize("connection", [oci, gcore, lambda server, **args: dict(args, provider="vultr", api_url=server.url, api_token="k")],
                         ids=["oci", "gcore", "vultr"])
def test_protection_rules_are_gitlab_only(server, capsys, module, what, connection):
    code, result = run(module, capsys, **connection(server, **MINIMAL_ARGS[module]))
    assert code == 1
    assert result["msg"].startswith("Provider '%s' cannot manage %s: it has no such resource. Provider '%s' supports: " % (
        connection(server)["provider"], what, connection(server)["provider"]))
    assert not server.requests


@pytest.mark.parametrize("module, args, message", [
    (protection_rule, {"registry": "acme/app", "kind": "tag", "pattern": ["^v"]},
     "state is present but any of the following are missing: minimum_access_level_for_push, minimum_access_level_for_delete"),
    (protection_rule, {"registry": "group:acme", "kind": "tag", "pattern": ["^v"], "state": "absent"}, "protection rules belong to a project"),
    (protection_rule, {"registry": "acme/app", "kind": "tag", "pattern": ["^v"], "minimum_access_level_for_push": "none",
                       "minimum_access_level_for_delete": "none"}, "cannot be none"),
    (protection_rule, {"registry": "acme/app", "kind": "repository", "pattern": ["other/*"], "minimum_access_level_for_push": "owner"},
     "must start with the project's full path acme/app"),
    (protection_rule, {"registry": "acme/app", "kind": "branch", "pattern": ["x"], "state": "absent"}, "value of kind must be one of"),
    (protection_rule_info, {"registry": "group:acme"}, "protection rules belong to a project"),
    (registry_user, {"registry": "acme/app", "name": ["ci"], "scopes": ["api"]}, "value of scopes must be one or more of"),
    (registry_user, {"registry": "group:acme", "name": ["ci"], "scopes": ["write_virtual_registry"]}, "not a scope of a group's deploy tokens"),
    (registry_user, {"registry": "acme/app", "name": ["ci"], "expires_at": "next week"}, "expires_at 'next week' is not an ISO 8601 date"),
    (registry_user, {"registry": "acme/app", "name": ["ci"], "duration": 30}, "does not support the option(s) duration for registry_user"),
    (registry_user, {"registry": "acme/app", "name": ["ci"], "secret": "mine"}, "does not support the option(s) secret for registry_user"),
    (registry_user_info, {"registry": "acme app"}, "registry 'acme app' is not a GitLab project or group"),
])
def test_gitlab_bad_input_fails_before_any_request(server, capsys, module, args, message):
    code, result = run(module, capsys, **gitlab(server, **args))
    assert code == 1, result
    assert message in result["msg"]
    assert not server.requests


@pytest.mark.parametrize("module, args", [
    (registry_user, {"registry": "main", "name": ["ci"], "duration": 1, "scopes": ["read_registry"]}),
    (registry_user, {"registry": "main", "name": ["ci"], "duration": 1, "expires_at": "2030-01-01", "recreate": True}),
])
def test_gitlab_only_user_options_fail_on_other_providers(server, capsys, module, args):
    code, result = run(module, capsys, **gcore(server, **args))
    assert code == 1
    assert "Provider 'gcore' does not support the option(s)" in result["msg"] and "for registry_user" in result["msg"]
    assert not server.requests


@pytest.mark.parametrize("api_url", ["", "/v2/", "ftp://registry.example.com", "https://:5000", "https://registry.example.com?x=1",
                                     "http://127.0.0.1:99999"])
def test_an_api_url_that_is_not_a_url_is_refused_naming_the_option(server, capsys, api_url):
    args = oci(server, repository=["team/app"])
    args["api_url"] = api_url
    code, result = run(tag_info, capsys, **args)
    assert code == 1
    assert result["msg"].startswith("api_url must be the http(s) URL of the API") or "needs api_url" in result["msg"]
    assert not server.requests


def test_a_missing_ca_path_is_a_clear_message(server, capsys, tmp_path):
    code, result = run(tag_info, capsys, **oci(server, repository=["team/app"], ca_path=str(tmp_path / "nope.pem")))
    assert code == 1
    assert result["msg"].startswith("ca_path '%s' does not exist" % (tmp_path / "nope.pem"))
    assert not server.requests


def test_credentials_written_into_api_url_are_used_and_never_shown(server, capsys):
    """https://user:pass@host: used as api_username/api_password, and the password appears nowhere, not even on a 401."""
    def refuse(seen):
        return Reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                     {"WWW-Authenticate": 'Basic realm="registry"'})
    server.route("GET", "/v2/", refuse)
    url = server.url.replace("http://", "http://ci:PwInUrl@")
    args = oci(server, repository=["team/app"])
    args["api_url"] = url
    code, result = run(tag_info, capsys, **args)
    assert code == 1
    text = json.dumps(result)
    assert "PwInUrl" not in text, text
    assert "ci" in result["msg"]  # the message names the user whose credentials were refused
    assert result["invocation"]["module_args"]["api_url"] == server.url
    sent = [r.headers.get("authorization") for r in server.requests]
    assert sent[0] is None and sent[-1].startswith("Basic ")  # the challenge was answered with the URL's credentials


# -- tag removal: races and half-done untags -----------------------------------------------


def test_tag_absent_with_expected_digests_skips_a_tag_that_moved(fake, server, capsys):
    old = fake.add_image("team/app", tags=["v1", "v2", "keep"])
    new = fake.add_image("team/app", tags=[], arch="arm64")
    fake.tags["team/app"]["v2"] = new  # pushed again since the plan was made
    expected = {"team/app:v1": old, "team/app:v2": old}
    code, result = run(tag, capsys, **oci(server, name=["team/app:v1", "team/app:v2"], expected_digests=expected, state="absent"))
    assert code == 0, result
    assert result["actions"][0] == {"ref": "team/app:v1", "action": "deleted"}
    assert result["actions"][1]["action"] == "skipped" and result["actions"][1]["reason"] == "moved"
    assert "now points at %s, expected %s" % (new, old) in result["actions"][1]["msg"]
    assert fake.tags["team/app"] == {"v2": new, "keep": old}


def test_tag_absent_with_expected_digests_removes_a_tag_left_on_a_throwaway(fake, server, capsys):
    digest = fake.add_image("team/app", tags=["v1", "keep"])
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {}, "layers": [],
                      "annotations": {THROWAWAY_ANNOTATION: "true"}}).encode()
    leftover = fake.add_manifest("team/app", OCI_MANIFEST, raw, tags=["v1"])
    code, result = run(tag, capsys, **oci(server, name=["team/app:v1"], expected_digests={"team/app:v1": digest}, state="absent"))
    assert code == 0, result
    assert result["actions"] == [{"ref": "team/app:v1", "action": "deleted"}]
    assert result["tags"][0]["digest"] == leftover
    assert fake.tags["team/app"] == {"keep": digest}


@pytest.mark.parametrize("args, message", [
    ({"expected_digests": {"team/app:v1": "sha256:xyz"}}, "digest 'sha256:xyz' is not valid"),
    ({"expected_digests": {"Team/App:v1": D1}}, "repository name 'Team/App' is not valid"),
    ({"expected_digests": {"v1": D1}}, "names no repository"),
    ({"expected_digests": {"team/app:v1": D1}, "state": "present", "digest": D1}, "expected_digests only applies to state=absent"),
])
def test_expected_digests_is_validated_before_any_request(server, capsys, args, message):
    code, result = run(tag, capsys, **oci(server, **dict({"name": ["team/app:v1"], "state": "absent"}, **args)))
    assert code == 1 and message in result["msg"]
    assert not server.requests


def test_a_throwaway_that_cannot_be_deleted_is_reported_restored_and_changed(fake, server, capsys):
    """Today's bug: a 500 on the throwaway's DELETE left the tags on the empty image and said changed: false."""
    digest = fake.add_image("team/app", tags=["v1", "v2", "keep"])

    def delete(seen):
        ref = seen.path.rsplit("/", 1)[1]
        if ref.startswith("sha256:") and ref != NO_SUCH_DIGEST:
            return Reply(500, {"errors": [{"code": "UNKNOWN", "message": "storage backend unavailable"}]})
        return fake.handle(seen)
    server.fallback = lambda seen: delete(seen) if seen.method == "DELETE" else fake.handle(seen)
    code, result = run(tag, capsys, **oci(server, name=["team/app:v1", "team/app:v2"], state="absent"))
    assert code == 1
    assert result["changed"] is True
    assert [(a["ref"], a["action"]) for a in result["actions"]] == [("team/app:v1", "restored"), ("team/app:v2", "restored")]
    assert all("points at %s as before" % digest in a["msg"] for a in result["actions"])
    assert "2 of 2 tag(s) failed" in result["msg"]
    assert fake.tags["team/app"] == {"v1": digest, "v2": digest, "keep": digest}


# -- what artifact_info reads, and what it could not -----------------------------------------


def test_artifact_info_reports_configs_it_could_not_read(fake, server, capsys, monkeypatch):
    """Today's bug: 500s on config blobs made the images look timeless, silently."""
    warned = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda module, message: warned.append(message))
    good = fake.add_image("team/app", tags=["v1"])
    bad = fake.add_image("team/app", tags=["v2"], arch="arm64")
    config = json.loads(fake.manifests[("team/app", bad)][1])["config"]["digest"]
    server.route("GET", "/v2/team/app/blobs/" + config, Reply(500, {"errors": [{"code": "UNKNOWN", "message": "s3 timeout"}]}))
    code, result = run(artifact_info, capsys, **oci(server, repository=["team/app"]))
    assert code == 0
    found = dict((a["digest"], a) for a in result["artifacts"])
    assert found[good]["read_error"] is None and found[good]["created_at"] == "2024-01-01T00:00:00Z"
    assert found[bad]["created_at"] is None and "s3 timeout" in found[bad]["read_error"]
    assert result["read_errors"] == [{"repository": "team/app", "digest": bad, "msg": found[bad]["read_error"]}]
    assert len(warned) == 1 and bad in warned[0] and "s3 timeout" in warned[0]


def test_artifact_info_reproducible_build_times_are_not_real(fake, server, capsys):
    digest = fake.add_image("team/app", tags=["v1"], created="1970-01-01T00:00:00Z")
    code, result = run(artifact_info, capsys, **oci(server, repository=["team/app"]))
    assert code == 0
    (found,) = result["artifacts"]
    assert found["digest"] == digest and found["created_at"] is None
    assert found["provider_data"]["config_created"] == "1970-01-01T00:00:00Z"


def _index(fake, repository, children, tags=()):
    raw = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                      "manifests": [{"mediaType": media_type, "digest": digest, "size": 1} for media_type, digest in children]},
                     sort_keys=True).encode()
    return fake.add_manifest(repository, OCI_INDEX, raw, tags)


def test_an_index_of_indexes_is_as_old_as_its_newest_descendant(fake, server, capsys):
    older = fake.add_image("team/app", created="2024-01-01T00:00:00Z")
    newer = fake.add_image("team/app", created="2025-06-01T12:00:00.5+02:00", arch="arm64")
    inner = _index(fake, "team/app", [(OCI_MANIFEST, older), (OCI_MANIFEST, newer)])
    outer = _index(fake, "team/app", [(OCI_INDEX, inner)], tags=["v1"])
    code, result = run(artifact_info, capsys, **oci(server, repository=["team/app"]))
    assert code == 0
    found = dict((a["digest"], a) for a in result["artifacts"])
    assert found[inner]["created_at"] == found[outer]["created_at"] == "2025-06-01T12:00:00.5+02:00"


def test_tag_absent_with_expected_digests_rechecks_right_before_the_removal(fake, server, capsys):
    """Pushed again between the module's read and the removal itself: still not removed, reported as moved."""
    old = fake.add_image("team/app", tags=["v1", "keep"])
    new = fake.add_image("team/app", arch="arm64")
    heads = []

    def head(seen):
        heads.append(seen)
        if len(heads) == 2:  # the re-check, after the engine's read
            fake.tags["team/app"]["v1"] = new
        return fake.handle(seen)
    server.route("HEAD", "/v2/team/app/manifests/v1", head)
    code, result = run(tag, capsys, **oci(server, name=["team/app:v1"], expected_digests={"team/app:v1": old}, state="absent"))
    assert code == 0, result
    assert result["changed"] is False
    assert result["actions"] == [{"ref": "team/app:v1", "action": "skipped", "reason": "moved",
                                  "msg": "moved: now points at %s, expected %s; not removed" % (new, old)}]
    assert fake.tags["team/app"] == {"v1": new, "keep": old}
