"""End to end: the ``regops.registry.cleanup`` role with ``cleanup_provider: gcore``, against the Gcore emulator."""

import json

from tests.emulators.gcore import DEFAULT_API_KEY, DEFAULT_PROJECT_ID, DEFAULT_REGION_ID, GcoreEmulator
from tests.support.ansible_runner import run_playbook

NOW = "2026-11-01T00:00:00Z"
KEEP_V1 = "sha256:" + "1" * 64   # old, tagged v1.0: protected by keep.tags
ALL_OLD = "sha256:" + "2" * 64   # old, every tag selected: the artifact is deleted
MIXED = "sha256:" + "3" * 64     # old, tags old3 and latest: only old3 goes (tags endpoint)
RECENT = "sha256:" + "4" * 64    # pushed a week ago: kept
WEB_OLD = "sha256:" + "5" * 64   # web, old: deleted
WEB_NEW = "sha256:" + "6" * 64   # web, recent: kept

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: regops.registry.cleanup
      vars:
        cleanup_provider: gcore
        cleanup_api_url: {url}
        cleanup_api_token: {token}
        cleanup_project_id: {project}
        cleanup_region_id: {region}
        cleanup_registry: shop
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


def seed(emu):
    """Registry ``shop`` with pushes spread over months, and a second registry the role must not touch."""
    emu.seed({"registries": [
        {"name": "shop", "storage_limit": 10, "repositories": [
            {"name": "team/app", "artifacts": [
                {"digest": KEEP_V1, "size": 10, "pushed_at": "2026-01-10T00:00:00Z", "tags": ["v1.0"]},
                {"digest": ALL_OLD, "size": 20, "pushed_at": "2026-03-05T00:00:00Z", "tags": ["old1", "old2"]},
                {"digest": MIXED, "size": 30, "pushed_at": "2026-06-20T00:00:00Z", "tags": ["old3", "latest"]},
                {"digest": RECENT, "size": 40, "pushed_at": "2026-10-25T00:00:00Z", "tags": ["new"]}]},
            {"name": "web", "artifacts": [
                {"digest": WEB_OLD, "size": 50, "pushed_at": "2026-08-01T00:00:00Z", "tags": ["w1"]},
                {"digest": WEB_NEW, "size": 60, "pushed_at": "2026-10-30T00:00:00Z", "tags": ["w2"]}]}]},
        {"name": "other", "repositories": [
            {"name": "team/app", "artifacts": [{"digest": ALL_OLD, "pushed_at": "2026-01-01T00:00:00Z", "tags": ["old1"]}]}]},
    ]})


def tag_map(emu, registry):
    """``{repository: {digest: [tags]}}`` of a registry."""
    state = [r for r in emu.dump_state()["registries"] if r["name"] == registry][0]
    return {repo["name"]: {a["digest"]: sorted(t["name"] for t in a["tags"]) for a in repo["artifacts"]}
            for repo in state["repositories"]}


def test_cleanup_role_on_gcore(tmp_path):
    # pylint: disable=too-many-locals
    report = tmp_path / "report.json"
    playbook = tmp_path / "cleanup.yml"
    with GcoreEmulator() as emu:
        seed(emu)
        playbook.write_text(PLAYBOOK.format(url=emu.url, token=DEFAULT_API_KEY, project=DEFAULT_PROJECT_ID,
                                            region=DEFAULT_REGION_ID, now=NOW, report=report), encoding="utf-8")
        before = tag_map(emu, "shop")
        other = tag_map(emu, "other")

        # check mode: the plan, no mutating request
        rc, out, err = run_playbook(playbook, check=True)
        assert rc == 0, out + err
        assert emu.log.mutating() == []
        assert tag_map(emu, "shop") == before
        planned = json.loads(report.read_text(encoding="utf-8"))

        # for real: the same plan carried out
        emu.log.clear()
        rc, out, err = run_playbook(playbook)
        assert rc == 0, out + err
        after = tag_map(emu, "shop")
        assert after == {
            "team/app": {KEEP_V1: ["v1.0"], MIXED: ["latest"], RECENT: ["new"]},
            "web": {WEB_NEW: ["w2"]},
        }
        assert tag_map(emu, "other") == other
        base = "%s/601/repositories/" % emu.base_path()
        sent = sorted((r.method, r.path) for r in emu.log.mutating())
        assert sent == sorted([
            ("DELETE", base + "team%252Fapp/artifacts/" + MIXED + "/tags/old3"),
            ("DELETE", base + "team%252Fapp/artifacts/" + ALL_OLD),
            ("DELETE", base + "web/artifacts/" + WEB_OLD),
        ])
        done = json.loads(report.read_text(encoding="utf-8"))
        totals = done["totals"]
        assert (totals["errors"], totals["skipped"], totals["deleted_digests"], totals["bytes_freed"]) == (0, 0, 2, 70), totals
        for key in ("removed_tags", "deleted_digests", "bytes_freed", "kept"):
            assert planned["totals"][key] == totals[key], (planned["totals"], totals)

        # again: nothing left to do
        emu.log.clear()
        rc, out, err = run_playbook(playbook)
        assert rc == 0, out + err
        assert "changed=0" in out, out
        assert emu.log.mutating() == []
        assert tag_map(emu, "shop") == after
