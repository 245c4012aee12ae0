"""End to end: the ``regops.registry.cleanup`` role with real ansible-playbook against distribution 2.8.

Every check reads the registry back over HTTP with the independent seed client; the
registry's access log proves that check mode and tripped guards send no mutating request.
"""

# pylint: disable=redefined-outer-name
import json
import re

import pytest

from tests.support.ansible_runner import REPO_ROOT, run_playbook, run_tasks
from tests.support.seed import OCI_CONFIG, OCI_MANIFEST, canonical_json, random_hex

PLAYBOOK = REPO_ROOT / "tests" / "playbooks" / "cleanup.yml"
NOW = "2026-11-01T00:00:00Z"
BASE_LAYER = b"base-layer-" + b"x" * 8192  # shared by every image, as a real base image would be


# -- helpers -------------------------------------------------------------------
def image(seed, repo, tags, created, arch="amd64"):
    """Push an image (shared base layer + one unique layer) and return its digest."""
    layers = [BASE_LAYER, b"app-" + random_hex(2048).encode()]
    return seed.push_image(repo, tags, created=created, layers=layers, arch=arch)


def manifest_size(seed, repo, digest):
    """What artifact_info reports as ``size_bytes``: manifest + directly referenced blobs (an index counts itself)."""
    _media_type, body = seed.get_manifest(repo, digest)
    doc = json.loads(body)
    if "manifests" in doc:
        return len(body)
    return len(body) + doc["config"]["size"] + sum(layer["size"] for layer in doc["layers"])


def role_vars(registry, report_path, repositories, policies, **extra):
    """Extra vars for tests/playbooks/cleanup.yml."""
    result = {
        "cleanup_provider": "oci",
        "cleanup_api_url": registry.url,
        "cleanup_api_username": registry.username,
        "cleanup_api_password": registry.password,
        "cleanup_repositories": repositories,
        "cleanup_policies": policies,
        "cleanup_now": NOW,
        "cleanup_report_path": str(report_path),
    }
    result.update(extra)
    return result


def run_role(extra_vars, check=False):
    """Run the role; returns ``(rc, stdout, stderr, changed)`` (``changed`` from the play recap)."""
    rc, out, err = run_playbook(PLAYBOOK, extra_vars=extra_vars, check=check)
    match = re.search(r"^localhost\s*:.*\bchanged=(\d+)", out, re.M)
    changed = int(match.group(1)) if match else None
    return rc, out, err, changed


def read_report(path):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def plan_row(out, repo, tag, digest, action):
    """The printed plan's line for ``tag`` (``-`` for an untagged manifest): repository, tag, digest, age, action."""
    pattern = r'"%s\s+%s\s+sha256:%s\s+\d+d\s+%s\s' % (re.escape(repo), re.escape(tag), digest[7:19], action)
    return re.search(pattern, out)


def assert_adds_up(summary):
    """The report's identities: before = kept + removed (both kinds), kept by reason adds up, after = kept."""
    assert summary["tags_removed"] == summary["tags_removed_with_digests"] + summary["tags_removed_from_surviving"], summary
    assert summary["tags_before"] == summary["tags_kept"] + summary["tags_removed"], summary
    assert summary["tags_after"] == summary["tags_kept"] == sum(summary["kept_by_reason"].values()), summary
    assert summary["digests_before"] == summary["digests_deleted"] + summary["digests_after"], summary


def snapshot(seed, repos, digests):
    """``({repo: {tag: digest}}, {digest: exists})`` read over HTTP."""
    tag_maps = {repo: seed.tag_map(repo) for repo in repos}
    present = {name: seed.manifest_exists(repo, digest) for name, (repo, digest) in digests.items()}
    return tag_maps, present


# -- the realistic history -------------------------------------------------------
@pytest.fixture
def history(seed, prefix):
    """Three repositories with months of history, releases, shared digests and multi-arch indexes.

    ``api`` (policy ``api``: older_than 30d, keep latest, ``stable``, keep.last 3, semver major=1, one digest in use):
        A1 v1.0.0              2026-01-05  -> deleted (superseded release)
        A2 v1.1.0 sha-1111111  2026-02-10  -> deleted (both tags selected)
        A3 v1.2.3 sha-3333333  2026-03-20  -> sha-3333333 removed, manifest stays (v1.2.3 newest 1.x)
        A4 pr-17 stable        2026-04-01  -> pr-17 removed, manifest stays (stable kept)
        A5 sha-deadbee         2026-05-01  -> kept, in use (keep.digests)
        A6 v2.0.0              2026-05-15  -> deleted
        A8 v2.1.0 latest       2026-07-01  -> kept
        A9 sha-9999999         2026-09-15  -> kept by keep.last
        A10 sha-aaaaaaa        2026-10-31  -> kept by keep.last
    ``web`` (policy ``web``: older_than 30d, keep latest, keep.last 1):
        WI1 2026.02 -> index over W1a, W1b (untagged)        -> index and both children deleted
        WI2 2026.03 -> index over WS, W2b                    -> index and W2b deleted, WS stays (WI3 uses it)
        WI3 latest  -> index over WS, W3b (2026-10-20)       -> kept, children resolvable
    ``base`` (excluded from every policy): old tags, never touched.
    The ``untagged`` policy (every repository but ``base``) sees the untagged index children: those of a kept index
    stay (WS is also old enough to be selected, the index_child guard keeps it).
    (An untagged manifest nothing references is invisible through the distribution API, so it is not seeded.)
    """
    api, web, base = f"{prefix}/api", f"{prefix}/web", f"{prefix}/base"
    d = {}
    d["A1"] = image(seed, api, ["v1.0.0"], "2026-01-05T00:00:00Z")
    d["A2"] = image(seed, api, ["v1.1.0", "sha-1111111"], "2026-02-10T00:00:00Z")
    d["A3"] = image(seed, api, ["v1.2.3", "sha-3333333"], "2026-03-20T00:00:00Z")
    d["A4"] = image(seed, api, ["pr-17", "stable"], "2026-04-01T00:00:00Z")
    d["A5"] = image(seed, api, ["sha-deadbee"], "2026-05-01T00:00:00Z")
    d["A6"] = image(seed, api, ["v2.0.0"], "2026-05-15T00:00:00Z")
    d["A8"] = image(seed, api, ["v2.1.0", "latest"], "2026-07-01T00:00:00Z")
    d["A9"] = image(seed, api, ["sha-9999999"], "2026-09-15T00:00:00Z")
    d["A10"] = image(seed, api, ["sha-aaaaaaa"], "2026-10-31T00:00:00Z")

    d["W1a"] = image(seed, web, [], "2026-02-01T00:00:00Z")
    d["W1b"] = image(seed, web, [], "2026-02-01T00:00:00Z", arch="arm64")
    d["WI1"] = seed.push_index(web, ["2026.02"], children=[d["W1a"], d["W1b"]])
    d["WS"] = image(seed, web, [], "2026-03-01T00:00:00Z")
    d["W2b"] = image(seed, web, [], "2026-03-01T00:00:00Z", arch="arm64")
    d["WI2"] = seed.push_index(web, ["2026.03"], children=[d["WS"], d["W2b"]])
    d["W3b"] = image(seed, web, [], "2026-10-20T00:00:00Z", arch="arm64")
    d["WI3"] = seed.push_index(web, ["latest"], children=[d["WS"], d["W3b"]])

    d["B1"] = image(seed, base, ["2025.01"], "2025-01-01T00:00:00Z")
    d["B2"] = image(seed, base, ["2025.02", "latest"], "2025-02-01T00:00:00Z")

    repo_of = {name: (api if name.startswith("A") else web if name.startswith("W") else base) for name in d}
    policies = [
        {"name": "api", "repositories": {"include": [api]}, "older_than": "30d", "age_basis": "created",
         "keep": {"latest": True, "tags": ["stable", "main"], "last": 3, "semver": {"major": 1},
                  "digests": [f"{api}@{d['A5']}"], "min_age": "1h"}},
        {"name": "web", "repositories": {"include": [web]}, "older_than": "30d", "age_basis": "created",
         "keep": {"latest": True, "last": 1}},
        {"name": "untagged", "repositories": {"include": [f"{prefix}/**"], "exclude": [base]},
         "tag_state": "untagged", "older_than": "30d", "age_basis": "created"},
    ]
    return {
        "api": api, "web": web, "base": base, "repos": [api, web, base], "d": d,
        "refs": {name: (repo_of[name], digest) for name, digest in d.items()},
        "policies": policies,
    }


# -- tests -----------------------------------------------------------------------
@pytest.mark.compat
def test_check_mode_then_real_run_then_idempotent(registry, seed, history, tmp_path):
    """Check mode plans without touching the registry; the real run does exactly that plan; a rerun changes nothing."""
    api, web, base, d = history["api"], history["web"], history["base"], history["d"]
    before_tags, before_present = snapshot(seed, history["repos"], history["refs"])
    sizes = {name: manifest_size(seed, repo, digest) for name, (repo, digest) in history["refs"].items()}
    check_report = tmp_path / "check.json"
    report_path = tmp_path / "report.json"

    # 1. check mode: the plan is printed, nothing changes on the registry
    mark = registry.mark()
    rc, out, err, changed = run_role(role_vars(registry, check_report, history["repos"], history["policies"]),
                                     check=True)
    assert rc == 0, out + err
    assert registry.mutations_since(mark) == []
    assert snapshot(seed, history["repos"], history["refs"]) == (before_tags, before_present)
    assert changed == 2  # the tag and artifact calls predict changes
    # the printed plan names every tag that disappears: removed from an image that stays, or with its digest
    planned = [(api, "pr-17", "A4", "untag"), (api, "sha-3333333", "A3", "untag"),
               (api, "v1.0.0", "A1", "delete"), (api, "v1.1.0", "A2", "delete"), (api, "sha-1111111", "A2", "delete"),
               (api, "v2.0.0", "A6", "delete"), (web, "2026.02", "WI1", "delete"), (web, "-", "W1a", "delete"),
               (web, "-", "W1b", "delete"), (web, "2026.03", "WI2", "delete"), (web, "-", "W2b", "delete")]
    for repo, tag, name, action in planned:
        assert plan_row(out, repo, tag, d[name], action), (repo, tag, name, out)
    assert '"Plan (check mode: nothing is changed), now %s: 8 tag(s) and 8 digest(s) would go"' % NOW in out
    assert re.search(r'"%s +pr-17 .* untag .*image stays with stable"' % re.escape(api), out)
    # and the report says what would happen, in figures that add up
    assert ('"  tags:    13 before - 6 would be removed = 7 after; would be removed: 4 with 3 digest(s) + 2 from images '
            'that stay"') in out
    assert '"  kept:    7 tag(s) = in_use 1 + keep_last 2 + keep_semver 2 + keep_tags 1 + latest 1"' in out
    check = read_report(check_report)
    assert check["check_mode"] is True and check["blocked"] is False

    # 2. the real run
    mark = registry.mark()
    rc, out, err, changed = run_role(role_vars(registry, report_path, history["repos"], history["policies"]))
    assert rc == 0, out + err
    assert changed == 2
    # (distribution 2.8 has no tag DELETE: the tag module points the tags at a throwaway manifest and deletes that)
    kept_digests = [digest for name, digest in d.items() if name not in ("A1", "A2", "A6", "WI1", "W1a", "W1b", "WI2", "W2b")]
    deletes = registry.requests_since(mark, ["DELETE"])
    assert not [e for e in deletes if any(digest in e.path for digest in kept_digests)], deletes

    tags_after, present_after = snapshot(seed, history["repos"], history["refs"])
    assert tags_after[api] == {
        "v1.2.3": d["A3"], "stable": d["A4"], "sha-deadbee": d["A5"], "v2.1.0": d["A8"], "latest": d["A8"],
        "sha-9999999": d["A9"], "sha-aaaaaaa": d["A10"],
    }
    assert tags_after[web] == {"latest": d["WI3"]}
    assert tags_after[base] == before_tags[base]
    gone = {"A1", "A2", "A6", "WI1", "W1a", "W1b", "WI2", "W2b"}
    assert {name for name, there in present_after.items() if not there} == gone
    # shared digests lost only the selected tag; the surviving index's children still resolve
    assert present_after["A3"] and present_after["A4"]
    for child in ("WS", "W3b"):
        assert seed.manifest_exists(web, d[child])
    _media_type, body = seed.get_manifest(web, "latest")
    assert {m["digest"] for m in json.loads(body)["manifests"]} == {d["WS"], d["W3b"]}

    # 3. the JSON report
    report = read_report(report_path)
    assert report["check_mode"] is False and report["blocked"] is False and report["now"] == NOW
    repos = report["repositories"]
    assert set(repos) == {api, web}
    assert repos[api]["removed_tags"] == ["pr-17", "sha-1111111", "sha-3333333", "v1.0.0", "v1.1.0", "v2.0.0"]
    assert repos[api]["removed_from_surviving"] == ["pr-17", "sha-3333333"]
    assert repos[api]["deleted_digest_tags"] == {d["A1"]: ["v1.0.0"], d["A2"]: ["sha-1111111", "v1.1.0"], d["A6"]: ["v2.0.0"]}
    assert repos[api]["deleted_digests"] == sorted(d[n] for n in ("A1", "A2", "A6"))
    assert repos[api]["kept_by_reason"] == {"in_use": 1, "keep_last": 2, "keep_semver": 2, "keep_tags": 1, "latest": 1}
    assert (repos[api]["tags_before"], repos[api]["tags_removed_with_digests"], repos[api]["tags_removed_from_surviving"],
            repos[api]["tags_after"]) == (13, 4, 2, 7)
    assert repos[web]["removed_tags"] == ["2026.02", "2026.03"] and repos[web]["removed_from_surviving"] == []
    assert repos[web]["deleted_digests"] == sorted(d[n] for n in ("WI1", "W1a", "W1b", "WI2", "W2b"))
    assert repos[web]["kept_by_reason"] == {"latest": 1}
    assert repos[web]["untagged_kept_by_reason"] == {"index_child": 2}  # WS and W3b, children of the surviving index
    assert (repos[web]["digests_before"], repos[web]["digests_deleted"], repos[web]["digests_after"]) == (8, 5, 3)
    # the figures match the registry, read back over HTTP
    for repo in (api, web):
        assert_adds_up(repos[repo])
        assert repos[repo]["tags_before"] == len(before_tags[repo]) and repos[repo]["tags_after"] == len(tags_after[repo])
    assert repos[api]["bytes_freed"] == sum(sizes[n] for n in ("A1", "A2", "A6"))
    assert repos[api]["bytes_freed"] > 3 * 2048
    for summary in repos.values():
        assert summary["skipped"] == [] and summary["errors"] == []
    assert report["totals"]["removed_tags"] == report["totals"]["tags_removed"] == 8
    assert report["totals"]["deleted_digests"] == 8
    assert report["totals"]["errors"] == 0
    assert_adds_up(report["totals"])
    assert ('"  tags:    13 before - 6 removed = 7 after; removed: 4 with 3 deleted digest(s) + 2 from images that stay"'
            in out)
    assert not re.search(r'"[^"]*would[^"]*"', out.split("Print the report")[1])
    # check mode predicted exactly what the real run did
    for name in (api, web):
        for key in ("removed_tags", "deleted_digests", "kept_by_reason", "bytes_freed", "tags_before", "tags_after",
                    "untagged_kept_by_reason"):
            assert check["repositories"][name][key] == repos[name][key], (name, key)

    # 4. a second run finds nothing to do
    mark = registry.mark()
    rc, out, err, changed = run_role(role_vars(registry, report_path, history["repos"], history["policies"]))
    assert rc == 0, out + err
    assert changed == 0, out
    assert registry.mutations_since(mark) == []
    again = read_report(report_path)
    assert again["totals"]["removed_tags"] == 0
    assert snapshot(seed, history["repos"], history["refs"]) == (tags_after, present_after)
    # the re-run's figures follow from the first run's: it starts where the first one ended, and keeps it all
    for name in (api, web):
        assert_adds_up(again["repositories"][name])
        assert again["repositories"][name]["tags_before"] == repos[name]["tags_after"]
        assert again["repositories"][name]["tags_kept"] == repos[name]["tags_kept"]
        assert again["repositories"][name]["kept_by_reason"] == repos[name]["kept_by_reason"]
        assert again["repositories"][name]["digests_before"] == repos[name]["digests_after"]
    assert again["totals"]["tags_before"] == report["totals"]["tags_after"] == 8


def test_report_bytes_freed_counts_index_children(registry, seed, prefix, tmp_path):
    """bytes_freed covers every deleted manifest, the untagged children deleted with an index included."""
    web = f"{prefix}/web"
    amd = image(seed, web, [], "2026-02-01T00:00:00Z")
    arm = image(seed, web, [], "2026-02-01T00:00:00Z", arch="arm64")
    index = seed.push_index(web, ["2026.02"], children=[amd, arm])
    image(seed, web, ["latest"], "2026-10-01T00:00:00Z")
    expected = sum(manifest_size(seed, web, digest) for digest in (index, amd, arm))
    report_path = tmp_path / "report.json"
    policies = [{"name": "web", "older_than": "30d", "age_basis": "created", "keep": {"latest": True}}]
    rc, out, err, _changed = run_role(role_vars(registry, report_path, [web], policies))
    assert rc == 0, out + err
    assert not seed.manifest_exists(web, amd)
    assert read_report(report_path)["repositories"][web]["bytes_freed"] == expected


def test_guards_stop_before_any_mutation(registry, seed, history, prefix, tmp_path):
    """max_deletions trips for one repository and another would be emptied: the run fails, the report says why,
    and not one mutating request reached the registry (the guards are checked on the whole plan first)."""
    old = f"{prefix}/old"
    old_digests = [image(seed, old, [f"build-{n}"], f"2026-0{n}-01T00:00:00Z") for n in (1, 2, 3)]
    repos = history["repos"] + [old]
    refs = dict(history["refs"], **{f"old{n}": (old, digest) for n, digest in enumerate(old_digests)})
    before = snapshot(seed, repos, refs)
    policies = [dict(history["policies"][0], max_deletions=3)] + history["policies"][1:] + [
        {"name": "old-builds", "repositories": [old], "older_than": "30d", "age_basis": "created"}]
    report_path = tmp_path / "report.json"
    mark = registry.mark()
    rc, out, err, _changed = run_role(role_vars(registry, report_path, repos, policies))
    assert rc != 0
    assert "Cleanup blocked, nothing was deleted" in out, out + err
    assert registry.mutations_since(mark) == []
    assert snapshot(seed, repos, refs) == before
    report = read_report(report_path)
    assert report["blocked"] is True
    reasons = report["block_reasons"]
    assert any('policy "api"' in reason and "max_deletions 3" in reason for reason in reasons), reasons
    assert any('policy "old-builds"' in reason and f"removes every tag of repository {old}" in reason
               for reason in reasons), reasons
    assert not any('policy "web"' in reason for reason in reasons), reasons
    assert report["totals"]["removed_tags"] == 0 and report["totals"]["deleted_digests"] == 0
    assert report["lines"][0].startswith("BLOCKED, nothing deleted")


def test_tag_pushed_after_the_snapshot_is_never_lost(registry, seed, history):
    """The re-check: a digest that gains a tag between plan and deletion is skipped, the new tag survives."""
    api, d = history["api"], history["d"]
    role_task = {
        "name": "Plan with the role (check mode)",
        "ansible.builtin.include_role": {"name": "regops.registry.cleanup"},
        "vars": role_vars(registry, "", history["repos"], history["policies"]),
    }
    results = run_tasks([role_task, {"ansible.builtin.debug": {"var": "cleanup_refs"}}], check=True)
    assert results.rc == 0, results.output
    refs = results[1]["cleanup_refs"]
    target = f"{api}@{d['A2']}"
    assert target in refs["digests"]
    assert refs["expected_tags"][target] == ["sha-1111111", "v1.1.0"]

    seed.tag(api, "hotfix-pinned", d["A2"])  # someone tags the planned digest after the snapshot

    args = dict(registry.oci_args(), digest=refs["digests"], expected_tags=refs["expected_tags"], state="absent")
    task = {"regops.registry.artifact": args}
    mark = registry.mark()
    result = run_tasks([task])[0]
    assert not result.get("failed"), result
    actions = {a["ref"]: a for a in result["actions"]}
    assert actions[target]["action"] == "skipped"
    assert "hotfix-pinned" in actions[target]["msg"]
    assert {ref for ref, a in actions.items() if a["action"] == "deleted"} == set(refs["digests"]) - {target}
    assert seed.resolve(api, "hotfix-pinned") == d["A2"]
    assert seed.manifest_exists(api, d["A2"])
    assert not [e for e in registry.requests_since(mark, ["DELETE"]) if d["A2"] in e.path]
    assert not seed.manifest_exists(api, d["A1"])


# -- issue 7: bad input fails before any request -----------------------------------
BAD_POLICIES = {
    # what the user wrote -> what the message must say (the policy, the key, the value as written)
    "regex": ({"name": "ci", "tags": {"include": ["re:sha-\\"]}},
              'policy "ci": key "tags.include" has an invalid regular expression "sha-\\": bad escape (end of pattern) at position 4'),
    # issue 8: a tag regex written without "re:" (tag patterns are globs now) and a duration without a unit
    "regex_as_glob": ({"name": "ci", "tags": {"include": ["^pr-\\d+$"]}},
                      'policy "ci": key "tags.include" pattern "^pr-\\d+$" looks like a regular expression: '),
    "ambiguous": ({"name": "ci", "keep": {"tags": ["stable.*"]}},
                  'write "re:stable.*" for the regular expression or "stable*" for the glob'),
    "bare_number": ({"name": "ci", "older_than": 30},
                    'policy "ci": key "older_than" is not a valid duration: invalid duration 30: a number has no unit; '
                    'write "30d" (days) or "30s" (seconds)'),
    "unknown_key": ({"name": "ci", "olderthan": "30d"}, 'policy "ci": unknown key(s) "olderthan" (did you mean "older_than"?)'),
    "duration": ({"name": "ci", "older_than": "30 days"}, 'policy "ci": key "older_than" is not a valid duration'),
    "percent": ({"name": "ci", "older_than": "30d", "max_deletions_percent": 150},
                'policy "ci": key "max_deletions_percent" must be a number between 0 and 100, got 150'),
}


def test_bad_policies_fail_before_any_request(registry, seed, prefix, tmp_path):
    """Each bad policy fails the role at its first task: the registry's log shows not one request, read or write."""
    repo = f"{prefix}/app"
    image(seed, repo, ["old"], "2026-01-01T00:00:00Z")
    image(seed, repo, ["latest"], "2026-10-31T00:00:00Z")
    plays = []
    for name, (policy, _fragment) in BAD_POLICIES.items():
        role_task = {"ansible.builtin.include_role": {"name": "regops.registry.cleanup"},
                     "vars": role_vars(registry, "", [repo], [policy])}
        collect = "{{ bad_policy_errors | default({}) | combine({'%s': ansible_failed_result.msg}) }}" % name
        record = {"ansible.builtin.set_fact": {"bad_policy_errors": collect}}
        plays.append({"name": f"bad policy {name}", "block": [role_task], "rescue": [record]})
    dump = {"ansible.builtin.copy": {"content": "{{ bad_policy_errors | to_json }}", "dest": str(tmp_path / "errors.json"),
                                     "mode": "0600"}}
    playbook = tmp_path / "bad.yml"
    playbook.write_text(json.dumps([{"name": "bad policies", "hosts": "localhost", "gather_facts": False,
                                     "tasks": plays + [dump]}]), encoding="utf-8")
    mark = registry.mark()
    rc, out, err = run_playbook(playbook)
    assert rc == 0, out + err
    assert registry.requests_since(mark) == []  # not one request: no catalog, no tag list, no manifest
    errors = json.loads((tmp_path / "errors.json").read_text(encoding="utf-8"))
    assert set(errors) == set(BAD_POLICIES)
    for name, (_policy, fragment) in BAD_POLICIES.items():
        assert fragment in errors[name], (name, errors[name])
        assert "\\Z" not in errors[name] and "position 12" not in errors[name]


@pytest.mark.compat
def test_bad_policy_through_the_playbook_fails_with_zero_requests(registry, seed, prefix, tmp_path):
    """The same through tests/playbooks/cleanup.yml with -e: rc != 0 and an empty request log."""
    repo = f"{prefix}/app"
    image(seed, repo, ["old"], "2026-01-01T00:00:00Z")
    mark = registry.mark()
    rc, out, err, _changed = run_role(role_vars(registry, tmp_path / "report.json", [repo], {"name": "ci", "olderthan": "30d"}))
    assert rc != 0
    # ansible-core 2.18 prints the message JSON-escaped, 2.19 as it is
    assert 'unknown key(s) "olderthan"' in (out + err).replace('\\"', '"')
    assert registry.requests_since(mark) == []
    assert not (tmp_path / "report.json").exists()


def test_one_policy_given_as_a_dict(registry, seed, prefix, tmp_path):
    """cleanup_policies may be one dict, as the docs and the argument spec say."""
    repo = f"{prefix}/app"
    old = image(seed, repo, ["sha-1111111"], "2026-01-01T00:00:00Z")
    new = image(seed, repo, ["latest"], "2026-10-31T00:00:00Z")
    report_path = tmp_path / "report.json"
    policy = {"name": "only", "older_than": "30d", "age_basis": "created", "keep": {"latest": True}}
    rc, out, err, changed = run_role(role_vars(registry, report_path, [repo], policy))
    assert rc == 0, out + err
    assert changed == 1
    assert not seed.manifest_exists(repo, old) and seed.resolve(repo, "latest") == new
    report = read_report(report_path)
    assert report["repositories"][repo]["deleted_digests"] == [old]
    assert report["repositories"][repo]["kept_by_reason"] == {"latest": 1}


# -- issue 8: policy writing without traps ----------------------------------------------
def test_globs_protect_only_policies_and_names_that_do_not_exist(registry, seed, prefix, tmp_path):
    """Tag globs select what they say; a policy with only keep rules protects without selecting; a repository named
    in cleanup_repositories or in a policy's include that does not exist is a warning in the printed plan."""
    repo = f"{prefix}/app"
    pr1 = image(seed, repo, ["pr-1"], "2026-01-01T00:00:00Z")
    pr2 = image(seed, repo, ["pr-2"], "2026-01-02T00:00:00Z")
    image(seed, repo, ["main"], "2026-01-03T00:00:00Z")
    image(seed, repo, ["latest"], "2026-10-31T00:00:00Z")
    report_path = tmp_path / "report.json"
    policies = [
        {"name": "prs", "repositories": [repo, f"{prefix}/typo"], "tags": {"include": ["pr-*"]}, "older_than": "30d",
         "age_basis": "created"},
        {"name": "guard", "keep": {"tags": ["pr-2"]}},  # only keep rules: protects, selects nothing
    ]
    rc, out, err, _changed = run_role(role_vars(registry, report_path, [repo, f"{prefix}/nope"], policies))
    assert rc == 0, out + err
    assert seed.resolve(repo, "pr-1") is None and not seed.manifest_exists(repo, pr1)
    assert seed.resolve(repo, "pr-2") == pr2 and seed.resolve(repo, "main")
    assert f'warning: repository {prefix}/nope (named in cleanup_repositories) is not in the snapshot' in out, out
    assert f'warning: policy \\"prs\\": repository {prefix}/typo (named in repositories.include) is not in the snapshot' in out, out
    summary = read_report(report_path)["repositories"][repo]
    assert summary["removed_tags"] == ["pr-1"]
    assert summary["kept_by_reason"] == {"keep_tags": 1, "latest": 1, "not_selected": 1}
    assert_adds_up(summary)


# -- issue 7: timestamps that lie -----------------------------------------------------
def test_reproducible_build_is_not_decades_old_unless_trusted(registry, seed, prefix, tmp_path):
    """An image config created in 1970 (SOURCE_DATE_EPOCH=0) pushed today is kept as no_timestamp, with a warning;
    trust_created_before_1980 opts in to that time."""
    repo = f"{prefix}/app"
    repro = image(seed, repo, ["sha-reprodu"], "1970-01-01T00:00:00Z")
    old = image(seed, repo, ["sha-0000001"], "2026-01-01T00:00:00Z")
    image(seed, repo, ["latest"], "2026-10-31T00:00:00Z")
    report_path = tmp_path / "report.json"
    policy = {"name": "builds", "tags": {"include": ["sha-*"]}, "older_than": "30d", "age_basis": "created"}

    rc, out, err, _changed = run_role(role_vars(registry, report_path, [repo], [policy]))
    assert rc == 0, out + err
    assert "1 artifact(s) have an image creation time before 1980 (reproducible builds): treated as unknown" in out
    assert seed.resolve(repo, "sha-reprodu") == repro
    assert not seed.manifest_exists(repo, old)
    assert read_report(report_path)["repositories"][repo]["kept_by_reason"] == {"latest": 1, "no_timestamp": 1}

    rc, out, err, _changed = run_role(role_vars(registry, report_path, [repo], [dict(policy, trust_created_before_1980=True)]))
    assert rc == 0, out + err
    assert not seed.manifest_exists(repo, repro)
    assert read_report(report_path)["repositories"][repo]["deleted_digests"] == [repro]


# -- issue 7: races -------------------------------------------------------------------
RACE_CALLBACK = '''
import os
import runpy

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    """Runs REGOPS_RACE_SCRIPT once, right after the task named REGOPS_RACE_AFTER (before the next task starts)."""
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "regops_race"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.done = False

    def v2_runner_on_ok(self, result):
        if not self.done and result._task.get_name().endswith(os.environ["REGOPS_RACE_AFTER"]):
            self.done = True
            runpy.run_path(os.environ["REGOPS_RACE_SCRIPT"])
'''


def run_role_with_race(registry, extra_vars, tmp_path, script):
    """Run the role; ``script`` (Python) runs after the plan is made and before the first module changes anything."""
    plugins = tmp_path / "callback_plugins"
    plugins.mkdir()
    (plugins / "regops_race.py").write_text(RACE_CALLBACK, encoding="utf-8")
    script_path = tmp_path / "race.py"
    script_path.write_text(f"import sys\nsys.path.insert(0, {str(REPO_ROOT)!r})\n"
                           "from tests.support.seed import SeedClient\n"
                           f"seed = SeedClient({registry.url!r}, {registry.username!r}, {registry.password!r})\n"
                           + script, encoding="utf-8")
    env = {"ANSIBLE_CALLBACK_PLUGINS": str(plugins), "ANSIBLE_CALLBACKS_ENABLED": "regops_race",
           "REGOPS_RACE_AFTER": "Reference lists for the bulk calls", "REGOPS_RACE_SCRIPT": str(script_path)}
    rc, out, err = run_playbook(PLAYBOOK, extra_vars=extra_vars, env=env)
    return rc, out, err


def test_tag_pushed_again_after_the_plan_is_skipped_as_moved(registry, seed, prefix, tmp_path):
    """The role passes each tag's planned digest to the tag module: a tag pushed again onto another image between the
    plan and the removal stays where it now points, is reported as skipped (moved) and is not counted as removed."""
    repo = f"{prefix}/app"
    first = image(seed, repo, ["pr-1", "stable"], "2026-01-01T00:00:00Z")
    second = image(seed, repo, ["pr-2", "stable-2"], "2026-01-02T00:00:00Z")
    fresh = image(seed, repo, ["latest"], "2026-10-31T00:00:00Z")
    report_path = tmp_path / "report.json"
    policy = {"name": "prs", "tags": {"include": ["pr-*"]}, "older_than": "30d", "age_basis": "created",
              "keep": {"tags": ["stable*"]}}
    mark = registry.mark()
    rc, out, err = run_role_with_race(registry, role_vars(registry, report_path, [repo], [policy]), tmp_path,
                                      f"seed.tag({repo!r}, 'pr-2', {fresh!r})\n")
    assert rc == 0, out + err
    assert seed.resolve(repo, "pr-2") == fresh  # pushed again after the plan: not removed
    assert seed.resolve(repo, "pr-1") is None  # the other planned tag went
    assert seed.resolve(repo, "stable") == first and seed.resolve(repo, "stable-2") == second
    # the only write to pr-2 is the race's own push
    assert [e.method for e in registry.requests_since(mark, ["PUT", "DELETE"]) if e.path.endswith("/manifests/pr-2")] == ["PUT"]
    report = read_report(report_path)
    summary = report["repositories"][repo]
    assert summary["removed_tags"] == ["pr-1"]
    assert [(s["tag"], s["reason"]) for s in summary["skipped"]] == [("pr-2", "moved")]
    assert fresh in summary["skipped"][0]["msg"] and second in summary["skipped"][0]["msg"]
    assert report["totals"]["removed_tags"] == 1 and report["totals"]["skipped"] == 1 and report["totals"]["errors"] == 0
    assert "skipped tag pr-2 (moved)" in out


# -- issue 7: leftover throwaway manifests ------------------------------------------
THROWAWAY_ANNOTATION = "io.regops.registry.throwaway"  # what the oci provider marks its throwaway manifests with


def leftover_throwaway(seed, repo, tags):
    """What an untag that could neither delete its throwaway nor point the tags back leaves: tags on an empty image."""
    empty = seed.push_blob(repo, b"{}")
    config = canonical_json({"architecture": "amd64", "os": "linux", "created": "2026-10-31T23:59:00Z",
                             "rootfs": {"type": "layers", "diff_ids": [empty]}})
    config_digest = seed.push_blob(repo, config)
    body = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                           "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": empty, "size": 2}],
                           "annotations": {THROWAWAY_ANNOTATION: "true", "nonce": random_hex()}})
    digest = None
    for tag in tags:
        digest = seed.put_manifest(repo, tag, OCI_MANIFEST, body)
    return digest


def test_leftover_throwaway_is_deleted_whatever_the_policies_say(registry, seed, prefix, tmp_path):
    """Tags left on a throwaway manifest by an interrupted removal go on the next run, even when every policy would
    keep them, outside the circuit breakers; the report names the leftover."""
    repo = f"{prefix}/app"
    kept_image = image(seed, repo, ["v1", "latest"], "2026-01-01T00:00:00Z")
    throwaway = leftover_throwaway(seed, repo, ["pr-7", "pr-8"])
    report_path = tmp_path / "report.json"
    policy = {"name": "keep-all", "older_than": "30d", "keep": {"tags": ["*"]}, "max_deletions": 0, "max_deletions_percent": 0}

    rc, out, err, _changed = run_role(role_vars(registry, report_path, [repo], policy), check=True)
    assert rc == 0, out + err
    assert seed.manifest_exists(repo, throwaway)
    assert "1 throwaway manifest(s) left by an interrupted tag removal" in out

    rc, out, err, changed = run_role(role_vars(registry, report_path, [repo], policy))
    assert rc == 0, out + err
    assert changed == 1
    assert seed.tag_map(repo) == {"v1": kept_image, "latest": kept_image}
    assert not seed.manifest_exists(repo, throwaway)
    report = read_report(report_path)
    summary = report["repositories"][repo]
    assert summary["leftovers"] == [{"digest": throwaway, "tags": ["pr-7", "pr-8"], "action": "deleted"}]
    assert summary["deleted_digests"] == [] and summary["removed_tags"] == [] and summary["errors"] == []
    assert report["totals"]["leftovers"] == 1 and report["blocked"] is False
