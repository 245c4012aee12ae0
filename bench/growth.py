"""Growth suite: the snapshot and the cleanup role on 1k, 10k and 50k tags of a real registry.

Each size gets a fresh Debian ``docker-registry`` (``tests/support/registry.py`` ``LocalRegistry``, auth none) whose
storage is written straight to disk in distribution's filesystem layout, much faster than pushing 50,000 tags: the
same files a push writes (blob data, the repository's layer and revision links, one ``current/link`` per tag; not the
per-tag ``index`` link, which only a tag delete reads). Every repository holds ``--growth-tags-per-repo`` tags (default
1,000) on images that carry ``--growth-tags-per-image`` tags each (default 4: a CI build tag and three aliases); half of the
images are older than the policy's cut. A few tags are read back over ``/v2`` before each run, to check the registry
serves what was written.

Per size, ``roles/cleanup`` runs in check mode (it plans and reports, and deletes nothing): its snapshot task is
``artifact_info`` over every repository (``tags/list``, a ``HEAD`` per tag, the manifest and config per digest), then
the plan. Measured: the wall time of the whole run and of the snapshot task (the callback plugin's task times), HTTP
requests (the registry's access log), and peak memory: the largest single process's maximum RSS from
``/usr/bin/time -v`` (``getrusage(RUSAGE_CHILDREN)`` of the ``ansible-playbook`` tree: the controller or one module
process, whichever is bigger), and the sampled peak of the whole process tree.
"""

import datetime
import os
import time

from common import (  # pylint: disable=wrong-import-order
    OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, RawClient, cjson, fmt_table, iso, log, measured, run_playbook, sha256,
)
from tests.support.registry import LocalRegistry

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)
OLDER_THAN_DAYS = 180
POLICY = {"name": "growth-half", "older_than": "%dd" % OLDER_THAN_DAYS, "age_basis": "created", "keep": {"latest": True, "min_age": "1h"}}
LAYER = b"regops-bench-growth-layer"


class DiskSeeder:
    """Writes images and tags into a stopped-or-running registry's filesystem storage (distribution's layout)."""

    def __init__(self, storage_dir):
        self.root = os.path.join(storage_dir, "docker", "registry", "v2")
        self.files = 0

    def _write(self, path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
        self.files += 1

    def blob(self, data):
        """Store ``data`` once under ``blobs/``; returns its digest."""
        digest = sha256(data)
        path = os.path.join(self.root, "blobs", "sha256", digest[7:9], digest[7:], "data")
        if not os.path.exists(path):
            self._write(path, data)
        return digest

    def link(self, repo, *parts, digest):
        """A repository link file (``_layers/...``, ``_manifests/revisions/...``, ``_manifests/tags/...``)."""
        self._write(os.path.join(self.root, "repositories", repo, *parts, "link"), digest.encode())

    def image(self, repo, created, label, tags):
        """One image (shared layer, its own config) tagged with ``tags``; returns the manifest digest."""
        layer = self.blob(LAYER)
        config = cjson({"created": created, "architecture": "amd64", "os": "linux", "config": {"Labels": {"bench.id": label}},
                        "rootfs": {"type": "layers", "diff_ids": [layer]}, "history": [{"created": created, "created_by": "regops bench"}]})
        config_digest = self.blob(config)
        manifest = cjson({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                          "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                          "layers": [{"mediaType": OCI_LAYER, "digest": layer, "size": len(LAYER)}]})
        digest = self.blob(manifest)
        for blob in (layer, config_digest):
            self.link(repo, "_layers", "sha256", blob[7:], digest=blob)
        self.link(repo, "_manifests", "revisions", "sha256", digest[7:], digest=digest)
        for tag in tags:  # (a push also writes the tag's index/sha256/<digest>/link: only tag deletes read it, check mode does not)
            self.link(repo, "_manifests", "tags", tag, "current", digest=digest)
        return digest


def seed(registry, tags, per_repo, per_image):
    """``tags`` tags in repositories of ``per_repo``; returns ``{repositories, images, tags, expected_removed, seed_s, files}``."""
    started = time.monotonic()
    seeder = DiskSeeder(registry.storage_dir)
    repos, images, expected_removed, left = [], 0, 0, tags
    while left > 0:
        repo = "growth/svc%03d" % len(repos)
        count, left = min(per_repo, left), left - min(per_repo, left)
        repos.append(repo)
        for first in range(0, count, per_image):
            index = first // per_image
            old = index % 2 == 0
            created = iso(NOW - datetime.timedelta(days=(OLDER_THAN_DAYS + 30) if old else 10, seconds=index))
            names = ["build-%05d" % first] + ["alias-%05d" % n for n in range(first + 1, min(first + per_image, count))]
            seeder.image(repo, created, "%s#%d" % (repo, index), names)
            images += 1
            expected_removed += len(names) if old else 0
    return {"repositories": repos, "images": images, "tags": tags, "expected_removed": expected_removed,
            "seed_s": round(time.monotonic() - started, 2), "files": seeder.files}


def spot_check(registry, repos, per_repo):
    """The registry lists every tag of the first repository and resolves one tag of the last: what was written is served."""
    client = RawClient(registry, 4)
    listed = len(client.tags(repos[0]))
    resolved = client.head(repos[-1], "build-00000")
    if listed != min(per_repo, listed or per_repo) or not resolved:
        raise RuntimeError("the registry does not serve the seeded storage (listed %d tags, build-00000 -> %s)" % (listed, resolved))
    return listed


def run_size(tags, opts, workroot):
    """Seed ``tags`` tags in a fresh registry and run the role in check mode on them."""
    with LocalRegistry(auth="none") as registry:
        info = seed(registry, tags, opts.growth_tags_per_repo, opts.growth_tags_per_image)
        spot_check(registry, info["repositories"], opts.growth_tags_per_repo)
        role_vars = {"cleanup_provider": "oci", "cleanup_api_url": registry.url, "cleanup_concurrency": opts.concurrency,
                     "cleanup_repositories": info["repositories"], "cleanup_policies": [POLICY], "cleanup_now": iso(NOW),
                     "cleanup_print_plan": False, "cleanup_report_path": os.path.join(workroot, "growth-%d-report.json" % tags)}
        plays = [{"name": "cleanup (check mode)", "hosts": "localhost", "gather_facts": False, "check_mode": True,
                  "roles": [{"role": "regops.registry.cleanup"}]}]
        log("growth: %d tags (%d images, %d repositories, %d files written in %.1fs): roles/cleanup in check mode" % (
            tags, info["images"], len(info["repositories"]), info["files"], info["seed_s"]))
        run, requests, breakdown = measured(registry, lambda: run_playbook(plays, role_vars, "growth-%d" % tags, workroot))
    snapshot = sum(t["seconds"] for t in run["tasks"] if t["action"].endswith("artifact_info"))
    plan = sum(t["seconds"] for t in run["tasks"] if t["action"].endswith("retention_plan"))
    report = _read_json(role_vars["cleanup_report_path"])
    planned = (report.get("totals") or {}).get("removed_tags")
    return dict(info, repositories=len(info["repositories"]), wall_s=run["wall_s"], snapshot_s=round(snapshot, 2), plan_s=round(plan, 2),
                http_requests=requests, http_breakdown=breakdown, max_single_rss_mb=run.get("max_single_rss_mb"),
                tree_peak_rss_mb=run.get("tree_peak_rss_mb"), client_cpu_s=run.get("client_cpu_s"), registry_cpu_s=run.get("registry_cpu_s"),
                loadavg_1m_before_after=run.get("loadavg_1m_before_after"), planned_removed=planned,
                plan_matches_seed=planned == info["expected_removed"], task_seconds={t["name"]: t["seconds"] for t in run["tasks"]})


def _read_json(path):
    import json  # pylint: disable=import-outside-toplevel
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return {}


def suite(opts, workroot):
    """Every size in ``opts.growth_sizes``; per-tag figures against the smallest size."""
    rows = [run_size(size, opts, workroot) for size in opts.growth_sizes]
    base = rows[0]
    for row in rows:
        row["ms_per_tag"] = round(1000 * row["wall_s"] / row["tags"], 3)
        row["snapshot_ms_per_tag"] = round(1000 * row["snapshot_s"] / row["tags"], 3)
        row["requests_per_tag"] = round(row["http_requests"] / row["tags"], 3)
        if row is not base and row["max_single_rss_mb"] and base["max_single_rss_mb"]:
            row["rss_kb_per_extra_tag"] = round(1024 * (row["max_single_rss_mb"] - base["max_single_rss_mb"]) / (row["tags"] - base["tags"]), 2)
        row["rss_kb_per_tag"] = round(1024 * row["max_single_rss_mb"] / row["tags"], 2) if row["max_single_rss_mb"] else None
    return {"sizes": list(opts.growth_sizes), "tags_per_repo": opts.growth_tags_per_repo, "tags_per_image": opts.growth_tags_per_image,
            "concurrency": opts.concurrency, "rows": rows}


def render(results):
    """The growth table as text."""
    rows = []
    for row in results["rows"]:
        rows.append(["%d" % row["tags"], row["repositories"], row["images"], "%.1f" % row["wall_s"], "%.3f" % row["ms_per_tag"],
                     "%.1f" % row["snapshot_s"], "%.3f" % row["snapshot_ms_per_tag"], row["http_requests"], "%.2f" % row["requests_per_tag"],
                     "%.1f / %.1f" % (row.get("client_cpu_s") or 0, row.get("registry_cpu_s") or 0),
                     "%s / %s" % (row["max_single_rss_mb"], row["tree_peak_rss_mb"]), row.get("rss_kb_per_extra_tag", "-"),
                     "%s (%s)" % (row["planned_removed"], "ok" if row["plan_matches_seed"] else "expected %d" % row["expected_removed"])])
    headers = ["tags", "repos", "images", "wall s", "ms/tag", "snapshot s", "snapshot ms/tag", "HTTP req", "req/tag", "CPU s client / registry",
               "max RSS MB (1 proc / tree)", "KB per extra tag", "planned removals"]
    head = ("Growth: roles/cleanup in check mode (artifact_info snapshot + plan) on a real registry, %d tags per repository, "
            "%d tags per image, concurrency %d") % (results["tags_per_repo"], results["tags_per_image"], results["concurrency"])
    return head + "\n" + fmt_table(rows, headers)


def add_arguments(parser):
    """The suite's command-line options."""
    parser.add_argument("--growth-sizes", default="1000,10000,50000", help="growth: tag counts, comma-separated (default 1000,10000,50000)")
    parser.add_argument("--growth-tags-per-repo", type=int, default=1000, help="growth: tags per repository (default 1000)")
    parser.add_argument("--growth-tags-per-image", type=int, default=4, help="growth: tags per image (default 4)")


def finish_options(opts):
    """Parse the sizes list."""
    opts.growth_sizes = [int(size) for size in str(opts.growth_sizes).split(",") if size.strip()]


def quick(opts):
    """Small sizes for the smoke run."""
    opts.growth_sizes = "100,400"
