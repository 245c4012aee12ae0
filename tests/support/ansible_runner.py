"""Run tasks/playbooks with the real ``ansible-playbook`` from the venv against the repo as ``regops.registry``."""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from tests.support import known_secrets, warm_python

REPO_ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_BIN_DIR = Path(sys.executable).parent
_RESULT_PREFIX = "_regops_r"
_COLLECTIONS_DIR = None
# sitecustomize that reuses the bytecode of AnsiballZ payloads across module runs (see its docstring)
ZIPIMPORT_CACHE_DIR = str(REPO_ROOT / "tests" / "support" / "zipimport_cache")
# the callback that writes run_tasks' registered results to a file
HARNESS_CALLBACKS_DIR = str(REPO_ROOT / "tests" / "support" / "callback_plugins")


class AnsibleRunError(AssertionError):
    """ansible-playbook did not produce results; message carries its stdout/stderr."""


class SecretPrinted(AssertionError):
    """ansible-playbook printed a connection secret (tests/support/known_secrets.py)."""


def _refuse_printed_secrets(stdout, stderr, printed_by_ansible=()):
    """Every run of the harness: no connection secret the test set-up handed out may appear in the output, except
    ``printed_by_ansible``: values a test hands to ansible-core where ansible prints them itself (a task's
    ``environment:`` is in the ``-vvv`` EXEC line); such a test asserts that it does."""
    printed = [value for value in known_secrets.found_in(stdout + "\n" + stderr) if value not in printed_by_ansible]
    if printed:
        raise SecretPrinted("ansible-playbook printed %d connection secret(s) (%s):\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            len(printed), ", ".join(known_secrets.masked(value) for value in printed), stdout[-6000:], stderr[-3000:]))


class TaskResults(list):
    """List of per-task result dicts, plus ``rc``, ``stdout``, ``stderr`` of the run."""

    def __init__(self, results, rc, stdout, stderr):
        super().__init__(results)
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    @property
    def output(self):
        """Combined output, handy in assertion messages: ``assert ..., results.output``."""
        return f"rc={self.rc}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


def collections_dir():
    """A temp dir holding ``ansible_collections/regops/registry`` -> repo root (created once per process)."""
    global _COLLECTIONS_DIR  # pylint: disable=global-statement
    if _COLLECTIONS_DIR is None:
        base = tempfile.mkdtemp(prefix="regops-collections-")
        ns_dir = Path(base, "ansible_collections", "regops")
        ns_dir.mkdir(parents=True)
        (ns_dir / "registry").symlink_to(REPO_ROOT, target_is_directory=True)
        atexit.register(shutil.rmtree, base, True)
        _COLLECTIONS_DIR = base
    return _COLLECTIONS_DIR


def ansible_env(workdir, env=None):
    """Environment for ansible-playbook subprocesses (``PYTHONPATH`` only for the bytecode cache, when it is on)."""
    result = dict(os.environ)
    for key in list(result):
        if key.startswith("ANSIBLE_"):
            del result[key]
    result.update({
        "ANSIBLE_COLLECTIONS_PATH": collections_dir(),
        "ANSIBLE_LOCAL_TEMP": os.path.join(workdir, "tmp"),
        "ANSIBLE_REMOTE_TMP": os.path.join(workdir, "tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "0",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
        "PATH": str(ANSIBLE_BIN_DIR) + os.pathsep + result.get("PATH", ""),
    })
    # every run at -vvv with --diff (REGOPS_E2E_VERBOSITY and REGOPS_E2E_DIFF change it): what the tests search for a
    # secret is the most ansible prints
    result["ANSIBLE_VERBOSITY"] = os.environ.get("REGOPS_E2E_VERBOSITY", "3")
    result["ANSIBLE_DIFF_ALWAYS"] = os.environ.get("REGOPS_E2E_DIFF", "1")
    result.pop("PYTHONPATH", None)
    if result.get("REGOPS_ZIPIMPORT_CACHE"):
        result["PYTHONPATH"] = ZIPIMPORT_CACHE_DIR
        # every run of this process builds a module's AnsiballZ payload once (see the sitecustomize's docstring)
        result["REGOPS_ANSIBALLZ_DIR"] = os.path.join(collections_dir(), "ansiballz")
    if env:
        result.update(env)
    return result


def _write_inventory(workdir):
    path = os.path.join(workdir, "inventory.ini")
    python = warm_python.interpreter(ansible_env(workdir))
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(f"localhost ansible_connection=local ansible_python_interpreter={python}\n")
    return path


def _cmd(  # pylint: disable=too-many-arguments,too-many-positional-arguments
        playbook, inventory, extra_vars_file, check, diff, extra_args):
    cmd = [str(ANSIBLE_BIN_DIR / "ansible-playbook"), "-i", inventory, playbook]
    if extra_vars_file:
        cmd += ["-e", "@" + extra_vars_file]
    if check:
        cmd.append("--check")
    if diff:
        cmd.append("--diff")
    cmd += list(extra_args or ())
    return cmd


def _write_extra_vars(workdir, extra_vars):
    if not extra_vars:
        return None
    path = os.path.join(workdir, "extra_vars.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(extra_vars, handle)
    return path


# pylint: disable-next=too-many-arguments,too-many-positional-arguments
def run_playbook(path, extra_vars=None, check=False, diff=False, env=None, extra_args=None, timeout=600, printed_by_ansible=()):
    """Run an existing playbook on localhost; returns ``(rc, stdout, stderr)``. Fails when the output shows a connection
    secret (see :func:`_refuse_printed_secrets`)."""
    workdir = tempfile.mkdtemp(prefix="regops-play-")
    try:
        os.makedirs(os.path.join(workdir, "tmp"))
        cmd = _cmd(str(path), _write_inventory(workdir), _write_extra_vars(workdir, extra_vars), check, diff, extra_args)
        proc = subprocess.run(cmd, cwd=workdir, env=ansible_env(workdir, env), capture_output=True, text=True,
                              timeout=timeout, check=False)
        _refuse_printed_secrets(proc.stdout, proc.stderr, printed_by_ansible)
        return proc.returncode, proc.stdout, proc.stderr
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# pylint: disable-next=too-many-arguments,too-many-locals
def run_tasks(tasks, *, check=False, diff=False, extra_vars=None, env=None, module_defaults=None, timeout=600,
              printed_by_ansible=()):
    """Run ``tasks`` in a localhost play; returns a :class:`TaskResults` with one result dict per task.

    Each task's registered result is returned (``changed``, ``failed``, ``msg`` and module
    return values). When a task fails the play stops: later tasks get ``{"not_run": True}``.
    A task's own ``register`` name is honoured. Raises :class:`AnsibleRunError` (with
    stdout/stderr) when no results could be collected (syntax error, unknown module, ...), and
    :class:`SecretPrinted` when the output shows a connection secret (every run is at ``-vvv``).
    """
    workdir = tempfile.mkdtemp(prefix="regops-tasks-")
    try:
        os.makedirs(os.path.join(workdir, "tmp"))
        results_file = os.path.join(workdir, "results.json")
        names = []
        play_tasks = []
        for index, task in enumerate(tasks):
            task = dict(task)
            task.setdefault("register", f"{_RESULT_PREFIX}{index}")
            names.append(task["register"])
            play_tasks.append(task)
        pairs = ", ".join(f"{json.dumps(n)}: ({n} | default(none))" for n in names)
        dump_expr = "{{ {" + pairs + "} | to_json }}"
        dump_task = {  # written to results_file by the harness's callback (tests/support/callback_plugins)
            "name": "regops test harness: hand the registered results over",
            "ansible.builtin.set_stats": {"data": {"regops_harness_results": dump_expr}, "per_host": False, "aggregate": False},
            "check_mode": False, "diff": False, "no_log": True,  # the results were printed by their own tasks
        }
        play = {"name": "regops test tasks", "hosts": "localhost", "gather_facts": False,
                "tasks": [{"block": play_tasks, "always": [dump_task]}]}
        if module_defaults:
            play["module_defaults"] = module_defaults
        playbook = os.path.join(workdir, "play.yml")
        with open(playbook, "w", encoding="utf-8") as handle:
            yaml.safe_dump([play], handle, sort_keys=False)
        cmd = _cmd(playbook, _write_inventory(workdir), _write_extra_vars(workdir, extra_vars), check, diff, None)
        run_env = ansible_env(workdir, env)
        run_env.update(ANSIBLE_CALLBACK_PLUGINS=HARNESS_CALLBACKS_DIR, REGOPS_HARNESS_RESULTS=results_file,
                       ANSIBLE_CALLBACKS_ENABLED=",".join(filter(None, [run_env.get("ANSIBLE_CALLBACKS_ENABLED"), "regops_harness"])))
        proc = subprocess.run(cmd, cwd=workdir, env=run_env, capture_output=True, text=True, timeout=timeout, check=False)
        _refuse_printed_secrets(proc.stdout, proc.stderr, printed_by_ansible)
        if not os.path.exists(results_file):
            with open(playbook, encoding="utf-8") as handle:
                play_text = handle.read()
            raise AnsibleRunError(f"ansible-playbook produced no results (rc={proc.returncode})\n--- playbook ---\n{play_text}\n"
                                  f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")
        with open(results_file, encoding="utf-8") as handle:
            raw = json.load(handle)
        results = [raw.get(n) if raw.get(n) is not None else {"not_run": True} for n in names]
        return TaskResults(results, proc.returncode, proc.stdout, proc.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
