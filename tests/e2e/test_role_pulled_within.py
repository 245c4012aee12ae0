"""End to end: ``keep.pulled_within`` with the cleanup role on the providers that record pull times.

The same repository on the emulators of Vultr (Harbor), Gcore and Naver Cloud, their clocks pinned to NOW: an old image
pulled a week ago is kept (reason ``pulled_within``), an old image pulled long ago and one never pulled are deleted, and
the cosign signature tag (``sha256-<hex>.sig``) of the deleted one goes with it while the kept one keeps its own. Vultr
and Naver Cloud have a real registry behind the emulator, read back with ``SeedClient``; Gcore's emulator holds the
artifacts itself. Per provider: one check-mode run (no mutating request, the same figures) and one real run.
"""

# pylint: disable=redefined-outer-name
import contextlib
import json
from datetime import datetime, timezone

import pytest

from tests.emulators import gcore, ncloud, vultr
from tests.support.ansible_runner import REPO_ROOT, run_playbook
from tests.support.seed import SeedClient, referrers_tag

PLAYBOOK = REPO_ROOT / "tests" / "playbooks" / "cleanup.yml"
NOW = "2026-11-01T00:00:00Z"
PUSHED = "2026-03-01T00:00:00Z"  # every image but latest: eight months old
PULLS = {"recent": "2026-10-25T00:00:00Z", "stale": "2026-05-01T00:00:00Z", "never": None}
MUTATING = ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")  # OPTIONS: Vultr mints docker credentials with it
POLICY = {"name": "stale", "older_than": "30d", "keep": {"latest": True, "pulled_within": "30d", "min_age": "1h"}}
FIGURES = ("tags_before", "tags_removed", "kept_by_reason", "digests_deleted", "referrers_deleted", "deleted_digests",
           "deleted_referrers", "removed_tags")


def clock():
    """The emulators' pinned time: NOW."""
    return datetime(2026, 11, 1, tzinfo=timezone.utc)


class Site:
    """One provider's emulator with repository ``app`` seeded: the role's variables, and its state read back."""

    def __init__(self, emu, role_vars, tags_of, real=None):
        self.emu, self.role_vars, self.tags_of, self.real = emu, role_vars, tags_of, real
        self.digests = {}

    def state(self):
        """``(emulator's {tag: digest} of app, the real registry's, or None)``."""
        return self.tags_of(), (self.real[0].tag_map(self.real[1]) if self.real else None)

    def sent(self):
        """The mutating requests the emulator saw since the last ``clear``."""
        return [(r.method, r.path) for r in self.emu.log.records if r.method in MUTATING]


def dumped_tags(emu, registry, repository):
    """``{tag: digest}`` of a Harbor-like emulator's repository (Vultr names it ``<registry>/<image>``, Gcore ``<image>``)."""
    reg = next(r for r in emu.dump_state()["registries"] if r["name"] == registry)
    return {t["name"]: a["digest"] for repo in reg["repositories"] if repository in (repo["name"], repo.get("image"))
            for a in repo["artifacts"] for t in a["tags"]}


def vultr_site(stack, registry, name):
    """Vultr's emulator backed by the real registry; the images pushed there, their push and pull times told to Vultr."""
    emu = stack.enter_context(vultr.VultrEmulator(registry_host=registry.host, clock=clock,
                                                  docker_credentials={"username": registry.username, "password": registry.password}))
    emu.add_registry(name, region="sjc", plan="business")
    client = SeedClient.for_registry(registry)
    site = Site(emu, {"cleanup_provider": "vultr", "cleanup_api_url": emu.url, "cleanup_api_token": vultr.DEFAULT_API_KEY,
                      "cleanup_registry": name}, lambda: dumped_tags(emu, name, "app"), real=(client, f"{name}/app"))

    def push(key, tags, pushed, pulled=None, subject=None):
        digest = client.push_cosign(f"{name}/app", subject, "sig") if subject else client.push_image(f"{name}/app", tags=tags)
        tags = tags or [referrers_tag(subject, "sig")]
        emu.add_artifact(name, "app", digest=digest, push_time=pushed, pull_time=pulled,
                         tags=[{"name": t, "push_time": pushed, "pull_time": pulled} for t in tags])
        site.digests[key] = digest
    return site, push


def gcore_site(stack, _registry, _name):
    """Gcore's emulator, which holds the artifacts itself (a never pulled artifact shows its push time as pull time)."""
    emu = stack.enter_context(gcore.GcoreEmulator(clock=clock))
    emu.add_registry("shop")
    site = Site(emu, {"cleanup_provider": "gcore", "cleanup_api_url": emu.url, "cleanup_api_token": gcore.DEFAULT_API_KEY,
                      "cleanup_project_id": gcore.DEFAULT_PROJECT_ID, "cleanup_region_id": gcore.DEFAULT_REGION_ID,
                      "cleanup_registry": "shop"}, lambda: dumped_tags(emu, "shop", "app"))

    def push(key, tags, pushed, pulled=None, subject=None):
        digest = "sha256:%064x" % (len(site.digests) + 1)
        emu.add_artifact("shop", "app", digest=digest, size=100, pushed_at=pushed, pulled_at=pulled,
                         tags=tags or [referrers_tag(subject, "sig")])
        site.digests[key] = digest
    return site, push


def ncloud_site(stack, _registry, _name):
    """Naver Cloud's emulator with a real registry behind its ``/v2/`` front: images pushed through the front, their push
    and pull times set in NCR's records (the emulator records no pull of its own: the role's reads must not count)."""
    emu = stack.enter_context(ncloud.NcloudEmulator(clock=clock))
    stack.enter_context(ncloud.ncr_backend(emu))
    emu.configure(record_pulls=False)
    emu.add_registry("acme", bucket="acme-images")
    client = SeedClient(emu.front_url("acme"), ncloud.DEFAULT_ACCESS_KEY, ncloud.DEFAULT_SECRET_KEY)

    def tags_of():
        reg = next(r for r in emu.dump_state()["regions"]["kr"] if r["name"] == "acme")
        return {t["name"]: t["digest"] for i in reg["images"] if i["name"] == "app" for t in i["tags"]}
    site = Site(emu, {"cleanup_provider": "ncloud", "cleanup_api_url": emu.api_url("kr"), "cleanup_access_key": ncloud.DEFAULT_ACCESS_KEY,
                      "cleanup_secret_key": ncloud.DEFAULT_SECRET_KEY, "cleanup_registry": "acme"}, tags_of, real=(client, "app"))

    def push(key, tags, pushed, pulled=None, subject=None):
        digest = client.push_cosign("app", subject, "sig") if subject else client.push_image("app", tags=tags, created=pushed)
        for tag in tags or [referrers_tag(subject, "sig")]:
            emu.set_pushed("acme", "app", tag, pushed)
        if pulled:
            emu.set_pulled("acme", "app", digest, pulled)
        site.digests[key] = digest
    return site, push


SITES = {"vultr": vultr_site, "gcore": gcore_site, "ncloud": ncloud_site}


@pytest.mark.parametrize("provider", sorted(SITES))
def test_pulled_within_keeps_what_is_still_pulled(provider, registry, prefix, tmp_path):
    # pylint: disable=too-many-locals
    """recent (pulled a week ago) stays with its signature; stale (pulled in May) goes; never (never pulled) goes with its
    cosign signature; latest stays. Check mode predicts it without a mutating request."""
    with contextlib.ExitStack() as stack:
        site, push = SITES[provider](stack, registry, prefix)
        for key, pulled in PULLS.items():
            push(key, [f"{key}-1"], PUSHED, pulled)
        push("recent_sig", None, PUSHED, subject=site.digests["recent"])
        push("never_sig", None, PUSHED, subject=site.digests["never"])
        push("latest", ["latest"], "2026-10-30T00:00:00Z")
        dig = site.digests
        before = site.state()
        report, plan = tmp_path / "report.json", tmp_path / "plan.json"
        extra = dict(site.role_vars, cleanup_now=NOW, cleanup_policies=[POLICY], cleanup_report_path=str(report),
                     cleanup_plan_path=str(plan))
        mark = registry.mark()

        # check mode: nothing sent that changes anything, neither to the emulator nor to the registry behind it
        site.emu.log.clear()
        rc, out, err = run_playbook(PLAYBOOK, extra_vars=extra, check=True)
        assert rc == 0, out + err
        assert site.sent() == []
        assert registry.mutations_since(mark) == [] and site.state() == before
        check = json.loads(report.read_text(encoding="utf-8"))["repositories"]["app"]

        # for real
        rc, out, err = run_playbook(PLAYBOOK, extra_vars=extra)
        assert rc == 0, out + err
        expected = {"recent-1": dig["recent"], referrers_tag(dig["recent"], "sig"): dig["recent_sig"], "latest": dig["latest"]}
        tags, real = site.state()
        assert tags == expected
        if site.real:
            assert real == expected
            assert [key for key in ("stale", "never", "never_sig") if site.real[0].manifest_exists(site.real[1], dig[key])] == []
        summary = json.loads(report.read_text(encoding="utf-8"))["repositories"]["app"]
        assert summary["deleted_digests"] == sorted(dig[k] for k in ("stale", "never", "never_sig"))
        assert summary["deleted_referrers"] == {dig["never_sig"]: dig["never"]} and summary["referrers_deleted"] == 1
        assert summary["kept_by_reason"] == {"latest": 1, "pulled_within": 1, "referrer_of_kept": 1}
        assert summary["errors"] == [] and summary["skipped"] == []
        kept = {e["tag"]: e for e in json.loads(plan.read_text(encoding="utf-8"))["kept"] if e["tag"]}
        assert (kept["recent-1"]["reason"], kept["recent-1"]["protected_by"]) == ("pulled_within", ["stale"])
        for key in FIGURES:
            assert check[key] == summary[key], key
