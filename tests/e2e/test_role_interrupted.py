"""End to end: the ``cleanup`` role killed halfway, two cleanups at once, and pushes during a cleanup (issue 14).

Every run is the real ``ansible-playbook`` (tests/playbooks/cleanup.yml) against distribution 2.8, started with
``subprocess.Popen`` so that the test can act while it runs. The test watches the registry's access log (read from
the file as it grows, no request of its own) and acts on what it sees there: it kills the run after the first few
mutations of a phase, starts a second run beside it, or pushes tags. Every check reads the registry back with the
independent seed client.

One repository of 40 images (93 tags); the policy removes 70 tags (46 with 23 deleted digests, 24 from 12 images that
stay, which on distribution goes through the throwaway manifest) and keeps 23. The runs use ``cleanup_concurrency: 1``
so that each phase lasts long enough (about 24 tag PUTs, then 23 DELETEs, one after another) for the test to act in
the middle of it, not before or after it.

A killed run is killed as a process tree (tests/support/role_run.py: ansible-core's worker processes call ``setsid()``,
so killing the playbook's process group alone would leave the module running): frozen first, then killed.
"""

# pylint: disable=redefined-outer-name,too-many-locals
import collections
import datetime
import json
import os
import re
import time

import pytest

from tests.e2e.test_role_cleanup import assert_adds_up, image, read_report, role_vars, run_role
from tests.support.registry import MUTATING_METHODS, LoggedRequest
from tests.support.role_run import RoleRun, wait_until

THROWAWAY_ANNOTATION = "io.regops.registry.throwaway"
POLICY = {"name": "builds", "older_than": "30d", "age_basis": "created",
          "keep": {"latest": True, "tags": ["stable-*"], "last": 5}}
IMAGES = 40
KEEP_LAST = 5
ACCESS_RE = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<uri>\S+) HTTP/[0-9.]+" (?P<status>\d{3}) ')
SYNC_PATH = "/v2/?__regops_sync="


# -- the repository --------------------------------------------------------------------
def seed_builds(seed, repo, count=IMAGES):
    """``count`` images (40 by default), one every 5 days from 2026-01-01 (all older than 30 days at NOW), each tagged
    ``build-NN`` and ``sha-<7 hex>``; every third one below the newest 5 also ``stable-NN``; the newest ``latest``.

    What the policy (older_than 30d, keep latest, ``stable-*`` and the last 5) must do, computed here independently of
    the planner: of 40, images 35-39 stay with their tags (keep.last, ``latest``); the 12 ``stable-*`` images stay with
    only that tag (their ``build-``/``sha-`` tags go: the untag path); the 23 others are deleted with their tags.
    """
    images, tags = [], {}
    start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    for i in range(count):
        names = [f"build-{i:02d}", f"sha-{i:07x}"]
        if i % 3 == 0 and i < count - KEEP_LAST:
            names.append(f"stable-{i:02d}")
        if i == count - 1:
            names.append("latest")
        created = (start + datetime.timedelta(days=5 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        digest = image(seed, repo, names, created)
        images.append(digest)
        tags.update((name, digest) for name in names)
    stays = {i for i in range(count) if i >= count - KEEP_LAST or i % 3 == 0}
    untag = {tag for i in stays if i < count - KEEP_LAST for tag in (f"build-{i:02d}", f"sha-{i:07x}")}
    deleted = {images[i] for i in range(count) if i not in stays}
    expected = {tag: digest for tag, digest in tags.items() if tag not in untag and digest not in deleted}
    return {"repo": repo, "images": images, "tags": tags, "untag": untag, "deleted": deleted,
            "expected_tags": expected, "expected_digests": set(images) - deleted}


def plan_removals(plan, repo):
    """``(tags removed from images that stay {tag: digest}, digests deleted {digest: tags}, leftovers {digest: tags})``."""
    assert plan["blocked"] is False, plan["block_reasons"]
    untag = {e["tag"]: e["digest"] for e in plan["remove_tags"] if e["repository"] == repo}
    deleted = {e["digest"]: sorted(e.get("tags") or []) for e in plan["delete_digests"]
               if e["repository"] == repo and not e.get("leftover")}
    leftovers = {e["digest"]: sorted(e.get("tags") or []) for e in plan["delete_digests"]
                 if e["repository"] == repo and e.get("leftover")}
    return untag, deleted, leftovers


def assert_plan_is_the_clean_one(plan_path, history):
    """The plan the run wrote (before its first change) removes exactly what ``seed_builds`` says, and nothing kept."""
    with open(plan_path, encoding="utf-8") as handle:
        untag, deleted, leftovers = plan_removals(json.load(handle), history["repo"])
    assert leftovers == {}
    assert untag == {tag: history["tags"][tag] for tag in history["untag"]}
    assert set(deleted) == history["deleted"]
    for digest, tags in deleted.items():
        assert tags == sorted(t for t, d in history["tags"].items() if d == digest)


def is_throwaway(seed, repo, digest):
    """Whether ``digest`` is one of the collection's throwaway manifests (read with the seed client)."""
    _media_type, body = seed.get_manifest(repo, digest)
    return THROWAWAY_ANNOTATION in (json.loads(body).get("annotations") or {})


def digests_present(seed, repo, digests):
    return {digest for digest in digests if seed.manifest_exists(repo, digest)}


# -- the registry's access log, read as it grows -------------------------------------------------
class LogTail:
    """The registry's access log from now on, read incrementally from its file (sends no request itself)."""

    def __init__(self, registry):
        registry.mark()  # every line of an earlier request has landed
        self.path = registry.log_path
        with open(self.path, "rb") as handle:
            self.offset = handle.seek(0, os.SEEK_END)
        self.rest = b""
        self.entries = []

    def poll(self):
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read()
        self.offset += len(data)
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()
        for line in lines:
            match = ACCESS_RE.match(line.decode("utf-8", "replace"))
            if match and not match["uri"].startswith(SYNC_PATH):
                self.entries.append(LoggedRequest(match["method"], match["uri"], int(match["status"])))
        return self.entries

    def wait_for(self, predicate, runs):
        """Poll every few milliseconds until ``predicate(entries)``; fail when a run ended first."""
        return wait_until(self.poll, predicate, runs)


def tag_puts(entries, repo):
    """PUTs of a manifest under a tag (not a digest) in ``repo`` that the registry took."""
    prefix = f"/v2/{repo}/manifests/"
    return [e for e in entries if e.method == "PUT" and e.path.startswith(prefix) and e.status == 201
            and not e.path[len(prefix):].startswith("sha256:")]


def digest_deletes(entries, repo, digests):
    """DELETEs of one of ``digests`` in ``repo`` that the registry took (202)."""
    return [e for e in entries if e.method == "DELETE" and e.status == 202
            and e.path.rsplit("/manifests/", 1)[-1] in digests and e.path.startswith(f"/v2/{repo}/")]


def throwaways_deleted(entries, repo, history):
    """The digests of the throwaway manifests the run deleted: a 202 DELETE of a digest that is not one of the images."""
    return sorted({e.path.rsplit("/", 1)[-1] for e in entries if e.method == "DELETE" and e.status == 202
                   and e.path.startswith(f"/v2/{repo}/manifests/sha256:")} - set(history["images"]))


def run_vars(registry, history, tmp_path, name, **extra):
    """The role's vars for one run: its own report and plan file, one request at a time."""
    extra.setdefault("cleanup_concurrency", 1)
    return role_vars(registry, tmp_path / f"{name}-report.json", [history["repo"]], [POLICY],
                     cleanup_plan_path=str(tmp_path / f"{name}-plan.json"), **extra)


def assert_no_request_after_the_kill(registry):
    """The kill stopped the run: once the request in flight at the kill (sent, answered to no one) has landed, not one
    more request reaches the registry in the next half second."""
    time.sleep(1.0)
    mark = registry.mark()
    time.sleep(0.5)
    assert registry.requests_since(mark) == []


def assert_nothing_kept_lost(seed, history, tag_map):
    """Every tag the clean plan keeps points where it pointed, and every digest it keeps is there."""
    for tag, digest in history["expected_tags"].items():
        assert tag_map.get(tag) == digest, (tag, tag_map.get(tag), digest)
    assert digests_present(seed, history["repo"], history["expected_digests"]) == history["expected_digests"]


# -- 1. killed halfway, run again ------------------------------------------------------------
def _untagging(history):
    """After the third tag is pointed at the throwaway: the tag removal is under way, its throwaway not deleted."""
    return lambda entries: len(tag_puts(entries, history["repo"])) >= 3


def _deleting(history):
    """After the third planned digest is deleted: the tag removal is over, the digest deletion under way."""
    return lambda entries: len(digest_deletes(entries, history["repo"], history["deleted"])) >= 3


KILL_POINTS = {"untagging": _untagging, "deleting": _deleting}


@pytest.mark.parametrize("phase", sorted(KILL_POINTS))
def test_killed_halfway_then_run_again(registry, seed, prefix, tmp_path, phase):
    """SIGKILL in the middle of the tag removal (tags on the throwaway) or of the digest deletion: nothing the plan
    keeps is lost at the kill; the next run finishes the job (the leftover throwaway and its tags go) and ends exactly
    where a clean run ends, with a report that adds up and names what it removed."""
    started = time.monotonic()
    history = seed_builds(seed, f"{prefix}/app")
    repo = history["repo"]
    before_digests = set(history["images"])
    seeded = time.monotonic()

    # 1. the run, killed in the middle of a phase
    tail = LogTail(registry)
    run = RoleRun(run_vars(registry, history, tmp_path, "killed"), tmp_path / "killed")
    tail.wait_for(KILL_POINTS[phase](history), [run])
    run.kill()
    assert_no_request_after_the_kill(registry)
    entries = tail.poll()
    # the plan it wrote before its first change is the clean plan
    assert_plan_is_the_clean_one(tmp_path / "killed-plan.json", history)
    assert not (tmp_path / "killed-report.json").exists()

    # right after the kill: nothing kept lost, only planned removals happened, a tag is where it was or on a throwaway
    after_kill = seed.tag_map(repo)
    assert_nothing_kept_lost(seed, history, after_kill)
    on_throwaway = {}
    for tag, digest in after_kill.items():
        if digest != history["tags"][tag]:
            assert tag in history["untag"] and is_throwaway(seed, repo, digest), (tag, digest)
            on_throwaway.setdefault(digest, []).append(tag)
    gone_tags = set(history["tags"]) - set(after_kill)
    assert gone_tags <= history["untag"] | {t for t, d in history["tags"].items() if d in history["deleted"]}
    present = digests_present(seed, repo, before_digests)
    gone_digests = before_digests - present
    assert gone_digests <= history["deleted"]
    deletes = len(digest_deletes(entries, repo, history["deleted"]))
    if phase == "untagging":
        # killed between the throwaway's first PUT and its DELETE: some tags on it, no digest deleted yet
        assert len(on_throwaway) == 1 and len(next(iter(on_throwaway.values()))) >= 3, on_throwaway
        assert throwaways_deleted(entries, repo, history) == [] and gone_digests == set() and deletes == 0
        assert gone_tags == set()  # (a tag on the throwaway is still listed: it points at the throwaway)
        throwaways = list(on_throwaway)
    else:
        # the tag removal had finished (its throwaway deleted with its 24 tags), the deletion had not
        assert on_throwaway == {}
        throwaways = throwaways_deleted(entries, repo, history)
        assert len(throwaways) == 1, entries
        assert 3 <= len(gone_digests) == deletes < len(history["deleted"]), (len(gone_digests), deletes)
    print(f"\n[{phase}] killed after {len(tag_puts(entries, repo))} tag PUT(s) and {deletes} digest DELETE(s): "
          f"{len(gone_tags)} tag(s) and {len(gone_digests)} digest(s) gone, {sum(map(len, on_throwaway.values()))} "
          f"tag(s) on the throwaway, {len(run.killed)} process(es) killed; seeding {seeded - started:.1f}s, killed run "
          f"{time.monotonic() - seeded:.1f}s")
    again_started = time.monotonic()

    # 2. run again, to the end
    report_path = tmp_path / "again-report.json"
    mark = registry.mark()
    rc, out, err, changed = run_role(run_vars(registry, history, tmp_path, "again", cleanup_concurrency=8))
    assert rc == 0, out + err
    assert changed >= 1
    final = seed.tag_map(repo)
    assert final == history["expected_tags"]
    assert digests_present(seed, repo, before_digests) == history["expected_digests"]
    for digest in throwaways:  # no throwaway left behind, this run's or the killed one's
        assert not seed.manifest_exists(repo, digest)
    assert not [e for e in registry.requests_since(mark, ["DELETE"])
                if e.status == 202 and e.path.rsplit("/", 1)[-1] in history["expected_digests"]]

    # its report is truthful: figures that add up, and what it says went is what went
    report = read_report(report_path)
    summary = report["repositories"][repo]
    assert_adds_up(summary)
    assert summary["skipped"] == [] and summary["errors"] == [] and report["totals"]["errors"] == 0
    leftover_tags = {tag for tags in on_throwaway.values() for tag in tags}
    assert summary["leftovers"] == [{"digest": d, "tags": sorted(t), "action": "deleted"} for d, t in sorted(on_throwaway.items())]
    own_before = set(after_kill) - leftover_tags  # the tags the leftover holds are not the repository's own content
    assert summary["tags_before"] == len(own_before)
    assert sorted(summary["removed_tags"]) == sorted(own_before - set(final))
    assert set(summary["removed_from_surviving"]) == (own_before - set(final)) & history["untag"]
    assert set(summary["deleted_digests"]) == present - history["expected_digests"]
    assert summary["tags_after"] == len(final) and summary["digests_after"] == len(history["expected_digests"])
    # the two runs together removed exactly what the clean plan removes: nothing extra lost
    assert gone_tags | set(summary["removed_tags"]) | leftover_tags == set(history["tags"]) - set(history["expected_tags"])
    print(f"[{phase}] the second run: {summary['tags_before']} tags before - {summary['tags_removed']} removed "
          f"({summary['tags_removed_with_digests']} with {summary['digests_deleted']} digest(s) + "
          f"{summary['tags_removed_from_surviving']} from images that stay) = {summary['tags_after']} after; "
          f"leftovers {len(summary['leftovers'])} with {len(leftover_tags)} tag(s); kept {summary['kept_by_reason']}; "
          f"{time.monotonic() - again_started:.1f}s")


# -- 2. two cleanups of the same repository at once ---------------------------------------------------
def test_two_cleanups_at_once(registry, seed, prefix, tmp_path):
    """The same policy run twice side by side on the same repository: both end without an error, the end state is
    the clean one, nothing kept is lost, and between them the two reports account for every planned removal, each
    naming only what the plan removes (an item the other run got to first is gone either way: counted as removed by
    both, or skipped)."""
    history = seed_builds(seed, f"{prefix}/app")
    repo = history["repo"]
    tail = LogTail(registry)
    runs = {name: RoleRun(run_vars(registry, history, tmp_path, name), tmp_path / name) for name in ("a", "b")}
    results = {name: run.wait() for name, run in runs.items()}
    entries = tail.poll()
    for name, (rc, _out) in results.items():
        assert rc == 0, runs[name].output()

    final = seed.tag_map(repo)
    assert final == history["expected_tags"]
    assert digests_present(seed, repo, history["images"]) == history["expected_digests"]
    for digest in throwaways_deleted(entries, repo, history):
        assert not seed.manifest_exists(repo, digest)
    planned_tags = set(history["tags"]) - set(history["expected_tags"])
    throwaways = set(throwaways_deleted(entries, repo, history))
    removed = set()
    figures = {}
    for name in runs:
        # each run planned only removals of the clean plan (both snapshots are normally taken before either run changes
        # anything, and the plans are then the clean one; one taken later may also hold the other run's throwaway)
        with open(tmp_path / f"{name}-plan.json", encoding="utf-8") as handle:
            untag, deleted, leftovers = plan_removals(json.load(handle), repo)
        assert set(untag) <= history["untag"] and set(deleted) <= history["deleted"], name
        assert set(leftovers) <= throwaways, (name, leftovers)
        report = read_report(tmp_path / f"{name}-report.json")
        summary = report["repositories"][repo]
        assert_adds_up(summary)
        assert summary["errors"] == [] and report["totals"]["errors"] == 0
        assert set(summary["removed_tags"]) <= planned_tags
        assert set(summary["deleted_digests"]) <= history["deleted"]
        for item in summary["skipped"]:
            # a tag the other run had already pointed at its throwaway: the message says where it points. (One the other
            # run had removed is absent: counted in removed_tags, not skipped.) "expected" is what the tag call read
            # first: the planned digest, or the other run's throwaway when it found the tag there (a tag on a throwaway
            # is removed as a leftover whatever the plan expected: tag.py)
            assert item.get("tag") in history["untag"] and item["reason"] == "moved", item
            now = re.search(r"now points at (sha256:[0-9a-f]{64}), expected (sha256:[0-9a-f]{64})", item["msg"])
            assert now and now[1] in throwaways, item
            assert now[2] == history["tags"][item["tag"]] or now[2] in throwaways, item
        removed |= set(summary["removed_tags"])
        figures[name] = {"untagged": summary["tags_removed_from_surviving"], "digests": summary["digests_deleted"],
                         "skipped": len(summary["skipped"]), "bytes_freed": summary["bytes_freed"],
                         "clean_plan": not leftovers and len(untag) == 24 and len(deleted) == 23}
    # together they removed every planned tag (a tag skipped by one was removed by the other)
    assert removed == planned_tags
    deletes = digest_deletes(entries, repo, history["deleted"])
    # every planned digest deleted; mostly once (the other run's try answered 404), but distribution 2.8 answers 202 to
    # both of two DELETEs of one manifest that arrive together: both runs then did delete it, as far as they can tell
    accepted = collections.Counter(e.path.rsplit("/manifests/", 1)[-1] for e in deletes)
    assert set(accepted) == set(history["deleted"])
    puts = tag_puts(entries, repo)
    sizes = {}  # digest -> size_bytes, from both plans (the same plan, normally)
    for name in runs:
        with open(tmp_path / f"{name}-plan.json", encoding="utf-8") as handle:
            sizes.update((e["digest"], e.get("size_bytes") or 0) for e in json.load(handle)["delete_digests"] if not e.get("leftover"))
    plan_bytes = sum(sizes.values())
    claimed = sum(f["bytes_freed"] for f in figures.values())
    print(f"\n[two at once] per run: {figures}; tag PUTs onto throwaways {len(puts)}, digest DELETEs answered 202: "
          f"{len(deletes)}, DELETEs answered 404: {len([e for e in entries if e.method == 'DELETE' and e.status == 404])}; "
          f"bytes freed claimed {claimed} of {plan_bytes}")
    # The bytes the two reports say they freed add up to the plan's: a DELETE answered 404 (the other run got there
    # first) is reported absent, not deleted, and its bytes are not counted; only a digest the registry accepted twice
    # is counted by both runs.
    twice = sum(sizes.get(digest, 0) for digest, count in accepted.items() if count > 1)
    assert claimed == plan_bytes + twice, (claimed, plan_bytes, twice, figures)


# -- 3. pushes during a cleanup ----------------------------------------------------------------------
def test_pushes_during_a_cleanup_survive(registry, seed, prefix, tmp_path):
    """While a run removes tags (its first mutation seen in the access log), someone pushes: a NEW tag onto a digest the
    plan deletes, the kept tag ``latest`` MOVED onto another digest the plan deletes, and a tag the plan removes from an
    image that stays MOVED onto a third one before the run reached it. After the run every pushed tag points where it
    was pushed, the three digests are kept (the artifact call's re-read found tags it did not expect: ``tags_changed``)
    and the moved tag was left alone (the tag call's re-read just before the PUT: ``moved``); the rest is the clean plan.

    The pushes land while the tag call works through its 24 tags one at a time (the moved tag is its last, in sorted
    order), well before the artifact call re-reads the tags; the access log proves that order, and the assertions on
    the report rely on it. Whatever the order, what must hold is asserted first: nothing pushed is lost."""
    history = seed_builds(seed, f"{prefix}/app")
    repo, images = history["repo"], history["images"]
    moved_tag = max(history["untag"])  # the tag call's last tag
    pushed = {moved_tag: images[4], "hotfix-1": images[1], "latest": images[2]}
    assert set(pushed.values()) <= history["deleted"] and moved_tag == "sha-0000021"

    tail = LogTail(registry)
    run = RoleRun(run_vars(registry, history, tmp_path, "run"), tmp_path / "run")
    tail.wait_for(lambda entries: any(e.method in MUTATING_METHODS for e in entries), [run])
    for tag, digest in pushed.items():
        seed.tag(repo, tag, digest)
    rc, out = run.wait()
    entries = tail.poll()
    assert rc == 0, run.output()

    # whatever the interleaving: every tag pushed during the run is there, on the digest it was pushed onto
    final = seed.tag_map(repo)
    for tag, digest in pushed.items():
        assert final.get(tag) == digest, (tag, final.get(tag), digest)
    assert digests_present(seed, repo, set(pushed.values())) == set(pushed.values())

    # the order the access log shows: the pushes landed before the tag call reached the moved tag (it sent no PUT
    # for it) and before the tag call ended (its throwaway's DELETE), so before the artifact call re-read anything
    paths = [e.path for e in entries]
    throwaway_delete = [i for i, e in enumerate(entries) if e.method == "DELETE" and e.status == 202
                        and e.path.rsplit("/", 1)[-1] not in history["images"]]
    assert len(throwaway_delete) == 1, entries
    push_index = {tag: paths.index(f"/v2/{repo}/manifests/{tag}") for tag in pushed if tag != moved_tag}
    moved_puts = [i for i, e in enumerate(entries) if e.method == "PUT" and e.path == f"/v2/{repo}/manifests/{moved_tag}"]
    assert len(moved_puts) == 1, "the push did not land before the run reached the tag (timing): %s" % entries
    assert max(list(push_index.values()) + moved_puts) < throwaway_delete[0], entries

    # so: the pushed digests kept with their own tags, the moved tag skipped, everything else as the clean plan says
    kept_with = {t: d for t, d in history["tags"].items() if d in pushed.values() and t not in pushed}
    expected = dict(history["expected_tags"], **kept_with, **pushed)
    assert final == expected
    assert digests_present(seed, repo, images) == history["expected_digests"] | set(pushed.values())
    report = read_report(tmp_path / "run-report.json")
    summary = report["repositories"][repo]
    assert_adds_up(summary)
    assert summary["errors"] == []
    skipped = {item.get("tag") or item.get("digest"): item for item in summary["skipped"]}
    assert set(skipped) == {moved_tag} | set(pushed.values()), summary["skipped"]
    assert skipped[moved_tag]["reason"] == "moved" and images[4] in skipped[moved_tag]["msg"]
    for tag, digest in pushed.items():
        assert skipped[digest]["reason"] == "tags_changed" and tag in skipped[digest]["msg"], skipped[digest]
    assert summary["kept_by_reason"]["skipped"] == 1 + len(kept_with)
    assert set(summary["removed_tags"]) == set(history["tags"]) - set(expected)
    assert "skipped tag %s (moved)" % moved_tag in out
    print(f"\n[pushes] pushed {len(pushed)} tag(s) after the run's mutation #1 of "
          f"{len([e for e in entries if e.method in MUTATING_METHODS])}; skipped {sorted(i['reason'] for i in summary['skipped'])}; "
          f"removed {summary['tags_removed']} tag(s), {summary['digests_deleted']} digest(s)")
