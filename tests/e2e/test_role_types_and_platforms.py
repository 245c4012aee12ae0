"""End to end: ``artifact_types`` and ``platforms`` with the cleanup role on the emulators of Vultr and Naver Cloud.

docs/retention.md ("The features of 0.5.0, provider by provider") says ``artifact_types`` works on ``vultr`` for every
type (Harbor's artifact type and manifest media type) and on ``ncloud`` for an index and a Docker image (the media
type) and cosign tags, and that ``platforms`` works on ``ncloud`` (an image's and an index's platforms). Both sites
have a real registry behind the emulator (tests/support/role_sites.py), read back with ``SeedClient``:

* ``vultr``, policy ``charts`` (``artifact_types: [helm]``, ``older_than: 30d``): the old Helm charts 0.1.0 and 0.2.0
  go; the old image 0.1.5 stays (``not_selected``), and so does the recent chart 0.3.0 (``too_new``);
* ``ncloud``, image ``app``, policy ``arm`` (``platforms: ["linux/arm*"]``, ``older_than: 30d``): the old linux/arm64
  image goes, and the old multi-arch index (amd64 and arm64 children) with it; the old linux/amd64 image stays
  (``not_selected``), the recent linux/arm64 image too (``too_new``). The index's children stay: NCR does not list
  them (they have no tag), so the plan does not claim them and they stay in the registry (docs/retention.md says so);
* ``ncloud``, image ``multi``, policy ``indexes`` (``artifact_types: [index]``, ``older_than: 30d``): the old index goes;
  an old Docker image and an old OCI image stay (``not_selected``), the OCI one with a warning (NCR does not say
  what an OCI manifest holds).

Per provider exactly one check-mode run (no mutating request to the emulator or the registry behind it, the same
figures as the real run) and one real run.
"""

# pylint: disable=redefined-outer-name
import contextlib
import json

from tests.e2e.test_role_providers import PLAYBOOK, PREDICTED, role_vars
from tests.support.ansible_runner import run_playbook
from tests.support.role_sites import ncloud_site, vultr_site
from tests.support.seed import HELM_CHART, HELM_CONFIG, canonical_json, random_hex

OLD = "2026-0%d-01T00:00:00Z"  # OLD % month: months before NOW (2026-11-01)
RECENT = "2026-10-30T00:00:00Z"
CHARTS = [{"name": "charts", "artifact_types": ["helm"], "older_than": "30d", "keep": {"min_age": "1h"}}]
NCR_POLICIES = [
    {"name": "arm", "repositories": ["app"], "platforms": ["linux/arm*"], "older_than": "30d"},
    {"name": "indexes", "repositories": ["multi"], "artifact_types": ["index"], "older_than": "30d"},
]


def run_twice(site, tmp_path, policies):
    """One check-mode run (nothing mutating sent to the emulator or the registry behind it, nothing changed), then one
    real run. Returns ``(check report, report, plan)``."""
    check_path, report_path, plan_path = tmp_path / "check.json", tmp_path / "report.json", tmp_path / "plan.json"
    before = site.state()
    site.emu.log.clear()
    mark = site.backend.mark()
    rc, out, err = run_playbook(PLAYBOOK, extra_vars=role_vars(site, check_path, cleanup_policies=policies), check=True)
    assert rc == 0, out + err
    assert site.sent() == []
    assert site.backend.mutations_since(mark) == []
    assert site.state() == before
    check = json.loads(check_path.read_text(encoding="utf-8"))
    assert check["check_mode"] is True and check["blocked"] is False

    site.emu.log.clear()
    rc, out, err = run_playbook(PLAYBOOK, extra_vars=role_vars(site, report_path, plan_path, cleanup_policies=policies))
    assert rc == 0, out + err
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["blocked"] is False and report["totals"]["errors"] == 0
    return check, report, json.loads(plan_path.read_text(encoding="utf-8"))


def kept_reasons(plan, repository):
    """``{tag: (reason, policy)}`` of the plan's kept tags in ``repository``."""
    return {e["tag"]: (e["reason"], e["policy"]) for e in plan["kept"] if e["repository"] == repository and e["tag"]}


def same_figures(check, report, repository):
    """The check-mode report predicted every figure of the real run's for ``repository``."""
    for key in PREDICTED:
        assert check["repositories"][repository][key] == report["repositories"][repository][key], (repository, key)


def test_vultr_artifact_types_selects_helm_charts(registry, prefix, tmp_path):
    # pylint: disable=too-many-locals
    """Harbor's artifact type tells a Helm chart from an image: ``artifact_types: [helm]`` deletes the old charts only;
    the old image is not selected, the recent chart too new."""
    with contextlib.ExitStack() as stack:
        site, _push = vultr_site(stack, registry, prefix)
        client, repo = site.real

        def push_chart(version, pushed):
            config = canonical_json({"apiVersion": "v2", "name": "app", "version": version})
            digest = client.push_artifact(repo, [(HELM_CHART, f"chart {version} {random_hex()}".encode())],
                                          config_media_type=HELM_CONFIG, config=config, tags=[version])
            site.emu.add_artifact(prefix, "app", digest=digest, push_time=pushed, tags=[{"name": version, "push_time": pushed}])
            site.digests[version] = digest

        push_chart("0.1.0", OLD % 2)
        push_chart("0.2.0", OLD % 3)
        image = client.push_image(repo, tags=["0.1.5"], created=OLD % 3)
        site.emu.add_artifact(prefix, "app", digest=image, push_time=OLD % 3, tags=[{"name": "0.1.5", "push_time": OLD % 3}])
        site.digests["0.1.5"] = image
        push_chart("0.3.0", RECENT)
        dig = site.digests

        check, report, plan = run_twice(site, tmp_path, CHARTS)

        expected = {"0.1.5": "0.1.5", "0.3.0": "0.3.0"}
        assert site.keyed_state() == (expected, expected)
        assert [v for v in ("0.1.0", "0.2.0") if client.manifest_exists(repo, dig[v])] == []
        summary = report["repositories"]["app"]
        assert summary["errors"] == [] and summary["skipped"] == []
        assert summary["deleted_digests"] == sorted(dig[v] for v in ("0.1.0", "0.2.0"))
        assert summary["kept_by_reason"] == {"not_selected": 1, "too_new": 1}, summary["kept_by_reason"]
        assert sorted((e["tags"], e["artifact_type"], e["policy"]) for e in plan["delete_digests"]) == [
            (["0.1.0"], "helm", "charts"), (["0.2.0"], "helm", "charts")]
        assert kept_reasons(plan, "app") == {"0.1.5": ("not_selected", None), "0.3.0": ("too_new", "charts")}
        assert not [w for w in plan["warnings"] if "artifact_types" in w], plan["warnings"]
        same_figures(check, report, "app")


def test_ncloud_platforms_and_index_type(registry, prefix, tmp_path):
    # pylint: disable=too-many-locals
    """NCR's tags tell an image's platform and an index's children's: ``platforms: ["linux/arm*"]`` deletes the old arm64
    image and the old multi-arch index; ``artifact_types: [index]`` deletes an old index and leaves the images."""
    with contextlib.ExitStack() as stack:
        site, _push = ncloud_site(stack, registry, prefix)
        client = site.real[0]
        dig = site.digests

        def push(repo, key, tag, pushed, **options):
            dig[key] = client.push_image(repo, tags=[tag], created=pushed, **options)
            site.emu.set_pushed("acme", repo, tag, pushed)

        def push_index(repo, key, tag, pushed):
            children = [client.push_image(repo, created=pushed, arch=arch) for arch in ("amd64", "arm64")]
            dig[key] = client.push_index(repo, tags=[tag], children=children)
            dig[key + "_amd64"], dig[key + "_arm64"] = children
            site.emu.set_pushed("acme", repo, tag, pushed)

        push("app", "amd_old", "amd-old", OLD % 3, arch="amd64")
        push("app", "arm_old", "arm-old", OLD % 3, arch="arm64")
        push_index("app", "multi_old", "multi-old", OLD % 3)
        push("app", "arm_new", "arm-new", RECENT, arch="arm64")
        push_index("multi", "idx_old", "1.0", OLD % 4)
        push("multi", "oci_old", "oci-1", OLD % 4)
        push("multi", "docker_old", "docker-1", OLD % 4, media="docker")

        check, report, plan = run_twice(site, tmp_path, NCR_POLICIES)

        # platforms: the old arm64 image and the old index (an arm64 child) go; amd-old not selected, arm-new too new
        expected = {"amd-old": "amd_old", "arm-new": "arm_new"}
        assert site.keyed_state() == (expected, expected)
        assert [k for k in ("arm_old", "multi_old") if client.manifest_exists("app", dig[k])] == []
        summary = report["repositories"]["app"]
        assert summary["errors"] == [] and summary["skipped"] == []
        assert summary["deleted_digests"] == sorted(dig[k] for k in ("arm_old", "multi_old"))
        assert summary["kept_by_reason"] == {"not_selected": 1, "too_new": 1}, summary["kept_by_reason"]
        assert kept_reasons(plan, "app") == {"amd-old": ("not_selected", None), "arm-new": ("too_new", "arm")}
        same_figures(check, report, "app")

        # artifact_types [index]: the old index goes; the Docker image is an image (not selected), the OCI image's type
        # is unknown (not selected, with a warning)
        assert client.tag_map("multi") == {"oci-1": dig["oci_old"], "docker-1": dig["docker_old"]}
        multi = report["repositories"]["multi"]
        assert multi["errors"] == [] and multi["skipped"] == []
        assert multi["deleted_digests"] == [dig["idx_old"]]
        assert multi["kept_by_reason"] == {"not_selected": 2}, multi["kept_by_reason"]
        assert [(e["digest"], e["artifact_type"], e["policy"]) for e in plan["delete_digests"] if e["repository"] == "multi"] == [
            (dig["idx_old"], "index", "indexes")]
        assert [w for w in plan["warnings"] if "artifact_types" in w] == [
            "policy \"indexes\" selects by artifact_types, but the snapshot does not say what they are (no media type or "
            "artifact type) for 1 of 3 artifact(s) in multi: they are not selected"], plan["warnings"]
        same_figures(check, report, "multi")

        # On NCR an index's children stay (docs/retention.md, the provider table): NCR lists tags only, so the children
        # are not artifacts of the snapshot; the plan does not claim them and they stay in the registry, untagged.
        planned = {e["digest"]: e["children"] for e in plan["delete_digests"]}
        assert planned[dig["multi_old"]] == [] and planned[dig["idx_old"]] == []
        left = [k for repo, index in (("app", "multi_old"), ("multi", "idx_old")) for k in (index + "_amd64", index + "_arm64")
                if client.manifest_exists(repo, dig[k])]
        assert left == ["multi_old_amd64", "multi_old_arm64", "idx_old_amd64", "idx_old_arm64"]
        children = set(dig[k] for k in ("multi_old_amd64", "multi_old_arm64", "idx_old_amd64", "idx_old_arm64"))
        assert not children & set(report["repositories"]["app"]["deleted_digests"] + multi["deleted_digests"])
