"""Tasks for ``ansible_runner.run_tasks`` and the check on what it returns, shared by the provider e2e tests."""


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
