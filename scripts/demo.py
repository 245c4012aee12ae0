#!/usr/bin/env python
"""`make demo`: a real registry on a free loopback port, months of history, the modules and the cleanup role.

Starts Debian's docker-registry (distribution 2.8) with htpasswd auth, seeds it over the real /v2 API,
runs examples/demo-modules.yml and examples/demo-cleanup.yml in check mode and for real, prints what
changed and the report, and stops the registry.
"""

import json
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support.ansible_runner import run_playbook  # noqa: E402  pylint: disable=wrong-import-position
from tests.support.registry import LocalRegistry  # noqa: E402  pylint: disable=wrong-import-position
from tests.support.seed import SeedClient  # noqa: E402  pylint: disable=wrong-import-position

NOW = "2026-11-01T00:00:00Z"
DAY = 86400


def stamp(days_ago):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.mktime(time.strptime(NOW, "%Y-%m-%dT%H:%M:%SZ")) - days_ago * DAY))


def seed(client):
    """Several repositories, hundreds of CI tags over ~8 months, releases, shared digests and a multi-arch index."""
    rng = random.Random(7)
    jobs = []
    for repository, builds in (("shop/web", 160), ("shop/api", 140), ("shop/worker", 60)):
        for n in range(builds):
            age = 240 - n * 240 // builds
            jobs.append((repository, ["build-%04d" % n, "sha-%08x" % rng.getrandbits(32)], stamp(age)))
    releases = [("v1.0.0", 230), ("v1.1.0", 200), ("v1.2.0", 170), ("v2.0.0", 120), ("v2.1.0", 30), ("v3.0.0-rc.1", 5)]
    for tag, age in releases:
        # The release candidate tag stays on the released image: cleaning it must not touch the release.
        jobs.append(("shop/web", [tag, "rc-" + tag.lstrip("v")], stamp(age)))
    client.push_image(*jobs[0][:1], tags=jobs[0][1], created=jobs[0][2])  # negotiates auth once, before the pool
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda job: client.push_image(job[0], tags=job[1], created=job[2]), jobs[1:]))
    web = client.tag_map("shop/web")
    client.tag("shop/web", "stable", web["v2.0.0"])
    client.tag("shop/web", "latest", web["v2.1.0"])
    client.tag("shop/web", "main", web["build-0159"])
    amd = client.push_image("shop/base", created=stamp(100), arch="amd64", by_digest=True)
    arm = client.push_image("shop/base", created=stamp(100), arch="arm64", by_digest=True)
    client.push_index("shop/base", tags=["1.0", "latest"], children=[amd, arm])
    old_amd = client.push_image("shop/base", created=stamp(200), arch="amd64", by_digest=True)
    old_arm = client.push_image("shop/base", created=stamp(200), arch="arm64", by_digest=True)
    client.push_index("shop/base", tags=["0.9"], children=[old_amd, old_arm])
    return sum(len(client.tags(r)) for r in client.catalog())


def show(title, rc, out, err, keep=None):
    print("\n=== %s (exit %d) ===" % (title, rc))
    for line in out.splitlines():
        if keep is None or any(k in line for k in keep):
            print(line)
    if rc != 0:
        print(err[-3000:])
        raise SystemExit("demo step failed: %s" % title)


def main():
    with LocalRegistry(auth="htpasswd") as registry:
        client = SeedClient.for_registry(registry)
        started = time.time()
        total = seed(client)
        print("Registry %s seeded with %d tags in %d repositories (%.1fs)." % (registry.url, total, len(client.catalog()), time.time() - started))
        workdir = tempfile.mkdtemp(prefix="regops-demo-")
        report = os.path.join(workdir, "report.json")
        extra = {"registry_url": registry.url, "registry_user": registry.username, "registry_password": registry.password,
                 "demo_now": NOW, "demo_report_path": report}
        modules = os.path.join(ROOT, "examples", "demo-modules.yml")
        cleanup = os.path.join(ROOT, "examples", "demo-cleanup.yml")
        keep = ("TASK", "changed:", "ok:", '"msg"', "promote", "untag", "delete:", "shop/", "total:", "PLAY RECAP", "localhost ")

        show("Modules, check mode: nothing changes", *run_playbook(modules, extra_vars=extra, check=True), keep=keep)
        before = client.tag_map("shop/web")
        show("Modules, for real", *run_playbook(modules, extra_vars=extra), keep=keep)
        after = client.tag_map("shop/web")
        print("\nshop/web: stable removed (%s), v2.0.0 still on its digest (%s); production -> %s; v1.0.0 deleted (%s)" % (
            "stable" not in after, after.get("v2.0.0") == before.get("v2.0.0"), (after.get("production") or "")[:19], "v1.0.0" not in after))

        counts = dict((r, len(client.tags(r))) for r in client.catalog())
        show("Cleanup role, check mode: the plan", *run_playbook(cleanup, extra_vars=extra, check=True), keep=("shop/", "total:", "BLOCKED"))
        assert counts == dict((r, len(client.tags(r))) for r in client.catalog()), "check mode changed the registry"
        show("Cleanup role, for real", *run_playbook(cleanup, extra_vars=extra), keep=("shop/", "total:", "BLOCKED", "PLAY RECAP", "localhost "))
        with open(report) as handle:
            data = json.load(handle)
        print("\nReport written to %s: totals %s" % (report, json.dumps(data["totals"])))
        print("\nWhat is left:")
        for repository in client.catalog():
            tags = client.tags(repository)
            named = [t for t in tags if not t.startswith(("build-", "sha-"))]
            builds = sum(1 for t in tags if t.startswith("build-"))
            left = ", ".join(named + (["%d CI builds" % builds] if builds else []))
            print("  %-12s %4d -> %4d tags: %s" % (repository, counts.get(repository, 0), len(tags), left))
        show("Cleanup role again: nothing left to do", *run_playbook(cleanup, extra_vars=extra), keep=("total:", "PLAY RECAP", "localhost "))
    print("\nRegistry stopped. Demo done.")


if __name__ == "__main__":
    main()
