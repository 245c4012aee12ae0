"""The state modules under seeded random faults on every cloud provider (issue 14, "Faults").

For each provider (gcore, vultr, gitlab, github, ncloud) and seed (``SEEDS``): the emulator is seeded the way that provider's
test file seeds its ``test_faulted_run_ends_in_the_clean_state`` and the same state-module tasks run, once cleanly (the
expected end state: run once per provider, :func:`clean_run`), then on a fresh emulator seeded alike with the
fault-injecting proxy (tests/support/faultproxy.py) in front of the provider's API: 10% of requests get a 500, 502, 503,
a 429 with ``Retry-After`` 0 or 1, or a connection reset before or after the emulator acted. On top of those,
``SLOW_RATE`` of the other requests are slow: the emulator acts, and its answer is held past the client's ``timeout``
(faultproxy has no such kind: :class:`SlowFaultProxy` adds it). A faulted run may fail (a fault on a request that is
not safe to repeat), and is then run again, three runs at most.

Gcore's test file has no faulted run: its tasks here are its lifecycle tasks (but ``refresh_secret``) from its seeding, its
end state the small :func:`gcore_snapshot`. Vultr's fault tasks do not remove tags, so nothing goes over its registry host:
only its API is faulted. Every request path holds fixed names, digests and ids of a fresh emulator, so the proxy's
decisions (``default_key``) are the same for a seed on every run.

Asserted per case: the end state equals the clean run's; nothing the clean run keeps (every leaf of the seeded state that
is still there after the clean run: a resource by name, or one of its settings) is missing after any run; a failed run's
message names the failure; a first faulted run that succeeded reports what the clean run reported (``changed``,
``actions``). Figures (runs, requests, faults by kind, retries reported, lost): one line per case (``-s``), and JSON lines
appended to the file named by ``REGOPS_FAULT_FIGURES``. The modules run in-process (tests/support/module_runner.py).
"""

# pylint: disable=redefined-outer-name,too-many-locals
import collections
import contextlib
import hashlib
import json
import os
import re
import time
from urllib.parse import urlsplit

import pytest

from tests.e2e import test_gcore, test_github, test_gitlab, test_ncloud, test_vultr
from tests.emulators.gcore import GcoreEmulator
from tests.emulators.github import GitHubEmulator
from tests.emulators.gitlab import GitLabEmulator
from tests.emulators.ncloud import NcloudEmulator
from tests.emulators.vultr import VultrEmulator
from tests.support.faultproxy import FaultProxy
from tests.support.module_runner import run_tasks_in_process
from tests.support.tasks import ok

SEEDS = (1, 2, 3, 4, 5)
RATE = 0.10
SLOW_RATE = RATE / 6  # one default kind's share
TIMEOUT = 2.0  # the tasks' client timeout (clean runs too); a slow answer comes after SLOW_SECONDS
SLOW_SECONDS = TIMEOUT + 0.5
MAX_RUNS = 3
RETRY_RE = re.compile(r";\s+retry\s+\d+\s+of\s+\d+\s+in\s+[0-9.]+s")
# what a failed module run says about a fault: the HTTP status it got, or the connection failure
REASON_RE = re.compile(r"\b(HTTP )?(429|5\d\d)\b|connection failed|ConnectionError|Timeout", re.I)


class SlowFaultProxy(FaultProxy):
    """A :class:`FaultProxy` that also makes ``slow_rate`` of the requests it does not fault slow: forwarded (the upstream
    acts), then answered ``slow_seconds`` late. Decided like the other kinds, from ``sha256(seed | slow | method | key |
    n)``; counted as kind ``slow`` in :meth:`stats`."""

    def __init__(self, upstream, slow_rate=0.0, slow_seconds=0.0, **options):
        super().__init__(upstream, **options)
        self.slow_rate, self.slow_seconds = slow_rate, slow_seconds
        self._slow = set()

    def decide(self, method, path):
        decision = super().decide(method, path)
        if decision.fault is None and decision.rule is not None:
            text = "|".join(str(part) for part in (self.seed, "slow", method, decision.key, decision.n))
            if int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2.0 ** 64 < self.slow_rate:
                with self._lock:
                    self._slow.add(decision.seq)
                    self._faults["slow"] += 1
        return decision

    def was_slow(self, seq):
        """Whether request ``seq`` (a log entry's ``seq``) was made slow."""
        return seq in self._slow

    def finish(self, decision, status, forwarded=False):
        if forwarded and decision.seq in self._slow:
            time.sleep(self.slow_seconds)  # the upstream has answered; the client gives up first
        super().finish(decision, status, forwarded=forwarded)


# -- the providers: emulator, seeding, tasks and end state, from each provider's test file ----------------------------

def gcore_snapshot(emu):
    """Gcore's state without ids, clock times and secrets: registries (storage limit), users (duration, read_only),
    repositories with ``{digest: tags}``."""
    return {reg["name"]: {"storage_limit": reg["storage_limit"],
                          "users": {u["name"].rsplit("+", 1)[1]: {"duration": u["duration"], "read_only": u["read_only"]}
                                    for u in reg["users"]},
                          "repositories": {r["name"]: {a["digest"]: sorted(t["name"] for t in a["tags"]) for a in r["artifacts"]}
                                           for r in reg["repositories"]}}
            for reg in emu.dump_state()["registries"]}


def gcore_seed(emu):
    test_gcore.seed_main(emu)


def gcore_tasks(_ids):
    """Gcore's lifecycle tasks but the last (``refresh_secret`` changes on every run)."""
    return test_gcore.lifecycle_tasks()[:10]


def gcore_emulator(stack):
    emu = stack.enter_context(GcoreEmulator())
    emu.configure(batch_shape="object", default_limit=1000, max_limit=1000)
    return emu


def vultr_emulator(stack):
    return stack.enter_context(VultrEmulator())


def ncloud_emulator(stack):
    emu = stack.enter_context(NcloudEmulator(clock=lambda: test_ncloud.CLOCK))
    emu.configure(**test_ncloud.SETTINGS)
    return emu


def gitlab_emulator(stack):
    return stack.enter_context(GitLabEmulator(**test_gitlab.SETTINGS))


def github_emulator(stack):
    emu = stack.enter_context(GitHubEmulator(clock=test_github.CLOCK))
    emu.configure(clock=test_github.CLOCK, **test_github.SETTINGS)
    return emu


Provider = collections.namedtuple("Provider", "emulator seed tasks snapshot defaults env")
PROVIDERS = {
    "gcore": Provider(gcore_emulator, gcore_seed, gcore_tasks, gcore_snapshot, test_gcore.defaults, None),
    "vultr": Provider(vultr_emulator, test_vultr.fault_seed, lambda _ids: test_vultr.FAULT_TASKS, test_vultr.snapshot,
                      test_vultr.defaults, None),
    "ncloud": Provider(ncloud_emulator, test_ncloud.seed, lambda _ids: test_ncloud.FAULT_TASKS, test_ncloud.snapshot,
                       test_ncloud.defaults, test_ncloud.KEYS),
    "gitlab": Provider(gitlab_emulator, test_gitlab.seed, lambda _ids: test_gitlab.fault_tasks(), test_gitlab.snapshot,
                       test_gitlab.defaults, None),
    "github": Provider(github_emulator, test_github.seed, test_github.fault_tasks, test_github.snapshot, test_github.defaults, None),
}


# -- checks and figures ------------------------------------------------------------------------------------------

def leaves(value, path=()):
    """Every leaf of a snapshot as ``(path, value)``: dict keys (names, digests, settings) and tuple positions make the
    path; a list of plain values is a set (each value a leaf of its own: a tag, a replication); a list of dicts goes by
    position."""
    if isinstance(value, dict):
        out = set()
        for key, item in value.items():
            out |= leaves(item, path + (key,))
        return out or {(path, "{}")}
    if isinstance(value, (list, tuple)):
        if isinstance(value, list) and all(not isinstance(item, (dict, list, tuple)) for item in value):
            return {(path + (item,), "in") for item in value} or {(path, "[]")}
        out = set()
        for index, item in enumerate(value):
            out |= leaves(item, path + (index,))
        return out
    return {(path, json.dumps(value))}


def retries_of(results):
    """The retries the modules reported (one ``...; retry N of M in Xs`` warning per retry)."""
    return sum(1 for result in results for warning in result.get("warnings") or [] if RETRY_RE.search(warning))


def record(figures):
    """Append ``figures`` as one JSON line to the file named by ``REGOPS_FAULT_FIGURES`` (if set)."""
    path = os.environ.get("REGOPS_FAULT_FIGURES")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(figures, sort_keys=True) + "\n")


def through(proxy, url):
    """``url`` with its scheme and host replaced by the proxy's (its path kept)."""
    return proxy.url + urlsplit(url).path


CLEAN = {}  # provider -> (seeded snapshot, end snapshot, results) of its clean run


def clean_run(provider):
    """The provider's tasks run once cleanly, on an emulator of their own: ``(seeded state, end state, results)``. No fault
    and a fresh emulator: every clean run of a provider is the same, so it runs once, in the first case that needs it."""
    if provider not in CLEAN:
        spec = PROVIDERS[provider]
        with contextlib.ExitStack() as stack:
            emu = spec.emulator(stack)
            ids = spec.seed(emu)
            initial = spec.snapshot(emu)
            results = ok(run_tasks_in_process(spec.tasks(ids), module_defaults=spec.defaults(emu, timeout=TIMEOUT), env=spec.env))
            CLEAN[provider] = (initial, spec.snapshot(emu), list(results))
    return CLEAN[provider]


@pytest.mark.parametrize("fault_seed", SEEDS)
@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_state_modules_under_faults(provider, fault_seed):
    # pylint: disable=too-many-statements
    """The provider's fault tasks under 10% faults end where the clean run ends, lose nothing, say why they failed."""
    spec = PROVIDERS[provider]
    initial, expected, clean = clean_run(provider)
    assert expected != initial, "the tasks change nothing"
    kept = leaves(initial) & leaves(expected)
    assert kept, "the clean run keeps nothing"
    with contextlib.ExitStack() as stack:
        emu = spec.emulator(stack)  # a fresh emulator seeded alike: the same ids, so the same paths for a seed's decisions
        ids = spec.seed(emu)
        assert spec.snapshot(emu) == initial
        tasks = spec.tasks(ids)
        upstream = urlsplit(emu.url)
        proxy = stack.enter_context(SlowFaultProxy(f"{upstream.scheme}://{upstream.netloc}", seed=fault_seed, rate=RATE,
                                                   retry_after=(0, 1), slow_rate=SLOW_RATE, slow_seconds=SLOW_SECONDS))
        module_defaults = spec.defaults(emu, api_url=through(proxy, emu.url), timeout=TIMEOUT)

        runs, retries, lost, failures = 0, 0, set(), []
        while runs < MAX_RUNS:
            runs += 1
            results = run_tasks_in_process(tasks, module_defaults=module_defaults, env=spec.env)
            ran = [result for result in results if not result.get("not_run")]
            retries += retries_of(ran)
            lost |= {leaf for leaf in kept if leaf not in leaves(spec.snapshot(emu))}
            if results.rc == 0:
                if runs == 1:  # a run that went through says what the clean run said
                    assert [r["changed"] for r in results] == [r["changed"] for r in clean], results.output
                    assert [r.get("actions") for r in results] == [r.get("actions") for r in clean], results.output
                break
            failed = [(index, result) for index, result in enumerate(results) if result.get("failed")]
            assert len(failed) == 1, results.output
            index, result = failed[0]
            failures.append({"run": runs, "task": index, "msg": result.get("msg")})
            # a failed run says why: the status or the connection failure of the request it could not repeat
            assert result.get("msg") and REASON_RE.search(result["msg"]), result
        proxy.wait_idle()
        stats = proxy.stats()
        # the faulted requests (slow ones included), and how many by method: POST and PATCH are not safe to repeat
        faulted = [(entry.method, entry.key, entry.fault or "slow") for entry in proxy.log() if entry.fault or proxy.was_slow(entry.seq)]
        by_method = dict(sorted(collections.Counter(method for method, _key, _kind in faulted).items()))
        figures = {"test": "module_faults_providers", "provider": provider, "seed": fault_seed, "runs": runs,
                   "requests": stats["seen"], "faults": stats["faulted"], "kinds": stats["faults"], "by_method": by_method, "retries": retries,
                   "lost": len(lost), "failed_runs": len(failures), "end_state_clean": spec.snapshot(emu) == expected}
        record(dict(figures, failures=failures, faulted=sorted(faulted)))
        print(f"\nmodule faults on {provider}: seed {fault_seed}, {runs} run(s), {stats['seen']} API requests, {stats['faulted']} faults "
              f"{stats['faults']} (by method {by_method}), {retries} retries, {len(lost)} lost, failed runs {failures}")
        assert lost == set(), (figures, sorted(lost, key=str))
        assert results.rc == 0, (figures, failures)
        assert spec.snapshot(emu) == expected, figures
