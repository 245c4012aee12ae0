"""tests/emulators/oci_backend.py against a real registry: the third-party tag removal the GitLab and Naver Cloud
emulators use (``RegistryClient.untag``)."""

import os
import shutil

import pytest

from tests.emulators.oci_backend import BackendError, RegistryClient
from tests.support.registry import LocalRegistry
from tests.support.seed import SeedClient


@pytest.fixture(scope="module")
def registry():
    reg = LocalRegistry(auth="none", delete_enabled=True).start()
    yield reg
    reg.stop()


def failing_first_deletes(registry, client, repo, failures):
    """``client.send`` answering its first ``failures`` manifest DELETEs as distribution 2.8 does when reading the tags'
    links fails during the delete (a push writing one): 500, the manifest gone, the tag still naming it."""
    real_send, calls = client.send, []

    def send(method, path, *args, **kwargs):
        calls.append(method)
        if method == "DELETE" and calls.count("DELETE") <= failures:
            hexdigest = path.rsplit("sha256:", 1)[1]
            shutil.rmtree(os.path.join(registry.storage_dir, "docker", "registry", "v2", "repositories", repo, "_manifests",
                                       "revisions", "sha256", hexdigest))
            return 500, {}, b""
        return real_send(method, path, *args, **kwargs)
    client.send = send
    return calls


def test_untag_removes_the_tag_and_leaves_its_siblings(registry):
    seed = SeedClient.for_registry(registry)
    digest = seed.push_image("shop/one", ["keep", "go"])
    RegistryClient(registry.url).untag("shop/one", "go")
    assert seed.tag_map("shop/one") == {"keep": digest}


def test_untag_finishes_when_the_registry_leaves_the_tag_naming_a_deleted_manifest(registry):
    seed = SeedClient.for_registry(registry)
    digest = seed.push_image("shop/two", ["keep", "go"])
    client = RegistryClient(registry.url)
    calls = failing_first_deletes(registry, client, "shop/two", failures=1)
    client.untag("shop/two", "go")
    assert seed.tag_map("shop/two") == {"keep": digest}  # no tag left that lists but does not resolve
    assert calls == ["POST", "PUT", "PUT", "DELETE", "PUT", "DELETE"]  # the throwaway's blob, then it went twice


def test_untag_gives_up_after_its_tries(registry):
    seed = SeedClient.for_registry(registry)
    seed.push_image("shop/three", ["keep", "go"])
    client = RegistryClient(registry.url)
    failing_first_deletes(registry, client, "shop/three", failures=3)
    with pytest.raises(BackendError, match="answered 500 .3 tries."):
        client.untag("shop/three", "go")
