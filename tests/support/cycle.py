"""Shared pieces of the end-to-end tests against the real registry: tasks, the request log split per module run, check/apply/again."""

from tests.support.registry import MUTATING_METHODS


def oci_task(module, registry, diff=False, **args):
    """A ``regops.registry.<module>`` task connected to ``registry``."""
    task = {"regops.registry.%s" % module: dict(registry.oci_args(), **args)}
    if diff:
        task["diff"] = True
    return task


def module_calls(registry, start):
    """Requests since ``start``, one list per module run: every run opens with an unauthenticated ``GET /v2/`` (401)."""
    calls = []
    for entry in registry.request_log()[start:]:
        if (entry.method, entry.path, entry.status) == ("GET", "/v2/", 401):
            calls.append([])
        assert calls, f"request outside a module run: {entry}"
        calls[-1].append(entry)
    return calls


def mutations(entries):
    """The state-changing requests among ``entries``."""
    return [e for e in entries if e.method in MUTATING_METHODS]


def cycle(task):
    """check mode, apply, apply again."""
    return [dict(task, check_mode=True), task, task]


def assert_cycle(results, calls, first=0, result_key=None, changed_again=False):
    """Check predicted the change without a mutating request, apply changed, the second apply did nothing.

    The check run must report what the real run then did (``actions`` and ``result_key``).
    """
    check, apply, again = results[first:first + 3]
    assert check["changed"] is True and not check.get("failed"), check
    assert mutations(calls[first]) == [], calls[first]
    assert apply["changed"] is True and not apply.get("failed"), apply
    assert again["changed"] is changed_again and not again.get("failed"), again
    assert mutations(calls[first + 2]) == [], calls[first + 2]
    assert check["actions"] == apply["actions"]
    if result_key:
        assert check[result_key] == apply[result_key]
    return check, apply, again
