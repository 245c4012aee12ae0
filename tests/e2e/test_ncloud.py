"""End to end: every module with ``provider: ncloud`` against the Naver Cloud (NCR) emulator.

Each ``run_tasks`` call is one ansible-playbook run; tasks are batched so the file stays fast. Runs whose subject is the
module, not ansible-core (check-mode and re-run phases, bad input and refusals, clean runs beside faulted ones), go
through ``run_tasks_in_process``; applies at ``-vvv``, faulted runs and the 401 answers stay ansible-playbook runs, with
the keys from the environment. The emulator checks every
request's API Gateway signature as the gateway does. Where tags that share a digest are removed, the emulator is backed
by a real registry (``ncr_backend``): each NCR registry's ``end_point`` is a ``/v2/`` front on it, so the OCI path runs for
real, under both readings of NCR's tag DELETE (``tag_delete_semantics``), and the real registry is checked with
``SeedClient``.
"""

# pylint: disable=redefined-outer-name,too-many-locals,too-many-statements
import json
from datetime import datetime, timezone

import pytest

from tests.emulators.ncloud import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, NcloudEmulator, ncr_backend
from tests.support.ansible_runner import run_tasks
from tests.support.module_runner import run_tasks_in_process
from tests.support.seed import SeedClient
from tests.support.tasks import checked, ok, task

MUTATING = ("POST", "PUT", "PATCH", "DELETE")
KEYS = {"NCLOUD_ACCESS_KEY": DEFAULT_ACCESS_KEY, "NCLOUD_SECRET_KEY": DEFAULT_SECRET_KEY}
NO_KEYS = {"NCLOUD_ACCESS_KEY": "", "NCLOUD_SECRET_KEY": ""}
VERBOSE = {"ANSIBLE_VERBOSITY": "3"}
API = "/ncr/api/v2/repositories"
SETTINGS = {"clock_skew": 0, "tag_delete_semantics": "manifest", "error_shape": "return", "registry_shape": "spec", "tag_extras": False,
            "keys": [{"access_key": DEFAULT_ACCESS_KEY, "secret_key": DEFAULT_SECRET_KEY, "read_only": False}]}
D1, D2, D3, D4 = ("sha256:" + c * 64 for c in "1234")
CLOCK = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)  # the emulator's time: when it creates what it dates


@pytest.fixture(scope="module")
def emulator():
    """One in-memory NCR emulator for the file's tests that need no registry behind it."""
    with NcloudEmulator(clock=lambda: CLOCK) as emu:
        yield emu


@pytest.fixture
def emu(emulator):
    emulator.configure(**SETTINGS)
    emulator.reset()
    yield emulator
    emulator.reset()
    emulator.configure(**SETTINGS)


@pytest.fixture(scope="module")
def backed_emulator():
    """A second emulator, backed by a real registry (distribution): every NCR registry gets its ``/v2/`` front."""
    with NcloudEmulator() as emu:
        backend = ncr_backend(emu)
        try:
            yield emu
        finally:
            backend.stop()


@pytest.fixture(params=["manifest", "tag"])
def backed(backed_emulator, request):
    backed_emulator.configure(**dict(SETTINGS, tag_delete_semantics=request.param))
    backed_emulator.reset()
    yield backed_emulator
    backed_emulator.reset()


def defaults(emu, **extra):
    """``module_defaults`` for the collection's action group (the keys come from the environment unless given)."""
    options = {"provider": "ncloud", "api_url": emu.url}
    options.update(extra)
    return {"group/regops.registry.all": options}


def mutations(emu, prefix=API):
    """``(method, target)`` of every mutating API request (the fronts' ``/v2/`` requests are left out)."""
    return [(r.method, r.target) for r in emu.log.records if r.method in MUTATING and r.path.startswith(prefix)]


def snapshot(emu, region="kr"):
    """What a run changes: ``{registry: {"bucket", "storage_type", "images": {image: (description, full_description, {tag: digest})}}}``."""
    return {reg["name"]: {"bucket": reg["bucket"], "storage_type": reg["storage_type"],
                          "images": {i["name"]: (i["description"], i["full_description"], {t["name"]: t["digest"] for t in i["tags"]})
                                     for i in reg["images"]}}
            for reg in emu.dump_state()["regions"][region]}


def seed(emu):
    """main (objectStorage, bucket main-bucket): team/app (v1 on D1; v2 and latest on D2; old on D3), old-app (x on D4);
    legacy (ncloudStorage)."""
    emu.add_registry("main", bucket="main-bucket")
    emu.add_image("main", "team/app", description="old", full_description="# old", tags=[
        {"name": "v1", "digest": D1, "created": "2026-05-01T00:00:00Z", "updated": "2026-05-01T00:00:00Z"},
        {"name": "v2", "digest": D2, "created": "2026-05-02T00:00:00Z", "updated": "2026-05-02T00:00:00Z",
         "latest_pulled": "2026-05-20T00:00:00Z", "platforms": ["linux/amd64", "linux/arm64/v8"]},
        {"name": "latest", "digest": D2, "updated": "2026-05-03T00:00:00Z"},
        {"name": "old", "digest": D3, "created": "2026-04-01T00:00:00Z", "updated": "2026-04-01T00:00:00Z"}])
    emu.add_image("main", "old-app", tags=[{"name": "x", "digest": D4}])
    emu.add_registry("legacy", storage_type="ncloudStorage")


def info_tasks():
    return [
        task("registry_info"),                                                                     # 0
        task("registry_info", name="main"),                                                        # 1
        task("repository_info", registry="main"),                                                  # 2
        task("repository_info", registry="main", name=["team/app", "nope"]),                       # 3
        task("tag_info", registry="main", repository=["team/app"]),                                # 4
        task("artifact_info", registry="main"),                                                    # 5
        task("artifact", registry="main", repository="team/app", digest=[D1]),                     # 6 present: exists
    ]


def lifecycle_tasks():
    """One task per module and state, in diff mode."""
    return [
        task("registry", name="fresh", storage_type="objectStorage", bucket="fresh-bucket", diff=True),                  # 0
        task("registry", name="scratch", storage_type="ncloudStorage", diff=True),                                       # 1
        task("registry", name="legacy", state="absent", diff=True),                                                      # 2
        task("repository", registry="main", name="team/app", description="The API", full_description="# team/app\nBuilt by CI.",
             diff=True),                                                                                                  # 3
        task("repository", registry="main", name="old-app", state="absent", diff=True),                                  # 4
        task("tag", registry="main", repository=["team/app"], name=["v1"], expected_digests={"v1": D1}, state="absent",
             diff=True),                                                                                                  # 5
        task("artifact", registry="main", repository="team/app", digest=[D3], expected_tags={D3: ["old"]}, state="absent",
             diff=True),                                                                                                  # 6
    ]


@pytest.mark.compat
def test_every_module_check_apply_again_diff(emu):
    seed(emu)
    before = snapshot(emu)
    tasks = lifecycle_tasks()

    # -- check mode: every change predicted, nothing mutating sent; keys from the environment, in no result
    check_run = ok(run_tasks_in_process(info_tasks() + [checked(t) for t in tasks], module_defaults=defaults(emu), env=KEYS))
    info, check = check_run[:7], check_run[7:]
    assert mutations(emu) == []
    assert snapshot(emu) == before
    assert [r["changed"] for r in check] == [True] * 7
    assert [(r["name"], r["provider_data"]["storage_type"], r["provider_data"]["bucket"]) for r in info[0]["registries"]] == [
        ("legacy", "ncloudStorage", None), ("main", "objectStorage", "main-bucket")]
    main = info[1]["registries"]
    assert len(main) == 1 and (main[0]["name"], main[0]["url"], main[0]["region"], main[0]["provider_data"]["end_point_enabled"]) == (
        "main", "main.kr.ncr.ntruss.com", "kr", True)
    assert [(r["name"], r["description"], r["location"]) for r in info[2]["repositories"]] == [
        ("old-app", "", "main.kr.ncr.ntruss.com/old-app"), ("team/app", "old", "main.kr.ncr.ntruss.com/team/app")]
    assert [(r["name"], r["provider_data"]["full_description"]) for r in info[3]["repositories"]] == [("team/app", "# old")]
    tags = {t["name"]: t for t in info[4]["tags"]}
    assert sorted(tags) == ["latest", "old", "v1", "v2"]
    assert (tags["v2"]["digest"], tags["v2"]["pulled_at"], tags["v2"]["provider_data"]["platforms"]) == (
        D2, "2026-05-20T00:00:00Z", ["linux/amd64", "linux/arm64/v8"])
    assert tags["v1"]["pushed_at"] == "2026-05-01T00:00:00Z" and tags["v1"]["pulled_at"] is None
    assert tags["v1"]["provider_data"]["size_bytes"] == 1024
    artifacts = {a["digest"]: a for a in info[5]["artifacts"]}
    assert {d: a["tags"] for d, a in artifacts.items()} == {D1: ["v1"], D2: ["latest", "v2"], D3: ["old"], D4: ["x"]}
    assert artifacts[D2]["platforms"] == ["linux/amd64", "linux/arm64/v8"] and len(artifacts[D2]["children"]) == 2
    assert artifacts[D2]["created_at"] == "2026-05-02T00:00:00Z" and artifacts[D2]["pulled_at"] == "2026-05-20T00:00:00Z"
    assert info[6]["changed"] is False and info[6]["actions"] == [{"ref": "team/app@" + D1, "action": "unchanged"}]
    assert check[0]["registry"]["provider_data"]["bucket"] == "fresh-bucket" and check[1]["registry"]["provider_data"]["storage_type"] == "ncloudStorage"
    assert check[3]["repository"]["description"] == "The API"

    # -- apply, ansible-playbook at -vvv in diff mode (keys from module_defaults): neither key in its output
    emu.log.clear()
    apply = ok(run_tasks(tasks, module_defaults=defaults(emu, access_key=DEFAULT_ACCESS_KEY, secret_key=DEFAULT_SECRET_KEY),
                         env=dict(NO_KEYS, **VERBOSE), diff=True))
    assert [r["changed"] for r in apply] == [True] * 7
    for predicted, done in zip(check, apply):
        assert predicted["actions"] == done["actions"]
    for index in (2, 3, 4, 5, 6):
        key = {2: "registry", 3: "repository", 4: "repository", 5: "tags", 6: "artifacts"}[index]
        assert check[index][key] == apply[index][key], index
    assert apply[0]["registry"]["url"] == "fresh.kr.ncr.ntruss.com" and apply[0]["registry"]["created_at"] == "2026-06-01T12:00:00Z"
    assert apply[0]["diff"]["before"] == {} and apply[0]["diff"]["after"]["provider_data"]["bucket"] == "fresh-bucket"
    assert apply[3]["diff"]["before"]["description"] == "old" and apply[3]["diff"]["after"]["description"] == "The API"
    assert apply[4]["diff"] == {"before": apply[4]["repository"], "after": {}}
    assert apply[5]["diff"] == {"before": {"team/app:v1": apply[5]["tags"][0]}, "after": {}}
    assert apply[6]["artifacts"][0]["tags"] == ["old"]
    assert sorted(mutations(emu)) == sorted([
        ("POST", API + "/fresh"), ("POST", API + "/scratch"), ("DELETE", API + "/legacy"),
        ("PATCH", API + "/main/team%2Fapp"), ("DELETE", API + "/main/old-app"),
        ("DELETE", API + "/main/team%2Fapp/tags/v1"), ("DELETE", API + "/main/team%2Fapp/tags/old"),
    ])
    posts = [json.loads(r.body) if isinstance(r.body, str) else r.body for r in emu.log.records if r.method == "POST"]
    assert sorted(posts, key=json.dumps) == sorted([{"storageType": "objectStorage", "bucket": "fresh-bucket"},
                                                    {"storageType": "ncloudStorage"}], key=json.dumps)
    after = snapshot(emu)
    assert sorted(after) == ["fresh", "main", "scratch"]
    assert (after["fresh"]["storage_type"], after["fresh"]["bucket"]) == ("objectStorage", "fresh-bucket")
    assert after["scratch"]["storage_type"] == "ncloudStorage"
    assert after["main"]["images"] == {"team/app": ("The API", "# team/app\nBuilt by CI.", {"v2": D2, "latest": D2})}
    for output in (check_run.stdout + check_run.stderr, apply.stdout + apply.stderr):
        assert DEFAULT_SECRET_KEY not in output and DEFAULT_ACCESS_KEY not in output

    # -- again: nothing changes, nothing mutating is sent
    emu.log.clear()
    again = ok(run_tasks_in_process(tasks, module_defaults=defaults(emu), env=KEYS, diff=True))
    assert [r["changed"] for r in again] == [False] * 7
    assert mutations(emu) == []
    assert snapshot(emu) == after
    assert [a["action"] for r in again for a in r["actions"]] == ["unchanged", "unchanged", "absent", "unchanged", "absent", "absent", "absent"]
    # every request the emulator saw was signed right (the emulator answers 401 otherwise), page and pagesize always sent
    assert all(r.status != 401 for r in emu.log.records)
    assert all("page=" in r.target and "pagesize=" in r.target for r in emu.log.records
               if r.method == "GET" and (r.path == API or r.path.count("/") == 5 or r.path.endswith("/tags")))


def test_regions_pick_the_stage_prefix(emu):
    emu.add_registry("seoul", bucket="seoul-bucket")
    emu.add_registry("sing", region="sgn", bucket="sing-bucket")
    results = ok(run_tasks_in_process([
        task("registry_info"),                                                                       # kr, api_url without a path
        task("registry_info", region="sgn"),                                                         # sgn, the prefix added
        task("registry_info", region="sgn", api_url=emu.api_url("sgn")),                             # sgn, api_url with the prefix
        task("registry", name="south", storage_type="ncloudStorage", region="gov-krs"),              # a government zone
        task("registry_info", region="GOV-KRS"),
    ], module_defaults=defaults(emu), env=KEYS))
    assert [[r["name"] for r in result["registries"]] for result in (results[0], results[1], results[2], results[4])] == [
        ["seoul"], ["sing"], ["sing"], ["south"]]
    assert results[1]["registries"][0]["region"] == "sgn" and results[4]["registries"][0]["region"] == "gov-krs"
    assert [r.path for r in emu.log.records] == [
        "/ncr/api/v2/repositories", "/ncr/sgn-api/v2/repositories", "/ncr/sgn-api/v2/repositories", "/ncr/krs/v2/repositories",
        "/ncr/krs/v2/repositories/south", "/ncr/krs/v2/repositories", "/ncr/krs/v2/repositories"]
    assert emu.registry_names("gov-krs") == ["south"] and emu.registry_names("kr") == ["seoul"]


# ---------------------------------------------------------------------------------------------
# Refusals: bad input before any request; what NCR cannot do, clearly

def test_bad_input_fails_before_any_request(emu):
    cases = [
        (task("registry_info", region="us"), "region 'us' is not an NCR region: one of kr, sgn, jpn, gov-kr, gov-krs"),
        (task("registry", name="Main_Reg", storage_type="ncloudStorage"), "registry name 'Main_Reg' is not valid on NCR"),
        (task("registry", name="main", storage_type="ncloudStorage", bucket="main-bucket"), "bucket does not go with storage_type ncloudStorage"),
        (task("registry", name="main", bucket="No_Such"), "bucket 'No_Such' is not an Object Storage bucket name"),
        (task("registry", name="main", plan="business"), "Provider 'ncloud' does not support the option(s) plan for registry"),
        (task("repository", registry="main", name="team/app", description="x" * 101), "description is 101 characters long"),
        (task("repository", registry="main", name="team/App", state="absent"), "repository name 'team/App' is not valid"),
        (task("repository", name="team/app", state="absent"), "provider ncloud needs registry"),
        (task("repository_info"), "provider ncloud needs registry"),
        (task("tag", registry="main", repository=["team/app"], name=["v1"], digest=D1), "does not support tag state=present"),
        (task("tag", registry="main", name=["team/app:bad tag"], state="absent"), "tag 'bad tag' is not valid"),
        (task("tag", registry="main", name=["team/app:v1"], expected_digests={"team/app:v1": "sha256:abc"}, state="absent"),
         "digest 'sha256:abc' is not valid"),
        (task("artifact", registry="main", repository="team/app", digest=["sha256:abc"], state="absent"), "digest 'sha256:abc' is not valid"),
        (task("registry_user", registry="main", name=["ci"]), "NCR has no users"),
        # the ncloud options on other providers
        (task("tag_info", provider="vultr", api_token="vultr-key-123", registry="main", repository=["app"], region="ewr"),
         "Provider 'vultr' does not support the option(s) region for tag"),
        (task("repository", provider="vultr", api_token="vultr-key-123", registry="main", name="app", full_description="# app"),
         "Provider 'vultr' does not support the option(s) full_description for repository"),
        (task("registry", provider="gcore", api_token="gcore-key-123", project_id=1, region_id=2, name="main", bucket="b1b"),
         "Provider 'gcore' does not support the option(s) bucket for registry"),
        (task("repository_info", provider="oci", access_key=DEFAULT_ACCESS_KEY, secret_key=DEFAULT_SECRET_KEY),
         "Provider 'oci' does not support the option(s) access_key, secret_key for repository"),
    ]
    results = run_tasks_in_process([dict(t, ignore_errors=True) for t, _m in cases], module_defaults=defaults(emu), env=KEYS)
    for result, (_item, message) in zip(results, cases):
        assert result.get("failed") is True, (message, result)
        assert message in result["msg"], (message, result["msg"])
    assert DEFAULT_SECRET_KEY not in results.stdout + results.stderr
    # no keys in the task nor in the environment (only NCLOUD_*: another provider's variables are never read)
    keyless = run_tasks_in_process([task("registry_info", ignore=True), task("registry_info", access_key=DEFAULT_ACCESS_KEY, ignore=True)],
                                   module_defaults=defaults(emu), env=dict(NO_KEYS, VULTR_API_KEY="vultr-key-123"))
    assert [r["msg"] for r in keyless] == [
        "provider ncloud needs access_key and secret_key (or NCLOUD_ACCESS_KEY and NCLOUD_SECRET_KEY in the environment): an API "
        "authentication key of the NCP account or of a sub account (missing: %s)" % missing for missing in ("access_key, secret_key", "secret_key")]
    assert len(emu.log) == 0, [(r.method, r.target) for r in emu.log.records]


def test_what_ncr_cannot_do_fails_clearly_and_changes_nothing(emu):
    seed(emu)
    tasks = [
        task("registry", name="main", bucket="other-bucket", ignore=True),
        task("registry", name="main", storage_type="ncloudStorage", ignore=True),
        task("registry", name="fresh", ignore=True),
        task("repository", registry="main", name="never-pushed", description="x", ignore=True),
        task("repository", registry="nope", name="app", description="x", ignore=True),
        task("artifact", registry="main", repository="team/app", digest=[D4]),  # present: D4 is in old-app, not here
    ]
    tasks[-1]["ignore_errors"] = True
    for check in (True, False):
        results = run_tasks_in_process([checked(t) if check else t for t in tasks], module_defaults=defaults(emu), env=KEYS)
        messages = [r.get("msg", "") for r in results]
        assert all(r.get("failed") for r in results), results.output
        assert ("registry main has storage_type objectStorage and bucket 'main-bucket'; the task asks for storage_type objectStorage and "
                "bucket 'other-bucket'. NCR cannot change a registry's storage type or bucket") in messages[0]
        assert "the task asks for storage_type ncloudStorage and bucket 'main-bucket'" in messages[1]
        assert "bucket is required to create registry fresh with storage_type objectStorage" in messages[2]
        assert "image never-pushed does not exist in registry main: NCR creates an image when it is first pushed" in messages[3]
        assert "registry nope does not exist in region kr" in messages[4]
        assert "team/app@%s does not exist" % D4 in messages[5]
    assert mutations(emu) == []


def test_401_says_clock_skew(emu):
    emu.add_registry("main")
    emu.configure(clock_skew=900)
    skewed = run_tasks([task("registry_info", ignore=True)], module_defaults=defaults(emu), env=KEYS)
    emu.configure(clock_skew=0, keys=[{"access_key": DEFAULT_ACCESS_KEY, "secret_key": "a-different-secret"}])
    wrong = run_tasks([task("registry_info", ignore=True)], module_defaults=defaults(emu), env=KEYS)
    for result in (skewed[0], wrong[0]):
        assert result["failed"] is True and "HTTP 401" in result["msg"]
        assert "more than 5 minutes off" in result["msg"] and "secret key does not belong to the access key" in result["msg"]
    assert [r.status for r in emu.log.records] == [401, 401]  # not retried
    assert DEFAULT_SECRET_KEY not in skewed.stdout + skewed.stderr + wrong.stdout + wrong.stderr


# ---------------------------------------------------------------------------------------------
# Faults: 429 with Retry-After, 5xx, resets; the run ends in the clean run's state

FAULT_TASKS = [
    task("registry", name="fresh", storage_type="ncloudStorage"),
    task("registry", name="legacy", state="absent"),
    task("repository", registry="main", name="team/app", description="faulted", full_description="# faulted"),
    task("repository", registry="main", name="old-app", state="absent"),
    task("tag", registry="main", repository=["team/app"], name=["v1"], state="absent"),
    task("artifact", registry="main", repository="team/app", digest=[D3], expected_tags={D3: ["old"]}, state="absent"),
    task("artifact_info", registry="main"),
]


def test_faulted_run_ends_in_the_clean_state(emu):
    seed(emu)
    clean = ok(run_tasks_in_process(FAULT_TASKS, module_defaults=defaults(emu), env=KEYS))
    expected = snapshot(emu)

    emu.reset()
    seed(emu)
    emu.log.clear()
    emu.rate_limit(times=2, retry_after="1", method="GET", path_prefix=API)
    emu.server_error(times=1, status=503, method="POST", path_prefix=API + "/fresh")
    emu.server_error(times=1, status=502, method="PATCH")
    emu.server_error(times=1, status=500, method="DELETE", path_prefix=API + "/main/team%2Fapp/tags")
    emu.server_error(times=1, status=504, method="GET", path_prefix=API + "/main")
    emu.reset_connection(times=1, method="DELETE", path_prefix=API + "/legacy")
    emu.reset_connection(times=1, method="GET", path_prefix=API + "/main/old-app")
    faulted = ok(run_tasks(FAULT_TASKS, module_defaults=defaults(emu), env=KEYS))
    assert snapshot(emu) == expected
    assert [r["changed"] for r in faulted] == [r["changed"] for r in clean] == [True] * 6 + [False]
    assert [r["actions"] for r in faulted[:6]] == [r["actions"] for r in clean[:6]]
    assert faulted[6]["artifacts"] == clean[6]["artifacts"]
    statuses = [r.status for r in emu.log.records]
    assert statuses.count(429) == 2 and {500, 502, 503, 504} <= set(statuses) and statuses.count(None) == 2
    warnings = [w for r in faulted for w in r.get("warnings", [])]
    assert [w for w in warnings if "answered 429" in w and "in 1.0s" in w]
    assert [w for w in warnings if "answered 503" in w] and [w for w in warnings if "ConnectionError" in w]
    # the create is sent again only after the 503 (the API did not act), and signed afresh each time
    posts = [r for r in emu.log.records if r.method == "POST"]
    assert [r.status for r in posts] == [503, 201]
    assert posts[0].headers["x-ncp-apigw-timestamp"] != posts[1].headers["x-ncp-apigw-timestamp"]
    assert all(r.status != 401 for r in emu.log.records)


# ---------------------------------------------------------------------------------------------
# Tags that share a digest: over the registry's own host, under both readings of NCR's tag DELETE

def test_shared_digest_tags_over_the_oci_path(backed):
    backed.add_registry("main")
    pusher = SeedClient(backed.front_url("main"), DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
    first = pusher.push_image("team/app", tags=["v1", "v1-alias", "keep"], created="2026-03-01T00:00:00Z")
    second = pusher.push_image("team/app", tags=["solo"], created="2026-03-02T00:00:00Z")
    third = pusher.push_image("team/app", tags=["gone-a", "gone-b"], created="2026-03-03T00:00:00Z")
    backed.log.clear()
    remove = task("tag", registry="main", repository=["team/app"], name=["v1", "solo"], expected_digests={"v1": first, "solo": second},
                  state="absent", diff=True)
    # the listing and the check in-process; the removal through ansible-playbook at -vvv with --diff; the rest in-process
    runs = [
        ok(run_tasks_in_process([
            task("tag_info", registry="main", repository=["team/app"]),                                                 # 0
            checked(remove),                                                                                            # 1
        ], module_defaults=defaults(backed), env=KEYS)),
        ok(run_tasks([remove], module_defaults=defaults(backed), env=dict(KEYS, **VERBOSE), diff=True)),                 # 2
        ok(run_tasks_in_process([
            remove,                                                                                                     # 3 again
            task("tag", registry="main", name=["team/app:keep"], expected_digests={"team/app:keep": second}, state="absent"),  # 4 moved
            task("tag", registry="main", name=["team/app:gone-a", "team/app:gone-b"], state="absent"),                  # 5 both: the API
            task("artifact", registry="main", repository="team/app", digest=[first], expected_tags={first: ["v1-alias", "keep"]},
                 state="absent"),                                                                                       # 6
            task("tag_info", registry="main", repository=["team/app"]),                                                 # 7
        ], module_defaults=defaults(backed), env=KEYS)),
    ]
    results = [result for run in runs for result in run]
    assert [(t["name"], t["digest"]) for t in results[0]["tags"]] == [
        ("gone-a", third), ("gone-b", third), ("keep", first), ("solo", second), ("v1", first), ("v1-alias", first)]
    assert results[0]["tags"][2]["provider_data"]["created_at"] == "2026-03-01T00:00:00Z"
    assert results[1]["changed"] is True and results[1]["actions"] == [{"ref": "team/app:v1", "action": "deleted"},
                                                                       {"ref": "team/app:solo", "action": "deleted"}]
    assert results[2]["actions"] == results[1]["actions"] and results[2]["changed"] is True
    assert results[3]["changed"] is False and [a["action"] for a in results[3]["actions"]] == ["absent", "absent"]
    assert results[4]["changed"] is False and results[4]["actions"][0]["action"] == "skipped" and results[4]["actions"][0]["reason"] == "moved"
    assert results[5]["changed"] is True and results[6]["changed"] is True and results[6]["artifacts"][0]["tags"] == ["keep", "v1-alias"]
    assert results[7]["tags"] == []
    # what the API was asked: solo (alone on its digest) by the API; v1 over the OCI path, then the throwaway's tag by the API
    api_deletes = [t for m, t in mutations(backed)]
    tags = API + "/main/team%2Fapp/tags/"
    assert api_deletes[:2] == [tags + "solo", tags + "v1"]
    assert sorted(api_deletes[2:]) == sorted([tags + "gone-a", tags + "gone-b", tags + "keep", tags + "v1-alias"])
    front = [(r.method, r.path) for r in backed.log.records if r.path.startswith("/v2/")]
    assert ("PUT", "/v2/team/app/manifests/v1") in front and not [m for m, p in front if m == "DELETE"]
    assert ("PUT", "/v2/team/app/manifests/solo") not in front
    # v1-alias and keep survived the removal of v1 (the artifact delete found them on its digest); the registry agrees
    assert pusher.tag_map("team/app") == {}
    assert pusher.manifest_exists("team/app", second) is (backed.tag_delete_semantics == "tag")
    assert "EXEC" in runs[1].stdout
    assert not [run for run in runs if DEFAULT_SECRET_KEY in run.stdout + run.stderr]


def test_siblings_survive_and_the_throwaway_goes(backed):
    backed.add_registry("main")
    pusher = SeedClient(backed.front_url("main"), DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
    first = pusher.push_image("team/app", tags=["v1", "v1-alias"])
    index_child = pusher.push_image("team/app", tags=["amd64"], arch="amd64")
    index = pusher.push_index("team/app", tags=["multi"], children=[index_child])
    results = ok(run_tasks_in_process([
        task("tag", registry="main", repository=["team/app"], name=["v1", "amd64"], state="absent"),
        task("tag_info", registry="main", repository=["team/app"]),
        task("artifact_info", registry="main", repository=["team/app"]),
    ], module_defaults=defaults(backed), env=KEYS))
    assert [a["action"] for a in results[0]["actions"]] == ["deleted", "deleted"]
    assert [(t["name"], t["digest"]) for t in results[1]["tags"]] == [("multi", index), ("v1-alias", first)]
    # v1-alias kept its manifest, and the index its child, whatever NCR's tag DELETE removes
    assert pusher.tag_map("team/app") == {"multi": index, "v1-alias": first}
    assert pusher.manifest_exists("team/app", first) and pusher.manifest_exists("team/app", index_child)
    digests = {a["digest"] for a in results[2]["artifacts"]}
    assert digests == {first, index}  # no throwaway left with a tag
    assert not [r for r in backed.log.records if r.method == "DELETE" and r.path.startswith("/v2/")]
