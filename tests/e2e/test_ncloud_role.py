"""End to end: the ``regops.registry.cleanup`` role with ``cleanup_provider: ncloud``.

The images are pushed through the Naver Cloud emulator's ``/v2/`` front of registry ``acme``, with a real registry
behind it; every API request the role sends is signed and checked. The role snapshots the registry's images
(``artifact_info``: tags grouped by digest, with push times), plans, removes the tags whose digest survives, deletes the
digests whose every tag was selected, and runs again. NCR does not document whether its tag delete removes only the
tag or the manifest with every sibling tag: the run is made under both readings, and a tag the policy keeps survives
either way (a tag that shares its digest goes over the registry host, not through NCR's tag delete).
"""

# pylint: disable=redefined-outer-name,too-many-locals
import json

import pytest

from tests.emulators.ncloud import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, NcloudEmulator, ncr_backend
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
        cleanup_provider: ncloud
        cleanup_api_url: {url}
        cleanup_access_key: {access_key}
        cleanup_secret_key: {secret_key}
        cleanup_registry: acme
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

# (image, tags, created): what happens to it
IMAGES = {
    "keep_v1": ("app", ["v1.0"], "2026-01-10T00:00:00Z"),        # old, protected by keep.tags
    "all_old": ("app", ["old1", "old2"], "2026-03-05T00:00:00Z"),  # old, every tag selected: both tags go
    "mixed": ("app", ["old3", "latest"], "2026-06-20T00:00:00Z"),  # old3 goes over the registry host, its sibling latest stays
    "recent": ("app", ["new"], "2026-10-25T00:00:00Z"),           # a week old: kept
    "web_old": ("team/web", ["w1"], "2026-08-01T00:00:00Z"),      # deleted
    "web_new": ("team/web", ["w2"], "2026-10-30T00:00:00Z"),      # kept
}


@pytest.fixture(scope="module")
def emulator():
    with NcloudEmulator() as emu:
        backend = ncr_backend(emu)
        try:
            yield emu
        finally:
            backend.stop()


def seed(emu):
    """Registry acme with the images pushed through its front, each tag's push time its image's date."""
    emu.add_registry("acme", bucket="acme-images")
    client = SeedClient(emu.front_url("acme"), DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
    digests = {}
    for key, (image, tags, created) in sorted(IMAGES.items()):
        digests[key] = client.push_image(image, tags=tags, created=created)
        for tag in tags:
            emu.set_pushed("acme", image, tag, created)
    return client, digests


def tag_state(emu):
    """``{image: {tag: digest}}`` of registry acme, as NCR's API shows it."""
    registry = next(r for r in emu.dump_state()["regions"]["kr"] if r["name"] == "acme")
    return {i["name"]: {t["name"]: t["digest"] for t in i["tags"]} for i in registry["images"] if i["tags"]}


@pytest.mark.parametrize("semantics", ["manifest", "tag"])
def test_cleanup_on_ncr_keeps_what_the_policy_keeps_whatever_ncr_tag_delete_does(tmp_path, emulator, semantics):
    emu = emulator
    emu.configure(tag_delete_semantics=semantics)
    emu.reset()
    client, digests = seed(emu)
    report = tmp_path / "report.json"
    playbook = tmp_path / "cleanup.yml"
    playbook.write_text(PLAYBOOK.format(url=emu.api_url("kr"), access_key=DEFAULT_ACCESS_KEY, secret_key=DEFAULT_SECRET_KEY, now=NOW,
                                        report=report), encoding="utf-8")
    before = tag_state(emu)

    # check mode: the plan, no mutating request
    emu.log.clear()
    rc, out, err = run_playbook(playbook, check=True)
    assert rc == 0, out + err
    assert [(r.method, r.target) for r in emu.log.records if r.method in MUTATING] == []
    assert tag_state(emu) == before
    planned = json.loads(report.read_text(encoding="utf-8"))

    # for real
    emu.log.clear()
    rc, out, err = run_playbook(playbook)
    assert rc == 0, out + err
    expected = {"app": {"v1.0": digests["keep_v1"], "latest": digests["mixed"], "new": digests["recent"]},
                "team/web": {"w2": digests["web_new"]}}
    assert tag_state(emu) == expected
    # the registry host agrees: the sibling of the removed tag still resolves
    assert client.resolve("app", "latest") == digests["mixed"]
    assert sorted(client.tags("app")) == ["latest", "new", "v1.0"]
    sent = [(r.method, r.target) for r in emu.log.records if r.method in MUTATING]
    # old3 shares its digest with latest: it is first pointed at a throwaway manifest over the registry host, and only then
    # deleted through NCR's API (the throwaway carries nothing else, so either reading of NCR's delete is right)
    moved = next(i for i, (method, target) in enumerate(sent) if method == "PUT" and target.endswith("/manifests/old3"))
    deleted = next(i for i, (method, target) in enumerate(sent) if method == "DELETE" and target.endswith("/app/tags/old3"))
    assert moved < deleted, sent
    assert not [s for s in sent if s[0] == "PUT" and "/manifests/" in s[1] and not s[1].endswith("/manifests/old3")
                and "sha256:" not in s[1]], sent
    assert all("/repositories/acme/team%2Fweb/" in r.target for r in emu.log.records
               if r.method == "DELETE" and r.target.endswith("/tags/w1"))
    done = json.loads(report.read_text(encoding="utf-8"))
    totals = done["totals"]
    assert (totals["errors"], totals["skipped"], totals["deleted_digests"], totals["removed_tags"]) == (0, 0, 2, 4), totals
    assert planned["totals"]["removed_tags"] == totals["removed_tags"]

    # again: nothing left to do, nothing sent
    emu.log.clear()
    rc, out, err = run_playbook(playbook)
    assert rc == 0, out + err
    assert [(r.method, r.target) for r in emu.log.records if r.method in MUTATING] == []
