# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input on every provider: a message that names what is wrong, and not a single request.

Each module runs in-process against a local server that records every request (a provider's API or a registry
would only ever see what reaches it): malformed digests, names and tags (also with a trailing newline), invalid regular
expressions, out-of-range limits, unknown options, an ``api_url`` that is not a URL, a missing ``ca_path``, missing
credentials, and operations a provider does not have. Credentials are realistic (long) values: ``no_log`` masks every
occurrence of a secret in the output, so a one-letter test secret would garble the very messages checked here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.regops.registry.plugins.module_utils import providers
from ansible_collections.regops.registry.plugins.modules import (
    artifact,
    attestation,
    deployment_record,
    protection_rule,
    registry,
    registry_user,
    repository,
    tag,
    tag_info,
)
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import ScriptedServer

D1 = "sha256:" + "1" * 64
CREDENTIALS = {
    "oci": {"api_username": "ci-robot", "api_password": "pw-5d1c9a3e7b20f4"},
    "gcore": {"api_token": "gc-8a6f2e0d4c1b", "project_id": 1, "region_id": 2},
    "vultr": {"api_token": "vu-3f9b7d5a1e0c"},
    "gitlab": {"api_token": "glpat-0c2e4a6f8b1d"},
    "github": {"api_token": "ghp_7e5c3a1f9d0b"},
    "ncloud": {"access_key": "NCPACCESSKEY0123", "secret_key": "ncp-secret-4b8d2f6a0e"},
}
# Where a repository lives on each provider: the registry option and a repository name the provider accepts.
PLACE = {
    "oci": ({}, "team/app"),
    "gcore": ({"registry": "main"}, "team/app"),
    "vultr": ({"registry": "main"}, "team/app"),
    "gitlab": ({"registry": "acme/app"}, "acme/app"),
    "github": ({"registry": "acme"}, "app"),
    "ncloud": ({"registry": "main"}, "team/app"),
}
ENVIRONMENT_CREDENTIALS = ("GCORE_API_KEY", "VULTR_API_KEY", "GITLAB_TOKEN", "CI_JOB_TOKEN", "GITHUB_TOKEN", "GH_TOKEN",
                           "NCLOUD_ACCESS_KEY", "NCLOUD_SECRET_KEY")


@pytest.fixture
def server():
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ENVIRONMENT_CREDENTIALS + ("DOCKER_CONFIG", "REGISTRY_AUTH_FILE"):
        monkeypatch.delenv(name, raising=False)


def run(module, capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as caught:
            module.main()
    return caught.value.code, json.loads(capsys.readouterr().out)


def connection(provider, server, credentials=True):
    args = {"provider": provider, "api_url": server.url, "retries": 0}
    if credentials:
        args.update(CREDENTIALS[provider])
    elif provider == "gcore":
        args.update(project_id=1, region_id=2)
    return args


def generic_cases(provider):
    """``(id, module, args, message)`` that every provider answers the same way."""
    where, repo = PLACE[provider]
    return [
        ("malformed-digest", artifact, dict(where, digest=[repo + "@sha256:xyz"], state="absent"), "digest 'sha256:xyz' is not valid"),
        ("digest-newline", artifact, dict(where, digest=[repo + "@" + D1 + "\n"], state="absent"), "is not valid"),
        ("repository-name", tag, dict(where, name=["Team/App:v1"], state="absent"), "repository name 'Team/App' is not valid"),
        ("repository-newline", tag_info, dict(where, repository=[repo + "\n"]), "repository name '%s\\n' is not valid" % repo),
        ("repository-slashes", tag_info, dict(where, repository=["/%s/" % repo]), "repository name '/%s/' is not valid" % repo),
        ("tag-name", tag, dict(where, name=[repo + ":-v1"], state="absent"), "tag '-v1' is not valid"),
        ("tag-newline", tag, dict(where, name=[repo + ":v1\n"], state="absent"), "tag 'v1\\n' is not valid"),
        ("concurrency-zero", tag_info, dict(where, repository=[repo], concurrency=0), "concurrency must be between 1 and 64, got 0"),
        ("concurrency-huge", tag_info, dict(where, repository=[repo], concurrency=1000), "concurrency must be between 1 and 64, got 1000"),
        ("retries-negative", tag_info, dict(where, repository=[repo], retries=-1), "retries must be 0 or more, got -1"),
        ("timeout-zero", tag_info, dict(where, repository=[repo], timeout=0), "timeout must be more than 0 seconds, got 0"),
        ("unknown-option", tag_info, dict(where, repository=[repo], colour="red"), "Unsupported parameters for"),
        ("api-url", tag_info, dict(where, repository=[repo], api_url="ftp://registry.example.com"), "api_url must be the http(s) URL"),
        ("state", tag, dict(where, name=[repo + ":v1"], state="gone"), "value of state must be one of"),
    ]


# What a provider that needs credentials says without them; ``oci`` reads anonymously (a public registry), so it has no
# entry.
MISSING_CREDENTIALS = {
    "gcore": "provider gcore needs api_token (or the environment variables GCORE_API_KEY)",
    "vultr": "provider vultr needs api_token (or the environment variable VULTR_API_KEY)",
    "gitlab": "provider gitlab needs api_token (a personal, project or group access token; or GITLAB_TOKEN, or CI_JOB_TOKEN",
    "github": "provider 'github' needs api_token (or GITHUB_TOKEN in the environment)",
    "ncloud": "provider ncloud needs access_key and secret_key (or NCLOUD_ACCESS_KEY and NCLOUD_SECRET_KEY in the environment)",
}


# Operations a provider does not have: (provider, module, args, message).
LACKING = [
    ("oci", registry, {"name": "main"}, "Provider 'oci' cannot manage registry"),
    ("oci", registry_user, {"registry": "main", "name": ["ci"], "state": "absent"}, "Provider 'oci' cannot manage registry_user"),
    ("oci", repository, {"name": "team/app"}, "Provider 'oci' does not support repository state=present"),
    ("github", registry, {"name": "acme"}, "Provider 'github' cannot manage registry"),
    ("github", registry_user, {"registry": "acme", "name": ["ci"], "state": "absent"}, "Provider 'github' cannot manage registry_user"),
    ("ncloud", registry_user, {"registry": "main", "name": ["ci"], "state": "absent"}, "Provider 'ncloud' cannot manage registry_user"),
    ("gitlab", registry, {"name": "acme/app", "state": "absent"}, "Provider 'gitlab' cannot delete a registry"),
] + [
    (provider, protection_rule, {"registry": "main", "kind": "tag", "pattern": ["^v"], "state": "absent"},
     "Provider '%s' cannot manage protection_rule" % provider) for provider in ("oci", "gcore", "vultr", "github", "ncloud")
] + [
    (provider, module, {"registry": "acme", "digest": [D1], "state": "absent"}, "Provider '%s' cannot manage %s" % (provider, what))
    for provider in ("oci", "gcore", "vultr", "gitlab", "ncloud")
    for module, what in ((deployment_record, "deployment_record"), (attestation, "attestation"))
]


def test_the_matrix_covers_every_provider():
    assert sorted(CREDENTIALS) == sorted(PLACE) == sorted(providers.PROVIDER_NAMES)
    assert set(p for p, _m, _a, _msg in LACKING) == set(providers.PROVIDER_NAMES)


@pytest.mark.parametrize("provider", sorted(CREDENTIALS))
@pytest.mark.parametrize("case", range(len(generic_cases("oci"))), ids=[c[0] for c in generic_cases("oci")])
def test_bad_input_fails_before_any_request_on_every_provider(provider, case, server, capsys):
    _id, module, args, message = generic_cases(provider)[case]
    code, result = run(module, capsys, dict(connection(provider, server), **args))
    assert code == 1 and result["failed"] is True
    assert message in result["msg"], result["msg"]
    assert server.requests == []


@pytest.mark.parametrize("provider", sorted(MISSING_CREDENTIALS))
def test_missing_credentials_fail_before_any_request(provider, server, capsys):
    where, repo = PLACE[provider]
    code, result = run(tag_info, capsys, dict(connection(provider, server, credentials=False), repository=[repo], **where))
    assert code == 1 and result["msg"].startswith(MISSING_CREDENTIALS[provider]), result["msg"]
    assert server.requests == []


@pytest.mark.parametrize("provider", sorted(set(CREDENTIALS) - set(MISSING_CREDENTIALS)))
def test_providers_that_read_anonymously_go_ahead_without_credentials(provider, server, capsys):
    where, repo = PLACE[provider]
    run(tag_info, capsys, dict(connection(provider, server, credentials=False), repository=[repo], **where))
    assert server.requests and not any("authorization" in r.headers for r in server.requests)


@pytest.mark.parametrize("provider, module, args, message", LACKING,
                         ids=["%s-%s" % (p, m.__name__.rsplit(".", 1)[-1]) for p, m, _a, _msg in LACKING])
def test_an_operation_the_provider_lacks_fails_before_any_request(provider, module, args, message, server, capsys):
    code, result = run(module, capsys, dict(connection(provider, server), **args))
    assert code == 1 and message in result["msg"], result["msg"]
    assert server.requests == []


@pytest.mark.parametrize("provider, module, args, message", [
    ("gcore", registry, {"name": "Bad_Name"}, "registry name 'Bad_Name' is not valid on Gcore"),
    ("gcore", registry_user, {"registry": "main", "name": ["CI-User"], "duration": 1}, "user name 'CI-User' is not valid on Gcore"),
    ("vultr", registry, {"name": "bad-name", "region": "ewr", "plan": "business"}, "registry name 'bad-name' is not valid on Vultr"),
    ("ncloud", registry, {"name": "Bad_Name"}, "registry name 'Bad_Name' is not valid on NCR"),
    ("github", tag_info, {"registry": "acme/team", "repository": ["app"]}, "registry 'acme/team' is not a GitHub owner"),
    ("github", attestation, {"registry": "acme", "digest": [D1 + "\n"]}, "digest '%s\\n' is not valid" % D1),
    ("gitlab", tag_info, {"registry": "acme app", "repository": ["acme/app"]}, "registry 'acme app' is not a GitLab project or group"),
    ("gitlab", tag, {"registry": "acme/app", "repository": "acme/app", "bulk": {"name_regex_delete": "v(1"}, "state": "absent"},
     "is not a valid regular expression"),
    ("gitlab", tag, {"registry": "acme/app", "repository": "acme/app", "bulk": {"name_regex_delete": "(?!v).*"}, "state": "absent"},
     "is not a regular expression GitLab accepts"),
    ("gitlab", protection_rule, {"registry": "acme/app", "kind": "tag", "pattern": ["v(1"], "minimum_access_level_for_push": "owner",
                                 "minimum_access_level_for_delete": "owner"}, "is not a valid regular expression"),
])
def test_names_and_expressions_a_provider_rejects_fail_before_any_request(provider, module, args, message, server, capsys):
    code, result = run(module, capsys, dict(connection(provider, server), **args))
    assert code == 1 and message in result["msg"], result["msg"]
    assert server.requests == []
