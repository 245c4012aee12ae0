"""End to end: the cleanup role's policies of 0.5.0 on every cloud provider's emulator (issue 13).

One repository per provider (tests/support/role_sites.py: Vultr and Naver Cloud with a real registry behind, Gcore's
emulator on its own, GitHub's packages behind its ghcr.io front, a GitLab project backed by the real registry), seeded
alike, under four policies at once:

* ``prs`` (``action: untag`` on ``pr-*``): pr-1 (its only tag) and pr-2 (beside ``main``) go, their images stay;
* ``builds`` (``max_deletions: 2``, ``on_limit: truncate``): b-1 and b-2, the oldest, are deleted, b-3 and b-4 are
  deferred (kept with reason ``deferred``, listed in the report);
* ``signed`` (``v*`` older than 30 days): v1 goes, and its cosign signature tag ``sha256-<hex>.sig`` with it;
* ``signatures`` (``artifact_types: [signature]``, which every provider supports through cosign tags, see the table in
  docs/retention.md): the signature of an image that is gone already goes, ``latest``'s signature stays
  (``referrer_of_kept``).

Per provider exactly one check-mode run (no mutating request to the emulator or the registry behind it, the same
figures as the real run) and one real run, whose effect is read back from the emulator and the real registry. Both run
with ``-vvv`` and ``--diff``, and neither prints a secret the site uses (issue 14: API tokens and keys, the real
registry's password and docker credentials, registry tokens the emulator issued; ``Site.secrets``).
"""

# pylint: disable=redefined-outer-name
import contextlib
import json

import pytest

from tests.support.ansible_runner import REPO_ROOT, run_playbook
from tests.support.role_sites import NOW, SITES
from tests.support.seed import referrers_tag

PLAYBOOK = REPO_ROOT / "tests" / "playbooks" / "cleanup.yml"
OLD = "2026-0%d-01T00:00:00Z"  # OLD % month: months before NOW (2026-11-01)
RECENT = "2026-10-30T00:00:00Z"
ORPHAN_SUBJECT = "sha256:" + "5e" * 32  # an image deleted long ago: its signature is an orphan
POLICIES = [
    {"name": "prs", "tags": {"include": ["pr-*"]}, "older_than": "30d", "action": "untag"},
    {"name": "builds", "tags": {"include": ["b-*"]}, "older_than": "30d", "max_deletions": 2, "on_limit": "truncate"},
    {"name": "signed", "tags": {"include": ["v*"]}, "older_than": "30d"},
    {"name": "signatures", "artifact_types": ["signature"], "tag_state": "any"},
]
# the tags after the real run, by the keys the images were pushed under (cosign tags as <subject key>.sig)
EXPECTED_TAGS = {"main": "pr2", "b-3": "b3", "b-4": "b4", "latest": "latest", "latest.sig": "latest_sig"}
GONE = ("b1", "b2", "v1", "v1_sig", "orphan")
# the figures the check-mode report must predict exactly
PREDICTED = ("tags_before", "tags_removed", "tags_removed_with_digests", "tags_removed_from_surviving", "kept_by_reason",
             "digests_before", "digests_deleted", "referrers_deleted", "untagged_kept_by_reason", "tags_untagged_only",
             "deferred_tags", "deferred_digests", "removed_tags", "removed_from_surviving", "deleted_digests",
             "deleted_referrers", "deferred")


def seed_scenario(push, digests):
    """The repository of the module docstring; ``digests`` is the site's ``{key: digest}`` that ``push`` fills."""
    push("pr1", ["pr-1"], OLD % 2)
    push("pr2", ["pr-2", "main"], OLD % 2)
    for n in (1, 2, 3, 4):
        push(f"b{n}", [f"b-{n}"], OLD % n)
    push("v1", ["v1"], OLD % 3)
    push("v1_sig", None, OLD % 3, subject=digests["v1"])
    push("latest", ["latest"], RECENT)
    push("latest_sig", None, RECENT, subject=digests["latest"])
    push("orphan", None, OLD % 4, subject=ORPHAN_SUBJECT)


def role_vars(site, report, plan=None, **extra):
    """The role's variables for ``site`` with the scenario's policies."""
    result = dict(site.role_vars, cleanup_now=NOW, cleanup_policies=POLICIES, cleanup_report_path=str(report))
    if plan:
        result["cleanup_plan_path"] = str(plan)
    result.update(extra)
    return result


def keyed_list(site, names):
    """Tags or digests written as the keys they were pushed under (sorted)."""
    return sorted(site.key_of(n) if n.startswith("sha256:") else next(iter(site.keyed({n: n}))) for n in names)


def site_for(provider, stack, registry, registry_open, prefix, **options):
    """``(site, push)``; GitLab's emulator is backed by the registry without auth (as in test_gitlab_role.py)."""
    return SITES[provider](stack, registry_open if provider == "gitlab" else registry, prefix, **options)


VERBOSE = {"ANSIBLE_VERBOSITY": "3"}  # -vvv: module arguments and results printed in full


def assert_no_secret(site, out, err):
    """None of ``site.secrets()`` shows in a run's output (stdout and stderr)."""
    secrets = site.secrets()
    assert secrets, site.provider
    leaked = [secret for secret in secrets if secret in out or secret in err]
    assert leaked == [], f"{site.provider}: secret(s) {[s[:4] + '...' for s in leaked]} in the output of a -vvv --diff run"


@pytest.mark.parametrize("provider", sorted(SITES))
def test_policies_of_0_5_on_every_provider(provider, registry, registry_open, prefix, tmp_path):
    # pylint: disable=too-many-locals,too-many-statements
    """untag, truncate, referrers with their subject and artifact_types on one repository: check mode predicts the
    real run without a mutating request; the real run does it, read back from the emulator and the registry."""
    with contextlib.ExitStack() as stack:
        site, push = site_for(provider, stack, registry, registry_open, prefix)
        seed_scenario(push, site.digests)
        dig = site.digests
        before = site.state()
        check_path, report_path, plan_path = tmp_path / "check.json", tmp_path / "report.json", tmp_path / "plan.json"

        # 1. check mode: nothing sent that changes anything, neither to the emulator nor to the registry behind it
        site.emu.log.clear()
        mark = site.backend.mark() if site.backend else None
        rc, out, err = run_playbook(PLAYBOOK, extra_vars=role_vars(site, check_path), check=True, diff=True, env=VERBOSE)
        assert rc == 0, out + err
        assert_no_secret(site, out, err)
        assert site.sent() == []
        if site.backend:
            assert site.backend.mutations_since(mark) == []
        assert site.state() == before
        check_report = json.loads(check_path.read_text(encoding="utf-8"))
        assert check_report["check_mode"] is True and check_report["blocked"] is False
        check = check_report["repositories"][site.repo]

        # 2. for real
        site.emu.log.clear()
        rc, out, err = run_playbook(PLAYBOOK, extra_vars=role_vars(site, report_path, plan_path), diff=True, env=VERBOSE)
        assert rc == 0, out + err
        assert_no_secret(site, out, err)
        tags, real = site.keyed_state()
        assert tags == EXPECTED_TAGS
        if site.real:
            assert real == EXPECTED_TAGS
            client, repo = site.real
            present = {key: client.manifest_exists(repo, dig[key]) for key in dig}
            # untag: the images stay, reachable by digest; on Naver Cloud, pr-2's beside main. NCR's tag delete is what
            # removes pr-1, and (as its emulator has it, tag_delete_semantics "manifest") it takes the manifest with its
            # last tag: the plan keeps it (untag_only), NCR does not; docs/retention.md says this is not documented by NCR
            assert (present["pr1"], present["pr2"]) == (provider != "ncloud", True), present
            if provider == "gitlab":
                # GitLab deletes tags only: the manifests whose every tag went wait for the registry's garbage collection
                assert all(present[key] for key in GONE), present
            else:
                assert [key for key in GONE if present[key]] == [], present
            assert all(present[key] for key in EXPECTED_TAGS.values()), present
        report = json.loads(report_path.read_text(encoding="utf-8"))
        plan = json.loads(plan_path.read_text(encoding="utf-8"))
        assert report["blocked"] is False and report["totals"]["errors"] == 0
        summary = report["repositories"][site.repo]
        assert summary["errors"] == [] and summary["skipped"] == []

        # untag: pr-1 and pr-2 removed, their manifests kept (pr-1's now untagged: untag_only)
        assert keyed_list(site, summary["removed_from_surviving"]) == ["pr-1", "pr-2"]
        assert summary["tags_untagged_only"] == 1 and summary["untagged_kept_by_reason"] == {"untag_only": 1}
        kept = {(e["tag"], e["digest"]): e["reason"] for e in plan["kept"]}
        assert kept[(None, dig["pr1"])] == "untag_only"
        # truncate: the two oldest builds now, the two others deferred, oldest first
        assert (summary["deferred_tags"], summary["deferred_digests"]) == (2, 2)
        assert [(e["operation"], e["digest"], e["tags"]) for e in summary["deferred"]] == [
            ("delete", dig["b3"], ["b-3"]), ("delete", dig["b4"], ["b-4"])]
        assert any(w.startswith("on_limit truncate: 0 tag removal(s) and 2 manifest deletion(s) deferred") for w in plan["warnings"])
        assert (kept[("b-3", dig["b3"])], kept[("b-4", dig["b4"])]) == ("deferred", "deferred")
        # referrers: v1's signature goes with v1, latest keeps its own; the orphan goes by artifact_types
        assert summary["deleted_digests"] == sorted(dig[key] for key in GONE)
        assert summary["deleted_referrers"] == {dig["v1_sig"]: dig["v1"]} and summary["referrers_deleted"] == 1
        assert kept[(referrers_tag(dig["latest"], "sig"), dig["latest_sig"])] == "referrer_of_kept"
        orphan = next(e for e in plan["delete_digests"] if e["digest"] == dig["orphan"])
        assert orphan["policy"] == "signatures", orphan
        assert summary["kept_by_reason"] == {"deferred": 2, "latest": 1, "not_selected": 1, "referrer_of_kept": 1}, summary["kept_by_reason"]

        # check mode predicted every figure
        for key in PREDICTED:
            assert check[key] == summary[key], key
