"""End to end: examples/in-use/protect-running-images.yml keeps every image a pod runs, on a real registry.

kubernetes.core and a cluster are not available here: the test runs the recipe's own playbook with its one
kubernetes.core.k8s_info task replaced by a set_fact of a canned k8s_info result (the same register name), so the digest
extraction, the safety check and the policy the recipe builds are exactly the recipe's.
"""

# pylint: disable=redefined-outer-name
import copy
import json

import yaml

from tests.support.ansible_runner import REPO_ROOT, run_playbook
from tests.support.seed import random_hex

RECIPE = REPO_ROOT / "examples" / "in-use" / "protect-running-images.yml"
NOW = "2026-11-01T00:00:00Z"
K8S_INFO = "kubernetes.core.k8s_info"


def image(seed, repo, tags, created):
    return seed.push_image(repo, tags, created=created, layers=[b"base-" + b"x" * 512, b"app-" + random_hex(256).encode()])


def pod(name, namespace, containers=(), init=(), ephemeral=()):
    def statuses(prefix, image_ids):
        return [{"name": "%s%d" % (prefix, n), "image": "x", "imageID": image_id, "ready": True}
                for n, image_id in enumerate(image_ids)]
    status = {"phase": "Running", "containerStatuses": statuses("c", containers)}
    if init:
        status["initContainerStatuses"] = statuses("init", init)
    if ephemeral:
        status["ephemeralContainerStatuses"] = statuses("debug", ephemeral)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": namespace}, "status": status}


def recipe_with(pods, path):
    """The recipe, its k8s_info task replaced by a set_fact of what k8s_info registers for ``pods``."""
    with open(RECIPE, encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    plays = copy.deepcopy(plays)
    tasks = plays[0]["tasks"]
    [index] = [n for n, task in enumerate(tasks) if K8S_INFO in task]
    assert tasks[index][K8S_INFO] == {"kind": "Pod"}  # every namespace
    register = tasks[index]["register"]
    canned = {"changed": False, "failed": False, "api_found": True, "resources": pods}
    tasks[index] = {"name": tasks[index]["name"] + " (canned)", "ansible.builtin.set_fact": {register: canned}}
    assert any("regops.registry.image_digests" in json.dumps(task) for task in tasks)
    path.write_text(yaml.safe_dump(plays, sort_keys=False), encoding="utf-8")
    return path


def run_recipe(registry, playbook, repo, tmp_path, check=False):
    extra = {"cleanup_api_url": registry.url, "cleanup_api_username": registry.username, "cleanup_repositories": [repo],
             "cleanup_now": NOW, "cleanup_report_path": str(tmp_path / "report.json"),
             "cleanup_report_markdown_path": str(tmp_path / "report.md"),
             "in_use_policies": [{"name": "builds", "tags": {"include": ["sha-*", "pr-*"]}, "older_than": "30d",
                                  "keep": {"latest": True}}]}
    return run_playbook(playbook, extra_vars=extra, check=check, env={"REGISTRY_PASSWORD": registry.password})


def test_images_that_pods_run_are_kept(registry, seed, prefix, tmp_path):
    """Digests from every form of imageID (docker-pullable://, repo@, init and ephemeral containers) are kept as in_use;
    an old image no pod runs goes; an image ID (sha256:<config digest>) protects nothing."""
    repo = f"{prefix}/app"
    d = {"I1": image(seed, repo, ["sha-1111111"], "2026-01-01T00:00:00Z"),
         "I2": image(seed, repo, ["sha-2222222"], "2026-01-02T00:00:00Z"),
         "I3": image(seed, repo, ["sha-3333333"], "2026-01-03T00:00:00Z"),
         "I4": image(seed, repo, ["pr-4"], "2026-01-04T00:00:00Z"),
         "I5": image(seed, repo, ["latest"], "2026-10-31T00:00:00Z")}
    _media_type, body = seed.get_manifest(repo, d["I3"])
    i3_config = json.loads(body)["config"]["digest"]
    host = registry.host
    pods = [
        pod("api-1", "shop", containers=[f"docker-pullable://{host}/{repo}@{d['I1']}"], init=[f"{host}/{repo}@{d['I2']}"]),
        pod("api-2", "shop", containers=[f"{host}/{repo}@{d['I1']}", "docker.io/library/nginx@sha256:" + "c" * 64]),
        pod("worker", "jobs", containers=["", i3_config]),  # still pulling; an image ID, not a manifest digest
        pod("debug", "shop", containers=[], ephemeral=[f"{host}/{repo}@{d['I4']}"]),
    ]
    playbook = recipe_with(pods, tmp_path / "recipe.yml")

    rc, out, err = run_recipe(registry, playbook, repo, tmp_path, check=True)
    assert rc == 0, out + err
    assert seed.manifest_exists(repo, d["I3"])
    rc, out, err = run_recipe(registry, playbook, repo, tmp_path)
    assert rc == 0, out + err
    assert seed.tag_map(repo) == {"sha-1111111": d["I1"], "sha-2222222": d["I2"], "pr-4": d["I4"], "latest": d["I5"]}
    assert not seed.manifest_exists(repo, d["I3"])
    summary = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["repositories"][repo]
    assert summary["kept_by_reason"] == {"in_use": 3, "latest": 1}
    assert summary["deleted_digests"] == [d["I3"]]
    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| ↳ kept: `in_use` | 3 |" in markdown and "| Digests deleted | 1 |" in markdown


def test_no_digest_from_the_cluster_stops_before_the_cleanup(registry, seed, prefix, tmp_path):
    """No pod reports a digest (another cluster, no permission): the recipe stops, not one request reaches the registry."""
    repo = f"{prefix}/app"
    image(seed, repo, ["sha-1111111"], "2026-01-01T00:00:00Z")
    playbook = recipe_with([pod("pending", "shop", containers=[""])], tmp_path / "recipe.yml")
    mark = registry.mark()
    rc, out, err = run_recipe(registry, playbook, repo, tmp_path)
    assert rc != 0
    assert "No pod of the cluster reports an image digest (1 pod(s) listed)" in out, out + err
    assert registry.requests_since(mark) == []
    assert not (tmp_path / "report.json").exists()
