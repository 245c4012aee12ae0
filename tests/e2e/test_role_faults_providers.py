"""End to end under faults on every cloud provider (issue 14, "faults on every provider").

Per provider sites seeded alike (tests/support/role_sites.py, the scenario of test_role_providers.py: untag, builds,
a signature with its image, an orphan signature by ``artifact_types``; no deletion budget, see ``UNBOUNDED``): the role
runs cleanly on site A, and for each seed of ``SEEDS`` on a site B of its own with the fault-injecting proxy
(tests/support/faultproxy.py: 10% of requests get a 500, 502, 503, a 429 with Retry-After, or a connection reset before
or after the emulator acted) in front of the provider's API. A faulted run may fail (a fault on a request that is not
safe to repeat), and is then run again, three runs at most. The sites' digests may differ: they are compared by tag
names and the keys the images were pushed under.

Asserted: B ends where A ended (tags on the emulator and on the real registry behind it, manifests by key); nothing that
A keeps is ever missing from B, after any run; every run on B reports what it did (the tags gone from B are the tags its
report says it removed) and a failed run says why. Figures per provider and seed (runs, faults, retries, lost): one line
printed (``-s``), docs/reliability.md ("Faults on every provider") holds a run's table.
"""

# pylint: disable=redefined-outer-name,too-many-locals
import contextlib
import json
import re

import pytest

from tests.e2e.test_role_providers import PLAYBOOK, POLICIES, role_vars, seed_scenario, site_for
from tests.support.ansible_runner import run_playbook
from tests.support.faultproxy import default_key
from tests.support.role_sites import SITES, api_through

SEEDS = (1, 2, 3)  # every provider runs under each; the clean run they are compared with runs once per provider
# The scenario's policies without the deletion budget: with on_limit truncate a run that failed halfway and is run again
# spends a second budget, so where it ends depends on where the faults struck (by design); without it the end state is one.
UNBOUNDED = [dict((k, v) for k, v in policy.items() if k not in ("max_deletions", "on_limit")) for policy in POLICIES]
RATE = 0.10
MAX_RUNS = 3
RETRY_RE = re.compile(r";\s+retry\s+\d+\s+of\s+\d+\s+in\s+[0-9.]+s")
HEX = re.compile(r"[0-9a-f]{64}")


def stable_key(names, site_name):
    """The proxy's ``key``: the request path with the site's name written ``{site}`` and each digest written as the key
    its image was pushed under (``names``: {hex: key}, filled once seeded; other digests ``{digest}``), so that the
    same seed injects the same faults on every test run although the pushed digests differ from run to run."""
    def _key(method, path):
        key = default_key(method, path).replace(site_name, "{site}")
        return HEX.sub(lambda match: names.get(match.group(0), "{digest}"), key)
    return _key


def manifests(site):
    """The keys whose manifest the real registry behind ``site`` still has (None without one)."""
    if not site.real:
        return None
    client, repo = site.real
    return sorted(key for key, digest in site.digests.items() if client.manifest_exists(repo, digest))


def end_state(site):
    """What a run left, by keys: (emulator's tags, the real registry's tags, the manifests still there)."""
    tags, real = site.keyed_state()
    return tags, real, manifests(site)


@contextlib.contextmanager
def paused(proxies):
    """No fault while inside: the tests' own reads (Vultr's emulator reads the registry through the proxy)."""
    with contextlib.ExitStack() as stack:
        for proxy in proxies:
            stack.enter_context(proxy.pause())
        yield


def added(proxies, into):
    """Add the proxies' figures since the last call to ``into`` (requests seen, faults by kind). The proxies keep counting
    (their occurrence numbers go on, so a run again does not meet the same faults at the same requests)."""
    last = into.setdefault("last", {})
    for proxy in proxies:
        stats = proxy.stats()
        before = last.get(id(proxy), {"seen": 0, "faults": {}})
        into["requests"] += stats["seen"] - before["seen"]
        for kind, count in stats["faults"].items():
            into["kinds"][kind] = into["kinds"].get(kind, 0) + count - before["faults"].get(kind, 0)
        last[id(proxy)] = stats


def removed_by(site, report):
    """The tags (by keys) that a report says were removed from ``site``'s repository."""
    summary = (report or {}).get("repositories", {}).get(site.repo) or {}
    return set(site.keyed({tag: tag for tag in summary.get("removed_tags") or []}))


def clean_run(provider, registry, registry_open, prefix, tmp_path):
    """Site A, seeded and cleaned without faults: ``(its seeded state, its end state)`` by keys; every faulted site is
    seeded to the first and must reach the second."""
    with contextlib.ExitStack() as stack:
        clean, push = site_for(provider, stack, registry, registry_open, prefix + "a")
        seed_scenario(push, clean.digests)
        seeded = clean.keyed_state()
        report_a = tmp_path / "clean.json"
        rc, out, err = run_playbook(PLAYBOOK, extra_vars=role_vars(clean, report_a, cleanup_policies=UNBOUNDED))
        assert rc == 0, out + err
        assert json.loads(report_a.read_text(encoding="utf-8"))["totals"]["errors"] == 0
        return seeded, end_state(clean)


# pylint: disable-next=too-many-arguments,too-many-positional-arguments,too-many-statements
def faulted_runs(provider, fault_seed, clean, registry, registry_open, prefix, fault_proxy, tmp_path):
    """Site B seeded like A, the role run on it with the proxy (``fault_seed``) in front, again after a failed run (three
    runs at most): asserts that nothing A keeps goes missing after any run and that every run's report names the tags
    that went; returns the figures and B's end state."""
    seeded, expected = clean
    kept_tags, _real, kept_manifests = expected
    with contextlib.ExitStack() as stack:
        proxies, names = [], {}
        site_name = f"{prefix}b{fault_seed}"

        def start(base):
            proxies.append(fault_proxy(base, seed=fault_seed, rate=RATE, retry_after=(0, 1), key=stable_key(names, site_name)))
            return proxies[-1]
        options = {"api": api_through(start)}
        if provider == "vultr":
            # the role removes Vultr's tags over the registry host's /v2/ path, so the proxy (a second one, the same seed)
            # sits in front of that too. Vultr's emulator reads and deletes on the registry directly (role_sites: its
            # backend_host): through the proxy, every artifact request to Vultr's API failed as often as any of the 20-odd
            # registry reads behind it (1 - 0.9^20: most of them), which is not the 10% of the role's requests tested here
            options["registry_host"] = start(registry.url).host
        faulted, push = site_for(provider, stack, registry, registry_open, site_name, **options)
        with paused(proxies):  # seeding and reading back unfaulted (Vultr's emulator checks its artifacts on the registry)
            seed_scenario(push, faulted.digests)
            names.update((digest.split(":", 1)[1], key) for key, digest in faulted.digests.items())
            assert faulted.keyed_state() == seeded
        counted = {"requests": 0, "kinds": {}}
        added(proxies, counted)
        counted.update(requests=0, kinds={})
        assert faulted.role_vars["cleanup_api_url"].startswith(proxies[-1].url)

        runs, retries, lost, failures = 0, 0, set(), []
        while runs < MAX_RUNS:
            runs += 1
            report_b = tmp_path / f"faulted-{fault_seed}-{runs}.json"
            with paused(proxies):
                before = faulted.keyed_state()[0]
            mark = dict(counted, kinds=dict(counted["kinds"]))
            added(proxies, mark)  # the reads above: not the role's
            counted["last"] = mark["last"]
            rc, out, err = run_playbook(PLAYBOOK, extra_vars=role_vars(faulted, report_b, cleanup_policies=UNBOUNDED), extra_args=["-v"])
            (tmp_path / f"faulted-{fault_seed}-{runs}.log").write_text(out + err, encoding="utf-8")
            added(proxies, counted)
            retries += len(RETRY_RE.findall(out + err))
            with paused(proxies):
                tags, _real, present = end_state(faulted)
            # nothing A keeps is missing from B, after any run
            lost |= {("tag", t) for t in kept_tags if t not in tags}
            lost |= {("manifest", k) for k in kept_manifests or () if k not in present}
            report = json.loads(report_b.read_text(encoding="utf-8")) if report_b.exists() else None
            gone = set(before) - set(tags)
            if report is not None:
                # truthful: the tags gone from B are exactly the tags the report says it removed
                assert gone == removed_by(faulted, report), (fault_seed, runs, gone, report.get("lines"), out[-3000:])
            else:
                # no report: the run stopped before it wrote one, and says so (a failed task); what it removed, if
                # anything, stays to be compared with the clean end state below
                assert rc != 0 and ("fatal:" in out or "FAILED" in out or "ERROR" in out + err), (out + err)[-3000:]
            if rc == 0:
                break
            failures.append({"run": runs, "errors": (report or {}).get("totals", {}).get("errors"), "gone": sorted(gone),
                             "why": [line for line in (out + err).splitlines() if "fatal:" in line or "msg" in line][:3]})
            # a failed run says what failed: a fatal task, or errors counted in its report
            assert "fatal:" in out or (report and report["totals"]["errors"] > 0), (out + err)[-3000:]
        figures = {"provider": provider, "seed": fault_seed, "runs": runs, "requests": counted["requests"],
                   "faults": sum(counted["kinds"].values()), "kinds": dict(sorted(counted["kinds"].items())),
                   "retries": retries, "lost": len(lost), "failed_runs": failures, "rc": rc}
        print(f"\nfaults on {provider}: seed {fault_seed}, {runs} run(s), {figures['requests']} API requests, "
              f"{figures['faults']} faults {figures['kinds']}, {retries} retries, {len(lost)} lost, failed runs {failures}")
        assert lost == set(), figures
        assert rc == 0, (figures, out[-3000:])
        with paused(proxies):
            return figures, end_state(faulted)


@pytest.mark.parametrize("provider", sorted(SITES))
def test_faults_on_every_provider(provider, registry, registry_open, prefix, fault_proxy, tmp_path):
    """The role under 10% faults on the provider's API, once per seed of ``SEEDS``, ends where the clean run ends, loses
    nothing, says what it did."""
    clean = clean_run(provider, registry, registry_open, prefix, tmp_path)
    faults = 0
    for fault_seed in SEEDS:
        figures, final = faulted_runs(provider, fault_seed, clean, registry, registry_open, prefix, fault_proxy, tmp_path)
        assert final == clean[1], figures
        faults += figures["faults"]
    assert faults > 0  # the seeds struck somewhere
