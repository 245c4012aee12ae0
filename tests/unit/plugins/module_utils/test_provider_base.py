"""providers/base.py: the reads shared by the deletes that need a fresh one (FreshReads)."""

import threading
import time

import pytest

from ansible_collections.regops.registry.plugins.module_utils.providers.base import FreshReads, Skipped, refuse_unexpected_tags


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
def test_callers_that_ask_during_a_read_share_it_and_a_later_caller_gets_a_new_one(fail):
    """Read 1 is running when three more callers ask: they share it (it had not finished when they asked). A caller that
    asks once it finished gets read 2, never read 1's result. A failed read is raised to every caller that shares it."""
    reads = Reads(fail=fail)
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
    assert reads.count == 1
    assert [got[n] for n in ["first", 0, 1, 2]] == [fail] * 4 if fail else [("app", 1)] * 4
    reads.fail = None
    assert fresh.get("app") == ("app", 2)


def test_a_paged_read_never_overlaps_a_delete_of_its_key():
    """A listing in pages skips items when items before them go between its pages: with ``paged``, a read waits for the
    deletes of its key in flight, and a delete waits for such a read. Another key, or an unpaged one, does not wait."""
    reads = Reads()
    fresh = FreshReads(reads, paged=lambda value: value[0] != "small")
    events = []
    assert fresh.get("big") == ("big", 1)

    def delete(key, hold):
        with fresh.deleting(key):
            events.append("delete %s begins" % key)
            hold.wait(10)
            events.append("delete %s ends" % key)

    hold = threading.Event()
    deleter = threading.Thread(target=delete, args=("big", hold))
    deleter.start()
    wait_until(lambda: "delete big begins" in events)
    reader = threading.Thread(target=lambda: events.append("read %s" % (fresh.get("big"),)))
    reader.start()
    wait_until(lambda: fresh._keys["big"]["running"])  # pylint: disable=protected-access
    assert fresh.get("other") == ("other", 2)  # another key reads at once
    time.sleep(0.05)
    assert reads.count == 2  # the read of "big" waits for the delete in flight
    hold.set()
    reader.join(10)
    deleter.join(10)
    assert events == ["delete big begins", "delete big ends", "read ('big', 3)"]

    # the other way round: a delete waits while such a read runs
    reads.hold(4)
    reader = threading.Thread(target=fresh.get, args=("big",))
    reader.start()
    assert reads.started(4)
    events.clear()
    released = threading.Event()
    released.set()
    deleter = threading.Thread(target=delete, args=("big", released))
    deleter.start()
    time.sleep(0.05)
    assert events == []
    reads.release(4)
    deleter.join(10)
    reader.join(10)
    assert events == ["delete big begins", "delete big ends"]

    # an unpaged key's read runs while its deletes are in flight
    assert fresh.get("small")[0] == "small"
    hold = threading.Event()
    events.clear()
    deleter = threading.Thread(target=delete, args=("small", hold))
    deleter.start()
    wait_until(lambda: "delete small begins" in events)
    assert fresh.get("small") == ("small", 6)
    hold.set()
    deleter.join(10)


def test_a_tag_that_expected_tags_or_else_the_read_did_not_have_keeps_the_digest():
    item = {"repository": "app", "digest": "sha256:" + "1" * 64}
    named = {"expected_tags": {"app@" + item["digest"]: ["v1", "v2"]}}
    refuse_unexpected_tags(named, item, ["v1"], known=["v1"])  # fewer tags: nothing new on it
    with pytest.raises(Skipped) as caught:
        refuse_unexpected_tags(named, item, ["v1", "v3"], known=["v1", "v3"])  # expected_tags wins over the read
    assert caught.value.reason == "tags_changed" and "tag(s) v3 now point at this digest" in str(caught.value)
    # expected_tags does not name the digest: the read's tags stand in when given, else nothing is checked
    with pytest.raises(Skipped, match="hotfix"):
        refuse_unexpected_tags({}, item, ["v1", "hotfix"], known=["v1"])
    refuse_unexpected_tags({}, item, ["v1", "hotfix"], known=["v1", "hotfix"])
    refuse_unexpected_tags({}, item, ["v1", "hotfix"])
