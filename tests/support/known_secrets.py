"""The connection secrets the test set-up hands out, so that every ``ansible-playbook`` run of the harness can be searched
for them (issue 14: no token, password, key or docker credential in the output at ``-vvv`` with ``--diff``).

The emulators register their default tokens and keys when imported, a ``LocalRegistry`` its passwords when started;
``tests/support/ansible_runner.py`` fails a run whose output shows one of them. A secret that a task creates and returns
once (a user's secret, a deploy token) is not registered here: the tests that create one check where it appears.
"""

import threading

_LOCK = threading.Lock()
_SECRETS = set()


def register(*values):
    """Remember ``values`` (empty ones are ignored) as secrets no output may show."""
    with _LOCK:
        _SECRETS.update(value for value in values if isinstance(value, str) and len(value) >= 8)


def found_in(text):
    """The registered secrets that ``text`` shows, sorted."""
    with _LOCK:
        known = list(_SECRETS)
    return sorted(value for value in known if value in text)


def masked(value):
    """A secret as an error message may show it: its first 3 characters."""
    return value[:3] + "..."
