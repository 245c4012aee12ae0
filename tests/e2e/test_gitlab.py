"""End to end: every module with ``provider: gitlab`` against the GitLab emulator.

Each ``run_tasks`` call is one ansible-playbook run; tasks are batched so the file stays fast. Runs whose subject is the
module, not ansible-core (check-mode and re-run phases, bad input, the clean run beside the faulted one), go through
``run_tasks_in_process``; the apply (at ``-vvv``), the faulted run and the CI job's environment stay ansible-playbook
runs. The emulator finishes
its asynchronous deletes at the second read of the repository (``async_polls: 2``), so the waits are deterministic.
"""

# pylint: disable=redefined-outer-name,too-many-locals,too-many-statements
import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.emulators.gitlab import DEFAULT_JOB_TOKEN, DEFAULT_TOKEN, GitLabEmulator
from tests.support.ansible_runner import run_tasks
from tests.support.module_runner import run_tasks_in_process
from tests.support.tasks import checked, ok, task

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
VERBOSE = {"ANSIBLE_VERBOSITY": "3"}
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64
DIGEST_D = "sha256:" + "d" * 64
SETTINGS = {"async_delay": None, "async_polls": 2, "bulk_delete_lease_seconds": 3600, "keyset_tags": True, "tag_delete_status": 204,
            "repository_delete_status": 202, "repository_delete_outcome": "success"}


@pytest.fixture(scope="module")
def emulator():
    """One GitLab emulator for the whole file."""
    with GitLabEmulator(**SETTINGS) as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    """The emulator with only the default project acme/app, and its default settings."""
    emulator.configure(**SETTINGS)
    emulator.clear_faults()
    emulator.reset()
    emulator.log.clear()
    yield emulator
    emulator.clear_faults()
    emulator.reset()


def defaults(emu, **extra):
    """``module_defaults`` for the collection's action group."""
    options = {"provider": "gitlab", "api_url": emu.url, "api_token": DEFAULT_TOKEN}
    options.update(extra)
    return {"group/regops.registry.all": options}


def mutations(emu):
    """``(method, path?query, body)`` of every mutating request."""
    return [(r.method, r.target, r.body) for r in emu.log.records if r.method in MUTATING]


def ago(days):
    return (datetime.now(timezone.utc) - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def snapshot(emu):
    """What a run changes: per project its registry settings, policy and ``{repository path: {tag: digest}}``."""
    out = {}
    for project in emu.dump_state()["projects"]:
        policy = dict(project["container_expiration_policy"])
        policy.pop("next_run_at")
        out[project["path_with_namespace"]] = {
            "access_level": project["container_registry_access_level"], "policy": policy,
            "repositories": {r["path"]: {t["name"]: t["digest"] for t in r["tags"]} for r in project["repositories"]}}
    return out


def seed(emu):
    """acme/app: the project's own image (v1 and v1-alias on A, v2 on B, old1 on C, stable on D, latest), the worker image
    (pull-request tags for the bulk delete) and an old image to delete. Returns the repository ids."""
    emu.add_repository("acme/app", "", tags=[
        {"name": "v1", "digest": DIGEST_A, "created_at": "2026-01-10T00:00:00Z", "total_size": 1000},
        {"name": "v1-alias", "digest": DIGEST_A, "created_at": "2026-01-10T00:00:00Z", "total_size": 1000},
        {"name": "v2", "digest": DIGEST_B, "created_at": "2026-02-10T00:00:00Z", "total_size": 2000},
        {"name": "old1", "digest": DIGEST_C, "created_at": "2025-12-01T00:00:00Z", "total_size": 3000},
        {"name": "stable", "digest": DIGEST_D, "created_at": "2026-03-01T00:00:00Z", "total_size": 4000},
        "latest"])
    emu.add_repository("acme/app", "worker", tags=[
        {"name": "pr-1", "created_at": ago(40)}, {"name": "pr-2", "created_at": ago(30)}, {"name": "pr-3", "created_at": ago(20)},
        {"name": "main", "created_at": ago(1)}, "latest"])
    emu.add_repository("acme/app", "old", tags=["x1", "x2"])
    return {name: emu.repository_id("acme/app", name) for name in ("", "worker", "old")}


POLICY = {"enabled": True, "cadence": "7d", "keep_n": 5, "older_than": "30d", "name_regex": ".*", "name_regex_keep": "stable|main"}


def lifecycle_tasks():
    """One task per module and state, in diff mode."""
    return [
        task("registry", name="acme/app", access_level="private", cleanup_policy=POLICY, diff=True),                       # 0
        task("repository", registry="acme/app", name="acme/app/old", state="absent", diff=True),                          # 1
        task("artifact", registry="acme/app", repository="acme/app", digest=[DIGEST_C], state="absent",
             expected_tags={DIGEST_C: ["old1"]}, diff=True),                                                              # 2
        task("artifact", registry="acme/app", digest=["acme/app@" + DIGEST_A], state="absent", diff=True),                # 3
        task("tag", registry="acme/app", repository="acme/app", name=["v2"], state="absent",
             expected_digests={"v2": DIGEST_B}, diff=True),                                                               # 4
        task("tag", registry="acme/app", repository=["acme/app/worker"], bulk={"name_regex_delete": "pr-.*", "keep_n": 1},
             state="absent", diff=True),                                                                                  # 5
    ]


def info_tasks():
    """Every info module."""
    return [
        task("registry_info", name="acme/app"),
        task("repository_info", registry="acme/app"),
        task("repository_info", registry="acme/app", name=["acme/app"]),
        task("artifact_info", registry="acme/app", repository=["acme/app"]),
        task("tag_info", registry="acme/app", repository=["acme/app/worker"]),
        task("artifact", registry="acme/app", repository="acme/app", digest=[DIGEST_D]),  # present: it exists
    ]


@pytest.mark.compat
def test_every_module_check_apply_again_diff(emu):
    ids = seed(emu)
    before = snapshot(emu)
    tasks = lifecycle_tasks()

    # -- check mode: every change predicted, nothing mutating sent
    check_run = ok(run_tasks_in_process(info_tasks() + [checked(t) for t in tasks], module_defaults=defaults(emu)))
    info, check = check_run[:6], check_run[6:]
    assert mutations(emu) == []
    assert snapshot(emu) == before
    assert [r["changed"] for r in check] == [True] * 6
    registry = info[0]["registries"][0]
    assert {k: registry[k] for k in ("name", "id", "url", "public")} == {
        "name": "acme/app", "id": 1001, "url": "gitlab.example.com:5050/acme/app", "public": False}
    assert registry["provider_data"]["access_level"] == "enabled" and registry["provider_data"]["cleanup_policy"]["cadence"] == "1d"
    assert [(r["name"], r["id"], r["provider_data"]["tags_count"], r["size_bytes"]) for r in info[1]["repositories"]] == [
        ("acme/app", ids[""], 6, None), ("acme/app/old", ids["old"], 2, None), ("acme/app/worker", ids["worker"], 5, None)]
    assert info[2]["repositories"][0]["size_bytes"] == emu.dump_state()["projects"][0]["repositories"][0]["size"] > 0
    artifacts = {a["digest"]: a for a in info[3]["artifacts"]}
    assert artifacts[DIGEST_A]["tags"] == ["v1", "v1-alias"] and artifacts[DIGEST_A]["size_bytes"] == 1000
    assert artifacts[DIGEST_A]["pushed_at"] == artifacts[DIGEST_A]["created_at"] == "2026-01-10T00:00:00Z"
    assert artifacts[DIGEST_A]["media_type"] is None and artifacts[DIGEST_A]["pulled_at"] is None
    assert [t["name"] for t in info[4]["tags"]] == ["latest", "main", "pr-1", "pr-2", "pr-3"]
    assert info[5]["changed"] is False and info[5]["actions"] == [{"ref": "acme/app@" + DIGEST_D, "action": "unchanged"}]
    assert info[5]["artifacts"][0]["tags"] == ["stable"]
    assert check[1]["repository_status"] == "deleted"
    assert check[5]["bulk"][0]["predicted"] == ["pr-1", "pr-2"] and check[5]["bulk"][0]["sent"] is False
    assert check[5]["bulk"][0]["kept"] == {"latest": "latest", "main": "no_match", "pr-3": "keep_n"}

    # -- apply, ansible-playbook at -vvv in diff mode (the token in no output, checked below)
    emu.log.clear()
    apply = ok(run_tasks(tasks, module_defaults=defaults(emu), env=VERBOSE, diff=True))
    assert "EXEC" in apply.stdout
    assert [r["changed"] for r in apply] == [True] * 6
    for predicted, done in zip(check, apply):
        assert predicted["actions"] == done["actions"]
    for index, key in ((1, "repository"), (2, "artifacts"), (3, "artifacts"), (4, "tags"), (5, "tags")):
        assert check[index][key] == apply[index][key], index
    predicted_policy, done_policy = check[0]["registry"]["provider_data"], apply[0]["registry"]["provider_data"]
    assert predicted_policy["access_level"] == done_policy["access_level"] == "private"
    assert predicted_policy["cleanup_policy"] == dict(done_policy["cleanup_policy"], next_run_at=None)
    assert done_policy["cleanup_policy"]["next_run_at"].endswith("Z")
    assert apply[1]["repository_status"] == "deleted"
    assert apply[3]["artifacts"][0]["tags"] == ["v1", "v1-alias"]  # the tags that went with the digest
    assert apply[5]["bulk"][0]["deleted"] == ["pr-1", "pr-2"] and apply[5]["bulk"][0]["status"] == "done"
    # diffs
    assert apply[0]["diff"]["before"]["provider_data"]["access_level"] == "enabled"
    assert apply[0]["diff"]["after"]["provider_data"]["access_level"] == "private"
    assert apply[1]["diff"] == {"before": apply[1]["repository"], "after": {}}
    assert apply[4]["diff"] == {"before": {"acme/app:v2": apply[4]["tags"][0]}, "after": {}}
    assert sorted(apply[5]["diff"]["before"]) == ["acme/app/worker:pr-1", "acme/app/worker:pr-2"]

    root, worker = "/api/v4/projects/1001/registry/repositories/%d/tags" % ids[""], "/api/v4/projects/1001/registry/repositories/%d/tags" % ids["worker"]
    assert sorted(mutations(emu), key=str) == sorted([
        ("PUT", "/api/v4/projects/acme%2Fapp", {"container_registry_access_level": "private", "container_expiration_policy_attributes": POLICY}),
        ("DELETE", "/api/v4/projects/acme%%2Fapp/registry/repositories/%d" % ids["old"], None),
        ("DELETE", root + "/old1", None), ("DELETE", root + "/v1", None), ("DELETE", root + "/v1-alias", None),
        ("DELETE", root + "/v2", None),
        ("DELETE", worker + "?name_regex_delete=pr-.%2A&keep_n=1", None),
    ], key=str)
    after = snapshot(emu)["acme/app"]
    assert after["access_level"] == "private" and after["policy"] == POLICY
    assert after["repositories"]["acme/app"] == {"stable": DIGEST_D, "latest": before["acme/app"]["repositories"]["acme/app"]["latest"]}
    assert sorted(after["repositories"]["acme/app/worker"]) == ["latest", "main", "pr-3"]
    assert "acme/app/old" not in after["repositories"]
    assert DEFAULT_TOKEN not in apply.stdout + apply.stderr

    # -- again: nothing changes, nothing mutating is sent (the bulk delete has nothing left: no request, no hourly limit used)
    emu.log.clear()
    again = ok(run_tasks_in_process(tasks, module_defaults=defaults(emu), diff=True))
    assert [r["changed"] for r in again] == [False] * 6
    assert mutations(emu) == []
    assert snapshot(emu)["acme/app"] == after
    assert [a["action"] for a in again[0]["actions"]] == ["unchanged"]
    assert [a["action"] for r in again[1:5] for a in r["actions"]] == ["absent"] * 4
    assert again[5]["actions"] == [] and again[5]["bulk"][0]["status"] == "nothing_to_delete"
    assert again[5]["bulk"][0]["kept"] == {"latest": "latest", "main": "no_match", "pr-3": "keep_n"}


# ---------------------------------------------------------------------------------------------
# Bad input and what GitLab cannot do: clear errors before any request

def test_refusals_before_any_request(emu):
    oci = {"provider": "oci", "api_url": emu.url}
    cases = [
        (task("registry", name="acme/app", state="absent"), "Provider 'gitlab' cannot delete a registry"),
        (task("registry", name="group:acme", access_level="private"), "registry 'group:acme' is a GitLab group"),
        (task("registry", name="acme/app", cleanup_policy={"cadence": "2d"}), "value of cadence must be one of: 1d, 7d, 14d, 1month, 3month"),
        (task("registry", name="acme/app", storage_limit=5), "does not support the option(s) storage_limit for registry"),
        (task("registry_info"), "provider gitlab needs name"),
        (task("repository", registry="acme/app", name="acme/app"), "does not support repository state=present"),
        (task("repository", registry="acme/app", name="acme/web", state="absent"), "repository 'acme/web' is not in the project acme/app"),
        (task("tag", registry="acme/app", name=["acme/other:v1"], state="absent"), "repository 'acme/other' is not in the project"),
        (task("tag", registry="acme/app", name=["acme/app:v1"], digest=DIGEST_A), "does not support tag state=present"),
        (task("tag", registry="acme/app", repository=["acme/app"], bulk={"name_regex_delete": ".*", "older_than": "a week"},
              state="absent"), "bulk.older_than 'a week' is not a GitLab duration"),
        (task("tag", registry="acme/app", repository=["acme/app"], bulk={"name_regex_delete": ".*"}), "bulk only applies to state=absent"),
        (task("tag", registry="acme/app", repository=["acme/app"], name=["v1"], state="absent", wait=False), "wait only apply with bulk"),
        (task("repository_info", registry="group:acme", name=["other/app"]), "repository 'other/app' is not in the group group:acme"),
        # the GitLab-only options are refused on the other providers
        (task("tag", repository=["team/app"], bulk={"name_regex_delete": ".*"}, state="absent", **oci),
         "Provider 'oci' does not support the option(s) bulk for tag"),
        (task("repository", name="team/app", state="absent", wait=False, **oci), "Provider 'oci' does not support the option(s) wait for repository"),
    ]
    results = run_tasks_in_process([dict(t, ignore_errors=True) for t, _m in cases], module_defaults=defaults(emu))
    for result, (_item, message) in zip(results, cases):
        assert result.get("failed") is True, (message, result)
        assert message in result["msg"], (message, result["msg"])
    assert len(emu.log) == 0, [(r.method, r.target) for r in emu.log.records]


# ---------------------------------------------------------------------------------------------
# Faults: 429 with Retry-After, 5xx, resets; the run ends in the clean run's state

def fault_tasks():
    return [
        task("registry", name="acme/app", access_level="private", cleanup_policy={"enabled": True, "keep_n": 10}),
        task("tag", registry="acme/app", name=["acme/app:v2", "acme/app:old1"], state="absent"),
        task("artifact", registry="acme/app", repository="acme/app", digest=[DIGEST_A], state="absent"),
        task("repository", registry="acme/app", name="acme/app/old", state="absent"),
        task("tag", registry="acme/app", repository=["acme/app/worker"], bulk={"name_regex_delete": "pr-.*", "keep_n": 1}, state="absent"),
    ]


def test_faulted_run_ends_in_the_clean_state(emu):
    seed(emu)
    clean = ok(run_tasks_in_process(fault_tasks(), module_defaults=defaults(emu)))
    expected = snapshot(emu)

    emu.reset()
    ids = seed(emu)
    emu.log.clear()
    emu.rate_limit(times=2, retry_after="1", method="GET", path_prefix="/api/v4/projects/")
    emu.rate_limit(times=1, retry_after="0", method="DELETE")
    emu.server_error(times=1, status=503, method="PUT")
    emu.server_error(times=1, status=500, method="DELETE", path_prefix="/api/v4/projects/1001/registry/repositories/%d/tags/" % ids[""])
    emu.server_error(times=1, status=502, method="GET", path_prefix="/api/v4/registry/repositories/")
    emu.server_error(times=1, status=503, method="DELETE", path_prefix="/api/v4/projects/1001/registry/repositories/%d/tags" % ids["worker"])
    emu.reset_connection(times=1, method="GET", path_prefix="/api/v4/projects/1001/registry/repositories/%d/tags" % ids[""])
    faulted = ok(run_tasks(fault_tasks(), module_defaults=defaults(emu)))
    assert snapshot(emu) == expected
    assert [r["changed"] for r in faulted] == [r["changed"] for r in clean]
    assert [r["actions"] for r in faulted] == [r["actions"] for r in clean]
    statuses = [r.status for r in emu.log.records]
    assert statuses.count(429) == 3 and {500, 502, 503} <= set(statuses) and None in statuses
    warnings = [w for r in faulted for w in r.get("warnings", [])]
    assert [w for w in warnings if "answered 429" in w and "in 1.0s" in w]
    assert [w for w in warnings if "ConnectionError" in w]
    # the bulk delete was sent once after its 503 (GitLab did not act), never twice after an answer that took the hourly lease
    bulk = [r.status for r in emu.log.records if r.method == "DELETE" and r.path.endswith("/%d/tags" % ids["worker"])]
    assert bulk in ([503, 202], [429, 503, 202], [503, 429, 202])


# ---------------------------------------------------------------------------------------------
# A CI job: CI_JOB_TOKEN and CI_API_V4_URL from the environment; GITLAB_TOKEN; the hourly limit

def test_ci_job_token_and_the_hourly_limit(emu):
    ids = seed(emu)
    bulk = task("tag", registry="acme/app", repository=["acme/app/worker"], bulk={"name_regex_delete": "pr-1"}, state="absent")
    results = run_tasks([
        task("tag_info", registry="acme/app", repository=["acme/app"], name=["v2"]),                                    # 0
        task("tag", registry="acme/app", name=["acme/app:v2", "acme/app:old1"], state="absent"),                      # 1
        bulk,                                                                                                         # 2
        dict(bulk, ignore_errors=True, **{"regops.registry.tag": dict(bulk["regops.registry.tag"], bulk={"name_regex_delete": "pr-2"})}),  # 3
        dict(task("registry_info", name="acme/app"), environment={"GITLAB_TOKEN": DEFAULT_TOKEN}),                   # 4
    ], module_defaults={"group/regops.registry.all": {"provider": "gitlab"}},
        env={"CI_JOB_TOKEN": DEFAULT_JOB_TOKEN, "CI_API_V4_URL": emu.api_base}, printed_by_ansible=[DEFAULT_TOKEN])
    assert [r.get("failed", False) for r in results] == [False, False, False, True, False], results.output
    assert results[0]["tags"][0]["digest"] == DIGEST_B
    assert results[1]["changed"] is True and emu.tag_names(ids[""]) == ["latest", "stable", "v1", "v1-alias"]
    assert results[2]["changed"] is True and results[2]["bulk"][0]["deleted"] == ["pr-1"]
    # a job token cannot read the protection rules: the prediction says it ignored them
    assert results[2]["bulk"][0]["protection_note"].startswith("the tag protection rules could not be read (HTTP 401")
    assert "runs at most once an hour per repository" in results[3]["msg"] and "GitLab does not say when it can run again" in results[3]["msg"]
    assert results[3]["bulk"][0]["status"] == "refused" and "pr-2" in emu.tag_names(ids["worker"])
    assert results[4]["registries"][0]["name"] == "acme/app"
    project_reads = [r for r in emu.log.records if r.target == "/api/v4/projects/acme%2Fapp"]
    job_requests = [r for r in emu.log.records if r not in project_reads]
    # the job token on every registry request (the rules read answered 401), the user token on the project read
    assert all("JOB-TOKEN" in r.headers and "PRIVATE-TOKEN" not in r.headers for r in job_requests)
    assert [("PRIVATE-TOKEN" in r.headers, "JOB-TOKEN" in r.headers) for r in project_reads] == [(True, False)]
    assert DEFAULT_JOB_TOKEN not in results.stdout + results.stderr + json.dumps(list(results))
    # ansible-core itself prints a task's `environment:` at -vvv, in the EXEC line (docs/security.md): never hand a token
    # to a task that way; the module option, module_defaults or the controller's environment (AWX) are not printed
    assert "EXEC /bin/sh -c 'GITLAB_TOKEN=%s " % DEFAULT_TOKEN in results.stdout
