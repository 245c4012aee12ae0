"""End to end: `make demo` (scripts/demo.py) on a small history.

It prints the plan (one line per tag that goes) and every list whole, its figures add up and match the registry,
a re-run starts where the first run ended, and it leaves nothing in the temporary directory: everything goes under
its work directory (build/demo by default), whose tmp/ is removed at the end.
"""

import json
import os
import re
import subprocess
import sys

from tests.support.ansible_runner import REPO_ROOT

DEMO = REPO_ROOT / "scripts" / "demo.py"


def run_demo(tmp_path, *args):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    # the demo's module processes from the harness's warm interpreter (`make demo` runs them fresh): the same output
    env.setdefault("REGOPS_WARM_PYTHON", "1")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, str(DEMO)] + list(args), cwd=str(REPO_ROOT), env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    return proc, scratch


def test_demo_prints_the_plan_whole_its_figures_add_up_and_it_leaves_nothing_behind(tmp_path):
    workdir = tmp_path / "demo"
    proc, scratch = run_demo(tmp_path, "--scale", "0.1", "--workdir", str(workdir))
    out = proc.stdout
    assert proc.returncode == 0, out[-5000:] + proc.stderr[-5000:]
    # printed for a person: not the test harness's -vvv and --diff
    assert "<localhost> EXEC" not in out and "--- before" not in out

    # nothing in the temporary directory, nothing left in the work directory but the plan and the reports
    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in workdir.iterdir()) == ["plan-check.json", "report-1.json", "report-2.json",
                                                         "report-check.json"]

    # the check run prints the plan: every tag that goes, on its own line, with its repository and digest
    plan = json.loads((workdir / "plan-check.json").read_text(encoding="utf-8"))
    assert '"Plan (check mode: nothing is changed), now 2026-11-01T00:00:00Z: ' in out
    gone = [(e["repository"], e["tag"], e["digest"]) for e in plan["remove_tags"]]
    gone += [(e["repository"], tag, e["digest"]) for e in plan["delete_digests"] for tag in e["tags"]]
    assert len(gone) == plan["totals"]["tags_removed"] > 40
    for repository, tag, digest in gone:
        assert re.search(r'"%s +%s +%s ' % (re.escape(repository), re.escape(tag), digest[:19]), out), (repository, tag)
    # untagging a release candidate keeps the release: the plan says so
    assert re.search(r'"shop/web +rc-1\.1\.0 .* untag .*image stays with v1\.1\.0"', out)

    # check mode says "would", the real run says "removed" and "deleted"
    check_part, real_part = out.split("=== Cleanup role, for real")[0], out.split("=== Cleanup role, for real")[1]
    assert "would be removed" in check_part and "would be deleted" in check_part
    assert "would" not in real_part.split("What is left")[0]
    assert re.search(r'"  tags: +\d+ before - \d+ removed = \d+ after; removed: \d+ with \d+ deleted digest', real_part)

    # every list whole: the module tour's lists end with their closing bracket, no line filter in between
    assert '"promote: [{' in out and "(tags that went with it: ['rc-1.0.0', 'v1.0.0'])" in out

    # the figures add up, match the registry, and the re-run starts where the first run ended
    first = json.loads((workdir / "report-1.json").read_text(encoding="utf-8"))
    second = json.loads((workdir / "report-2.json").read_text(encoding="utf-8"))
    one, two = first["totals"], second["totals"]
    assert one["tags_before"] == one["tags_kept"] + one["tags_removed"]
    assert one["tags_removed"] == one["tags_removed_with_digests"] + one["tags_removed_from_surviving"] > 0
    assert one["tags_removed_from_surviving"] == 3  # rc-1.1.0, rc-1.2.0, rc-2.0.0: their releases stay
    assert two["tags_before"] == one["tags_after"] and two["tags_removed"] == 0 and two["kept_by_reason"] == one["kept_by_reason"]
    assert "The figures add up:" in out
    assert "re-run:     %d tags before (= the first run's %d after) - 0 removed" % (one["tags_after"], one["tags_after"]) in out
    assert "Registry stopped. Demo done." in out


def test_demo_works_under_build_by_default():
    proc = subprocess.run([sys.executable, str(DEMO), "--help"], cwd=str(REPO_ROOT), capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "default: build/demo" in " ".join(proc.stdout.split())


def test_demo_on_vultr_offline(tmp_path):
    """`make demo PROVIDER=vultr`: the role through the Vultr emulator, the real registry behind it, the same figures."""
    workdir = tmp_path / "demo"
    proc, scratch = run_demo(tmp_path, "--provider", "vultr", "--scale", "0.05", "--workdir", str(workdir))
    out = proc.stdout
    assert proc.returncode == 0, out[-5000:] + proc.stderr[-5000:]
    assert list(scratch.iterdir()) == []
    assert "Vultr emulator http://127.0.0.1:" in out and "serves registry 'shop'" in out
    first = json.loads((workdir / "report-1.json").read_text(encoding="utf-8"))
    second = json.loads((workdir / "report-2.json").read_text(encoding="utf-8"))
    check = json.loads((workdir / "report-check.json").read_text(encoding="utf-8"))
    assert sorted(first["repositories"]) == ["api", "base", "web", "worker"]  # Vultr's names, in registry "shop"
    one = first["totals"]
    assert one["tags_removed"] == check["totals"]["tags_removed"] > 20
    assert one["tags_removed_from_surviving"] == 3  # untagged over the OCI path on the registry host: the releases stay
    assert second["totals"]["tags_before"] == one["tags_after"] and second["totals"]["tags_removed"] == 0
    assert "registry:   %d tags in scope before, %d after" % (one["tags_before"], one["tags_after"]) in out


def test_demo_on_gitlab_offline(tmp_path):
    """`make demo PROVIDER=gitlab`: the role through the GitLab emulator (project acme/shop), the real registry behind it."""
    workdir = tmp_path / "demo"
    proc, scratch = run_demo(tmp_path, "--provider", "gitlab", "--scale", "0.05", "--workdir", str(workdir))
    out = proc.stdout
    assert proc.returncode == 0, out[-5000:] + proc.stderr[-5000:]
    assert list(scratch.iterdir()) == []
    assert "GitLab emulator http://127.0.0.1:" in out and "serves project 'acme/shop'" in out
    first = json.loads((workdir / "report-1.json").read_text(encoding="utf-8"))
    second = json.loads((workdir / "report-2.json").read_text(encoding="utf-8"))
    check = json.loads((workdir / "report-check.json").read_text(encoding="utf-8"))
    # GitLab images by their full path: web, api, worker and base of project acme/shop
    assert sorted(first["repositories"]) == ["acme/shop/api", "acme/shop/base", "acme/shop/web", "acme/shop/worker"]
    one = first["totals"]
    assert one["tags_removed"] == check["totals"]["tags_removed"] > 10
    assert one["tags_removed_from_surviving"] == 3  # GitLab deletes a tag, not the image: the releases stay
    assert second["totals"]["tags_before"] == one["tags_after"] and second["totals"]["tags_removed"] == 0
    assert "registry:   %d tags in scope before, %d after" % (one["tags_before"], one["tags_after"]) in out


def test_demo_on_github_offline(tmp_path):
    """`make demo PROVIDER=github`: the role on the organization acme's ghcr.io packages through the GitHub emulator (its
    ghcr.io front on the real registry), then GitHub's clean-up of the linked artifacts of each deleted image."""
    workdir = tmp_path / "demo"
    proc, scratch = run_demo(tmp_path, "--provider", "github", "--scale", "0.05", "--workdir", str(workdir))
    out = proc.stdout
    assert proc.returncode == 0, out[-5000:] + proc.stderr[-5000:]
    assert list(scratch.iterdir()) == []
    assert "GitHub emulator http://127.0.0.1:" in out and "serves organization 'acme'" in out
    first = json.loads((workdir / "report-1.json").read_text(encoding="utf-8"))
    second = json.loads((workdir / "report-2.json").read_text(encoding="utf-8"))
    check = json.loads((workdir / "report-check.json").read_text(encoding="utf-8"))
    # container packages by name, under the owner acme
    assert sorted(first["repositories"]) == ["shop/api", "shop/base", "shop/web", "shop/worker"]
    one = first["totals"]
    assert one["tags_removed"] == check["totals"]["tags_removed"] > 10
    assert one["tags_removed_from_surviving"] == 3  # removed over ghcr.io: the releases stay
    assert second["totals"]["tags_before"] == one["tags_after"] and second["totals"]["tags_removed"] == 0
    # the three deleted builds lose their linked artifacts, the kept release keeps them; check mode said the same
    assert check["after_delete"] == first["after_delete"]
    assert [first["after_delete"][step]["changed"] for step in ("attestations", "deployment_records", "storage_records")] == [3, 3, 3]
    assert "3 deleted image(s): (0, 0, 0)" in out and "1 kept image(s):    (1, 1, 1)" in out
    assert second["after_delete"] == {}
    assert "registry:   %d tags in scope before, %d after" % (one["tags_before"], one["tags_after"]) in out


def test_demo_on_ncloud_offline(tmp_path):
    """`make demo PROVIDER=ncloud`: the role through the Naver Cloud emulator (registry acme, every request signed), the
    real registry behind the registry's /v2/ front."""
    workdir = tmp_path / "demo"
    proc, scratch = run_demo(tmp_path, "--provider", "ncloud", "--scale", "0.05", "--workdir", str(workdir))
    out = proc.stdout
    assert proc.returncode == 0, out[-5000:] + proc.stderr[-5000:]
    assert list(scratch.iterdir()) == []
    assert "Naver Cloud emulator http://127.0.0.1:" in out and "serves registry 'acme'" in out
    first = json.loads((workdir / "report-1.json").read_text(encoding="utf-8"))
    second = json.loads((workdir / "report-2.json").read_text(encoding="utf-8"))
    check = json.loads((workdir / "report-check.json").read_text(encoding="utf-8"))
    # NCR images by name (with a slash, sent as %2F), in registry acme
    assert sorted(first["repositories"]) == ["shop/api", "shop/base", "shop/web", "shop/worker"]
    one = first["totals"]
    assert one["tags_removed"] == check["totals"]["tags_removed"] > 10
    assert one["tags_removed_from_surviving"] == 3  # tags that share a digest go over the registry host: the releases stay
    assert second["totals"]["tags_before"] == one["tags_after"] and second["totals"]["tags_removed"] == 0
    assert "registry:   %d tags in scope before, %d after" % (one["tags_before"], one["tags_after"]) in out
