"""``ansible-playbook tests/playbooks/cleanup.yml`` in the background, for the tests that act while a run goes on (issue
14: a run killed halfway, two runs at once, pushes during a run).

:class:`RoleRun` starts the real ``ansible-playbook`` with ``subprocess.Popen`` in a session of its own; :meth:`RoleRun.kill`
kills it as a process tree: ansible-core's worker processes call ``setsid()``, so the module process (grandchild of
``ansible-playbook``) is in a session of its own, and killing the playbook's process group alone would leave the module
running. The tree is frozen first (SIGSTOP, so that nothing forks in between), then killed (SIGKILL).

:func:`wait_until` polls a request log (the registry's access log, an emulator's) until the moment a test waits for, and
fails as soon as a run ended before it.
"""

import json
import os
import signal
import subprocess
import sys
import time

from tests.support.ansible_runner import ANSIBLE_BIN_DIR, REPO_ROOT, ansible_env

PLAYBOOK = REPO_ROOT / "tests" / "playbooks" / "cleanup.yml"
RUN_TIMEOUT = 300


def wait_until(poll, predicate, runs, timeout=RUN_TIMEOUT):
    """Call ``poll()`` every few milliseconds until ``predicate(poll())``; return what it returned then. Fail when one of
    ``runs`` (:class:`RoleRun`) ended first, or after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = poll()
        if predicate(entries):
            return entries
        for run in runs:
            if run.proc.poll() is not None:
                raise AssertionError("the run ended before the moment the test waited for:\n" + run.output())
        time.sleep(0.003)
    raise AssertionError("timed out waiting in the log:\n" + "\n".join(run.output() for run in runs))


class RoleRun:
    """``ansible-playbook tests/playbooks/cleanup.yml`` started with Popen, in a session of its own. ``env``: extra
    environment (e.g. ``{"ANSIBLE_VERBOSITY": "3"}``); ``diff``: ``--diff``."""

    def __init__(self, extra_vars, workdir, env=None, diff=False):
        os.makedirs(workdir / "tmp")
        inventory = workdir / "inventory.ini"
        inventory.write_text(f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n",
                             encoding="utf-8")
        (workdir / "extra_vars.json").write_text(json.dumps(extra_vars), encoding="utf-8")
        cmd = [str(ANSIBLE_BIN_DIR / "ansible-playbook"), "-i", str(inventory), str(PLAYBOOK),
               "-e", "@" + str(workdir / "extra_vars.json")] + (["--diff"] if diff else [])
        self.stdout_path, self.stderr_path = workdir / "stdout", workdir / "stderr"
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            # pylint: disable-next=consider-using-with
            self.proc = subprocess.Popen(cmd, cwd=workdir, env=ansible_env(str(workdir), env), stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, start_new_session=True)
        self.killed = []

    def output(self):
        return (f"rc={self.proc.returncode}\n--- stdout ---\n{self.stdout_path.read_text(encoding='utf-8', errors='replace')}"
                f"\n--- stderr ---\n{self.stderr_path.read_text(encoding='utf-8', errors='replace')}")

    def wait(self, timeout=RUN_TIMEOUT):
        """``(rc, stdout)`` once the run ended."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        return self.proc.returncode, self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def tree(self):
        """The run's process and every descendant (by parent pid, from /proc), parents first."""
        children = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
        found = [self.proc.pid]
        for pid in found:
            found.extend(children.get(pid, []))
        return found

    def kill(self):
        """Freeze the whole tree (SIGSTOP until no new process shows up), then SIGKILL every process of it."""
        stopped = []
        while True:
            fresh = [pid for pid in self.tree() if pid not in stopped]
            if not fresh:
                break
            for pid in fresh:
                try:
                    os.kill(pid, signal.SIGSTOP)
                except ProcessLookupError:
                    pass
                stopped.append(pid)
        for pid in stopped:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.killed = stopped
        return stopped
