"""End to end: referrers and artifact kinds in ``artifact_info`` on distribution 2.8, which has no referrers API.

Signatures, attestations and SBOMs are found there through cosign's tags (``sha256-<hex>.sig``, ``.att``) and the
OCI 1.1 referrers tag schema (an index tagged ``sha256-<hex>`` listing the referrers pushed by digest). The referrers
API is asked once per run (the probe, answered 404) and never again.
"""

# pylint: disable=redefined-outer-name
import pytest

from tests.support.ansible_runner import run_tasks
from tests.support.seed import HELM_CHART, HELM_CONFIG, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, SPDX_JSON, referrers_tag

EXAMPLE_REPORT = "application/vnd.example.scan-report.v1+json"


def referrers_requests(registry, mark):
    return [e for e in registry.requests_since(mark) if "/referrers/" in e.path]


@pytest.fixture
def referred(seed, prefix):
    """An image with a cosign signature and attestation, an SBOM and a scan report under the referrers tag schema, an
    image with nothing, an untagged SBOM of it that no tag reaches, and a Helm chart."""
    repo, charts = prefix + "/app", prefix + "/charts"
    image = seed.push_image(repo, ["v1"], created="2026-01-01T00:00:00Z")
    bare = seed.push_image(repo, ["v2"], created="2026-02-01T00:00:00Z")
    signature = seed.push_cosign(repo, image, "sig")
    attestation = seed.push_cosign(repo, image, "att")
    sbom = seed.push_artifact(repo, [(SPDX_JSON, b'{"spdxVersion": "SPDX-2.3", "name": "app"}')], artifact_type=SPDX_JSON, subject=image)
    report = seed.push_artifact(repo, [("application/json", b'{"findings": []}')], artifact_type=EXAMPLE_REPORT)  # no subject field
    schema_index = seed.push_referrers_index(repo, image, [sbom, report])
    unreachable = seed.push_artifact(repo, [(SPDX_JSON, b'{"spdxVersion": "SPDX-2.3", "name": "v2"}')], artifact_type=SPDX_JSON,
                                     subject=bare)
    chart = seed.push_artifact(charts, [(HELM_CHART, b"chart-bytes")], config_media_type=HELM_CONFIG,
                               config=b'{"name": "app", "version": "0.1.0"}', tags=["0.1.0"])
    return {"repo": repo, "charts": charts, "image": image, "bare": bare, "signature": signature, "attestation": attestation,
            "sbom": sbom, "report": report, "schema_index": schema_index, "unreachable": unreachable, "chart": chart}


def test_referrers_without_the_api(registry, seed, referred):
    r = referred
    assert seed.tags(r["repo"]) == sorted(["v1", "v2", referrers_tag(r["image"], "sig"), referrers_tag(r["image"], "att"),
                                           referrers_tag(r["image"])])
    args = registry.oci_args()
    start = registry.mark()
    results = run_tasks([
        {"regops.registry.artifact_info": dict(args, repository=[r["repo"], r["charts"]])},
        {"regops.registry.artifact_info": dict(args, digest=[f"{r['repo']}@{r['sbom']}", f"{r['repo']}@{r['signature']}"])},
    ])
    assert results.rc == 0, results.output
    assert registry.mutations_since(start) == []
    snapshot, chosen = results

    found = {a["digest"]: a for a in snapshot["artifacts"]}
    assert set(found) == {r[k] for k in ("image", "bare", "signature", "attestation", "sbom", "report", "schema_index", "chart")}
    assert r["unreachable"] not in found  # no tag reaches it, and distribution has no referrers API to ask
    shape = {d: (a["subject"], a["provider_data"]["kind"], a["tags"]) for d, a in found.items()}
    assert shape == {
        r["image"]: (None, "image", ["v1"]),
        r["bare"]: (None, "image", ["v2"]),
        r["signature"]: (r["image"], "signature", [referrers_tag(r["image"], "sig")]),
        r["attestation"]: (r["image"], "attestation", [referrers_tag(r["image"], "att")]),
        r["sbom"]: (r["image"], "sbom", []),  # its own subject field
        r["report"]: (r["image"], "other", []),  # listed under the subject's tag schema index
        r["schema_index"]: (r["image"], "index", [referrers_tag(r["image"])]),
        r["chart"]: (None, "helm", ["0.1.0"]),
    }
    assert {d: a["provider_data"]["artifact_type"] for d, a in found.items()} == {
        r["image"]: OCI_CONFIG, r["bare"]: OCI_CONFIG, r["signature"]: OCI_CONFIG, r["attestation"]: OCI_CONFIG,
        r["sbom"]: SPDX_JSON, r["report"]: EXAMPLE_REPORT, r["schema_index"]: None, r["chart"]: HELM_CONFIG}
    sbom, index, signature = found[r["sbom"]], found[r["schema_index"]], found[r["signature"]]
    assert sbom["media_type"] == OCI_MANIFEST and sbom["size_bytes"] > 0 and sbom["platforms"] == []
    assert index["media_type"] == OCI_INDEX
    assert sorted(c["digest"] for c in index["children"]) == sorted([r["sbom"], r["report"]])
    # cosign's config has no platform and the year 1: not a creation time
    assert signature["created_at"] is None and signature["platforms"] == []
    assert signature["provider_data"]["config_created"] == "0001-01-01T00:00:00Z"

    assert [(a["digest"], a["subject"], a["provider_data"]["kind"]) for a in chosen["artifacts"]] == sorted(
        [(r["sbom"], r["image"], "sbom"), (r["signature"], r["image"], "signature")])

    # bounded: the first run asked the referrers API once (the probe: distribution answers 404) and then never again;
    # the run with chosen digests did not ask at all
    asked = referrers_requests(registry, start)
    assert [(e.method, e.status) for e in asked] == [("GET", 404)], asked
    assert asked[0].path.startswith(f"/v2/{r['repo']}/referrers/sha256:")


def test_a_registry_with_only_untagged_referrers_shows_none(registry, seed, prefix):
    """Referrers pushed by digest with no tag schema index are invisible without the API: the snapshot lists the
    subject alone, and the probe is still the only referrers request."""
    repo = prefix + "/app"
    image = seed.push_image(repo, ["v1"])
    seed.push_artifact(repo, [(SPDX_JSON, b"{}")], artifact_type=SPDX_JSON, subject=image)
    start = registry.mark()
    results = run_tasks([{"regops.registry.artifact_info": dict(registry.oci_args(), repository=[repo])}])
    assert results.rc == 0, results.output
    (snapshot,) = results
    assert [(a["digest"], a["subject"], a["provider_data"]["kind"]) for a in snapshot["artifacts"]] == [(image, None, "image")]
    assert [(e.method, e.path, e.status) for e in referrers_requests(registry, start)] == [("GET", f"/v2/{repo}/referrers/{image}", 404)]
