# -*- coding: utf-8 -*-
# Benchmark helper (bench/ only, not part of the collection): records per-task timings and
# counts regops.registry module invocations; writes JSON to $REGOPS_BENCH_EVENTS at the end.
from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: regops_bench
type: aggregate
short_description: Timings and module invocation counts for bench/run.py
description: Writes a JSON summary to the file named by the REGOPS_BENCH_EVENTS environment variable.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "regops_bench"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.started = time.time()
        self.tasks = []
        self.current = None
        self.invocations = 0
        self.by_action = {}

    def _close(self):
        if self.current is not None:
            self.current["seconds"] = round(time.time() - self.current.pop("_t0"), 4)
            self.tasks.append(self.current)
            self.current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        self.current = {"name": task.get_name(), "action": task.action, "_t0": time.time(), "invocations": 0}

    def _count(self, result):
        action = result._task.action or ""
        if not action.startswith("regops.registry."):
            return
        res = result._result or {}
        if "results" in res and isinstance(res["results"], list):
            n = sum(1 for r in res["results"] if not r.get("skipped"))
        else:
            n = 0 if res.get("skipped") else 1
        self.invocations += n
        self.by_action[action] = self.by_action.get(action, 0) + n
        if self.current is not None:
            self.current["invocations"] += n

    def v2_runner_on_ok(self, result):
        self._count(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count(result)

    def v2_playbook_on_stats(self, stats):
        self._close()
        path = os.environ.get("REGOPS_BENCH_EVENTS")
        if not path:
            return
        with open(path, "w") as handle:
            json.dump({"seconds": round(time.time() - self.started, 4), "module_invocations": self.invocations,
                       "by_action": self.by_action, "tasks": self.tasks}, handle)
