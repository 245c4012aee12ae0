"""End to end: ``regops.registry.tag`` (provider oci) with real ansible-playbook against distribution 2.8."""

import pytest
import json

from tests.support.ansible_runner import run_tasks
from tests.support.cycle import assert_cycle as _assert_cycle, cycle, module_calls, mutations, oci_task


def tag(registry, diff=False, **args):
    """A ``regops.registry.tag`` task for ``registry``."""
    return oci_task("tag", registry, diff=diff, **args)


def assert_cycle(results, calls, first=0):
    """check, apply, again for tags."""
    return _assert_cycle(results, calls, first, result_key="tags")


def assert_blobs_in(seed, repo, digest):
    """Manifest ``digest`` is fetchable in ``repo`` and so are its config and layers."""
    body = json.loads(seed.get_manifest(repo, digest)[1])
    for blob in [body["config"]] + body["layers"]:
        assert seed.blob_exists(repo, blob["digest"]), (repo, digest, blob)


@pytest.mark.compat
def test_tag_absent_keeps_shared_digest(registry, seed, seeded):
    app = seeded["app"]
    repo, v1 = app["repo"], app["digests"]["v1"]
    before = seed.tag_map(repo)
    task = tag(registry, diff=True, repository=repo, name="v1", state="absent")

    start = registry.mark()
    check = run_tasks([dict(task, check_mode=True)])
    assert check.rc == 0, check.output
    assert registry.mutations_since(start) == []
    assert seed.tag_map(repo) == before
    check = check[0]
    assert check["changed"] is True
    assert check["actions"] == [{"ref": f"{repo}:v1", "action": "deleted"}]
    assert check["diff"]["before"] == {f"{repo}:v1": {"repository": repo, "name": "v1", "digest": v1,
                                                      "pushed_at": None, "pulled_at": None}}
    assert check["diff"]["after"] == {}

    start = registry.mark()
    results = run_tasks([task, task])
    assert results.rc == 0, results.output
    apply, again = results
    assert apply["changed"] is True
    assert apply["actions"] == check["actions"] and apply["tags"] == check["tags"] and apply["diff"] == check["diff"]
    assert again["changed"] is False
    assert again["actions"] == [{"ref": f"{repo}:v1", "action": "absent"}] and again["tags"] == []
    calls = module_calls(registry, start)
    assert len(calls) == 2 and mutations(calls[1]) == []
    deleted = [e.path for e in calls[0] if e.method == "DELETE" and e.status == 202]
    assert len(deleted) == 1 and v1 not in deleted[0], deleted  # only the throwaway manifest went

    expected = {k: v for k, v in before.items() if k != "v1"}
    assert seed.tag_map(repo) == expected
    assert expected["latest"] == expected["v1.0"] == v1
    assert seed.manifest_exists(repo, v1)


def test_tag_absent_across_repositories(registry, seed, seeded):
    app, lib = seeded["app"]["repo"], seeded["lib"]["repo"]
    before = {app: seed.tag_map(app), lib: seed.tag_map(lib)}
    tasks = cycle(tag(registry, name=[f"{app}:v2", f"{lib}:1.0", f"{app}:nope"], state="absent"))
    tasks.append(tag(registry, name=[f"{app}:nope", f"{lib}:nope"], state="absent"))

    start = registry.mark()
    results = run_tasks(tasks)
    assert results.rc == 0, results.output
    calls = module_calls(registry, start)
    assert len(calls) == 4
    _check, apply, again = assert_cycle(results, calls)
    assert apply["actions"] == [{"ref": f"{app}:v2", "action": "deleted"}, {"ref": f"{lib}:1.0", "action": "deleted"},
                                {"ref": f"{app}:nope", "action": "absent"}]
    assert sorted((t["repository"], t["name"], t["digest"]) for t in apply["tags"]) == [
        (app, "v2", before[app]["v2"]), (lib, "1.0", before[lib]["1.0"])]
    assert {a["action"] for a in again["actions"]} == {"absent"}

    missing = results[3]
    assert missing["changed"] is False and not missing.get("failed"), missing
    assert [a["action"] for a in missing["actions"]] == ["absent", "absent"]
    assert mutations(calls[3]) == []

    assert seed.tag_map(app) == {k: v for k, v in before[app].items() if k != "v2"}
    assert seed.tag_map(lib) == {k: v for k, v in before[lib].items() if k != "1.0"}
    assert seed.manifest_exists(app, before[app]["v2"]) and seed.manifest_exists(lib, before[lib]["1.0"])


def test_tag_absent_bulk_is_one_call(registry, seed, prefix):
    repo = prefix + "/bulk"
    doomed = [f"pr-{i:03d}" for i in range(200)]
    digest = seed.push_image(repo, doomed + ["keep"])
    other = seed.push_image(repo, ["other"])

    start = registry.mark()
    results = run_tasks(cycle(tag(registry, repository=repo, name=doomed, state="absent")))
    assert results.rc == 0, results.output
    calls = module_calls(registry, start)
    assert len(calls) == 3
    check, apply, _again = assert_cycle(results, calls)
    assert len(check["actions"]) == 200 and {a["action"] for a in apply["actions"]} == {"deleted"}
    assert len(apply["tags"]) == 200 and {t["digest"] for t in apply["tags"]} == {digest}

    run = calls[1]
    probes = [e for e in run if e.path == "/v2/"]
    assert [e.status for e in probes] == [401, 200]  # one module run, one connection probe
    manifest_puts = [e for e in run if e.method == "PUT" and "/manifests/" in e.path]
    assert sorted(e.path.rsplit("/", 1)[1] for e in manifest_puts) == doomed  # each tag repointed once
    assert len([e for e in run if e.method == "PUT"]) <= 200 + 3
    assert len([e for e in run if e.method == "POST"]) <= 3
    deletes = [e for e in run if e.method == "DELETE"]
    assert len(deletes) <= 3 and not any(digest in e.path or other in e.path for e in deletes), deletes

    assert seed.tag_map(repo) == {"keep": digest, "other": other}


@pytest.mark.compat
def test_tag_present(registry, seed, seeded, prefix):
    app, multi, lib = seeded["app"], seeded["multi"], seeded["lib"]
    repo = app["repo"]
    d1, d2, d3 = app["digests"]["v1"], app["digests"]["v2"], app["digests"]["v3"]
    release = prefix + "/release"
    app_before, lib_before = seed.tag_map(repo), seed.tag_map(lib["repo"])
    calls_spec = [
        tag(registry, repository=repo, name="by-digest", digest=d2),
        tag(registry, repository=repo, name=["by-source", "by-source2"], source="v3"),
        tag(registry, repository=lib["repo"], name="promoted", source=f"{repo}:v2"),
        tag(registry, repository=lib["repo"], name="pinned", source=f"{repo}@{d3}"),
        tag(registry, repository=release, name=["1.0", "stable"], source=f"{multi['repo']}:latest"),
        tag(registry, diff=True, repository=repo, name="v1.0", digest=d3),
    ]
    # all checks, then all applies, then all second applies
    tasks = ([dict(t, check_mode=True) for t in calls_spec] + calls_spec + calls_spec)
    start = registry.mark()
    results = run_tasks(tasks)
    assert results.rc == 0, results.output
    count = len(calls_spec)
    calls = module_calls(registry, start)
    assert len(calls) == 3 * count
    for index in range(count):
        check, apply, again = results[index], results[count + index], results[2 * count + index]
        assert check["changed"] is True and mutations(calls[index]) == [], (check, calls[index])
        assert apply["changed"] is True and not apply.get("failed"), apply
        assert check["actions"] == apply["actions"] and check["tags"] == apply["tags"]
        assert again["changed"] is False and mutations(calls[2 * count + index]) == [], again
        assert {a["action"] for a in again["actions"]} == {"unchanged"}

    assert results[count]["actions"] == [{"ref": f"{repo}:by-digest", "action": "created"}]
    move = results[2 * count - 1]
    assert move["actions"] == [{"ref": f"{repo}:v1.0", "action": "updated"}]
    assert move["diff"]["before"][f"{repo}:v1.0"]["digest"] == d1
    assert move["diff"]["after"][f"{repo}:v1.0"]["digest"] == d3

    expected_app = dict(app_before, **{"by-digest": d2, "by-source": d3, "by-source2": d3, "v1.0": d3})
    assert seed.tag_map(repo) == expected_app
    assert expected_app["v1"] == expected_app["latest"] == d1  # moving v1.0 left its old digest's other tags alone
    assert seed.tag_map(lib["repo"]) == dict(lib_before, promoted=d2, pinned=d3)
    for digest in (d2, d3):  # promoted across repositories: the manifest and its blobs are in the target
        assert_blobs_in(seed, lib["repo"], digest)

    assert seed.tag_map(release) == {"1.0": multi["index"], "stable": multi["index"]}
    media_type, _body = seed.get_manifest(release, "stable")
    assert media_type == "application/vnd.oci.image.index.v1+json"
    for child in multi["children"].values():
        assert seed.get_manifest(release, child) == seed.get_manifest(multi["repo"], child)
        assert_blobs_in(seed, release, child)


def test_tag_absent_on_delete_disabled_registry_fails_before_any_put(registry_nodelete, nodelete_seed, prefix):
    repo = prefix + "/nodel"
    shared = nodelete_seed.push_image(repo, ["a", "b"])
    other = nodelete_seed.push_image(repo, ["c"])
    start = registry_nodelete.mark()
    results = run_tasks([tag(registry_nodelete, repository=repo, name=["a", "c"], state="absent")])
    result = results[0]
    assert result["failed"] is True and result["changed"] is False, result
    assert "does not allow deletes" in result["msg"], result["msg"]
    assert "storage.delete.enabled" in result["msg"]
    sent = registry_nodelete.requests_since(start)
    assert not [e for e in sent if e.method in ("PUT", "POST", "PATCH")], sent
    assert not [e for e in sent if e.method == "DELETE" and e.status < 300], sent
    assert nodelete_seed.tag_map(repo) == {"a": shared, "b": shared, "c": other}
