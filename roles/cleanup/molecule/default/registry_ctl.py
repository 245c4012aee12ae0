# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Molecule helper for the cleanup role's scenario (not part of the role).

    python registry_ctl.py link COLLECTIONS_DIR   COLLECTIONS_DIR/ansible_collections/regops/registry -> repo root
    python registry_ctl.py start STATE_FILE       start /usr/bin/docker-registry on a free port (temp config and
                                                  htpasswd), seed it, write URL, credentials, pid and digests
    python registry_ctl.py stop STATE_FILE        stop that registry (by the pid in STATE_FILE) and remove its files

``start`` needs ``requests`` (run it with the venv's python); it seeds with tests/support/seed.py of this checkout.
"""

from __future__ import absolute_import, division, print_function

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

__metaclass__ = type

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
REGISTRY_BIN = os.environ.get("REGOPS_REGISTRY_BIN", "/usr/bin/docker-registry")
HTPASSWD_BIN = os.environ.get("REGOPS_HTPASSWD_BIN", "/usr/bin/htpasswd")


def link(collections_dir):
    """Make ``collections_dir`` hold ``ansible_collections/regops/registry`` -> the repository root."""
    namespace = os.path.join(collections_dir, "ansible_collections", "regops")
    target = os.path.join(namespace, "registry")
    if os.path.islink(target) and os.path.realpath(target) == os.path.realpath(REPO_ROOT):
        return
    os.makedirs(namespace, exist_ok=True)
    if os.path.islink(target) or os.path.isfile(target):
        os.unlink(target)
    elif os.path.isdir(target):
        shutil.rmtree(target)
    os.symlink(REPO_ROOT, target)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(url):
    try:
        with urlopen(url + "/v2/", timeout=1):
            return True
    except HTTPError as exc:
        return exc.code == 401
    except (URLError, OSError):
        return False


def _spawn(workdir, htpasswd):
    """Start the registry on a free port; returns ``(process, url, config_path)``."""
    config_path = os.path.join(workdir, "config.yml")
    log_path = os.path.join(workdir, "registry.log")
    for _attempt in range(3):
        port = _free_port()
        config = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
            "storage": {"filesystem": {"rootdirectory": os.path.join(workdir, "storage")},
                        "delete": {"enabled": True}, "maintenance": {"uploadpurging": {"enabled": False}}},
            "http": {"addr": "127.0.0.1:%d" % port, "secret": secrets.token_hex(16)},
            "auth": {"htpasswd": {"realm": "regops-molecule", "path": htpasswd}},
        }
        with open(config_path, "w", encoding="utf-8") as handle:
            json.dump(config, handle)  # JSON is YAML
        with open(log_path, "ab") as log:
            # pylint: disable-next=consider-using-with
            proc = subprocess.Popen([REGISTRY_BIN, "serve", config_path], stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        url = "http://127.0.0.1:%d" % port
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            if _answers(url):
                return proc, url, config_path
            time.sleep(0.05)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        raise SystemExit("docker-registry did not start:\n" + handle.read()[-4000:])


def _seed(url, username, password):
    """Push the scenario's history; returns ``{name: digest}`` and the repositories."""
    sys.path.insert(0, REPO_ROOT)
    from tests.support.seed import SeedClient  # pylint: disable=import-outside-toplevel

    client = SeedClient(url, username, password)
    app, web = "molecule/app", "molecule/web"
    base = b"base-" + b"x" * 4096

    def image(repo, tags, created, arch="amd64"):
        return client.push_image(repo, tags, created=created, layers=[base, b"app-" + secrets.token_bytes(1024)], arch=arch)

    d = {}
    d["v100"] = image(app, ["v1.0.0"], "2026-01-05T00:00:00Z")
    d["v110"] = image(app, ["v1.1.0", "sha-1111111"], "2026-02-10T00:00:00Z")
    d["v123"] = image(app, ["v1.2.3", "sha-3333333"], "2026-03-20T00:00:00Z")
    d["stable"] = image(app, ["stable", "pr-9"], "2026-04-01T00:00:00Z")
    d["latest"] = image(app, ["v2.0.0", "latest"], "2026-07-01T00:00:00Z")
    d["fresh"] = image(app, ["sha-aaaaaaa"], "2026-10-25T00:00:00Z")
    d["old_amd64"] = image(web, [], "2026-02-01T00:00:00Z")
    d["old_arm64"] = image(web, [], "2026-02-01T00:00:00Z", arch="arm64")
    d["old_index"] = client.push_index(web, ["2026.02"], children=[d["old_amd64"], d["old_arm64"]])
    d["new_amd64"] = image(web, [], "2026-10-01T00:00:00Z")
    d["new_arm64"] = image(web, [], "2026-10-01T00:00:00Z", arch="arm64")
    d["new_index"] = client.push_index(web, ["latest"], children=[d["new_amd64"], d["new_arm64"]])
    return d, [app, web]


def start(state_file):
    """Start and seed a registry unless the one in ``state_file`` still runs."""
    if os.path.exists(state_file):
        with open(state_file, encoding="utf-8") as handle:
            state = json.load(handle)
        if _is_ours(state) and _answers(state["url"]):
            print(json.dumps({"changed": False, "url": state["url"]}))
            return
        stop(state_file)
    workdir = tempfile.mkdtemp(prefix="regops-molecule-registry-")
    username, password = "molecule", secrets.token_urlsafe(12)
    htpasswd = os.path.join(workdir, "htpasswd")
    entry = subprocess.run([HTPASSWD_BIN, "-Bbn", username, password], check=True, capture_output=True, text=True)
    with open(htpasswd, "w", encoding="utf-8") as handle:
        handle.write(entry.stdout.strip() + "\n")
    proc, url, config_path = _spawn(workdir, htpasswd)
    state = {"url": url, "username": username, "password": password, "pid": proc.pid, "workdir": workdir,
             "config": config_path}
    try:
        state["digests"], state["repositories"] = _seed(url, username, password)
    except BaseException:
        _terminate(state)
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    os.makedirs(os.path.dirname(os.path.abspath(state_file)), exist_ok=True)
    with open(state_file, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2)
    os.chmod(state_file, 0o600)
    print(json.dumps({"changed": True, "url": url}))


def _is_ours(state):
    """True when ``state["pid"]`` is still the docker-registry serving ``state["config"]``."""
    try:
        with open("/proc/%d/cmdline" % int(state["pid"]), "rb") as handle:
            argv = handle.read().split(b"\0")
    except (OSError, KeyError, ValueError, TypeError):
        return False
    return state.get("config", "").encode() in argv


def _terminate(state):
    if not _is_ours(state):
        return
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _is_ours(state):
        time.sleep(0.05)
    if _is_ours(state):
        os.kill(pid, signal.SIGKILL)


def stop(state_file):
    """Stop the registry recorded in ``state_file`` (only that pid) and remove its files."""
    if not os.path.exists(state_file):
        print(json.dumps({"changed": False}))
        return
    with open(state_file, encoding="utf-8") as handle:
        state = json.load(handle)
    _terminate(state)
    if state.get("workdir", "").startswith(tempfile.gettempdir()):
        shutil.rmtree(state["workdir"], ignore_errors=True)
    os.unlink(state_file)
    print(json.dumps({"changed": True}))


def main(argv):
    commands = {"link": link, "start": start, "stop": stop}
    if len(argv) != 3 or argv[1] not in commands:
        raise SystemExit(__doc__)
    commands[argv[1]](argv[2])


if __name__ == "__main__":
    main(sys.argv)
