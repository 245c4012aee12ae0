"""End to end: the ``regops.registry.cleanup`` role with ``cleanup_provider: github`` on ghcr.io packages.

The images are pushed through the GitHub emulator's ghcr.io front, with a real registry behind it. The role snapshots
the organization's container packages (``artifact_info``: versions and their tags), plans, removes the tags whose
digest survives over ghcr.io itself (a throwaway manifest pushed over ``/v2/``, then that package version deleted over
the REST API), deletes the package versions whose every tag was selected, and then (``cleanup_after_delete``) does
GitHub's "remove linked artifacts" clean-up of each deleted digest: storage records marked ``deleted``, deployment
records ``decommissioned``, attestations deleted. Check mode first, then for real, then again.
"""

# pylint: disable=redefined-outer-name,too-many-locals
import json

import pytest

from tests.emulators.github import DEFAULT_TOKEN, GitHubEmulator, ghcr_backend
from tests.support.ansible_runner import run_playbook
from tests.support.seed import SeedClient

NOW = "2026-11-01T00:00:00Z"
MUTATING = ("POST", "PUT", "PATCH", "DELETE")

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: regops.registry.cleanup
      vars:
        cleanup_provider: github
        cleanup_api_url: {url}
        cleanup_oci_url: {url}
        cleanup_api_token: {token}
        cleanup_registry: acme
        cleanup_now: "{now}"
        cleanup_report_path: {report}
        cleanup_after_delete: [storage_records, deployment_records, attestations]
        cleanup_policies:
          - name: older-than-30-days
            older_than: 30d
            keep:
              latest: true
              tags: ['v1.0']
              min_age: 1h
"""

# (package, tags, created): what happens to it
IMAGES = {
    "keep_v1": ("app", ["v1.0"], "2026-01-10T00:00:00Z"),        # old, protected by keep.tags
    "all_old": ("app", ["old1", "old2"], "2026-03-05T00:00:00Z"),  # old, every tag selected: the version goes
    "mixed": ("app", ["old3", "latest"], "2026-06-20T00:00:00Z"),  # old3 goes over ghcr.io, its sibling latest stays
    "recent": ("app", ["new"], "2026-10-25T00:00:00Z"),           # a week old: kept
    "web_old": ("team/web", ["w1"], "2026-08-01T00:00:00Z"),      # deleted
    "web_new": ("team/web", ["w2"], "2026-10-30T00:00:00Z"),      # kept
}
# The images GitHub links records and attestations to: two the role deletes, one it keeps.
LINKED = ("all_old", "web_old", "keep_v1")


@pytest.fixture(scope="module")
def emu():
    with GitHubEmulator(clock=NOW, deployment_record_extras=True) as emulator:
        backend = ghcr_backend(emulator)
        try:
            yield emulator
        finally:
            backend.stop()


def seed(emu):
    """Push the images through the front, date each version as its image, and link records to three of them."""
    client = SeedClient(emu.url, "octocat", DEFAULT_TOKEN)
    digests = {}
    for key, (package, tags, created) in sorted(IMAGES.items()):
        digests[key] = client.push_image("acme/" + package, tags=tags, created=created)
        emu.set_version_created("org", "acme", package, digests[key], created)
    for key in LINKED:
        package = IMAGES[key][0]
        emu.seed({"orgs": [{"login": "acme",
                            "storage_records": [{"name": package, "digest": digests[key], "registry_url": "https://ghcr.io",
                                                 "repository": "acme/" + package}],
                            "deployment_records": [{"name": package, "digest": digests[key], "status": "deployed",
                                                    "logical_environment": "prod", "cluster": "eu-1",
                                                    "deployment_name": "%s-%s" % (package.replace("/", "-"), key)}],
                            "attestations": [{"subject_digest": digests[key], "predicate_type": "provenance", "repository": "app"}]}]})
    return client, digests


def mutations(emu):
    """Every mutating request (GitHub's bulk list of attestations is a POST that only reads)."""
    return [(r.method, r.target) for r in emu.log.records if r.method in MUTATING and not r.path.endswith("/attestations/bulk-list")]


def tag_state(emu):
    """``{package: {tag: digest}}`` of acme's active versions, as GitHub's API shows them."""
    org = next(o for o in emu.dump_state()["orgs"] if o["login"] == "acme")
    return {p["name"]: {t: v["name"] for v in p["versions"] if not v.get("deleted_at") for t in v["metadata"]["container"]["tags"]}
            for p in org["packages"] if not p.get("deleted_at")}


def linked(emu, digest):
    """(storage record statuses, deployment record statuses, attestation count) of a digest."""
    org = next(o for o in emu.dump_state()["orgs"] if o["login"] == "acme")
    return (sorted(r["status"] for r in org["storage_records"] if r["digest"] == digest),
            sorted(r["status"] for r in org["deployment_records"] if r["digest"] == digest),
            sum(1 for a in org["attestations"] if digest in a["subject_digests"]))


def test_cleanup_on_ghcr_packages_with_the_linked_artifacts_of_each_deleted_digest(tmp_path, emu):
    client, digests = seed(emu)
    report = tmp_path / "report.json"
    playbook = tmp_path / "cleanup.yml"
    playbook.write_text(PLAYBOOK.format(url=emu.url, token=DEFAULT_TOKEN, now=NOW, report=report), encoding="utf-8")
    before = tag_state(emu)
    untouched = linked(emu, digests["keep_v1"])
    assert untouched == (["active"], ["deployed"], 1)

    # check mode: the plan and what the after-delete steps would change, no mutating request (REST or /v2/)
    emu.log.clear()
    rc, out, err = run_playbook(playbook, check=True)
    assert rc == 0, out + err
    assert mutations(emu) == []
    assert tag_state(emu) == before
    planned = json.loads(report.read_text(encoding="utf-8"))
    assert planned["check_mode"] is True
    assert planned["after_delete"] == {step: {"changed": 2, "unchanged": 0, "failed": 0, "errors": []}
                                       for step in ("attestations", "deployment_records", "storage_records")}, planned["after_delete"]

    # for real
    emu.log.clear()
    rc, out, err = run_playbook(playbook)
    assert rc == 0, out + err
    assert tag_state(emu) == {"app": {"v1.0": digests["keep_v1"], "latest": digests["mixed"], "new": digests["recent"]},
                              "team/web": {"w2": digests["web_new"]}}
    # ghcr.io itself agrees: the sibling of the removed tag still resolves, the removed tags are gone
    assert client.resolve("acme/app", "latest") == digests["mixed"]
    assert sorted(client.tags("acme/app")) == ["latest", "new", "v1.0"]
    sent = [(r.method, r.path) for r in emu.log.records if r.method in MUTATING]
    assert not [s for s in sent if s[0] == "DELETE" and s[1].startswith("/v2/")], "ghcr.io refuses manifest deletes"
    version_deletes = [s for s in sent if s[0] == "DELETE" and "/packages/container/" in s[1]]
    assert len(version_deletes) == 3, sent  # all_old, web_old and the throwaway that took old3
    assert sum(1 for s in sent if s[0] == "PUT" and "/manifests/old3" in s[1]) == 1
    for key in ("all_old", "web_old"):
        assert linked(emu, digests[key]) == (["deleted"], ["decommissioned"], 0), key
    assert linked(emu, digests["keep_v1"]) == untouched
    done = json.loads(report.read_text(encoding="utf-8"))
    totals = done["totals"]
    assert (totals["errors"], totals["skipped"], totals["deleted_digests"], totals["removed_tags"]) == (0, 0, 2, 4), totals
    assert done["after_delete"] == planned["after_delete"]
    assert any("after delete: attestations 2 changed" in line for line in done["lines"])

    # again: nothing left to do, nothing sent
    emu.log.clear()
    rc, out, err = run_playbook(playbook)
    assert rc == 0, out + err
    assert mutations(emu) == []
    again = json.loads(report.read_text(encoding="utf-8"))
    assert again["totals"]["removed_tags"] == 0 and again["after_delete"] == {}


def test_after_delete_is_refused_before_any_request_where_it_cannot_apply(tmp_path, emu):
    emu.log.clear()
    playbook = tmp_path / "refused.yml"
    for provider, registry, steps, why in (
            ("oci", "", ["attestations"], "is for provider github only"),
            ("github", "user:octocat", ["storage_records"], "only attestations apply there")):
        playbook.write_text("""
- hosts: localhost
  gather_facts: false
  roles:
    - role: regops.registry.cleanup
      vars:
        cleanup_provider: {provider}
        cleanup_api_url: {url}
        cleanup_api_token: {token}
        cleanup_registry: "{registry}"
        cleanup_after_delete: {steps}
""".format(provider=provider, url=emu.url, token=DEFAULT_TOKEN, registry=registry, steps=json.dumps(steps)), encoding="utf-8")
        rc, out, err = run_playbook(playbook)
        assert rc != 0 and why in out + err, out + err
    assert len(emu.log) == 0
