"""providers/base.py: the reads shared by the deletes that need a fresh one (FreshReads)."""

import threading
import time

import pytest

from ansible_collections.regops.registry.plugins.module_utils.providers.base import FreshReads


class Reads:
    """``read(key)`` that numbers its calls. Read n waits for ``release(n)`` when it is held (``hold(n)``); ``started(n)``
    is set when it begins. ``fail`` is raised by every read from the one numbered ``fail_from`` on."""

    def __init__(self, fail=None, fail_from=1):
        self.count = 0
        self.holds, self.begun = {}, {}
        self.fail, self.fail_from = fail, fail_from

    def event(self, table, number):
        return table.setdefault(number, threading.Event())

    def hold(self, number):
        self.event(self.holds, number)

    def release(self, number):
        self.event(self.holds, number).set()

    def started(self, number):
        return self.event(self.begun, number).wait(10)

    def __call__(self, key):
        self.count += 1
        number = self.count
        self.event(self.begun, number).set()
        if number in self.holds:
            assert self.holds[number].wait(10)
        if self.fail and number >= self.fail_from:
            raise self.fail
        return (key, number)


class CountingCondition(type(threading.Condition())):
    """A Condition that counts the waits begun, so that a test knows when callers are parked."""

    waits = 0

    def wait(self, timeout=None):
        self.waits += 1
        return super().wait(timeout)


def wait_until(predicate):
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_one_caller_at_a_time_gets_a_read_of_its_own():
    reads = Reads()
    fresh = FreshReads(reads)
    assert [fresh.get("app") for _i in range(3)] == [("app", 1), ("app", 2), ("app", 3)]
    assert fresh.get("web") == ("web", 4)


@pytest.mark.parametrize("fail", [None, RuntimeError("the listing failed")])
def test_callers_that_ask_during_a_read_share_the_next_one_never_the_running_one(fail):
    """Read 1 is running when three more callers ask: none of them gets it (it may not show what was pushed just
    before they asked); they share read 2. A failed read is raised to every caller that shares it."""
    reads = Reads(fail=fail, fail_from=2)
    fresh = FreshReads(reads)
    fresh._cond = CountingCondition()  # pylint: disable=protected-access
    reads.hold(1)
    got = {}

    def call(name):
        try:
            got[name] = fresh.get("app")
        except RuntimeError as exc:
            got[name] = exc

    threads = [threading.Thread(target=call, args=("first",))]
    threads[0].start()
    assert reads.started(1)
    threads += [threading.Thread(target=call, args=(n,)) for n in range(3)]
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: fresh._cond.waits >= 3)  # pylint: disable=protected-access
    reads.release(1)
    for thread in threads:
        thread.join(10)
    assert reads.count == 2
    assert got["first"] == ("app", 1)
    assert [got[n] for n in range(3)] == [fail] * 3 if fail else [("app", 2)] * 3
