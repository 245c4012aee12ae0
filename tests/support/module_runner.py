"""Run a module of the collection as Ansible's module process would, minus the interpreter start and the executor.

``run_module("tag", {...}, check=True)`` forks the test process: the child gets the module's arguments the way
``AnsibleModule`` reads them (with ``_ansible_check_mode`` and ``_ansible_diff`` as the executor sets them), runs the
module's ``main()`` and writes what the module prints (its JSON result) to a pipe; the parent returns that result.
Each run is its own process, so nothing a module caches survives into the next run, exactly as with ansible-playbook;
what is saved is the Python start and the imports (the parent imported the collection once), about 0.45 CPU-seconds
per module run. The emulators and registries the tests start keep serving from the parent's threads.

``start_module`` is the same run without waiting for it (``run_module`` is built on it): it returns a
:class:`ModuleRun` with the child's ``pid``, ``poll()``, ``wait(timeout)`` (the result dict) and ``kill()``
(``SIGKILL``), for the tests that act while a module runs (kill it halfway, run two at once, push meanwhile).

This is for the matrices (every module x provider x state, every bad input): tests of what ansible-core adds (the
executor, ``module_defaults`` groups, callbacks and ``-vvv`` output, ``no_log`` in the output) run ansible-playbook
through ``tests/support/ansible_runner.py``.
"""

import importlib
import json
import os
import select
import signal
import sys
import tempfile
import time
import traceback

from tests.support.module_args import install

install()
from ansible.module_utils.testing import patch_module_args  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

MODULES = "ansible_collections.regops.registry.plugins.modules."


def load(name):
    """Import ``regops.registry.<name>`` in this process (so that forked runs start with it imported)."""
    return importlib.import_module(MODULES + name)


def _child(name, args, write_fd):
    """In the forked child: run the module with its stdout on ``write_fd``; never returns."""
    code = 0
    try:
        out = os.fdopen(write_fd, "w")
        sys.stdout = out
        with patch_module_args(args):
            load(name).main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # pylint: disable=broad-except
        print(json.dumps({"failed": True, "msg": "module crashed", "exception": traceback.format_exc()}))
        code = 1
    finally:
        try:
            sys.stdout.flush()
        finally:
            os._exit(code)  # pylint: disable=protected-access


class ModuleRun:
    """A module run in a forked child, started by :func:`start_module`: ``pid``, :meth:`poll`, :meth:`wait` (its result
    dict, as :func:`run_module` returns it) and :meth:`kill` (``SIGKILL``: the child is one process, nothing forks)."""

    def __init__(self, name, pid, read_fd):
        self.name, self.pid = name, pid
        self._pipe = os.fdopen(read_fd, "rb")
        self._chunks = []
        self.status = None  # the child's exit status, once it was reaped

    def _reap(self, flags=0):
        if self.status is None:
            pid, status = os.waitpid(self.pid, flags)
            if pid == 0:
                return None
            self.status = os.waitstatus_to_exitcode(status)
        return self.status

    def poll(self):
        """The child's exit status once it ended (reaped then), else None."""
        return self._reap(os.WNOHANG)

    def kill(self):
        """``SIGKILL`` the child (unless it was reaped already) and reap it; returns its exit status (``-9`` when killed)."""
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._pipe.close()
        return self._reap()

    def wait(self, timeout=300):
        """The module's result dict (``rc`` is the child's exit status) once the child ended; kills it after ``timeout``
        seconds. Fails when the module printed no JSON result (a crash, or a kill)."""
        deadline = time.monotonic() + timeout
        pipe = self._pipe
        while not pipe.closed:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([pipe], [], [], left)[0]:
                self.kill()
                raise AssertionError("regops.registry.%s ran longer than %d s" % (self.name, timeout))
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:
                pipe.close()
                break
            self._chunks.append(chunk)
        status = self._reap()
        text = b"".join(self._chunks).decode("utf-8")
        try:
            result = json.loads(text.strip().splitlines()[-1]) if text.strip() else None
        except ValueError:
            result = None
        if not isinstance(result, dict):
            raise AssertionError("regops.registry.%s printed no result (exit %s): %r" % (self.name, status, text[-2000:]))
        result["rc"] = status
        return result


def start_module(name, args, check=False, diff=False, env=None):
    """Start ``regops.registry.<name>`` with ``args`` in a forked child and return at once: a :class:`ModuleRun`."""
    load(name)
    payload = dict(args, _ansible_check_mode=check, _ansible_diff=diff, _ansible_remote_tmp=tempfile.gettempdir(),
                   _ansible_keep_remote_files=False, _ansible_verbosity=0, _ansible_module_name="regops.registry." + name)
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child ends in os._exit
        os.close(read_fd)
        os.environ.update(env or {})
        _child(name, payload, write_fd)
    os.close(write_fd)
    return ModuleRun(name, pid, read_fd)


# pylint: disable-next=too-many-arguments
def run_module(name, args, *, check=False, diff=False, env=None, timeout=300):
    """Run ``regops.registry.<name>`` with ``args``; returns its result dict (``rc`` is the child's exit status)."""
    return start_module(name, args, check=check, diff=diff, env=env).wait(timeout)


# Task keywords run_tasks_in_process understands; anything else (loops, conditions, templating) needs ansible-playbook.
_TASK_KEYWORDS = {"name", "register", "check_mode", "diff", "ignore_errors", "no_log"}
_CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
_GROUP_ALL = "group/regops.registry.all"


def _module_of(task):
    """``(short module name, its arguments)`` of a task given as ``{"regops.registry.<module>": {...}, ...}``."""
    modules = [key for key in task if key.startswith("regops.registry.")]
    others = set(task) - set(modules) - _TASK_KEYWORDS
    if len(modules) != 1 or others:
        raise ValueError("run_tasks_in_process runs one regops.registry module per task with %s; got %s (use "
                         "ansible_runner.run_tasks)" % (sorted(_TASK_KEYWORDS), sorted(task)))
    args = task[modules[0]] or {}
    if "{{" in json.dumps(args):
        raise ValueError("run_tasks_in_process does not template; use ansible_runner.run_tasks: %r" % (args,))
    return modules[0][len("regops.registry."):], args


def _defaults_for(module, module_defaults):
    """The ``module_defaults`` that apply to ``module``: the collection's action group, then the module's own entry."""
    merged = {}
    for key, values in (module_defaults or {}).items():
        if key not in (_GROUP_ALL, "regops.registry." + module):
            if key.startswith("group/") or key.startswith("regops.registry."):
                continue
            raise ValueError("run_tasks_in_process: unsupported module_defaults key %r" % key)
        if key == _GROUP_ALL:
            merged = dict(values, **merged)
        else:
            merged.update(values)
    return merged


def _message(warning):
    """A warning as a registered result holds it: ansible-core 2.19's modules print ``{"__ansible_type": "WarningSummary",
    "event": {"msg": ...}}``, which the controller decodes and registers as the message; 2.18's print the message."""
    if isinstance(warning, dict) and isinstance(warning.get("event"), dict):
        return warning["event"].get("msg")
    return warning


def run_tasks_in_process(tasks, *, check=False, diff=False, module_defaults=None, env=None):
    """:func:`ansible_runner.run_tasks` for plain module tasks, each run by :func:`run_module` (a forked child).

    Same return value (a ``TaskResults``: one registered result per task, ``rc``, ``stdout``), with the executor's part
    done here as ansible-core does it: ``module_defaults`` (the collection's action group and per-module entries),
    the task's ``check_mode`` and ``diff`` over the run's, ``failed``/``changed`` set when the module left them out,
    ``invocation`` left out, warnings as their messages, a ``no_log`` task's result registered whole but censored in
    ``stdout``, the play stopped at the first failed task unless ``ignore_errors``. ``stdout`` holds every
    result as printed, so tests can search it as they search ansible-playbook's output.
    """
    from tests.support.ansible_runner import TaskResults  # pylint: disable=import-outside-toplevel

    plan = [_module_of(task) for task in tasks]  # refuse what it cannot run before running anything
    results, rc, printed = [], 0, []
    for task, (module, args) in zip(tasks, plan):
        if rc:
            results.append({"not_run": True})
            continue
        merged = dict(_defaults_for(module, module_defaults), **args)
        result = run_module(module, merged, check=task.get("check_mode", check), diff=task.get("diff", diff), env=env)
        status = result.pop("rc")
        result.pop("invocation", None)
        if result.get("warnings"):
            result["warnings"] = [_message(warning) for warning in result["warnings"]]
        result.setdefault("failed", status != 0)
        result.setdefault("changed", False)
        shown = {"censored": _CENSORED, "changed": result["changed"]} if task.get("no_log") else result
        printed.append(json.dumps(shown, sort_keys=True))
        results.append(result)
        if result["failed"] and not task.get("ignore_errors"):
            rc = 2
    return TaskResults(results, rc, "\n".join(printed), "")
