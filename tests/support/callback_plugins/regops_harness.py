"""The test harness's callback (``tests/support/ansible_runner.py`` ``run_tasks``): writes the registered results that
the play's last task hands over with ``set_stats`` (key ``regops_harness_results``, the JSON ``to_json`` made of them)
to the file named by ``REGOPS_HARNESS_RESULTS``. ``set_stats`` runs in ansible-playbook's worker, where a ``copy`` of
the same JSON ran two modules (``stat`` and ``copy``) in every ``run_tasks`` call."""

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: regops_harness
type: aggregate
short_description: hands the registered results of a test play to the test harness
description:
  - Writes the custom stat C(regops_harness_results) to the file named by C(REGOPS_HARNESS_RESULTS).
requirements:
  - enabled in callbacks_enabled by the test harness
"""

KEY = "regops_harness_results"


class CallbackModule(CallbackBase):
    """Writes the ``regops_harness_results`` custom stat at the end of the playbook."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "regops_harness"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("REGOPS_HARNESS_RESULTS")
        value = (stats.custom.get("_run") or {}).get(KEY)
        if not path or value is None:
            return
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(value if isinstance(value, str) else json.dumps(value))
