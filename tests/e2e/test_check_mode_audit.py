"""Check-mode audit: every module x provider x state, one task at a time, against a recording emulator.

For each task of each cloud provider's lifecycle (the same tasks the provider's end-to-end test runs through
ansible-playbook), from a freshly seeded emulator, and for the ``oci`` provider on the real registry (its access log
records the requests):

1. check mode sends no mutating request and changes nothing in the emulator's state;
2. the real run reports the same ``changed``, the same ``actions`` and the same diff ``before`` as check mode predicted;
3. a second real run reports ``changed: false`` and sends no mutating request (idempotence), except for the tasks that
   change by design every time (``refresh_secret``, minted credentials, a recreated deploy token);
4. no result, check mode or real, carries a connection secret (``api_token``, ``api_password``, ``secret_key``), check
   mode returns no secret at all, and a secret the real run created (a user's secret, a deploy token) is not returned
   again by the re-run.

Info modules run in check mode too and must answer exactly what they answer in a real run. The modules run in-process
(``tests/support/module_runner.py``: a forked child per run, as ansible's module processes are), so the whole matrix
costs a few seconds; what ansible-core adds (module_defaults groups, callbacks, output) is covered by the lifecycle tests
through ansible-playbook. A final test proves the matrix is complete: every state of every resource each provider
declares (``Provider.capabilities``), and every info module, is audited.
"""

# pylint: disable=redefined-outer-name
import contextlib
import json
import uuid

import pytest

from tests.e2e import test_gcore, test_github, test_github_metadata, test_gitlab, test_gitlab_access, test_ncloud, test_vultr
from tests.emulators.gcore import GcoreEmulator
from tests.emulators.github import GitHubEmulator, ghcr_backend
from tests.emulators.gitlab import GitLabEmulator
from tests.emulators.ncloud import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, NcloudEmulator
from tests.emulators.vultr import VultrEmulator
from tests.support.module_runner import run_module
from tests.support.seed import SeedClient
from tests.support.tasks import task

from ansible_collections.regops.registry.plugins.module_utils import providers

PREFIX = "regops.registry."
# Results that depend on when a run happens or on what only the real run learns, never predicted by check mode.
VOLATILE = ("invocation", "rc", "warnings", "deprecations")
# The connection options whose values must never come back in a result (no_log).
SECRET_OPTIONS = ("api_token", "api_password", "secret_key")
# Result keys that carry a secret the provider shows once: returned by the run that created or refreshed it, never again.
ONCE_KEYS = ("secret", "token", "password", "docker_config", "kubernetes_secret")


class Part:
    """A seeded emulator state and the tasks audited from it (``prepare(emu, registry)`` resets, seeds, returns them)."""

    # pylint: disable-next=too-many-arguments
    def __init__(self, prepare, defaults, mutations, state, always_changes=None):
        self.prepare, self.defaults, self.mutations, self.state = prepare, defaults, mutations, state
        # tasks that change by design on every run (a secret refreshed, credentials minted)
        self.always_changes = always_changes or (lambda module, args: False)


def _gcore_main(emu, _registry):
    emu.reset()
    emu.configure(batch_shape="object", default_limit=1000, max_limit=1000)
    test_gcore.seed_main(emu)
    return test_gcore.info_tasks() + test_gcore.lifecycle_tasks()


def _vultr_backed(emu, registry):
    emu.reset()
    emu.configure(registry_host=registry.host, docker_credentials={"username": registry.username, "password": registry.password})
    _vultr_backed.count += 1
    return "audit%d" % _vultr_backed.count


_vultr_backed.count = 0


def _vultr_main(emu, registry):
    name = _vultr_backed(emu, registry)
    _seed, digests = test_vultr.seed_lifecycle(emu, registry, name)
    return test_vultr.info_tasks(name) + test_vultr.lifecycle_tasks(name, digests)


def _vultr_more(emu, registry):
    """What the lifecycle leaves out: an artifact that is there, credentials, a retention policy removed."""
    name = _vultr_backed(emu, registry)
    _seed, digests = test_vultr.seed_lifecycle(emu, registry, name)
    emu.add_retention_rule(name, rule_type="latestPushedK", count=5)
    return [
        task("artifact", registry=name, repository="team/app", digest=[digests["A"]], diff=True),
        task("registry_credentials", registry=name, expiry_seconds=600),
        task("retention_policy", registry=name, state="absent", diff=True),
    ]


def _gitlab_main(emu, _registry):
    emu.configure(**test_gitlab.SETTINGS)
    emu.reset()
    test_gitlab.seed(emu)
    return test_gitlab.info_tasks() + test_gitlab.lifecycle_tasks()


def _gitlab_access(emu, _registry):
    emu.configure(**test_gitlab.SETTINGS)
    emu.reset()
    test_gitlab_access.seed(emu)
    return test_gitlab_access.INFO + test_gitlab_access.LIFECYCLE


def _github_main(emu, _registry):
    emu.configure(clock=test_github.CLOCK, **test_github.SETTINGS)
    emu.reset()
    ids = test_github.seed(emu)
    return test_github.info_tasks() + test_github.lifecycle_tasks(ids)


def _github_metadata(emu, _registry):
    # GitHub's documented deployment record has no status: with none to compare, every run writes (and says so); the
    # emulator's extras return it, as test_github_metadata's lifecycle does
    emu.configure(clock=test_github.CLOCK, **dict(test_github_metadata.SETTINGS, deployment_record_extras=True))
    emu.reset()
    test_github_metadata.seed_records(emu)
    return test_github_metadata.INFO + test_github_metadata.LIFECYCLE


def _github_ghcr(emu, _registry):
    """Tags on ghcr.io: images pushed through the emulator's /v2/ front (a real registry behind it)."""
    emu.configure(clock=test_github.CLOCK, **test_github.SETTINGS)
    emu.reset()
    pusher = SeedClient(emu.url, "octocat", test_github.DEFAULT_TOKEN)
    _github_ghcr.count += 1
    package = "app%d" % _github_ghcr.count
    first = pusher.push_image("acme/" + package, tags=["v1", "v1-alias"])
    pusher.push_image("acme/" + package, tags=["v2"], created="2026-02-01T00:00:00Z")
    return [task("tag", registry="acme", repository=[package], name=["v1"], expected_digests={"v1": first}, state="absent", diff=True)]


_github_ghcr.count = 0


def _ncloud_main(emu, _registry):
    emu.configure(**test_ncloud.SETTINGS)
    emu.reset()
    test_ncloud.seed(emu)
    return test_ncloud.info_tasks() + test_ncloud.lifecycle_tasks()


@contextlib.contextmanager
def _github_with_ghcr(_registry):
    with GitHubEmulator(clock=test_github.CLOCK) as emu:
        backend = ghcr_backend(emu)
        try:
            yield emu
        finally:
            backend.stop()


def _ncloud_defaults(emu):
    return test_ncloud.defaults(emu, access_key=DEFAULT_ACCESS_KEY, secret_key=DEFAULT_SECRET_KEY)


class RegistrySite:
    """The real registry as the audit sees an emulator: its access log records, a fresh repository per preparation."""

    def __init__(self, registry):
        self.registry = registry
        self.seed = SeedClient.for_registry(registry)
        self.mark = registry.mark()
        self.prefix = None
        self.count = 0
        self.log = self

    def clear(self):
        self.mark = self.registry.mark()


@contextlib.contextmanager
def _oci_site(registry):
    yield RegistrySite(registry)


def _oci_prepare(site, _registry):
    """A repository with a release, a build sharing nothing, and a base image to copy from."""
    site.count += 1
    site.prefix = "audit%d-%s" % (site.count, uuid.uuid4().hex[:6])
    app, base = site.prefix + "/app", site.prefix + "/base"
    release = site.seed.push_image(app, tags=["v1", "latest"])
    build = site.seed.push_image(app, tags=["build-1"])
    site.seed.push_image(base, tags=["3.20"])
    site.seed.push_image(site.prefix + "/old", tags=["x"])
    return [
        task("repository_info", name=[app]),
        task("artifact_info", repository=[app]),
        task("tag_info", repository=[app]),
        task("tag", name=[app + ":stable"], digest=release, diff=True),
        task("tag", name=[app + ":3.20"], source=base + ":3.20", diff=True),
        task("tag", name=[app + ":latest"], state="absent", diff=True),
        task("artifact", repository=app, digest=[build], state="absent", diff=True),
        task("artifact", repository=app, digest=[release], diff=True),
        task("repository", name=site.prefix + "/old", state="absent", diff=True),
    ]


def _oci_defaults(site):
    return {"group/regops.registry.all": site.registry.oci_args()}


def _oci_mutations(site):
    return [(e.method, e.path) for e in site.registry.mutations_since(site.mark)]


def _oci_state(site):
    return dict((repository, site.seed.tag_map(repository)) for repository in site.seed.catalog()
                if repository.startswith(site.prefix + "/"))


def _dump(emu):
    return emu.dump_state()


PROVIDERS = {
    "oci": (_oci_site, [Part(_oci_prepare, _oci_defaults, _oci_mutations, _oci_state)]),
    "gcore": (lambda _registry: GcoreEmulator(), [
        Part(_gcore_main, test_gcore.defaults, test_gcore.mutations, _dump,
             always_changes=lambda module, args: bool(args.get("refresh_secret")))]),
    "vultr": (lambda _registry: VultrEmulator(), [
        Part(_vultr_main, test_vultr.defaults, test_vultr.mutations, test_vultr.snapshot),
        Part(_vultr_more, test_vultr.defaults, test_vultr.mutations, test_vultr.snapshot,
             always_changes=lambda module, args: module == "registry_credentials")]),
    "gitlab": (lambda _registry: GitLabEmulator(**test_gitlab.SETTINGS), [
        Part(_gitlab_main, test_gitlab.defaults, test_gitlab.mutations, test_gitlab.snapshot),
        Part(_gitlab_access, test_gitlab_access.defaults, test_gitlab_access.mutations, test_gitlab_access.snapshot,
             always_changes=lambda module, args: bool(args.get("recreate")))]),
    "github": (_github_with_ghcr, [
        Part(_github_main, test_github.defaults, test_github.mutations, test_github.snapshot),
        Part(_github_metadata, test_github_metadata.defaults, test_github_metadata.mutations, test_github_metadata.snapshot),
        Part(_github_ghcr, test_github.defaults, test_github.mutations, test_github.snapshot)]),
    "ncloud": (lambda _registry: NcloudEmulator(clock=lambda: test_ncloud.CLOCK), [
        Part(_ncloud_main, _ncloud_defaults, test_ncloud.mutations, test_ncloud.snapshot)]),
}


def split_task(item):
    """``(module, args, diff)`` of a ``tests.support.tasks.task`` dict."""
    (key, args), = [(k, v) for k, v in item.items() if k.startswith(PREFIX)]
    return key[len(PREFIX):], dict(args or {}), bool(item.get("diff"))


def label(item):
    """``resource:state`` of a task (``artifact`` with ``storage_record`` is the storage_record resource)."""
    module, args, _diff = split_task(item)
    resource = "storage_record" if module == "artifact" and "storage_record" in args else module
    return "%s:%s" % (resource, "info" if module.endswith("_info") else args.get("state", "present"))


def comparable(result):
    """What check mode must predict exactly."""
    return dict((key, value) for key, value in result.items() if key not in VOLATILE)


def leaked(result, args):
    """The connection secrets (``no_log`` options) that appear anywhere in a module's result."""
    text = json.dumps(result)
    return [name for name in SECRET_OPTIONS if args.get(name) and str(args[name]) in text]


def secrets_returned(result):
    """The values a result hands over once (a user's secret, a deploy token, minted docker credentials)."""
    found = []

    def walk(value, key=None):
        if isinstance(value, dict):
            for name, item in value.items():
                walk(item, name)
        elif isinstance(value, list):
            for item in value:
                walk(item, key)
        elif isinstance(value, str) and key in ONCE_KEYS and len(value) >= 8 and "*" not in value:
            found.append(value)
    walk(result)
    return found


def audit(provider, part, emu, registry):
    """The failures of every task of ``part``, each from a freshly prepared emulator."""
    failures = []
    tasks = part.prepare(emu, registry)
    for index in range(len(tasks)):
        item = (tasks if index == 0 else part.prepare(emu, registry))[index]
        module, args, diff = split_task(item)
        args = dict(part.defaults(emu)["group/regops.registry.all"], **args)
        what = "%s #%d %s" % (provider, index, label(item))
        before = part.state(emu)
        emu.log.clear()
        check = run_module(module, args, check=True, diff=diff)
        if part.mutations(emu) or part.state(emu) != before:
            failures.append("%s: check mode changed something: %s" % (what, part.mutations(emu)))
        real = run_module(module, args, diff=diff)
        for run, result in (("check mode", check), ("the real run", real)):
            if leaked(result, args):
                failures.append("%s: %s returned the secret(s) %s" % (what, run, leaked(result, args)))
        if module.endswith("_info"):
            if comparable(check) != comparable(real):
                failures.append("%s: check mode answered %s, the real run %s" % (what, comparable(check), comparable(real)))
            continue
        if check.get("failed") or real.get("failed"):
            failures.append("%s: failed: check %s / real %s" % (what, check.get("msg"), real.get("msg")))
            continue
        predicted = (check["changed"], check.get("actions"), (check.get("diff") or {}).get("before"))
        done = (real["changed"], real.get("actions"), (real.get("diff") or {}).get("before"))
        if predicted != done:
            failures.append("%s: check mode predicted %s, the real run did %s" % (what, predicted, done))
        if part.always_changes(module, args):
            continue
        emu.log.clear()
        again = run_module(module, args, diff=diff)
        if again.get("changed") or part.mutations(emu):
            failures.append("%s: the re-run changed=%s and sent %s" % (what, again.get("changed"), part.mutations(emu)))
        shown_again = [value for value in secrets_returned(real) if value in json.dumps(again)]
        if shown_again or secrets_returned(check):
            failures.append("%s: a secret shown once came back (check mode %d, the re-run %d)" % (
                what, len(secrets_returned(check)), len(shown_again)))
    return failures


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_every_task_check_mode_predicts_the_real_run_and_the_rerun_changes_nothing(provider, registry):
    make, parts = PROVIDERS[provider]
    failures = []
    with make(registry) as emu:
        for part in parts:
            failures += audit(provider, part, emu, registry)
    assert not failures, "\n".join(failures)


def required(provider):
    """Every ``module:state`` the provider declares, and its info modules."""
    needed = set()
    for resource, capability in providers.provider_class(provider).capabilities.items():
        needed.update("%s:%s" % (resource, state) for state in capability.states)
        if capability.info:
            needed.add("%s_info:info" % resource)
    return needed


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_the_audit_covers_every_module_and_state_the_provider_has(provider, registry):
    make, parts = PROVIDERS[provider]
    covered = set()
    with make(registry) as emu:
        for part in parts:
            covered.update(label(item) for item in part.prepare(emu, registry))
    missing = sorted(required(provider) - covered)
    assert not missing, "%s: not audited: %s" % (provider, ", ".join(missing))
