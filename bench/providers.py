"""Provider latency suite: every cloud provider's emulator with a fixed latency on every request.

For each provider (gcore, vultr, gitlab, github, ncloud; ``tests/emulators/``) and each operation (bulk tag removal,
bulk artifact removal, a user batch where the provider has users, the cleanup role) the same seed is run twice, in
fresh emulators: once with ``--latency`` seconds (default 0.030) added to every API request by the emulator's
``latency`` fault, and once with no latency. The difference of the two wall times is the time the latency cost the
run (the zero-latency run is the equivalent no-op: same ansible-playbook, same module processes, same client and
emulator CPU, no waiting). It is compared with the ideal floor ``requests x latency / concurrency``: the requests the
run sent to the emulator (its request log), all of them overlapped ``concurrency`` at a time, where ``concurrency`` is
what the collection uses for the operation (8, the option's value; GitHub's writes at most ``WRITE_CONCURRENCY``, 4).

An emulator answers one request at a time (its handlers run under one lock; the latency is waited outside it), so no
client can finish before the emulator has handled every request: the sum of the handlers' times (``handled_s``, from
the request log) is a second floor, which the backed emulators (handlers that read and write the real registry behind
them) can reach. Each request also holds one of the collection's ``concurrency`` slots for the latency plus its handling,
so the floor this set-up allows (the "reachable floor") is the larger of ``(requests x latency + handled) / concurrency``
and ``handled``; the suite reports the in-flight time against it too.

Vultr's registry host (where the collection removes tags over the OCI API, with docker credentials that Vultr's API
mints) is a real registry reached directly: the suite puts a latency proxy in front of it, so those requests carry the
same latency, and counts them with the emulator's (the emulator's own reads of that registry bypass the proxy: they are
the provider's internals, not the client's requests).
"""

import contextlib
import re
import hashlib
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from common import REPO_ROOT, fmt_table, log, play, run_playbook  # pylint: disable=wrong-import-order
from tests.emulators.gcore import DEFAULT_API_KEY as GCORE_KEY, DEFAULT_PROJECT_ID, DEFAULT_REGION_ID, GcoreEmulator
from tests.emulators.github import DEFAULT_TOKEN as GITHUB_TOKEN, GitHubEmulator, ghcr_backend
from tests.emulators.gitlab import DEFAULT_TOKEN as GITLAB_TOKEN, GitLabEmulator
from tests.emulators.ncloud import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, NcloudEmulator, ncr_backend
from tests.emulators.vultr import DEFAULT_API_KEY as VULTR_KEY, VultrEmulator
from tests.support.faultproxy import FaultProxy
from tests.support.registry import LocalRegistry
from tests.support.seed import SeedClient

NOW = "2026-11-01T00:00:00Z"
OLD, NEW = "2026-01-15T00:00:00Z", "2026-10-28T00:00:00Z"   # the role's policy: older than 30 days goes
ROLE_POLICY = {"name": "older-than-30d", "older_than": "30d", "keep": {"latest": True, "min_age": "1h"}}
OPERATIONS = ("tags", "artifacts", "users", "role")
TARGET = 1.5
GITHUB_PROVIDER = REPO_ROOT / "plugins" / "module_utils" / "providers" / "github.py"


def github_write_concurrency():
    """The collection's cap on concurrent GitHub writes, read from its source (the bench does not import the collection)."""
    return int(re.search(r"^WRITE_CONCURRENCY = (\d+)$", GITHUB_PROVIDER.read_text(encoding="utf-8"), re.M).group(1))


SHARED_LAYER = b"regops-bench-shared-layer"


def fake_digest(*parts):
    """A valid ``sha256:`` digest derived from ``parts``."""
    return "sha256:" + hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()


def is_old(index):
    """The role seed: even items are old (removed by the policy), odd ones recent (kept)."""
    return index % 2 == 0


class LatencyProxy(FaultProxy):
    """A pass-through proxy (``tests/support/faultproxy.py``, no faults) that delays every request by ``latency`` seconds."""

    def __init__(self, upstream):
        super().__init__(upstream, spare_probe=False)
        self.latency = 0.0
        self.arrivals = []

    def decide(self, method, path):
        """Note the arrival, wait, then forward (the handler thread sleeps, as the emulators' latency fault does)."""
        self.arrivals.append(time.time())
        if self.latency:
            time.sleep(self.latency)
        return super().decide(method, path)


class Env:  # pylint: disable=too-few-public-methods
    """A started provider: ``emu`` (the emulator), ``backend`` (the real registry behind it or ``None``) and ``proxy``
    (a :class:`LatencyProxy` the collection reaches a registry through, or ``None``)."""

    def __init__(self, emu, backend=None, proxy=None):
        self.emu, self.backend, self.proxy = emu, backend, proxy

    def set_latency(self, seconds):
        """Every request the collection sends waits ``seconds`` (0: none); the request logs start afresh."""
        self.emu.clear_faults()
        self.emu.log.clear()
        if seconds:
            self.emu.latency(seconds)
        if self.proxy is not None:
            self.proxy.latency = seconds
            self.proxy.reset_counters()
            self.proxy.arrivals = []

    def records(self):
        """``(emulator log records, proxy log entries)`` since :meth:`set_latency`."""
        return self.emu.log.records, (self.proxy.log() if self.proxy is not None else [])

    def intervals(self, latency):
        """``[(start, end)]`` of every request: from when the emulator received it (a latency fault waits after that) to
        when it answered, so a request queued behind the emulator's lock counts as outstanding; the proxy notes arrivals."""
        spans = [(rec.received or rec.timestamp - latency, rec.timestamp) for rec in self.emu.log.records]
        if self.proxy is not None:
            spans += [(arrival, arrival + latency) for arrival in self.proxy.arrivals]
        return spans


def in_flight(intervals):
    """``(seconds with at least one request outstanding, most requests outstanding at once)``."""
    # an interval of no length (the latency proxy's requests at 0 ms) holds nothing; kept, its end would sort before
    # its start and leave the count off by one for the rest of the run
    intervals = [(start, end) for start, end in intervals if end > start]
    events = sorted([(start, 1) for start, _end in intervals] + [(end, -1) for _start, end in intervals])
    busy, depth, peak, since = 0.0, 0, 0, None
    for when, step in events:
        if depth == 0 and step > 0:
            since = when
        depth += step
        peak = max(peak, depth)
        if depth == 0 and since is not None:
            busy += when - since
    return busy, peak


class Provider:
    """A provider's emulator set-up and seeds. Subclasses fill in ``name``, ``connection``, ``role_connection`` and seeds.

    ``start()`` is a context manager giving an :class:`Env`. The seeds take the emulator, the real registry behind it
    (or ``None``) and the item count, and return ``{"args": module options, "check": end state is right}`` (plus
    ``"module"`` and ``"what"`` for the user batch), or ``{"vars": role vars, "check": ...}`` for the role.
    """

    name = None
    users_note = None

    @contextlib.contextmanager
    def start(self):
        """The :class:`Env`, started and stopped."""
        raise NotImplementedError

    def concurrency(self, operation, configured):  # pylint: disable=unused-argument
        """The requests the collection keeps in flight at once for ``operation`` (``configured``: the option's value)."""
        return configured

    def connection(self, emu):
        """The modules' connection options."""
        raise NotImplementedError

    def role_connection(self, emu):
        """The role's connection variables."""
        raise NotImplementedError

    def seed_tags(self, emu, backend, count):
        """``count`` removable tags, each sharing its digest with a tag that stays: the ``tag`` task."""
        raise NotImplementedError

    def seed_artifacts(self, emu, backend, count):
        """``count`` digests to delete: the ``artifact`` task."""
        raise NotImplementedError

    def seed_users(self, emu, backend, count):  # pylint: disable=unused-argument
        """A user batch of ``count`` users (``None``: the provider has no users API)."""
        return None

    def seed_role(self, emu, backend, count):
        """``count`` tags, one per digest, half of them old: the role's vars (``cleanup_registry`` and the policy)."""
        raise NotImplementedError

    def task(self, emu, module, concurrency, **args):
        """A ``regops.registry.<module>`` task with this provider's connection."""
        options = dict(self.connection(emu), concurrency=concurrency)
        options.update(args)
        return {"name": "%s %s" % (self.name, module), "regops.registry." + module: options}


def push_images(client, jobs, workers=8):
    """Push ``jobs`` ``(repository, tags, created)`` with one shared layer; returns their digests (in order)."""
    def push(job):
        return client.push_image(job[0], tags=job[1], created=job[2], layers=[SHARED_LAYER], labels={"bench": "%s:%s" % (job[0], job[1][0])})

    first = push(jobs[0])  # negotiates auth once, before the pool
    with ThreadPoolExecutor(workers) as pool:
        return [first] + list(pool.map(push, jobs[1:]))


# ---------------------------------------------------------------------------
# Gcore: everything in the emulator's own state; one batch call creates several users.
# ---------------------------------------------------------------------------
class Gcore(Provider):
    """Gcore Container Registry (tags, artifacts and users over its REST API)."""

    name = "gcore"
    registry = "bench"

    @contextlib.contextmanager
    def start(self):
        with GcoreEmulator() as emu:
            emu.configure(default_limit=1000, max_limit=1000)
            yield Env(emu)

    def connection(self, emu):
        return {"provider": "gcore", "api_url": emu.url, "api_token": GCORE_KEY, "project_id": DEFAULT_PROJECT_ID, "region_id": DEFAULT_REGION_ID}

    def role_connection(self, emu):
        return {"cleanup_provider": "gcore", "cleanup_api_url": emu.url, "cleanup_api_token": GCORE_KEY, "cleanup_project_id": DEFAULT_PROJECT_ID,
                "cleanup_region_id": DEFAULT_REGION_ID, "cleanup_registry": self.registry}

    def _seed(self, emu, artifacts, users=()):
        emu.seed({"registries": [{"name": self.registry, "storage_limit": 100, "users": list(users),
                                  "repositories": [{"name": "team/app", "artifacts": artifacts}]}]})

    def _tags(self, emu):
        state = next(r for r in emu.dump_state()["registries"] if r["name"] == self.registry)
        return {t["name"] for repo in state["repositories"] for a in repo["artifacts"] for t in a["tags"]}

    def seed_tags(self, emu, backend, count):
        self._seed(emu, [{"digest": fake_digest("gt", i), "size": 10, "pushed_at": OLD, "tags": ["rm-%05d" % i, "keep-%05d" % i]}
                         for i in range(count)])
        names = ["rm-%05d" % i for i in range(count)]
        return {"args": {"registry": self.registry, "repository": "team/app", "name": names, "state": "absent"},
                "check": lambda: not set(names) & self._tags(emu)}

    def seed_artifacts(self, emu, backend, count):
        self._seed(emu, [{"digest": fake_digest("ga", i), "size": 10, "pushed_at": OLD, "tags": ["a-%05d" % i]} for i in range(count)])
        digests = [fake_digest("ga", i) for i in range(count)]
        return {"args": {"registry": self.registry, "repository": "team/app", "digest": digests, "state": "absent"},
                "check": lambda: not self._tags(emu)}

    def seed_users(self, emu, backend, count):
        self._seed(emu, [])
        names = ["bot%05d" % i for i in range(count)]

        def check():
            state = next(r for r in emu.dump_state()["registries"] if r["name"] == self.registry)
            return len(state["users"]) == count
        return {"module": "registry_user", "args": {"registry": self.registry, "name": names, "duration": 30, "read_only": True},
                "check": check, "what": "create %d users" % count}

    def seed_role(self, emu, backend, count):
        self._seed(emu, [{"digest": fake_digest("gr", i), "size": 10, "pushed_at": OLD if is_old(i) else NEW, "tags": ["b-%05d" % i]}
                         for i in range(count)])
        return {"vars": {}, "check": lambda: len(self._tags(emu)) == count - (count + 1) // 2}


# ---------------------------------------------------------------------------
# Vultr: the API lists and deletes artifacts of the real registry behind it; tags go over that registry's own
# OCI API (the collection talks to the registry host directly, with docker credentials minted by Vultr's API).
# ---------------------------------------------------------------------------
class Vultr(Provider):
    """Vultr Container Registry, backed by a real registry (``registry_host``)."""

    name = "vultr"
    registry = "bench"
    users_note = "robots: Vultr's API cannot create one; the batch updates N existing robots (description)"

    @contextlib.contextmanager
    def start(self):
        # auth none: with htpasswd, distribution runs bcrypt on every request, and the collection's tag removal sends
        # hundreds of them to this registry (the backed emulator reads its tags from the registry's storage).
        # Vultr hands out the proxy as the registry host; the emulator's own reads of its registry go around it.
        with LocalRegistry(auth="none") as real, LatencyProxy(real) as proxy, VultrEmulator(
                registry_host=proxy.host, backend_host=real.host, docker_credentials={"username": "bench", "password": "bench"}) as emu:
            emu.add_registry(self.registry, region="sjc", plan="business")
            yield Env(emu, real, proxy)

    def connection(self, emu):
        return {"provider": "vultr", "api_url": emu.url, "api_token": VULTR_KEY}

    def role_connection(self, emu):
        return {"cleanup_provider": "vultr", "cleanup_api_url": emu.url, "cleanup_api_token": VULTR_KEY, "cleanup_registry": self.registry}

    def _push(self, backend, jobs):
        """Push ``(repository, tags, created)`` to the registry behind Vultr; returns the digests."""
        return push_images(SeedClient.for_registry(backend), [("%s/%s" % (self.registry, r), t, c) for r, t, c in jobs])

    def _unbacked(self, emu, artifacts):
        """Artifacts in the emulator's own state (``registry_backing`` off): the backed emulator reads every tag of the
        repository from the registry on each API request, under its lock (see docs/benchmark.md), which would measure
        the emulator. Deleting artifacts needs no registry (Vultr's API does it); removing tags does."""
        emu.configure(registry_backing=False)
        for digest, tags, pushed in artifacts:
            emu.add_artifact(self.registry, "app", digest=digest, size=10, push_time=pushed, tags=[{"name": t, "push_time": pushed} for t in tags])

    def seed_tags(self, emu, backend, count):
        self._push(backend, [("app", ["rm-%05d" % i, "keep-%05d" % i], OLD) for i in range(count)])
        names = ["rm-%05d" % i for i in range(count)]
        client = SeedClient.for_registry(backend)
        return {"args": {"registry": self.registry, "repository": "app", "name": names, "state": "absent"},
                "check": lambda: not set(names) & set(client.tags(self.registry + "/app"))}

    def seed_artifacts(self, emu, backend, count):
        digests = [fake_digest("va", i) for i in range(count)]
        self._unbacked(emu, [(d, ["a-%05d" % i], OLD) for i, d in enumerate(digests)] + [(fake_digest("va-stays"), ["stays"], NEW)])
        return {"args": {"registry": self.registry, "repository": "app", "digest": digests, "state": "absent"},
                "check": lambda: self._artifact_count(emu) == 1}

    def _artifact_count(self, emu):
        return sum(len(repo.get("artifacts", ())) for r in emu.dump_state()["registries"] if r["name"] == self.registry
                   for repo in r.get("repositories", ()))

    def seed_users(self, emu, backend, count):
        names = ["robot$%s+bot%05d" % (self.registry, i) for i in range(count)]
        for i in range(count):
            emu.add_robot(self.registry, "bot%05d" % i, description="old")

        def check():
            return sum(1 for r in emu.dump_state()["registries"] if r["name"] == self.registry for b in r.get("robots", ())
                       if b.get("description") == "bench") == count
        return {"module": "registry_user", "args": {"registry": self.registry, "name": names, "description": "bench"}, "check": check,
                "what": "update %d robots" % count}

    def seed_role(self, emu, backend, count):
        self._unbacked(emu, [(fake_digest("vr", i), ["b-%05d" % i], OLD if is_old(i) else NEW) for i in range(count)])
        return {"vars": {}, "check": lambda: self._artifact_count(emu) == count - (count + 1) // 2}


# ---------------------------------------------------------------------------
# GitLab: the emulator's own tags (no registry behind it); deploy tokens are the users.
# ---------------------------------------------------------------------------
class GitLab(Provider):
    """GitLab's container registry API (tags deleted one by one, digests by deleting all their tags)."""

    name = "gitlab"
    project = "acme/bench"
    users_note = "deploy tokens of the project"

    @contextlib.contextmanager
    def start(self):
        with GitLabEmulator() as emu:
            emu.add_project(self.project)
            yield Env(emu)

    def connection(self, emu):
        return {"provider": "gitlab", "api_url": emu.url, "api_token": GITLAB_TOKEN}

    def role_connection(self, emu):
        return {"cleanup_provider": "gitlab", "cleanup_api_url": emu.url, "cleanup_api_token": GITLAB_TOKEN, "cleanup_registry": self.project}

    def _seed(self, emu, tags):
        emu.add_repository(self.project, "", tags=tags)

    def _tags(self, emu):
        return {t["name"] for p in emu.dump_state()["projects"] if p["path_with_namespace"] == self.project for r in p["repositories"]
                for t in r["tags"]}

    def seed_tags(self, emu, backend, count):
        tags = []
        for i in range(count):
            digest = fake_digest("lt", i)
            tags += [{"name": "rm-%05d" % i, "digest": digest, "created_at": OLD}, {"name": "keep-%05d" % i, "digest": digest, "created_at": OLD}]
        self._seed(emu, tags)
        names = ["rm-%05d" % i for i in range(count)]
        return {"args": {"registry": self.project, "repository": self.project, "name": names, "state": "absent"},
                "check": lambda: not set(names) & self._tags(emu)}

    def seed_artifacts(self, emu, backend, count):
        self._seed(emu, [{"name": "a-%05d" % i, "digest": fake_digest("la", i), "created_at": OLD} for i in range(count)])
        digests = [fake_digest("la", i) for i in range(count)]
        return {"args": {"registry": self.project, "repository": self.project, "digest": digests, "state": "absent"},
                "check": lambda: not self._tags(emu)}

    def seed_users(self, emu, backend, count):
        names = ["bot%05d" % i for i in range(count)]

        def check():
            return sum(1 for p in emu.dump_state()["projects"] if p["path_with_namespace"] == self.project
                       for t in p.get("deploy_tokens", ()) if not t.get("revoked")) == count
        return {"module": "registry_user", "args": {"registry": self.project, "name": names, "read_only": True}, "check": check,
                "what": "create %d deploy tokens" % count}

    def seed_role(self, emu, backend, count):
        self._seed(emu, [{"name": "b-%05d" % i, "digest": fake_digest("lr", i), "created_at": OLD if is_old(i) else NEW} for i in range(count)])
        return {"vars": {}, "check": lambda: len(self._tags(emu)) == count - (count + 1) // 2}


# ---------------------------------------------------------------------------
# GitHub: ghcr.io packages; the images are pushed through the emulator's /v2/ front (a real registry behind it).
# ---------------------------------------------------------------------------
class GitHub(Provider):
    """GitHub Packages (container): versions deleted over REST, tags removed over the ghcr.io front."""

    name = "github"
    org = "acme"

    def concurrency(self, operation, configured):
        """Version deletes (the artifact removal, the role's deletes) go at most ``WRITE_CONCURRENCY`` at once."""
        return min(configured, github_write_concurrency()) if operation in ("artifacts", "role") else configured

    @contextlib.contextmanager
    def start(self):
        with GitHubEmulator(clock=NOW) as emu:
            emu.configure(rate_limit=0)
            backend = ghcr_backend(emu)
            try:
                yield Env(emu, backend)
            finally:
                backend.stop()

    def connection(self, emu):
        return {"provider": "github", "api_url": emu.url, "api_token": GITHUB_TOKEN, "oci_url": emu.url}

    def role_connection(self, emu):
        return {"cleanup_provider": "github", "cleanup_api_url": emu.url, "cleanup_oci_url": emu.url, "cleanup_api_token": GITHUB_TOKEN,
                "cleanup_registry": self.org}

    def _push(self, emu, jobs):
        digests = push_images(SeedClient(emu.url, "octocat", GITHUB_TOKEN), [("%s/%s" % (self.org, r), t, c) for r, t, c in jobs])
        for (repo, _tags, created), digest in zip(jobs, digests):
            emu.set_version_created("org", self.org, repo, digest, created)
        return digests

    def _tags(self, emu):
        org = next(o for o in emu.dump_state()["orgs"] if o["login"] == self.org)
        return {t for p in org["packages"] if not p.get("deleted_at") for v in p["versions"] if not v.get("deleted_at")
                for t in v["metadata"]["container"]["tags"]}

    def seed_tags(self, emu, backend, count):
        self._push(emu, [("app", ["rm-%05d" % i, "keep-%05d" % i], OLD) for i in range(count)])
        names = ["rm-%05d" % i for i in range(count)]
        return {"args": {"registry": self.org, "repository": ["app"], "name": names, "state": "absent"},
                "check": lambda: not set(names) & self._tags(emu)}

    def seed_artifacts(self, emu, backend, count):
        digests = self._push(emu, [("app", ["a-%05d" % i], OLD) for i in range(count)] + [("app", ["stays"], NEW)])[:-1]
        return {"args": {"registry": self.org, "repository": "app", "digest": digests, "state": "absent"},
                "check": lambda: self._tags(emu) == {"stays"}}

    def seed_role(self, emu, backend, count):
        self._push(emu, [("app", ["b-%05d" % i], OLD if is_old(i) else NEW) for i in range(count)])
        return {"vars": {}, "check": lambda: len(self._tags(emu)) == count - (count + 1) // 2}


# ---------------------------------------------------------------------------
# Naver Cloud: NCR's signed API; the images pushed through the registry's /v2/ front (a real registry behind it).
# ---------------------------------------------------------------------------
class Ncloud(Provider):
    """Naver Cloud Container Registry: tags deleted over the API, a tag sharing its digest over the registry front."""

    name = "ncloud"
    registry = "acme"

    @contextlib.contextmanager
    def start(self):
        with NcloudEmulator() as emu:
            backend = ncr_backend(emu)
            try:
                emu.add_registry(self.registry, bucket="acme-images")
                yield Env(emu, backend)
            finally:
                backend.stop()

    def connection(self, emu):
        return {"provider": "ncloud", "api_url": emu.api_url("kr"), "access_key": DEFAULT_ACCESS_KEY, "secret_key": DEFAULT_SECRET_KEY}

    def role_connection(self, emu):
        return {"cleanup_provider": "ncloud", "cleanup_api_url": emu.api_url("kr"), "cleanup_access_key": DEFAULT_ACCESS_KEY,
                "cleanup_secret_key": DEFAULT_SECRET_KEY, "cleanup_registry": self.registry}

    def _push(self, emu, jobs):
        digests = push_images(SeedClient(emu.front_url(self.registry), DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY), jobs)
        for repo, tags, created in jobs:
            for tag in tags:
                emu.set_pushed(self.registry, repo, tag, created)
        return digests

    def _tags(self, emu):
        registry = next(r for r in emu.dump_state()["regions"]["kr"] if r["name"] == self.registry)
        return {t["name"] for i in registry["images"] for t in i["tags"]}

    def tags_left(self, emu):
        """The tags left (recorded when an end state is wrong)."""
        return self._tags(emu)

    def seed_tags(self, emu, backend, count):
        self._push(emu, [("app", ["rm-%05d" % i, "keep-%05d" % i], OLD) for i in range(count)])
        names = ["rm-%05d" % i for i in range(count)]
        return {"args": {"registry": self.registry, "repository": ["app"], "name": names, "state": "absent"},
                "check": lambda: not set(names) & self._tags(emu)}

    def seed_artifacts(self, emu, backend, count):
        digests = self._push(emu, [("app", ["a-%05d" % i], OLD) for i in range(count)] + [("app", ["stays"], NEW)])[:-1]
        return {"args": {"registry": self.registry, "repository": "app", "digest": digests, "state": "absent"},
                "check": lambda: self._tags(emu) == {"stays"}}

    def seed_role(self, emu, backend, count):
        self._push(emu, [("app", ["b-%05d" % i], OLD if is_old(i) else NEW) for i in range(count)])
        return {"vars": {}, "check": lambda: len(self._tags(emu)) == count - (count + 1) // 2}


PROVIDERS = {cls.name: cls for cls in (Gcore, Vultr, GitLab, GitHub, Ncloud)}


# ---------------------------------------------------------------------------
# Running and measuring
# ---------------------------------------------------------------------------
def request_kinds(records, entries):
    """``{"METHOD route status": count}`` of emulator log records (the route template, or the path) and proxy entries."""
    kinds = {}
    keys = ["%s %s %s" % (rec.method, rec.route or rec.path.split("?")[0], rec.status) for rec in records]
    keys += ["direct %s %s %s" % (entry.method, re.sub(r"/(manifests|blobs|tags)/.*", r"/\1/..", entry.path.split("?")[0]), entry.status)
             for entry in entries]
    for key in keys:
        kinds[key] = kinds.get(key, 0) + 1
    return dict(sorted(kinds.items()))


def run_once(provider, operation, count, latency, opts, workroot):
    """Seed a fresh emulator, switch the latency on, run the operation once; its wall time, requests and end-state check."""
    with provider.start() as env:
        scenario = getattr(provider, "seed_" + operation)(env.emu, env.backend, count)
        if scenario is None:
            return None
        if operation == "role":
            extra = dict(provider.role_connection(env.emu), cleanup_concurrency=opts.concurrency, cleanup_now=NOW,
                         cleanup_policies=[ROLE_POLICY], cleanup_print_plan=False, **scenario["vars"])
            plays = [{"name": "cleanup", "hosts": "localhost", "gather_facts": False, "roles": [{"role": "regops.registry.cleanup"}]}]
        else:
            module = scenario.get("module", {"tags": "tag", "artifacts": "artifact"}.get(operation))
            plays, extra = play([provider.task(env.emu, module, opts.concurrency, **scenario["args"])]), {}
        env.set_latency(latency)
        result = run_playbook(plays, extra, "%s-%s-%dms" % (provider.name, operation, round(latency * 1000)), workroot)
        records, entries = env.records()
        busy, peak = in_flight(env.intervals(latency))
        env.set_latency(0)
        result.update(in_flight_s=round(busy, 3), max_in_flight=peak, requests=len(records) + len(entries),
                      handled_s=round(sum(rec.handled_s for rec in records), 3),
                      direct_requests=len(entries) if env.proxy is not None else None,
                      request_kinds=request_kinds(records, entries), what=scenario.get("what"), end_state_ok=bool(scenario["check"]()),
                      tags_left=sorted(provider.tags_left(env.emu)) if not scenario["check"]() and hasattr(provider, "tags_left") else None,
                      throttled_or_failed=sum(1 for r in records if r.status in (429, 500, 502, 503)))
        return result


def measure(provider, operation, count, opts, workroot):
    """The operation with and without latency (``opts.repeat`` runs each, the median kept) and the derived figures.

    The latency's cost is the time with at least one request outstanding (``in_flight_s``, from the request logs): with
    every request overlapped ``concurrency`` at a time it equals the floor ``requests x latency / concurrency``. It leaves
    out ansible-playbook's start-up, the module processes' imports and the CPU work between requests, the parts that a
    loaded machine makes noisy. The whole wall time is reported too, with the same run at 0 ms (the equivalent no-op:
    same playbook, processes and CPU work, no waiting) and their difference.
    """
    runs = {}
    for latency in (opts.latency, 0.0):
        samples = []
        for _attempt in range(opts.repeat):
            res = run_once(provider, operation, count, latency, opts, workroot)
            if res is None:
                return None
            samples.append(res)
        runs["latency" if latency else "zero"] = {"wall_s": statistics.median(s["wall_s"] for s in samples), "samples": samples}
    lat, zero = runs["latency"], runs["zero"]
    first = lat["samples"][0]
    busy = statistics.median(s["in_flight_s"] for s in lat["samples"])
    handled = statistics.median(s["handled_s"] for s in lat["samples"])
    requests = first["requests"]
    concurrency = provider.concurrency(operation, opts.concurrency)
    floor, item_floor = requests * opts.latency / concurrency, count * opts.latency / concurrency
    # each request holds one of the collection's slots for the latency plus its handling, and the emulator handles one at a time
    reachable = max((requests * opts.latency + handled) / concurrency, handled)
    wall_cost = lat["wall_s"] - zero["wall_s"]
    return {
        "provider": provider.name, "operation": operation, "items": count, "what": first.get("what"),
        "wall_s": lat["wall_s"], "zero_latency_wall_s": zero["wall_s"], "wall_cost_s": round(wall_cost, 3),
        "in_flight_s": round(busy, 3), "max_in_flight": max(s["max_in_flight"] for s in lat["samples"]),
        "zero_latency_in_flight_s": round(statistics.median(s["in_flight_s"] for s in zero["samples"]), 3),
        "requests": requests, "requests_per_item": round(requests / count, 2), "direct_requests": first.get("direct_requests"),
        "concurrency": concurrency, "floor_s": round(floor, 3), "item_floor_s": round(item_floor, 3), "handled_s": round(handled, 3),
        "reachable_floor_s": round(reachable, 3), "reachable_ratio": round(busy / reachable, 2),
        "within_reachable_target": busy / reachable <= TARGET,
        "ratio": round(busy / floor, 2), "item_ratio": round(busy / item_floor, 2), "wall_cost_ratio": round(wall_cost / floor, 2),
        "within_target": busy / floor <= TARGET, "within_item_target": busy / item_floor <= TARGET,
        "end_state_ok": all(s["end_state_ok"] for run in runs.values() for s in run["samples"]),
        "request_kinds": first["request_kinds"], "runs": runs,
    }


def suite(opts, workroot):
    """Every provider x operation; returns the JSON-able results."""
    names = opts.providers.split(",") if opts.providers else list(PROVIDERS)
    results = {"latency_s": opts.latency, "concurrency": opts.concurrency, "items": opts.provider_items, "repeat": opts.repeat, "rows": []}
    for name in names:
        provider = PROVIDERS[name]()
        for operation in OPERATIONS:
            t0 = time.monotonic()
            row = measure(provider, operation, opts.provider_items, opts, workroot)
            if row is None:
                results["rows"].append({"provider": name, "operation": operation, "skipped": "no users API"})
                continue
            log("providers: %s %s x%d: wall %.2fs (%.2fs at 0), in flight %.2fs (max %d), floor %.2fs (%d req at %d), emulator "
                "busy %.2fs: %.2fx the floor, %.2fx the reachable floor (%.0fs)" % (
                    name, operation, row["items"], row["wall_s"], row["zero_latency_wall_s"], row["in_flight_s"], row["max_in_flight"],
                    row["floor_s"], row["requests"], row["concurrency"], row["handled_s"], row["ratio"], row["reachable_ratio"],
                    time.monotonic() - t0))
            if operation == "users" and provider.users_note:
                row["note"] = provider.users_note
            results["rows"].append(row)
    ratios = [r["ratio"] for r in results["rows"] if r.get("ratio")]
    results["ratio_median"] = statistics.median(ratios) if ratios else None
    return results


def render(results):
    """The provider table as text."""
    rows = []
    for row in results["rows"]:
        if row.get("skipped"):
            rows.append([row["provider"], row["operation"]] + ["-"] * 10 + [row["skipped"]])
            continue
        direct = row.get("direct_requests")
        requests = "%d%s (%.2f)" % (row["requests"], "" if direct is None else ", %d direct" % direct, row["requests_per_item"])
        rows.append([row["provider"], row["operation"], row["items"], requests, "%.2f / %.2f" % (row["wall_s"], row["zero_latency_wall_s"]),
                     "%.2f / %.2f" % (row["in_flight_s"], row["zero_latency_in_flight_s"]),
                     "%d / %d" % (row["max_in_flight"], row["concurrency"]),
                     "%.2f / %.2f" % (row["floor_s"], row["item_floor_s"]),
                     "%.2fx %s / %.2fx %s" % (row["ratio"], "ok" if row["within_target"] else "MISS",
                                              row["item_ratio"], "ok" if row["within_item_target"] else "MISS"),
                     "%.2f" % row["handled_s"],
                     "%.2fx %s" % (row["reachable_ratio"], "ok" if row["within_reachable_target"] else "MISS"),
                     "%.2fx" % row["wall_cost_ratio"], "ok" if row["end_state_ok"] else "WRONG"])
    ms = round(results["latency_s"] * 1000)
    headers = ["provider", "operation", "items", "requests (per item)", "wall s %dms / 0ms" % ms, "in flight s %dms / 0ms" % ms,
               "max in flight / concurrency", "floor s req / items", "in flight / floor: req / items (<= %.1fx)" % TARGET,
               "emulator busy s", "in flight / reachable floor", "wall cost / req floor", "end state"]
    head = ("Providers: %d ms added to every request, concurrency %d, median of %d run(s). floor = requests (or items) x latency / "
            "the concurrency the collection uses; emulator busy = the emulator's handlers' time, one request at a time; reachable "
            "floor = max((requests x latency + emulator busy) / concurrency, emulator busy); in flight = time with a request "
            "outstanding (at 0 ms: the set-up's own processing time, which no latency overlap can go below); wall cost = wall at %d ms - "
            "wall of the same run at 0 ms") % (ms, results["concurrency"], results["repeat"], ms)
    return head + "\n" + fmt_table(rows, headers)


def add_arguments(parser):
    """The suite's command-line options."""
    parser.add_argument("--provider-items", type=int, default=200, help="providers: items per operation (default 200)")
    parser.add_argument("--providers", help="providers: comma-separated subset of %s" % ",".join(PROVIDERS))
    parser.add_argument("--latency", type=float, default=0.030, help="providers: seconds added to every emulator request (default 0.030)")
    parser.add_argument("--repeat", type=int, default=1, help="providers: runs per figure, the median is kept (default 1)")


def quick(opts):
    """Small sizes for the smoke run."""
    opts.provider_items = min(opts.provider_items, 16)
