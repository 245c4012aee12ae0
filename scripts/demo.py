#!/usr/bin/env python
"""`make demo`: a real registry on a free loopback port, months of history, the modules and the cleanup role.

Starts Debian's docker-registry (distribution 2.8) with htpasswd auth, seeds it over the real /v2 API,
runs examples/demo-modules.yml and examples/demo-cleanup.yml in check mode and for real, prints each run's
whole output (the plan, one line per tag that goes, and the report), checks that the report's figures add up
and match the registry, runs the cleanup again, and stops the registry.

With --provider vultr (`make demo PROVIDER=vultr`), the same history is served by the Vultr emulator
(tests/emulators/vultr.py) with the real registry behind it, offline: the role then works through Vultr's API
(repositories, artifacts with push times, artifact deletes) and removes tags over the registry host's OCI API,
as it would on <region>.vultrcr.com. With --provider gitlab (`make demo PROVIDER=gitlab`), the history is pushed
under the GitLab project acme/shop (images acme/shop/web, ...) and served by the GitLab emulator
(tests/emulators/gitlab.py) with the real registry behind it: the role works through GitLab's REST API (repositories,
tag details, tag deletes). With --provider ncloud (`make demo PROVIDER=ncloud`), the history is pushed through the Naver
Cloud emulator's front of registry acme (tests/emulators/ncloud.py): the role works through NCR's signed API (images,
tags with created and pulled times, tag deletes), and removes a tag that shares its digest over the registry host.
With --provider github (`make demo PROVIDER=github`), the history is pushed through the
GitHub emulator's ghcr.io front (tests/emulators/github.py) as the organization acme's container packages shop/web,
...: the role deletes package versions over GitHub's REST API, removes tags from images that stay over the front, and
then does GitHub's "remove linked artifacts" clean-up of the deleted images (storage records, deployment records,
attestations). The modules tour is the oci one and is skipped for the emulated providers.

Everything it writes is under build/demo/ (override with --workdir): the registry's storage, Ansible's temporary
files and every other temporary file go to build/demo/tmp/, removed at the end; the plan and the reports stay in
build/demo/ for a look (`make clean` removes them). Nothing is left in /tmp.
"""

import argparse
import atexit
import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

NOW = "2026-11-01T00:00:00Z"
DAY = 86400


def stamp(days_ago):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.mktime(time.strptime(NOW, "%Y-%m-%dT%H:%M:%SZ")) - days_ago * DAY))


def seed(client, scale, prefix="", reader=None):
    """Several repositories, hundreds of CI tags over ~8 months, releases, shared digests and a multi-arch index.

    The repositories are shop/web, shop/api, shop/worker and shop/base, each name after ``prefix``. ``reader`` reads
    the registry back where ``client`` pushes through a front that has no catalog (ghcr.io)."""
    reader = reader or client
    rng = random.Random(7)
    jobs = []
    web, base = prefix + "shop/web", prefix + "shop/base"
    for repository, builds in ((web, 160), (prefix + "shop/api", 140), (prefix + "shop/worker", 60)):
        builds = max(8, int(builds * scale))
        for n in range(builds):
            age = 240 - n * 240 // builds
            jobs.append((repository, ["build-%04d" % n, "sha-%08x" % rng.getrandbits(32)], stamp(age)))
    releases = [("v1.0.0", 230), ("v1.1.0", 200), ("v1.2.0", 170), ("v2.0.0", 120), ("v2.1.0", 30), ("v3.0.0-rc.1", 5)]
    for tag, age in releases:
        # The release candidate tag stays on the released image: cleaning it must not touch the release.
        jobs.append((web, [tag, "rc-" + tag.lstrip("v")], stamp(age)))
    client.push_image(*jobs[0][:1], tags=jobs[0][1], created=jobs[0][2])  # negotiates auth once, before the pool
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda job: client.push_image(job[0], tags=job[1], created=job[2]), jobs[1:]))
    web_tags = client.tag_map(web)
    client.tag(web, "stable", web_tags["v2.0.0"])
    client.tag(web, "latest", web_tags["v2.1.0"])
    client.tag(web, "main", web_tags["build-%04d" % (max(8, int(160 * scale)) - 1)])
    amd = client.push_image(base, created=stamp(100), arch="amd64", by_digest=True)
    arm = client.push_image(base, created=stamp(100), arch="arm64", by_digest=True)
    client.push_index(base, tags=["1.0", "latest"], children=[amd, arm])
    old_amd = client.push_image(base, created=stamp(200), arch="amd64", by_digest=True)
    old_arm = client.push_image(base, created=stamp(200), arch="arm64", by_digest=True)
    client.push_index(base, tags=["0.9"], children=[old_amd, old_arm])
    return sum(len(reader.tags(r)) for r in reader.catalog())


def config_created(client, repository, digest):
    """An image's config ``created`` (what the history above set); an index's newest child's."""
    body = json.loads(client.get_manifest(repository, digest)[1])
    if "manifests" in body:
        return max(config_created(client, repository, child["digest"]) for child in body["manifests"])
    blob = client.request("GET", "/v2/%s/blobs/%s" % (repository, body["config"]["digest"]))
    return blob.json()["created"]


def teach_push_times(emulator, client, registry_name):
    """Vultr records when each artifact was pushed: the emulator learns it from each image's config ``created``
    (what the history above set), an index from its newest child."""
    for repository in client.catalog():
        image = repository.split("/", 1)[1]
        for digest in sorted(set(client.tag_map(repository).values())):
            emulator.add_artifact(registry_name, image, digest, push_time=config_created(client, repository, digest))


def teach_ncloud_push_times(emulator, reader):
    """NCR records when each tag was pushed (``images[].updated``): the history was pushed in one go, so each tag gets
    its image's own date."""
    for repository in reader.catalog():
        image = repository.split("/", 1)[1]
        for tag, digest in sorted(reader.tag_map(repository).items()):
            emulator.set_pushed("acme", image, tag, config_created(reader, repository, digest))


def teach_github_history(emulator, reader):
    """ghcr.io records a version's ``created_at`` at push time; the history was pushed in one go, so each version
    gets its image's own date. Then GitHub's linked-artifact records for a few images: storage records,
    deployments and attestations of the oldest builds of shop/web (which the policy deletes), and of the release
    that stays."""
    linked = []
    for repository in reader.catalog():
        package = repository.split("/", 1)[1]
        for digest in sorted(emulator_digests(emulator, package)):
            emulator.set_version_created("org", "acme", package, digest, config_created(reader, repository, digest))
    web = reader.tag_map("acme/shop/web")
    for tag in ("build-0000", "build-0001", "build-0002", "v2.1.0"):
        digest = web[tag]
        linked.append((tag, digest))
        emulator.seed({"orgs": [{"login": "acme",
                                 "storage_records": [{"name": "shop/web", "digest": digest, "registry_url": "https://ghcr.io",
                                                      "repository": "acme/shop/web", "version": tag}],
                                 "deployment_records": [{"name": "shop/web", "digest": digest, "status": "deployed",
                                                         "logical_environment": "staging", "cluster": "eu-1",
                                                         "deployment_name": "shop-web-%s" % tag}],
                                 "attestations": [{"subject_digest": digest, "predicate_type": "provenance", "repository": "shop"}]}]})
    return linked


def emulator_digests(emulator, package):
    """The digests of a package's active versions in the GitHub emulator's organization acme."""
    org = next(o for o in emulator.dump_state()["orgs"] if o["login"] == "acme")
    return [v["name"] for p in org["packages"] if p["name"] == package and not p.get("deleted_at")
            for v in p["versions"] if not v.get("deleted_at")]


def linked_state(emulator, digests):
    """(storage records not deleted, deployments still deployed, attestations) of ``digests`` in the emulator."""
    org = next(o for o in emulator.dump_state()["orgs"] if o["login"] == "acme")
    storage = sum(1 for r in org["storage_records"] if r["digest"] in digests and r["status"] != "deleted")
    deployed = sum(1 for r in org["deployment_records"] if r["digest"] in digests and r.get("status") == "deployed")
    attested = sum(1 for a in org["attestations"] if set(a["subject_digests"]) & set(digests))
    return storage, deployed, attested


def show(title, rc, out, err):
    """A playbook run's whole output: every task, every list, nothing cut."""
    print("\n=== %s (exit %d) ===" % (title, rc))
    print(out.rstrip())
    if rc != 0:
        print(err.rstrip())
        raise SystemExit("demo step failed: %s" % title)


def read(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def check_figures(report, counts_before, counts_after):
    """The report's figures add up, and say what the registry says."""
    problems = []
    for name, summary in sorted(report["repositories"].items()):
        if summary["tags_before"] != summary["tags_kept"] + summary["tags_removed"]:
            problems.append("%s: tags before != kept + removed" % name)
        if summary["tags_removed"] != summary["tags_removed_with_digests"] + summary["tags_removed_from_surviving"]:
            problems.append("%s: removed != with digests + from images that stay" % name)
        if sum(summary["kept_by_reason"].values()) != summary["tags_kept"]:
            problems.append("%s: kept by reason does not add up to kept" % name)
        if counts_before is not None and counts_before.get(name) != summary["tags_before"]:
            problems.append("%s: the registry had %s tags, the report says %d" % (name, counts_before.get(name), summary["tags_before"]))
        if counts_after is not None and counts_after.get(name, 0) != summary["tags_after"]:
            problems.append("%s: the registry has %s tags, the report says %d after" % (name, counts_after.get(name, 0), summary["tags_after"]))
    return problems


def main(argv=None):  # pylint: disable=too-many-locals,too-many-statements
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workdir", default=os.path.join(ROOT, "build", "demo"),
                        help="where everything goes (default: build/demo); its tmp/ is removed at the end")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the CI builds to seed (tests use 0.1)")
    parser.add_argument("--provider", choices=("oci", "vultr", "gitlab", "github", "ncloud"), default="oci",
                        help="oci: the role on the registry itself; vultr, gitlab, github, ncloud: through that provider's emulator, "
                             "the registry behind it")
    args = parser.parse_args(argv)

    workdir = os.path.abspath(args.workdir)
    scratch = os.path.join(workdir, "tmp")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    # Every temporary file of this process and of its children (the registry's storage, ansible-playbook's work
    # directories and ANSIBLE_LOCAL_TEMP, the collections link) goes under the work directory, not /tmp.
    os.environ["TMPDIR"] = scratch
    tempfile.tempdir = scratch
    atexit.register(shutil.rmtree, scratch, True)  # registered first, so it runs after the helpers' own clean-ups

    # The test harness runs ansible-playbook at -vvv with --diff; the demo prints for a person: the normal verbosity, no diff.
    os.environ.setdefault("REGOPS_E2E_VERBOSITY", "0")
    os.environ.setdefault("REGOPS_E2E_DIFF", "0")
    # and runs every module on a fresh interpreter, as a user's run does (its tests, tests/e2e/test_demo.py, ask for
    # the harness's warm one: tests/support/warm_python.py)
    os.environ.setdefault("REGOPS_WARM_PYTHON", "0")
    # Imported only now: the helpers create their temporary directories with tempfile.
    from tests.support.ansible_runner import run_playbook  # pylint: disable=import-outside-toplevel
    from tests.support.registry import LocalRegistry  # pylint: disable=import-outside-toplevel
    from tests.support.seed import SeedClient  # pylint: disable=import-outside-toplevel

    from tests.emulators.github import DEFAULT_TOKEN as GITHUB_TOKEN, GitHubEmulator, ghcr_backend  # pylint: disable=import-outside-toplevel
    from tests.emulators.gitlab import DEFAULT_TOKEN as GITLAB_TOKEN, GitLabEmulator  # pylint: disable=import-outside-toplevel
    from tests.emulators.ncloud import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, NcloudEmulator, ncr_backend  # pylint: disable=import-outside-toplevel
    from tests.emulators.vultr import DEFAULT_API_KEY, VultrEmulator  # pylint: disable=import-outside-toplevel

    github, ncloud = args.provider == "github", args.provider == "ncloud"
    emulators = {"oci": contextlib.nullcontext, "vultr": VultrEmulator, "gitlab": GitLabEmulator,
                 "github": lambda: GitHubEmulator(clock=NOW), "ncloud": NcloudEmulator}
    backends = {"github": ghcr_backend, "ncloud": ncr_backend}
    # On github and ncloud the registry sits behind the emulator's /v2/ front (no auth of its own: the front checks the
    # token or the access key).
    with emulators[args.provider]() as emulator, (
            backends[args.provider](emulator) if args.provider in backends else LocalRegistry(auth="htpasswd")) as registry:
        # client reads and writes the registry; on github and ncloud it pushes through the front and reads the registry behind it
        client = SeedClient.for_registry(registry)
        pusher = client
        if github:
            pusher = SeedClient(emulator.url, "octocat", GITHUB_TOKEN)
        elif ncloud:
            emulator.add_registry("acme", bucket="acme-images")
            pusher = SeedClient(emulator.front_url("acme"), DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
        started = time.time()
        prefix = {"gitlab": "acme/", "github": "acme/"}.get(args.provider, "")
        total = seed(pusher, args.scale, prefix=prefix, reader=client)
        print("Registry %s seeded with %d tags in %d repositories (%.1fs)." % (registry.url, total, len(client.catalog()), time.time() - started))
        linked = []
        paths = dict((name, os.path.join(workdir, name)) for name in (
            "plan-check.json", "report-check.json", "report-1.json", "report-2.json"))
        extra = {"registry_url": registry.url, "registry_user": registry.username, "registry_password": registry.password,
                 "demo_now": NOW}
        modules = os.path.join(ROOT, "examples", "demo-modules.yml")
        cleanup = os.path.join(ROOT, "examples", "demo-cleanup.yml")
        # The report names repositories as the provider does: shop/web on the registry, web in Vultr's registry "shop".
        name_of = dict((r, r) for r in client.catalog())

        if args.provider == "vultr":
            emulator.configure(registry_host=registry.host, docker_credentials={"username": registry.username, "password": registry.password})
            emulator.add_registry("shop", region="ewr", plan="business")
            teach_push_times(emulator, client, "shop")
            name_of = dict((r, r.split("/", 1)[1]) for r in client.catalog())
            extra.update(demo_provider="vultr", demo_api_url=emulator.url, demo_api_token=DEFAULT_API_KEY, demo_registry="shop",
                         demo_scope=["**"])
            print("Vultr emulator %s serves registry 'shop' (region ewr) with the registry %s behind it." % (emulator.url, registry.url))
        elif args.provider == "gitlab":
            emulator.configure(registry_host=registry.host, backend_credentials={"username": registry.username, "password": registry.password},
                               async_delay=0.1)
            emulator.add_project("acme/shop")
            extra.update(demo_provider="gitlab", demo_api_url=emulator.url, demo_api_token=GITLAB_TOKEN, demo_registry="acme/shop",
                         demo_scope=["acme/shop/**"])
            print("GitLab emulator %s serves project 'acme/shop' with the registry %s behind it." % (emulator.url, registry.url))
        elif github:
            linked = teach_github_history(emulator, client)
            name_of = dict((r, r.split("/", 1)[1]) for r in client.catalog())
            extra.update(demo_provider="github", demo_api_url=emulator.url, demo_oci_url=emulator.oci_url, demo_api_token=GITHUB_TOKEN,
                         demo_registry="acme", demo_scope=["shop/**"],
                         demo_after_delete=["storage_records", "deployment_records", "attestations"])
            print("GitHub emulator %s serves organization 'acme' (ghcr.io packages shop/web, ...: its /v2/ front has the registry %s "
                  "behind it), with storage records, deployments and attestations of %s." % (
                      emulator.url, registry.url, ", ".join("shop/web:%s" % tag for tag, _digest in linked)))
        elif ncloud:
            teach_ncloud_push_times(emulator, client)
            name_of = dict((r, r.split("/", 1)[1]) for r in client.catalog())
            extra.update(demo_provider="ncloud", demo_api_url=emulator.api_url("kr"), demo_access_key=DEFAULT_ACCESS_KEY,
                         demo_secret_key=DEFAULT_SECRET_KEY, demo_registry="acme", demo_scope=["shop/**"])
            where = (emulator.api_url("kr"), emulator.front_url("acme"), registry.url)
            print("Naver Cloud emulator %s serves registry 'acme' (region kr; images shop/web, ..., its /v2/ front %s has the registry "
                  "%s behind it); every API request is signed and checked." % where)
        else:
            show("Modules, check mode: nothing changes", *run_playbook(modules, extra_vars=extra, check=True))
            before = client.tag_map("shop/web")
            show("Modules, for real", *run_playbook(modules, extra_vars=extra))
            after = client.tag_map("shop/web")
            print("\nshop/web: stable removed (%s), v2.0.0 still on its digest (%s); production -> %s; v1.0.0 deleted (%s)" % (
                "stable" not in after, after.get("v2.0.0") == before.get("v2.0.0"), (after.get("production") or "")[:19],
                "v1.0.0" not in after))

        def tag_counts():
            return dict((name_of[r], len(client.tags(r))) for r in client.catalog() if r in name_of)

        counts = tag_counts()
        show("Cleanup role, check mode: the plan, one line per tag that would go, then the report",
             *run_playbook(cleanup, check=True, extra_vars=dict(
                 extra, demo_plan_path=paths["plan-check.json"], demo_report_path=paths["report-check.json"])))
        assert counts == tag_counts(), "check mode changed the registry"
        show("Cleanup role, for real (the plan was shown above; now the report)",
             *run_playbook(cleanup, extra_vars=dict(extra, demo_print_plan=False, demo_report_path=paths["report-1.json"])))
        first = read(paths["report-1.json"])
        left = tag_counts()
        check = read(paths["report-check.json"])

        print("\nWhat is left (the registry, read back over /v2, against the report's figures):")
        for path, repository in sorted(name_of.items()):
            tags = client.tags(path)
            named = [t for t in tags if not t.startswith(("build-", "sha-"))]
            builds = sum(1 for t in tags if t.startswith("build-"))
            summary = first["repositories"].get(repository)
            figures = ("report: %d before - %d removed = %d after" % (summary["tags_before"], summary["tags_removed"], summary["tags_after"])
                       if summary else "not in any policy's scope")
            print("  %-12s %4d -> %4d tags (%s): %s" % (repository, counts.get(repository, 0), len(tags), figures,
                                                        ", ".join(named + (["%d CI builds" % builds] if builds else [])) or "none"))

        if linked:
            gone = [digest for _tag, digest in linked if digest not in client.tag_map("acme/shop/web").values()]
            kept = [digest for _tag, digest in linked if digest not in gone]
            print("\nGitHub's linked artifacts (storage records not deleted, deployments still deployed, attestations):")
            print("  %d deleted image(s): %s (the seed's clean-up: all zero)" % (len(gone), linked_state(emulator, gone)))
            print("  %d kept image(s):    %s (untouched)" % (len(kept), linked_state(emulator, kept)))
            print("  report: %s" % first.get("after_delete"))
            if any(linked_state(emulator, gone)) or linked_state(emulator, kept) != (len(kept), len(kept), len(kept)):
                raise SystemExit("the linked artifacts were not cleaned up as the report says")

        show("Cleanup role again: nothing left to do",
             *run_playbook(cleanup, extra_vars=dict(extra, demo_print_plan=False, demo_report_path=paths["report-2.json"])))
        second = read(paths["report-2.json"])

        problems = check_figures(check, counts, None) + check_figures(first, counts, left) + check_figures(second, left, left)
        for key in ("tags_removed", "tags_removed_with_digests", "tags_removed_from_surviving", "tags_kept", "digests_deleted"):
            if check["totals"][key] != first["totals"][key]:
                problems.append("check mode said %s %d, the run did %d" % (key, check["totals"][key], first["totals"][key]))
        if second["totals"]["tags_before"] != first["totals"]["tags_after"]:
            problems.append("the re-run's tags before (%d) is not the first run's tags after (%d)" % (
                second["totals"]["tags_before"], first["totals"]["tags_after"]))
        one, two = first["totals"], second["totals"]
        print("\nThe figures add up:")
        print("  check mode: %d tags before - %d would be removed (%d with %d digests + %d from images that stay) = %d after" % (
            check["totals"]["tags_before"], check["totals"]["tags_removed"], check["totals"]["tags_removed_with_digests"],
            check["totals"]["digests_deleted"], check["totals"]["tags_removed_from_surviving"], check["totals"]["tags_after"]))
        print("  first run:  %d tags before - %d removed (%d with %d digests + %d from images that stay) = %d after; kept %d = %s" % (
            one["tags_before"], one["tags_removed"], one["tags_removed_with_digests"], one["digests_deleted"],
            one["tags_removed_from_surviving"], one["tags_after"], one["tags_kept"],
            " + ".join("%s %d" % item for item in sorted(one["kept_by_reason"].items()))))
        print("  re-run:     %d tags before (= the first run's %d after) - %d removed = %d after; kept %d = %s" % (
            two["tags_before"], one["tags_after"], two["tags_removed"], two["tags_after"], two["tags_kept"],
            " + ".join("%s %d" % item for item in sorted(two["kept_by_reason"].items()))))
        print("  registry:   %d tags in scope before, %d after" % (
            sum(counts[r] for r in first["repositories"]), sum(left.get(r, 0) for r in first["repositories"])))
        print("  plan and reports: %s" % ", ".join(os.path.relpath(p, ROOT) for p in sorted(paths.values())))
        if problems:
            raise SystemExit("the figures do not add up:\n  " + "\n  ".join(problems))
    print("\nRegistry stopped. Demo done.")


if __name__ == "__main__":
    main()
