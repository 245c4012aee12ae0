"""End to end: ``regops.registry.artifact`` (provider oci) with real ansible-playbook against distribution 2.8."""

import pytest

from tests.support.ansible_runner import run_tasks
from tests.support.cycle import assert_cycle as _assert_cycle, cycle, module_calls, mutations, oci_task

MISSING = "sha256:" + "e" * 64


def artifact(registry, diff=False, **args):
    """A ``regops.registry.artifact`` task for ``registry``."""
    return oci_task("artifact", registry, diff=diff, **args)


def assert_cycle(results, calls, first, changed_again=False):
    """check, apply, again for artifacts."""
    return _assert_cycle(results, calls, first, result_key="artifacts", changed_again=changed_again)


@pytest.mark.compat
def test_artifact_absent_and_present(registry, seed, seeded):
    app, lib = seeded["app"], seeded["lib"]
    repo, lib_repo = app["repo"], lib["repo"]
    v1, legacy, v3 = app["digests"]["v1"], app["digests"]["legacy"], app["digests"]["v3"]
    lib1 = lib["tags"]["1.0"]
    app_before, lib_before = seed.tag_map(repo), seed.tag_map(lib_repo)
    tasks = cycle(artifact(registry, diff=True, repository=repo, digest=v1, state="absent"))
    tasks += cycle(artifact(registry, digest=[f"{repo}@{legacy}", f"{lib_repo}@{lib1}", f"{repo}@{MISSING}"], state="absent"))
    tasks += [
        artifact(registry, repository=repo, digest=MISSING, state="absent"),
        artifact(registry, repository=repo, digest=[v3]),
        dict(artifact(registry, repository=repo, digest=[v3, MISSING]), ignore_errors=True),
    ]
    start = registry.mark()
    results = run_tasks(tasks)
    assert results.rc == 0, results.output
    calls = module_calls(registry, start)
    assert len(calls) == len(tasks)

    check, apply, again = assert_cycle(results, calls, 0)
    ref = f"{repo}@{v1}"
    assert apply["actions"] == [{"ref": ref, "action": "deleted"}]
    [gone] = apply["artifacts"]
    assert gone["digest"] == v1 and gone["repository"] == repo
    assert gone["tags"] == ["latest", "v1", "v1.0"]  # the tags that went with it
    assert check["diff"]["before"][ref]["tags"] == ["latest", "v1", "v1.0"] and check["diff"]["after"] == {}
    assert apply["diff"] == check["diff"]
    assert again["actions"] == [{"ref": ref, "action": "absent"}] and again["artifacts"] == []
    deletes = [e for e in calls[1] if e.method == "DELETE"]
    assert [(e.path, e.status) for e in deletes] == [(f"/v2/{repo}/manifests/{v1}", 202)]

    _check, apply, again = assert_cycle(results, calls, 3)
    assert apply["actions"] == [{"ref": f"{repo}@{legacy}", "action": "deleted"}, {"ref": f"{lib_repo}@{lib1}", "action": "deleted"},
                                {"ref": f"{repo}@{MISSING}", "action": "absent"}]
    assert {(a["repository"], a["digest"]): a["tags"] for a in apply["artifacts"]} == {(repo, legacy): ["legacy"], (lib_repo, lib1): ["1.0"]}
    assert {a["action"] for a in again["actions"]} == {"absent"}

    missing, present, partly = results[6:9]
    assert missing["changed"] is False and missing["actions"] == [{"ref": f"{repo}@{MISSING}", "action": "absent"}]
    assert present["changed"] is False and not present.get("failed"), present
    assert present["actions"] == [{"ref": f"{repo}@{v3}", "action": "unchanged"}]
    assert present["artifacts"][0]["tags"] == ["v3"]
    assert partly["failed"] is True and partly["changed"] is False, partly
    assert f"{repo}@{MISSING}" in partly["msg"] and "does not exist" in partly["msg"], partly["msg"]
    assert partly["actions"][0]["action"] == "unchanged" and partly["actions"][1]["action"] == "failed"
    assert all(mutations(c) == [] for c in calls[6:])

    assert seed.tag_map(repo) == {k: v for k, v in app_before.items() if k not in ("v1", "v1.0", "latest", "legacy")}
    assert seed.tag_map(lib_repo) == {k: v for k, v in lib_before.items() if k != "1.0"}
    for gone_repo, digest in ((repo, v1), (repo, legacy), (lib_repo, lib1)):
        assert not seed.manifest_exists(gone_repo, digest)


def test_artifact_absent_expected_tags_guard(registry, seed, seeded):
    app = seeded["app"]
    repo, v2, v3 = app["repo"], app["digests"]["v2"], app["digests"]["v3"]
    seed.tag(repo, "hotfix", v3)  # appeared after the plan was made
    before = seed.tag_map(repo)
    task = artifact(registry, repository=repo, digest=[v2, v3], state="absent",
                    expected_tags={v2: ["v2"], f"{repo}@{v3}": ["v3"]})
    start = registry.mark()
    results = run_tasks(cycle(task))
    assert results.rc == 0, results.output
    calls = module_calls(registry, start)
    _check, apply, again = assert_cycle(results, calls, 0)
    assert apply["actions"][0] == {"ref": f"{repo}@{v2}", "action": "deleted"}
    skipped = apply["actions"][1]
    assert skipped["ref"] == f"{repo}@{v3}" and skipped["action"] == "skipped"
    assert "hotfix" in skipped["msg"] and "not deleted" in skipped["msg"], skipped
    assert again["actions"] == [{"ref": f"{repo}@{v2}", "action": "absent"}, skipped]
    assert [e.path for e in mutations(calls[1])] == [f"/v2/{repo}/manifests/{v2}"]
    assert seed.tag_map(repo) == {k: v for k, v in before.items() if k != "v2"}
    assert seed.tag_map(repo)["hotfix"] == v3


def test_a_platform_image_of_a_surviving_index_is_not_deleted(registry, seed, seeded):
    """Deleting a child alone would break the multi-arch image: skipped. With its index in the same call, both go, index first."""
    multi = seeded["multi"]
    repo, index, amd64, arm64 = multi["repo"], multi["index"], multi["children"]["linux/amd64"], multi["children"]["linux/arm64"]
    alone = artifact(registry, repository=repo, digest=[amd64], state="absent")
    together = artifact(registry, repository=repo, digest=[amd64, index, arm64], state="absent")
    start = registry.mark()
    results = run_tasks([dict(alone, check_mode=True), alone] + cycle(together))
    assert results.rc == 0, results.output
    calls = module_calls(registry, start)
    for result in results[:2]:
        assert result["changed"] is False, result
        assert result["actions"][0]["action"] == "skipped" and index in result["actions"][0]["msg"], result
    assert mutations(calls[0]) == [] and mutations(calls[1]) == []
    _check, apply, _again = assert_cycle(results, calls, 2)
    assert [a["action"] for a in apply["actions"]] == ["deleted"] * 3
    deleted = [e.path.rsplit("/", 1)[1] for e in mutations(calls[3]) if e.method == "DELETE"]
    assert deleted[0] == index and sorted(deleted[1:]) == sorted([amd64, arm64])
    assert not any(seed.manifest_exists(repo, d) for d in (index, amd64, arm64))


def test_invalid_input_fails_before_any_request(registry, prefix):
    repo = prefix + "/app"
    bad = {"ignore_errors": True}
    tasks = [
        dict(artifact(registry, repository=repo, digest="sha256:abc", state="absent"), **bad),
        dict(artifact(registry, repository=repo, digest="sha256:" + "G" * 64, state="absent"), **bad),
        dict(artifact(registry, repository="Bad/Name", digest=MISSING, state="absent"), **bad),
        dict({"regops.registry.tag": dict(registry.oci_args(), repository=repo, name="x", digest="latest")}, **bad),
        dict({"regops.registry.tag": dict(registry.oci_args(), repository=repo, name="-x", state="absent")}, **bad),
        dict({"regops.registry.artifact_info": dict(registry.oci_args(), digest=[f"{repo}@nope"])}, **bad),
    ]
    start = registry.mark()
    results = run_tasks(tasks)
    assert registry.requests_since(start) == []
    for result in results:
        assert result.get("failed") is True and result["changed"] is False, result
    assert "digest 'sha256:abc' is not valid" in results[0]["msg"]
    assert "is not valid: expected sha256:" in results[1]["msg"]
    assert "repository name 'Bad/Name' is not valid" in results[2]["msg"]
    assert "digest 'latest' is not valid" in results[3]["msg"]
    assert "tag '-x' is not valid" in results[4]["msg"]
    assert "digest 'nope' is not valid" in results[5]["msg"]
