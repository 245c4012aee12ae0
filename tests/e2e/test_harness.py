"""Prove the e2e harness and the distribution 2.8 behaviours the collection relies on."""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.support import ansible_runner, warm_python
from tests.support.faultproxy import FaultRule
from tests.support.registry import MUTATING_METHODS
from tests.support.seed import DOCKER_MANIFEST, MANIFEST_ACCEPT, OCI_INDEX, OCI_MANIFEST, SeedClient, SeedError


def _error_code(resp):
    return resp.json()["errors"][0]["code"]


def test_htpasswd_rejects_bad_credentials(registry):
    resp = requests.get(registry.url + "/v2/", auth=(registry.username, "wrong"), timeout=5)
    assert resp.status_code == 401
    assert resp.headers["WWW-Authenticate"].startswith("Basic ")
    assert requests.get(registry.url + "/v2/", timeout=5).status_code == 401
    assert requests.get(registry.url + "/v2/", auth=(registry.username, registry.password), timeout=5).status_code == 200
    bad = SeedClient(registry.url, registry.username, "wrong")
    try:
        bad.tags("any/repo")
    except SeedError as exc:
        assert "401" in str(exc)
    else:
        raise AssertionError("bad credentials were accepted")


def test_seed_standard(seed, seeded):
    app, multi, lib = seeded["app"], seeded["multi"], seeded["lib"]
    assert seed.tag_map(app["repo"]) == app["tags"]
    assert sorted(app["tags"]) == ["latest", "legacy", "v1", "v1.0", "v2", "v3"]
    assert len(set(app["digests"].values())) == 4
    assert app["tags"]["v1"] == app["tags"]["latest"] == app["tags"]["v1.0"]
    assert seed.get_manifest(app["repo"], "legacy")[0] == DOCKER_MANIFEST
    assert seed.get_manifest(app["repo"], "v2")[0] == OCI_MANIFEST

    assert seed.tag_map(multi["repo"]) == {"1.0": multi["index"], "latest": multi["index"]}
    media_type, body = seed.get_manifest(multi["repo"], "latest")
    assert media_type == OCI_INDEX
    assert b"arm64" in body and b"amd64" in body
    for child in multi["children"].values():
        assert seed.manifest_exists(multi["repo"], child)
    assert seed.tags(lib["repo"]) == ["1.0", "2.0"]
    assert set(seeded["repos"].values()) <= set(seed.catalog())


def test_manifest_get_needs_full_accept(seed, seeded):
    """2.8 hides OCI manifests and rewrites Docker schema2 to schema1 unless Accept lists them."""
    app = seeded["app"]
    resp = seed.request("GET", f"/v2/{app['repo']}/manifests/v2", ok=None)
    assert resp.status_code == 404 and _error_code(resp) == "MANIFEST_UNKNOWN"
    resp = seed.request("GET", f"/v2/{app['repo']}/manifests/legacy", ok=None)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/vnd.docker.distribution.manifest.v1")
    assert resp.headers["Docker-Content-Digest"] != app["tags"]["legacy"]
    resp = seed.request("HEAD", f"/v2/{app['repo']}/manifests/legacy", headers={"Accept": MANIFEST_ACCEPT})
    assert resp.headers["Docker-Content-Digest"] == app["tags"]["legacy"]


def test_delete_by_tag_is_digest_invalid(seed, seeded):
    repo = seeded["app"]["repo"]
    resp = seed.request("DELETE", f"/v2/{repo}/manifests/v2", ok=None)
    assert resp.status_code == 400
    assert _error_code(resp) == "DIGEST_INVALID"
    assert seed.resolve(repo, "v2") == seeded["app"]["tags"]["v2"]


def test_delete_by_digest_removes_every_tag(seed, seeded):
    app = seeded["app"]
    resp = seed.delete_manifest(app["repo"], app["digests"]["v1"])
    assert resp.status_code == 202
    assert seed.tags(app["repo"]) == ["legacy", "v2", "v3"]
    assert not seed.manifest_exists(app["repo"], app["digests"]["v1"])
    again = seed.delete_manifest(app["repo"], app["digests"]["v1"], ok=None)
    assert again.status_code == 404 and _error_code(again) == "MANIFEST_UNKNOWN"


def test_deleting_index_keeps_children(seed, seeded):
    multi = seeded["multi"]
    seed.delete_manifest(multi["repo"], multi["index"])
    assert seed.tags(multi["repo"]) == []
    for child in multi["children"].values():
        assert seed.manifest_exists(multi["repo"], child)


def test_tags_list_unsorted_and_ignores_n(seed, prefix):
    repo = prefix + "/order"
    order = ["m", "c", "x", "a", "q", "f", "z", "b"]  # neither sorted nor reverse-sorted
    seed.push_image(repo, order)
    full = seed.request("GET", f"/v2/{repo}/tags/list")
    assert sorted(full.json()["tags"]) == sorted(order)
    assert full.json()["tags"] != sorted(order)
    paged = seed.request("GET", f"/v2/{repo}/tags/list?n=2")
    assert len(paged.json()["tags"]) == len(order)
    assert "Link" not in paged.headers
    missing = seed.request("GET", f"/v2/{prefix}/nothing/tags/list", ok=(404,))
    assert _error_code(missing) == "NAME_UNKNOWN"
    assert seed.tags(prefix + "/nothing") == []


def test_catalog_link_is_relative(seed, prefix):
    repos = [f"{prefix}/c{int(i)}" for i in range(3)]
    for repo in repos:
        seed.push_image(repo, ["x"])
    resp = seed.request("GET", "/v2/_catalog?n=1")
    assert len(resp.json()["repositories"]) == 1
    assert resp.headers["Link"].startswith("</v2/_catalog?last=")
    assert resp.headers["Link"].endswith('>; rel="next"')
    paged = seed.catalog(page_size=2)
    assert paged == seed.catalog()
    assert set(repos) <= set(paged)
    too_many = seed.request("GET", "/v2/_catalog?n=5000", ok=(400,))
    assert _error_code(too_many) == "PAGINATION_NUMBER_INVALID"


def test_delete_disabled_is_405_unsupported(nodelete_seed, prefix):
    repo = prefix + "/nodel"
    digest = nodelete_seed.push_image(repo, ["a"])
    for ref in (digest, "a"):
        resp = nodelete_seed.request("DELETE", f"/v2/{repo}/manifests/{ref}", ok=None)
        assert resp.status_code == 405
        assert _error_code(resp) == "UNSUPPORTED"
    assert nodelete_seed.tags(repo) == ["a"]


def test_token_auth_full_and_pull_only(token_registry, token_seed, prefix):
    server = token_registry.token_server
    before = server.issued_count
    repo = prefix + "/tok"
    digest = token_seed.push_image(repo, ["a", "b"])
    assert token_seed.tag_map(repo) == {"a": digest, "b": digest}
    assert repo in token_seed.catalog()
    assert server.issued_count > before
    assert {"type": "registry", "name": "catalog", "actions": ["*"]} in [a for i in server.issued for a in i["access"]]

    reader = SeedClient.for_registry(token_registry, token_registry.reader_username, token_registry.reader_password)
    assert reader.tags(repo) == ["a", "b"]
    resp = reader.delete_manifest(repo, digest, ok=None)
    assert resp.status_code == 401
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]
    assert server.issued[-1]["access"] == [{"type": "repository", "name": repo, "actions": []}]

    assert token_seed.delete_manifest(repo, digest).status_code == 202
    assert token_seed.tags(repo) == []

    bad = requests.get(server.realm, params={"service": server.service, "scope": f"repository:{repo}:pull"},
                       auth=(token_registry.username, "wrong"), timeout=5)
    assert bad.status_code == 401


def test_token_expiry_is_enforced(token_registry):
    server = token_registry.token_server
    old = server.expires_in
    server.expires_in = 2
    try:
        resp = requests.get(server.realm, params={"service": server.service, "scope": "registry:catalog:*"},
                            auth=(token_registry.username, token_registry.password), timeout=5)
    finally:
        server.expires_in = old
    body = resp.json()
    assert body["expires_in"] == 2 and body["token"] == body["access_token"]
    headers = {"Authorization": "Bearer " + body["token"]}
    assert requests.get(token_registry.url + "/v2/_catalog", headers=headers, timeout=5).status_code == 200
    time.sleep(2.1)  # iat is whole seconds: valid for >= 1 s, rejected after 2 s
    assert requests.get(token_registry.url + "/v2/_catalog", headers=headers, timeout=5).status_code == 401


def test_request_log(registry, seed, prefix):
    repo = prefix + "/log"
    start = registry.mark()
    digest = seed.push_image(repo, ["a"])
    seed.tags(repo)
    seen = registry.requests_since(start)
    assert ("PUT", f"/v2/{repo}/manifests/a", 201) in seen
    assert ("GET", f"/v2/{repo}/tags/list", 200) in seen
    assert any(e.method == "POST" and e.status == 202 for e in seen)

    read_only = registry.mark()
    seed.resolve(repo, "a")
    seed.request("GET", f"/v2/{repo}/manifests/{digest}", headers={"Accept": MANIFEST_ACCEPT})
    requests.get(registry.url + "/v2/", timeout=5)  # unauthenticated 401s are logged too
    assert registry.mutations_since(read_only) == []
    later = registry.requests_since(read_only)
    assert ("HEAD", f"/v2/{repo}/manifests/a", 200) in later
    assert ("GET", "/v2/", 401) in later
    assert {e.method for e in registry.request_log()} & MUTATING_METHODS


@pytest.mark.compat
def test_run_tasks_runs_real_ansible():
    link = Path(ansible_runner.collections_dir(), "ansible_collections", "regops", "registry")
    assert link.resolve() == ansible_runner.REPO_ROOT
    results = ansible_runner.run_tasks([
        {"name": "say hello", "ansible.builtin.debug": {"msg": "hello {{ who }}"}},
        {"ansible.builtin.debug": {"var": "ansible_python_interpreter"}},
        {"ansible.builtin.command": "false"},
        {"ansible.builtin.debug": {"msg": "never"}},
    ], extra_vars={"who": "world"})
    assert results[0] == {"msg": "hello world", "changed": False, "failed": False}, results.output
    # module processes run on the warm interpreter (tests/support/warm_python.py) unless it is turned off
    assert results[1]["ansible_python_interpreter"] == warm_python.interpreter(None)
    assert results[2]["failed"] is True and results[2]["rc"] == 1
    assert results[3] == {"not_run": True}
    assert results.rc == 2


@pytest.mark.skipif(not warm_python.enabled(), reason="REGOPS_WARM_PYTHON=0: the harness runs no warm interpreter")
def test_warm_interpreter_runs_a_script_as_python_would(tmp_path):
    """The client hands its argv, cwd, environment and streams to a forked child of the server; the child's exit status
    is the client's, and a script that raises fails as Python fails (status 1, the traceback on stderr)."""
    python = warm_python.interpreter(ansible_runner.ansible_env(str(tmp_path)))
    script = tmp_path / "AnsiballZ_probe.py"
    script.write_text(
        "import os, sys\n"
        "print(os.getcwd(), os.environ['PROBE'], sys.argv, os.path.dirname(os.path.abspath(sys.path[0])), sep='|')\n"
        "print('to stderr', file=sys.stderr)\n"
        "print(sorted(m for m in sys.modules if m.startswith('ansible_collections')))\n"
        "sys.exit(int(sys.argv[1]))\n", encoding="utf-8")
    proc = subprocess.run([python, str(script), "3"], cwd=str(tmp_path), env=dict(os.environ, PROBE="seen"),
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 3, proc.stderr
    cwd, probe, argv, path_dir = proc.stdout.splitlines()[0].split("|")
    assert (cwd, probe, argv, path_dir) == (str(tmp_path), "seen", repr([str(script), "3"]), str(tmp_path.parent))
    assert proc.stdout.splitlines()[1] == "[]"  # the collection comes from the payload, never from the server
    assert proc.stderr == "to stderr\n"

    script.write_text("raise ValueError('boom')\n", encoding="utf-8")
    proc = subprocess.run([python, str(script)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1 and "ValueError: boom" in proc.stderr


@pytest.mark.skipif(not warm_python.enabled(), reason="REGOPS_WARM_PYTHON=0: the harness runs no warm interpreter")
def test_warm_interpreter_client_killed_takes_its_run_with_it(tmp_path):
    """Killing the client (what a timeout or a killed ansible-playbook does) kills the module run it started."""
    python = warm_python.interpreter(ansible_runner.ansible_env(str(tmp_path)))
    pid_file = tmp_path / "pid"
    script = tmp_path / "sleeper.py"
    script.write_text(f"import os, time\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(600)\n",
                      encoding="utf-8")
    with subprocess.Popen([python, str(script)]) as client:
        deadline = time.monotonic() + 30
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.02)
        child = int(pid_file.read_text())
        assert Path(f"/proc/{child}").exists()
        client.kill()
    deadline = time.monotonic() + 30
    while Path(f"/proc/{child}").exists() and Path(f"/proc/{child}/stat").read_text().split()[2] != "Z":
        assert time.monotonic() < deadline, "the module run outlived its client"
        time.sleep(0.02)


def test_zipimport_cache_reuses_bytecode_and_names_the_real_file(tmp_path):
    """The harness's bytecode cache (tests/support/zipimport_cache): a second import from another zip with the same
    source reads the stored code, reports its own file in tracebacks, and a changed source is compiled afresh."""
    import subprocess
    import sys
    import zipfile

    cache = tmp_path / "cache"

    def import_from_zip(name, source):
        archive = tmp_path / name
        with zipfile.ZipFile(archive, "w") as handle:
            handle.writestr("payload_mod.py", source)
        probe = ("import sys; sys.path.insert(0, %r); import payload_mod, traceback\n"
                 "try:\n    payload_mod.boom()\nexcept ValueError:\n    print(traceback.format_exc().splitlines()[-3])\n"
                 "print(payload_mod.VALUE)") % str(archive)
        env = dict(ansible_runner.ansible_env(str(tmp_path)), REGOPS_ZIPIMPORT_CACHE=str(cache))
        env["PYTHONPATH"] = ansible_runner.ZIPIMPORT_CACHE_DIR
        proc = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
        return proc.stdout.splitlines()

    source = "VALUE = 'one'\n\ndef boom():\n    raise ValueError('x')\n"
    first = import_from_zip("first.zip", source)
    assert first[1] == "one" and "first.zip" in first[0]
    stored = sorted(p.name for p in cache.iterdir())
    assert len(stored) == 1 and not stored[0].endswith(".tmp")
    written = (cache / stored[0]).stat().st_mtime_ns
    second = import_from_zip("second.zip", source)
    assert second[1] == "one" and "second.zip" in second[0] and "first.zip" not in second[0]
    assert sorted(p.name for p in cache.iterdir()) == stored
    assert (cache / stored[0]).stat().st_mtime_ns == written  # read, not compiled and written again
    third = import_from_zip("third.zip", source.replace("'one'", "'two'"))
    assert third[1] == "two" and len(list(cache.iterdir())) == 2


def test_controller_compiles_the_collection_code_once_through_the_cache(tmp_path):
    """The same cache on the controller side: ansible-core's collection loader (``get_code``) and a source file loaded
    without bytecode beside it (a filter plugin, loaded by path) store their code once; the next process reads it, with
    the file's own name in its tracebacks."""
    import hashlib
    import subprocess
    import sys

    cache = tmp_path / "cache"
    plugin = tmp_path / "some_filter.py"
    plugin.write_text("def boom():\n    raise ValueError('x')\n", encoding="utf-8")
    probe = (
        "import importlib.util, traceback\n"
        "from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder\n"
        "_AnsibleCollectionFinder(paths=[%r])._install()\n"
        "from ansible_collections.regops.registry.plugins.module_utils import retention\n"
        "print(retention.__spec__.loader.get_code(retention.__name__).co_filename)\n"
        "spec = importlib.util.spec_from_file_location('some_filter', %r)\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "try:\n    module.boom()\nexcept ValueError:\n    print(traceback.format_exc().splitlines()[-3])\n"
    ) % (ansible_runner.collections_dir(), str(plugin))
    env = dict(ansible_runner.ansible_env(str(tmp_path)), REGOPS_ZIPIMPORT_CACHE=str(cache),
               PYTHONPATH=ansible_runner.ZIPIMPORT_CACHE_DIR, PYTHONDONTWRITEBYTECODE="1")

    def run():
        return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout.splitlines()

    retention_py = ansible_runner.REPO_ROOT / "plugins" / "module_utils" / "retention.py"
    keys = {hashlib.sha256(sys.implementation.cache_tag.encode() + b"\0" + path.read_bytes()).hexdigest()
            for path in (retention_py, plugin)}
    first = run()
    assert first[0].endswith("plugins/module_utils/retention.py") and str(plugin) in first[1], first
    assert keys <= {p.name for p in cache.iterdir()}
    written = {key: (cache / key).stat().st_mtime_ns for key in keys}
    assert run() == first
    assert {key: (cache / key).stat().st_mtime_ns for key in keys} == written  # read, not compiled and written again


def test_runs_of_one_test_process_build_a_module_payload_once(tmp_path, monkeypatch):
    """The harness's shared AnsiballZ cache (tests/support/zipimport_cache/sitecustomize.py): the first run of a module
    builds its payload into the process's directory, the next run reads it from there (the file is not written again),
    and a run without the harness's cache builds its own as ansible-playbook does."""
    monkeypatch.setenv("REGOPS_ZIPIMPORT_CACHE", str(tmp_path / "bytecode"))
    shared = Path(ansible_runner.collections_dir(), "ansiballz", "ansiballz_cache")
    task = {"regops.registry.tag_info": {"provider": "oci", "api_url": "http://127.0.0.1:9", "repository": "BAD NAME"},
            "ignore_errors": True}

    def payloads():
        return dict((p.name, p.stat().st_mtime_ns) for p in shared.glob("*tag_info*") if not p.name.endswith(".lock"))

    first = ansible_runner.run_tasks([task])
    assert "is not valid" in first[0]["msg"], first.output
    built = payloads()
    assert len(built) == 1, sorted(built)
    time.sleep(0.01)
    second = ansible_runner.run_tasks([task])
    assert second[0]["msg"] == first[0]["msg"] and payloads() == built

    monkeypatch.setenv("REGOPS_ZIPIMPORT_CACHE", "")
    env = ansible_runner.ansible_env(str(tmp_path))
    assert "REGOPS_ANSIBALLZ_DIR" not in env and "PYTHONPATH" not in env


def test_module_runner_runs_a_module_as_its_own_process(registry, seed, prefix):
    """tests/support/module_runner.py: the module's result as it printed it, check mode passed as the executor passes it,
    and a failing module's message and exit status."""
    from tests.support.module_runner import run_module

    digest = seed.push_image(prefix + "/app", tags=["v1", "v2"])
    args = dict(registry.oci_args(), name=[prefix + "/app:v1"], state="absent")
    checked = run_module("tag", args, check=True)
    assert checked["changed"] is True and checked["rc"] == 0 and seed.tag_map(prefix + "/app") == {"v1": digest, "v2": digest}
    done = run_module("tag", args)
    assert done["changed"] is True and seed.tag_map(prefix + "/app") == {"v2": digest}
    assert run_module("tag", args)["changed"] is False
    failed = run_module("tag_info", dict(registry.oci_args(), repository=["BAD NAME"]))
    assert failed["failed"] is True and failed["rc"] == 1 and "is not valid" in failed["msg"]


def test_tasks_in_process_register_what_ansible_playbook_registers(registry, seed, prefix, fault_proxy):
    """run_tasks_in_process gives what run_tasks gives for the same tasks: module_defaults of the action group, a task's
    check_mode over the run's, diff, ignore_errors, no_log, warnings, the play stopping at the first failure; it refuses what it
    cannot run."""
    from tests.support.module_runner import run_tasks_in_process

    repo = prefix + "/app"
    digest = seed.push_image(repo, tags=["v1", "v2", "v3"])

    def tasks():
        proxy = fault_proxy(rules=[FaultRule(rate=1.0, kinds=["503"], match=r"^GET /v2/.+/tags/list", max_per_key=1)])
        return [
            {"name": "check", "regops.registry.tag": {"name": [repo + ":v1"], "state": "absent"}, "check_mode": True},
            {"regops.registry.tag": {"name": [repo + ":v1"], "state": "absent"}, "diff": True},
            {"regops.registry.tag_info": {"repository": ["BAD NAME"]}, "ignore_errors": True},
            {"regops.registry.tag_info": {"repository": [repo]}, "no_log": True},
            {"regops.registry.tag_info": {"repository": [repo], "api_url": proxy.url}},  # retried once: a warning
            {"regops.registry.tag": {"name": [repo + ":v2"], "state": "absent", "api_url": "http://127.0.0.1:9", "retries": 0}},
            {"regops.registry.tag": {"name": [repo + ":v3"], "state": "absent"}},
        ]

    def comparable(result):
        """The result with the proxy's port and the retry delays (jittered) written as 'N'."""
        return dict(result, warnings=[re.sub(r":\d+/| in [0-9.]+s", "N", w) for w in result.get("warnings", [])])

    defaults = {"group/regops.registry.all": registry.oci_args()}
    real = ansible_runner.run_tasks(tasks(), module_defaults=defaults, diff=True)
    assert seed.tag_map(repo) == {"v2": digest, "v3": digest}
    seed.tag(repo, "v1", digest)
    forked = run_tasks_in_process(tasks(), module_defaults=defaults, diff=True)
    assert seed.tag_map(repo) == {"v2": digest, "v3": digest}
    assert (real.rc, forked.rc) == (2, 2)
    assert [r.get("not_run", False) for r in forked] == [False] * 6 + [True] == [r.get("not_run", False) for r in real]
    assert [r["changed"] for r in forked[:2]] == [True, True] and "diff" in forked[1]
    for ours, theirs in zip(forked[:5], real[:5]):
        assert comparable(ours) == comparable({key: value for key, value in theirs.items() if key != "exception"})
    assert [w for w in forked[4]["warnings"] if "answered 503; retry 1 of" in w] and forked[4]["tags"] == forked[3]["tags"]
    assert forked[5]["failed"] is True and real[5]["failed"] is True
    assert '"changed": true' in forked.stdout and forked.stdout.count("censored") == 1 and forked[3]["tags"]
    with pytest.raises(ValueError, match="does not template"):
        run_tasks_in_process([{"regops.registry.tag_info": {"repository": ["{{ name }}"]}}])
    with pytest.raises(ValueError, match="loop"):
        run_tasks_in_process([{"regops.registry.tag_info": {"repository": ["a"]}, "loop": [1]}])
