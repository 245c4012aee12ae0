"""End to end: GitHub's artifact metadata and attestations (``artifact`` with ``storage_record``, ``deployment_record``,
``attestation``, ``attestation_info``, ``artifact_info`` with ``records``) against the GitHub emulator.

Each ``run_tasks`` call is one ansible-playbook run; tasks are batched so the file stays fast. Runs whose subject is the
module, not ansible-core (check-mode and re-run phases, bad input), go through ``run_tasks_in_process``; applies (at
``-vvv``) and the faulted run stay ansible-playbook runs.
"""

# pylint: disable=redefined-outer-name,too-many-locals,too-many-statements
import json

import pytest

from tests.emulators.github import DEFAULT_TOKEN, GitHubEmulator
from tests.support.ansible_runner import run_tasks
from tests.support.module_runner import run_tasks_in_process
from tests.support.tasks import checked, ok, task

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
VERBOSE = {"ANSIBLE_VERBOSITY": "3"}
CLOCK = "2026-05-30T12:00:00Z"
D1, D2, D3, D4, D5, D6, D7 = ("sha256:" + c * 64 for c in "1234567")
GHCR = "https://ghcr.io"
MIRROR = "https://mirror.example.com"
STORAGE = "/orgs/acme/artifacts/metadata/storage-record"
DEPLOYMENT = "/orgs/acme/artifacts/metadata/deployment-record"
SETTINGS = {"deployment_record_extras": False, "storage_record_path": "singular", "secondary_rate_limit": None, "job_polls": 2,
            "error_message_shape": "string", "attestation_delete_status": 200}


def enc(digest):
    return digest.replace(":", "%3A")


@pytest.fixture(scope="module")
def emulator():
    """One GitHub emulator for the whole file."""
    with GitHubEmulator(clock=CLOCK) as emu:
        yield emu


def seed_records(emu):
    """The organization acme and the user octocat with the storage records, deployments and attestations below."""
    emu.seed({
        "orgs": [{"login": "acme",
                  "storage_records": [
                      {"name": "app", "digest": D1, "registry_url": GHCR, "repository": "acme/app"},
                      {"name": "old", "digest": D3, "registry_url": GHCR, "repository": "acme/old"},
                      {"name": "old", "digest": D3, "registry_url": MIRROR, "status": "eol"}],
                  "deployment_records": [
                      {"name": "app", "digest": D1, "status": "deployed", "logical_environment": "prod", "cluster": "c1",
                       "deployment_name": "web", "tags": {"team": "shop"}},
                      {"name": "old", "digest": D3, "status": "deployed", "logical_environment": "prod", "cluster": "c1",
                       "deployment_name": "old-web", "runtime_risks": ["internet-exposed"]},
                      {"name": "old", "digest": D3, "status": "deployed", "logical_environment": "staging", "deployment_name": "old"}],
                  "attestations": [{"subject_digest": D3, "predicate_type": "provenance"}, {"subject_digest": D3, "predicate_type": "sbom"},
                                   {"subject_digest": D5, "predicate_type": "provenance"}, {"subject_digest": D7, "predicate_type": "release"}]}],
        "users": [{"login": "octocat", "attestations": [{"subject_digest": D6, "repository": "dotfiles"}]}]})


@pytest.fixture
def emu(emulator):
    """The emulator with the organization acme and the user octocat, its default settings, and ``seed_records``."""
    emulator.configure(clock=CLOCK, **SETTINGS)
    emulator.reset()
    seed_records(emulator)
    emulator.log.clear()
    yield emulator
    emulator.reset()


def defaults(emu):
    """``module_defaults`` for the collection's action group."""
    return {"group/regops.registry.all": {"provider": "github", "api_url": emu.url, "api_token": DEFAULT_TOKEN}}


def mutations(emu):
    """``(method, path?query, body)`` of every mutating request (the bulk list of attestations is a POST that only reads)."""
    return [(r.method, r.target, r.body) for r in emu.log.records if r.method in MUTATING and "/attestations/bulk-list" not in r.path]


def snapshot(emu):
    """Records (without times and ids) and attestations of acme and octocat."""
    dump = emu.dump_state()
    acme = next(o for o in dump["orgs"] if o["login"] == "acme")
    octocat = next(o for o in dump["users"] if o["login"] == "octocat")
    return {"storage": sorted((r["digest"], r["name"], r["registry_url"], r["repository"], r["status"], r["version"])
                              for r in acme["storage_records"]),
            "deployment": sorted((r["digest"], r["name"], r["status"], r["logical_environment"], r["cluster"], r["deployment_name"],
                                  json.dumps(r["tags"], sort_keys=True), tuple(r["runtime_risks"])) for r in acme["deployment_records"]),
            "attestations": sorted(d for a in acme["attestations"] for d in a["subject_digests"]),
            "user_attestations": sorted(d for a in octocat["attestations"] for d in a["subject_digests"])}


LIFECYCLE = [
    task("artifact", registry="acme", digest=D2, diff=True,
         storage_record={"name": "app", "registry_url": GHCR, "repository": "acme/app", "version": "2.0"}),                 # 0 create
    task("artifact", registry="acme", digest=D1, diff=True,
         storage_record={"name": "app", "registry_url": GHCR, "status": "eol"}),                                             # 1 update
    task("artifact", registry="acme", digest=[D3, D4], storage_record={}, state="absent", diff=True),                      # 2 mark deleted
    task("deployment_record", registry="acme", digest=D2, name="app", version="2.0", logical_environment="prod",
         cluster="c1", deployment_name="web-v2", tags={"team": "shop"}, runtime_risks=["internet-exposed"], diff=True),    # 3 one record
    task("deployment_record", registry="acme", logical_environment="prod", cluster="c2", name="app", diff=True,
         deployments=[{"digest": D1, "deployment_name": "a"}, {"digest": D2, "deployment_name": "b", "version": "2.0"}]),  # 4 one cluster
    task("deployment_record", registry="acme", digest=[D3, D4], state="absent", diff=True),                               # 5 decommission
    task("attestation", registry="acme", digest=[D3, D4, D7], diff=True),                                                 # 6 bulk
    task("attestation", registry="acme", digest=D5, state="absent"),                                                      # 7 one digest
    task("attestation", registry="user:octocat", digest=D6),                                                              # 8 a user's
]
INFO = [
    task("attestation_info", registry="acme", digest=[D3, D4, D7]),
    task("attestation_info", registry="acme", digest=D5, predicate_type="provenance", bundle=True),
    task("attestation_info", registry="user:octocat", digest=D6),
    task("artifact_info", registry="acme", digest=[D1, D3], records=True),
]


def test_check_apply_again_diff_and_info(emu):
    emu.configure(deployment_record_extras=True)
    before = snapshot(emu)

    # -- check mode: every change predicted, nothing mutating sent
    check_run = ok(run_tasks_in_process(INFO + [checked(t) for t in LIFECYCLE], module_defaults=defaults(emu)))
    info, check = check_run[:len(INFO)], check_run[len(INFO):]
    assert mutations(emu) == []
    assert snapshot(emu) == before
    assert [r["changed"] for r in check] == [True] * len(LIFECYCLE)
    assert [(a["subject_digest"], a["predicate_type"]) for a in info[0]["attestations"]] == [
        (D3, "https://slsa.dev/provenance/v1"), (D3, "https://spdx.dev/Document/v2.3"), (D7, "https://in-toto.io/attestation/release/v0.1")]
    assert all("bundle" not in a for a in info[0]["attestations"]) and info[0]["changed"] is False
    assert [a["initiator"] for a in info[1]["attestations"]] == ["github"] and info[1]["attestations"][0]["bundle"]["dsseEnvelope"]
    assert [a["subject_digest"] for a in info[2]["attestations"]] == [D6]
    records = {a["digest"]: a["provider_data"] for a in info[3]["artifacts"]}
    assert sorted(records) == [D1, D3]
    assert [(r["registry_url"], r["status"]) for r in records[D3]["storage_records"]] == [(GHCR, "active"), (MIRROR, "eol")]
    assert sorted((r["deployment_name"], r["status"]) for r in records[D3]["deployment_records"]) == [("old", "deployed"), ("old-web", "deployed")]

    # -- apply, ansible-playbook at -vvv with --diff: the same changes; the API token in no output
    emu.log.clear()
    apply = ok(run_tasks(LIFECYCLE, module_defaults=defaults(emu), env=VERBOSE, diff=True))
    assert "EXEC" in apply.stdout and DEFAULT_TOKEN not in apply.stdout + apply.stderr
    assert [r["changed"] for r in apply] == [True] * len(LIFECYCLE)
    for predicted, done in zip(check, apply):
        assert predicted["actions"] == done["actions"]
    assert [[a["action"] for a in r["actions"]] for r in apply] == [
        ["created"], ["updated"], ["deleted", "deleted", "absent"], ["created"], ["created", "created"], ["deleted", "deleted", "absent"],
        ["deleted", "absent", "deleted"], ["deleted"], ["deleted"]]
    storage_post = ("POST", STORAGE)
    expected = [
        storage_post + ({"name": "app", "digest": D2, "registry_url": GHCR, "repository": "acme/app", "version": "2.0", "status": "active"},),
        storage_post + ({"name": "app", "digest": D1, "registry_url": GHCR, "repository": "acme/app", "status": "eol"},),
        storage_post + ({"name": "old", "digest": D3, "registry_url": GHCR, "repository": "acme/old", "status": "deleted"},),
        storage_post + ({"name": "old", "digest": D3, "registry_url": MIRROR, "status": "deleted"},),
        ("POST", DEPLOYMENT, {"name": "app", "digest": D2, "status": "deployed", "logical_environment": "prod", "cluster": "c1",
                              "deployment_name": "web-v2", "version": "2.0", "tags": {"team": "shop"}, "runtime_risks": ["internet-exposed"]}),
        ("POST", DEPLOYMENT + "/cluster/c2", {"logical_environment": "prod", "partial_success": True, "deployments": [
            {"name": "app", "digest": D1, "status": "deployed", "deployment_name": "a"},
            {"name": "app", "digest": D2, "status": "deployed", "deployment_name": "b", "version": "2.0"}]}),
        ("POST", DEPLOYMENT, {"name": "old", "digest": D3, "status": "decommissioned", "logical_environment": "prod", "cluster": "c1",
                              "deployment_name": "old-web", "runtime_risks": ["internet-exposed"]}),
        ("POST", DEPLOYMENT, {"name": "old", "digest": D3, "status": "decommissioned", "logical_environment": "staging",
                              "deployment_name": "old"}),
        ("POST", "/orgs/acme/attestations/delete-request", {"subject_digests": [D3, D7]}),
        ("DELETE", "/orgs/acme/attestations/digest/%s" % enc(D5), None),
        ("DELETE", "/users/octocat/attestations/digest/%s" % enc(D6), None),
    ]
    assert sorted(mutations(emu), key=str) == sorted(expected, key=str)
    after = snapshot(emu)
    assert after == {
        "storage": [(D1, "app", GHCR, "acme/app", "eol", None), (D2, "app", GHCR, "acme/app", "active", "2.0"),
                    (D3, "old", GHCR, "acme/old", "deleted", None), (D3, "old", MIRROR, None, "deleted", None)],
        "deployment": sorted([
            (D1, "app", "deployed", "prod", "c1", "web", '{"team": "shop"}', ()),
            (D1, "app", "deployed", "prod", "c2", "a", "{}", ()),
            (D2, "app", "deployed", "prod", "c1", "web-v2", '{"team": "shop"}', ("internet-exposed",)),
            (D2, "app", "deployed", "prod", "c2", "b", "{}", ()),
            (D3, "old", "decommissioned", "prod", "c1", "old-web", "{}", ("internet-exposed",)),
            (D3, "old", "decommissioned", "staging", None, "old", "{}", ())]),
        "attestations": [], "user_attestations": []}
    # results and diffs
    assert [(r["status"], r["version"]) for r in apply[0]["storage_records"]] == [("active", "2.0")]
    assert apply[0]["diff"]["before"] == {} and list(apply[0]["diff"]["after"]) == ["%s app at https://ghcr.io/acme/app" % D2]
    ref = "%s app at https://ghcr.io" % D1  # the task names no repository
    assert (apply[1]["diff"]["before"][ref]["status"], apply[1]["diff"]["after"][ref]["status"]) == ("active", "eol")
    assert [r["status"] for r in apply[2]["storage_records"]] == ["deleted", "deleted"]
    assert [(r["deployment_name"], r["status"]) for r in apply[5]["deployment_records"]] == [("old-web", "decommissioned"), ("old", "decommissioned")]
    assert [(a["digest"], a["count"]) for a in apply[6]["attestations"]] == [(D3, 2), (D7, 1)]
    assert apply[6]["diff"]["after"] == {} and sorted(apply[6]["diff"]["before"]) == [D3, D7]

    # -- again: nothing changes, nothing mutating is sent
    emu.log.clear()
    again = ok(run_tasks_in_process(LIFECYCLE, module_defaults=defaults(emu), diff=True))
    assert [r["changed"] for r in again] == [False] * len(LIFECYCLE)
    assert mutations(emu) == []
    assert snapshot(emu) == after
    assert [a["action"] for a in again[2]["actions"]] == ["absent"] * 3 and [a["action"] for a in again[6]["actions"]] == ["absent"] * 3


def test_deployment_records_without_a_status_are_written_every_run(emu):
    """GitHub's documented deployment record has no status: the module writes and says changed, it never guesses unchanged."""
    tasks = [task("deployment_record", registry="acme", digest=D1, name="app", logical_environment="prod", cluster="c1", deployment_name="web"),
             task("deployment_record", registry="acme", digest=D3, cluster="c1", state="absent")]
    # ansible-playbook for every phase: run_tasks_in_process registers a module's warnings as the module encoded them
    # ({"__ansible_type": "WarningSummary", ...}), not as the message strings ansible-playbook registers
    first = ok(run_tasks([checked(t) for t in tasks] + tasks + tasks, module_defaults=defaults(emu)))
    assert [r["changed"] for r in first] == [True] * 6
    assert [[a["action"] for a in r["actions"]] for r in first] == [["updated"], ["deleted"]] * 3
    assert all(any("GitHub did not return the status of deployment record(s)" in w for w in r["warnings"]) for r in first)
    posts = [(t, b["status"], b["deployment_name"]) for m, t, b in mutations(emu)]
    assert posts == [(DEPLOYMENT, "deployed", "web"), (DEPLOYMENT, "decommissioned", "old-web")] * 2
    # the status in the results is the one written (or to be written): GitHub's answer has none
    assert [r["deployment_records"][0]["status"] for r in first] == ["deployed", "decommissioned"] * 3


def test_bad_input_fails_before_any_request(emu):
    before = snapshot(emu)
    cases = [
        (task("artifact", registry="user:octocat", digest=D1, storage_record={}, state="absent"),
         "storage_record (artifact metadata) exists for organizations only: registry 'user:octocat' is a user account"),
        (task("artifact", registry="acme", digest=D1, storage_record={"name": "app", "registry_url": "ghcr.io"}),
         "storage_record.registry_url 'ghcr.io' must be an https:// URL"),
        (task("artifact", registry="acme", repository="app", digest=D1, storage_record={}, state="absent"), "repository cannot go with it"),
        (task("deployment_record", registry="acme", digest=D1, name="app", logical_environment="prod", deployment_name="web",
              tags={"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6"}), "tags has 6 entries: GitHub takes at most 5"),
        (task("deployment_record", registry="acme", digest=D1, name="app", logical_environment="prod", deployment_name="web",
              runtime_risks=["lateral-movement", "lateral-movement"]), "runtime_risks lists a risk twice"),
        (task("deployment_record", registry="acme", digest=D1, name="app", logical_environment="prod", deployment_name="web",
              cluster="prod/eu"), "cluster 'prod/eu' is not valid"),
        (task("deployment_record", registry="acme", digest="sha256:" + "a" * 63, state="absent"), "digest 'sha256:aaa"),
        (task("attestation", registry="acme", digest="sha512:" + "a" * 128), "is not a sha256 digest"),
        (task("attestation_info", registry="acme", digest=D1, provider="gitlab"), "Provider 'gitlab' cannot manage attestation_info"),
    ]
    results = run_tasks_in_process([dict(item, ignore_errors=True) for item, _message in cases], module_defaults=defaults(emu))
    for (_item, expected), result in zip(cases, results):
        assert result.get("failed") is True, (expected, result)
        assert expected in result["msg"], (expected, result["msg"])
    assert emu.log.records == []
    assert snapshot(emu) == before


def test_faulted_run_ends_in_the_clean_state(emu):
    tasks = [
        task("artifact", registry="acme", digest=[D1, D3], storage_record={}, state="absent"),
        task("deployment_record", registry="acme", digest=[D1, D3], state="absent"),
        task("attestation", registry="acme", digest=[D3, D5, D7]),
    ]
    emu.rate_limit(times=1, retry_after="1", method="POST", path_prefix=STORAGE)
    emu.server_error(times=2, status=502, method="GET", path_prefix="/orgs/acme/artifacts/")
    emu.server_error(times=1, status=503, method="POST", path_prefix=DEPLOYMENT)
    emu.reset_connection(times=1, method="POST", path_prefix="/orgs/acme/attestations/delete-request")
    emu.server_error(times=1, status=500, method="POST", path_prefix="/orgs/acme/attestations/bulk-list")
    emu.secondary_rate_limit(times=1, status=403, retry_after=1)
    faulted = ok(run_tasks(tasks, module_defaults=defaults(emu)))
    assert [r["changed"] for r in faulted] == [True] * 3
    assert [[a["action"] for a in r["actions"]] for r in faulted] == [
        ["deleted", "deleted", "deleted"], ["deleted", "deleted", "deleted"], ["deleted", "deleted", "deleted"]]
    state = snapshot(emu)
    assert [r[4] for r in state["storage"]] == ["deleted"] * 3
    assert [r[2] for r in state["deployment"]] == ["decommissioned"] * 3
    assert state["attestations"] == []
    statuses = [r.status for r in emu.log.records]
    assert statuses.count(429) == 1 and statuses.count(502) == 2 and statuses.count(503) == 1 and statuses.count(500) == 1
    assert statuses.count(403) == 1 and None in statuses  # the secondary limit and the reset
    warnings = [w for r in faulted for w in r.get("warnings", [])]
    assert [w for w in warnings if "answered 429" in w and "in 1.0s" in w] and [w for w in warnings if "answered 403 (rate limit)" in w]
    # each write reached GitHub once per record, whatever was retried
    written = [json.dumps(r.body, sort_keys=True) for r in emu.log.records if r.method == "POST" and r.status == 200
               and "bulk-list" not in r.path]
    assert len(written) == len(set(written)) == 6  # 3 storage, 1 deployment + 1 for cluster c1 (D1 web, D3 old-web), 1 delete-request
