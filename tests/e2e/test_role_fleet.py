"""End to end: a fleet of three real registries cleaned in one ansible-playbook run of examples/fleet/cleanup.yml.

The inventory is examples/fleet/inventory.yml itself (its groups, policies and credential lookups), with each host's
URL (and user name) pointed at a local distribution 2.8 registry: one with htpasswd, one open, one behind a token
service. The role runs once per host (connection: local, forks 3); the summary play on localhost adds the hosts'
reports up. Check mode first (no mutating request on any registry), then the real run.
"""

# pylint: disable=redefined-outer-name
import contextlib
import json
import re

import pytest
import yaml

from tests.support.ansible_runner import REPO_ROOT, run_playbook
from tests.support.registry import LocalRegistry
from tests.support.seed import SeedClient, random_hex

PLAYBOOK = REPO_ROOT / "examples" / "fleet" / "cleanup.yml"
INVENTORY = REPO_ROOT / "examples" / "fleet" / "inventory.yml"
NOW = "2026-11-01T00:00:00Z"
HOSTS = ("registry-a", "registry-b", "registry-c")
SUMMED = ("repositories", "tags_before", "tags_removed", "tags_removed_with_digests", "tags_removed_from_surviving",
          "tags_kept", "tags_after", "digests_before", "digests_deleted", "digests_after", "bytes_freed", "skipped", "errors")


def image(seed, repo, tags, created):
    return seed.push_image(repo, tags, created=created, layers=[b"base-" + b"x" * 512, b"app-" + random_hex(256).encode()])


@pytest.fixture(scope="module")
def fleet():
    """Three registries, one per inventory host: htpasswd, open, token service."""
    with contextlib.ExitStack() as stack:
        yield {host: stack.enter_context(LocalRegistry(auth=auth, delete_enabled=True))
               for host, auth in zip(HOSTS, ("htpasswd", "none", "token"))}


def seed_fleet(fleet, prefix):
    """Each registry seeded for its group's policies (examples/fleet/inventory.yml); returns digests and the end state.

    ci_registries (registry-a, registry-b): ci-builds, tags sha-*, pr-*, build-* older than 14d, keep latest, the 3
    newest, main and stable. release_registries (registry-c): releases (semver tags older than 180d, keep the highest
    release of each major, latest, stable) and release-candidates (*-rc* older than 30d).
    """
    seeds = {host: SeedClient.for_registry(reg) for host, reg in fleet.items()}
    d, expected = {}, {}

    a, app = seeds["registry-a"], f"{prefix}/app"
    d["A0"] = image(a, app, ["sha-0000000", "main"], "2026-08-15T00:00:00Z")  # sha-0000000 removed, main keeps it
    d["A1"] = image(a, app, ["sha-1111111"], "2026-09-01T00:00:00Z")       # deleted
    d["A2"] = image(a, app, ["pr-7"], "2026-09-10T00:00:00Z")              # deleted
    d["A3"] = image(a, app, ["sha-3333333"], "2026-09-15T00:00:00Z")       # keep_last (the 3 newest the policy selects)
    d["A4"] = image(a, app, ["sha-4444444"], "2026-10-01T00:00:00Z")       # keep_last
    d["A5"] = image(a, app, ["build-5"], "2026-10-10T00:00:00Z")           # keep_last
    d["A6"] = image(a, app, ["latest"], "2026-10-31T00:00:00Z")
    expected["registry-a"] = {app: {"main": d["A0"], "sha-3333333": d["A3"], "sha-4444444": d["A4"], "build-5": d["A5"],
                                    "latest": d["A6"]}}

    b, svc, tools = seeds["registry-b"], f"{prefix}/svc", f"{prefix}/tools"
    d["B0"] = image(b, svc, ["pr-8", "stable"], "2026-07-01T00:00:00Z")    # pr-8 removed, stable keeps it
    d["B1"] = image(b, svc, ["build-1"], "2026-08-01T00:00:00Z")           # deleted
    d["B2"] = image(b, svc, ["build-2"], "2026-08-02T00:00:00Z")           # deleted
    d["B3"] = image(b, svc, ["pr-9"], "2026-08-03T00:00:00Z")              # keep_last
    d["B4"] = image(b, svc, ["build-4"], "2026-10-20T00:00:00Z")           # keep_last (and too new)
    d["B5"] = image(b, svc, ["latest"], "2026-10-25T00:00:00Z")
    d["B6"] = image(b, svc, ["build-6"], "2026-10-30T00:00:00Z")           # keep_last (and too new)
    d["T1"] = image(b, tools, ["v1"], "2026-01-01T00:00:00Z")              # not selected
    d["T2"] = image(b, tools, ["latest"], "2026-10-01T00:00:00Z")
    expected["registry-b"] = {svc: {"stable": d["B0"], "pr-9": d["B3"], "build-4": d["B4"], "latest": d["B5"], "build-6": d["B6"]},
                              tools: {"v1": d["T1"], "latest": d["T2"]}}

    c, rel = seeds["registry-c"], f"{prefix}/release"
    d["C1"] = image(c, rel, ["v1.0.0"], "2026-01-01T00:00:00Z")            # deleted (v1.2.0 is the highest 1.x)
    d["C2"] = image(c, rel, ["v1.2.0"], "2026-02-01T00:00:00Z")            # keep_semver
    d["C3"] = image(c, rel, ["v2.0.0-rc1"], "2026-03-01T00:00:00Z")        # deleted (release-candidates)
    d["C4"] = image(c, rel, ["v2.0.0", "stable"], "2026-03-02T00:00:00Z")  # v2.0.0 removed, stable keeps it
    d["C5"] = image(c, rel, ["v2.1.0", "latest"], "2026-10-01T00:00:00Z")
    d["C6"] = image(c, rel, ["v3.0.0-rc1"], "2026-10-25T00:00:00Z")        # too new
    expected["registry-c"] = {rel: {"v1.2.0": d["C2"], "stable": d["C4"], "v2.1.0": d["C5"], "latest": d["C5"],
                                    "v3.0.0-rc1": d["C6"]}}
    gone = {"registry-a": ["A1", "A2"], "registry-b": ["B1", "B2"], "registry-c": ["C1", "C3"]}
    return seeds, d, expected, gone


def fleet_inventory(fleet, path):
    """examples/fleet/inventory.yml with each host pointed at its local registry."""
    with open(INVENTORY, encoding="utf-8") as handle:
        inventory = yaml.safe_load(handle)
    groups = inventory["all"]["children"]["registries"]["children"]
    hosts = {name: spec for group in groups.values() for name, spec in group["hosts"].items()}
    assert sorted(hosts) == list(HOSTS)
    for name, spec in hosts.items():
        assert spec["cleanup_provider"] == "oci"
        spec["cleanup_api_url"] = fleet[name].url
        spec["cleanup_api_username"] = fleet[name].username
    path.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
    return path


def run_fleet(fleet, tmp_path, report_dir, check=False, **extra_vars):
    inventory = tmp_path / "inventory.yml"
    if not inventory.exists():
        fleet_inventory(fleet, inventory)
    env = {"REGISTRY_A_PASSWORD": fleet["registry-a"].password, "REGISTRY_C_PASSWORD": fleet["registry-c"].password,
           "GITHUB_STEP_SUMMARY": ""}
    extra = {"cleanup_now": NOW, "fleet_report_dir": str(report_dir), "vault_registry_b_password": "unused: registry-b is open"}
    extra.update(extra_vars)
    return run_playbook(PLAYBOOK, extra_vars=extra, check=check, env=env, extra_args=["-i", str(inventory), "--forks", "3"])


def read_json(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def state(seeds, expected):
    return {host: {repo: seeds[host].tag_map(repo) for repo in repos} for host, repos in expected.items()}


def assert_summary_adds_up(summary, reports):
    assert summary["totals"]["hosts"] == summary["totals"]["hosts_reported"] == 3
    assert summary["totals"]["hosts_missing"] == summary["totals"]["hosts_blocked"] == 0
    for key in SUMMED:
        assert summary["totals"][key] == sum(reports[host]["totals"][key] for host in HOSTS), key
    kept = {}
    for host in HOSTS:
        assert summary["hosts"][host]["totals"] == reports[host]["totals"]
        for reason, count in reports[host]["totals"]["kept_by_reason"].items():
            kept[reason] = kept.get(reason, 0) + count
    assert summary["totals"]["kept_by_reason"] == kept


def test_fleet_check_mode_then_real_run(fleet, tmp_path):
    """Three registries, one playbook run each time: check mode changes nothing anywhere; the real run cleans each
    registry by its group's policies; each host's report has its own files; the summary adds the hosts up."""
    prefix = "f" + random_hex(4)
    seeds, d, expected, gone = seed_fleet(fleet, prefix)
    before = state(seeds, expected)
    report_dir = tmp_path / "reports"

    # 1. check mode: not one mutating request on any registry
    marks = {host: reg.mark() for host, reg in fleet.items()}
    rc, out, err = run_fleet(fleet, tmp_path, report_dir, check=True)
    assert rc == 0, out + err
    for host, reg in fleet.items():
        assert reg.mutations_since(marks[host]) == [], host
    assert state(seeds, expected) == before
    reports = {host: read_json(report_dir / f"{host}.json") for host in HOSTS}
    for host in HOSTS:
        assert reports[host]["check_mode"] is True and reports[host]["blocked"] is False
        markdown = (report_dir / f"{host}.md").read_text(encoding="utf-8")
        assert markdown.startswith(f"## Registry cleanup report: {host} (check mode)\n"), markdown
        assert "3 tag(s) would be removed, 2 digest(s) would be deleted" in markdown
    summary = read_json(report_dir / "summary.json")
    assert summary["check_mode"] is True
    assert_summary_adds_up(summary, reports)
    assert "(check mode)" in (report_dir / "summary.md").read_text(encoding="utf-8")
    assert '"Summary over 3 host(s) (check mode: nothing was changed, the figures say what would happen)"' in out

    # 2. the real run
    rc, out, err = run_fleet(fleet, tmp_path, report_dir)
    assert rc == 0, out + err
    assert state(seeds, expected) == expected
    for host, names in gone.items():
        repo = next(iter(expected[host]))
        assert not any(seeds[host].manifest_exists(repo, d[name]) for name in names), host
    # every host did its own registry, in the same play
    for host in HOSTS:
        assert re.search(r"^%s\s*:\s*ok=\d+\s+changed=2\s+unreachable=0\s+failed=0\b" % host, out, re.M), out
    real = {host: read_json(report_dir / f"{host}.json") for host in HOSTS}
    for host in HOSTS:
        report = real[host]
        assert report["check_mode"] is False and report["totals"]["errors"] == 0
        assert (report["totals"]["tags_removed"], report["totals"]["digests_deleted"]) == (3, 2), host
        # check mode predicted exactly what the real run did
        for key in ("tags_before", "tags_removed", "tags_after", "digests_deleted", "bytes_freed", "kept_by_reason"):
            assert reports[host]["totals"][key] == report["totals"][key], (host, key)
        markdown = (report_dir / f"{host}.md").read_text(encoding="utf-8")
        assert "would" not in markdown and "3 tag(s) removed, 2 digest(s) deleted" in markdown
    app = real["registry-a"]["repositories"][f"{prefix}/app"]
    assert app["removed_tags"] == ["pr-7", "sha-0000000", "sha-1111111"] and app["removed_from_surviving"] == ["sha-0000000"]
    assert app["kept_by_reason"] == {"keep_last": 3, "keep_tags": 1, "latest": 1}
    assert real["registry-b"]["repositories"][f"{prefix}/svc"]["removed_from_surviving"] == ["pr-8"]
    assert real["registry-b"]["repositories"][f"{prefix}/tools"]["kept_by_reason"] == {"latest": 1, "not_selected": 1}
    assert real["registry-c"]["repositories"][f"{prefix}/release"]["removed_from_surviving"] == ["v2.0.0"]
    summary = read_json(report_dir / "summary.json")
    assert summary["check_mode"] is False
    assert_summary_adds_up(summary, real)
    assert (summary["totals"]["tags_removed"], summary["totals"]["digests_deleted"], summary["totals"]["repositories"]) == (9, 6, 4)
    summary_md = (report_dir / "summary.md").read_text(encoding="utf-8")
    assert "| **Total** | 4 | " in summary_md and summary_md.count("| ok |") == 3
    assert '"Summary over 3 host(s)"' in out
    assert '"total (3 hosts, 4 repositories)"' in out


def test_hosts_sharing_a_report_file_fail_before_any_request(fleet, tmp_path):
    """Two hosts of a play writing one report file would overwrite each other: the role stops both before the snapshot."""
    shared = tmp_path / "report.json"
    marks = {host: reg.mark() for host, reg in fleet.items()}
    rc, out, err = run_fleet(fleet, tmp_path, tmp_path / "reports", cleanup_report_path=str(shared))
    assert rc != 0
    assert f"{shared}: written by another host of the play as well" in out, out + err
    assert "Summary over" not in out  # every host failed: Ansible ends the playbook before the summary play
    for host, reg in fleet.items():
        assert reg.requests_since(marks[host]) == [], host
    assert not shared.exists()
