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

import pytest

from tests.support.ansible_runner import REPO_ROOT, run_playbook
from tests.support.role_sites import gcore_site, ncloud_site, vultr_site
from tests.support.seed import referrers_tag

PLAYBOOK = REPO_ROOT / "tests" / "playbooks" / "cleanup.yml"
NOW = "2026-11-01T00:00:00Z"
PUSHED = "2026-03-01T00:00:00Z"  # every image but latest: eight months old
PULLS = {"recent": "2026-10-25T00:00:00Z", "stale": "2026-05-01T00:00:00Z", "never": None}
POLICY = {"name": "stale", "older_than": "30d", "keep": {"latest": True, "pulled_within": "30d", "min_age": "1h"}}
FIGURES = ("tags_before", "tags_removed", "kept_by_reason", "digests_deleted", "referrers_deleted", "deleted_digests",
           "deleted_referrers", "removed_tags")
# the providers that record pull times (tests/support/role_sites.py builds their sites)
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
