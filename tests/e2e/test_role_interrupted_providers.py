"""End to end on a cloud provider: the ``cleanup`` role killed halfway, two cleanups at once, pushes during a cleanup
(issue 14), on GitLab's emulator backed by the real registry (tests/support/role_sites.py ``gitlab_site``).

GitLab, because it is the provider where a phase is many API requests, one after another, each one visible in the
emulator's request log as it happens: the role removes every tag by name (``DELETE .../tags/<name>``, with
``cleanup_concurrency: 1`` one at a time), in the tag call (the tags removed from images that stay) and again in the
artifact call (GitLab deletes a digest by deleting each of its tags; the untagged manifest waits for GitLab's garbage
collection). The test acts on what the log shows: it kills the run after the first few deletes of a phase, or pushes.
The emulator deletes a tag in the registry behind it under its lock, so a kill never leaves half a tag delete behind.

The repository is the one of tests/e2e/test_role_interrupted.py (``seed_builds``) with 24 images (56 tags) instead of
40, under the same policy: 14 tags go from the 7 ``stable-*`` images that stay, 12 images go with their 24 tags, 18
tags stay. The expectations come from the seed, not from the planner. Every run is ``-vvv --diff`` and prints neither
the API token nor a password of the registry behind (``Site.secrets``).
"""

# pylint: disable=redefined-outer-name,too-many-locals
import collections
import contextlib
import json
import time

import pytest

from tests.e2e.test_role_cleanup import assert_adds_up, read_report
from tests.e2e.test_role_interrupted import POLICY, assert_plan_is_the_clean_one, plan_removals, seed_builds
from tests.support.ansible_runner import run_playbook
from tests.support.role_run import PLAYBOOK, RoleRun, wait_until
from tests.support.role_sites import NOW, gitlab_site

IMAGES = 24
VERBOSE = {"ANSIBLE_VERBOSITY": "3"}
RECENT = "2026-10-30T00:00:00Z"


@pytest.fixture
def site(registry_open, prefix):
    """GitLab's emulator backed by the registry without auth (as in test_role_providers.py), project ``<prefix>/app``
    seeded with ``seed_builds``: ``(site, push, history)``."""
    with contextlib.ExitStack() as stack:
        gitlab, push = gitlab_site(stack, registry_open, prefix)
        client, repo = gitlab.real
        history = seed_builds(client, repo, count=IMAGES)
        assert len(history["untag"]) == 14 and len(history["deleted"]) == 12 and len(history["expected_tags"]) == 18
        gitlab.emu.log.clear()
        yield gitlab, push, history


def run_vars(site, tmp_path, name, **extra):
    """The role's vars for one run: its own report and plan file, one request at a time."""
    result = dict(site.role_vars, cleanup_now=NOW, cleanup_policies=[POLICY], cleanup_concurrency=1,
                  cleanup_report_path=str(tmp_path / f"{name}-report.json"), cleanup_plan_path=str(tmp_path / f"{name}-plan.json"))
    result.update(extra)
    return result


def start(site, tmp_path, name):
    """The role in the background, ``-vvv --diff``."""
    return RoleRun(run_vars(site, tmp_path, name), tmp_path / name, env=VERBOSE, diff=True)


def assert_no_secret(site, *outputs):
    leaked = [secret[:4] + "..." for secret in site.secrets() if any(secret in text for text in outputs)]
    assert leaked == [], f"secret(s) {leaked} in the output of a -vvv --diff run"


def tag_deletes(records, names=None):
    """The tags the emulator deleted (``DELETE .../tags/<name>`` answered 200 or 204), in order; only ``names``, if given."""
    out = []
    for record in records:
        if record.method == "DELETE" and "/registry/repositories/" in record.path and "/tags/" in record.path \
                and record.status in (200, 204):
            name = record.path.rsplit("/tags/", 1)[1]
            if names is None or name in names:
                out.append(name)
    return out


def doomed_tags(history):
    """The tags of the digests the plan deletes (the artifact call's)."""
    return {tag for tag, digest in history["tags"].items() if digest in history["deleted"]}


def assert_state(site, history, expected):
    """The emulator and the registry behind it both show ``expected``; every image that stays is still there."""
    tags, real = site.state()
    assert tags == real == expected, (sorted(set(tags) ^ set(expected)), sorted(set(real) ^ set(expected)))
    client, repo = site.real
    assert all(client.manifest_exists(repo, digest) for digest in history["expected_digests"])


def assert_nothing_kept_lost(tags, history):
    for tag, digest in history["expected_tags"].items():
        assert tags.get(tag) == digest, (tag, tags.get(tag), digest)


def wait_until_quiet(site):
    """The kill stopped the run: once the request in flight at the kill (if any) has been answered, the emulator's log
    does not grow in the next half second."""
    time.sleep(1.0)
    count = len(site.emu.log)
    time.sleep(0.5)
    assert len(site.emu.log) == count, site.emu.log.records[count:]


# -- 1. killed halfway, run again ------------------------------------------------------------------------------------
@pytest.mark.parametrize("phase", ["untagging", "deleting"])
def test_killed_halfway_then_run_again(site, tmp_path, phase):
    """SIGKILL after the third tag delete of the tag call (``untagging``) or of the artifact call (``deleting``): nothing
    the policy keeps is lost at the kill, only planned tags are gone; the run again ends where a clean run ends, and its
    report names what it removed (what the killed run left), with figures that add up. (A digest's second tag delete
    follows its first at once: the kill has always landed between two digests, never within one; not asserted.)"""
    site, _push, history = site
    untag, doomed = history["untag"], doomed_tags(history)
    phase_tags = untag if phase == "untagging" else doomed

    run = start(site, tmp_path, "killed")
    wait_until(lambda: site.emu.log.records, lambda records: len(tag_deletes(records, phase_tags)) >= 3, [run])
    run.kill()
    wait_until_quiet(site)
    assert_plan_is_the_clean_one(tmp_path / "killed-plan.json", history)
    assert not (tmp_path / "killed-report.json").exists()
    deleted = tag_deletes(site.emu.log.records)

    # right after the kill: only planned tags gone, each once, those of the phase the run was in; nothing kept lost
    after_kill, real = site.state()
    assert after_kill == real
    assert_nothing_kept_lost(after_kill, history)
    gone = set(history["tags"]) - set(after_kill)
    assert sorted(gone) == sorted(deleted) and all(after_kill[t] == history["tags"][t] for t in after_kill)
    if phase == "untagging":
        assert 3 <= len(gone) < len(untag) and gone <= untag, sorted(gone)
    else:
        assert untag <= gone and 3 <= len(gone - untag) < len(doomed) and gone - untag <= doomed, sorted(gone)
    tagged = set(after_kill.values())
    half = sorted(d for d in history["deleted"] if d in tagged and any(history["tags"][t] == d for t in gone))
    print(f"\n[{phase}] killed after {len(deleted)} tag delete(s) ({len(run.killed)} process(es)); "
          f"{len(half)} digest(s) left with part of its tags")

    # run again, to the end
    site.emu.log.clear()
    rc, out, err = run_playbook(PLAYBOOK, extra_vars=run_vars(site, tmp_path, "again", cleanup_concurrency=4),
                                diff=True, env=VERBOSE)
    assert rc == 0, out + err
    assert_no_secret(site, out, err, run.output())
    assert_state(site, history, history["expected_tags"])
    # it deleted only what was left to delete, each tag once
    again = tag_deletes(site.emu.log.records)
    assert sorted(again) == sorted(set(after_kill) - set(history["expected_tags"]))

    # its report is truthful: what it says went is what the killed run left, and its figures add up
    summary = read_report(tmp_path / "again-report.json")["repositories"][site.repo]
    assert_adds_up(summary)
    assert summary["skipped"] == [] and summary["errors"] == [] and summary["leftovers"] == []
    assert summary["tags_before"] == len(after_kill) and summary["digests_before"] == len(tagged)
    assert sorted(summary["removed_tags"]) == sorted(again)
    assert set(summary["removed_from_surviving"]) == set(again) & untag
    assert set(summary["deleted_digests"]) == tagged - history["expected_digests"]
    assert summary["tags_after"] == len(history["expected_tags"]) and summary["digests_after"] == len(history["expected_digests"])
    # the two runs together removed exactly the planned tags, each once
    assert collections.Counter(deleted + again) == collections.Counter(set(history["tags"]) - set(history["expected_tags"]))


# -- 2. two cleanups of the same repository at once ------------------------------------------------------------------
def test_two_cleanups_at_once(site, tmp_path):
    """The same policy run twice side by side: both end without an error, the end state is the clean one, every planned
    tag is deleted exactly once (the other run's try is answered 404: gone is gone), and each report names every
    removal of its own plan (an item the other run removed first is gone either way), nothing else.

    Run ``b`` reaches the emulator as ``localhost``, run ``a`` as ``127.0.0.1``: the ``Host`` header in the emulator's log
    tells whose request a tag delete was. Neither report counts what its run did not do: the bytes of a digest are those
    of the run that deleted its first tag (the other reports it absent, also when it deleted the digest's other tags)."""
    site, _push, history = site
    hosts = {"a": "127.0.0.1", "b": "localhost"}
    runs = {name: RoleRun(run_vars(site, tmp_path, name, cleanup_api_url=site.role_vars["cleanup_api_url"].replace(
        "127.0.0.1", host)), tmp_path / name, env=VERBOSE, diff=True) for name, host in hosts.items()}
    results = {name: run.wait() for name, run in runs.items()}
    for name, (rc, _out) in results.items():
        assert rc == 0, runs[name].output()
        assert_no_secret(site, runs[name].output())
    assert_state(site, history, history["expected_tags"])

    planned = set(history["tags"]) - set(history["expected_tags"])
    records = site.emu.log.records
    assert collections.Counter(tag_deletes(records)) == collections.Counter(planned)
    by_run = {name: [r for r in records if r.headers.get("Host", "").split(":")[0] == host] for name, host in hosts.items()}
    assert sum(map(len, by_run.values())) == len(records)
    removed, figures, overclaimed = set(), {}, {}
    for name in runs:
        with open(tmp_path / f"{name}-plan.json", encoding="utf-8") as handle:
            plan = json.load(handle)
        untag, deleted, leftovers = plan_removals(plan, site.repo)
        # a plan made once the other run had begun removes a part of the clean plan, never more
        assert set(untag) <= history["untag"] and set(deleted) <= history["deleted"] and leftovers == {}, name
        summary = read_report(tmp_path / f"{name}-report.json")["repositories"][site.repo]
        assert_adds_up(summary)
        assert summary["errors"] == [] and summary["skipped"] == [], summary
        assert sorted(summary["removed_tags"]) == sorted(set(untag) | {t for tags in deleted.values() for t in tags})
        assert set(summary["deleted_digests"]) == set(deleted)
        removed |= set(summary["removed_tags"])
        # what this run did itself: the tags it deleted (204), and the digests that are its deletes, with their bytes.
        # GitLab deletes a digest tag by tag; when two runs split one, it is the delete of the run that removed its first
        # tag, in the order both follow (by name: no protection rule here), over the plan's tags (providers/gitlab.py)
        mine = set(tag_deletes(by_run[name]))
        done = {digest for digest, tags in deleted.items() if sorted(tags)[0] in mine}
        sizes = {e["digest"]: e.get("size_bytes") or 0 for e in plan["delete_digests"]}
        figures[name] = {"deleted_tags": len(mine), "answered_404": len([r for r in by_run[name] if r.method == "DELETE" and r.status == 404]),
                         "digests_done": len(done), "digests_reported": summary["digests_deleted"],
                         "bytes_done": sum(sizes[d] for d in done), "bytes_freed": summary["bytes_freed"],
                         "clean_plan": len(untag) == 14 and len(deleted) == 12}
        if summary["bytes_freed"] != figures[name]["bytes_done"]:
            overclaimed[name] = len(deleted) - len(done)
    assert removed == planned
    print(f"\n[two at once] {figures}")
    # neither report counts the bytes of digests the other run deleted (the provider reports those absent: AlreadyGone)
    assert not overclaimed, figures


# -- 3. pushes during a cleanup -------------------------------------------------------------------------------------------
def test_pushes_during_a_cleanup_survive(site, tmp_path):
    """After the run's first tag delete, someone pushes: the tag call's last tag MOVED onto a new image, a NEW tag on a new
    image, a NEW tag onto a digest the plan deletes, and the kept tag ``latest`` MOVED onto another digest the plan
    deletes. The emulator's log shows that they landed while the tag call was still at work, before the artifact call
    re-read the tags. After the run every pushed tag points where it was pushed; the moved tag was skipped (``moved``)
    and the two digests that gained a tag kept with their own tags (``tags_changed``); the rest is the clean plan."""
    site, push, history = site
    client, repo = site.real
    images = history["images"]
    moved_tag = max(history["untag"])  # the tag call's last tag (it removes them in sorted order)
    assert moved_tag == "sha-0000012" and {images[1], images[2]} <= history["deleted"]

    run = start(site, tmp_path, "run")
    wait_until(lambda: site.emu.log.records, tag_deletes, [run])
    push("moved", [moved_tag], RECENT)
    push("hotfix", ["hotfix-1"], RECENT)
    client.tag(repo, "hotfix-2", images[1])
    client.tag(repo, "latest", images[2])
    landed = tag_deletes(site.emu.log.records)
    rc, out = run.wait()
    assert rc == 0, run.output()
    assert_no_secret(site, run.output())
    pushed = {moved_tag: site.digests["moved"], "hotfix-1": site.digests["hotfix"], "hotfix-2": images[1], "latest": images[2]}

    # whatever the interleaving: every tag pushed during the run is there, on the digest it was pushed onto
    tags, real = site.state()
    assert tags == real
    for tag, digest in pushed.items():
        assert tags.get(tag) == digest, (tag, tags.get(tag), digest)

    # the pushes landed during the tag call (before it reached the moved tag), before the artifact call
    assert 1 <= len(landed) < len(history["untag"]) and set(landed) <= history["untag"], landed
    deleted = tag_deletes(site.emu.log.records)
    assert moved_tag not in deleted

    report = read_report(tmp_path / "run-report.json")
    summary = report["repositories"][site.repo]
    assert_adds_up(summary)
    assert summary["errors"] == []
    skipped = {item.get("tag") or item.get("digest"): item for item in summary["skipped"]}
    print(f"\n[pushes] pushed after tag delete #{len(landed)}; skipped {[(k[:19], v['reason']) for k, v in skipped.items()]}; "
          f"deleted digests {len(summary['deleted_digests'])}; tags deleted {len(deleted)}")
    assert set(skipped) == {moved_tag, images[1], images[2]}, summary["skipped"]
    assert skipped[moved_tag]["reason"] == "moved" and pushed[moved_tag] in skipped[moved_tag]["msg"]
    for tag, digest in (("hotfix-2", images[1]), ("latest", images[2])):
        assert skipped[digest]["reason"] == "tags_changed" and tag in skipped[digest]["msg"], skipped[digest]
    # so: the clean plan, but for the moved tag, and the two digests kept with their own tags
    kept_with = {t: d for t, d in history["tags"].items() if d in (images[1], images[2]) and t not in pushed}
    expected = dict(history["expected_tags"], **kept_with, **pushed)
    assert tags == expected, sorted(set(tags.items()) ^ set(expected.items()))
    assert set(summary["deleted_digests"]) == history["deleted"] - {images[1], images[2]}
    assert sorted(summary["removed_tags"]) == sorted(deleted) == sorted(set(history["tags"]) - set(expected))
