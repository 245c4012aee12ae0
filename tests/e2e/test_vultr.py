"""End to end: every module with ``provider: vultr`` against the Vultr emulator.

Each ``run_tasks`` call is one ansible-playbook run; tasks are batched so the file stays fast. Runs whose subject is the
module, not ansible-core (check-mode and re-run phases, bad input and refusals, step matrices, clean runs beside faulted
ones), go through ``run_tasks_in_process``; applies at ``-vvv``, faulted runs and credentials from the environment as AWX
injects them stay ansible-playbook runs. Where tags are
removed the emulator is backed by a real registry (``LocalRegistry``; the emulator's ``registry_host`` and
``docker_credentials``), so the OCI path runs for real and the real registry is checked with ``SeedClient``.

"Mutating" below includes ``OPTIONS``: the docker-credentials endpoints mint credentials.
"""

# pylint: disable=redefined-outer-name,too-many-locals,too-many-statements
import base64
import json
from pathlib import Path

import jinja2
import pytest
import yaml

from tests.emulators.vultr import DEFAULT_API_KEY, VultrEmulator
from tests.support.ansible_runner import run_tasks
from tests.support.module_runner import run_tasks_in_process
from tests.support.tasks import checked, ok, task
from tests.support.seed import OCI_MANIFEST, SeedClient, canonical_json

REPO_ROOT = Path(__file__).resolve().parents[2]
MASK = "********"
MUTATING = ("POST", "PUT", "PATCH", "DELETE", "OPTIONS")
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64
VERBOSE = {"ANSIBLE_VERBOSITY": "3"}


@pytest.fixture(scope="module")
def emulator():
    """One Vultr emulator for the whole file."""
    with VultrEmulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    """The emulator, empty, with its default settings (not backed)."""
    defaults = {"registry_host": None, "docker_credentials": None, "robot_update_shape": "access", "robot_permissions_shape": "array",
                "retention_scope_key": "scope_selectors", "default_per_page": 100, "max_per_page": 500, "registry_extras": True}
    emulator.configure(**defaults)
    emulator.reset()
    yield emulator
    emulator.reset()
    emulator.configure(**defaults)


@pytest.fixture
def backed(emu, registry):
    """The emulator backed by the session's real registry (htpasswd): the docker credentials it mints log in there."""
    emu.configure(registry_host=registry.host, docker_credentials={"username": registry.username, "password": registry.password})
    return registry


def connection(emu, **extra):
    """The connection options of a task."""
    options = {"provider": "vultr", "api_url": emu.url, "api_token": DEFAULT_API_KEY}
    options.update(extra)
    return options


def defaults(emu, **extra):
    """``module_defaults`` for the collection's action group."""
    return {"group/regops.registry.all": connection(emu, **extra)}


def mutations(emu):
    """``(method, path?query, body)`` of every mutating request (OPTIONS included)."""
    return [(r.method, r.target, r.body) for r in emu.log.records if r.method in MUTATING]


def registry_state(emu, name):
    """The dumped registry called ``name`` or None."""
    return next((r for r in emu.dump_state()["registries"] if r["name"] == name), None)


def snapshot(emu):
    """The emulator's state without ids and clock times: what a run changes."""
    out = {}
    for reg in emu.dump_state()["registries"]:
        out[reg["name"]] = {
            "plan": reg["metadata"]["subscription"]["plan"], "public": reg["public"], "region": reg["region"],
            "replications": sorted(r["region"] for r in reg["replications"]),
            "repositories": {r["image"]: {"description": r["description"],
                                          "artifacts": {a["digest"]: sorted(t["name"] for t in a["tags"]) for a in r["artifacts"]}}
                             for r in reg["repositories"]},
            "robots": {r["name"]: {k: r[k] for k in ("description", "disable", "duration", "permissions")} for r in reg["robots"]},
            "retention": {"schedule": reg["retention"]["schedule"],
                          "rules": [{k: v for k, v in rule.items() if k != "id"} for rule in reg["retention"]["rules"]]},
        }
    return out


def secrets_in(text, secrets):
    """The secrets that appear in ``text``."""
    return [s for s in secrets if s and s in text]


def pick(resource, keys):
    """Some keys of a normalized resource (``provider_data.x`` reaches into provider_data)."""
    out = {}
    for key in keys:
        if key.startswith("provider_data."):
            out[key] = resource["provider_data"].get(key.split(".", 1)[1])
        else:
            out[key] = resource.get(key)
    return out


REGISTRY_KEYS = ("name", "region", "plan", "public", "url", "storage_limit_bytes", "provider_data.replications",
                 "provider_data.docker_host", "provider_data.monthly_price")


# ---------------------------------------------------------------------------------------------
# Every module and state: check mode, apply, idempotent re-run, diff with secrets masked

def seed_lifecycle(emu, real, name):
    """Registry ``name`` (sjc, business, replicated to blr, robots ci and old) with images on the real registry, and
    registry ``<name>old`` to delete. Returns the digests."""
    emu.add_registry(name, region="sjc", plan="business")
    emu.add_replication(name, "blr")
    emu.add_registry(name + "old", region="ewr", plan="start_up")
    emu.add_robot(name, "ci", description="", duration=-1)
    emu.add_robot(name, "old", description="leaving")
    seed = SeedClient.for_registry(real)
    app = name + "/team/app"
    digests = {"A": seed.push_image(app, tags=["v1", "latest"]), "B": seed.push_image(app, tags=["v2"]),
               "C": seed.push_image(app, tags=["c1"]), "D": seed.push_image(app, tags=["d1", "d2"]),
               "W": seed.push_image(name + "/team/web", tags=["w"]), "O": seed.push_image(name + "/team/old", tags=["x"])}
    emu.add_repository(name, "team/web", description="to be cleared")
    # Vultr (Harbor) records push and pull times; a digest never pulled answers 0001-01-01
    emu.add_artifact(name, "team/app", digest=digests["A"], push_time="2026-01-03T00:00:00Z", pull_time="2026-01-04 10:00:00",
                     tags=[{"name": "v1", "push_time": "2026-01-03T01:00:00Z"}])
    emu.add_artifact(name, "team/app", digest=digests["B"], push_time="2026-02-01 00:00:00")
    return seed, digests


def lifecycle_tasks(name, digests):
    """One task per module and state, in diff mode."""
    new, old = name + "new", name + "old"
    rules = [{"rule_type": "latestPushedK", "count": 5}, {"rule_type": "always", "tag_match": "v*"}]
    return [
        task("registry", name=new, region="ewr", plan="start_up", public=True, replications=[{"region": "sjc"}], diff=True),  # 0
        task("registry", name=name, plan="premium", public=True,
             replications=[{"region": "ewr"}, {"region": "blr", "state": "absent"}], diff=True),                   # 1
        task("registry", name=old, state="absent", diff=True),                                                   # 2
        task("repository", registry=name, name="team/app", description="The app", diff=True),                     # 3
        task("repository", registry=name, name="team/web", description="", diff=True),                             # 4
        task("repository", registry=name, name="team/old", state="absent", diff=True),                             # 5
        task("artifact", registry=name, repository="team/app", digest=[digests["B"]], state="absent", diff=True),   # 6
        task("artifact", registry=name, repository="team/app", digest=[digests["C"], digests["D"]], state="absent",
             expected_tags={digests["C"]: ["c1"], digests["D"]: ["d1", "d2"]}, diff=True),                         # 7
        task("tag", registry=name, repository="team/app", name=["v1"], state="absent", diff=True),                 # 8
        task("registry_user", registry=name, name=["robot$%s+ci" % name], description="CI pushes", disabled=True, duration=86400,
             permissions=[{"action": "push", "resource": "repository"}, {"action": "pull", "resource": "repository"}],
             diff=True),                                                                                         # 9
        task("registry_user", registry=name, name=["robot$%s+old" % name], state="absent", diff=True),             # 10
        task("retention_policy", registry=name, rules=rules, schedule="0 3 * * 0", diff=True),                    # 11
    ]


def info_tasks(name):
    """Every info module."""
    return [
        task("registry_info"),
        task("repository_info", registry=name),
        task("artifact_info", registry=name, repository=["team/app"]),
        task("tag_info", registry=name, repository=["team/app"]),
        task("registry_user_info", registry=name),
        task("retention_policy_info", registry=name),
    ]


@pytest.mark.compat
def test_every_module_check_apply_again_diff(emu, backed, prefix):
    name, new, old = prefix, prefix + "new", prefix + "old"
    seed, digests = seed_lifecycle(emu, backed, name)
    reg_id, old_id = emu.registry_id(name), emu.registry_id(old)
    secrets = [emu.root_password(name), emu.root_password(old), emu.robot_secret(name, "ci"), emu.robot_secret(name, "old"),
               backed.password]
    real_before = {repo: seed.tag_map(name + "/" + repo) for repo in ("team/app", "team/web", "team/old")}
    before = snapshot(emu)
    tasks = lifecycle_tasks(name, digests)

    # -- check mode: every change predicted, nothing mutating sent (no docker credentials minted either)
    emu.log.clear()
    check_run = ok(run_tasks_in_process(info_tasks(name) + [checked(t) for t in tasks], module_defaults=defaults(emu)))
    info, check = check_run[:6], check_run[6:]
    assert mutations(emu) == []
    assert snapshot(emu) == before
    assert {repo: seed.tag_map(name + "/" + repo) for repo in real_before} == real_before
    assert [r["changed"] for r in check] == [True] * 12
    registries = {r["name"]: r for r in info[0]["registries"]}
    assert sorted(registries) == [name, old]
    assert pick(registries[name], REGISTRY_KEYS + ("storage_used_bytes",)) == {
        "name": name, "region": "sjc", "plan": "business", "public": False, "url": "%s/%s" % (backed.host, name),
        "storage_limit_bytes": 20480 * 1024 * 1024, "provider_data.replications": ["blr"], "provider_data.docker_host": backed.host,
        "provider_data.monthly_price": 5, "storage_used_bytes": registry_state(emu, name)["storage"]["used"]["bytes"]}
    assert registries[name]["provider_data"]["root_user"]["password"] == MASK
    assert registries[name]["created_at"].endswith("Z") and "T" in registries[name]["created_at"]
    repositories = {r["name"]: r for r in info[1]["repositories"]}
    assert sorted(repositories) == ["team/app", "team/old", "team/web"]
    assert repositories["team/web"]["description"] == "to be cleared"
    assert repositories["team/app"]["artifact_count"] == 4
    artifacts = {a["digest"]: a for a in info[2]["artifacts"]}
    sizes = {a["digest"]: a["size"] for r in registry_state(emu, name)["repositories"] for a in r["artifacts"]}
    assert {d: a["tags"] for d, a in artifacts.items()} == {
        digests["A"]: ["latest", "v1"], digests["B"]: ["v2"], digests["C"]: ["c1"], digests["D"]: ["d1", "d2"]}
    assert all(a["size_bytes"] == sizes[d] and a["size_bytes"] > 0 for d, a in artifacts.items())
    assert (artifacts[digests["A"]]["pushed_at"], artifacts[digests["A"]]["pulled_at"]) == ("2026-01-03T00:00:00Z", "2026-01-04T10:00:00Z")
    assert (artifacts[digests["B"]]["pushed_at"], artifacts[digests["B"]]["pulled_at"]) == ("2026-02-01T00:00:00Z", None)
    assert artifacts[digests["A"]]["media_type"] == OCI_MANIFEST
    tags = {t["name"]: t for t in info[3]["tags"]}
    assert sorted(tags) == ["c1", "d1", "d2", "latest", "v1", "v2"]
    assert (tags["v1"]["digest"], tags["v1"]["pushed_at"], tags["v1"]["pulled_at"]) == (digests["A"], "2026-01-03T01:00:00Z", None)
    users = {u["name"]: u for u in info[4]["users"]}
    assert sorted(users) == sorted([reg_id, "robot$%s+ci" % name, "robot$%s+old" % name])
    assert users[reg_id]["provider_data"] == {"root": True, "password": MASK, "updated_at": users[reg_id]["created_at"]}
    assert users["robot$%s+ci" % name]["read_only"] is True
    assert info[5]["retention_policies"] == [{"registry": name, "rules": [], "schedule": None,
                                              "provider_data": {"schedule_readable": False}}]

    # -- apply, ansible-playbook in diff mode with -vvv: the API key, the root passwords, the robot secrets and the minted
    # docker credentials (the backing registry's password) never appear, not even in the results
    emu.log.clear()
    apply = ok(run_tasks(tasks, module_defaults=defaults(emu), env=VERBOSE, diff=True))
    assert DEFAULT_API_KEY not in apply.stdout + apply.stderr
    assert [r["changed"] for r in apply] == [r["changed"] for r in check]
    for predicted, done in zip(check, apply):
        assert predicted["actions"] == done["actions"]
    for index in (0, 1):
        assert pick(check[index]["registry"], REGISTRY_KEYS) == pick(apply[index]["registry"], REGISTRY_KEYS)
    for index, key in ((2, "registry"), (5, "repository"), (6, "artifacts"), (7, "artifacts"), (8, "tags"), (9, "users"), (10, "users")):
        assert check[index][key] == apply[index][key], index
    for index in (3, 4):
        assert check[index]["repository"]["description"] == apply[index]["repository"]["description"]
    assert [dict(r, id=None) for r in apply[11]["retention_policy"]["rules"]] == check[11]["retention_policy"]["rules"]
    assert check[11]["retention_policy"]["schedule"] == apply[11]["retention_policy"]["schedule"] == "0 3 * * 0"

    new_id = emu.registry_id(new)
    secrets.append(emu.root_password(new))
    base = "/v2/registry/%s" % reg_id
    app = base + "/repository/team%2Fapp"
    rule_body = {"repository_action": "matches", "repository_match": "**", "tag_action": "matches", "untagged": False}
    assert sorted(mutations(emu), key=str) == sorted([
        ("POST", "/v2/registry", {"name": new, "public": True, "region": "ewr", "plan": "start_up"}),
        ("POST", "/v2/registry/%s/replication" % new_id, {"region": "sjc"}),
        ("PUT", base, {"public": True, "plan": "premium"}),
        ("POST", base + "/replication", {"region": "ewr"}),
        ("DELETE", base + "/replication/blr", None),
        ("DELETE", "/v2/registry/%s" % old_id, None),
        ("PUT", app, {"description": "The app"}),
        ("PUT", base + "/repository/team%2Fweb", {"description": ""}),
        ("DELETE", base + "/repository/team%2Fold", None),
        ("DELETE", app + "/artifact/" + digests["B"], None),
        ("DELETE", app + "/artifact/" + digests["C"], None),
        ("DELETE", app + "/artifact/" + digests["D"], None),
        ("OPTIONS", base + "/docker-credentials?expiry_seconds=3600&read_write=true", None),
        ("PUT", base + "/robot/robot%%24%s%%2Bci" % name, {
            "description": "CI pushes", "disable": True, "duration": 86400,
            "access": [{"action": "pull", "resource": "repository", "effect": "allow"},
                       {"action": "push", "resource": "repository", "effect": "allow"}]}),
        ("DELETE", base + "/robot/robot%%24%s%%2Bold" % name, None),
        ("POST", base + "/retention/rules", dict(rule_body, rule_type="latestPushedK", count=5, tag_match="**")),
        ("POST", base + "/retention/rules", dict(rule_body, rule_type="always", tag_match="v*")),
        ("PUT", base + "/retention/schedule", {"cron": "0 3 * * 0"}),
    ], key=str)

    # the emulator's state and the real registry
    after = snapshot(emu)
    assert sorted(after) == sorted([name, new])
    assert {k: after[new][k] for k in ("plan", "public", "region", "replications")} == {
        "plan": "start_up", "public": True, "region": "ewr", "replications": ["sjc"]}
    assert {k: after[name][k] for k in ("plan", "public", "region", "replications")} == {
        "plan": "premium", "public": True, "region": "sjc", "replications": ["ewr"]}
    assert after[name]["repositories"] == {
        "team/app": {"description": "The app", "artifacts": {digests["A"]: ["latest"]}},
        "team/web": {"description": "", "artifacts": {digests["W"]: ["w"]}}}
    assert after[name]["robots"] == {"robot$%s+ci" % name: {
        "description": "CI pushes", "disable": True, "duration": 86400,
        "permissions": [{"kind": "project", "namespace": name, "access": [
            {"action": "pull", "resource": "repository", "effect": "allow"}, {"action": "push", "resource": "repository", "effect": "allow"}]}]}}
    assert after[name]["retention"]["schedule"] == "0 3 * * 0"
    assert [(r["template"], r["params"], r["tag_selectors"][0]["pattern"]) for r in after[name]["retention"]["rules"]] == [
        ("latestPushedK", {"latestPushedK": 5}, "**"), ("always", {}, "v*")]
    assert seed.tag_map(name + "/team/app") == {"latest": digests["A"]}  # the sibling of v1 is kept
    assert seed.tag_map(name + "/team/web") == {"w": digests["W"]}
    assert seed.tags(name + "/team/old") == [] and not seed.manifest_exists(name + "/team/old", digests["O"])
    assert seed.manifest_exists(name + "/team/app", digests["A"])
    assert not [d for d in ("B", "C", "D") if seed.manifest_exists(name + "/team/app", digests[d])]

    # results and diffs: what went, masked
    assert apply[0]["registry"]["id"] == new_id and apply[0]["registry"]["provider_data"]["root_user"]["password"] == MASK
    assert apply[1]["diff"]["before"]["plan"] == "business" and apply[1]["diff"]["after"]["plan"] == "premium"
    assert apply[1]["diff"]["after"]["storage_limit_bytes"] == 51200 * 1024 * 1024
    assert apply[1]["diff"]["before"]["provider_data"]["root_user"]["password"] == MASK
    assert apply[2]["diff"]["after"] == {} and apply[2]["registry"]["name"] == old
    assert (apply[3]["diff"]["before"]["description"], apply[3]["diff"]["after"]["description"]) == ("", "The app")
    assert (apply[4]["diff"]["before"]["description"], apply[4]["diff"]["after"]["description"]) == ("to be cleared", "")
    assert [a["tags"] for a in apply[7]["artifacts"]] == [["c1"], ["d1", "d2"]]
    assert apply[8]["diff"] == {"before": {"team/app:v1": apply[8]["tags"][0]}, "after": {}}
    assert apply[9]["users"][0]["provider_data"]["description"] == "CI pushes" and apply[9]["users"][0]["read_only"] is False
    assert apply[10]["diff"]["after"] == {}
    for result in apply:
        assert not secrets_in(json.dumps(result), secrets), result
    for run in (check_run, apply):
        assert not secrets_in(run.stdout + run.stderr, secrets)
    assert "robot$%s+ci" % name in apply.stdout and "EXEC" in apply.stdout  # -vvv, and the output is there

    # -- again: nothing changes, nothing mutating is sent
    emu.log.clear()
    again_run = ok(run_tasks_in_process(tasks + info_tasks(name), module_defaults=defaults(emu), diff=True))
    again, info = again_run[:12], again_run[12:]
    assert [r["changed"] for r in again] == [False] * 12
    assert mutations(emu) == []
    assert not secrets_in(again_run.stdout + again_run.stderr, secrets)
    assert [a["action"] for a in again[7]["actions"]] == ["absent", "absent"]
    assert [a["action"] for a in again[8]["actions"]] == ["absent"]
    registries = {r["name"]: r for r in info[0]["registries"]}
    assert pick(registries[new], ("region", "plan", "public", "provider_data.replications")) == {
        "region": "ewr", "plan": "start_up", "public": True, "provider_data.replications": ["sjc"]}
    assert [(r["name"], r["description"]) for r in info[1]["repositories"]] == [("team/app", "The app"), ("team/web", "")]
    assert [(a["digest"], a["tags"]) for a in info[2]["artifacts"]] == [(digests["A"], ["latest"])]
    assert [(t["name"], t["digest"]) for t in info[3]["tags"]] == [("latest", digests["A"])]
    assert sorted(u["name"] for u in info[4]["users"]) == sorted([reg_id, "robot$%s+ci" % name])
    assert [(r["rule_type"], r["count"], r["tag_match"]) for r in info[5]["retention_policies"][0]["rules"]] == [
        ("latestPushedK", 5, "**"), ("always", None, "v*")]


# ---------------------------------------------------------------------------------------------
# Refusals: clear errors, the same in check mode, no mutating request

def test_registry_and_user_refusals(emu):
    emu.add_registry("main", region="sjc", plan="business")
    emu.add_robot("main", "ci")
    emu.add_artifact("main", "app", digest=DIGEST_A, tags=["v1"])
    root = emu.registry_id("main")
    cases = [
        (task("registry", name="fresh", region="mars", plan="business"), "region 'mars' is not one of Vultr's registry regions: blr, ewr, sjc, sjp"),
        (task("registry", name="fresh", region="ewr", plan="gold"),
         "plan 'gold' is not one of Vultr's registry plans: business, enterprise, premium, start_up"),
        (task("registry", name="fresh", region="ewr"), "region and plan are required to create a registry (missing: plan)"),
        (task("registry", name="main", region="ewr"), "registry main is in region sjc; Vultr cannot move a registry to another region (ewr)"),
        (task("registry", name="main", replications=[{"region": "sjc"}]), "registry main is in region sjc: a replication goes to another region"),
        (task("registry", name="main", replications=[{"region": "mars"}]), "region 'mars' is not one of Vultr's registry regions"),
        (task("registry_user", registry="main", name=[root], state="absent"), "the root user of registry main cannot be deleted"),
        (task("registry_user", registry="main", name=[root], description="x"), "the root user of registry main cannot be changed"),
        (task("registry_user", registry="main", name=["ci"], description="x"),
         "no robot ci in registry main (robots are named in full, for example robot$main+ci): Vultr generates robot accounts"),
        (task("repository", registry="main", name="team/nothing", description="x"),
         "Vultr creates a repository when the first image is pushed to it"),
        (task("repository", registry="other", name="app", description="x"), "registry 'other' does not exist"),
        (task("artifact", registry="main", repository="app", digest=[DIGEST_B]), "does not exist"),
        (task("registry_credentials", registry="other"), "registry 'other' not found"),
    ]
    # in check mode too where the refusal comes from another step of the engine than the real run's (the checks of
    # region and plan are the same code in both modes)
    in_check_mode = (0, 3, 6, 8, 9)
    tasks = [dict(checked(cases[i][0]), ignore_errors=True) for i in in_check_mode] + [dict(t, ignore_errors=True) for t, _m in cases]
    emu.log.clear()
    results = run_tasks_in_process(tasks, module_defaults=defaults(emu))
    for result, (_item, message) in zip(results, [cases[i] for i in in_check_mode] + cases):
        assert result.get("failed") is True, (message, result)
        assert message in result["msg"], (message, result["msg"])
        assert result.get("changed") is not True, result
    assert mutations(emu) == []
    assert {r.method for r in emu.log.records} == {"GET"}


# ---------------------------------------------------------------------------------------------
# Bad input fails before any request (shared validators and the provider's own rules)

def test_validation_before_any_request(emu):
    emu.add_registry("main")
    cases = [
        (task("artifact", registry="main", repository="app", digest=["sha256:abc"], state="absent"), "digest 'sha256:abc' is not valid"),
        (task("artifact_info", registry="main", digest=["app@sha256:1234"]), "digest 'sha256:1234' is not valid"),
        (task("repository", registry="main", name="Team/App", state="absent"), "repository name 'Team/App' is not valid"),
        (task("tag", registry="main", repository="app", name=["-bad"], state="absent"), "tag '-bad' is not valid"),
        (task("registry", name="my-reg", region="ewr", plan="business"), "registry name 'my-reg' is not valid on Vultr"),
        (task("registry", name="MyReg", region="ewr", plan="business"), "registry name 'MyReg' is not valid on Vultr"),
        (task("registry", name="myreg\n", state="absent"), r"registry name 'myreg\n' is not valid on Vultr"),
        (task("repository", registry="Main", name="app", state="absent"), "registry name 'Main' is not valid on Vultr"),
        (task("tag_info", registry="main-1", repository=["app"]), "registry name 'main-1' is not valid on Vultr"),
        (task("artifact", repository="app", digest=[DIGEST_A], state="absent"), "provider vultr needs registry"),
        (task("registry_credentials", registry="main", expiry_seconds=-1), "expiry_seconds must be 0 (never expires) or more"),
        (task("retention_policy", registry="main", rules=[{"rule_type": "latestPushedK", "count": -1}]), "count must be a whole number"),
        (task("registry_user", registry="main", name=["robot$main+ci"], read_only=True), "does not support the option(s) read_only"),
        (task("registry_user", registry="main", name=["robot$main+ci"], duration=-5), "duration must be -1 (never expires) or more"),
        (task("tag", registry="main", repository="app", name=["v1"], digest=DIGEST_A), "does not support tag state=present"),
    ]
    tasks = []
    for item, _message in cases:
        module = next(iter(item))
        tasks.append({module: dict(item[module], **connection(emu)), "ignore_errors": True})
    # no api_token: another provider's variable is never read, and an empty VULTR_API_KEY is no key
    cases.append((None, "provider vultr needs api_token (or the environment variable VULTR_API_KEY)"))
    tasks.append(task("registry_info", provider="vultr", api_url=emu.url, ignore=True))
    emu.log.clear()
    results = run_tasks_in_process(tasks, env={"VULTR_API_KEY": "", "GCORE_API_KEY": DEFAULT_API_KEY})
    for (_unused, expected), result in zip(cases, results):
        assert result.get("failed") is True, (expected, result)
        assert expected in result["msg"], (expected, result["msg"])
    assert "tag (state=absent, tag_info)" in results[14]["msg"]
    assert len(emu.log) == 0, [(r.method, r.target) for r in emu.log.records]


def awx_credential_env(inputs):
    """The environment AWX gives a job from ``meta/awx/credential_type_vultr.yml`` and credential ``inputs``."""
    credential_type = yaml.safe_load((REPO_ROOT / "meta" / "awx" / "credential_type_vultr.yml").read_text(encoding="utf-8"))
    fields = {f["id"]: f for f in credential_type["inputs"]["fields"]}
    assert sorted(credential_type["inputs"]["required"]) == sorted(inputs) == sorted(fields)
    assert fields["api_key"].get("secret") is True and credential_type["kind"] == "cloud"
    return {name: jinja2.Template(value).render(**inputs) for name, value in credential_type["injectors"]["env"].items()}


def test_bearer_auth_from_options_and_env(emu):
    emu.add_registry("main")
    # the option wins over the environment
    ok(run_tasks_in_process([task("registry_info", **connection(emu))], env={"VULTR_API_KEY": "not-the-key"}))
    assert emu.log.records and all(r.headers.get("Authorization") == "Bearer ***" for r in emu.log.records)
    assert [(r.method, r.path, r.query) for r in emu.log.records[:1]] == [("GET", "/v2/registries", {"per_page": "500"})]

    # the environment, as AWX injects it from the custom credential type of meta/awx, through ansible-playbook; api_url with
    # or without /v2
    emu.log.clear()
    env = awx_credential_env({"api_key": DEFAULT_API_KEY})
    assert env == {"VULTR_API_KEY": DEFAULT_API_KEY}
    results = ok(run_tasks([task("registry_info", provider="vultr", api_url=emu.url),
                            task("registry_info", provider="vultr", api_url=emu.url + "/v2/")], env=env))
    assert [[r["name"] for r in result["registries"]] for result in results] == [["main"], ["main"]]
    assert {r.path for r in emu.log.records} == {"/v2/registries", "/v2/registry/%s/replications" % emu.registry_id("main")}
    assert DEFAULT_API_KEY not in results.stdout


# ---------------------------------------------------------------------------------------------
# The other documented shapes: robot updates in the docs' shape, robots answered as one object, and retention
# rules with govultr's scope_selector; names with $ and + percent-encoded

def test_the_other_documented_shapes(emu):
    emu.configure(robot_update_shape="permissions", robot_permissions_shape="object", retention_scope_key="scope_selector")
    emu.add_registry("main")
    emu.add_robot("main", "ci", description="old", duration=-1)
    emu.add_robot("main", "keep.me")
    emu.add_retention_rule("main", rule_type="nDaysSinceLastPush", count=30, repository_action="excludes", repository_match="tmp/**",
                           tag_action="excludes", tag_match="dev-*", untagged=True)
    robot = "robot$main+ci"
    update = task("registry_user", registry="main", name=[robot], description="CI", disabled=True, duration=3600,
                  permissions=[{"action": "push", "resource": "repository"}], diff=True)
    existing = {"rule_type": "nDaysSinceLastPush", "count": 30, "repository_action": "excludes", "repository_match": "tmp/**",
                "tag_action": "excludes", "tag_match": "dev-*", "untagged": True}
    first = task("retention_policy", registry="main", rules=[existing, {"rule_type": "latestPulledN", "count": 3}])
    second = task("retention_policy", registry="main", rules=[dict(existing, disabled=True)])
    emu.log.clear()
    check_run = ok(run_tasks_in_process([checked(update)], module_defaults=defaults(emu)))
    apply_run = ok(run_tasks([update], module_defaults=defaults(emu), env=VERBOSE, diff=True))  # ansible-playbook, -vvv
    rest_run = ok(run_tasks_in_process([update, task("registry_user_info", registry="main", name=[robot]),
                                        first, first, second, second, task("retention_policy_info", registry="main")],
                                       module_defaults=defaults(emu)))
    runs = (check_run, apply_run, rest_run)
    results = [result for run in runs for result in run]
    check, apply, again, info = results[:4]
    assert [r["changed"] for r in (check, apply, again)] == [True, True, False]
    assert check["users"] == apply["users"] and check["diff"] == apply["diff"]
    reg_id = emu.registry_id("main")
    path = "/v2/registry/%s/robot/robot%%24main%%2Bci" % reg_id
    body = {"description": "CI", "disable": True, "duration": 3600}
    access = [{"action": "push", "resource": "repository", "effect": "allow"}]
    rules = "/v2/registry/%s/retention/rules" % reg_id
    # the spec's shape first, refused (422); the docs' shape then; the rules: one created, one replaced, one disabled
    assert [(r.method, r.target, r.body, r.status) for r in emu.log.records if r.method in MUTATING] == [
        ("PUT", path, dict(body, access=access), 422),
        ("PUT", path, dict(body, permissions=[{"kind": "project", "namespace": "main", "access": access}]), 200),
        ("POST", rules, {"rule_type": "latestPulledN", "count": 3, "repository_action": "matches", "repository_match": "**",
                         "tag_action": "matches", "tag_match": "**", "untagged": False}, 201),
        ("DELETE", rules + "/2", None, 204),
        ("PUT", rules + "/1", {"disabled": True}, 200)]
    assert all("$" not in r.path and "+" not in r.path for r in emu.log.records)
    state = registry_state(emu, "main")
    robots = {r["name"]: r for r in state["robots"]}
    assert (robots[robot]["description"], robots[robot]["disable"], robots[robot]["duration"]) == ("CI", True, 3600)
    assert robots[robot]["permissions"] == {"kind": "project", "namespace": "main", "access": access[0]}
    assert robots["robot$main+keep.me"]["description"] == ""
    assert info["users"][0]["provider_data"] == {"root": False, "description": "CI", "disabled": True, "duration": 3600,
                                                 "permissions": access}
    assert apply["diff"]["before"]["main/" + robot]["provider_data"]["description"] == "old"
    assert DEFAULT_API_KEY not in apply_run.stdout + apply_run.stderr
    assert not [run for run in runs if secrets_in(run.stdout + run.stderr + json.dumps(list(run)), [emu.robot_secret("main", "ci")])]
    assert [r["changed"] for r in results[4:8]] == [True, False, True, False]
    assert results[8]["retention_policies"][0]["rules"] == [dict(existing, id=1, disabled=True)]
    assert "scope_selector" in state["retention"]["rules"][0]


# ---------------------------------------------------------------------------------------------
# Docker credentials

def test_registry_credentials(emu):
    emu.add_registry("main", region="ewr")
    base = "/v2/registry/%s" % emu.registry_id("main")
    tasks = [
        task("registry_credentials", registry="main", check=True),
        dict(task("registry_credentials", registry="main", expiry_seconds=600, read_write=True, diff=True), no_log=True),
        dict(task("registry_credentials", registry="main", expiry_seconds=0, format="kubernetes_secret", diff=True), no_log=True),
        task("registry_user_info", registry="main"),
    ]
    emu.log.clear()
    results = ok(run_tasks(tasks, module_defaults=defaults(emu), env=VERBOSE, diff=True))
    check, docker, kubernetes, users = results
    assert check["changed"] is True and check["registry_host"] == "ewr.vultrcr.com"
    assert (check["docker_config"], check["username"], check["password"], check["kubernetes_secret"]) == (None, None, None, None)
    # each query parameter once, no OPTIONS in check mode
    assert mutations(emu) == [("OPTIONS", base + "/docker-credentials?expiry_seconds=600&read_write=true", None),
                              ("OPTIONS", base + "/docker-credentials/kubernetes?expiry_seconds=0&read_write=false", None)]
    robots = {r["name"]: r for r in registry_state(emu, "main")["robots"]}
    assert docker["changed"] is True and docker["registry_host"] == "ewr.vultrcr.com"
    assert robots[docker["username"]]["secret"] == docker["password"]
    assert (robots[docker["username"]]["duration"], [a["action"] for a in robots[docker["username"]]["permissions"][0]["access"]]) == (
        600, ["pull", "push"])
    auth = base64.b64encode(("%s:%s" % (docker["username"], docker["password"])).encode()).decode()
    assert docker["docker_config"] == {"auths": {"ewr.vultrcr.com": {"auth": auth}}}
    manifest = yaml.safe_load(kubernetes["kubernetes_secret"])
    assert (manifest["kind"], manifest["type"]) == ("Secret", "kubernetes.io/dockerconfigjson")
    config = json.loads(base64.b64decode(manifest["data"][".dockerconfigjson"]))
    user, password = base64.b64decode(config["auths"]["ewr.vultrcr.com"]["auth"]).decode().split(":", 1)
    assert robots[user]["secret"] == password and robots[user]["duration"] == -1
    assert [a["action"] for a in robots[user]["permissions"][0]["access"]] == ["pull"]
    # the result is the only place the secrets appear: not in the output (-vvv --diff, no_log), a diff, a warning or a listing
    minted = [docker["password"], password, auth, manifest["data"][".dockerconfigjson"]]
    assert not secrets_in(results.stdout + results.stderr, minted)
    assert "diff" not in docker and not docker.get("warnings") and not kubernetes.get("warnings")
    assert not secrets_in(json.dumps(users), minted)
    assert sorted(u["name"] for u in users["users"] if not u["provider_data"]["root"]) == sorted([docker["username"], user])


# ---------------------------------------------------------------------------------------------
# Retention rules and schedule

def retention_steps():
    """(task, check it, run it again) per step; the rules of the step."""
    keep2 = {"rule_type": "latestPushedK", "count": 2}
    tagged_v = {"rule_type": "always", "tag_match": "v*"}
    return [
        (task("retention_policy", registry="main", rules=[keep2, tagged_v], schedule="0 3 * * 0", diff=True), True, True),     # 0
        (task("retention_policy", registry="main", rules=[dict(keep2, disabled=True), tagged_v], schedule="0 3 * * 0"), True, True),  # 1
        (task("retention_policy", registry="main", rules=[dict(keep2, disabled=True), dict(tagged_v, tag_match="release-*")]),
         True, True),                                                                                                        # 2
        (task("retention_policy", registry="main", rules=[dict(keep2, disabled=True)], purge=False), False, False),             # 3
        (task("retention_policy", registry="main", rules=[dict(keep2, disabled=True)]), True, True),                           # 4
        (task("retention_policy", registry="main", rules=[keep2], run="dry_run"), True, False),                                # 5
        (task("retention_policy", registry="main", run="apply"), True, False),                                                 # 6
        (task("retention_policy_info", registry="main"), False, False),                                                        # 7
        (task("retention_policy", registry="main", state="absent", diff=True), True, True),                                   # 8
        (task("retention_policy_info", registry="main"), False, False),                                                        # 9
        (task("retention_policy", registry="main", rules=[]), False, False),                                                   # 10
    ]


def seed_retention(emu):
    emu.add_registry("main")
    for index in range(4):
        emu.add_artifact("main", "app", digest="sha256:%064d" % index, tags=["b%d" % index], push_time="2026-0%d-01T00:00:00Z" % (index + 1))
    emu.add_artifact("main", "web", digest="sha256:%064d" % 9, tags=["w"], push_time="2026-01-01T00:00:00Z")


def test_retention_policy(emu):
    seed_retention(emu)
    tasks, where = [], []
    for index, (item, check, again) in enumerate(retention_steps()):
        if check:
            tasks.append(checked(item))
            where.append((index, "check"))
        tasks.append(item)
        where.append((index, "apply"))
        if again:
            tasks.append(item)
            where.append((index, "again"))
    emu.log.clear()
    results = ok(run_tasks_in_process(tasks, module_defaults=defaults(emu)))
    got = {}
    for (index, phase), result in zip(where, results):
        got.setdefault(index, {})[phase] = result
    for index, phases in got.items():
        if "check" in phases:
            assert (phases["check"]["changed"], phases["apply"]["changed"]) == (True, True), index
            assert phases["check"]["actions"] == phases["apply"]["actions"], index
            if phases["apply"].get("retention_policy") and index != 8:
                # a rule about to be created has no id yet in check mode
                predicted, done = phases["check"]["retention_policy"]["rules"], phases["apply"]["retention_policy"]["rules"]
                assert predicted == [r if p["id"] is not None else dict(r, id=None) for p, r in zip(predicted, done)], index
        if "again" in phases:
            assert phases["again"]["changed"] is False and phases["again"]["actions"][0]["action"] in ("unchanged", "absent"), index
    assert got[3]["apply"]["changed"] is False  # purge: false leaves the rule that is not listed
    assert got[0]["apply"]["retention_policy"]["schedule"] == "0 3 * * 0"
    assert got[0]["apply"]["retention_policy"]["provider_data"]["next_scheduled_time"].endswith("Z")
    assert got[0]["apply"]["diff"]["before"]["rules"] == [] and len(got[0]["apply"]["diff"]["after"]["rules"]) == 2
    assert got[1]["again"]["retention_policy"]["rules"][0]["disabled"] is True
    assert got[5]["apply"]["retention_policy"]["execution"]["dry_run"] is True
    assert got[5]["check"]["retention_policy"]["execution"]["dry_run"] is True
    assert got[6]["apply"]["retention_policy"]["execution"]["dry_run"] is False
    assert [r["rule_type"] for r in got[7]["apply"]["retention_policies"][0]["rules"]] == ["latestPushedK"]
    assert got[8]["apply"]["diff"]["after"] == {} and got[8]["again"]["actions"] == [{"ref": "main", "action": "absent"}]
    assert got[9]["apply"]["retention_policies"][0]["rules"] == []
    assert got[10]["apply"]["changed"] is False  # no rule there, none wanted: nothing to create

    # every mutating request, in order: the check and again runs sent none
    base = "/v2/registry/%s/retention" % emu.registry_id("main")
    body = {"repository_action": "matches", "repository_match": "**", "tag_action": "matches", "untagged": False}
    keep2 = dict(body, rule_type="latestPushedK", count=2, tag_match="**")
    assert mutations(emu) == [
        ("POST", base + "/rules", keep2), ("POST", base + "/rules", dict(body, rule_type="always", tag_match="v*")),
        ("PUT", base + "/schedule", {"cron": "0 3 * * 0"}),                                   # 0 created
        ("PUT", base + "/rules/1", {"disabled": True}),                                       # 1 disabled in place
        ("DELETE", base + "/rules/2", None), ("POST", base + "/rules", dict(body, rule_type="always", tag_match="release-*")),  # 2
        ("DELETE", base + "/rules/3", None),                                                  # 4 purged
        ("PUT", base + "/rules/1", {"disabled": False}), ("POST", base + "/executions", {"dry_run": True}),  # 5
        ("POST", base + "/executions", {"dry_run": False}),                                   # 6
        ("DELETE", base + "/rules/1", None), ("PUT", base + "/schedule", {"cron": ""}),          # 8
    ]
    # what the run deleted: all but the two newest pushes of each repository
    executions = emu.executions("main")
    assert [e["dry_run"] for e in executions] == [True, False]
    assert sorted(d["digest"] for d in executions[0]["deleted"]) == sorted(d["digest"] for d in executions[1]["deleted"])
    assert sorted(d["digest"] for d in executions[1]["deleted"]) == ["sha256:%064d" % 0, "sha256:%064d" % 1]
    repos = snapshot(emu)["main"]["repositories"]
    assert repos["app"]["artifacts"] == {"sha256:%064d" % 2: ["b2"], "sha256:%064d" % 3: ["b3"]}
    assert repos["web"]["artifacts"] == {"sha256:%064d" % 9: ["w"]}
    assert registry_state(emu, "main")["retention"]["schedule"] == ""


# ---------------------------------------------------------------------------------------------
# Tags over the OCI path of the real registry

def push_throwaway(seed, repo, tag):
    """A manifest as the collection's untag leaves it when it could not finish (annotated throwaway), tagged ``tag``."""
    config = {"mediaType": "application/vnd.oci.empty.v1+json", "digest": seed.push_blob(repo, b"{}"), "size": 2}
    body = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [],
                           "annotations": {"io.regops.registry.throwaway": "true"}})
    return seed.put_manifest(repo, tag, OCI_MANIFEST, body)


def test_tags_over_the_oci_path(emu, backed, prefix):
    name = prefix
    emu.add_registry(name, region="sjc", plan="business")
    reg_id = emu.registry_id(name)
    seed = SeedClient.for_registry(backed)
    app, web = name + "/app", name + "/team/web"
    a = seed.push_image(app, tags=["a1", "a2", "keep"])
    b = seed.push_image(app, tags=["b1"])
    m = seed.push_image(app, tags=["moved"])
    w = seed.push_image(web, tags=["w1", "w2"])
    stuck = push_throwaway(seed, app, "stuck")
    remove = task("tag", registry=name, repository="app", name=["a1", "a2", "team/web:w1"], state="absent",
                  expected_digests={"a1": a, "a2": a, "team/web:w1": w}, diff=True)
    infos = task("tag_info", registry=name, repository=["app", "team/web"])

    # check mode: planned from Vultr's listing; nothing written to the real registry, no credentials minted
    mark = backed.mark()
    emu.log.clear()
    check = ok(run_tasks_in_process([infos, checked(remove)], module_defaults=defaults(emu)))
    assert mutations(emu) == [] and backed.mutations_since(mark) == []
    assert {(t["repository"], t["name"]): t["digest"] for t in check[0]["tags"]} == {
        ("app", "a1"): a, ("app", "a2"): a, ("app", "keep"): a, ("app", "b1"): b, ("app", "moved"): m, ("app", "stuck"): stuck,
        ("team/web", "w1"): w, ("team/web", "w2"): w}
    assert check[1]["changed"] is True and [x["action"] for x in check[1]["actions"]] == ["deleted"] * 3

    # the removal: ansible-playbook at -vvv with --diff; the re-run and the other cases in-process
    emu.log.clear()
    applied = ok(run_tasks([remove], module_defaults=defaults(emu), env=VERBOSE, diff=True))                     # 0
    rest = ok(run_tasks_in_process([
        remove,                                                                                               # 1
        task("tag", registry=name, repository="app", name=["moved"], state="absent", expected_digests={"moved": b}),  # 2 moved: kept
        task("tag", registry=name, repository="app", name=["b1"], state="absent"),                             # 3 the only tag of b
        task("tag", registry=name, repository="app", name=["stuck"], state="absent", expected_digests={"stuck": a}),  # 4 not recognised
        task("tag", registry=name, repository="app", name=["stuck"], state="absent"),                          # 5 the documented remedy
        infos,                                                                                                # 6
        task("artifact", registry=name, repository="app", digest=[m], expected_tags={m: []}, state="absent"),   # 7 tagged since
    ], module_defaults=defaults(emu), diff=True))
    apply, again, moved, only, leftover, remedy, info, guarded = list(applied) + list(rest)
    assert (apply["changed"], again["changed"]) == (True, False)
    assert check[1]["actions"] == apply["actions"] and check[1]["tags"] == apply["tags"]
    assert [x["action"] for x in again["actions"]] == ["absent"] * 3
    assert moved["changed"] is False and moved["actions"] == [{"ref": "app:moved", "action": "skipped", "reason": "moved",
                                                               "msg": "moved: now points at %s, expected %s; not removed" % (m, b)}]
    assert only["changed"] is True and leftover["changed"] is False and leftover["actions"][0]["reason"] == "moved"
    assert remedy["changed"] is True
    assert guarded["changed"] is False and seed.manifest_exists(app, m)
    assert guarded["actions"] == [{"ref": "app@" + m, "action": "skipped", "reason": "tags_changed",
                                   "msg": "tag(s) moved now point at this digest but were not expected; not deleted"}]
    # the real registry: the siblings are kept, every manifest is still there
    assert seed.tag_map(app) == {"keep": a, "moved": m}
    assert seed.tag_map(web) == {"w2": w}
    assert all(seed.manifest_exists(repo, d) for repo, d in ((app, a), (app, b), (app, m), (web, w)))
    # one set of docker credentials per module run that removed tags, read/write, expiring after an hour
    assert mutations(emu) == [("OPTIONS", "/v2/registry/%s/docker-credentials?expiry_seconds=3600&read_write=true" % reg_id, None)] * 3
    assert DEFAULT_API_KEY not in applied.stdout + applied.stderr
    for run in (applied, rest):
        assert not secrets_in(run.stdout + run.stderr + json.dumps(list(run)), [backed.password, emu.root_password(name)])
    # Vultr's listing afterwards: b untagged (as Harbor shows it), the rest with their remaining tags
    assert sorted((t["repository"], t["name"], t["digest"]) for t in info["tags"]) == [
        ("app", "keep", a), ("app", "moved", m), ("team/web", "w2", w)]
    listed = {a_["digest"]: a_ for r in registry_state(emu, name)["repositories"] for a_ in r["artifacts"]}
    assert listed[b]["tags"] == []


# ---------------------------------------------------------------------------------------------
# Pagination, retries, faults

def test_every_list_is_read_whole(emu):
    emu.configure(max_per_page=2, default_per_page=2)
    for name in ("r1", "r2", "r3"):
        emu.add_registry(name, region="sjc")
    for region in ("ewr", "blr", "sjp"):
        emu.add_replication("r1", region)
    for index in range(5):
        emu.add_artifact("r1", "app%d" % index, digest="sha256:%064d" % index, tags=["t%d" % index])
        emu.add_artifact("r1", "app0", digest="sha256:%064d" % (index + 10), tags=["x%d" % index], push_time="2026-01-0%dT00:00:00Z" % (index + 1))
        emu.add_robot("r1", "bot%d" % index, description="bot %d" % index)
    for count in range(3):
        emu.add_retention_rule("r1", count=count, untagged=False)
    oldest = "sha256:%064d" % 10  # listed last (newest push first)
    emu.log.clear()
    results = ok(run_tasks_in_process([
        task("registry_info"),
        task("repository_info", registry="r1"),
        task("artifact_info", registry="r1", repository=["app0"]),
        task("tag_info", registry="r1", repository=["app0"]),
        task("registry_user_info", registry="r1"),
        task("retention_policy_info", registry="r1"),
        task("registry", name="r1", region="sjc", replications=[{"region": "sjp"}]),                       # 6 on the last page
        task("registry_user", registry="r1", name=["robot$r1+bot4"], description="bot 4"),                  # 7
        task("retention_policy", registry="r1", rules=[{"rule_type": "latestPushedK", "count": c} for c in range(3)]),  # 8
        task("repository", registry="r1", name="app4", description=""),                                     # 9
        task("artifact", registry="r1", repository="app0", digest=[oldest], state="absent"),               # 10
    ], module_defaults=defaults(emu)))
    assert [r["name"] for r in results[0]["registries"]] == ["r1", "r2", "r3"]
    assert results[0]["registries"][0]["provider_data"]["replications"] == ["blr", "ewr", "sjp"]
    assert [r["name"] for r in results[1]["repositories"]] == ["app%d" % i for i in range(5)]
    assert len(results[2]["artifacts"]) == 6 and len(results[3]["tags"]) == 6
    assert len(results[4]["users"]) == 6
    assert [r["count"] for r in results[5]["retention_policies"][0]["rules"]] == [0, 1, 2]
    assert [r["changed"] for r in results[6:]] == [False, False, False, False, True]
    assert oldest not in [a["digest"] for r in registry_state(emu, "r1")["repositories"] for a in r["artifacts"]]
    gets = [r for r in emu.log.records if r.method == "GET"]
    assert all(r.query.get("per_page") == "500" for r in gets if not r.path.endswith("/plan/list"))
    assert len([r for r in gets if r.query.get("cursor")]) > 10


def fault_seed(emu):
    emu.add_registry("main", region="sjc", plan="start_up")
    emu.add_robot("main", "ci")
    emu.add_artifact("main", "app", digest=DIGEST_A, tags=["v1"])
    emu.add_artifact("main", "app", digest=DIGEST_B, tags=["v2"])
    emu.add_artifact("main", "app", digest=DIGEST_C, tags=["v3", "latest"])


FAULT_TASKS = [
    task("registry", name="fresh", region="ewr", plan="business"),
    task("registry", name="main", plan="premium", replications=[{"region": "blr"}]),
    task("repository", registry="main", name="app", description="faulted"),
    task("artifact", registry="main", repository="app", digest=[DIGEST_A, DIGEST_B], state="absent"),
    task("registry_user", registry="main", name=["robot$main+ci"], disabled=True),
    task("retention_policy", registry="main", rules=[{"rule_type": "latestPushedK", "count": 1}], schedule="5 4 * * *"),
]


def test_faulted_run_ends_in_the_clean_state(emu):
    fault_seed(emu)
    clean = ok(run_tasks_in_process(FAULT_TASKS, module_defaults=defaults(emu)))
    expected = snapshot(emu)
    assert expected["main"]["plan"] == "premium" and expected["main"]["replications"] == ["blr"]

    emu.reset()
    fault_seed(emu)
    emu.rate_limit(times=1, retry_after="1", method="GET")
    emu.rate_limit(times=2, retry_after="0", method="GET")
    emu.reset_connection(times=1, method="GET", path_prefix="/v2/registry/")
    emu.server_error(times=2, status=503, method="POST")
    emu.server_error(times=1, status=502, method="PUT")
    emu.server_error(times=1, status=500, method="DELETE")
    emu.server_error(times=1, status=504, method="GET", path_prefix="/v2/registries")
    emu.log.clear()
    faulted = ok(run_tasks(FAULT_TASKS, module_defaults=defaults(emu)))
    assert snapshot(emu) == expected
    assert [r["changed"] for r in faulted] == [r["changed"] for r in clean]
    statuses = [r.status for r in emu.log.records]
    assert statuses.count(429) == 3 and statuses.count(503) == 2 and None in statuses
    assert {502, 500, 504} <= set(statuses)
    warnings = [w for r in faulted for w in r.get("warnings", [])]
    assert [w for w in warnings if "answered 429" in w and "in 1.0s" in w]
    assert [w for w in warnings if "answered 503" in w] and [w for w in warnings if "ConnectionError" in w]
    # a create that reached the server is never sent twice: the two POST 503s were the API's own refusals
    assert len([r for r in emu.log.records if r.method == "POST" and r.path == "/v2/registry" and r.status == 201]) == 1
