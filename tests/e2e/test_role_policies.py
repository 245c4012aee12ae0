"""End to end: the cleanup role's policies of issue 13 on distribution 2.8, with real ansible-playbook.

One registry holds six repositories, each under a policy of its own: ``action: untag``, ``on_limit: truncate``
(a backlog drained over two runs), referrers that go with their subject (cosign ``.sig`` / ``.att`` tags and an
index under the OCI referrers tag schema) and ``delete_orphan_referrers``, ``artifact_types`` (only Helm charts;
everything but images) and ``platforms``. The role runs three times: check mode, the real run, and the next
scheduled run that finishes the backlog. Every check reads the registry back with the independent seed client;
the registry's access log proves that check mode sends no mutating request.
"""

# pylint: disable=redefined-outer-name
import json

import pytest

from tests.e2e.test_role_cleanup import assert_adds_up, image, read_report, role_vars, run_role
from tests.support.seed import HELM_CHART, HELM_CONFIG, SPDX_JSON, random_hex, referrers_tag

OLD = "2026-0%d-01T00:00:00Z"  # OLD % month: months before NOW (2026-11-01)
RECENT = "2026-10-30T00:00:00Z"  # two days before NOW
EXAMPLE_REPORT = "application/vnd.example.scan-report.v1+json"
# the figures the check-mode report must predict exactly
PREDICTED = ("tags_before", "tags_removed", "tags_removed_with_digests", "tags_removed_from_surviving", "kept_by_reason",
             "digests_before", "digests_deleted", "referrers_deleted", "untagged_kept_by_reason", "tags_untagged_only",
             "deferred_tags", "deferred_digests", "removed_tags", "removed_from_surviving", "deleted_digests",
             "deleted_referrers", "deferred")


# -- helpers -------------------------------------------------------------------
def chart(seed, repo, version):
    """Push a Helm chart (config media type ``application/vnd.cncf.helm.config.v1+json``) tagged ``version``."""
    config = json.dumps({"name": "app", "version": version}).encode()
    return seed.push_artifact(repo, [(HELM_CHART, b"chart-" + random_hex(64).encode())], config_media_type=HELM_CONFIG,
                              config=config, tags=[version])


def scan_report(seed, repo, tag):
    """Push an OCI 1.1 artifact of a type of its own (an ``other`` artifact: neither image nor chart) tagged ``tag``."""
    return seed.push_artifact(repo, [("application/json", b'{"findings": ["%s"]}' % random_hex(4).encode())],
                              artifact_type=EXAMPLE_REPORT, tags=[tag])


def state(seed, repos, digests):
    """``({repo: {tag: digest}}, {name: resolvable by digest})`` read over HTTP."""
    return ({repo: seed.tag_map(repo) for repo in repos},
            {name: seed.manifest_exists(repo, digest) for name, (repo, digest) in digests.items()})


def mutated_digests(registry, mark, digests):
    """The names of ``digests`` (``{name: (repo, digest)}``) that a DELETE or PUT since ``mark`` named."""
    sent = registry.requests_since(mark, ["PUT", "DELETE"])
    return sorted(name for name, (_repo, digest) in digests.items() if any(digest in e.path for e in sent))


def plan_kept(plan):
    """``{(repository, tag or None, digest): reason}`` of the plan's kept entries."""
    return {(e["repository"], e["tag"], e["digest"]): e["reason"] for e in plan["kept"]}


# -- the registry ------------------------------------------------------------------
@pytest.fixture
def estate(seed, prefix):
    """Six repositories, each with the policy of the same name (ages by image creation time; NOW is 2026-11-01).

    ``untag`` (``action: untag``, tags ``pr-*`` older than 30 days):
        U1 pr-1 (Feb) -> pr-1 removed, U1 stays untagged (untag_only); U2 pr-2 main (Feb) -> pr-2 removed, U2 stays
        with main; U3 pr-3 (two days old) -> kept (too_new); UL latest -> kept
    ``drain`` (older than 30 days, ``max_deletions: 2``, ``on_limit: truncate``):
        D1..D4 b1..b4 (Jan..Apr) -> D1 and D2 deleted by the first run, D3 and D4 deferred, deleted by the next one;
        DL latest -> kept
    ``signed`` (older than 30 days, ``delete_orphan_referrers``):
        S1 v1 (Feb) with a cosign .sig and .att -> deleted with both; S2 v2 (Mar) with an SBOM listed by a referrers
        tag schema index -> deleted with the SBOM and the index; S3 latest with a .sig -> kept, and its signature;
        ORPHAN, a .sig whose subject is not in the repository -> deleted
    ``charts`` (``artifact_types: [helm]``, tags ``0.1*``):
        C1 chart 0.1.0 -> deleted; C2 chart 0.2.0 -> kept (not selected); CI image 0.1.5 -> kept (an image)
    ``mixed`` (``artifact_types`` everything but images, tags ``build-*``):
        M1 chart build-1, M2 scan report build-2 -> deleted; M3 image build-3 -> kept
    ``multi`` (``platforms: [linux/arm*]``, older than 30 days):
        P1 amd-old amd64 (Feb) -> kept (not selected); P2 arm-old arm64 (Feb) -> deleted; PI multi-old, an index over
        P3a (amd64) and P3b (arm64) (Feb) -> deleted with both children (an index matches through a child);
        P4 arm-new arm64 (two days old) -> kept; PL latest amd64 -> kept
    """
    names = ("untag", "drain", "signed", "charts", "mixed", "multi")
    repos = {name: f"{prefix}/{name}" for name in names}
    d = {}
    untag, drain, signed, charts, mixed, multi = (repos[name] for name in names)
    d["U1"] = (untag, image(seed, untag, ["pr-1"], OLD % 2))
    d["U2"] = (untag, image(seed, untag, ["pr-2", "main"], OLD % 2))
    d["U3"] = (untag, image(seed, untag, ["pr-3"], RECENT))
    d["UL"] = (untag, image(seed, untag, ["latest"], RECENT))
    for n in (1, 2, 3, 4):
        d[f"D{n}"] = (drain, image(seed, drain, [f"b{n}"], OLD % n))
    d["DL"] = (drain, image(seed, drain, ["latest"], RECENT))

    d["S1"] = (signed, image(seed, signed, ["v1"], OLD % 2))
    d["S1sig"] = (signed, seed.push_cosign(signed, d["S1"][1], "sig"))
    d["S1att"] = (signed, seed.push_cosign(signed, d["S1"][1], "att"))
    d["S2"] = (signed, image(seed, signed, ["v2"], OLD % 3))
    d["S2sbom"] = (signed, seed.push_artifact(signed, [(SPDX_JSON, b'{"spdxVersion": "SPDX-2.3", "name": "v2"}')],
                                              artifact_type=SPDX_JSON, subject=d["S2"][1]))
    d["S2index"] = (signed, seed.push_referrers_index(signed, d["S2"][1], [d["S2sbom"][1]]))
    d["S3"] = (signed, image(seed, signed, ["latest"], RECENT))
    d["S3sig"] = (signed, seed.push_cosign(signed, d["S3"][1], "sig"))
    d["ORPHAN"] = (signed, seed.push_cosign(signed, "sha256:" + random_hex(32), "sig"))  # its image was deleted long ago

    d["C1"] = (charts, chart(seed, charts, "0.1.0"))
    d["C2"] = (charts, chart(seed, charts, "0.2.0"))
    d["CI"] = (charts, image(seed, charts, ["0.1.5"], OLD % 2))
    d["M1"] = (mixed, chart(seed, mixed, "build-1"))
    d["M2"] = (mixed, scan_report(seed, mixed, "build-2"))
    d["M3"] = (mixed, image(seed, mixed, ["build-3"], OLD % 2))

    d["P1"] = (multi, image(seed, multi, ["amd-old"], OLD % 2))
    d["P2"] = (multi, image(seed, multi, ["arm-old"], OLD % 2, arch="arm64"))
    d["P3a"] = (multi, image(seed, multi, [], OLD % 2))
    d["P3b"] = (multi, image(seed, multi, [], OLD % 2, arch="arm64"))
    d["PI"] = (multi, seed.push_index(multi, ["multi-old"], children=[d["P3a"][1], d["P3b"][1]]))
    d["P4"] = (multi, image(seed, multi, ["arm-new"], RECENT, arch="arm64"))
    d["PL"] = (multi, image(seed, multi, ["latest"], RECENT))

    old = {"older_than": "30d", "age_basis": "created"}
    policies = [
        dict(old, name="untag", repositories=[untag], tags={"include": ["pr-*"]}, action="untag"),
        dict(old, name="drain", repositories=[drain], max_deletions=2, on_limit="truncate"),
        dict(old, name="signed", repositories=[signed], delete_orphan_referrers=True),
        {"name": "charts", "repositories": [charts], "artifact_types": ["helm"], "tags": {"include": ["0.1*"]}},
        {"name": "mixed", "repositories": [mixed], "tags": {"include": ["build-*"]},
         "artifact_types": ["index", "helm", "signature", "sbom", "attestation", "other"]},
        dict(old, name="multi", repositories=[multi], platforms=["linux/arm*"]),
    ]
    return {"repos": repos, "d": d, "digest": {name: digest for name, (_repo, digest) in d.items()}, "policies": policies}


# -- the test ---------------------------------------------------------------------------
def test_policies_check_mode_real_run_and_the_next_run(registry, seed, estate, tmp_path):
    # pylint: disable=too-many-locals,too-many-statements
    """Check mode predicts, without one mutating request, exactly what the real run then does to each repository;
    the next run drains the deferred backlog and changes nothing else."""
    repos, d, dig = estate["repos"], estate["d"], estate["digest"]
    repo_list = sorted(repos.values())
    before = state(seed, repo_list, d)
    assert all(before[1].values())
    check_path, report_path, plan_path = tmp_path / "check.json", tmp_path / "report.json", tmp_path / "plan.json"

    # 1. check mode: the plan and its report, nothing sent that changes the registry
    mark = registry.mark()
    rc, out, err, _changed = run_role(role_vars(registry, check_path, repo_list, estate["policies"]), check=True)
    assert rc == 0, out + err
    assert registry.mutations_since(mark) == []
    assert state(seed, repo_list, d) == before
    check = read_report(check_path)
    assert check["check_mode"] is True and check["blocked"] is False

    # 2. the real run
    mark = registry.mark()
    rc, out, err, _changed = run_role(role_vars(registry, report_path, repo_list, estate["policies"], cleanup_plan_path=str(plan_path)))
    assert rc == 0, out + err
    report = read_report(report_path)
    plan = json.loads(plan_path.read_text(encoding="utf-8"))
    kept = plan_kept(plan)
    assert report["blocked"] is False and report["totals"]["errors"] == 0 and report["totals"]["skipped"] == 0
    gone = {"D1", "D2", "S1", "S1sig", "S1att", "S2", "S2sbom", "S2index", "ORPHAN", "C1", "M1", "M2", "P2", "PI", "P3a", "P3b"}
    tags_after, present = state(seed, repo_list, d)
    assert sorted(name for name, there in present.items() if not there) == sorted(gone)
    # nothing but the planned deletions was written to (untag on distribution 2.8 moves the tags to a throwaway manifest)
    assert mutated_digests(registry, mark, {n: d[n] for n in d if n not in gone}) == []
    summaries = report["repositories"]
    assert set(summaries) == set(repo_list)
    for summary in summaries.values():
        assert_adds_up(summary)
        assert summary["errors"] == [] and summary["skipped"] == []

    # action untag: the selected tags are gone, every manifest still resolves by digest
    untag = summaries[repos["untag"]]
    assert tags_after[repos["untag"]] == {"main": dig["U2"], "pr-3": dig["U3"], "latest": dig["UL"]}
    assert all(present[n] for n in ("U1", "U2", "U3", "UL"))
    assert (untag["removed_tags"], untag["removed_from_surviving"], untag["deleted_digests"]) == (["pr-1", "pr-2"], ["pr-1", "pr-2"], [])
    assert untag["tags_untagged_only"] == 1 and untag["untagged_kept_by_reason"] == {"untag_only": 1}
    assert kept[(repos["untag"], None, dig["U1"])] == "untag_only"
    assert kept[(repos["untag"], "pr-3", dig["U3"])] == "too_new"

    # on_limit truncate: the two oldest deletions now, the rest deferred and listed oldest first
    drain = summaries[repos["drain"]]
    assert tags_after[repos["drain"]] == {"b3": dig["D3"], "b4": dig["D4"], "latest": dig["DL"]}
    assert drain["deleted_digests"] == sorted([dig["D1"], dig["D2"]])
    assert (drain["deferred_tags"], drain["deferred_digests"], drain["kept_by_reason"]) == (2, 2, {"deferred": 2, "latest": 1})
    assert [(e["operation"], e["digest"], e["tags"]) for e in drain["deferred"]] == [
        ("delete", dig["D3"], ["b3"]), ("delete", dig["D4"], ["b4"])]
    assert report["totals"]["deferred_digests"] == 2
    assert any(w.startswith("on_limit truncate: 0 tag removal(s) and 2 manifest deletion(s) deferred") for w in plan["warnings"])

    # referrers go with their subject (cosign tags, the referrers tag schema); a kept image keeps its signature
    signed = summaries[repos["signed"]]
    sig3 = referrers_tag(dig["S3"], "sig")
    assert tags_after[repos["signed"]] == {"latest": dig["S3"], sig3: dig["S3sig"]}
    assert all(not present[n] for n in ("S1sig", "S1att", "S2sbom", "S2index"))
    # the SBOM, untagged and listed by the tag schema index, names S2 as its subject: it goes as S2's referrer
    assert signed["deleted_referrers"] == {
        dig["S1sig"]: dig["S1"], dig["S1att"]: dig["S1"], dig["S2index"]: dig["S2"], dig["S2sbom"]: dig["S2"]}
    assert signed["referrers_deleted"] == 4
    assert dig["S2sbom"] in signed["deleted_digests"]
    assert signed["deleted_digest_tags"][dig["S1sig"]] == [referrers_tag(dig["S1"], "sig")]
    assert signed["deleted_digest_tags"][dig["S2index"]] == [referrers_tag(dig["S2"])]
    assert kept[(repos["signed"], sig3, dig["S3sig"])] == "referrer_of_kept"
    # delete_orphan_referrers: the signature of an image that is gone already
    assert dig["ORPHAN"] in signed["deleted_digests"] and dig["ORPHAN"] not in signed["deleted_referrers"]
    assert next(e for e in plan["delete_digests"] if e["digest"] == dig["ORPHAN"])["reason"] == "orphan_referrer"

    # artifact_types: only Helm charts; everything but images
    assert tags_after[repos["charts"]] == {"0.2.0": dig["C2"], "0.1.5": dig["CI"]}
    assert summaries[repos["charts"]]["kept_by_reason"] == {"not_selected": 2}
    assert tags_after[repos["mixed"]] == {"build-3": dig["M3"]}
    assert summaries[repos["mixed"]]["deleted_digests"] == sorted([dig["M1"], dig["M2"]])

    # platforms: the arm64 image and the index with an arm64 child (whole, with both children); amd64 stays
    multi = summaries[repos["multi"]]
    assert tags_after[repos["multi"]] == {"amd-old": dig["P1"], "arm-new": dig["P4"], "latest": dig["PL"]}
    assert multi["deleted_digests"] == sorted(dig[n] for n in ("P2", "PI", "P3a", "P3b"))
    assert kept[(repos["multi"], "amd-old", dig["P1"])] == "not_selected"
    assert kept[(repos["multi"], "arm-new", dig["P4"])] == "too_new"

    # check mode predicted every figure of every repository
    for repo in repo_list:
        for key in PREDICTED:
            assert check["repositories"][repo][key] == summaries[repo][key], (repo, key)

    # 3. the next scheduled run takes the rest of the backlog and touches nothing else
    mark = registry.mark()
    rc, out, err, _changed = run_role(role_vars(registry, report_path, repo_list, estate["policies"]))
    assert rc == 0, out + err
    again = read_report(report_path)
    drained = again["repositories"][repos["drain"]]
    assert drained["deleted_digests"] == sorted([dig["D3"], dig["D4"]])
    assert (drained["deferred_digests"], drained["deferred"], drained["kept_by_reason"]) == (0, [], {"latest": 1})
    final_tags, final_present = state(seed, repo_list, d)
    assert final_tags[repos["drain"]] == {"latest": dig["DL"]}
    assert not final_present["D3"] and not final_present["D4"]
    others = [repo for repo in repo_list if repo != repos["drain"]]
    assert {repo: final_tags[repo] for repo in others} == {repo: tags_after[repo] for repo in others}
    assert {n: there for n, there in final_present.items() if n not in ("D3", "D4")} == {
        n: there for n, there in present.items() if n not in ("D3", "D4")}
    assert mutated_digests(registry, mark, {n: d[n] for n in d if n not in ("D3", "D4")}) == []
    for repo in others:
        assert again["repositories"][repo]["tags_removed"] == 0 and again["repositories"][repo]["digests_deleted"] == 0, repo
