"""End to end: the ``regops.registry.cleanup`` role with ``cleanup_provider: gitlab``.

The role snapshots a GitLab project's images with ``artifact_info`` (tags grouped by digest), plans, removes the tags
whose digest survives (``tag`` with ``expected_digests``: each tag read again right before its ``DELETE``), then deletes
the digests whose every tag was selected (``artifact`` with ``expected_tags``: GitLab deletes by tag, so every tag of
the digest). Twice: on the emulator's own tags, and with the emulator backed by a real registry (the images pushed
there, GitLab's tag deletes carried out on it).
"""

# pylint: disable=redefined-outer-name,too-many-locals
import json

from tests.emulators.gitlab import DEFAULT_TOKEN, GitLabEmulator
from tests.support.ansible_runner import run_playbook
from tests.support.seed import SeedClient

NOW = "2026-11-01T00:00:00Z"
MUTATING = ("POST", "PUT", "PATCH", "DELETE")

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: regops.registry.cleanup
      vars:
        cleanup_provider: gitlab
        cleanup_api_url: {url}
        cleanup_api_token: {token}
        cleanup_registry: {project}
        cleanup_now: "{now}"
        cleanup_report_path: {report}
        cleanup_policies:
          - name: older-than-30-days
            older_than: 30d
            keep:
              latest: true
              tags: ['v1.0']
              min_age: 1h
"""

# (image under the project, tags, created): what happens to it
IMAGES = {
    "keep_v1": ("", ["v1.0"], "2026-01-10T00:00:00Z"),        # old, protected by keep.tags
    "all_old": ("", ["old1", "old2"], "2026-03-05T00:00:00Z"),  # old, every tag selected: every tag of the digest goes
    "mixed": ("", ["old3", "latest"], "2026-06-20T00:00:00Z"),  # old3 goes, its sibling latest stays
    "recent": ("", ["new"], "2026-10-25T00:00:00Z"),           # a week old: kept
    "web_old": ("web", ["w1"], "2026-08-01T00:00:00Z"),        # deleted
    "web_new": ("web", ["w2"], "2026-10-30T00:00:00Z"),        # kept
}


def seed_emulator(emu, project):
    """The images as the emulator's own tags, and a project the role must not touch."""
    emu.add_project(project)
    emu.add_project(project + "-other")
    digests, sizes = {}, {}
    for index, (key, (image, tags, created)) in enumerate(sorted(IMAGES.items())):
        digests[key] = "sha256:%064x" % (index + 1)
        sizes[key] = 1000 * (index + 1)
        emu.add_repository(project, image, tags=[{"name": t, "digest": digests[key], "created_at": created, "total_size": sizes[key]}
                                                 for t in tags])
    emu.add_repository(project + "-other", "", tags=[{"name": "old1", "digest": digests["all_old"], "created_at": "2026-01-01T00:00:00Z"}])
    return digests, sizes


def seed_registry(emu, real, project):
    """The images pushed to the real registry behind the emulator (created times in their configs)."""
    emu.add_project(project)
    emu.add_project(project + "-other")
    client = SeedClient.for_registry(real)
    digests = {}
    for key, (image, tags, created) in sorted(IMAGES.items()):
        digests[key] = client.push_image("%s/%s" % (project, image) if image else project, tags=tags, created=created)
    client.push_image(project + "-other", tags=["old1"], created="2026-01-01T00:00:00Z")
    state = {t["digest"]: t["total_size"] for p in emu.dump_state()["projects"] for r in p["repositories"] for t in r["tags"]}
    return digests, dict((key, state[digest]) for key, digest in digests.items())


def tag_state(emu, project):
    """``{repository path: {tag: digest}}`` of a project, as GitLab's API shows it."""
    found = {}
    for state in emu.dump_state()["projects"]:
        if state["path_with_namespace"] == project:
            found = {r["path"]: {t["name"]: t["digest"] for t in r["tags"]} for r in state["repositories"]}
    return {path: tags for path, tags in found.items() if tags}


def run_cleanup(tmp_path, emu, project, digests, sizes):
    report = tmp_path / "report.json"
    playbook = tmp_path / "cleanup.yml"
    playbook.write_text(PLAYBOOK.format(url=emu.url, token=DEFAULT_TOKEN, project=project, now=NOW, report=report), encoding="utf-8")
    before = tag_state(emu, project)
    other = tag_state(emu, project + "-other")
    app = emu.repository_id(project, "")
    web = emu.repository_id(project, "web")

    # check mode: the plan, no mutating request
    emu.log.clear()
    rc, out, err = run_playbook(playbook, check=True)
    assert rc == 0, out + err
    assert [(r.method, r.target) for r in emu.log.records if r.method in MUTATING] == []
    assert tag_state(emu, project) == before
    planned = json.loads(report.read_text(encoding="utf-8"))
    assert "old3" in out and "latest" in out

    # for real: the same plan carried out, with GitLab's tag deletes only
    emu.log.clear()
    rc, out, err = run_playbook(playbook)
    assert rc == 0, out + err
    expected = {project: {"v1.0": digests["keep_v1"], "latest": digests["mixed"], "new": digests["recent"]},
                project + "/web": {"w2": digests["web_new"]}}
    assert tag_state(emu, project) == expected
    assert tag_state(emu, project + "-other") == other
    base = "/api/v4/projects/%d/registry/repositories/%%d/tags/" % emu.project_id(project)
    sent = sorted((r.method, r.target) for r in emu.log.records if r.method in MUTATING)
    assert sent == sorted([("DELETE", base % app + "old3"), ("DELETE", base % app + "old1"), ("DELETE", base % app + "old2"),
                           ("DELETE", base % web + "w1")])
    done = json.loads(report.read_text(encoding="utf-8"))
    totals = done["totals"]
    assert (totals["errors"], totals["skipped"], totals["deleted_digests"], totals["removed_tags"]) == (0, 0, 2, 4), totals
    assert totals["bytes_freed"] == sizes["all_old"] + sizes["web_old"] > 0
    for key in ("removed_tags", "deleted_digests", "bytes_freed", "kept"):
        assert planned["totals"][key] == done["totals"][key], (planned["totals"], totals)
    assert DEFAULT_TOKEN not in out + err

    # again: nothing left to do
    emu.log.clear()
    rc, out, err = run_playbook(playbook)
    assert rc == 0, out + err
    assert "changed=0" in out, out
    assert [(r.method, r.target) for r in emu.log.records if r.method in MUTATING] == []
    assert tag_state(emu, project) == expected


def test_cleanup_role_on_gitlab(tmp_path):
    with GitLabEmulator() as emu:
        digests, sizes = seed_emulator(emu, "acme/shop")
        run_cleanup(tmp_path, emu, "acme/shop", digests, sizes)


def test_cleanup_role_on_gitlab_backed_by_a_real_registry(tmp_path, registry_open, prefix):
    project = "%s/app" % prefix
    with GitLabEmulator(registry_host=registry_open.host) as emu:
        digests, sizes = seed_registry(emu, registry_open, project)
        run_cleanup(tmp_path, emu, project, digests, sizes)
        client = SeedClient.for_registry(registry_open)
        # the real registry: GitLab removed tags only; the untagged manifests wait for garbage collection
        assert client.tag_map(project) == {"v1.0": digests["keep_v1"], "latest": digests["mixed"], "new": digests["recent"]}
        assert client.tag_map(project + "/web") == {"w2": digests["web_new"]}
        assert client.tag_map(project + "-other") != {}
