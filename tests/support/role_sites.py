"""Sites for the cleanup role's end-to-end tests: one provider's emulator with a repository seeded, the role's
variables, and its state read back (from the emulator, and from the real registry where there is one behind it).

Each builder ``<provider>_site(stack, registry, name, api=None)`` enters the emulator (and its backend) into the
``contextlib.ExitStack`` ``stack`` and returns ``(site, push)``:

* ``push(key, tags, pushed, pulled=None, subject=None)`` pushes an image tagged ``tags`` (or, with ``subject``, a cosign
  signature tagged ``sha256-<hex>.sig`` of that digest), tells the provider its push (and pull) time, and records its
  digest as ``site.digests[key]``.
* ``api``: a function ``url -> url`` through which the provider's API URL is routed (the role's ``cleanup_api_url``
  becomes its answer): :func:`api_through` builds one that puts a proxy (e.g. a ``FaultProxy``) in front of it.
* ``site.secrets()``: every secret value the site's run uses (API tokens and keys, the real registry's password and its
  docker credentials, the registry tokens the emulator issued so far), for tests that grep a run's output for them.

Builders: ``vultr`` (Harbor, a real registry behind), ``gcore`` (the emulator holds the artifacts), ``ncloud`` (a real
registry behind NCR's ``/v2/`` front), ``github`` (organization ``acme``'s packages, images pushed through the ghcr.io
front, a real registry behind it), ``gitlab`` (project ``<name>/app``, backed by ``registry``).
"""

import base64
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

from tests.emulators import gcore, ncloud, vultr
from tests.emulators.github import DEFAULT_TOKEN as GITHUB_TOKEN
from tests.emulators.github import GitHubEmulator, ghcr_backend
from tests.emulators.gitlab import DEFAULT_TOKEN as GITLAB_TOKEN
from tests.emulators.gitlab import GitLabEmulator
from tests.support.seed import SeedClient, referrers_tag

NOW = "2026-11-01T00:00:00Z"
MUTATING = ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")  # OPTIONS: Vultr mints docker credentials with it
_REFERRER_TAG = re.compile(r"^sha256-([0-9a-f]{64})(\..+)?$")


def clock():
    """The emulators' pinned time: NOW."""
    return datetime(2026, 11, 1, tzinfo=timezone.utc)


def direct(url):
    """The default ``api``: the provider's API URL as it is."""
    return url


def api_through(start):
    """An ``api`` function that puts ``start(base_url)`` (a started proxy with a ``url``, e.g. a ``FaultProxy``) in front of
    the API's ``scheme://host:port`` and keeps its path (NCR's stage prefix): ``http://proxy:port/ncr/api/v2``."""
    def _route(url):
        parts = urlsplit(url)
        proxy = start(f"{parts.scheme}://{parts.netloc}")
        return proxy.url + parts.path
    return _route


class Site:
    """One provider's emulator with repository ``repo`` seeded: the role's variables, and its state read back.

    ``real`` is ``(SeedClient, repository)`` of the real registry behind the emulator, ``backend`` that registry (a
    ``LocalRegistry``: ``mark``/``mutations_since``), ``reads`` a predicate of the emulator's log records that look
    mutating but only read (GitHub's bulk list of attestations is a POST), ``secrets`` a function that returns the secret
    values the site uses (see :meth:`secrets`).
    """

    # pylint: disable=too-many-arguments
    def __init__(self, emu, role_vars, tags_of, real=None, repo="app", backend=None, reads=None, provider=None, secrets=None):
        self.emu, self.role_vars, self.tags_of, self.real = emu, role_vars, tags_of, real
        self.repo, self.backend, self.reads = repo, backend, reads or (lambda record: False)
        self.provider = provider or role_vars.get("cleanup_provider")
        self.digests = {}
        self._secrets = secrets or (lambda: [])

    def secrets(self):
        """The secret values the site uses, as of now (tokens an emulator issued during a run included): none may show in
        a run's output."""
        return [value for value in self._secrets() if value]

    def state(self):
        """``(emulator's {tag: digest} of the repository, the real registry's, or None)``."""
        return self.tags_of(), (self.real[0].tag_map(self.real[1]) if self.real else None)

    def sent(self):
        """The mutating requests the emulator saw since the last ``clear``."""
        return [(r.method, r.path) for r in self.emu.log.records if r.method in MUTATING and not self.reads(r)]

    def key_of(self, digest):
        """The key ``push`` recorded ``digest`` under (or the digest itself)."""
        return next((key for key, value in self.digests.items() if value == digest), digest)

    def keyed(self, tags):
        """``{tag: digest}`` with digests written as the keys they were pushed under, cosign tags too
        (``sha256-<hex>.sig`` -> ``<key>.sig``): two sites seeded alike compare equal whatever their digests."""
        out = {}
        for tag, digest in (tags or {}).items():
            match = _REFERRER_TAG.match(tag)
            if match:
                tag = self.key_of("sha256:" + match.group(1)) + (match.group(2) or "")
            out[tag] = self.key_of(digest)
        return out

    def keyed_state(self):
        """:meth:`state` written with keys (:meth:`keyed`)."""
        tags, real = self.state()
        return self.keyed(tags), (self.keyed(real) if real is not None else None)


def basic_auth(username, password):
    """The ``user:password`` of HTTP Basic as sent (base64): a secret as much as the password."""
    return base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")


def registry_secrets(registry):
    """The real registry's password and its docker credentials (the ``auth`` of a docker config)."""
    password = getattr(registry, "password", None)
    return [password, basic_auth(registry.username, password)] if password else []


def dumped_tags(emu, registry, repository):
    """``{tag: digest}`` of a Harbor-like emulator's repository (Vultr names it ``<registry>/<image>``, Gcore ``<image>``)."""
    reg = next(r for r in emu.dump_state()["registries"] if r["name"] == registry)
    return {t["name"]: a["digest"] for repo in reg["repositories"] if repository in (repo["name"], repo.get("image"))
            for a in repo["artifacts"] for t in a["tags"]}


def vultr_site(stack, registry, name, api=direct, registry_host=None):
    """Vultr's emulator backed by the real registry; the images pushed there, their push and pull times told to Vultr.
    ``registry_host``: the ``host:port`` Vultr names as the registry's (the role's tag removals go there over ``/v2/``),
    e.g. a proxy's in front of ``registry``; the seeding, and the emulator's own reads and deletes (``backend_host``),
    go to ``registry`` directly."""
    emu = stack.enter_context(vultr.VultrEmulator(registry_host=registry_host or registry.host, backend_host=registry.host, clock=clock,
                                                  docker_credentials={"username": registry.username, "password": registry.password}))
    emu.add_registry(name, region="sjc", plan="business")
    client = SeedClient.for_registry(registry)
    site = Site(emu, {"cleanup_provider": "vultr", "cleanup_api_url": api(emu.url), "cleanup_api_token": vultr.DEFAULT_API_KEY,
                      "cleanup_registry": name}, lambda: dumped_tags(emu, name, "app"), real=(client, f"{name}/app"),
                backend=registry, secrets=lambda: [vultr.DEFAULT_API_KEY] + registry_secrets(registry))

    def push(key, tags, pushed, pulled=None, subject=None):
        digest = client.push_cosign(f"{name}/app", subject, "sig") if subject else client.push_image(f"{name}/app", tags=tags)
        tags = tags or [referrers_tag(subject, "sig")]
        emu.add_artifact(name, "app", digest=digest, push_time=pushed, pull_time=pulled,
                         tags=[{"name": t, "push_time": pushed, "pull_time": pulled} for t in tags])
        site.digests[key] = digest
    return site, push


def gcore_site(stack, _registry, _name, api=direct):
    """Gcore's emulator, which holds the artifacts itself (a never pulled artifact shows its push time as pull time)."""
    emu = stack.enter_context(gcore.GcoreEmulator(clock=clock))
    emu.add_registry("shop")
    site = Site(emu, {"cleanup_provider": "gcore", "cleanup_api_url": api(emu.url), "cleanup_api_token": gcore.DEFAULT_API_KEY,
                      "cleanup_project_id": gcore.DEFAULT_PROJECT_ID, "cleanup_region_id": gcore.DEFAULT_REGION_ID,
                      "cleanup_registry": "shop"}, lambda: dumped_tags(emu, "shop", "app"),
                secrets=lambda: [gcore.DEFAULT_API_KEY])

    def push(key, tags, pushed, pulled=None, subject=None):
        digest = "sha256:%064x" % (len(site.digests) + 1)
        emu.add_artifact("shop", "app", digest=digest, size=100, pushed_at=pushed, pulled_at=pulled,
                         tags=tags or [referrers_tag(subject, "sig")])
        site.digests[key] = digest
    return site, push


def ncloud_site(stack, _registry, _name, api=direct):
    """Naver Cloud's emulator with a real registry behind its ``/v2/`` front: images pushed through the front, their push
    and pull times set in NCR's records (the emulator records no pull of its own: the role's reads must not count)."""
    emu = stack.enter_context(ncloud.NcloudEmulator(clock=clock))
    backend = stack.enter_context(ncloud.ncr_backend(emu))
    emu.configure(record_pulls=False)
    emu.add_registry("acme", bucket="acme-images")
    client = SeedClient(emu.front_url("acme"), ncloud.DEFAULT_ACCESS_KEY, ncloud.DEFAULT_SECRET_KEY)

    def tags_of():
        reg = next(r for r in emu.dump_state()["regions"]["kr"] if r["name"] == "acme")
        return {t["name"]: t["digest"] for i in reg["images"] if i["name"] == "app" for t in i["tags"]}
    site = Site(emu, {"cleanup_provider": "ncloud", "cleanup_api_url": api(emu.api_url("kr")),
                      "cleanup_access_key": ncloud.DEFAULT_ACCESS_KEY, "cleanup_secret_key": ncloud.DEFAULT_SECRET_KEY,
                      "cleanup_registry": "acme"}, tags_of, real=(client, "app"), backend=backend,
                secrets=lambda: [ncloud.DEFAULT_ACCESS_KEY, ncloud.DEFAULT_SECRET_KEY,
                                 basic_auth(ncloud.DEFAULT_ACCESS_KEY, ncloud.DEFAULT_SECRET_KEY)])

    def push(key, tags, pushed, pulled=None, subject=None):
        digest = client.push_cosign("app", subject, "sig") if subject else client.push_image("app", tags=tags, created=pushed)
        for tag in tags or [referrers_tag(subject, "sig")]:
            emu.set_pushed("acme", "app", tag, pushed)
        if pulled:
            emu.set_pulled("acme", "app", digest, pulled)
        site.digests[key] = digest
    return site, push


def github_site(stack, _registry, _name, api=direct):
    """GitHub's emulator: organization ``acme``'s container package ``app``, the images pushed through its ghcr.io front
    (a real registry behind it), each version dated as its image. The role's OCI requests (tags removed from images
    that stay) go to the front directly; only the REST API goes through ``api``. GitHub records no pull times."""
    emu = stack.enter_context(GitHubEmulator(clock=NOW))
    backend = ghcr_backend(emu)
    stack.callback(backend.stop)
    client = SeedClient(emu.url, "octocat", GITHUB_TOKEN)

    def tags_of():
        org = next(o for o in emu.dump_state()["orgs"] if o["login"] == "acme")
        return {t: v["name"] for p in org["packages"] if p["name"] == "app" and not p.get("deleted_at")
                for v in p["versions"] if not v.get("deleted_at") for t in v["metadata"]["container"]["tags"]}
    site = Site(emu, {"cleanup_provider": "github", "cleanup_api_url": api(emu.url), "cleanup_oci_url": emu.url,
                      "cleanup_api_token": GITHUB_TOKEN, "cleanup_registry": "acme"}, tags_of,
                real=(SeedClient.for_registry(backend), "acme/app"), backend=backend,
                reads=lambda record: record.path.endswith("/attestations/bulk-list"),
                secrets=lambda: [GITHUB_TOKEN, basic_auth("octocat", GITHUB_TOKEN)] + list(emu.oci_tokens))

    def push(key, tags, pushed, pulled=None, subject=None):
        assert pulled is None, "GitHub records no pull times"
        digest = client.push_cosign("acme/app", subject, "sig") if subject else client.push_image("acme/app", tags=tags, created=pushed)
        emu.set_version_created("org", "acme", "app", digest, pushed)
        site.digests[key] = digest
    return site, push


def gitlab_site(stack, registry, name, api=direct):
    """GitLab's emulator backed by ``registry``: project ``<name>/app`` (its repository path is the project's), the images
    pushed to the registry with their creation time in their config (GitLab's tag ``created_at``). GitLab records no
    pull times, and lists no untagged manifest."""
    project = f"{name}/app"
    settings = {"registry_host": registry.host}
    if getattr(registry, "username", None):
        settings["backend_credentials"] = {"username": registry.username, "password": registry.password}
    emu = stack.enter_context(GitLabEmulator(clock=clock, **settings))
    emu.add_project(project)
    client = SeedClient.for_registry(registry)

    def tags_of():
        for state in emu.dump_state()["projects"]:
            if state["path_with_namespace"] == project:
                return {t["name"]: t["digest"] for r in state["repositories"] if r["path"] == project for t in r["tags"]}
        return {}
    site = Site(emu, {"cleanup_provider": "gitlab", "cleanup_api_url": api(emu.url), "cleanup_api_token": GITLAB_TOKEN,
                      "cleanup_registry": project}, tags_of, real=(client, project), repo=project, backend=registry,
                secrets=lambda: [GITLAB_TOKEN] + registry_secrets(registry))

    def push(key, tags, pushed, pulled=None, subject=None):
        assert pulled is None, "GitLab records no pull times"
        digest = client.push_cosign(project, subject, "sig") if subject else client.push_image(project, tags=tags, created=pushed)
        site.digests[key] = digest
    return site, push


SITES = {"vultr": vultr_site, "gcore": gcore_site, "ncloud": ncloud_site, "github": github_site, "gitlab": gitlab_site}
