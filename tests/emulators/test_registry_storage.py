"""tests/emulators/registry_storage.py against the real registry it reads: every tag and digest it reads from the
storage is what the registry answers over HTTP, after pushes, a moved tag and a manifest deleted with its tags; what
it cannot read it leaves to HTTP."""

import os

import pytest

from tests.emulators import registry_storage
from tests.support.registry import LocalRegistry
from tests.support.seed import SeedClient


@pytest.fixture(scope="module")
def registry():
    reg = LocalRegistry(auth="none", delete_enabled=True).start()
    yield reg
    reg.stop()


def http_view(seed, repo):
    """``{tag: digest}`` as the registry answers it: the tag list, then a HEAD per tag."""
    return {tag: seed.resolve(repo, tag) for tag in seed.tags(repo)}


def storage_view(registry, repo):
    return {tag: registry_storage.resolve(registry.host, repo, tag) for tag in registry_storage.tags(registry.host, repo)}


def test_the_storage_says_what_the_registry_answers(registry):
    seed = SeedClient.for_registry(registry)
    repo = "shop/web"
    assert registry_storage.tags(registry.host, repo) == [] == seed.tags(repo)
    one = seed.push_image(repo, ["v1", "latest"], created="2026-01-01T00:00:00Z")
    two = seed.push_image(repo, ["v2"], created="2026-02-01T00:00:00Z")
    assert storage_view(registry, repo) == http_view(seed, repo) == {"v1": one, "latest": one, "v2": two}

    seed.tag(repo, "latest", two)  # moved
    assert storage_view(registry, repo) == http_view(seed, repo)
    seed.delete_manifest(repo, two)  # its tags go with it
    assert storage_view(registry, repo) == http_view(seed, repo)
    assert registry_storage.resolve(registry.host, repo, two) is None and seed.manifest_exists(repo, two) is False
    assert registry_storage.resolve(registry.host, repo, "gone") is None


def test_what_it_cannot_read_is_left_to_http(registry):
    seed = SeedClient.for_registry(registry)
    repo = "shop/api"
    digest = seed.push_image(repo, ["v1"])
    assert registry_storage.resolve(registry.host, repo, digest) == digest
    # a link being written, names outside the grammar, a registry this process did not start
    link = os.path.join(registry.storage_dir, "docker", "registry", "v2", "repositories", repo, "_manifests", "tags", "v1",
                        "current", "link")
    with open(link, encoding="ascii") as handle:
        saved = handle.read()
    try:
        with open(link, "w", encoding="ascii") as handle:
            handle.write(saved[:20])
        assert registry_storage.resolve(registry.host, repo, "v1") is registry_storage.UNKNOWN
    finally:
        with open(link, "w", encoding="ascii") as handle:
            handle.write(saved)
    assert registry_storage.resolve(registry.host, repo, "v1") == digest
    assert registry_storage.tags(registry.host, "shop/../api") is registry_storage.UNKNOWN
    assert registry_storage.resolve(registry.host, repo, "../v1") is registry_storage.UNKNOWN
    assert registry_storage.tags("127.0.0.1:1", repo) is registry_storage.UNKNOWN


def test_a_stopped_registry_is_read_over_http_again():
    reg = LocalRegistry(auth="none").start()
    host = reg.host
    assert registry_storage.tags(host, "any") == []
    reg.stop()
    assert registry_storage.tags(host, "any") is registry_storage.UNKNOWN
