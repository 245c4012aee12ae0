"""End to end: the ``regops.registry.cleanup`` role with ``cleanup_provider: vultr``.

The Vultr emulator is backed by a real registry (``LocalRegistry``; the emulator's ``registry_host`` and
``docker_credentials``): artifacts are listed by Vultr's API and deleted through it, tags are removed over the OCI
path of the real registry with the docker credentials the provider mints, and the real registry is checked
afterwards with ``SeedClient``.
"""

import json

from tests.emulators.vultr import DEFAULT_API_KEY, VultrEmulator
from tests.support.ansible_runner import run_playbook
from tests.support.seed import SeedClient

NOW = "2026-11-01T00:00:00Z"
MUTATING = ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: regops.registry.cleanup
      vars:
        cleanup_provider: vultr
        cleanup_api_url: {url}
        cleanup_api_token: {token}
        cleanup_registry: {registry}
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

# (repository, tags, pushed): what happens to it
IMAGES = {
    "keep_v1": ("team/app", ["v1.0"], "2026-01-10T00:00:00Z"),        # old, protected by keep.tags
    "all_old": ("team/app", ["old1", "old2"], "2026-03-05T00:00:00Z"),  # old, every tag selected: the artifact is deleted
    "mixed": ("team/app", ["old3", "latest"], "2026-06-20T00:00:00Z"),  # old3 goes over the OCI path, its sibling latest stays
    "recent": ("team/app", ["new"], "2026-10-25T00:00:00Z"),           # a week old: kept
    "web_old": ("web", ["w1"], "2026-08-01T00:00:00Z"),                # deleted
    "web_new": ("web", ["w2"], "2026-10-30T00:00:00Z"),                # kept
}


def seed(emu, real, name):
    """Registry ``name`` with pushes spread over months on the real registry, and a registry the role must not touch."""
    client = SeedClient.for_registry(real)
    emu.add_registry(name, region="sjc", plan="business")
    emu.add_registry(name + "x", region="ewr", plan="start_up")
    digests = {}
    for key, (repository, tags, pushed) in IMAGES.items():
        digests[key] = client.push_image("%s/%s" % (name, repository), tags=tags)
        emu.add_artifact(name, repository, digest=digests[key], push_time=pushed, tags=[{"name": t, "push_time": pushed} for t in tags])
    digests["other"] = client.push_image("%sx/team/app" % name, tags=["old1"])
    emu.add_artifact(name + "x", "team/app", digest=digests["other"], push_time="2026-01-01T00:00:00Z")
    return client, digests


def real_tags(client, name):
    """``{repository: {tag: digest}}`` on the real registry."""
    return {repo: client.tag_map("%s/%s" % (name, repo)) for repo in ("team/app", "web")}


def test_cleanup_role_on_vultr(tmp_path, registry, prefix):
    # pylint: disable=too-many-locals
    name = prefix
    report = tmp_path / "report.json"
    playbook = tmp_path / "cleanup.yml"
    with VultrEmulator(registry_host=registry.host, docker_credentials={"username": registry.username, "password": registry.password}) as emu:
        client, digests = seed(emu, registry, name)
        reg_id = emu.registry_id(name)
        playbook.write_text(PLAYBOOK.format(url=emu.url, token=DEFAULT_API_KEY, registry=name, now=NOW, report=report), encoding="utf-8")
        before = real_tags(client, name)
        other = client.tag_map("%sx/team/app" % name)
        sizes = {a["digest"]: a["size"] for r in emu.dump_state()["registries"] if r["name"] == name
                 for repo in r["repositories"] for a in repo["artifacts"]}

        # check mode: the plan, no mutating request (no docker credentials minted), the real registry untouched
        mark = registry.mark()
        rc, out, err = run_playbook(playbook, check=True)
        assert rc == 0, out + err
        assert [(r.method, r.target) for r in emu.log.records if r.method in MUTATING] == []
        assert registry.mutations_since(mark) == []
        assert real_tags(client, name) == before
        planned = json.loads(report.read_text(encoding="utf-8"))
        assert "old3" in out and "latest" in out

        # for real: the same plan carried out
        emu.log.clear()
        rc, out, err = run_playbook(playbook)
        assert rc == 0, out + err
        assert real_tags(client, name) == {
            "team/app": {"v1.0": digests["keep_v1"], "latest": digests["mixed"], "new": digests["recent"]},
            "web": {"w2": digests["web_new"]},
        }
        assert client.tag_map("%sx/team/app" % name) == other
        gone = [key for key, (repository, _tags, _pushed) in IMAGES.items()
                if not client.manifest_exists("%s/%s" % (name, repository), digests[key])]
        assert sorted(gone) == ["all_old", "web_old"]
        assert client.manifest_exists("%sx/team/app" % name, digests["other"])
        base = "/v2/registry/%s" % reg_id
        sent = sorted((r.method, r.target) for r in emu.log.records if r.method in MUTATING)
        assert sent == sorted([
            ("DELETE", base + "/repository/team%2Fapp/artifact/" + digests["all_old"]),
            ("DELETE", base + "/repository/web/artifact/" + digests["web_old"]),
            ("OPTIONS", base + "/docker-credentials?expiry_seconds=3600&read_write=true"),
        ])
        done = json.loads(report.read_text(encoding="utf-8"))
        totals = done["totals"]
        # removed: old3, and the tags that went with the two deleted digests
        assert (totals["errors"], totals["skipped"], totals["deleted_digests"], totals["removed_tags"]) == (0, 0, 2, 4), totals
        assert totals["bytes_freed"] == sizes[digests["all_old"]] + sizes[digests["web_old"]] > 0
        for key in ("removed_tags", "deleted_digests", "bytes_freed", "kept"):
            assert planned["totals"][key] == totals[key], (planned["totals"], totals)
        assert registry.password not in out + err and emu.root_password(name) not in out + err
        # Vultr's listing: mixed keeps its sibling tag
        state = {a["digest"]: sorted(t["name"] for t in a["tags"]) for r in emu.dump_state()["registries"] if r["name"] == name
                 for repo in r["repositories"] for a in repo["artifacts"]}
        assert state == {digests["keep_v1"]: ["v1.0"], digests["mixed"]: ["latest"], digests["recent"]: ["new"],
                         digests["web_new"]: ["w2"]}

        # again: nothing left to do
        emu.log.clear()
        mark = registry.mark()
        rc, out, err = run_playbook(playbook)
        assert rc == 0, out + err
        assert "changed=0" in out, out
        assert [(r.method, r.target) for r in emu.log.records if r.method in MUTATING] == []
        assert registry.mutations_since(mark) == []
        assert real_tags(client, name) == {
            "team/app": {"v1.0": digests["keep_v1"], "latest": digests["mixed"], "new": digests["recent"]},
            "web": {"w2": digests["web_new"]},
        }
