# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``github`` provider's artifact metadata (``storage_record``, ``deployment_record``) and attestations.

The provider talks to the GitHub emulator (``tests/emulators/github.py``) in this process, over real HTTP on loopback,
through the engine (``state.ensure``) as the modules do; every request it sends is checked in the emulator's log.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys

import pytest

from ansible_collections.regops.registry.plugins.module_utils import state as engine
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError
from ansible_collections.regops.registry.plugins.module_utils.providers.github import GitHubProvider
from ansible_collections.regops.registry.plugins.module_utils.providers.github_metadata import predicate_of
from ansible_collections.regops.registry.tests.unit.plugins.module_utils.http_helpers import provider_params

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
if ROOT not in sys.path:  # the emulators live in tests/emulators of the repository
    sys.path.insert(0, ROOT)

from tests.emulators.github import DEFAULT_TOKEN, GitHubEmulator  # noqa: E402 pylint: disable=wrong-import-position

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64
ENC1 = D1.replace(":", "%3A")
ENC2 = D2.replace(":", "%3A")
STORAGE = "/orgs/acme/artifacts/metadata/storage-record"
DEPLOYMENT = "/orgs/acme/artifacts/metadata/deployment-record"
CLUSTER = DEPLOYMENT + "/cluster/c1"
GHCR = "https://ghcr.io"
NO_STORAGE_VALUES = {"artifact_url": None, "version": None, "path": None, "github_repository": None}
NO_DEPLOYMENT_VALUES = {"name": None, "version": None, "tags": None, "runtime_risks": None, "github_repository": None}
DEFAULTS = {"deployment_record_extras": False, "storage_record_path": "singular", "job_polls": 2, "error_message_shape": "string",
            "attestation_delete_status": 200, "secondary_rate_limit": None}


@pytest.fixture(scope="module")
def emulator():
    with GitHubEmulator(clock="2026-05-30T12:00:00Z") as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    emulator.configure(**DEFAULTS)
    emulator.reset()
    yield emulator
    emulator.configure(**DEFAULTS)
    emulator.reset()


@pytest.fixture
def connect():
    made = []

    def make(emu, **params):
        warnings = params.pop("warnings", None)
        provider = GitHubProvider(provider_params("github", emu.url, params.pop("api_token", DEFAULT_TOKEN), **params),
                                  warn=warnings.append if warnings is not None else None)
        provider.connect()
        provider.client.sleep = lambda seconds: None
        made.append(provider)
        return provider
    yield make
    for provider in made:
        provider.close()


def sent(emu, methods=MUTATING):
    return [(r.method, r.target, r.body) for r in emu.log.records if r.method in methods]


def requests_seen(emu):
    return [(r.method, r.target) for r in emu.log.records]


def run(provider, resource, items, state, desired, check_mode=False):
    """Validate, plan (absent records), then the engine, as the modules do (diff on)."""
    provider.validate(resource, items, desired)
    if state == "absent" and resource in ("storage_record", "deployment_record"):
        items = provider.plan_records(resource, items, desired)
    return engine.ensure(provider, resource, items, state, desired, check_mode=check_mode, diff_mode=True)


def snapshot(emu):
    return dict(emu.dump_state(), clock=None, rate_limit=None)


def check_then_apply(emu, connect, resource, items, state, desired, **params):
    """Check mode (nothing mutating sent, state unchanged), then the real run with a new provider; both results."""
    before = snapshot(emu)
    emu.log.clear()
    predicted = run(connect(emu, **params), resource, [dict(i) for i in items], state, desired, check_mode=True)
    assert sent(emu) == []
    assert snapshot(emu) == before
    done = run(connect(emu, **params), resource, [dict(i) for i in items], state, desired)
    assert (predicted["changed"], predicted["actions"]) == (done["changed"], done["actions"])
    return predicted, done


def storage_items(*digests, **fields):
    return [dict({"registry": "acme", "digest": d}, **fields) for d in digests]


def storage_desired(state="present", **values):
    return dict(NO_STORAGE_VALUES, state=state, status=values.pop("status", None), **values)


def deployment_items(*digests, **key):
    fields = dict({"logical_environment": None, "physical_environment": None, "cluster": None, "deployment_name": None}, **key)
    entry = fields.pop("entry", {})
    return [dict(fields, registry="acme", digest=d, entry=dict(entry)) for d in digests]


def deployment_desired(status="deployed", **values):
    return dict(NO_DEPLOYMENT_VALUES, status=status, **values)


def state_storage(emu, org="acme"):
    owner = next(o for o in emu.dump_state()["orgs"] if o["login"] == org)
    return sorted((r["digest"], r["name"], r["registry_url"], r["repository"], r["status"], r["artifact_url"], r["version"])
                  for r in owner["storage_records"])


def state_deployments(emu):
    owner = next(o for o in emu.dump_state()["orgs"] if o["login"] == "acme")
    return sorted((r["digest"], r["name"], r["status"], r["logical_environment"], r["physical_environment"], r["cluster"],
                   r["deployment_name"], tuple(sorted(r["tags"].items())), tuple(r["runtime_risks"])) for r in owner["deployment_records"])


# ---------------------------------------------------------------------------------------------
# Bad input fails before any request

@pytest.mark.parametrize("resource, items, desired, message", [
    ("storage_record", storage_items("sha512:" + "a" * 128, name="app", registry_url=GHCR), storage_desired(),
     "is not a sha256 digest: GitHub's artifact metadata and attestations take sha256"),
    ("storage_record", storage_items("sha256:" + "A" * 64, name="app", registry_url=GHCR), storage_desired(), "digest 'sha256:AAAA"),
    ("storage_record", storage_items(D1, name="app", registry_url="http://ghcr.io"), storage_desired(),
     "storage_record.registry_url 'http://ghcr.io' must be an https:// URL"),
    ("storage_record", storage_items(D1, name="app", registry_url=GHCR), storage_desired(artifact_url="ftp://x"),
     "storage_record.artifact_url 'ftp://x' must be an https:// URL"),
    ("storage_record", storage_items(D1, name="a" * 257, registry_url=GHCR), storage_desired(), "must be 1 to 256 characters long"),
    ("storage_record", storage_items(D1, name="app", registry_url=GHCR, record_repository="r" * 129), storage_desired(),
     "storage_record.repository"),
    ("storage_record", storage_items(D1, name="app", registry_url=GHCR), storage_desired(version="v" * 101), "storage_record.version"),
    ("storage_record", storage_items(D1, name="app", registry_url=GHCR), storage_desired(github_repository="acme/app"),
     "storage_record.github_repository 'acme/app' is not valid"),
    ("storage_record", storage_items(D1, name="app"), storage_desired(), "state=present needs storage_record.registry_url"),
    ("storage_record", storage_items(D1), storage_desired("absent", status="eol"),
     "storage_record.status 'eol' does not go with state=absent"),
    ("storage_record", storage_items(D1), storage_desired("absent", version="1"), "with state=absent, storage_record names the records only"),
    ("storage_record", [dict(i, registry="user:octocat") for i in storage_items(D1, name="app", registry_url=GHCR)], storage_desired(),
     "exists for organizations only: registry 'user:octocat' is a user account"),
    ("deployment_record", deployment_items(D1, logical_environment="prod", deployment_name="web"),
     deployment_desired(name="app", tags={"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}),
     "tags has 6 entries: GitHub takes at most 5"),
    ("deployment_record", deployment_items(D1, logical_environment="prod", deployment_name="web"),
     deployment_desired(name="app", tags={"on": True}), "the value of 'on' must be a string"),
    ("deployment_record", deployment_items(D1, logical_environment="prod", deployment_name="web"),
     deployment_desired(name="app", runtime_risks=["sensitive-data", "sensitive-data"]), "lists a risk twice"),
    ("deployment_record", deployment_items(D1, logical_environment="prod", deployment_name="web"),
     deployment_desired(name="app", runtime_risks=["exposed"]), "'exposed': not a runtime risk GitHub knows"),
    ("deployment_record", deployment_items(D1, logical_environment="prod", deployment_name="web", cluster="eu west"),
     deployment_desired(name="app"), "cluster 'eu west' is not valid: letters, digits"),
    ("deployment_record", deployment_items(D1, deployment_name="web"), deployment_desired(name="app"),
     "state=present records a deployment: logical_environment is missing"),
    ("deployment_record", deployment_items(D1, D2, logical_environment="prod", deployment_name="web"), deployment_desired(name="app"),
     "deployment 'web' is given for %s and %s: a deployment record" % (D1, D2)),
    ("deployment_record", [dict(deployment_items(D1, logical_environment="prod", deployment_name="a")[0], entry={"name": "x"}),
                           dict(deployment_items(D1, logical_environment="prod", deployment_name="b")[0], entry={"name": "y"})],
     deployment_desired(), "is given with two names or versions"),
    ("deployment_record", [dict(i, registry="user:octocat") for i in deployment_items(D1)], deployment_desired("decommissioned"),
     "deployment_record (artifact metadata) exists for organizations only"),
    ("attestation", [{"registry": "acme", "digest": "sha256:abc"}], {}, "digest 'sha256:abc' is not valid"),
    ("attestation", [{"registry": "user:", "digest": D1}], {}, "registry 'user:' is not a GitHub owner"),
])
def test_bad_input_fails_before_any_request(emu, connect, resource, items, desired, message):
    provider = connect(emu)
    emu.log.clear()
    with pytest.raises(ValueError) as caught:
        provider.validate(resource, items, desired)
    assert message in str(caught.value)
    assert emu.log.records == []


# ---------------------------------------------------------------------------------------------
# Storage records

def test_storage_record_create_check_mode_then_idempotent(emu, connect):
    items = storage_items(D1, name="app", registry_url=GHCR, record_repository="acme/app")
    desired = storage_desired(version="1.2.3", path="acme/app", artifact_url="https://ghcr.io/acme/app", github_repository="app")
    predicted, done = check_then_apply(emu, connect, "storage_record", items, "present", desired)
    assert predicted["actions"] == [{"ref": "%s app at https://ghcr.io/acme/app" % D1, "action": "created"}]
    assert sent(emu) == [("POST", STORAGE, {"name": "app", "digest": D1, "registry_url": GHCR, "repository": "acme/app",
                                            "artifact_url": "https://ghcr.io/acme/app", "version": "1.2.3", "path": "acme/app",
                                            "github_repository": "app", "status": "active"})]
    record = done["storage_records"][0]
    assert record == dict(predicted["storage_records"][0], id=4001, created_at="2026-05-30T12:00:00Z", updated_at="2026-05-30T12:00:00Z")
    assert record["status"] == "active" and record["version"] == "1.2.3" and done["diff"]["before"] == {}
    # again: nothing to send (version, path, github_repository are not returned, so not compared)
    emu.log.clear()
    again = run(connect(emu), "storage_record", items, "present", desired)
    assert again["changed"] is False and [a["action"] for a in again["actions"]] == ["unchanged"]
    assert requests_seen(emu) == [("GET", "/orgs/acme/artifacts/%s/metadata/storage-records" % ENC1)]


def test_storage_record_update_sends_what_the_task_leaves_out_as_it_is(emu, connect):
    emu.seed({"orgs": [{"login": "acme", "storage_records": [
        {"name": "app", "digest": D1, "registry_url": GHCR, "repository": "acme/app", "artifact_url": "https://ghcr.io/v2/acme/app"}]}]})
    emu.log.clear()
    _predicted, done = check_then_apply(emu, connect, "storage_record", storage_items(D1, name="app", registry_url=GHCR), "present",
                                        storage_desired(status="eol"))
    assert [a["action"] for a in done["actions"]] == ["updated"]
    assert sent(emu) == [("POST", STORAGE, {"name": "app", "digest": D1, "registry_url": GHCR, "repository": "acme/app",
                                            "artifact_url": "https://ghcr.io/v2/acme/app", "status": "eol"})]
    assert done["diff"]["before"][done["actions"][0]["ref"]]["status"] == "active"
    assert done["diff"]["after"][done["actions"][0]["ref"]]["status"] == "eol"
    assert state_storage(emu) == [(D1, "app", GHCR, "acme/app", "eol", "https://ghcr.io/v2/acme/app", None)]


def test_storage_record_without_repository_must_name_one_record(emu, connect):
    emu.seed({"orgs": [{"login": "acme", "storage_records": [
        {"name": "app", "digest": D1, "registry_url": GHCR, "repository": "a"},
        {"name": "app", "digest": D1, "registry_url": GHCR, "repository": "b"}]}]})
    emu.log.clear()
    with pytest.raises(ValueError) as caught:
        run(connect(emu), "storage_record", storage_items(D1, name="app", registry_url=GHCR), "present", storage_desired())
    assert "2 storage records of %s are named 'app' at https://ghcr.io, in repositories 'a', 'b': set storage_record.repository" % D1 \
        in str(caught.value)
    assert sent(emu) == []
    done = run(connect(emu), "storage_record", storage_items(D1, name="app", registry_url=GHCR, record_repository="b"), "present",
               storage_desired(status="eol"))
    assert [a["action"] for a in done["actions"]] == ["updated"] and sent(emu)[0][2]["repository"] == "b"


def test_storage_record_absent_marks_every_record_of_the_digest_deleted(emu, connect):
    emu.seed({"orgs": [{"login": "acme", "storage_records": [
        {"name": "app", "digest": D1, "registry_url": GHCR, "repository": "acme/app"},
        {"name": "app", "digest": D1, "registry_url": "https://mirror.example.com", "status": "eol"},
        {"name": "app", "digest": D1, "registry_url": "https://old.example.com", "status": "deleted"},
        {"name": "tool", "digest": D2, "registry_url": GHCR}]}]})
    items = storage_items(D1, D3, name=None, registry_url=None)
    predicted, done = check_then_apply(emu, connect, "storage_record", items, "absent", storage_desired("absent"))
    assert [(a["ref"], a["action"]) for a in done["actions"]] == [
        ("%s app at https://ghcr.io/acme/app" % D1, "deleted"), ("%s app at https://mirror.example.com" % D1, "deleted"),
        ("%s app at https://old.example.com" % D1, "absent"), (D3, "absent")]
    assert sorted(m[2]["registry_url"] for m in sent(emu)) == [GHCR, "https://mirror.example.com"]
    assert all(m[:2] == ("POST", STORAGE) and m[2]["status"] == "deleted" for m in sent(emu))
    assert [r["status"] for r in done["storage_records"]] == ["deleted"] * 3
    assert [r["status"] for r in predicted["storage_records"]] == ["deleted"] * 3
    assert done["diff"]["after"]["%s app at https://ghcr.io/acme/app" % D1]["status"] == "deleted"
    assert state_storage(emu)[-1] == (D2, "tool", GHCR, None, "active", None, None)
    # again: every record is deleted already, nothing sent
    emu.log.clear()
    again = run(connect(emu), "storage_record", items, "absent", storage_desired("absent"))
    assert again["changed"] is False and set(a["action"] for a in again["actions"]) == {"absent"} and sent(emu) == []
    # one named record only
    emu.seed({"orgs": [{"login": "acme", "storage_records": [{"name": "app", "digest": D2, "registry_url": "https://x.example.com"}]}]})
    emu.log.clear()
    named = run(connect(emu), "storage_record", storage_items(D2, name="app", registry_url="https://x.example.com"), "absent",
                storage_desired("absent"))
    assert [a["action"] for a in named["actions"]] == ["deleted"] and len(sent(emu)) == 1


def test_storage_record_older_plural_path_is_used_when_the_singular_is_not_found(emu, connect):
    emu.configure(storage_record_path="plural")
    warnings = []
    done = run(connect(emu, warnings=warnings), "storage_record", storage_items(D1, D2, name="app", registry_url=GHCR), "present",
               storage_desired())
    assert [a["action"] for a in done["actions"]] == ["created", "created"]
    posts = [(m[0], m[1]) for m in sent(emu)]
    assert posts.count(("POST", STORAGE + "s")) == 2 and 1 <= posts.count(("POST", STORAGE)) <= 2
    assert len(warnings) == 1 and "the older /orgs/acme/artifacts/metadata/storage-records" in warnings[0]
    # 404 on both paths (an organization GitHub hides from the token): the error of the current path is reported
    emu.configure(storage_record_path="singular")
    emu.error(404, times=2, method="POST", path_prefix=STORAGE, message="Not Found")
    emu.log.clear()
    with pytest.raises(engine.Failure) as caught:
        run(connect(emu), "storage_record", storage_items(D3, name="app", registry_url=GHCR), "present", storage_desired())
    assert [(m, t) for m, t, b in sent(emu)] == [("POST", STORAGE), ("POST", STORAGE + "s")]
    assert "HTTP 404 POST %s%s: Not Found" % (emu.url, STORAGE) in caught.value.result["actions"][0]["msg"]


# ---------------------------------------------------------------------------------------------
# Deployment records

def test_deployment_record_single_write_keeps_what_the_task_leaves_out(emu, connect):
    emu.seed({"orgs": [{"login": "acme", "deployment_records": [
        {"name": "app", "digest": D2, "status": "deployed", "logical_environment": "prod", "cluster": "c1", "deployment_name": "web",
         "tags": {"team": "shop"}, "runtime_risks": ["internet-exposed"]}]}]})
    warnings = []
    items = deployment_items(D1, logical_environment="prod", cluster="c1", deployment_name="web")
    predicted, done = check_then_apply(emu, connect, "deployment_record", items, "present", deployment_desired(name="app", version="2"),
                                       warnings=warnings)
    # the key holds D2: for D1 it is a new record (GitHub's upsert moves the key to D1)
    assert [a["action"] for a in done["actions"]] == ["created"]
    assert sent(emu) == [("POST", DEPLOYMENT, {"name": "app", "digest": D1, "status": "deployed", "logical_environment": "prod",
                                               "cluster": "c1", "deployment_name": "web", "version": "2"})]
    record = done["deployment_records"][0]
    assert (record["status"], record["name"], record["version"], record["id"]) == ("deployed", "app", "2", 5001)
    assert predicted["deployment_records"][0]["id"] is None
    # again: GitHub does not return the status, so the record is written again and reported changed, with a warning
    emu.log.clear()
    warnings[:] = []
    again = run(connect(emu, warnings=warnings), "deployment_record", items, "present",
                deployment_desired(name="app", version="2", runtime_risks=["sensitive-data"]))
    assert again["changed"] is True and [a["action"] for a in again["actions"]] == ["updated"]
    assert sent(emu) == [("POST", DEPLOYMENT, {"name": "app", "digest": D1, "status": "deployed", "logical_environment": "prod",
                                               "cluster": "c1", "deployment_name": "web", "version": "2",
                                               "runtime_risks": ["sensitive-data"]})]
    assert len(warnings) == 1 and "GitHub did not return the status of deployment record(s)" in warnings[0]
    # tags left out are sent as the record has them
    emu.configure(deployment_record_extras=True)
    emu.seed({"orgs": [{"login": "acme", "deployment_records": [
        {"name": "app", "digest": D1, "status": "deployed", "logical_environment": "prod", "cluster": "c1", "deployment_name": "web",
         "tags": {"team": "shop"}, "runtime_risks": ["sensitive-data"], "version": "2"}]}]})
    emu.log.clear()
    same = run(connect(emu), "deployment_record", items, "present", deployment_desired(name="app", version="2"))
    assert same["changed"] is False and sent(emu) == []
    newer = run(connect(emu), "deployment_record", items, "present", deployment_desired(name="app", version="3"))
    assert [a["action"] for a in newer["actions"]] == ["updated"]
    assert sent(emu)[-1][2] == {"name": "app", "digest": D1, "status": "deployed", "logical_environment": "prod", "cluster": "c1",
                                "deployment_name": "web", "version": "3", "tags": {"team": "shop"}, "runtime_risks": ["sensitive-data"]}


def test_deployment_record_absent_decommissions_every_record_of_the_digest(emu, connect):
    emu.seed({"orgs": [{"login": "acme",
                        "storage_records": [{"name": "app", "digest": D1, "registry_url": GHCR}],
                        "deployment_records": [
                            {"name": "app", "digest": D1, "status": "deployed", "logical_environment": "prod", "cluster": "c1",
                             "deployment_name": "web", "tags": {"team": "shop"}},
                            {"name": "app", "digest": D1, "status": "deployed", "logical_environment": "staging", "deployment_name": "web"},
                            {"name": "tool", "digest": D2, "status": "deployed", "logical_environment": "prod", "deployment_name": "tool"}]}]})
    items = deployment_items(D1, D3)
    _predicted, done = check_then_apply(emu, connect, "deployment_record", items, "absent", deployment_desired("decommissioned"))
    assert [(a["ref"], a["action"]) for a in done["actions"]] == [
        ("%s prod/-/c1/web" % D1, "deleted"), ("%s staging/-/-/web" % D1, "deleted"), (D3, "absent")]
    # the name, which GitHub's record does not show, comes from the digest's storage record; the tags are sent as they are
    assert sorted(sent(emu), key=str) == sorted([
        ("POST", DEPLOYMENT, {"name": "app", "digest": D1, "status": "decommissioned", "logical_environment": "prod", "cluster": "c1",
                              "deployment_name": "web", "tags": {"team": "shop"}}),
        ("POST", DEPLOYMENT, {"name": "app", "digest": D1, "status": "decommissioned", "logical_environment": "staging",
                              "deployment_name": "web"})], key=str)
    assert [r["status"] for r in done["deployment_records"]] == ["decommissioned"] * 2
    assert [s[2] for s in state_deployments(emu)] == ["decommissioned", "decommissioned", "deployed"]
    # with the status returned, a run again sends nothing
    emu.configure(deployment_record_extras=True)
    emu.log.clear()
    again = run(connect(emu), "deployment_record", items, "absent", deployment_desired("decommissioned"))
    assert again["changed"] is False and [a["action"] for a in again["actions"]] == ["absent"] * 3 and sent(emu) == []
    # filters: only the cluster named
    emu.seed({"orgs": [{"login": "acme", "deployment_records": [
        {"name": "tool", "digest": D2, "status": "deployed", "logical_environment": "prod", "cluster": "c9", "deployment_name": "x"}]}]})
    emu.log.clear()
    only = run(connect(emu), "deployment_record", deployment_items(D2, cluster="c9"), "absent", deployment_desired("decommissioned"))
    assert [a["ref"] for a in only["actions"]] == ["%s prod/-/c9/x" % D2] and len(sent(emu)) == 1


def test_a_decommission_without_a_name_fails_before_any_change(emu, connect):
    emu.seed({"orgs": [{"login": "acme", "deployment_records": [
        {"name": "app", "digest": D1, "status": "deployed", "logical_environment": "prod", "deployment_name": "web"}],
        "storage_records": [{"name": "a", "digest": D1, "registry_url": GHCR}, {"name": "b", "digest": D1, "registry_url": GHCR}]}]})
    emu.log.clear()
    with pytest.raises(ValueError) as caught:
        run(connect(emu), "deployment_record", deployment_items(D1), "absent", deployment_desired("decommissioned"), check_mode=True)
    assert "GitHub needs the artifact's name to write a deployment record" in str(caught.value)
    assert "%s (storage records named a, b)" % D1 in str(caught.value)
    assert sent(emu) == []
    done = run(connect(emu), "deployment_record", deployment_items(D1), "absent", deployment_desired("decommissioned", name="app"))
    assert [a["action"] for a in done["actions"]] == ["deleted"] and sent(emu)[0][2]["name"] == "app"


def test_several_records_of_a_cluster_in_one_request_and_207_per_record(emu, connect):
    emu.add_repository("org", "acme", {"name": "locked", "writable": False})
    entries = ((D1, "web", {"name": "app"}), (D2, "worker", {"name": "worker", "github_repository": "locked"}),
               (D3, "cron", {"name": "cron", "tags": {"n": 1}}))
    items = [dict(deployment_items(d, logical_environment="prod", cluster="c1", deployment_name=n, entry=e)[0], listed=True)
             for d, n, e in entries]
    desired = deployment_desired(runtime_risks=["internet-exposed"])
    predicted = run(connect(emu), "deployment_record", [dict(i) for i in items], "present", desired, check_mode=True)
    assert [a["action"] for a in predicted["actions"]] == ["created"] * 3 and sent(emu) == []
    with pytest.raises(engine.Failure) as caught:
        run(connect(emu), "deployment_record", [dict(i) for i in items], "present", desired)
    result = caught.value.result
    assert sent(emu) == [("POST", CLUSTER, {"logical_environment": "prod", "partial_success": True, "deployments": [
        {"name": "app", "digest": D1, "status": "deployed", "deployment_name": "web", "runtime_risks": ["internet-exposed"]},
        {"name": "worker", "digest": D2, "status": "deployed", "deployment_name": "worker", "runtime_risks": ["internet-exposed"],
         "github_repository": "locked"},
        {"name": "cron", "digest": D3, "status": "deployed", "deployment_name": "cron", "tags": {"n": "1"},
         "runtime_risks": ["internet-exposed"]}]})]
    assert [a["action"] for a in result["actions"]] == ["created", "failed", "created"]
    assert "GitHub refused it (cause unauthorized): the token cannot write artifact metadata" in result["actions"][1]["msg"]
    assert "HTTP 207" in result["actions"][1]["msg"]
    assert [r["deployment_name"] for r in result["deployment_records"]] == ["web", "cron"]
    assert result["deployment_records"][1]["tags"] == {"n": "1"} and result["deployment_records"][0]["id"] is not None
    assert "1 of 3 deployment record(s) failed" in caught.value.msg
    assert [r[6] for r in state_deployments(emu)] == ["web", "cron"]


def test_a_refused_single_write_names_the_cause_and_the_permission(emu, connect):
    emu.add_repository("org", "acme", {"name": "locked", "id": 900, "writable": False})
    items = deployment_items(D1, logical_environment="prod", deployment_name="web")
    with pytest.raises(engine.Failure) as caught:
        run(connect(emu), "deployment_record", items, "present", deployment_desired(name="app", github_repository="locked"))
    message = caught.value.result["actions"][0]["msg"]
    assert "HTTP 403 POST" in message and "artifact metadata write permission required on one or more repositories (repositories: 900)" \
        in message and "write access to the artifact's repository: the \"Contents\" repository permission" in message
    emu.log.clear()
    with pytest.raises(engine.Failure) as caught:
        run(connect(emu), "storage_record", storage_items(D1, name="app", registry_url=GHCR), "present",
            storage_desired(github_repository="locked"))
    assert "(repositories: 900)" in caught.value.result["actions"][0]["msg"] and "\"Contents\"" in caught.value.result["actions"][0]["msg"]


def test_more_records_of_a_cluster_than_one_request_takes_go_through_a_job(emu, connect):
    emu.configure(job_polls=3)
    digests = ["sha256:" + ("%d" % n) * 64 for n in range(4, 9)]
    items = [dict(i, listed=True) for n, d in enumerate(digests)
             for i in deployment_items(d, logical_environment="prod", physical_environment="eu", cluster="c1", deployment_name="d%d" % n,
                                       entry={"name": "app%d" % n})]
    provider = connect(emu)
    provider.cluster_batch, provider.job_batch = 2, 3
    done = run(provider, "deployment_record", items, "present", deployment_desired())
    assert [a["action"] for a in done["actions"]] == ["created"] * 5
    jobs = "/orgs/acme/artifacts/metadata/deployment-record/cluster/c1/jobs"
    posted = [(m, t, len(b["deployments"]), b["physical_environment"]) for m, t, b in sent(emu)]
    assert posted == [("POST", jobs, 3, "eu"), ("POST", jobs, 2, "eu")]
    polls = [t for m, t in requests_seen(emu) if m == "GET" and t.startswith(jobs)]
    assert polls == [jobs + "/7001"] * 3 + [jobs + "/7002"] * 3
    assert [(j["job_id"], j["status"], j["total_count"], j["records"]) for j in provider.results["deployment_jobs"]] == [
        (7001, "completed", 3, 3), (7002, "completed", 2, 2)]
    assert len(state_deployments(emu)) == 5 and all(r[5] == "c1" for r in state_deployments(emu))
    assert all(r["status"] == "deployed" and r["cluster"] == "c1" for r in done["deployment_records"])


def test_a_deployment_a_job_rejects_is_reported_on_its_own(emu, connect):
    emu.add_repository("org", "acme", {"name": "locked", "writable": False})
    entries = ((D1, "a", {"name": "app"}), (D2, "b", {"name": "app"}), (D3, "c", {"name": "tool", "github_repository": "locked"}))
    items = [dict(deployment_items(d, logical_environment="prod", cluster="c1", deployment_name=n, entry=e)[0], listed=True)
             for d, n, e in entries]
    provider = connect(emu)
    provider.cluster_batch = 2
    with pytest.raises(engine.Failure) as caught:
        run(provider, "deployment_record", items, "present", deployment_desired())
    actions = caught.value.result["actions"]
    assert [a["action"] for a in actions] == ["created", "created", "failed"]
    assert actions[2]["msg"].startswith("GitHub refused it (cause unauthorized)") and "(cluster records job 7001)" in actions[2]["msg"]
    job = provider.results["deployment_jobs"][0]
    assert (job["status"], job["total_count"], job["records"], job["errors"][0]["cause"]) == ("completed", 2, 3, "unauthorized")
    assert [r[6] for r in state_deployments(emu)] == ["a", "b"]


def test_a_job_that_does_not_end_in_time_or_conflicts_is_reported(emu, connect):
    emu.configure(job_polls=50)
    items = [dict(i, listed=True) for n, d in enumerate((D1, D2, D3))
             for i in deployment_items(d, logical_environment="prod", cluster="c1", deployment_name="d%d" % n, entry={"name": "app"})]
    provider = connect(emu)
    provider.cluster_batch, provider.job_wait = 2, 3.0
    with pytest.raises(engine.Failure) as caught:
        run(provider, "deployment_record", [dict(i) for i in items], "present", deployment_desired())
    assert all(a["action"] == "failed" and "is still processing after 3 s; GitHub goes on with it" in a["msg"]
               for a in caught.value.result["actions"])
    assert provider.results["deployment_jobs"][0]["status"] == "processing"
    # the job still runs: another one for the cluster is refused (409)
    provider = connect(emu)
    provider.cluster_batch = 2
    with pytest.raises(engine.Failure) as caught:
        run(provider, "deployment_record", [dict(i) for i in items], "present", deployment_desired())
    assert all("A job is already in progress for this cluster." in a["msg"] and "run the task again when it has finished" in a["msg"]
               for a in caught.value.result["actions"])


# ---------------------------------------------------------------------------------------------
# Attestations

def attestation_items(*digests, registry="acme"):
    return [{"registry": registry, "digest": d} for d in digests]


@pytest.mark.parametrize("status", [200, 204])
def test_one_digest_is_listed_deleted_by_digest_and_listed_again(emu, connect, status):
    emu.configure(attestation_delete_status=status)
    emu.add_attestation("org", "acme", D1, predicate_type="provenance")
    emu.add_attestation("org", "acme", D1, predicate_type="sbom")
    predicted, done = check_then_apply(emu, connect, "attestation", attestation_items(D1), "absent", {})
    listing = "/orgs/acme/attestations/%s?per_page=100" % ENC1
    assert requests_seen(emu)[-3:] == [("GET", listing), ("DELETE", "/orgs/acme/attestations/digest/%s" % ENC1), ("GET", listing)]
    assert [a["action"] for a in done["actions"]] == ["deleted"]
    assert done["attestations"] == predicted["attestations"]
    assert done["attestations"][0]["count"] == 2
    assert done["attestations"][0]["predicate_types"] == ["https://slsa.dev/provenance/v1", "https://spdx.dev/Document/v2.3"]
    assert "bundle" not in done["attestations"][0]["attestations"][0]
    assert done["diff"] == {"before": {D1: done["attestations"][0]}, "after": {}}
    assert emu.attestation_ids("org", "acme") == []
    emu.log.clear()
    again = run(connect(emu), "attestation", attestation_items(D1), "absent", {})
    assert again["changed"] is False and [a["action"] for a in again["actions"]] == ["absent"] and sent(emu) == []


def test_several_digests_go_through_bulk_list_and_delete_request_in_chunks(emu, connect):
    digests = ["sha256:" + ("%x" % n) * 64 for n in range(1, 6)]
    for digest in digests[:4]:
        emu.add_attestation("org", "acme", digest)
    provider = connect(emu)
    provider.attestation_batch = 2
    done = run(provider, "attestation", attestation_items(*digests), "absent", {})
    assert [a["action"] for a in done["actions"]] == ["deleted"] * 4 + ["absent"]
    bulk = [b["subject_digests"] for m, t, b in sent(emu, ("POST",)) if t.startswith("/orgs/acme/attestations/bulk-list")]
    deletes = [(t, b) for m, t, b in sent(emu) if "bulk-list" not in t]
    # listed, then what was deleted listed again
    assert bulk == [digests[0:2], digests[2:4], digests[4:5], digests[0:2], digests[2:4]]
    assert deletes == [("/orgs/acme/attestations/delete-request", {"subject_digests": digests[0:2]}),
                       ("/orgs/acme/attestations/delete-request", {"subject_digests": digests[2:4]})]
    assert emu.attestation_ids("org", "acme") == []


def test_a_delete_that_leaves_attestations_fails_naming_the_permission(emu, connect):
    emu.add_repository("org", "acme", {"name": "locked", "id": 901, "writable": False})
    emu.add_attestation("org", "acme", D1, repository="locked")
    emu.add_attestation("org", "acme", D2, repository="app")
    with pytest.raises(engine.Failure) as caught:
        run(connect(emu), "attestation", attestation_items(D1, D2), "absent", {})
    actions = caught.value.result["actions"]
    assert [a["action"] for a in actions] == ["failed", "deleted"]
    assert actions[0]["msg"] == (
        "1 of 1 attestation(s) of %s are still listed after the delete: the token needs the \"Attestations\" repository permission "
        "(write) on the repositories that built them (repository id 901) of organization acme; GitHub answers 404 rather than 403 "
        "where a token cannot see or write them" % D1)
    assert [a["digest"] for a in caught.value.result["attestations"]] == [D2]


def test_user_attestations_and_the_404_of_another_users_token(emu, connect):
    emu.add_user("hubot")
    emu.add_attestation("user", "hubot", D1)
    emu.add_attestation("user", "octocat", D2)
    with pytest.raises(engine.Failure) as caught:
        run(connect(emu), "attestation", attestation_items(D1, registry="user:hubot"), "absent", {})
    message = caught.value.result["actions"][0]["msg"]
    assert "(the delete answered HTTP 404 DELETE" in message and "a user's attestations are deleted with a token of that user (hubot)" in message
    assert [t for m, t in requests_seen(emu)][-2:] == ["/users/hubot/attestations/digest/%s" % ENC1,
                                                       "/users/hubot/attestations/%s?per_page=100" % ENC1]
    done = run(connect(emu), "attestation", attestation_items(D2, registry="user:octocat"), "absent", {})
    assert [a["action"] for a in done["actions"]] == ["deleted"] and emu.attestation_ids("user", "octocat") == []


def test_a_404_for_what_is_gone_by_then_is_done(emu, connect):
    emu.add_attestation("org", "acme", D1)
    provider = connect(emu)
    listed = provider._attestations
    calls = []

    def list_then_lose_them(*args, **kwargs):
        found = listed(*args, **kwargs)
        if not calls:  # someone else deletes them between the list and the delete
            emu.reset_state()
        calls.append(1)
        return found
    provider._attestations = list_then_lose_them
    emu.log.clear()
    done = run(provider, "attestation", attestation_items(D1), "absent", {})
    assert [a["action"] for a in done["actions"]] == ["deleted"]
    assert [r.status for r in emu.log.records] == [200, 404, 200]


def test_listing_follows_link_pages_and_bulk_cursors(emu, connect):
    for _index in range(130):
        emu.add_attestation("org", "acme", D1)
    emu.add_attestation("org", "acme", D2, predicate_type="sbom")
    provider = connect(emu)
    one = provider.list_attestation({"registry": "acme", "digest": [D1]})
    assert len(one) == 130 and [r.target.split("?")[0] for r in emu.log.records] == ["/orgs/acme/attestations/%s" % ENC1] * 2
    assert "after=" in emu.log.records[1].target and one[0]["initiator"] == "github"
    emu.log.clear()
    both = provider.list_attestation({"registry": "acme", "digest": [D1, D2]})
    assert len(both) == 131 and [a["subject_digest"] for a in both[-2:]] == [D1, D2]
    assert [r.query.get("after") is not None for r in emu.log.records] == [False, True]
    emu.log.clear()
    sboms = provider.list_attestation({"registry": "acme", "digest": [D1, D2], "predicate_type": "sbom", "bundle": True})
    assert [(a["subject_digest"], a["predicate_type"]) for a in sboms] == [(D2, "https://spdx.dev/Document/v2.3")]
    assert emu.log.records[0].body == {"subject_digests": [D1, D2], "predicate_type": "sbom"}
    assert predicate_of(sboms[0]["bundle"]) == "https://spdx.dev/Document/v2.3" and sboms[0]["initiator"] is None
    user = provider.list_attestation({"registry": "user:octocat", "digest": [D1], "predicate_type": "provenance"})
    assert user == [] and emu.log.records[-1].target == "/users/octocat/attestations/%s?per_page=100&predicate_type=provenance" % ENC1


# ---------------------------------------------------------------------------------------------
# artifact_info records: true

def test_artifact_records_reads_both_lists_of_each_digest(emu, connect):
    emu.seed({"orgs": [{"login": "acme", "storage_records": [{"name": "app", "digest": D1, "registry_url": GHCR}],
                        "deployment_records": [{"name": "app", "digest": D1, "status": "deployed", "logical_environment": "prod",
                                                "deployment_name": "web"}]}]})
    provider = connect(emu)
    emu.log.clear()
    found = provider.artifact_records("acme", [D1, D2, D1])
    assert sorted(found) == [D1, D2]
    assert [(r["name"], r["status"]) for r in found[D1]["storage_records"]] == [("app", "active")]
    assert [(r["deployment_name"], r["status"]) for r in found[D1]["deployment_records"]] == [("web", None)]
    assert found[D2] == {"storage_records": [], "deployment_records": []}
    assert sorted(r.target for r in emu.log.records) == sorted(
        "/orgs/acme/artifacts/%s/metadata/%s" % (enc, kind) for enc in (ENC1, ENC2) for kind in ("storage-records", "deployment-records"))
    emu.log.clear()
    with pytest.raises(ValueError) as caught:
        provider.artifact_records("user:octocat", [D1])
    assert "exists for organizations only" in str(caught.value) and emu.log.records == []
    emu.error(500, times=10, method="GET", path_prefix="/orgs/acme/artifacts/%s" % ENC2)
    with pytest.raises(ApiError) as caught:
        provider.artifact_records("acme", [D1, D2])
    assert caught.value.status == 500 and ENC2 in caught.value.url
