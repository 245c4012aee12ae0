#!/usr/bin/env python
"""Benchmark of bulk tag/artifact removal in regops.registry against a real distribution 2.8 registry.

NOT a test: it measures and prints. One run gives, side by side:

* Issue A (module level): remove ``--a-tags`` tags (default 1,000) with ONE ``regops.registry.tag``
  call (state=absent, list of ``repo:tag``) vs a playbook that loops the module once per tag
  (measured on ``--naive-sample`` tags, extrapolated, labelled as such).
* Issue B (role level): seed ``--tags`` tags (default 10,000; realistic mix) and remove about half
  with ``roles/cleanup``; compare with the naive per-tag loop (sample, extrapolated) and with the raw
  request floor (a plain ``requests.Session`` keep-alive client, same concurrency, same requests,
  no Ansible and no collection code).

Results: a table on stdout and ``bench/results/latest.json``. See bench/README.md.
"""

import argparse
import datetime
import hashlib
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# pylint: disable=wrong-import-position
from common import (  # noqa: E402
    ACCEPT, RESULTS_DIR, RawClient, cjson, config_bytes_for, fmt_table, image_body, iso, log, machine, measured, play,
    run_playbook, sha256,
)
import growth  # noqa: E402
import providers  # noqa: E402
from tests.support.registry import LocalRegistry  # noqa: E402

# pylint: enable=wrong-import-position

# Issue B policy: the fixed "now", the age cut and the protected release tags.
NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)
SPREAD_DAYS = 360           # image `created` spread over ~12 simulated months before NOW
OLDER_THAN_DAYS = 180       # -> about half of the images are older
RELEASE_RE = re.compile(r"^v\d+\.\d+\.\d+$")
POLICY = {
    "name": "bench-half",
    "tag_state": "tagged",
    "older_than": "%dd" % OLDER_THAN_DAYS,
    "age_basis": "created",
    "keep": {"latest": True, "tags": [r"re:v\d+\.\d+\.\d+"], "min_age": "1h"},
    "allow_empty_repository": True,
}


def conn_args(registry, concurrency):
    args = {"provider": "oci", "api_url": registry.url, "concurrency": concurrency}
    if registry.auth == "htpasswd":
        args.update(api_username=registry.username, api_password=registry.password)
    return args


def bulk_tag_play(registry, concurrency):
    task = {"name": "remove the tags (one call)", "regops.registry.tag": dict(conn_args(registry, concurrency), name="{{ bench_tags }}", state="absent")}
    return play([task])


def naive_tag_play(registry, concurrency):
    task = {"name": "remove one tag per task", "regops.registry.tag": dict(conn_args(registry, concurrency), name="{{ item }}", state="absent"),
            "loop": "{{ bench_tags }}"}
    return play([task])


# ---------------------------------------------------------------------------
# Seeding
# ---------------------------------------------------------------------------
def seed_same_image(client, repo, tags, created="2026-01-01T00:00:00Z"):
    """One small image, its manifest bytes re-PUT under every tag (one request per tag)."""
    layer = b"bench-layer-" + repo.encode()
    layer_digest = client.push_blob(repo, layer)
    config = config_bytes_for(created, layer_digest, repo)
    client.push_blob(repo, config)
    body = image_body(layer_digest, len(layer), config)
    client.pmap(lambda t: client.put_manifest(repo, t, body), tags, concurrency=max(8, client.concurrency))
    return sha256(body)


def repo_layout(repo, count, rng):
    """The tag mix of one Issue B repository: [(image id, created, [tags])]."""
    n_release = max(1, round(count * 0.04))
    n_pair = max(1, round(count * 0.04))
    n_unique = count - 1 - 2 * (n_release + n_pair)
    kinds = ["unique"] * n_unique + ["release"] * n_release + ["pair"] * n_pair
    rng.shuffle(kinds)
    images = []
    minor = 0
    for index, kind in enumerate(kinds):
        age = rng.uniform(1, SPREAD_DAYS)
        created = iso(NOW - datetime.timedelta(days=age))
        tags = ["build-%05d" % index]
        if kind == "release":
            minor += 1
            tags.append("v1.%d.%d" % (minor // 10, minor % 10))
        elif kind == "pair":
            tags.append("sha-%s" % hashlib.sha1(("%s%d" % (repo, index)).encode()).hexdigest()[:10])
        images.append({"id": "%s#%d" % (repo, index), "created": created, "tags": tags})
    newest = max(images, key=lambda i: i["created"])
    newest["tags"].append("latest")
    return images


def seed_repo_mix(client, repo, images):
    layer = b"bench-shared-layer-" + repo.encode()
    layer_digest = client.push_blob(repo, layer)

    def push(image):
        config = config_bytes_for(image["created"], layer_digest, image["id"])
        client.push_blob(repo, config)
        body = image_body(layer_digest, len(layer), config)
        for tag in image["tags"]:
            client.put_manifest(repo, tag, body)
        image["digest"] = sha256(body)

    client.pmap(push, images, concurrency=max(8, client.concurrency))


def expected_after(images):
    """Tags the Issue B policy keeps: {tag} (ground truth from the seed plan)."""
    cutoff = NOW - datetime.timedelta(days=OLDER_THAN_DAYS)
    kept = set()
    for image in images:
        old = image["created"] < iso(cutoff)
        for tag in image["tags"]:
            if not old or tag == "latest" or RELEASE_RE.match(tag):
                kept.add(tag)
    return kept


def clone_registry(source, auth):
    """A second registry serving a copy of ``source``'s storage (identical content, its own access log)."""
    clone = LocalRegistry(auth=auth)
    clone.start()
    clone._proc.terminate()  # pylint: disable=protected-access
    clone._proc.wait()  # pylint: disable=protected-access
    clone._proc = None  # pylint: disable=protected-access
    clone._log_handle.close()  # pylint: disable=protected-access
    clone._log_handle = None  # pylint: disable=protected-access
    shutil.rmtree(clone.storage_dir)
    subprocess.run(["cp", "-a", source.storage_dir, clone.storage_dir], check=True)
    if auth == "htpasswd":
        # Same credentials as the source, so one RawClient config fits both.
        clone.username, clone.password = source.username, source.password
        subprocess.run(["cp", os.path.join(source.workdir, "htpasswd"), os.path.join(clone.workdir, "htpasswd")], check=True)
    with open(clone.log_path, "wb"):
        pass
    clone._spawn()  # pylint: disable=protected-access
    return clone


# ---------------------------------------------------------------------------
# The raw request floor for Issue B
# ---------------------------------------------------------------------------
def floor_cleanup(client, repos, recheck=False):
    """What the role's snapshot + deletion phase needs, as plain keep-alive requests with a thread pool.

    snapshot: tags/list per repo, HEAD per tag, GET manifest per digest, GET config blob per digest;
    plan: the same policy as POLICY (created < now-180d, keep latest and vX.Y.Z);
    delete: per repository with tags to untag: one throwaway image (2 blob uploads), PUT it to each tag,
    DELETE it; DELETE every fully selected digest. With ``recheck`` the tag->digest map is read again
    before the deletes (what the role's modules do for safety).
    """
    cutoff = iso(NOW - datetime.timedelta(days=OLDER_THAN_DAYS))
    phases = {}
    t_phase = time.monotonic()

    def lap(name):
        nonlocal t_phase
        now = time.monotonic()
        phases[name] = round(now - t_phase, 3)
        t_phase = now

    listed = dict(zip(repos, client.pmap(client.tags, repos)))
    pairs = [(repo, tag) for repo in repos for tag in listed[repo]]
    heads = client.pmap(lambda p: client.head(p[0], p[1]), pairs)
    by_digest = {}
    for (repo, tag), digest in zip(pairs, heads):
        by_digest.setdefault((repo, digest), []).append(tag)
    refs = list(by_digest)

    def describe(ref):
        manifest = client.req("GET", "/v2/%s/manifests/%s" % ref, headers={"Accept": ACCEPT}).json()
        config = client.req("GET", "/v2/%s/blobs/%s" % (ref[0], manifest["config"]["digest"])).json()
        return config.get("created")

    created = dict(zip(refs, client.pmap(describe, refs)))
    lap("snapshot")
    untag, delete = {}, []
    for ref, tags in by_digest.items():
        old = created[ref] < cutoff
        chosen = [t for t in tags if old and t != "latest" and not RELEASE_RE.match(t)]
        if chosen and len(chosen) == len(tags):
            delete.append(ref)
        elif chosen:
            untag.setdefault(ref[0], []).extend(chosen)
    if recheck:
        relisted = dict(zip(repos, client.pmap(client.tags, repos)))
        again = [(repo, tag) for repo in repos for tag in relisted[repo]]
        client.pmap(lambda p: client.head(p[0], p[1]), again)
        lap("recheck")

    def untag_repo(repo):
        tags = untag[repo]
        layer_digest = client.push_blob(repo, b"{}")
        config = cjson({"architecture": "amd64", "os": "linux", "created": iso(NOW), "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
                        "config": {"Labels": {"delete-nonce": os.urandom(8).hex()}}})
        client.push_blob(repo, config)
        body = image_body(layer_digest, 2, config)
        client.pmap(lambda t: client.put_manifest(repo, t, body), tags)
        client.req("DELETE", "/v2/%s/manifests/%s" % (repo, sha256(body)), ok=(202,))
        return len(tags)

    removed_by_untag = sum(client.pmap(untag_repo, sorted(untag), concurrency=1))
    lap("untag")
    client.pmap(lambda ref: client.req("DELETE", "/v2/%s/manifests/%s" % ref, ok=(202,)), delete)
    lap("delete_digests")
    return {"phase_s": phases, "tags_before": len(pairs), "digests_before": len(refs), "tags_untagged": removed_by_untag, "digests_deleted": len(delete),
            "tags_removed": removed_by_untag + sum(len(by_digest[r]) for r in delete)}


def remaining_tags(client, repos):
    return {repo: set(tags) for repo, tags in zip(repos, client.pmap(client.tags, repos))}


# ---------------------------------------------------------------------------
# Benchmark sections
# ---------------------------------------------------------------------------
def startup_cost(opts, workroot, runs):
    """ansible-playbook with one artifact_info on an empty registry (median of ``runs``)."""
    with LocalRegistry(auth=opts.auth) as empty:
        task = {"name": "snapshot an empty registry", "regops.registry.artifact_info": conn_args(empty, opts.concurrency)}
        samples = []
        for index in range(runs):
            res, reqs, _by = measured(empty, lambda i=index: run_playbook(play([task]), {}, "startup%d" % i, workroot))
            res["http_requests"] = reqs
            samples.append(res)
    walls = [s["wall_s"] for s in samples]
    return {"runs": samples, "wall_s_median": round(statistics.median(walls), 3), "wall_s_all": walls}


def issue_a(opts, workroot):
    log("Issue A: seeding %d tags (+%d for the naive sample)" % (opts.a_tags, opts.naive_sample))
    result = {"tags": opts.a_tags, "naive_sample": opts.naive_sample}
    with LocalRegistry(auth=opts.auth) as reg:
        client = RawClient(reg, opts.concurrency)
        repos = ["bench-a/app%d" % i for i in range(opts.a_repos)]
        refs = []
        t0 = time.monotonic()
        for r_index, repo in enumerate(repos):
            share = opts.a_tags // len(repos) + (1 if r_index < opts.a_tags % len(repos) else 0)
            tags = ["t%05d" % i for i in range(share)]
            seed_same_image(client, repo, tags)
            refs.extend("%s:%s" % (repo, t) for t in tags)
        naive_repo = "bench-a/naive"
        naive_tags = ["t%05d" % i for i in range(opts.naive_sample)]
        seed_same_image(client, naive_repo, naive_tags)
        result["seed_s"] = round(time.monotonic() - t0, 2)

        log("Issue A (a): one regops.registry.tag call removing %d tags" % len(refs))
        bulk, reqs, by = measured(reg, lambda: run_playbook(bulk_tag_play(reg, opts.concurrency), {"bench_tags": refs}, "a-bulk", workroot))
        bulk.update(http_requests=reqs, http_breakdown=by, tags_removed=len(refs))
        left = sum(len(t) for t in remaining_tags(client, repos).values())
        bulk["tags_left_after"] = left
        result["bulk"] = bulk

        log("Issue A (b): naive loop, one task per tag, on %d tags (sample)" % len(naive_tags))
        naive_refs = ["%s:%s" % (naive_repo, t) for t in naive_tags]
        naive, reqs, by = measured(reg, lambda: run_playbook(naive_tag_play(reg, opts.concurrency), {"bench_tags": naive_refs}, "a-naive", workroot))
        naive.update(http_requests=reqs, http_breakdown=by, tags_removed=len(naive_refs),
                     tags_left_after=len(client.tags(naive_repo)))
        result["naive_sample_run"] = naive
    return result


def issue_b(opts, workroot):
    rng = random.Random(opts.seed)
    repos = ["bench-b/svc%02d" % i for i in range(opts.b_repos)]
    per_repo = [opts.tags // len(repos) + (1 if i < opts.tags % len(repos) else 0) for i in range(len(repos))]
    layouts = {repo: repo_layout(repo, count, rng) for repo, count in zip(repos, per_repo)}
    naive_repo = "bench-b/naive"
    naive_layout = repo_layout(naive_repo, max(per_repo), rng)
    result = {"tags": sum(len(i["tags"]) for imgs in layouts.values() for i in imgs), "repositories": len(repos),
              "images": sum(len(imgs) for imgs in layouts.values()), "policy": POLICY, "now": iso(NOW)}
    shared = sum(1 for imgs in layouts.values() for i in imgs if len(i["tags"]) > 1)
    result["digests_with_several_tags"] = shared
    expected = {repo: expected_after(imgs) for repo, imgs in layouts.items()}
    result["expected_tags_removed"] = result["tags"] - sum(len(k) for k in expected.values())

    reg = LocalRegistry(auth=opts.auth).start()
    clones = []
    try:
        client = RawClient(reg, opts.concurrency)
        log("Issue B: seeding %d tags (%d images) in %d repositories (+%d tags in %s for the naive sample)" % (
            result["tags"], result["images"], len(repos), sum(len(i["tags"]) for i in naive_layout), naive_repo))
        t0 = time.monotonic()
        for repo in repos:
            seed_repo_mix(client, repo, layouts[repo])
        seed_repo_mix(client, naive_repo, naive_layout)
        result["seed_s"] = round(time.monotonic() - t0, 2)
        result["seed_requests"] = client.sent
        log("Issue B: seeded in %.1fs (%d requests); cloning the storage for the floor runs" % (result["seed_s"], client.sent))
        t0 = time.monotonic()
        floor_reg = clone_registry(reg, opts.auth)
        clones.append(floor_reg)
        safe_reg = clone_registry(reg, opts.auth)
        clones.append(safe_reg)
        result["clone_s"] = round(time.monotonic() - t0, 2)

        # (b) naive sample: old build tags of the dedicated repository (same size and mix as the others).
        cutoff = iso(NOW - datetime.timedelta(days=OLDER_THAN_DAYS))
        candidates = [t for i in naive_layout if i["created"] < cutoff for t in i["tags"] if t.startswith("build-")]
        naive_refs = ["%s:%s" % (naive_repo, t) for t in candidates[:opts.naive_sample]]
        log("Issue B (b): naive loop on %d tags of %s (sample)" % (len(naive_refs), naive_repo))
        naive, reqs, by = measured(reg, lambda: run_playbook(naive_tag_play(reg, opts.concurrency), {"bench_tags": naive_refs}, "b-naive", workroot))
        naive.update(http_requests=reqs, http_breakdown=by, tags_removed=len(naive_refs))
        result["naive_sample_run"] = naive

        # (a) the role
        log("Issue B (a): roles/cleanup on %d tags" % result["tags"])
        role_vars = {
            "cleanup_provider": "oci", "cleanup_api_url": reg.url, "cleanup_concurrency": opts.concurrency,
            "cleanup_repositories": repos, "cleanup_policies": [POLICY], "cleanup_now": iso(NOW),
            "cleanup_print_plan": opts.print_plan,
        }
        if reg.auth == "htpasswd":
            role_vars.update(cleanup_api_username=reg.username, cleanup_api_password=reg.password)
        role_play = [{"name": "cleanup", "hosts": "localhost", "gather_facts": False, "roles": [{"role": "regops.registry.cleanup"}]}]
        role, reqs, by = measured(reg, lambda: run_playbook(role_play, role_vars, "b-role", workroot))
        role.update(http_requests=reqs, http_breakdown=by)
        after = remaining_tags(client, repos)
        role["tags_removed"] = result["tags"] - sum(len(t) for t in after.values())
        role["matches_expected"] = all(after[r] == expected[r] for r in repos)
        role["task_seconds"] = {t["name"]: t["seconds"] for t in role["tasks"]}
        result["role"] = role

        # (c) the raw request floor, on an identical copy of the registry
        for key, target, recheck in (("floor", floor_reg, False), ("floor_recheck", safe_reg, True)):
            log("Issue B (c): raw request floor%s" % (" with the role's safety re-reads" if recheck else ""))
            fclient = RawClient(target, opts.concurrency)
            stats, reqs, by = measured(target, lambda c=fclient, rc=recheck: floor_cleanup(c, repos, recheck=rc))
            stats.update(wall_s=round(sum(stats["phase_s"].values()), 3), http_requests=reqs, http_breakdown=by)
            after_floor = remaining_tags(fclient, repos)
            stats["matches_expected"] = all(after_floor[r] == expected[r] for r in repos)
            stats["same_result_as_role"] = after_floor == after
            result[key] = stats
    finally:
        for clone in clones:
            clone.stop()
        reg.stop()
    return result


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def _runs(results):
    runs = list(results["startup"]["runs"])
    for key in ("issue_a", "issue_b"):
        for value in (results.get(key) or {}).values():
            if isinstance(value, dict) and "wall_s" in value:
                runs.append(value)
    return runs


def derive(results):
    """Per-tag costs, extrapolations and ratios."""
    startup = results["startup"]["wall_s_median"]
    startup_cpu = statistics.median(r["client_cpu_s"] for r in results["startup"]["runs"])
    out = {"startup_s": startup, "startup_client_cpu_s": startup_cpu}
    a = results.get("issue_a")
    if a:
        bulk, naive = a["bulk"], a["naive_sample_run"]
        n, s = bulk["tags_removed"], naive["tags_removed"]
        naive_per_tag = max(naive["wall_s"] - startup, 0.0) / s
        out["a"] = {
            "bulk_per_tag_ms": 1000 * bulk["wall_s"] / n,
            "bulk_per_tag_ms_excl_startup": 1000 * max(bulk["wall_s"] - startup, 0.0) / n,
            "naive_per_tag_ms": 1000 * naive_per_tag,
            "naive_requests_per_tag": naive["http_requests"] / s,
            "bulk_requests_per_tag": bulk["http_requests"] / n,
            "naive_extrapolated_wall_s": startup + naive_per_tag * n,
            "naive_extrapolated_requests": round(naive["http_requests"] / s * n),
            "naive_extrapolated_invocations": round(naive["module_invocations"] / s * n),
            "naive_per_tag_over_bulk_per_tag": naive_per_tag / (bulk["wall_s"] / n),
        }
    b = results.get("issue_b")
    if b:
        role, floor, naive = b["role"], b["floor"], b["naive_sample_run"]
        n, s = role["tags_removed"], naive["tags_removed"]
        naive_per_tag = max(naive["wall_s"] - startup, 0.0) / s
        role_net = max(role["wall_s"] - startup, 0.0)
        out["b"] = {
            "role_per_tag_ms": 1000 * role["wall_s"] / n,
            "naive_per_tag_ms": 1000 * naive_per_tag,
            "naive_requests_per_tag": naive["http_requests"] / s,
            "naive_extrapolated_wall_s": startup + naive_per_tag * n,
            "naive_extrapolated_requests": round(naive["http_requests"] / s * n),
            "naive_extrapolated_invocations": round(naive["module_invocations"] / s * n),
            "role_over_floor_raw": role["wall_s"] / floor["wall_s"],
            "role_minus_startup_over_floor": role_net / floor["wall_s"],
            "role_minus_startup_over_floor_recheck": role_net / b["floor_recheck"]["wall_s"],
            "role_requests_over_floor_requests": role["http_requests"] / floor["http_requests"],
            "role_requests_over_floor_recheck_requests": role["http_requests"] / b["floor_recheck"]["http_requests"],
            "naive_per_tag_over_role_per_tag": naive_per_tag / (role["wall_s"] / n),
            "client_cpu_role_minus_startup_over_floor": (role["client_cpu_s"] - startup_cpu) / floor["client_cpu_s"],
            "registry_cpu_role_over_floor": role["registry_cpu_s"] / floor["registry_cpu_s"],
            "registry_cpu_role_over_floor_recheck": role["registry_cpu_s"] / b["floor_recheck"]["registry_cpu_s"],
            "naive_cpu_per_tag_over_role_cpu_per_tag": (
                ((naive["client_cpu_s"] + naive["registry_cpu_s"] - startup_cpu) / s) / ((role["client_cpu_s"] + role["registry_cpu_s"]) / n)),
        }
    return out


def render(results):
    d = results["derived"]
    out = []
    out.append("regops.registry benchmark  (%s; %s CPUs; registry auth=%s; concurrency=%s)" % (
        results["machine"].get("cpu_model"), results["machine"].get("cpus"), results["options"]["auth"], results["options"]["concurrency"]))
    out.append("fixed start-up cost (ansible-playbook + one artifact_info on an empty registry, median of %d): %.2f s wall, %.2f s CPU" % (
        len(results["startup"]["wall_s_all"]), d["startup_s"], d["startup_client_cpu_s"]))
    out.append("1-min load average on this shared box during the runs: %s" % results.get("load_range"))
    headers = ["run", "tags", "wall s", "HTTP req", "req/tag", "module calls", "ms/tag", "CPU s client/registry", "max RSS MB (1 proc / tree)"]

    def cpu(run):
        return "%.1f / %.1f" % (run.get("client_cpu_s") or 0, run.get("registry_cpu_s") or 0)

    a = results.get("issue_a")
    if a:
        bulk, naive, da = a["bulk"], a["naive_sample_run"], d["a"]
        out.append("")
        out.append("Issue A: remove %d tags (distribution 2.8, throwaway-manifest untag), %d repositories" % (
            bulk["tags_removed"], results["options"]["a_repos"]))
        rows = [
            ["(a) one tag call, state=absent", bulk["tags_removed"], "%.2f" % bulk["wall_s"], bulk["http_requests"], "%.2f" % da["bulk_requests_per_tag"],
             bulk["module_invocations"], "%.2f" % da["bulk_per_tag_ms"], cpu(bulk), "%s / %s" % (bulk["max_single_rss_mb"], bulk["tree_peak_rss_mb"])],
            ["(b) loop, 1 tag/task [MEASURED sample]", naive["tags_removed"], "%.2f" % naive["wall_s"], naive["http_requests"],
             "%.2f" % da["naive_requests_per_tag"], naive["module_invocations"], "%.1f" % da["naive_per_tag_ms"], cpu(naive),
             "%s / %s" % (naive["max_single_rss_mb"], naive["tree_peak_rss_mb"])],
            ["(b) loop [EXTRAPOLATED to %d]" % bulk["tags_removed"], bulk["tags_removed"], "%.1f" % da["naive_extrapolated_wall_s"],
             da["naive_extrapolated_requests"], "%.2f" % da["naive_requests_per_tag"], da["naive_extrapolated_invocations"],
             "%.1f" % da["naive_per_tag_ms"], "-", "-"],
        ]
        out.append(fmt_table(rows, headers))
        out.append("naive per-tag / bulk per-tag = %.0fx   (naive per tag = (wall - start-up)/sample; bulk per tag = whole wall/tags)"
                   % da["naive_per_tag_over_bulk_per_tag"])
    b = results.get("issue_b")
    if b:
        role, floor, fr, naive, db = b["role"], b["floor"], b["floor_recheck"], b["naive_sample_run"], d["b"]
        out.append("")
        title = "Issue B: roles/cleanup, %d tags (%d images, %d multi-tag digests) in %d repositories, %d tags removed (expected %d), " % (
            b["tags"], b["images"], b["digests_with_several_tags"], b["repositories"], role["tags_removed"], b["expected_tags_removed"])
        out.append(title + "policy older_than %dd by created" % OLDER_THAN_DAYS)
        rows = [
            ["(a) roles/cleanup", role["tags_removed"], "%.2f" % role["wall_s"], role["http_requests"], "%.2f" % (role["http_requests"] / role["tags_removed"]),
             role["module_invocations"], "%.2f" % db["role_per_tag_ms"], cpu(role), "%s / %s" % (role["max_single_rss_mb"], role["tree_peak_rss_mb"])],
            ["(b) loop, 1 tag/task [MEASURED sample]", naive["tags_removed"], "%.2f" % naive["wall_s"], naive["http_requests"],
             "%.2f" % db["naive_requests_per_tag"], naive["module_invocations"], "%.1f" % db["naive_per_tag_ms"], cpu(naive),
             "%s / %s" % (naive["max_single_rss_mb"], naive["tree_peak_rss_mb"])],
            ["(b) loop [EXTRAPOLATED to %d]" % role["tags_removed"], role["tags_removed"], "%.0f" % db["naive_extrapolated_wall_s"],
             db["naive_extrapolated_requests"], "%.2f" % db["naive_requests_per_tag"], db["naive_extrapolated_invocations"],
             "%.1f" % db["naive_per_tag_ms"], "-", "-"],
            ["(c) raw floor (requests.Session)", floor["tags_removed"], "%.2f" % floor["wall_s"], floor["http_requests"],
             "%.2f" % (floor["http_requests"] / floor["tags_removed"]), 0, "%.2f" % (1000 * floor["wall_s"] / floor["tags_removed"]), cpu(floor), "-"],
            ["(c') raw floor + role's re-reads", fr["tags_removed"], "%.2f" % fr["wall_s"], fr["http_requests"],
             "%.2f" % (fr["http_requests"] / fr["tags_removed"]), 0, "%.2f" % (1000 * fr["wall_s"] / fr["tags_removed"]), cpu(fr), "-"],
        ]
        out.append(fmt_table(rows, headers))
        out.append("role / floor: raw %.2fx; after subtracting the %.2f s start-up: %.2fx (target <= 1.5x); vs floor+re-reads: %.2fx" % (
            db["role_over_floor_raw"], d["startup_s"], db["role_minus_startup_over_floor"], db["role_minus_startup_over_floor_recheck"]))
        out.append("HTTP requests role / floor: %.2fx (vs floor+re-reads %.2fx)" % (
            db["role_requests_over_floor_requests"], db["role_requests_over_floor_recheck_requests"]))
        out.append("naive per-tag / role per-tag = %.0fx wall (target > 100x); %.0fx in CPU (client+registry)" % (
            db["naive_per_tag_over_role_per_tag"], db["naive_cpu_per_tag_over_role_cpu_per_tag"]))
        out.append("CPU: role client CPU minus start-up CPU / floor client CPU = %.2fx; registry CPU role / floor = %.2fx (/ floor+re-reads %.2fx)" % (
            db["client_cpu_role_minus_startup_over_floor"], db["registry_cpu_role_over_floor"], db["registry_cpu_role_over_floor_recheck"]))
        out.append("role correct (remaining tags == seed ground truth): %s; floor same end state as role: %s / %s" % (
            role["matches_expected"], floor["same_result_as_role"], fr["same_result_as_role"]))
        out.append("role task times (s): " + ", ".join("%s=%.2f" % (k.split(" : ", 1)[-1], v) for k, v in role["task_seconds"].items() if v >= 0.1))
        out.append("floor phases (s): %s; floor+re-reads: %s" % (floor["phase_s"], fr["phase_s"]))
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tags", type=int, default=10000, help="Issue B: tags to seed (default 10000)")
    parser.add_argument("--a-tags", type=int, default=1000, help="Issue A: tags removed by the one bulk call (default 1000)")
    parser.add_argument("--naive-sample", type=int, default=100, help="tags removed by the naive one-task-per-tag loop (default 100)")
    parser.add_argument("--concurrency", type=int, default=8, help="module concurrency and floor thread pool (default 8)")
    parser.add_argument("--a-repos", type=int, default=4, help="Issue A repositories (default 4)")
    parser.add_argument("--b-repos", type=int, default=8, help="Issue B repositories (default 8)")
    parser.add_argument("--auth", choices=("none", "htpasswd"), default="none",
                        help="registry auth (default none: distribution's htpasswd check is a bcrypt per request, ~8 ms of registry CPU)")
    parser.add_argument("--startup-runs", type=int, default=3)
    parser.add_argument("--print-plan", action="store_true", help="leave cleanup_print_plan on (role default true; off by default here)")
    parser.add_argument("--seed", type=int, default=20260601)
    parser.add_argument("--only", choices=("a", "b"), help="oci suite: run one issue only")
    parser.add_argument("--suite", choices=("oci", "providers", "growth", "all"), default="all",
                        help="oci: Issues A and B on the real registry; providers: every cloud emulator with latency; growth: 1k-50k tags; all (default)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run of the chosen suite(s)")
    parser.add_argument("--output", default=str(RESULTS_DIR / "latest.json"))
    providers.add_arguments(parser)
    growth.add_arguments(parser)
    opts = parser.parse_args(argv)
    if opts.quick:
        opts.tags, opts.a_tags, opts.naive_sample, opts.startup_runs = 200, 50, 3, 1
        providers.quick(opts)
        growth.quick(opts)
    growth.finish_options(opts)
    suites = ("oci", "providers", "growth") if opts.suite == "all" else (opts.suite,)
    workroot = tempfile.mkdtemp(prefix="regops-bench-")
    results = {"options": vars(opts), "machine": machine(), "started": iso(datetime.datetime.now(datetime.timezone.utc))}
    t0 = time.monotonic()
    loads = [os.getloadavg()[0]]
    try:
        if "oci" in suites:
            log("start-up cost: %d run(s) of ansible-playbook + artifact_info on an empty registry" % opts.startup_runs)
            results["startup"] = startup_cost(opts, workroot, opts.startup_runs)
            if opts.only in (None, "a"):
                results["issue_a"] = issue_a(opts, workroot)
            if opts.only in (None, "b"):
                results["issue_b"] = issue_b(opts, workroot)
            results["derived"] = derive(results)
            loads += [v for run in _runs(results) for v in run.get("loadavg_1m_before_after", [])]
            results["oci_s"] = round(time.monotonic() - t0, 1)
        if "providers" in suites:
            started = time.monotonic()
            results["providers"] = providers.suite(opts, workroot)
            results["providers_s"] = round(time.monotonic() - started, 1)
            loads.append(os.getloadavg()[0])
        if "growth" in suites:
            started = time.monotonic()
            results["growth"] = growth.suite(opts, workroot)
            results["growth_s"] = round(time.monotonic() - started, 1)
            loads += [v for row in results["growth"]["rows"] for v in row.get("loadavg_1m_before_after") or []]
        results["load_range"] = [round(min(loads), 2), round(max(loads), 2)]
        results["total_s"] = round(time.monotonic() - t0, 1)
    finally:
        if os.environ.get("REGOPS_BENCH_KEEP") != "1":
            shutil.rmtree(workroot, ignore_errors=True)
    Path(opts.output).parent.mkdir(parents=True, exist_ok=True)
    with open(opts.output, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2, sort_keys=True, default=str)
    sections = [render(results)] if "oci" in suites else ["regops.registry benchmark  (%s; %s CPUs; load %s)" % (
        results["machine"].get("cpu_model"), results["machine"].get("cpus"), results["load_range"])]
    for key, module in (("providers", providers), ("growth", growth)):
        if key in results:
            sections.append("%s\n(%.0f s)" % (module.render(results[key]), results["%s_s" % key]))
    print("\n\n".join(sections))
    print("\nJSON: %s   (total %.0f s)" % (opts.output, results["total_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
