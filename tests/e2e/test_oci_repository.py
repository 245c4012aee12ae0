"""End to end: ``regops.registry.repository`` (provider oci) with real ansible-playbook against distribution 2.8."""

import pytest

from tests.support.ansible_runner import run_tasks
from tests.support.cycle import module_calls, mutations, oci_task
from tests.support.seed import OCI_INDEX, OCI_MANIFEST


def repository(registry, name, diff=False):
    """A ``regops.registry.repository`` task (state absent) for ``registry``."""
    return oci_task("repository", registry, diff=diff, name=name, state="absent")


@pytest.mark.compat
def test_repository_absent(registry, seed, seeded, prefix):
    multi, app, lib = seeded["multi"], seeded["app"], seeded["lib"]
    lib_before = seed.tag_map(lib["repo"])
    tasks = []
    for name in (multi["repo"], app["repo"]):
        task = repository(registry, name, diff=True)
        tasks += [dict(task, check_mode=True), task, task]
    tasks.append(repository(registry, prefix + "/never-pushed"))
    start = registry.mark()
    results = run_tasks(tasks)
    assert results.rc == 0, results.output
    calls = module_calls(registry, start)
    assert len(calls) == len(tasks)
    for first in (0, 3):
        check, apply, again = results[first:first + 3]
        assert check["changed"] is True and mutations(calls[first]) == [], calls[first]
        assert apply["changed"] is True and not apply.get("failed"), apply
        assert again["changed"] is False and mutations(calls[first + 2]) == [], again
        assert check["repository"] == apply["repository"]
        assert apply["actions"] == [{"ref": apply["repository"]["name"], "action": "deleted"}]
        assert again["actions"] == [{"ref": apply["repository"]["name"], "action": "absent"}]
        assert again["repository"] is None
        assert check["diff"]["before"]["name"] == apply["repository"]["name"] and check["diff"]["after"] == {}

    # multi-arch: the index (first, so no surviving index ever points at a deleted child) and both children
    gone = results[1]["repository"]["manifests"]
    index, children = multi["index"], sorted(multi["children"].values())
    assert gone[0] == {"digest": index, "media_type": OCI_INDEX, "tags": ["1.0", "latest"], "children": gone[0]["children"]}
    assert sorted(gone[0]["children"]) == children
    assert sorted(m["digest"] for m in gone[1:]) == children
    assert all(m["media_type"] == OCI_MANIFEST and m["tags"] == [] and m["children"] == [] for m in gone[1:])
    deleted = [e.path.rsplit("/", 1)[1] for e in mutations(calls[1]) if e.method == "DELETE" and e.status == 202]
    assert deleted[0] == index and sorted(deleted[1:]) == children
    assert mutations(calls[1]) == [e for e in calls[1] if e.method == "DELETE"]

    listed = {m["digest"]: m["tags"] for m in results[4]["repository"]["manifests"]}
    assert listed == {app["digests"]["v1"]: ["latest", "v1", "v1.0"], app["digests"]["v2"]: ["v2"],
                      app["digests"]["v3"]: ["v3"], app["digests"]["legacy"]: ["legacy"]}

    never = results[6]
    assert never["changed"] is False and never["repository"] is None and not never.get("failed"), never
    assert never["actions"] == [{"ref": prefix + "/never-pushed", "action": "absent"}]

    for repo, digests in ((multi["repo"], [index] + children), (app["repo"], list(app["digests"].values()))):
        assert seed.tags(repo) == []
        for digest in digests:
            assert not seed.manifest_exists(repo, digest)
    assert seed.tag_map(lib["repo"]) == lib_before  # the other repository of the prefix is untouched
