# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""split_refs, and RegistryModule: environment fallbacks, secrets, engine glue."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.regops.registry.plugins.module_utils import providers
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError
from ansible_collections.regops.registry.plugins.module_utils.common import RegistryModule, common_argument_spec, split_refs
from ansible_collections.regops.registry.plugins.module_utils.providers.base import Capability, Provider

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64

ENV_NAMES = ("GCORE_API_TOKEN", "GCORE_TOKEN", "GCORE_PROJECT_ID", "GCORE_API_URL", "GCORE_USERNAME", "GCORE_PASSWORD", "VULTR_API_KEY",
             "VULTR_API_URL")


# -- split_refs ----------------------------------------------------------------------


def test_split_refs_tags():
    assert split_refs(["team/app:v1", "v2", "other:v3"], "team/app", ":", "tag") == [
        {"repository": "team/app", "name": "v1"},
        {"repository": "team/app", "name": "v2"},
        {"repository": "other", "name": "v3"},
    ]


def test_split_refs_digests():
    assert split_refs(["team/app@" + D1, D2], "base", "@", "digest", registry="main") == [
        {"repository": "team/app", "digest": D1, "registry": "main"},
        {"repository": "base", "digest": D2, "registry": "main"},
    ]


def test_split_refs_qualified_wins_over_repository():
    assert split_refs(["team/app:v1"], "ignored", ":", "tag") == [{"repository": "team/app", "name": "v1"}]


def test_split_refs_takes_values_as_written_for_the_validators_to_judge():
    """Nothing is trimmed: a newline from a YAML block or a stray slash reaches the validators, which refuse it."""
    assert split_refs([" other:v3\n"], None, ":", "tag") == [{"repository": " other", "name": "v3\n"}]
    assert split_refs(["v1"], "/team/app/", ":", "tag") == [{"repository": "/team/app/", "name": "v1"}]
    with pytest.raises(ValueError, match="an empty tag was given"):
        split_refs([" \n"], "team/app", ":", "tag")


def test_split_refs_registry_host_with_port_keeps_last_colon():
    assert split_refs(["localhost:5000/app:v1"], None, ":", "tag") == [{"repository": "localhost:5000/app", "name": "v1"}]


def test_split_refs_dedup_keeps_first_order():
    assert split_refs(["v1", "team/app:v1", "v2", "v1"], "team/app", ":", "tag") == [
        {"repository": "team/app", "name": "v1"}, {"repository": "team/app", "name": "v2"}]


@pytest.mark.parametrize("values, repository, separator, message", [
    (["v1"], None, ":", "tag 'v1' names no repository: set 'repository' or write it as 'repository:v1'"),
    ([D1], None, "@", "digest '%s' names no repository: set 'repository' or write it as 'repository@%s'" % (D1, D1)),
    ([":v1"], None, ":", "names no repository"),
    (["@" + D1], "", "@", "names no repository"),
    ([""], "team/app", ":", "an empty tag was given"),
    (["  "], "team/app", ":", "an empty tag was given"),
    ([None], "team/app", "@", "an empty digest was given"),
])
def test_split_refs_errors(values, repository, separator, message):
    with pytest.raises(ValueError) as caught:
        split_refs(values, repository, separator, "tag" if separator == ":" else "digest")
    assert message in str(caught.value)


# -- RegistryModule ------------------------------------------------------------------


class Recorder:
    connected = []
    tags = {}


class FakeGcore(Provider):
    name = "gcore"
    env_fallbacks = {
        "api_token": ("GCORE_API_TOKEN", "GCORE_TOKEN"),
        "project_id": ("GCORE_PROJECT_ID",),
        "api_url": ("GCORE_API_URL",),
        "api_username": ("GCORE_USERNAME",),
        "api_password": ("GCORE_PASSWORD",),
    }
    capabilities = {
        "registry": Capability(notes="not in this fake"),
        "tag": Capability(states=("present", "absent"), info=True, options=("digest",)),
    }

    def connect(self):
        Recorder.connected.append(dict(self.params))
        self.secrets = ["secret-from-auth-file"]

    def validate(self, resource, items, desired=None):
        for item in items:
            if item.get("name") == "invalid":
                raise ValueError("'invalid' is not a valid tag")

    def read_tag(self, items):
        return [Recorder.tags.get(item["name"]) for item in items]

    def list_tag(self, filters):
        if filters.get("boom"):
            raise ApiError("listing failed", status=500)
        return sorted(Recorder.tags.values(), key=lambda t: t["name"])

    def apply(self, resource, actions):
        results = []
        for action in actions:
            if action.item["name"] == "refused":
                results.append((action, None, ApiError("refused by the fake", status=400)))
            else:
                Recorder.tags.pop(action.item["name"], None)
                results.append((action, None, None))
        return results


class FakeVultr(FakeGcore):
    name = "vultr"
    env_fallbacks = {"api_token": ("VULTR_API_KEY",), "api_url": ("VULTR_API_URL",)}


PATCHES = []


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setitem(providers.AVAILABLE, "gcore", lambda: FakeGcore)
    monkeypatch.setitem(providers.AVAILABLE, "vultr", lambda: FakeVultr)
    Recorder.connected = []
    Recorder.tags = {}
    with contextlib.ExitStack() as stack:
        PATCHES.append(stack)
        yield
        PATCHES.pop()


def module(args, **kwargs):
    """A RegistryModule for ``args``; the arguments stay patched until the test ends (exit_json needs them)."""
    PATCHES[-1].enter_context(patch_module_args(args))
    return RegistryModule(dict(name=dict(type="list", elements="str"), state=dict(type="str", default="present")), **kwargs)


def outcome(capsys, func, *args, **kwargs):
    """Run ``func`` until it exits; return (exit code, module result)."""
    with pytest.raises(SystemExit) as caught:
        func(*args, **kwargs)
    return caught.value.code, json.loads(capsys.readouterr().out)


def test_common_argument_spec_marks_secrets():
    spec = common_argument_spec()
    assert spec["api_token"]["no_log"] is True
    assert spec["api_password"]["no_log"] is True
    assert "no_log" not in spec["api_username"]
    assert spec["provider"]["choices"] == list(providers.PROVIDER_NAMES)


def test_env_fallbacks_from_the_chosen_provider_only(monkeypatch):
    monkeypatch.setenv("VULTR_API_KEY", "vultr-secret")
    monkeypatch.setenv("VULTR_API_URL", "https://vultr.example")
    monkeypatch.setenv("GCORE_TOKEN", "gcore-secret")
    monkeypatch.setenv("GCORE_PROJECT_ID", "42")
    runner = module({"provider": "gcore"})
    provider = runner.open("tag", state="absent")
    assert provider.params["api_token"] == "gcore-secret"
    assert provider.params["project_id"] == 42
    assert provider.params["api_url"] is None
    assert Recorder.connected[0]["api_token"] == "gcore-secret"
    assert "gcore-secret" in runner.module.no_log_values
    assert "vultr-secret" not in runner.module.no_log_values
    assert "vultr-secret" not in repr(runner.params)


def test_env_fallbacks_for_the_other_provider(monkeypatch):
    monkeypatch.setenv("VULTR_API_KEY", "vultr-secret")
    monkeypatch.setenv("GCORE_API_TOKEN", "gcore-secret")
    runner = module({"provider": "vultr"})
    runner.open("tag", state="absent")
    assert runner.params["api_token"] == "vultr-secret"
    assert runner.params["project_id"] is None
    assert "vultr-secret" in runner.module.no_log_values
    assert "gcore-secret" not in runner.module.no_log_values


def test_env_first_name_wins_and_task_value_wins(monkeypatch):
    monkeypatch.setenv("GCORE_API_TOKEN", "first")
    monkeypatch.setenv("GCORE_TOKEN", "second")
    monkeypatch.setenv("GCORE_API_URL", "https://env.example")
    runner = module({"provider": "gcore", "api_url": "https://task.example"})
    runner.open("tag", state="absent")
    assert runner.params["api_token"] == "first"
    assert runner.params["api_url"] == "https://task.example"
    runner = module({"provider": "gcore", "api_token": "from-task", "api_url": ""})
    runner.open("tag", state="absent")
    assert runner.params["api_token"] == "from-task"
    assert runner.params["api_url"] == "https://env.example"
    assert "first" not in runner.module.no_log_values


def test_env_secret_options_only_are_no_log(monkeypatch):
    monkeypatch.setenv("GCORE_USERNAME", "robot-user")
    monkeypatch.setenv("GCORE_PASSWORD", "robot-password")
    runner = module({"provider": "gcore"})
    runner.open("tag", state="absent")
    assert runner.params["api_username"] == "robot-user"
    assert "robot-password" in runner.module.no_log_values
    assert "robot-user" not in runner.module.no_log_values


def test_provider_secrets_are_no_log():
    runner = module({"provider": "gcore"})
    runner.open("tag", state="absent")
    assert "secret-from-auth-file" in runner.module.no_log_values


def test_env_integer_must_be_an_integer(monkeypatch, capsys):
    monkeypatch.setenv("GCORE_PROJECT_ID", "forty-two")
    runner = module({"provider": "gcore"})
    code, result = outcome(capsys, runner.open, "tag", state="absent")
    assert code == 1
    assert result["msg"] == "environment variable GCORE_PROJECT_ID must be an integer"
    assert not Recorder.connected


@pytest.mark.parametrize("kwargs, message", [
    ({"resource": "registry", "state": "present"}, "Provider 'gcore' cannot manage registry: not in this fake. Provider 'gcore' supports: tag"),
    ({"resource": "repository", "info": True}, "Provider 'gcore' cannot manage repository_info: it has no such resource."),
    ({"resource": "tag", "state": "present", "options": ["source"]}, "does not support the option(s) source for tag (supported: digest)"),
])
def test_open_fails_before_connect(capsys, kwargs, message):
    runner = module({"provider": "gcore"})
    code, result = outcome(capsys, runner.open, **kwargs)
    assert code == 1 and message in result["msg"]
    assert not Recorder.connected


def test_open_validation_error(capsys):
    runner = module({"provider": "gcore"})
    code, result = outcome(capsys, runner.open, "tag", state="absent", validate=lambda p: p.validate("tag", [{"name": "invalid"}]))
    assert code == 1
    assert result["msg"] == "'invalid' is not a valid tag"
    assert not Recorder.connected


@pytest.mark.parametrize("args, message", [
    ({"concurrency": 0}, "concurrency must be between 1 and 64, got 0"),
    ({"concurrency": 65}, "concurrency must be between 1 and 64, got 65"),
    ({"retries": -1}, "retries must be 0 or more, got -1"),
    ({"timeout": 0}, "timeout must be more than 0 seconds, got 0"),
])
def test_connection_option_bounds(capsys, args, message):
    args = dict(args, provider="gcore")
    code, result = outcome(capsys, module, args)
    assert code == 1 and message in result["msg"]


def test_ensure_exits_with_result_and_extra(capsys):
    Recorder.tags = {"a": {"name": "a"}}
    runner = module({"provider": "gcore", "_ansible_diff": True})
    runner.open("tag", state="absent")
    code, result = outcome(capsys, runner.ensure, "tag", [{"repository": "r", "name": "a"}, {"repository": "r", "name": "b"}], "absent",
                           extra={"note": "x"})
    assert code == 0
    assert result["changed"] is True
    assert result["note"] == "x"
    assert result["actions"] == [{"ref": "r:a", "action": "deleted"}, {"ref": "r:b", "action": "absent"}]
    assert result["diff"] == {"before": {"r:a": {"name": "a"}}, "after": {}}


def test_ensure_failure_keeps_partial_result(capsys):
    Recorder.tags = {"a": {"name": "a"}, "refused": {"name": "refused"}}
    runner = module({"provider": "gcore"})
    runner.open("tag", state="absent")
    code, result = outcome(capsys, runner.ensure, "tag", [{"repository": "r", "name": "a"}, {"repository": "r", "name": "refused"}], "absent")
    assert code == 1
    assert result["msg"] == "1 of 2 tag(s) failed: r:refused: HTTP 400: refused by the fake"
    assert result["changed"] is True
    assert [a["action"] for a in result["actions"]] == ["deleted", "failed"]


def test_check_mode_reaches_the_engine(capsys):
    Recorder.tags = {"a": {"name": "a"}}
    runner = module({"provider": "gcore", "_ansible_check_mode": True})
    runner.open("tag", state="absent")
    code, result = outcome(capsys, runner.ensure, "tag", [{"repository": "r", "name": "a"}], "absent")
    assert code == 0 and result["changed"] is True
    assert "a" in Recorder.tags


def test_info(capsys):
    Recorder.tags = {"b": {"name": "b"}, "a": {"name": "a"}}
    runner = module({"provider": "gcore"})
    runner.open("tag", info=True)
    code, result = outcome(capsys, runner.info, "tag", {}, "tags")
    assert code == 0
    assert result == {"changed": False, "tags": [{"name": "a"}, {"name": "b"}], "invocation": result["invocation"]}
    runner = module({"provider": "gcore"})
    runner.open("tag", info=True)
    code, result = outcome(capsys, runner.info, "tag", {"boom": True}, "tags")
    assert code == 1 and result["msg"] == "HTTP 500: listing failed"
