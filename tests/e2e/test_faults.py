"""End to end under faults: the real registry behind the fault-injecting proxy (tests/support/faultproxy.py).

* The proxy itself in front of distribution 2.8 (uploads, Location, keep-alive, resets before/after forwarding).
* Convergence: the bulk ``tag`` state=absent call and the cleanup role at 10% faults over several seeds end in
  the clean run's state, every time (read back with the independent seed client, directly from the registry).
* Targeted faults, one per item of issue 7 "Faults converge to the clean end state".

Every run seeds identical content (same digests) under a fresh repository prefix, and the proxy hashes paths
with that prefix written ``{prefix}``, so the same seed injects the same faults on every run.

Set ``REGOPS_FAULT_FIGURES=/path/figures.json`` to have the figures of the convergence runs written there
(docs/reliability.md quotes them).
"""

# pylint: disable=redefined-outer-name
import collections
import json
import os
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.support.ansible_runner import REPO_ROOT, run_playbook, run_tasks
from tests.support.cycle import oci_task
from tests.support.faultproxy import FaultRule, key_without
from tests.support.seed import SeedClient

PLAYBOOK = REPO_ROOT / "tests" / "playbooks" / "cleanup.yml"
NOW = "2026-11-01T00:00:00Z"
RATE = 0.10
SEEDS = (1, 2, 3)
BASE_LAYER = b"faults-base-layer-" + b"b" * 4096
RETRY_RE = re.compile(r"; retry (\d+) of (\d+) in [0-9.]+s")
DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}")
# DELETE of a manifest by digest, but not the collection's "does this registry allow deletes" probe
DELETE_BY_DIGEST = r"^DELETE /v2/.+/manifests/sha256:(?!0{64})[0-9a-f]{64}"
FIGURES = []


# -- helpers -------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def _write_figures():
    yield
    path = os.environ.get("REGOPS_FAULT_FIGURES")
    if path and FIGURES:
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(FIGURES, handle, indent=1, sort_keys=True)
            handle.write("\n")


def new_prefix():
    """A fresh repository prefix."""
    return "f" + uuid.uuid4().hex[:8]


def image(seed, repo, name, tags, created="2026-01-01T00:00:00Z", arch="amd64"):
    """Push an image whose content (and so digest) depends only on ``name``, ``created`` and ``arch``."""
    return seed.push_image(repo, tags, created=created, arch=arch, layers=[BASE_LAYER, b"layer-" + name.encode()],
                           labels={"name": name})


def retries_of(*results):
    """The retries the modules reported: one warning ``...; retry N of M in Xs`` per retry."""
    count = 0
    for result in results:
        count += sum(1 for warning in (result or {}).get("warnings") or [] if RETRY_RE.search(warning))
    return count


def tag_state(seed, prefix, names):
    """``{name: {tag: digest}}`` of ``<prefix>/<name>`` read directly from the registry."""
    return {name: seed.tag_map(f"{prefix}/{name}") for name in names}


def record(test, proxy, **figures):
    """Keep the figures of one run (written by ``_write_figures``)."""
    stats = proxy.stats()
    per_request = collections.Counter((e.method, e.key) for e in proxy.faulted())
    entry = {"test": test, "seed": proxy.seed, "requests": stats["seen"], "forwarded": stats["forwarded"],
             "faults": stats["faults"], "faulted": stats["faulted"], "upstream_errors": stats["upstream_errors"],
             "most_faults_on_one_request": max(per_request.values(), default=0)}
    entry.update(figures)
    FIGURES.append(entry)
    return entry


def in_parallel(function, items, workers=4):
    """``[function(item) ...]`` run side by side (ansible-playbook runs mostly wait on backoff sleeps)."""
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(function, items))


def read_errors_of(result):
    """The refs/digests listed in an ``artifact_info`` result's ``read_errors`` (strings or dicts)."""
    found = set()
    for item in result.get("read_errors") or []:
        text = json.dumps(item) if not isinstance(item, str) else item
        found.update(DIGEST_RE.findall(text))
    return found


# -- the proxy in front of the real registry --------------------------------------------
def test_proxy_in_front_of_the_registry(registry, seed, fault_proxy):
    """Uploads (Location back through the proxy), pulls, keep-alive; a reset before forwarding changes nothing,
    a reset after forwarding leaves the registry's change in place."""
    proxy = fault_proxy()
    through = SeedClient.for_registry(proxy)
    repo = f"{new_prefix()}/app"
    digest = image(through, repo, "p1", ["v1", "v2"])
    resp = through.request("POST", f"/v2/{repo}/blobs/uploads/", ok=(202,))
    assert resp.headers["Location"].startswith(proxy.url + f"/v2/{repo}/blobs/uploads/")
    assert seed.tag_map(repo) == {"v1": digest, "v2": digest} == through.tag_map(repo)
    _media_type, body = through.get_manifest(repo, "v1")
    for blob in json.loads(body)["layers"]:
        data = through.request("GET", f"/v2/{repo}/blobs/{blob['digest']}").content
        assert len(data) == blob["size"]
    stats = proxy.stats()
    assert stats["seen"] == stats["forwarded"] and stats["faulted"] == 0 and stats["upstream_errors"] == 0
    assert stats["connections"] <= 2  # keep-alive

    proxy.set_rules(FaultRule(rate=1.0, kinds=["reset"], match=r"^PUT /v2/.+/manifests/v3$"),
                    FaultRule(rate=1.0, kinds=["reset_after"], match=DELETE_BY_DIGEST))
    other = image(seed, repo, "p2", ["other"])
    mark = registry.mark()
    with pytest.raises(requests.ConnectionError):
        through.tag(repo, "v3", digest)
    with pytest.raises(requests.ConnectionError):
        through.delete_manifest(repo, other)
    sent = registry.requests_since(mark)
    assert not [e for e in sent if e.method == "PUT"], sent  # the reset PUT never reached the registry
    assert [(e.method, e.status) for e in sent if e.method == "DELETE"] == [("DELETE", 202)]
    assert seed.tag_map(repo) == {"v1": digest, "v2": digest}
    assert not seed.manifest_exists(repo, other)
    assert proxy.stats()["faults"] == {"reset": 1, "reset_after": 1}


# -- 2a: the bulk tag call converges -------------------------------------------------------
BULK_REPOS = ("svc", "web")


def bulk_content(registry, prefix):
    """300 tags to remove in two repositories; every 4th (svc) / 2nd (web) image keeps a sibling tag.

    Pushed directly to the registry, eight images at a time. Returns ``(names, digests)``: the ``repo:tag`` list
    to remove and every digest seeded.
    """
    names, pushes = [], []
    layout = (("svc", 40, "pr-{i}-{j}", "keep-{i}", 4), ("web", 20, "b{i}-{j}", "rel-{i}", 2))
    for repo_name, count, doomed, sibling, every in layout:
        repo = f"{prefix}/{repo_name}"
        for i in range(count):
            tags = [doomed.format(i=i, j=j) for j in range(5)]
            names.extend(f"{repo}:{tag}" for tag in tags)
            pushes.append((repo, f"{repo_name}-{i}", tags + ([sibling.format(i=i)] if i % every == 0 else [])))
        pushes.append((repo, f"{repo_name}-latest", ["latest"]))
    base = SeedClient.for_registry(registry)
    for repo_name, *_rest in layout:  # first, so that parallel pushes do not race on it (distribution answers 500)
        base.push_blob(f"{prefix}/{repo_name}", BASE_LAYER)
    clients = threading.local()

    def push(args):
        if not hasattr(clients, "seed"):
            clients.seed = SeedClient.for_registry(registry)
        return image(clients.seed, *args)
    with ThreadPoolExecutor(8) as pool:
        digests = set(pool.map(push, pushes))
    return names, digests


def test_bulk_untag_converges_under_faults(registry_open, fault_proxy):
    """``tag`` state=absent on 300 tags at 10% faults (500/502/503/429/reset/reset after forwarding), several seeds:
    every run ends in the clean run's state and says truthfully what it did."""
    runs = [("clean", 0, 0.0)] + [(f"seed {s}", s, RATE) for s in SEEDS]

    def one_run(run):
        label, fault_seed, rate = run
        prefix = new_prefix()
        direct = SeedClient.for_registry(registry_open)
        names, digests = bulk_content(registry_open, prefix)
        before = tag_state(direct, prefix, BULK_REPOS)
        proxy = fault_proxy(registry_open, seed=fault_seed, rate=rate, key=key_without(prefix), retry_after=(0, 1))
        started = time.monotonic()
        results = run_tasks([oci_task("tag", proxy, name=names, state="absent")])
        elapsed = time.monotonic() - started
        return {"label": label, "rate": rate, "prefix": prefix, "names": names, "digests": digests, "before": before,
                "proxy": proxy, "result": results[0], "output": results.output, "elapsed": elapsed,
                "after": tag_state(direct, prefix, BULK_REPOS)}

    done = in_parallel(one_run, runs)
    clean = done[0]
    assert not clean["result"].get("failed"), clean["output"]
    expected = {}
    for name, tags in clean["before"].items():
        expected[name] = {t: d for t, d in tags.items() if f"{clean['prefix']}/{name}:{t}" not in clean["names"]}
    assert clean["after"] == expected
    assert sum(len(tags) for tags in expected.values()) == 10 + 10 + 2  # siblings and the two latest tags

    figures = []
    for run in done:
        result, proxy = run["result"], run["proxy"]
        lost = sum(1 for name in BULK_REPOS for tag, digest in expected[name].items() if run["after"][name].get(tag) != digest)
        figures.append(record("bulk tag absent (300 tags)", proxy, run=run["label"], rate=run["rate"],
                              retries=retries_of(result), end_state_equal=run["after"] == clean["after"], items_lost=lost,
                              failed=bool(result.get("failed")), seconds=round(run["elapsed"], 1),
                              actions=sorted({a["action"] for a in result.get("actions") or []})))
    for run, figure in zip(done, figures):
        result, prefix = run["result"], run["prefix"]
        if run["rate"]:
            assert figure["faulted"] > 0 and figure["retries"] > 0, figure
        assert figure["upstream_errors"] == 0, figure
        # the end state is the clean run's, whatever was injected
        assert run["after"] == clean["after"], (figure, result.get("msg"), run["output"][-3000:])
        assert not result.get("failed") and result["changed"] is True, (run["label"], result.get("msg"))
        # truthful: every tag reported deleted is gone, every other tag kept its digest, no tag on a throwaway
        actions = {a["ref"]: a for a in result["actions"]}
        assert set(actions) == set(run["names"])
        for ref, action in actions.items():
            repo, tag = ref.rsplit(":", 1)
            name = repo[len(prefix) + 1:]
            if action["action"] in ("deleted", "absent"):
                assert tag not in run["after"][name], (run["label"], action)
            else:
                assert run["after"][name].get(tag) == run["before"][name][tag], (run["label"], action)
        for name in BULK_REPOS:
            assert set(run["after"][name].values()) <= run["digests"], (run["label"], "a tag is left on a throwaway")


# -- 2b: the cleanup role converges ----------------------------------------------------------
ROLE_REPOS = ("api", "web", "base")


def history_content(seed, prefix):
    """The history of tests/e2e/test_role_cleanup.py with content that is the same on every run."""
    api, web, base = f"{prefix}/api", f"{prefix}/web", f"{prefix}/base"
    d = {}
    for name, tags, created in (("A1", ["v1.0.0"], "2026-01-05"), ("A2", ["v1.1.0", "sha-1111111"], "2026-02-10"),
                                ("A3", ["v1.2.3", "sha-3333333"], "2026-03-20"), ("A4", ["pr-17", "stable"], "2026-04-01"),
                                ("A5", ["sha-deadbee"], "2026-05-01"), ("A6", ["v2.0.0"], "2026-05-15"),
                                ("A8", ["v2.1.0", "latest"], "2026-07-01"), ("A9", ["sha-9999999"], "2026-09-15"),
                                ("A10", ["sha-aaaaaaa"], "2026-10-31")):
        d[name] = image(seed, api, name, tags, created + "T00:00:00Z")
    d["W1a"] = image(seed, web, "W1a", [], "2026-02-01T00:00:00Z")
    d["W1b"] = image(seed, web, "W1b", [], "2026-02-01T00:00:00Z", arch="arm64")
    d["WI1"] = seed.push_index(web, ["2026.02"], children=[d["W1a"], d["W1b"]])
    d["WS"] = image(seed, web, "WS", [], "2026-03-01T00:00:00Z")
    d["W2b"] = image(seed, web, "W2b", [], "2026-03-01T00:00:00Z", arch="arm64")
    d["WI2"] = seed.push_index(web, ["2026.03"], children=[d["WS"], d["W2b"]])
    d["W3b"] = image(seed, web, "W3b", [], "2026-10-20T00:00:00Z", arch="arm64")
    d["WI3"] = seed.push_index(web, ["latest"], children=[d["WS"], d["W3b"]])
    d["B1"] = image(seed, base, "B1", ["2025.01"], "2025-01-01T00:00:00Z")
    d["B2"] = image(seed, base, "B2", ["2025.02", "latest"], "2025-02-01T00:00:00Z")
    policies = [
        {"name": "api", "repositories": {"include": [api]}, "older_than": "30d", "age_basis": "created",
         "keep": {"latest": True, "tags": ["stable"], "last": 3, "semver": {"major": 1},
                  "digests": [f"{api}@{d['A5']}"], "min_age": "1h"}},
        {"name": "web", "repositories": {"include": [web]}, "older_than": "30d", "age_basis": "created",
         "keep": {"latest": True, "last": 1}},
        {"name": "untagged", "repositories": {"include": [f"{prefix}/**"], "exclude": [base]},
         "tag_state": "untagged", "older_than": "30d", "age_basis": "created"},
    ]
    repo_of = {name: api if name.startswith("A") else web if name.startswith("W") else base for name in d}
    return d, repo_of, policies


def role_vars(target, prefix, policies, report_path, **extra):
    """Variables of the cleanup role connected to ``target`` (the registry or a proxy)."""
    connection = target.oci_args()
    result = {
        "cleanup_provider": "oci", "cleanup_api_url": connection["api_url"],
        "cleanup_api_username": connection.get("api_username", ""), "cleanup_api_password": connection.get("api_password", ""),
        "cleanup_repositories": [f"{prefix}/{name}" for name in ROLE_REPOS], "cleanup_policies": policies,
        "cleanup_now": NOW, "cleanup_report_path": str(report_path), "cleanup_print_plan": False,
    }
    result.update(extra)
    return result


def run_role_tasks(variables):
    """The role through include_role, then its modules' results (for their warnings and actions)."""
    collect = ("{{ {'snapshot_warnings': cleanup_snapshot.warnings | default([]),"
               " 'snapshot_read_errors': cleanup_snapshot.read_errors | default([]),"
               " 'tag': cleanup_tag_result | default({}), 'artifact': cleanup_artifact_result | default({})} }}")
    return run_tasks([{"ansible.builtin.include_role": {"name": "regops.registry.cleanup"}, "vars": variables},
                      {"ansible.builtin.debug": {"msg": collect}}])


def normalized_report(report, prefix):
    """The report's outcome per repository, with the run's prefix taken out of the names."""
    out = {}
    for repo, summary in report["repositories"].items():
        out[repo[len(prefix) + 1:]] = {key: summary.get(key) for key in
                                       ("removed_tags", "deleted_digests", "kept_by_reason", "bytes_freed", "errors")}
    return out


def test_cleanup_role_converges_under_faults(registry_open, fault_proxy, tmp_path):
    """The role at 10% faults over several seeds: the same plan, the same end state as the clean run, nothing the
    policy keeps is lost, no errors."""
    runs = [("clean", 0, 0.0)] + [(f"seed {s}", s, RATE) for s in SEEDS]

    def one_run(run):
        label, fault_seed, rate = run
        prefix = new_prefix()
        direct = SeedClient.for_registry(registry_open)
        d, repo_of, policies = history_content(direct, prefix)
        proxy = fault_proxy(registry_open, seed=fault_seed, rate=rate, key=key_without(prefix), retry_after=(0, 1))
        report_path = tmp_path / f"report-{fault_seed}.json"
        started = time.monotonic()
        results = run_role_tasks(role_vars(proxy, prefix, policies, report_path, cleanup_fail_on_error=False))
        elapsed = time.monotonic() - started
        present = {name: direct.manifest_exists(repo_of[name], digest) for name, digest in d.items()}
        report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else None
        return {"label": label, "rate": rate, "prefix": prefix, "d": d, "proxy": proxy, "results": results, "elapsed": elapsed,
                "tags": tag_state(direct, prefix, ROLE_REPOS), "present": present, "report": report}

    done = in_parallel(one_run, runs)
    clean = done[0]
    assert clean["results"].rc == 0, clean["results"].output
    d = clean["d"]
    assert clean["tags"]["api"] == {"v1.2.3": d["A3"], "stable": d["A4"], "sha-deadbee": d["A5"], "v2.1.0": d["A8"],
                                    "latest": d["A8"], "sha-9999999": d["A9"], "sha-aaaaaaa": d["A10"]}
    assert clean["tags"]["web"] == {"latest": d["WI3"]}
    assert clean["tags"]["base"] == {"2025.01": d["B1"], "2025.02": d["B2"], "latest": d["B2"]}
    gone = {"A1", "A2", "A6", "WI1", "W1a", "W1b", "WI2", "W2b"}
    assert {name for name, there in clean["present"].items() if not there} == gone
    clean_report = normalized_report(clean["report"], clean["prefix"])
    kept = {name for name, there in clean["present"].items() if there}

    figures = []
    for run in done:
        results = run["results"]
        collected = results[1].get("msg") if len(results) > 1 else None
        modules = [{"warnings": collected["snapshot_warnings"]}, collected["tag"], collected["artifact"]] if collected else []
        run["lost"] = sorted(name for name in kept if not run["present"][name])
        figures.append(record("cleanup role", run["proxy"], run=run["label"], rate=run["rate"],
                              retries=retries_of(*modules), seconds=round(run["elapsed"], 1), rc=results.rc,
                              end_state_equal=(run["tags"], run["present"]) == (clean["tags"], clean["present"]),
                              items_lost=len(run["lost"]), errors=((run["report"] or {}).get("totals") or {}).get("errors")))
    for run, figure in zip(done, figures):
        assert run["lost"] == [], (figure, "kept by the policy but gone", run["lost"])
        assert run["results"].rc == 0 and run["report"], (figure, run["results"].output[-4000:])
        if run["rate"]:
            assert figure["faulted"] > 0 and figure["retries"] > 0, figure
        assert run["tags"] == clean["tags"] and run["present"] == clean["present"], figure
        report = run["report"]
        assert report["blocked"] is False and report["totals"]["errors"] == 0, (figure, report["lines"])
        assert normalized_report(report, run["prefix"]) == clean_report, figure


# -- 2c: targeted faults ------------------------------------------------------------------------------
@pytest.fixture
def shared(seed):
    """``<p>/app``: a, b, keep on one digest; c alone; latest alone. Returns (repo, digests, tag map)."""
    repo = f"{new_prefix()}/app"
    one = image(seed, repo, "one-" + repo, ["a", "b", "keep"])
    two = image(seed, repo, "two-" + repo, ["c"])
    three = image(seed, repo, "three-" + repo, ["latest"])
    return repo, {"one": one, "two": two, "three": three}, seed.tag_map(repo)


def untag(target, repo, names, **args):
    """The tag removal task."""
    return oci_task("tag", target, repository=repo, name=list(names), state="absent", **args)


def without(tags, *names):
    """``tags`` less ``names``."""
    return {t: d for t, d in tags.items() if t not in names}


def retried(proxy, entry):
    """The request that followed a faulted one (same method and key, next occurrence)."""
    return [e for e in proxy.log() if (e.method, e.key, e.n) == (entry.method, entry.key, entry.n + 1)]


def test_manifest_head_500_is_retried(seed, shared, fault_proxy):
    """HTTP 500 on manifest HEADs (each HEAD fails once): retried, the call succeeds."""
    repo, _digests, before = shared
    proxy = fault_proxy(rules=[FaultRule(rate=1.0, kinds=["500"], match=r"^HEAD /v2/.+/manifests/", max_per_key=1)])
    result = run_tasks([untag(proxy, repo, ["a", "c"])])[0]
    record("500 on manifest HEAD", proxy, retries=retries_of(result), failed=bool(result.get("failed")))
    assert not result.get("failed"), result
    assert [a["action"] for a in result["actions"]] == ["deleted", "deleted"]
    assert seed.tag_map(repo) == without(before, "a", "c")
    faulted = proxy.faulted()
    assert len(faulted) >= 2 and {e.fault for e in faulted} == {"500"}
    for entry in faulted:
        assert [e.status for e in retried(proxy, entry)] in ([200], [404]), entry
    assert retries_of(result) >= len(faulted)
    assert any("answered 500" in w for w in result["warnings"]), result["warnings"]


@pytest.mark.parametrize("kind", ["502", "reset"])
def test_blob_upload_post_is_retried(seed, shared, fault_proxy, kind):
    """A 502 or a connection reset on ``POST /v2/<repo>/blobs/uploads/`` (nothing reached the registry): retried."""
    repo, _digests, before = shared
    proxy = fault_proxy(rules=[FaultRule(rate=1.0, kinds=[kind], match=r"^POST /v2/.+/blobs/uploads/$", max_faults=2)])
    result = run_tasks([untag(proxy, repo, ["a", "b"])])[0]
    record(f"{kind} on POST blobs/uploads/", proxy, retries=retries_of(result), failed=bool(result.get("failed")))
    assert not result.get("failed"), result
    assert [a["action"] for a in result["actions"]] == ["deleted", "deleted"]
    assert seed.tag_map(repo) == without(before, "a", "b")
    assert proxy.stats()["faults"] == {kind: 2}
    posts = [e for e in proxy.log() if e.method == "POST"]
    assert len(posts) >= 3 and posts[-1].status == 202
    # the throwaway's two blobs go side by side, so the two faults may strike each its first POST: the two retry warnings
    # then read alike, and ansible-core keeps one copy of identical warnings
    assert retries_of(result) >= 1


@pytest.mark.parametrize("module", ["tag", "artifact"])
def test_reset_after_the_delete_went_through_counts_as_done(seed, shared, fault_proxy, module):
    """The registry deleted the manifest but the client saw a reset: the retried DELETE answers 404, which means done."""
    repo, digests, before = shared
    proxy = fault_proxy(rules=[FaultRule(rate=1.0, kinds=["reset_after"], match=DELETE_BY_DIGEST, max_faults=1)])
    if module == "tag":
        task = untag(proxy, repo, ["a", "c"])
        expected = without(before, "a", "c")
    else:
        task = oci_task("artifact", proxy, repository=repo, digest=digests["two"], state="absent")
        expected = without(before, "c")
    result = run_tasks([task])[0]
    record(f"reset after a forwarded DELETE ({module})", proxy, retries=retries_of(result), failed=bool(result.get("failed")))
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert {a["action"] for a in result["actions"]} == {"deleted"}, result["actions"]
    assert seed.tag_map(repo) == expected
    if module == "artifact":
        assert not seed.manifest_exists(repo, digests["two"])
    (entry,) = proxy.faulted()
    assert entry.fault == "reset_after"
    assert [e.status for e in retried(proxy, entry)] == [404]  # the registry had acted


@pytest.mark.compat
def test_throwaway_delete_failing_restores_the_tags(seed, shared, fault_proxy):
    """500s on the throwaway manifest's DELETE beyond the retry budget: every tag is pointed back at its digest,
    reported ``restored``, ``changed`` true, the call fails; a later run finishes the removal."""
    repo, digests, before = shared
    proxy = fault_proxy(rules=[FaultRule(rate=1.0, kinds=["500"], match=DELETE_BY_DIGEST)])
    results = run_tasks([dict(untag(proxy, repo, ["a", "b", "c"], retries=1), ignore_errors=True)])
    result = results[0]
    record("500s on the throwaway DELETE (retries 1)", proxy, retries=retries_of(result), failed=bool(result.get("failed")),
           actions=sorted({a["action"] for a in result.get("actions") or []}))
    assert result.get("failed") is True and result["changed"] is True, result
    assert [(a["ref"], a["action"]) for a in result["actions"]] == [(f"{repo}:{t}", "restored") for t in ("a", "b", "c")]
    assert all(a.get("msg") for a in result["actions"])
    assert seed.tag_map(repo) == before
    assert len(proxy.faulted()) == 2  # the DELETE and its one retry

    proxy.set_rules()
    again = run_tasks([untag(proxy, repo, ["a", "b", "c"])])[0]
    assert not again.get("failed") and again["changed"] is True, again
    assert {a["action"] for a in again["actions"]} == {"deleted"}
    assert seed.tag_map(repo) == without(before, "a", "b", "c")
    assert seed.manifest_exists(repo, digests["one"]) and seed.manifest_exists(repo, digests["two"])


def test_tag_left_on_a_throwaway_is_removed_later(registry, seed, shared, fault_proxy, tmp_path):
    """The throwaway's DELETE fails and so does putting ``b`` back: ``b`` is left on the throwaway and reported
    ``failed``. ``artifact_info`` marks the throwaway; the role removes the tag and leaves everything else alone."""
    repo, digests, before = shared
    proxy = fault_proxy(rules=[FaultRule(rate=1.0, kinds=["500"], match=DELETE_BY_DIGEST, name="delete"),
                               FaultRule(rate=1.0, kinds=["500"], match=r"^PUT /v2/.+/manifests/b$", from_n=1, name="restore")])
    results = run_tasks([dict(untag(proxy, repo, ["a", "b"], retries=1), ignore_errors=True),
                         oci_task("artifact_info", registry, repository=repo)])
    result, info = results
    record("500s on the throwaway DELETE and on putting b back", proxy, retries=retries_of(result),
           failed=bool(result.get("failed")), actions=sorted({a["action"] for a in result.get("actions") or []}))
    assert result.get("failed") is True and result["changed"] is True, result
    assert {a["ref"]: a["action"] for a in result["actions"]} == {f"{repo}:a": "restored", f"{repo}:b": "failed"}
    left = seed.resolve(repo, "b")
    assert left not in digests.values()
    assert seed.tag_map(repo) == dict(before, b=left)
    throwaway = [a for a in info["artifacts"] if a["digest"] == left]
    assert len(throwaway) == 1 and throwaway[0]["provider_data"].get("throwaway") is True, info["artifacts"]
    assert throwaway[0]["tags"] == ["b"]
    assert not [a for a in info["artifacts"] if a["digest"] != left and a["provider_data"].get("throwaway")]

    # the role (a policy that selects nothing of the images) removes the tag left on the throwaway
    prefix = repo.rsplit("/", 1)[0]
    policies = [{"name": "nothing-old-enough", "repositories": [repo], "older_than": "3650d", "age_basis": "created"}]
    report_path = tmp_path / "report.json"
    variables = role_vars(registry, prefix, policies, report_path, cleanup_repositories=[repo])
    rc, out, err = run_playbook(PLAYBOOK, extra_vars=variables)
    assert rc == 0, out + err
    assert seed.tag_map(repo) == without(before, "b")
    assert not seed.manifest_exists(repo, left)
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert [(x["digest"], x["tags"]) for x in report["repositories"][repo]["leftovers"]] == [(left, ["b"])], report
    assert report["repositories"][repo]["deleted_digests"] == [] and report["totals"]["errors"] == 0


def test_config_blob_500s_are_retried(seed, fault_proxy):
    """10 HTTP 500s on image config GETs (each config once): retried, every created time is read, no read errors."""
    repo = f"{new_prefix()}/app"
    created = {image(seed, repo, f"cfg-{repo}-{i}", [f"t{i}"], f"2026-01-{i + 1:02d}T00:00:00Z"): f"2026-01-{i + 1:02d}T00:00:00Z"
               for i in range(10)}
    proxy = fault_proxy(rules=[FaultRule(rate=1.0, kinds=["500"], match=r"^GET /v2/.+/blobs/sha256:", max_per_key=1)])
    result = run_tasks([oci_task("artifact_info", proxy, repository=repo)])[0]
    record("10 x 500 on config blob GETs", proxy, retries=retries_of(result), read_errors=len(result.get("read_errors") or []))
    assert not result.get("failed"), result
    assert proxy.stats()["faults"] == {"500": 10}
    assert {a["digest"]: a["created_at"] for a in result["artifacts"]} == created
    assert result["read_errors"] == [] and all(a["read_error"] is None for a in result["artifacts"])
    assert retries_of(result) == 10


def test_unreadable_configs_are_read_errors(registry, seed, fault_proxy, tmp_path):
    """Configs that still fail after the retries: ``artifact_info`` warns and lists them in ``read_errors``; the
    role keeps them (reason ``read_error``), counts them as errors and fails (``cleanup_fail_on_error``)."""
    prefix = new_prefix()
    repo = f"{prefix}/app"
    old = [image(seed, repo, f"old-{prefix}-{i}", [f"old-{i}"], f"2026-0{i + 1}-01T00:00:00Z") for i in range(4)]
    newest = image(seed, repo, f"new-{prefix}", ["latest"], "2026-10-30T00:00:00Z")
    unreadable = old[:2]
    configs = {json.loads(seed.get_manifest(repo, d)[1])["config"]["digest"] for d in unreadable}
    pattern = "^GET /v2/.+/blobs/(" + "|".join(configs) + ")$"
    proxy = fault_proxy(rules=[FaultRule(rate=1.0, kinds=["500"], match=pattern)])

    info = run_tasks([oci_task("artifact_info", proxy, repository=repo, retries=1)])[0]
    record("500s on 2 config blobs, always (retries 1)", proxy, retries=retries_of(info),
           read_errors=len(info.get("read_errors") or []))
    assert not info.get("failed"), info
    assert read_errors_of(info) >= set(unreadable) and read_errors_of(info).isdisjoint(set(old[2:]) | {newest}), info
    by_digest = {a["digest"]: a for a in info["artifacts"]}
    for digest in unreadable:
        assert by_digest[digest]["read_error"], by_digest[digest]
        assert by_digest[digest]["created_at"] is None
    for digest in old[2:] + [newest]:
        assert by_digest[digest]["read_error"] is None and by_digest[digest]["created_at"]
    warned = " ".join(info.get("warnings") or [])
    assert all(digest in warned for digest in unreadable), info.get("warnings")

    policies = [{"name": "old", "repositories": [repo], "older_than": "30d", "age_basis": "created",
                 "keep": {"latest": True}}]
    report_path = tmp_path / "report.json"
    variables = role_vars(proxy, prefix, policies, report_path, cleanup_repositories=[repo], cleanup_retries=1,
                          cleanup_fail_on_error=True)
    rc, out, err = run_playbook(PLAYBOOK, extra_vars=variables)
    assert rc != 0, out + err
    assert "error" in out.lower()
    report = json.loads(report_path.read_text(encoding="utf-8"))
    summary = report["repositories"][repo]
    assert summary["kept_by_reason"].get("read_error") == 2, summary
    assert len(summary["errors"]) >= 2 and report["totals"]["errors"] >= 2, summary
    tags = seed.tag_map(repo)
    assert tags.get("old-0") == old[0] and tags.get("old-1") == old[1] and tags.get("latest") == newest
    assert seed.manifest_exists(repo, old[0]) and seed.manifest_exists(repo, old[1])
    assert not seed.manifest_exists(repo, old[2]) and not seed.manifest_exists(repo, old[3])
