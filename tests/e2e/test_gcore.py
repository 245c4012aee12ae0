"""End to end: every module with ``provider: gcore`` against the Gcore emulator.

Each ``run_tasks`` call is one ansible-playbook run; tasks are batched so the file stays fast. Runs whose subject is the
module, not ansible-core (the check-mode and re-run phases of a lifecycle, bad input, request bodies, answer shapes,
pagination), go through ``run_tasks_in_process``; the apply (at ``-vvv``), the faulted runs and the credentials from the
environment as AWX injects them stay ansible-playbook runs.
The emulator's request log is cleared between phases, so ``emu.log.mutating()`` is what one phase sent.
"""

# pylint: disable=redefined-outer-name
import json
from pathlib import Path

import jinja2
import pytest
import yaml

from tests.emulators.gcore import DEFAULT_API_KEY, DEFAULT_PROJECT_ID, DEFAULT_REGION_ID, GcoreEmulator
from tests.support.ansible_runner import run_tasks
from tests.support.module_runner import run_tasks_in_process
from tests.support.tasks import checked, ok, printed_by, task

REPO_ROOT = Path(__file__).resolve().parents[2]
MASK = "********"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64
LOGIN_PREFIX = "r_1000503-%d-%d-" % (DEFAULT_PROJECT_ID, DEFAULT_REGION_ID)


@pytest.fixture(scope="module")
def emulator():
    """One Gcore emulator for the whole file."""
    with GcoreEmulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    """The emulator, empty, with its default settings."""
    emulator.reset()
    emulator.configure(batch_shape="object", default_limit=1000, max_limit=1000)
    yield emulator
    emulator.reset()


def connection(emu, **extra):
    """The connection options of a task."""
    options = {"provider": "gcore", "api_url": emu.url, "api_token": DEFAULT_API_KEY,
               "project_id": DEFAULT_PROJECT_ID, "region_id": DEFAULT_REGION_ID}
    options.update(extra)
    return options


def defaults(emu, **extra):
    """``module_defaults`` for the collection's action group."""
    return {"group/regops.registry.all": connection(emu, **extra)}


def calls(emu):
    """``(method, path)`` of every logged request."""
    return [(r.method, r.path) for r in emu.log.records]


def mutations(emu):
    """``(method, path, body)`` of every mutating request."""
    return [(r.method, r.path, r.body) for r in emu.log.mutating()]


def registry_state(emu, name):
    """The dumped registry named ``name`` (repositories with artifacts, users with secrets) or None."""
    for reg in emu.dump_state()["registries"]:
        if reg["name"] == name:
            return reg
    return None


def users_of(emu, registry):
    """``{short name: user JSON}`` of a registry."""
    return {u["name"].rsplit("+", 1)[1]: u for u in registry_state(emu, registry)["users"]}


def tags_of(emu, registry, repository):
    """``{digest: [tag names]}`` of a repository."""
    for repo in registry_state(emu, registry)["repositories"]:
        if repo["name"] == repository:
            return {a["digest"]: sorted(t["name"] for t in a["tags"]) for a in repo["artifacts"]}
    return None


def seed_main(emu):
    """Registry ``main`` (users, two slashed repositories) and registry ``gone`` (with contents)."""
    emu.seed({"registries": [
        {"name": "main", "storage_limit": 10,
         "users": [{"name": "old", "duration": -1}, {"name": "ci", "duration": 30, "read_only": True}],
         "repositories": [
             {"name": "team/app", "artifacts": [
                 {"digest": DIGEST_A, "size": 100, "tags": ["v1", "latest"], "pushed_at": "2026-01-01T00:00:00Z"},
                 {"digest": DIGEST_B, "size": 200, "tags": ["v2"], "pushed_at": "2026-02-01T00:00:00Z"}]},
             {"name": "team/old", "artifacts": [{"digest": DIGEST_C, "size": 50, "tags": ["x"]}]}]},
        {"name": "gone", "storage_limit": 5, "users": [{"name": "u"}],
         "repositories": [{"name": "r", "artifacts": [{"digest": DIGEST_A, "size": 10, "tags": ["t"]}]}]},
    ]})


# ---------------------------------------------------------------------------------------------
# Every module and state: check mode, apply, idempotent re-run, diff

def lifecycle_tasks():
    """One task per module and state (index 10, refresh_secret, always changes)."""
    return [
        task("registry", name="fresh", storage_limit=20),                                          # 0 create
        task("registry", name="main", storage_limit=30, diff=True),                                # 1 resize
        task("registry_user", registry="main", name=["alice", "bob"], duration=30, read_only=True, diff=True),  # 2 batch
        task("registry_user", registry="main", name=["ci"], read_only=False, diff=True),           # 3 PATCH
        task("registry_user", registry="main", name=["old"], state="absent", diff=True),           # 4 DELETE
        task("tag", registry="main", repository="team/app", name=["v1"], state="absent", diff=True),  # 5
        task("artifact", registry="main", repository="team/app", digest=[DIGEST_B], expected_tags={DIGEST_B: ["v2"]}, state="absent",
             diff=True),                                                                           # 6 (re-listed right before)
        task("artifact", registry="main", repository="team/app", digest=[DIGEST_A]),               # 7 present: exists
        task("repository", registry="main", name="team/old", state="absent", diff=True),           # 8
        task("registry", name="gone", state="absent", diff=True),                                  # 9 everything
        task("registry_user", registry="main", name=["ci"], refresh_secret=True, diff=True),       # 10
    ]


def info_tasks():
    """Every info module."""
    return [
        task("registry_info"),
        task("registry_user_info", registry="main"),
        task("repository_info", registry="main"),
        task("artifact_info", registry="main", repository=["team/app"]),
        task("tag_info", registry="main", repository=["team/app"]),
    ]


@pytest.mark.compat
def test_every_module_check_apply_idempotent_diff(emu):
    # pylint: disable=too-many-locals,too-many-statements
    seed_main(emu)
    before = emu.dump_state()
    tasks = lifecycle_tasks()

    # -- check mode: every change predicted, nothing sent that mutates, state untouched
    emu.log.clear()
    check = ok(run_tasks_in_process(info_tasks() + [checked(t) for t in tasks], module_defaults=defaults(emu)))
    info, check = check[:5], check[5:]
    assert mutations(emu) == []
    assert emu.dump_state() == before
    assert [r["changed"] for r in check] == [True] * 7 + [False] + [True] * 3
    assert [r["name"] for r in info[0]["registries"]] == ["gone", "main"]
    assert sorted(u["name"] for u in info[1]["users"]) == ["ci", "old"]
    assert check[2]["diff"]["after"]["main/alice"]["read_only"] is True
    assert "secret" not in check[2]["diff"]["after"]["main/alice"]
    assert check[1]["diff"] == {"before": info[0]["registries"][1], "after": check[1]["registry"]}
    assert check[1]["registry"]["provider_data"]["storage_limit_gib"] == 30

    # -- apply: ansible-playbook at -vvv with --diff; neither the API token nor a user's secret is in its output
    emu.log.clear()
    apply = ok(run_tasks(tasks, module_defaults=defaults(emu), env={"ANSIBLE_VERBOSITY": "3"}, diff=True))
    assert "EXEC" in apply.stdout and DEFAULT_API_KEY not in apply.stdout + apply.stderr
    assert [r["changed"] for r in apply] == [r["changed"] for r in check]
    for predicted, done in zip(check, apply):
        assert predicted["actions"] == done["actions"]
    sent = mutations(emu)
    base = emu.base_path()
    main_id = registry_state(emu, "main")["id"]
    assert ("POST", base, {"name": "fresh", "storage_limit": 20}) in sent
    assert ("PATCH", "%s/%d/resize" % (base, main_id), {"storage_limit": 30}) in sent
    batch = [s for s in sent if s[1].endswith("/users/batch")]
    assert [(method, path) for method, path, _body in batch] == [("POST", "%s/%d/users/batch" % (base, main_id))]
    users_sent = batch[0][2]["users"]
    secrets_sent = [user.pop("secret") for user in users_sent]
    assert users_sent == [{"name": "alice", "duration": 30, "read_only": True}, {"name": "bob", "duration": 30, "read_only": True}]
    assert all(len(secret) == 32 and secret.isalnum() for secret in secrets_sent) and len(set(secrets_sent)) == 2
    assert [s for s in sent if s[1].endswith("/users")] == []  # no single-user create next to the batch
    repo = "%s/%d/repositories/team%%252F" % (base, main_id)
    assert ("DELETE", repo + "app/artifacts/%s/tags/v1" % DIGEST_A, None) in sent
    assert ("DELETE", repo + "app/artifacts/%s" % DIGEST_B, None) in sent
    assert ("DELETE", repo + "old", None) in sent

    # the emulator's state
    assert registry_state(emu, "fresh")["storage_limit"] == 20
    assert registry_state(emu, "main")["storage_limit"] == 30
    assert registry_state(emu, "gone") is None
    assert not [a for a in emu.artifacts.values() if a["registry_id"] not in emu.registries]
    assert not [u for u in emu.users.values() if u["registry_id"] not in emu.registries]
    assert not [r for r in emu.repositories.values() if r["registry_id"] not in emu.registries]
    users = users_of(emu, "main")
    assert sorted(users) == ["alice", "bob", "ci"]
    assert (users["alice"]["read_only"], users["alice"]["duration"]) == (True, 30)
    assert (users["ci"]["read_only"], users["ci"]["duration"]) == (False, 30)
    assert tags_of(emu, "main", "team/app") == {DIGEST_A: ["latest"]}
    assert [r["name"] for r in registry_state(emu, "main")["repositories"]] == ["team/app"]

    # results: short name and login, secrets only on create / refresh, masked in every diff
    created = {u["name"]: u for u in apply[2]["users"]}
    assert created["alice"]["login"] == LOGIN_PREFIX + "main+alice"
    assert created["alice"]["secret"] == users["alice"]["secret"]
    assert created["bob"]["secret"] == users["bob"]["secret"]
    assert apply[2]["diff"]["after"]["main/alice"]["secret"] == MASK
    assert apply[10]["users"][0]["secret"] == users["ci"]["secret"]
    assert apply[10]["diff"]["after"]["main/ci"]["secret"] == MASK
    assert "secret" not in apply[3]["users"][0]
    all_secrets = [users[n]["secret"] for n in ("alice", "bob", "ci")]
    for result in apply:
        text = json.dumps(result.get("diff"))
        assert not [s for s in all_secrets if s in text], result["diff"]
    # -vvv prints each result whole: a user's secret shows in the output of the task that created or refreshed it only
    assert {name: printed_by(apply, users[name]["secret"]) for name in ("alice", "bob", "ci")} == {
        "alice": [2], "bob": [2], "ci": [10]}
    assert apply[4]["diff"]["before"]["main/old"]["login"] == LOGIN_PREFIX + "main+old"
    assert apply[4]["diff"]["after"] == {}

    # -- again: nothing changes, nothing mutating is sent, no secret comes back
    emu.log.clear()
    again = ok(run_tasks_in_process(tasks[:10] + info_tasks(), module_defaults=defaults(emu)))
    again, info = again[:10], again[10:]
    assert [r["changed"] for r in again] == [False] * 10
    assert mutations(emu) == []
    assert [a["action"] for a in again[2]["actions"]] == ["unchanged", "unchanged"]
    assert [a["action"] for a in again[9]["actions"]] == ["absent"]
    assert all("secret" not in u for u in again[2]["users"])
    assert sorted(r["name"] for r in info[0]["registries"]) == ["fresh", "main"]
    main = [r for r in info[0]["registries"] if r["name"] == "main"][0]
    assert main["storage_used_bytes"] == 100 and main["storage_limit_bytes"] == 30 * 1024 ** 3
    assert main["provider_data"]["docker_host"] == "registry.luxembourg-2.cloud.gcore.dev"
    listed = {u["name"]: u for u in info[1]["users"]}
    assert sorted(listed) == ["alice", "bob", "ci"]
    assert all("secret" not in u for u in listed.values())
    assert listed["bob"]["login"] == LOGIN_PREFIX + "main+bob"
    assert [r["name"] for r in info[2]["repositories"]] == ["team/app"]
    assert [(a["digest"], a["tags"]) for a in info[3]["artifacts"]] == [(DIGEST_A, ["latest"])]
    assert [(t["name"], t["digest"]) for t in info[4]["tags"]] == [("latest", DIGEST_A)]
    assert "%s/%d/repositories/team%%252Fapp/artifacts" % (base, main_id) in [p for _unused, p in calls(emu)]


# ---------------------------------------------------------------------------------------------
# Connection: header, options and environment variables

def awx_credential_env(inputs):
    """The environment AWX gives a job from ``meta/awx/credential_type_gcore.yml`` and credential ``inputs``."""
    credential_type = yaml.safe_load((REPO_ROOT / "meta" / "awx" / "credential_type_gcore.yml").read_text(encoding="utf-8"))
    fields = {f["id"]: f for f in credential_type["inputs"]["fields"]}
    assert sorted(credential_type["inputs"]["required"]) == sorted(inputs) == sorted(fields)
    assert fields["api_key"].get("secret") is True
    return {name: jinja2.Template(value).render(**inputs) for name, value in credential_type["injectors"]["env"].items()}


def test_auth_header_ids_from_options_and_env(emu):
    emu.add_registry("main")
    wrong_env = {"GCORE_API_KEY": "not-the-key", "GCORE_CLOUD_PROJECT_ID": "999", "GCORE_CLOUD_REGION_ID": "998"}
    # options win over the environment
    ok(run_tasks_in_process([task("registry_info", **connection(emu))], env=wrong_env))
    assert emu.log.records and all(r.headers.get("Authorization") == "APIKey ***" for r in emu.log.records)
    assert calls(emu) == [("GET", emu.base_path())]

    # the environment, as AWX injects it from the custom credential type of meta/awx, through ansible-playbook
    emu.log.clear()
    env = awx_credential_env({"api_key": DEFAULT_API_KEY, "project_id": str(DEFAULT_PROJECT_ID), "region_id": str(DEFAULT_REGION_ID)})
    assert sorted(env) == ["GCORE_API_KEY", "GCORE_CLOUD_PROJECT_ID", "GCORE_CLOUD_REGION_ID"]
    result = ok(run_tasks([task("registry_info", provider="gcore", api_url=emu.url)], env=env))[0]
    assert [r["name"] for r in result["registries"]] == ["main"]
    assert calls(emu) == [("GET", emu.base_path())]
    assert emu.log.records[0].headers.get("Authorization") == "APIKey ***"

    # another provider's variables are never read; a missing id fails before any request
    emu.log.clear()
    env = {"VULTR_API_KEY": DEFAULT_API_KEY, "GCORE_CLOUD_REGION_ID": str(DEFAULT_REGION_ID)}
    results = run_tasks_in_process([
        task("registry_info", ignore=True, provider="gcore", api_url=emu.url, project_id=DEFAULT_PROJECT_ID),
        task("registry_info", ignore=True, provider="gcore", api_url=emu.url, api_token=DEFAULT_API_KEY),
        task("registry", ignore=True, name="main", provider="gcore", api_url=emu.url, api_token=DEFAULT_API_KEY),
    ], env=env)
    assert [r.get("failed") for r in results] == [True, True, True], results.output
    assert "api_token" in results[0]["msg"] and "GCORE_API_KEY" in results[0]["msg"]
    assert "VULTR" not in results[0]["msg"]
    for result in results[1:]:
        assert "project_id" in result["msg"] and "GCORE_CLOUD_PROJECT_ID" in result["msg"], result
    assert len(emu.log) == 0


# ---------------------------------------------------------------------------------------------
# Validation happens before any request

def test_validation_before_any_request(emu):
    emu.add_registry("main")
    cases = [
        (task("registry", name="Bad_Name"), "registry name 'Bad_Name' is not valid"),
        (task("registry", name="x"), "registry name 'x' is not valid"),
        (task("registry", name="ends-"), "registry name 'ends-' is not valid"),
        (task("registry_user", registry="main", name=["my-user"], duration=1), "user name 'my-user' is not valid"),
        (task("registry_user", registry="main", name=["a" * 17], duration=1), "user name '%s' is not valid" % ("a" * 17)),
        (task("registry", name="main", storage_limit=0), "storage_limit must be between 1 and 1000"),
        (task("registry", name="main", storage_limit=1001), "storage_limit must be between 1 and 1000"),
        (task("registry_user", registry="main", name=["ok"], duration=366), "duration must be between -1"),
        (task("registry_user", registry="main", name=["ok"], duration=-2), "duration must be between -1"),
        (task("repository", registry="main", name="team/app"), "repository"),
        (task("tag", registry="main", repository="team/app", name=["v1"], digest=DIGEST_A), "tag"),
    ]
    emu.log.clear()
    results = run_tasks_in_process([dict(t, ignore_errors=True) for t, _unused in cases], module_defaults=defaults(emu))
    for (_unused, expected), result in zip(cases, results):
        assert result.get("failed") is True, (expected, result)
        assert expected in result["msg"], (expected, result["msg"])
    # what Gcore cannot do is named (no repository create, no tag create)
    assert "state=absent" in results[9]["msg"] and "state=absent" in results[10]["msg"]
    assert len(emu.log) == 0, calls(emu)


# ---------------------------------------------------------------------------------------------
# Users: PATCH bodies, group actions, refresh_secret

def test_user_patch_sends_both_fields_and_group_actions(emu):
    reg = emu.add_registry("main")
    for name in ("u1", "u2", "u3"):
        emu.add_user(reg["id"], name, duration=30, read_only=False)
    emu.add_user(reg["id"], "ro", duration=30, read_only=True)
    emu.add_user(reg["id"], "dur", duration=45, read_only=True)
    ids = {u["name"].rsplit("+", 1)[1]: u["id"] for u in registry_state(emu, "main")["users"]}
    tasks = [
        task("registry_user", registry="main", name=["u1", "u2", "u3"], read_only=True),   # group: permissions
        task("registry_user", registry="main", name=["ro"], duration=60),                 # only duration
        task("registry_user", registry="main", name=["dur"], read_only=False),            # only read_only
        task("registry_user", registry="main", name=["u1", "u2", "u3"], state="absent"),  # group: delete
    ]
    emu.log.clear()
    results = ok(run_tasks_in_process(tasks, module_defaults=defaults(emu)))
    assert [r["changed"] for r in results] == [True] * 4
    base = "%s/%d/users/" % (emu.base_path(), reg["id"])
    sent = mutations(emu)  # one request per user, sent concurrently: compare each module run as a set
    assert sorted(sent[:3], key=str) == [("PATCH", base + str(ids[n]), {"duration": 30, "read_only": True}) for n in ("u1", "u2", "u3")]
    assert sent[3:5] == [("PATCH", base + str(ids["ro"]), {"duration": 60, "read_only": True}),
                         ("PATCH", base + str(ids["dur"]), {"duration": 45, "read_only": False})]
    assert sorted(sent[5:], key=str) == [("DELETE", base + str(ids[n]), None) for n in ("u1", "u2", "u3")]
    users = users_of(emu, "main")
    assert sorted(users) == ["dur", "ro"]
    assert (users["ro"]["duration"], users["ro"]["read_only"]) == (60, True)
    assert (users["dur"]["duration"], users["dur"]["read_only"]) == (45, False)
    assert [u["name"] for u in results[0]["users"]] == ["u1", "u2", "u3"]
    assert all(u["read_only"] is True and "secret" not in u for u in results[0]["users"])


@pytest.mark.parametrize("shape", ["object", "list", "collection"])
def test_batch_create_answer_shapes(emu, shape):
    emu.configure(batch_shape=shape)
    emu.add_registry("main")
    tasks = [
        task("registry_user", registry="main", name=["a1", "a2", "a3"], duration=-1, read_only=False),
        task("registry_user_info", registry="main"),
    ]
    emu.log.clear()
    results = ok(run_tasks_in_process(tasks, module_defaults=defaults(emu)))
    assert emu.log.count(method="POST") == 1
    assert [r.path.rsplit("/", 2)[1:] for r in emu.log.mutating()] == [["users", "batch"]]
    users = users_of(emu, "main")
    created = {u["name"]: u for u in results[0]["users"]}
    assert sorted(created) == ["a1", "a2", "a3"]
    assert all(u["expires_at"] is None and u["duration"] == -1 and u["login"] == LOGIN_PREFIX + "main+" + n
               for n, u in created.items())
    # Whatever the answer holds (the spec's single object has one user), every new user's secret comes back:
    # the module generated and sent them.
    assert {n: u["secret"] for n, u in created.items()} == {n: u["secret"] for n, u in users.items()}
    assert len(set(u["secret"] for u in created.values())) == 3
    assert not results[0].get("warnings")
    assert all("secret" not in u for u in results[1]["users"])


# ---------------------------------------------------------------------------------------------
# Errors, retries, pagination

def test_conflict_is_not_retried_and_error_body_is_surfaced(emu):
    emu.add_registry("main")
    emu.error(409, method="POST", message="Registry already exists", exception_class="ConflictError")
    emu.error(409, method="POST", message="User already exists", exception_class="ConflictError")
    emu.error(403, method="DELETE", message="Deleting this registry is forbidden")
    emu.log.clear()
    results = run_tasks([
        task("registry", name="newreg", storage_limit=5, ignore=True),
        task("registry_user", registry="main", name=["solo"], duration=7, ignore=True),
        task("registry", name="main", state="absent", ignore=True),
    ], module_defaults=defaults(emu))
    assert [r.get("failed") for r in results] == [True, True, True], results.output
    posts = emu.log.filter(method="POST")
    assert [(r.path, r.status) for r in posts] == [(emu.base_path(), 409), (emu.base_path() + "/601/users", 409)]
    assert "Registry already exists" in results[0]["msg"]
    assert "User already exists" in results[1]["msg"] and "ConflictError" in results[1]["msg"]
    assert "HTTP 403 DELETE" in results[2]["msg"] and "ForbiddenError: Deleting this registry is forbidden" in results[2]["msg"]
    request_id = results[2]["msg"].rsplit("(request_id ", 1)[1].rstrip(")")
    assert len(request_id) == 36, results[2]["msg"]
    assert [r.status for r in emu.log.filter(method="DELETE")] == [403]
    assert registry_state(emu, "newreg") is None and users_of(emu, "main") == {}


def test_rate_limit_and_server_errors_are_retried(emu):
    emu.add_registry("main")
    emu.add_registry("old")
    emu.rate_limit(times=2, retry_after="1", method="GET")
    emu.server_error(times=2, status=503, method="POST")
    emu.server_error(times=1, status=502, method="DELETE")
    emu.log.clear()
    results = ok(run_tasks([
        task("registry_info"),
        task("registry", name="new", storage_limit=3),
        task("registry", name="old", state="absent"),
    ], module_defaults=defaults(emu)))
    assert [r["name"] for r in results[0]["registries"]] == ["main", "old"]
    assert [r.status for r in emu.log.records[:3]] == [429, 429, 200]
    assert [w for w in results[0]["warnings"] if "429" in w and "in 1.0s" in w]
    assert len(results[0]["warnings"]) == 2
    assert [r.status for r in emu.log.filter(method="POST")] == [503, 503, 201]
    assert [r.status for r in emu.log.filter(method="DELETE")] == [502, 204]
    assert [w for w in results[2]["warnings"] if "502" in w]
    assert sorted(r["name"] for r in emu.dump_state()["registries"]) == ["main", "new"]


def test_limit_offset_pagination(emu):
    emu.configure(max_limit=2, default_limit=2)
    for name in ("r1", "r2", "r3"):
        emu.add_registry(name)
    for index in range(5):
        emu.add_user("r1", "user%d" % index, duration=10)
        emu.add_artifact("r1", "team/repo%d" % index, digest="sha256:%064d" % index, tags=["t%d" % index])
        emu.add_artifact("r1", "team/repo0", digest="sha256:%064d" % (index + 10), tags=["x%d" % index])
    emu.log.clear()
    results = ok(run_tasks_in_process([
        task("registry_info"),
        task("registry_user_info", registry="r1"),
        task("repository_info", registry="r1"),
        task("artifact_info", registry="r1", repository=["team/repo0"]),
        task("registry_user", registry="r1", name=["user4"], duration=10),  # on the last page: unchanged
        task("tag", registry="r1", repository="team/repo0", name=["x4"], state="absent"),
    ], module_defaults=defaults(emu)))
    assert [r["name"] for r in results[0]["registries"]] == ["r1", "r2", "r3"]
    assert [u["name"] for u in results[1]["users"]] == ["user%d" % i for i in range(5)]
    assert [r["name"] for r in results[2]["repositories"]] == ["team/repo%d" % i for i in range(5)]
    assert len(results[3]["artifacts"]) == 6
    assert results[4]["changed"] is False and results[5]["changed"] is True
    assert [r.query.get("offset") for r in emu.log.filter(method="GET", path_prefix=emu.base_path() + "/601/users")][:3] == ["0", "2", "4"]
    assert all(r.query.get("limit") for r in emu.log.filter(method="GET"))
    assert "x4" not in str(tags_of(emu, "r1", "team/repo0"))
