"""End to end: the package modules with ``provider: github`` against the GitHub emulator.

Each ``run_tasks`` call is one ansible-playbook run; tasks are batched so the file stays fast. Runs whose subject is the
module, not ansible-core (check-mode and re-run phases, bad input, clean runs beside faulted ones), go through
``run_tasks_in_process``; applies (at ``-vvv``), faulted runs and the token from the environment stay ansible-playbook
runs. The emulator's clock is
frozen (``CLOCK``), so GitHub's 30-day restore window is exact. The tag removal goes over the emulator's ghcr.io front,
backed by a real registry (``ghcr_backend``), with images pushed by the tests' own OCI client.
"""

# pylint: disable=redefined-outer-name,too-many-locals,too-many-statements
import json

import pytest

from tests.emulators.github import DEFAULT_INSTALLATION_TOKEN, DEFAULT_TOKEN, GitHubEmulator, ghcr_backend
from tests.support.ansible_runner import run_tasks
from tests.support.module_runner import run_tasks_in_process
from tests.support.seed import SeedClient
from tests.support.tasks import checked, ok, task

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
VERBOSE = {"ANSIBLE_VERBOSITY": "3"}
CLOCK = "2026-05-30T12:00:00Z"
D1, D2, D3, D4, D5, D6, D7, D8 = ("sha256:" + c * 64 for c in "12345678")
SETTINGS = {"default_token_kind": "pat", "secondary_rate_limit": None, "error_message_shape": "string", "last_version_rule": "last",
            "restore_window_days": 30, "rate_limit": 5000}


@pytest.fixture(scope="module")
def emulator():
    """One GitHub emulator for the whole file."""
    with GitHubEmulator(clock=CLOCK) as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    """The emulator with only the organization acme and the user octocat, and its default settings."""
    emulator.configure(clock=CLOCK, **SETTINGS)
    emulator.reset()
    emulator.log.clear()
    yield emulator
    emulator.reset()


@pytest.fixture(scope="module")
def ghcr(emulator):
    """The emulator's ghcr.io front on a real registry (distribution, no auth of its own)."""
    backend = ghcr_backend(emulator)
    yield backend
    backend.stop()


def defaults(emu, **extra):
    """``module_defaults`` for the collection's action group."""
    options = {"provider": "github", "api_url": emu.url, "api_token": DEFAULT_TOKEN, "oci_url": emu.url}
    options.update(extra)
    return {"group/regops.registry.all": options}


def mutations(emu):
    """``(method, path?query)`` of every mutating request."""
    return [(r.method, r.target) for r in emu.log.records if r.method in MUTATING]


def snapshot(emu, login="acme"):
    """What a run changes: per package (deleted ones marked) ``{digest: (tags, deleted)}``."""
    owner = next(o for o in emu.dump_state()["orgs"] if o["login"] == login)
    return {("%s (deleted)" % p["name"]) if p["deleted_at"] else p["name"]:
            {v["name"]: (sorted(v["metadata"]["container"]["tags"]), bool(v.get("deleted_at"))) for v in p["versions"]}
            for p in owner["packages"]}


def seed(emu):
    """acme: ``app`` (D1 v1, D2 v2+latest, D3 untagged, D4 deleted five days ago), ``old`` (D5), ``team/web`` (D6 main, D7
    stable: the last versions, deleted with the package), ``gone`` (a package deleted ten days ago). Returns version ids."""
    emu.add_package("org", "acme", "app", repository="app", versions=[
        {"name": D1, "tags": ["v1"], "created_at": "2026-05-01T00:00:00Z"},
        {"name": D2, "tags": ["v2", "latest"], "created_at": "2026-05-02T00:00:00Z"},
        {"name": D3, "created_at": "2026-05-03T00:00:00Z"},
        {"name": D4, "tags": ["old"], "created_at": "2026-04-01T00:00:00Z", "deleted_at": "2026-05-25T00:00:00Z"}])
    emu.add_package("org", "acme", "old", versions=[{"name": D5, "tags": ["x1"]}])
    emu.add_package("org", "acme", "team/web", visibility="public", versions=[{"name": D6, "tags": ["main"]}, {"name": D7, "tags": ["stable"]}])
    emu.add_package("org", "acme", "gone", versions=[D8], deleted_at="2026-05-20T00:00:00Z")
    emu.seed({"orgs": [{"login": "acme", "storage_records": [
        {"name": "app", "digest": D1, "registry_url": "https://ghcr.io", "repository": "acme/app", "status": "active"}]}]})
    active = emu.package_version_ids("org", "acme", "app")
    return {D1: active[0], D3: active[2], D4: emu.package_version_ids("org", "acme", "app", state="deleted")[0]}


def info_tasks():
    return [
        task("repository_info", registry="acme"),                                                        # 0
        task("repository_info", registry="acme", name=["team/web", "nope"]),                             # 1
        task("artifact_info", registry="acme", repository=["app"], deleted=True),                       # 2
        task("tag_info", registry="acme", repository=["app", "team/web"]),                              # 3
        task("artifact", registry="acme", repository="app", digest=[D1]),                               # 4 present: it exists
        task("artifact_info", registry="acme", repository=["app"], digest=[D1, D2], records=True),       # 5
        task("artifact_info", registry="acme", digest=[D1, D8], records=True),                          # 6 records only
    ]


def lifecycle_tasks(ids):
    """One task per module and state, in diff mode."""
    return [
        task("artifact", registry="acme", repository="app", digest=[D3], expected_tags={D3: []}, state="absent", diff=True),   # 0
        task("artifact", registry="acme", repository="app", version_id=[ids[D1]], state="absent", diff=True),                    # 1
        task("artifact", registry="acme", repository="app", digest=[D4], state="present", diff=True),                            # 2 restore
        task("repository", registry="acme", name="old", state="absent", diff=True),                                              # 3
        task("repository", registry="acme", name="gone", state="present", diff=True),                                           # 4 restore
        task("artifact", registry="acme", digest=["team/web@" + D6, "team/web@" + D7], on_last_version="delete_package",
             state="absent", diff=True),                                                                                          # 5
    ]


@pytest.mark.compat
def test_every_package_module_check_apply_again_diff(emu):
    ids = seed(emu)
    before = snapshot(emu)
    tasks = lifecycle_tasks(ids)

    # -- check mode: every change predicted, nothing mutating sent (ansible-playbook: a warning is asserted on, and
    # run_tasks_in_process registers warnings as the module encoded them, not as the strings ansible-playbook registers)
    check_run = ok(run_tasks(info_tasks() + [checked(t) for t in tasks], module_defaults=defaults(emu)))
    info, check = check_run[:7], check_run[7:]
    assert mutations(emu) == []
    assert snapshot(emu) == before
    assert [r["changed"] for r in check] == [True] * 6
    assert [(r["name"], r["artifact_count"], r["location"]) for r in info[0]["repositories"]] == [
        ("app", 3, emu.url.split("://")[1] + "/acme/app"), ("old", 1, emu.url.split("://")[1] + "/acme/old"),
        ("team/web", 2, emu.url.split("://")[1] + "/acme/team/web")]
    assert info[0]["repositories"][0]["provider_data"]["repository"] == "acme/app"
    assert [r["name"] for r in info[1]["repositories"]] == ["team/web"] and info[1]["repositories"][0]["provider_data"]["visibility"] == "public"
    assert [(a["digest"], a["tags"], a["status"]) for a in info[2]["artifacts"]] == [
        (D1, ["v1"], "active"), (D2, ["latest", "v2"], "active"), (D3, [], "active"), (D4, ["old"], "deleted")]
    assert info[2]["artifacts"][0]["pushed_at"] == info[2]["artifacts"][0]["created_at"] == "2026-05-01T00:00:00Z"
    assert info[2]["artifacts"][3]["provider_data"]["deleted_at"] == "2026-05-25T00:00:00Z"
    assert [(t["repository"], t["name"], t["digest"]) for t in info[3]["tags"]] == [
        ("app", "latest", D2), ("app", "v1", D1), ("app", "v2", D2), ("team/web", "main", D6), ("team/web", "stable", D7)]
    assert info[4]["changed"] is False and info[4]["actions"] == [{"ref": "app@" + D1, "action": "unchanged"}]
    assert [(a["digest"], [r["name"] for r in a["provider_data"]["storage_records"]], a["provider_data"]["deployment_records"])
            for a in info[5]["artifacts"]] == [(D1, ["app"], []), (D2, [], [])]
    assert [(a["repository"], a["digest"], len(a["provider_data"]["storage_records"])) for a in info[6]["artifacts"]] == [(None, D1, 1), (None, D8, 0)]
    assert check[1]["actions"] == [{"ref": "app@" + D1, "action": "deleted"}]
    assert check[2]["actions"] == [{"ref": "app@" + D4, "action": "created"}] and check[2]["artifacts"][0]["status"] == "active"
    assert check[4]["actions"] == [{"ref": "gone", "action": "created"}]
    assert any("cannot say whether package gone can be restored" in w for w in check[4]["warnings"])
    assert check[5]["deleted_packages"] == ["team/web"]

    # -- apply, ansible-playbook at -vvv in diff mode (the token in no output, checked below)
    emu.log.clear()
    apply = ok(run_tasks(tasks, module_defaults=defaults(emu), env=VERBOSE, diff=True))
    assert "EXEC" in apply.stdout
    assert [r["changed"] for r in apply] == [True] * 6
    for predicted, done in zip(check, apply):
        assert predicted["actions"] == done["actions"]
    for index in (0, 1, 5):
        assert check[index]["artifacts"] == apply[index]["artifacts"], index
    assert apply[1]["artifacts"][0]["tags"] == ["v1"]  # the tags that went with the version
    assert apply[2]["artifacts"][0]["status"] == "active" and apply[2]["artifacts"][0]["provider_data"]["deleted_at"] is None
    assert apply[4]["repository"]["name"] == "gone" and apply[4]["repository"]["provider_data"]["restored"] is True
    assert apply[5]["deleted_packages"] == ["team/web"] and any("package team/web was deleted instead" in w for w in apply[5]["warnings"])
    assert apply[0]["diff"] == {"before": {"app@" + D3: apply[0]["artifacts"][0]}, "after": {}}
    assert apply[3]["diff"] == {"before": apply[3]["repository"], "after": {}}
    assert apply[4]["diff"]["before"] == {} and apply[4]["diff"]["after"]["name"] == "gone"
    assert sorted(mutations(emu)) == sorted([
        ("DELETE", "/orgs/acme/packages/container/app/versions/%d" % ids[D3]),
        ("DELETE", "/orgs/acme/packages/container/app/versions/%d" % ids[D1]),
        ("POST", "/orgs/acme/packages/container/app/versions/%d/restore" % ids[D4]),
        ("DELETE", "/orgs/acme/packages/container/old"),
        ("POST", "/orgs/acme/packages/container/gone/restore"),
        ("DELETE", "/orgs/acme/packages/container/team%2Fweb"),
    ])
    after = snapshot(emu)
    assert after["app"] == {D1: (["v1"], True), D2: (["latest", "v2"], False), D3: ([], True), D4: (["old"], False)}
    assert "old (deleted)" in after and "team/web (deleted)" in after and "gone" in after
    assert DEFAULT_TOKEN not in apply.stdout + apply.stderr

    # -- again: nothing changes, nothing mutating is sent
    emu.log.clear()
    again = ok(run_tasks_in_process(tasks, module_defaults=defaults(emu), diff=True))
    assert [r["changed"] for r in again] == [False] * 6
    assert mutations(emu) == []
    assert snapshot(emu) == after
    assert [a["action"] for r in again for a in r["actions"]] == ["absent", "absent", "unchanged", "absent", "unchanged", "absent", "absent"]


def test_last_version_fails_unless_the_package_may_go(emu):
    emu.add_package("org", "acme", "solo", versions=[{"name": D1, "tags": ["v1"]}, {"name": D2}])
    emu.add_package("org", "acme", "other", versions=[D3, D4])
    both = task("artifact", registry="acme", digest=["solo@" + D1, "solo@" + D2, "other@" + D3], state="absent", ignore=True)
    check = run_tasks_in_process([checked(both)], module_defaults=defaults(emu))[0]
    run = run_tasks([both], module_defaults=defaults(emu), env=VERBOSE, diff=True)  # ansible-playbook at -vvv
    real = run[0]
    assert "EXEC" in run.stdout and DEFAULT_TOKEN not in run.stdout + run.stderr
    # check mode fails the same digests with the same messages as the real run, and predicts the rest
    assert check["failed"] is True and check["actions"] == real["actions"] and check["msg"] == real["msg"]
    assert real["failed"] is True
    assert [(a["ref"], a["action"]) for a in real["actions"]] == [("solo@" + D1, "failed"), ("solo@" + D2, "failed"), ("other@" + D3, "deleted")]
    assert "Set on_last_version: delete_package to delete the package instead" in real["actions"][0]["msg"]
    assert real["msg"].startswith("2 of 3 artifact(s) failed: solo@" + D1)
    assert mutations(emu) == [("DELETE", "/orgs/acme/packages/container/other/versions/%d" % emu.package_version_ids(
        "org", "acme", "other", state="deleted")[0])]
    assert len(emu.package_version_ids("org", "acme", "solo")) == 2


# ---------------------------------------------------------------------------------------------
# Bad input and what GitHub cannot do: clear errors before any request

def test_refusals_before_any_request(emu):
    oci = {"provider": "oci", "api_url": emu.url}
    cases = [
        (task("artifact", registry="acme", repository="app", digest=["sha512:" + "a" * 128], state="absent"),
         "ghcr.io names container versions by their sha256 digest only"),
        (task("artifact", registry="acme/app", repository="app", digest=[D1], state="absent"), "registry 'acme/app' is not a GitHub owner"),
        (task("artifact", registry="acme", repository="app", digest=[D1], state="absent"), None),  # placeholder: replaced below
        (task("artifact", registry="acme", version_id=[5], state="absent"), "version_id needs repository"),
        (task("artifact", registry="acme", repository="app", digest=[D1], on_last_version="delete_package"),
         "on_last_version only applies to state=absent"),
        (task("artifact", registry="acme", repository="app", state="absent"), "one of the following is required: digest, version_id"),
        (task("artifact_info", registry="user:octocat", records=True), "GitHub keeps artifact metadata (storage and deployment records) "
                                                                       "for organizations only"),
        (task("repository_info"), "provider github needs registry"),
        (task("repository", registry="acme", name="app", description="x"), "does not support the option(s) description for repository"),
        (task("tag", registry="acme", repository=["app"], name=["v1"], digest=D1), "does not support tag state=present"),
        (task("tag", registry="acme", repository=["app"], name=["v1"], expected_digests={"v1": "sha512:" + "b" * 128}, state="absent"),
         "expected_digests[v1] 'sha512:"),
        # the GitHub-only options are refused on the other providers
        (task("artifact", repository="team/app", version_id=[5], state="absent", **oci),
         "Provider 'oci' does not support the option(s) version_id for artifact"),
        (task("artifact", repository="team/app", digest=[D1], on_last_version="delete_package", state="absent", **oci),
         "Provider 'oci' does not support the option(s) on_last_version for artifact"),
        (task("artifact_info", repository=["team/app"], deleted=True, **oci), "Provider 'oci' does not support the option(s) deleted for artifact"),
        (task("artifact_info", repository=["team/app"], records=True, **oci), "Provider 'oci' does not support the option(s) records for artifact"),
    ]
    cases[2] = (task("artifact", registry="acme", repository="app", digest=[D1], state="absent", api_token=""),
                "provider 'github' needs api_token (or GITHUB_TOKEN in the environment)")
    results = run_tasks_in_process([dict(t, ignore_errors=True) for t, _m in cases], module_defaults=defaults(emu),
                                   env={"GITHUB_TOKEN": "", "GH_TOKEN": ""})
    for result, (_item, message) in zip(results, cases):
        assert result.get("failed") is True, (message, result)
        assert message in result["msg"], (message, result["msg"])
    assert len(emu.log) == 0, [(r.method, r.target) for r in emu.log.records]


def test_installation_token_from_the_environment_is_explained(emu):
    emu.add_package("org", "acme", "app", versions=[D1])
    results = run_tasks([task("repository_info", registry="acme", ignore=True)],
                        module_defaults={"group/regops.registry.all": {"provider": "github", "api_url": emu.url}},
                        env={"GITHUB_TOKEN": DEFAULT_INSTALLATION_TOKEN})
    assert results[0]["failed"] is True
    assert "GitHub App installation tokens cannot manage packages; use a classic personal access token with read:packages" in results[0]["msg"]
    assert [r.headers["Authorization"] for r in emu.log.records] == ["Bearer ***"]
    assert DEFAULT_INSTALLATION_TOKEN not in results.stdout + results.stderr + json.dumps(list(results))


# ---------------------------------------------------------------------------------------------
# Faults: 429 with Retry-After, GitHub's secondary limit, 5xx, resets; the run ends in the clean run's state

def fault_tasks(ids):
    return [
        task("artifact_info", registry="acme", deleted=True),
        task("artifact", registry="acme", repository="app", digest=[D3], state="absent"),
        task("artifact", registry="acme", repository="app", version_id=[ids[D1]], state="absent"),
        task("artifact", registry="acme", repository="app", digest=[D4], state="present"),
        task("repository", registry="acme", name="old", state="absent"),
        task("repository", registry="acme", name="gone", state="present"),
    ]


def test_faulted_run_ends_in_the_clean_state(emu):
    ids = seed(emu)
    clean = ok(run_tasks_in_process(fault_tasks(ids), module_defaults=defaults(emu)))
    expected = snapshot(emu)

    emu.reset()
    ids = seed(emu)
    emu.log.clear()
    emu.rate_limit(times=2, retry_after="1", method="GET", path_prefix="/orgs/acme/packages/container/app/versions")
    emu.secondary_rate_limit(times=1, status=403, retry_after=1)
    emu.server_error(times=1, status=502, method="DELETE", path_prefix="/orgs/acme/packages/container/app/versions/")
    emu.server_error(times=1, status=503, method="POST", path_prefix="/orgs/acme/packages/container/app/versions/")
    emu.server_error(times=1, status=500, method="POST", path_prefix="/orgs/acme/packages/container/gone/restore")
    emu.reset_connection(times=1, method="DELETE", path_prefix="/orgs/acme/packages/container/old")
    emu.reset_connection(times=1, method="GET", path_prefix="/orgs/acme/packages/container/old")
    faulted = ok(run_tasks(fault_tasks(ids), module_defaults=defaults(emu)))
    assert snapshot(emu) == expected
    assert [r["changed"] for r in faulted] == [r["changed"] for r in clean]
    assert [r["actions"] for r in faulted[1:]] == [r["actions"] for r in clean[1:]]
    assert faulted[0]["artifacts"] == clean[0]["artifacts"]
    statuses = [r.status for r in emu.log.records]
    assert statuses.count(429) == 2 and statuses.count(403) == 1 and {500, 502, 503} <= set(statuses) and None in statuses
    warnings = [w for r in faulted for w in r.get("warnings", [])]
    assert [w for w in warnings if "answered 429" in w and "in 1.0s" in w]
    assert [w for w in warnings if "answered 403 (rate limit)" in w]
    assert [w for w in warnings if "ConnectionError" in w]


# ---------------------------------------------------------------------------------------------
# Tag removal over ghcr.io: siblings kept, no DELETE over /v2/, the throwaway version deleted through the REST API

def test_tag_absent_over_ghcr(emu, ghcr):
    assert emu.registry_backend == ghcr.url
    pusher = SeedClient(emu.url, "octocat", DEFAULT_TOKEN)
    first = pusher.push_image("acme/app", tags=["v1", "v1-alias"])
    second = pusher.push_image("acme/app", tags=["v2"], created="2026-02-01T00:00:00Z")
    emu.configure(last_version_rule="last_tagged")
    solo = pusher.push_image("acme/solo", tags=["only"], created="2026-03-01T00:00:00Z")
    emu.log.clear()
    remove_v1 = task("tag", registry="acme", repository=["app"], name=["v1"], expected_digests={"v1": first}, state="absent", diff=True)
    # the listing and the check in-process; the removal through ansible-playbook at -vvv with --diff; the rest in-process
    runs = [
        run_tasks_in_process([
            task("tag_info", registry="acme", repository=["app"]),                                                      # 0
            checked(remove_v1),                                                                                         # 1
        ], module_defaults=defaults(emu)),
        run_tasks([remove_v1], module_defaults=defaults(emu), env=VERBOSE, diff=True),                                   # 2
        run_tasks_in_process([
            remove_v1,                                                                                                  # 3 again
            task("tag", registry="acme", name=["app:v2"], expected_digests={"app:v2": first}, state="absent"),          # 4 moved
            task("tag", registry="acme", repository=["solo"], name=["only"], state="absent", ignore=True),              # 5 last tagged
            task("tag_info", registry="acme", repository=["app", "solo"]),                                              # 6
        ], module_defaults=defaults(emu)),
    ]
    results = [result for run in runs for result in run]
    assert [r.get("failed", False) for r in results] == [False] * 5 + [True, False], [run.output for run in runs]
    assert [run.rc for run in runs] == [0, 0, 0] and "EXEC" in runs[1].stdout
    assert [(t["name"], t["digest"]) for t in results[0]["tags"]] == [("v1", first), ("v1-alias", first), ("v2", second)]
    assert results[1]["changed"] is True and results[1]["actions"] == [{"ref": "app:v1", "action": "deleted"}]
    assert results[2]["changed"] is True and results[2]["actions"] == results[1]["actions"]
    assert results[2]["diff"] == {"before": {"app:v1": results[2]["tags"][0]}, "after": {}}
    assert results[3]["changed"] is False and results[3]["actions"] == [{"ref": "app:v1", "action": "absent"}]
    assert results[4]["changed"] is False and results[4]["actions"][0]["action"] == "skipped" and results[4]["actions"][0]["reason"] == "moved"
    # GitHub refuses to delete the throwaway (it carries the last tags of solo): the tag is put back
    assert results[5]["actions"][0]["action"] == "restored"
    assert "GitHub refused to delete the throwaway version" in results[5]["actions"][0]["msg"]
    assert "points at %s as before" % solo in results[5]["actions"][0]["msg"]
    assert [(t["repository"], t["name"], t["digest"]) for t in results[6]["tags"]] == [
        ("app", "v1-alias", first), ("app", "v2", second), ("solo", "only", solo)]
    # the registry agrees, and nothing was deleted over /v2/
    assert pusher.tag_map("acme/app") == {"v1-alias": first, "v2": second}
    assert pusher.tag_map("acme/solo") == {"only": solo}
    assert not [r for r in emu.log.records if r.method == "DELETE" and r.path.startswith("/v2/")]
    rest_deletes = [r.path for r in emu.log.records if r.method == "DELETE"]
    assert len(rest_deletes) == 2 and all(p.startswith("/orgs/acme/packages/container/") for p in rest_deletes)
    versions = {a["digest"]: (a["tags"], a["status"]) for a in run_tasks_in_process(
        [task("artifact_info", registry="acme", repository=["app"], deleted=True)], module_defaults=defaults(emu))[0]["artifacts"]}
    assert versions[first] == (["v1-alias"], "active") and versions[second] == (["v2"], "active")
    assert [tags for d, (tags, status) in versions.items() if status == "deleted"] == [["v1"]]  # the throwaway, deleted with v1
    assert not [run for run in runs if DEFAULT_TOKEN in run.stdout + run.stderr]
