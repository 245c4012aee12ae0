"""Tasks for ``ansible_runner.run_tasks`` and the check on what it returns, shared by the provider e2e tests."""

import re


def task(module, check=False, diff=False, ignore=False, no_log=False, **args):
    """A ``regops.registry.<module>`` task; ``check``, ``diff``, ``ignore`` (errors) and ``no_log`` set those keywords."""
    result = {"regops.registry." + module: args}
    for key, value in (("check_mode", check), ("diff", diff), ("ignore_errors", ignore), ("no_log", no_log)):
        if value:
            result[key] = True
    return result


def checked(item):
    """The same task in check mode."""
    return dict(item, check_mode=True)


def ok(results):
    """Assert the run passed and every task ran without failing; return the results."""
    assert results.rc == 0, results.output
    for result in results:
        assert not result.get("failed") and not result.get("not_run"), (result, results.output)
    return results


def task_outputs(results):
    """What ansible-playbook printed for each task of a ``run_tasks`` run, in order (split at its ``TASK [`` lines).

    The harness's own last task (it writes the registered results to a file) comes after the tasks given.
    """
    return re.split(r"^TASK \[", results.stdout, flags=re.M)[1:]


def printed_by(results, value):
    """Indexes of the tasks whose output shows ``value`` (``-vvv`` prints every result whole)."""
    return [index for index, text in enumerate(task_outputs(results)) if value in text]
