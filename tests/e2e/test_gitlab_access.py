"""End to end: deploy tokens (``registry_user``, ``registry_user_info``) and protection rules (``protection_rule``,
``protection_rule_info``) with ``provider: gitlab`` against the GitLab emulator.

Each ``run_tasks`` call is one ansible-playbook run; tasks are batched so the file stays fast. Runs whose subject is the
module, not ansible-core (the check-mode and re-run phases of the lifecycle, bad input and refusals), go through
``run_tasks_in_process``; the apply (at ``-vvv``, tokens under ``no_log``) and the faulted run stay ansible-playbook runs.
"""

# pylint: disable=redefined-outer-name,too-many-locals,too-many-statements
import json

import pytest

from tests.emulators.gitlab import DEFAULT_TOKEN, GitLabEmulator
from tests.support.ansible_runner import run_tasks
from tests.support.module_runner import run_tasks_in_process
from tests.support.tasks import ok, task

MASK = "********"
MUTATING = ("POST", "PUT", "PATCH", "DELETE")
VERBOSE = {"ANSIBLE_VERBOSITY": "3"}
TOKENS = "/api/v4/projects/acme%2Fapp/deploy_tokens"
GROUP_TOKENS = "/api/v4/groups/acme/deploy_tokens"
REPO_RULES = "/api/v4/projects/acme%2Fapp/registry/protection/repository/rules"
TAG_RULES = "/api/v4/projects/acme%2Fapp/registry/protection/tag/rules"
BOTH = {"minimum_access_level_for_push": "maintainer", "minimum_access_level_for_delete": "owner"}


@pytest.fixture(scope="module")
def emulator():
    """One GitLab emulator for the whole file."""
    with GitLabEmulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    """The emulator with only the default project acme/app (group acme)."""
    emulator.reset()
    yield emulator
    emulator.reset()


def defaults(emu):
    """``module_defaults`` for the collection's action group."""
    return {"group/regops.registry.all": {"provider": "gitlab", "api_url": emu.url, "api_token": DEFAULT_TOKEN}}


def mutations(emu):
    """``(method, path?query, body)`` of every mutating request."""
    return [(r.method, r.target, r.body) for r in emu.log.records if r.method in MUTATING]


def snapshot(emu):
    """Deploy tokens (without ids and values) and protection rules (without ids) of acme/app and group acme."""
    dump = emu.dump_state()
    project = next(p for p in dump["projects"] if p["path_with_namespace"] == "acme/app")
    group = next(g for g in dump["groups"] if g["full_path"] == "acme")

    def tokens(items):
        # GitLab's generated user names carry the id, which depends on the order of concurrent creates
        return sorted((t["name"], "generated" if t["username"].startswith("gitlab+deploy-token-") else t["username"], tuple(t["scopes"]),
                       t["expires_at"], t["revoked"]) for t in items)

    def rules(items, key):
        return sorted((r[key], r["minimum_access_level_for_push"], r["minimum_access_level_for_delete"]) for r in items)

    return {"tokens": tokens(project["deploy_tokens"]), "group_tokens": tokens(group["deploy_tokens"]),
            "repository_rules": rules(project["repository_protection_rules"], "repository_path_pattern"),
            "tag_rules": rules(project["tag_protection_rules"], "tag_name_pattern")}


def token_values(emu):
    """Every deploy token value the emulator holds."""
    dump = emu.dump_state()
    return [t["token"] for owner in dump["projects"] + dump["groups"] for t in owner["deploy_tokens"]]


def secrets_in(text, secrets):
    return [s for s in secrets if s and s in text]


def seed(emu):
    """Tokens and rules the lifecycle changes, and an immutable tag rule nobody changes."""
    tokens = {
        "ci": emu.add_deploy_token("acme/app", "ci", ["read_registry"], username="ci-bot"),
        "old": emu.add_deploy_token("acme/app", "old", ["read_registry"]),
        "grp-old": emu.add_deploy_token("acme", "grp-old", ["read_registry"], kind="group"),
    }
    emu.add_protection_rule("acme/app", "repository", "acme/app/keep", push="maintainer", delete="maintainer")
    emu.add_protection_rule("acme/app", "tag", "^old", push="maintainer", delete="maintainer")
    emu.add_protection_rule("acme/app", "tag", "^stable", push=None, delete=None)
    return tokens


LIFECYCLE = [
    task("registry_user", registry="acme/app", name=["pull"], read_only=True, expires_at="2030-01-31T18:00:00+02:00", username="puller",
         diff=True, no_log=True),                                                                                            # 0 create
    task("registry_user", registry="acme/app", name=["ci"], scopes=["read_registry", "write_registry"], recreate=True,
         diff=True, no_log=True),                                                                                            # 1 recreate
    task("registry_user", registry="acme/app", name=["old"], state="absent", diff=True),                                    # 2 revoke
    task("registry_user", registry="group:acme", name=["grp"], scopes=["read_registry", "read_package_registry"],
         diff=True, no_log=True),                                                                                            # 3 group
    task("registry_user", registry="group:acme", name=["grp-old"], state="absent", diff=True),                              # 4 group revoke
    task("protection_rule", registry="acme/app", kind="repository", pattern=["acme/app/release-*"], diff=True, **BOTH),     # 5 create
    task("protection_rule", registry="acme/app", kind="repository", pattern="acme/app/keep",
         minimum_access_level_for_push="none", minimum_access_level_for_delete="admin", diff=True),                         # 6 update, unset
    task("protection_rule", registry="acme/app", kind="tag", pattern=["^v", "latest"], diff=True, **BOTH),                  # 7 create two
    task("protection_rule", registry="acme/app", kind="tag", pattern="^old", state="absent", diff=True),                    # 8 delete
]
INFO = [
    task("registry_user_info", registry="acme/app"),
    task("registry_user_info", registry="group:acme"),
    task("protection_rule_info", registry="acme/app"),
]
CREATED = (0, 1, 3)  # the tasks that return a token


@pytest.mark.compat
def test_check_apply_again_diff_and_no_token_in_the_output(emu):
    seeded = seed(emu)
    before = snapshot(emu)

    # -- check mode: every change predicted, nothing mutating sent, no token returned
    emu.log.clear()
    check_run = ok(run_tasks_in_process(INFO + [dict(t, check_mode=True) for t in LIFECYCLE], module_defaults=defaults(emu)))
    info, check = check_run[:3], check_run[3:]
    assert mutations(emu) == []
    assert snapshot(emu) == before
    assert [r["changed"] for r in check] == [True] * len(LIFECYCLE)
    assert all("secret" not in u for r in check for u in r.get("users", []))
    assert check[1]["users"][0] == {"name": "ci", "id": None, "login": "ci-bot", "registry": "acme/app", "read_only": False,
                                    "expires_at": None, "created_at": None,
                                    "provider_data": {"scopes": ["read_registry", "write_registry"], "revoked": False, "expired": False}}
    assert check[1]["diff"]["before"]["acme/app/ci"]["id"] == seeded["ci"]["id"]
    listed = {u["name"]: u for u in info[0]["users"]}
    assert sorted(listed) == ["ci", "old"] and listed["ci"]["login"] == "ci-bot" and listed["ci"]["read_only"] is True
    assert [u["name"] for u in info[1]["users"]] == ["grp-old"]
    assert [(r["kind"], r["pattern"], r["immutable"]) for r in info[2]["protection_rules"]] == [
        ("repository", "acme/app/keep", False), ("tag", "^old", False), ("tag", "^stable", True)]
    assert not secrets_in(json.dumps(list(check_run)) + check_run.stdout, token_values(emu))

    # -- apply, ansible-playbook with -vvv and --diff: the same changes; the new tokens only in the registered results (no_log),
    # the API token nowhere in the output
    emu.log.clear()
    apply = ok(run_tasks(LIFECYCLE, module_defaults=defaults(emu), env=VERBOSE, diff=True))
    assert DEFAULT_TOKEN not in apply.stdout + apply.stderr
    assert [r["changed"] for r in apply] == [r["changed"] for r in check]
    for predicted, done in zip(check, apply):
        assert predicted["actions"] == done["actions"]
    for index in (5, 6, 7):
        assert [dict(r, id=None, provider_data=None) for r in apply[index]["protection_rules"]] == [
            dict(r, id=None, provider_data=None) for r in check[index]["protection_rules"]]
    for index in CREATED:
        assert dict(apply[index]["users"][0], id=None, login=None, secret=None) == dict(check[index]["users"][0], login=None, secret=None)
    project_id = emu.project_id("acme/app")
    rule_ids = {r["pattern"]: r["id"] for r in info[2]["protection_rules"]}
    assert sorted(mutations(emu), key=str) == sorted([
        ("POST", TOKENS, {"name": "pull", "scopes": ["read_registry"], "expires_at": "2030-01-31T16:00:00Z", "username": "puller"}),
        ("DELETE", TOKENS + "/%d" % seeded["ci"]["id"], None),
        ("POST", TOKENS, {"name": "ci", "scopes": ["read_registry", "write_registry"], "username": "ci-bot"}),
        ("DELETE", TOKENS + "/%d" % seeded["old"]["id"], None),
        ("POST", GROUP_TOKENS, {"name": "grp", "scopes": ["read_registry", "read_package_registry"]}),
        ("DELETE", GROUP_TOKENS + "/%d" % seeded["grp-old"]["id"], None),
        ("POST", REPO_RULES, dict(BOTH, repository_path_pattern="acme/app/release-*")),
        ("PATCH", REPO_RULES + "/%d" % rule_ids["acme/app/keep"], {"minimum_access_level_for_push": "", "minimum_access_level_for_delete": "admin"}),
        ("POST", TAG_RULES, dict(BOTH, tag_name_pattern="^v")),
        ("POST", TAG_RULES, dict(BOTH, tag_name_pattern="latest")),
        ("DELETE", TAG_RULES + "/%d" % rule_ids["^old"], None),
    ], key=str)

    # the emulator's state
    after = snapshot(emu)
    assert after == {
        "tokens": [("ci", "ci-bot", ("read_registry", "write_registry"), None, False),
                   ("pull", "puller", ("read_registry",), "2030-01-31T16:00:00.000Z", False)],
        "group_tokens": [("grp", "generated", ("read_registry", "read_package_registry"), None, False)],
        "repository_rules": [("acme/app/keep", None, "admin"), ("acme/app/release-*", "maintainer", "owner")],
        "tag_rules": [("^stable", None, None), ("^v", "maintainer", "owner"), ("latest", "maintainer", "owner")]}
    assert all(r["provider_data"]["project_id"] == project_id for r in apply[7]["protection_rules"])

    # the tokens: returned once, each the emulator's; masked in every diff; in no output, even with -vvv --diff
    values = dict((t["name"], t["token"]) for t in emu.dump_state()["projects"][0]["deploy_tokens"])
    values["grp"] = emu.dump_state()["groups"][0]["deploy_tokens"][0]["token"]
    assert [apply[i]["users"][0]["secret"] for i in CREATED] == [values["pull"], values["ci"], values["grp"]]
    assert apply[1]["users"][0]["login"] == "ci-bot" and apply[0]["users"][0]["expires_at"] == "2030-01-31T16:00:00Z"
    for index in CREATED:
        ref = "%s/%s" % (apply[index]["users"][0]["registry"], apply[index]["users"][0]["name"])
        assert apply[index]["diff"]["after"][ref]["secret"] == MASK
        assert not secrets_in(json.dumps(apply[index]["diff"]) + json.dumps(apply[index].get("warnings", [])), values.values())
    everything = secrets_in(json.dumps(list(apply)), values.values())
    assert sorted(everything) == sorted(values.values())  # in the registered results ...
    assert not secrets_in(apply.stdout + apply.stderr, list(values.values()) + [seeded["ci"]["token"]])  # ... and nowhere else
    assert "EXEC" in apply.stdout and "acme/app/release-*" in apply.stdout  # -vvv, and the other results are shown
    assert apply[2]["diff"] == {"before": {"acme/app/old": apply[2]["users"][0]}, "after": {}}
    assert apply[6]["diff"]["before"]["acme/app:repository:acme/app/keep"]["minimum_access_level_for_push"] == "maintainer"
    assert apply[6]["diff"]["after"]["acme/app:repository:acme/app/keep"]["minimum_access_level_for_push"] is None

    # -- again: nothing changes, nothing mutating is sent, no token comes back
    emu.log.clear()
    again_run = ok(run_tasks_in_process(LIFECYCLE + INFO, module_defaults=defaults(emu), diff=True))
    again, info = again_run[:len(LIFECYCLE)], again_run[len(LIFECYCLE):]
    assert [r["changed"] for r in again] == [False] * len(LIFECYCLE)
    assert mutations(emu) == []
    assert snapshot(emu) == after
    assert all("secret" not in u for r in again_run for u in r.get("users", []))
    assert [a["action"] for a in again[8]["actions"]] == ["absent"] and [a["action"] for a in again[7]["actions"]] == ["unchanged"] * 2
    assert not secrets_in(json.dumps(list(again_run)) + again_run.stdout + again_run.stderr, values.values())
    assert [(u["name"], u["provider_data"]["scopes"]) for u in info[0]["users"]] == [
        ("ci", ["read_registry", "write_registry"]), ("pull", ["read_registry"])]
    assert [(u["name"], u["login"]) for u in info[1]["users"]] == [("grp", "gitlab+deploy-token-%d" % apply[3]["users"][0]["id"])]
    listed = [(r["kind"], r["id"], r["pattern"]) for r in info[2]["protection_rules"]]
    assert listed == sorted(listed, key=lambda r: (r[0] == "tag", r[1]))  # repository rules first, each kind by id
    assert sorted((kind, pattern) for kind, _id, pattern in listed) == [
        ("repository", "acme/app/keep"), ("repository", "acme/app/release-*"), ("tag", "^stable"), ("tag", "^v"), ("tag", "latest")]


def test_bad_input_and_refusals(emu):
    """Bad input fails before any request; a token that differs, duplicate names and immutable rules fail before any change.
    (Every validation message is covered in-process by tests/unit/plugins/modules/test_modules.py and test_gitlab_access.py.)"""
    seeded = seed(emu)
    dup = [emu.add_deploy_token("acme/app", "twice", ["read_registry"]) for _index in range(2)]
    before = snapshot(emu)
    no_request = [
        (task("registry_user", registry="acme/app", name=["ci"], scopes=["api"]), "value of scopes must be one or more of"),
        (task("registry_user", registry="group:acme", name=["ci"], scopes=["read_virtual_registry"]), "not a scope of a group's deploy tokens"),
        (task("registry_user", registry="acme/app", name=["ci"], expires_at="2020-01-01"), "is not in the future"),
        (task("registry_user", registry="acme/app", name=["ci"], duration=30), "does not support the option(s) duration"),
        (task("protection_rule", registry="acme/app", kind="tag", pattern="^v"), "any of the following are missing"),
        (task("protection_rule", registry="acme/app", kind="repository", pattern="acme/other/*", **BOTH), "must start with the project's full path"),
        (task("protection_rule_info", registry="acme/app", provider="vultr", api_token="x"), "Provider 'vultr' cannot manage protection_rule_info"),
    ]
    no_change = [
        (task("registry_user", registry="acme/app", name=["ci"], read_only=False),
         "deploy token 'ci' of acme/app (id %d) differs from the task: read_only true, task false. GitLab cannot change a deploy "
         "token: set recreate: true" % seeded["ci"]["id"]),
        (task("registry_user", registry="acme/app", name=["ci"], read_only=False, check=True), "set recreate: true"),
        (task("registry_user", registry="acme/app", name=["twice"]), "2 active deploy tokens are named 'twice' in acme/app (ids %d, %d)" % (
            dup[0]["id"], dup[1]["id"])),
        (task("protection_rule", registry="acme/app", kind="tag", pattern="^stable", state="absent"), "an immutable tag rule"),
    ]
    cases = no_request + no_change
    emu.log.clear()
    results = run_tasks_in_process([dict(item, ignore_errors=True) for item, _message in cases], module_defaults=defaults(emu))
    for (_item, expected), result in zip(cases, results):
        assert result.get("failed") is True, (expected, result)
        assert expected in result["msg"], (expected, result["msg"])
    # the refusals read (one list each), the bad input sent nothing; nothing changed
    assert [r.method for r in emu.log.records] == ["GET"] * 4
    assert snapshot(emu) == before
    assert not secrets_in(json.dumps(list(results)) + results.stdout, token_values(emu))


def test_faulted_run_ends_in_the_clean_state(emu):
    tasks = [
        task("registry_user", registry="acme/app", name=["ci", "pull"], read_only=False, no_log=True),
        task("registry_user", registry="acme/app", name=["old"], state="absent"),
        task("protection_rule", registry="acme/app", kind="repository", pattern="acme/app/keep", minimum_access_level_for_delete="owner"),
        task("protection_rule", registry="acme/app", kind="tag", pattern=["^v", "^old"], **BOTH),
    ]

    emu.add_deploy_token("acme/app", "old", ["read_registry"])
    emu.add_protection_rule("acme/app", "repository", "acme/app/keep", push="maintainer", delete=None)
    emu.rate_limit(times=1, retry_after="1", method="POST", path_prefix=TOKENS)
    emu.server_error(times=2, status=503, method="POST")
    emu.rate_limit(times=1, retry_after="0", method="PATCH")
    emu.server_error(times=1, status=500, method="DELETE")
    emu.server_error(times=1, status=502, method="GET", path_prefix=TOKENS)
    emu.server_error(times=1, status=504, method="GET", path_prefix=TAG_RULES)
    emu.log.clear()
    faulted = ok(run_tasks(tasks, module_defaults=defaults(emu)))
    # what the same run does without faults
    assert snapshot(emu) == {"tokens": [("ci", "generated", ("read_registry", "write_registry"), None, False),
                                        ("pull", "generated", ("read_registry", "write_registry"), None, False)],
                             "group_tokens": [], "repository_rules": [("acme/app/keep", "maintainer", "owner")],
                             "tag_rules": [("^old", "maintainer", "owner"), ("^v", "maintainer", "owner")]}
    assert [r["changed"] for r in faulted] == [True] * 4
    assert [[a["action"] for a in r["actions"]] for r in faulted] == [["created", "created"], ["deleted"], ["updated"], ["created", "created"]]
    statuses = [r.status for r in emu.log.records]
    assert statuses.count(429) == 2 and statuses.count(503) == 2 and {500, 502, 504} <= set(statuses)
    warnings = [w for r in faulted for w in r.get("warnings", [])]
    assert [w for w in warnings if "answered 429" in w and "in 1.0s" in w] and [w for w in warnings if "answered 503" in w]
    # each create reached the server once: the 429 and 503 answers were the API's own refusals
    created = [r for r in emu.log.records if r.method == "POST" and r.status == 201]
    assert len(created) == 4 and len(set(json.dumps(r.body, sort_keys=True) for r in created)) == 4
