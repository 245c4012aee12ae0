"""End to end: the oci ``*_info`` modules with real ansible-playbook against distribution 2.8."""

# pylint: disable=redefined-outer-name
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from tests.support.ansible_runner import run_tasks
from tests.support.registry import MUTATING_METHODS, LocalRegistry
from tests.support.seed import DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST, SeedClient

CATALOG_MAX = 100


class SmallCatalogRegistry(LocalRegistry):
    """Anonymous registry whose catalog pages are at most ``CATALOG_MAX`` entries (``catalog.maxentries``)."""

    def _write_config(self, auth_block):
        super()._write_config(auth_block)
        with open(self.config_path, encoding="utf-8") as handle:
            config = yaml.safe_load(handle)
        config["catalog"] = {"maxentries": CATALOG_MAX}
        with open(self.config_path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle, sort_keys=False)


@pytest.fixture(scope="module")
def small_catalog():
    """A registry of its own: its catalog must hold only this module's repositories."""
    with SmallCatalogRegistry(auth="none") as reg:
        yield reg


def push_tiny(seed, repos):
    """One tiny image (shared layer) into each of ``repos``."""
    for repo in repos:
        seed.push_image(repo, ["t"], layers=[b"x"])


def test_repository_info_follows_catalog_pagination(small_catalog):
    repos = [f"page/r{i:03d}" for i in range(CATALOG_MAX + 20)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda chunk: push_tiny(SeedClient.for_registry(small_catalog), chunk), [repos[i::4] for i in range(4)]))
    seed = SeedClient.for_registry(small_catalog)
    assert seed.request("GET", f"/v2/_catalog?n={CATALOG_MAX + 1}", ok=None).status_code == 400
    assert sorted(seed.catalog()) == repos
    start = small_catalog.mark()
    results = run_tasks([{"regops.registry.repository_info": small_catalog.oci_args()},
                         {"regops.registry.repository_info": dict(small_catalog.oci_args(), name=[repos[5], "page/none"])}])
    assert results.rc == 0, results.output
    listed, named = results
    assert listed["changed"] is False
    assert [r["name"] for r in listed["repositories"]] == repos
    assert listed["repositories"][0]["location"] == f"{small_catalog.host}/{repos[0]}"
    assert [r["name"] for r in named["repositories"]] == [repos[5]]
    sent = small_catalog.requests_since(start)
    assert not [e for e in sent if e.method in MUTATING_METHODS]
    pages = [e for e in sent if e.path.startswith("/v2/_catalog") and e.status == 200]
    assert len(pages) >= 2 and any("last=" in e.path for e in pages), sent  # the Link header was followed


@pytest.mark.compat
def test_artifact_and_tag_info(registry, seed, seeded, prefix):
    app, multi, lib = seeded["app"], seeded["multi"], seeded["lib"]
    v1, legacy = app["digests"]["v1"], app["digests"]["legacy"]
    args = registry.oci_args()
    start = registry.mark()
    results = run_tasks([
        {"regops.registry.artifact_info": dict(args, repository=[app["repo"], multi["repo"]])},
        {"regops.registry.artifact_info": dict(args, digest=[f"{app['repo']}@{legacy}", f"{multi['repo']}@{multi['index']}"])},
        {"regops.registry.tag_info": dict(args, repository=[app["repo"], lib["repo"]], name=["v1", "1.0", "nope"])},
        {"regops.registry.tag_info": dict(args, repository=[multi["repo"], prefix + "/none"])},
    ])
    assert results.rc == 0, results.output
    assert registry.mutations_since(start) == []
    everything, chosen, named, by_repo = results

    found = {(a["repository"], a["digest"]): a for a in everything["artifacts"]}
    assert len(found) == len(everything["artifacts"])  # a digest with several tags is listed once
    assert set(found) == ({(app["repo"], d) for d in app["digests"].values()}
                          | {(multi["repo"], d) for d in [multi["index"], *multi["children"].values()]})
    shared = found[(app["repo"], v1)]
    assert shared["tags"] == ["latest", "v1", "v1.0"]
    assert shared["media_type"] == OCI_MANIFEST and shared["created_at"] == "2026-01-01T00:00:00Z"
    assert shared["platforms"] == ["linux/amd64"] and shared["children"] == []
    assert shared["size_bytes"] > 0
    docker = found[(app["repo"], legacy)]  # schema2 read as such: not rewritten to schema1 (another digest)
    assert docker["media_type"] == DOCKER_MANIFEST and docker["tags"] == ["legacy"]
    assert docker["created_at"] == "2025-06-01T00:00:00Z"
    index = found[(multi["repo"], multi["index"])]
    assert index["media_type"] == OCI_INDEX and index["tags"] == ["1.0", "latest"]
    assert sorted(index["platforms"]) == ["linux/amd64", "linux/arm64"]
    assert sorted((c["digest"], c["platform"], c["media_type"]) for c in index["children"]) == sorted(
        (digest, platform, OCI_MANIFEST) for platform, digest in multi["children"].items())
    assert index["created_at"] == "2026-01-15T00:00:00Z"  # no config: as old as its newest child
    for platform, digest in multi["children"].items():
        child = found[(multi["repo"], digest)]
        assert child["tags"] == [] and child["platforms"] == [platform]
        assert child["created_at"] == "2026-01-15T00:00:00Z"

    assert {(a["repository"], a["digest"]) for a in chosen["artifacts"]} == {(app["repo"], legacy), (multi["repo"], multi["index"])}
    assert [a["tags"] for a in chosen["artifacts"]] == [["legacy"], ["1.0", "latest"]]

    assert sorted((t["repository"], t["name"], t["digest"]) for t in named["tags"]) == [
        (app["repo"], "v1", v1), (lib["repo"], "1.0", lib["tags"]["1.0"])]
    assert sorted((t["repository"], t["name"], t["digest"]) for t in by_repo["tags"]) == [
        (multi["repo"], "1.0", multi["index"]), (multi["repo"], "latest", multi["index"])]
