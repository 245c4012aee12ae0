"""End to end: authentication, credentials sources, failures and no_log of the oci provider."""

import pytest
import base64
import json

from tests.support.ansible_runner import run_tasks
from tests.support.registry import MUTATING_METHODS
from tests.support.seed import OCI_INDEX, SeedClient


def write_auth_file(path, host, username, password):
    """A docker ``config.json`` / containers ``auth.json`` holding ``username:password`` for ``host``."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}), encoding="utf-8")
    return str(path)


@pytest.mark.compat
def test_token_auth_full_access(token_registry, token_seed, prefix):
    repo, target = prefix + "/app", prefix + "/promoted"
    keep = token_seed.push_image(repo, ["v1", "keep"])
    v2 = token_seed.push_image(repo, ["v2"])
    child = token_seed.push_image(repo, [], arch="arm64")
    index = token_seed.push_index(repo, ["multi"], children=[child])
    server = token_registry.token_server
    issued = len(server.issued)
    results = run_tasks([
        {"regops.registry.tag": {"repository": repo, "name": "v1", "state": "absent"}},
        {"regops.registry.tag": {"repository": target, "name": "v2", "source": f"{repo}:v2"}},
        {"regops.registry.tag": {"repository": target, "name": "multi", "source": f"{repo}:multi"}},
        {"regops.registry.tag": {"repository": target, "name": "multi", "source": f"{repo}:multi"}},
        {"regops.registry.artifact_info": {"repository": [repo, target]}},
    ], module_defaults={"group/regops.registry.all": token_registry.oci_args()})
    assert results.rc == 0, results.output
    untag, promote, promote_index, again, info = results
    assert untag["changed"] is True and untag["actions"] == [{"ref": f"{repo}:v1", "action": "deleted"}]
    assert promote["changed"] is True and promote_index["changed"] is True and again["changed"] is False
    assert token_seed.tag_map(repo) == {"keep": keep, "v2": v2, "multi": index}
    assert token_seed.tag_map(target) == {"v2": v2, "multi": index}
    assert token_seed.get_manifest(target, "multi")[0] == OCI_INDEX
    assert token_seed.manifest_exists(target, child)
    found = {(a["repository"], a["digest"]): a["tags"] for a in info["artifacts"]}
    assert found == {(repo, keep): ["keep"], (repo, v2): ["v2"], (repo, index): ["multi"], (repo, child): [],
                     (target, v2): ["v2"], (target, index): ["multi"], (target, child): []}
    granted = {(a["name"], action) for i in server.issued[issued:] for a in i["access"] if a["type"] == "repository"
               for action in a["actions"]}
    assert {(repo, "delete"), (repo, "pull"), (target, "push")} <= granted


def test_token_auth_pull_only_cannot_delete(token_registry, token_seed, prefix):
    repo = prefix + "/app"
    digest = token_seed.push_image(repo, ["a", "b"])
    before = token_seed.tag_map(repo)
    start = token_registry.mark()
    reader = token_registry.oci_args(token_registry.reader_username, token_registry.reader_password)
    results = run_tasks([
        dict({"regops.registry.tag": dict(reader, repository=repo, name="a", state="absent")}, ignore_errors=True),
        dict({"regops.registry.artifact": dict(reader, repository=repo, digest=digest, state="absent")}, ignore_errors=True),
        {"regops.registry.tag_info": dict(reader, repository=[repo])},
    ])
    untag, delete, info = results
    for result in (untag, delete):
        assert result["failed"] is True and result["changed"] is False, result
        assert "insufficient_scope" in result["msg"] and f"repository:{repo}:delete" in result["msg"], result["msg"]
    assert sorted(t["name"] for t in info["tags"]) == ["a", "b"]  # pulling is allowed
    sent = token_registry.requests_since(start)
    assert not [e for e in sent if e.method in MUTATING_METHODS and e.status < 300], sent
    assert not [e for e in sent if e.method in ("PUT", "POST", "PATCH")], sent
    assert token_seed.tag_map(repo) == before


@pytest.mark.compat
def test_credentials_from_auth_files_and_no_log(registry, seed, prefix, tmp_path):
    repo = prefix + "/app"
    digest = seed.push_image(repo, ["v1"])
    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    write_auth_file(docker_dir / "config.json", registry.host, registry.username, registry.password)
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    write_auth_file(bad_dir / "config.json", registry.host, registry.username, "not-the-password")
    auth_file = write_auth_file(tmp_path / "auth.json", registry.host, registry.username, registry.password)
    where = {"provider": "oci", "api_url": registry.url}
    results = run_tasks([
        {"regops.registry.tag": dict(where, repository=repo, name="from-docker-config", digest=digest),
         "environment": {"DOCKER_CONFIG": str(docker_dir), "REGISTRY_AUTH_FILE": ""}},
        # REGISTRY_AUTH_FILE is read before DOCKER_CONFIG (which holds a wrong password here)
        {"regops.registry.tag": dict(where, repository=repo, name="from-auth-file", digest=digest),
         "environment": {"DOCKER_CONFIG": str(bad_dir), "REGISTRY_AUTH_FILE": auth_file}},
        {"regops.registry.tag_info": dict(registry.oci_args(), repository=[repo])},
    ], env={"ANSIBLE_VERBOSITY": "1", "DOCKER_CONFIG": str(tmp_path / "nowhere"), "REGISTRY_AUTH_FILE": ""})
    assert results.rc == 0, results.output
    docker_config, auth_json, info = results
    assert docker_config["changed"] is True and auth_json["changed"] is True
    assert sorted(t["name"] for t in info["tags"]) == ["from-auth-file", "from-docker-config", "v1"]
    assert seed.tag_map(repo) == {"v1": digest, "from-docker-config": digest, "from-auth-file": digest}
    assert "regops.registry.tag_info" in results.stdout and '"tags": [' in results.stdout  # -v printed results
    for secret in (registry.password, base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()):
        assert secret not in results.stdout and secret not in results.stderr
        assert secret not in json.dumps(list(results))


def test_connection_failures_are_clear(registry, token_registry, prefix, tmp_path):
    repo = prefix + "/app"
    SeedClient.for_registry(registry).push_image(repo, ["v1"])
    bad = {"ignore_errors": True}
    oci = registry.oci_args()
    anonymous = {"provider": "oci", "api_url": registry.url}
    start = registry.mark()
    results = run_tasks([
        dict({"regops.registry.tag_info": dict(registry.oci_args(password="wrong"), repository=[repo])}, **bad),
        dict({"regops.registry.tag": dict(token_registry.oci_args(password="wrong"), repository=repo, name="v1", state="absent")}, **bad),
        dict({"regops.registry.tag_info": dict(anonymous, repository=[repo]),
              "environment": {"HOME": str(tmp_path), "DOCKER_CONFIG": str(tmp_path), "REGISTRY_AUTH_FILE": ""}}, **bad),
        dict({"regops.registry.registry": dict(oci, name="main")}, **bad),
        dict({"regops.registry.registry_info": oci}, **bad),
        dict({"regops.registry.registry_user": dict(oci, registry="main", name="ci")}, **bad),
        dict({"regops.registry.registry_user_info": dict(oci, registry="main")}, **bad),
        dict({"regops.registry.repository": dict(oci, name=repo, state="present")}, **bad),
    ])
    for result in results:
        assert result.get("failed") is True and result["changed"] is False, result
    wrong, token_wrong, anonymous_result = results[:3]
    assert "rejected the credentials of user 'tester'" in wrong["msg"] and "401" in wrong["msg"], wrong["msg"]
    assert "token service" in token_wrong["msg"] and "refused the credentials" in token_wrong["msg"], token_wrong["msg"]
    assert "requires credentials" in anonymous_result["msg"] and "api_username" in anonymous_result["msg"], anonymous_result["msg"]
    supported = "Provider 'oci' supports: repository (state=absent, repository_info); artifact (state=present|absent, artifact_info); tag"
    for result, what in zip(results[3:7], ("registry", "registry_info", "registry_user", "registry_user_info")):
        assert f"Provider 'oci' cannot manage {what}:" in result["msg"], result["msg"]
        assert supported in result["msg"], result["msg"]
    assert "does not support repository state=present" in results[7]["msg"] and supported in results[7]["msg"]
    # wrong password: the probe unauthenticated then with Basic; anonymous: the probe; the rest: nothing at all
    assert registry.requests_since(start) == [("GET", "/v2/", 401)] * 3
