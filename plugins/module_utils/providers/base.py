# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The provider interface. PRIVATE to the collection.

A provider translates between one API and the collection's normalized
resources. It declares what it supports in ``capabilities``; the engine asks
``require()`` before anything is sent, so an unsupported request fails with a
message that names what the provider can do.

Per resource, a provider implements (``<r>`` is the resource name):

* ``read_<r>(items)`` → list aligned with ``items``: the normalized resource or None.
* ``list_<r>(filters)`` → list of normalized resources (the ``*_info`` modules).
* ``create_<r>(item, desired)`` / ``update_<r>(item, current, changes, desired)`` /
  ``delete_<r>(item, current)`` → the resource after the change (None after a delete).
* optionally ``apply_<r>(actions)`` to batch the whole set of actions itself
  (for example one Gcore batch call, or one throwaway manifest per OCI repository).
* optionally ``changes_<r>(item, current, desired)`` when the generic comparison does not fit.

``results``: extra top-level result keys the provider reports while it works (GitLab's ``repository_status`` of a
background delete, ``bulk`` of a bulk tag delete); the module adds them to its result, failed or not.
``plan_bulk_tag_delete`` (tag absent with ``bulk``) is a hook for providers whose capabilities list ``bulk``.

``validate_provider``, ``resolve_source`` (tag present), ``is_leftover`` (tag absent with expected digests),
``check_create`` and ``predict`` are further hooks with defaults below. Where one class serves several resources
written apart (a mixin per group of resources), the per-resource forms ``validate_<r>(items, desired)``,
``check_create_<r>(item, desired)`` and ``predict_<r>(action)`` are called first, so that a provider's own
``validate_provider`` / ``check_create`` / ``predict`` need not know about them (an override ends with ``super()``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import threading

from ansible_collections.regops.registry.plugins.module_utils import validate
from ansible_collections.regops.registry.plugins.module_utils.api import AlreadyGone, ApiError, UnsupportedError

RESOURCES = ("registry", "registry_user", "repository", "artifact", "tag", "retention_policy", "registry_credentials", "protection_rule",
             "storage_record", "deployment_record", "attestation")


class HeldBack(ApiError):
    """A child or referrer left alone because its index or subject was not deleted: reported ``skipped``."""

    outcome = "skipped"
    reason = "parent_kept"


class Skipped(ValueError):
    """An item left alone on purpose (the engine reports it ``skipped`` with ``reason``), not a failure."""

    outcome = "skipped"

    def __init__(self, reason, msg):
        super(Skipped, self).__init__(msg)
        self.reason = reason


def expected_tags_for(params, item):
    """The tags the module's ``expected_tags`` lists for an artifact item's digest (keyed ``<repository>@<digest>`` or
    ``<digest>``), as a set; None when it does not name the digest."""
    expected = params.get("expected_tags") or {}
    wanted = expected.get("%s@%s" % (item["repository"], item["digest"]), expected.get(item["digest"]))
    return None if wanted is None else set(str(tag) for tag in wanted)


def unexpected_tags(params, item, tags):
    """The ``tags`` that ``expected_tags`` does not list for the item's digest, sorted (none when it does not name it)."""
    wanted = expected_tags_for(params, item)
    return [] if wanted is None else sorted(set(tags) - wanted)


def refuse_unexpected_tags(params, item, tags, known=None):
    """Raise :class:`Skipped` (``tags_changed``) when ``tags``, read right before the delete, carry one that
    ``expected_tags`` does not list for the item's digest (a tag pushed onto it since it was read). When
    ``expected_tags`` does not name the digest, ``known`` (the tags this run's read found on it), if given, stands in."""
    if known is not None and expected_tags_for(params, item) is None:
        extra = sorted(set(tags) - set(known))
    else:
        extra = unexpected_tags(params, item, tags)
    if extra:
        raise Skipped("tags_changed", "tag(s) %s now point at this digest but were not expected; not deleted" % ", ".join(extra))


def delete_found(client, path, what=None, expected=None):
    """DELETE an item this run found at its read. A 404 to the first attempt raises :class:`AlreadyGone` (the item went
    before this run asked: not this run's delete); a 404 to a repeated request is this run's delete whose answer was
    lost (``ApiClient.delete``). ``what`` names the item in the message (``tag v1``)."""
    if not client.delete(path, expected=expected):
        raise AlreadyGone.since_read(what)


class FreshReads:
    """Reads taken right before a delete, shared by the deletes that ask at once: ``get(key)`` returns the result of a
    ``read(key)`` that had not finished when the caller asked: the one running then, or else a new one. It shows every
    push that landed before it started, at most one read's time before the caller asked. One read of a key runs at a
    time, back to back while callers keep asking: with ``concurrency: 1`` that is one read per delete; with more
    workers, the deletes that ask during a read share it. A read's error is raised to every caller that shares it.

    A listing read in pages by offset or page number skips items when items before them are deleted between its pages.
    When ``paged(last value)`` says the key's listing spans pages (always before its first read), a read waits until the
    deletes of that key in flight (each inside ``deleting(key)``) are done, and new ones wait until it is done."""

    def __init__(self, read, paged=lambda value: True):
        self._read = read
        self._paged = paged
        self._cond = threading.Condition()
        self._keys = {}

    def _state(self, key):
        if key not in self._keys:
            self._keys[key] = {"done": 0, "running": False, "exclusive": False, "deleting": 0, "result": None}
        return self._keys[key]

    def get(self, key):
        with self._cond:
            state = self._state(key)
            need = state["done"] + 1  # the read running now, if any, else the next one
            while state["done"] < need:
                if state["running"]:
                    self._cond.wait()
                    continue
                state["running"] = True
                generation = state["done"] + 1  # reads of a key run one at a time
                last = state["result"]
                state["exclusive"] = last is None or last[1] is not None or bool(self._paged(last[0]))
                while state["exclusive"] and state["deleting"]:
                    self._cond.wait()
                value, error = None, None
                self._cond.release()
                try:
                    value = self._read(key)
                except Exception as exc:  # pylint: disable=broad-except
                    error = exc
                finally:
                    self._cond.acquire()
                    state.update(done=generation, running=False, exclusive=False, result=(value, error))
                    self._cond.notify_all()
            value, error = state["result"]
        if error is not None:
            raise error
        return value

    @contextlib.contextmanager
    def deleting(self, key):
        """Around a delete of ``key``'s items: it waits while a read that must not overlap deletes runs."""
        with self._cond:
            state = self._state(key)
            while state["running"] and state["exclusive"]:
                self._cond.wait()
            state["deleting"] += 1
        try:
            yield
        finally:
            with self._cond:
                state["deleting"] -= 1
                self._cond.notify_all()


class Capability:
    """What a provider can do with one resource."""

    def __init__(self, states=(), info=False, options=(), notes=None):
        self.states = tuple(states)
        self.info = info
        self.options = tuple(options)
        self.notes = notes


class Action:
    """One planned change for one item, handed from the engine to the provider."""

    def __init__(self, kind, item, current=None, desired=None, changes=None):
        self.kind = kind  # create | update | delete
        self.item = item
        self.current = current
        self.desired = desired or {}
        self.changes = changes or {}


class Provider:
    name = "base"
    # option name -> environment variables read when the option is not set
    env_fallbacks = {}
    # option names whose value is a secret (from the task or the environment)
    secret_options = ("api_token", "api_password")
    default_api_url = None
    capabilities = {}

    def __init__(self, params, warn=None):
        self.params = params
        self.warn = warn or (lambda msg: None)
        self.client = None
        self.results = {}

    # -- capabilities -----------------------------------------------------
    def describe(self):
        """One line per resource: what this provider can do."""
        lines = []
        for resource in RESOURCES:
            cap = self.capabilities.get(resource)
            if not cap or not (cap.states or cap.info):
                continue
            parts = []
            if cap.states:
                parts.append("state=%s" % "|".join(cap.states))
            if cap.info:
                parts.append("%s_info" % resource)
            lines.append("%s (%s)" % (resource, ", ".join(parts)))
        return "; ".join(lines) or "nothing yet"

    def require(self, resource, state=None, info=False, options=()):
        """Fail before any request when the provider cannot do what the task asks."""
        cap = self.capabilities.get(resource)
        can = "Provider '%s' supports: %s." % (self.name, self.describe())
        if cap is None or (info and not cap.info) or (not info and not cap.states):
            what = "%s_info" % resource if info else resource
            why = cap.notes if cap is not None and cap.notes else "it has no such resource"
            raise UnsupportedError("Provider '%s' cannot manage %s: %s. %s" % (self.name, what, why, can))
        if state and state not in cap.states:
            raise UnsupportedError("Provider '%s' does not support %s state=%s. %s" % (self.name, resource, state, can))
        extra = [opt for opt in options if opt not in cap.options]
        if extra:
            raise UnsupportedError("Provider '%s' does not support the option(s) %s for %s (supported: %s). %s" % (
                self.name, ", ".join(sorted(extra)), resource, ", ".join(cap.options) or "none", can))

    def validate(self, resource, items, desired=None):
        """Check names and values before any request; raise ValueError with a clear message.

        The shared validators first (repository names, tags, digests, a tag's source reference), the same
        for every provider; then the provider's own rules (``validate_provider``).
        """
        desired = desired or {}
        for item in items:
            if item.get("repository") is not None:
                validate.repository_name(item["repository"])
            if resource == "repository":
                validate.repository_name(item["name"])
            elif resource == "tag":
                validate.tag_name(item["name"])
            elif resource == "artifact":
                validate.digest(item["digest"])
        if desired.get("digest"):
            validate.digest(desired["digest"])
        if desired.get("source"):
            validate.reference(desired["source"])
        custom = getattr(self, "validate_%s" % resource, None)
        if custom is not None:
            custom(items, desired)
        self.validate_provider(resource, items, desired)

    def validate_provider(self, resource, items, desired):
        """The provider's own rules on top of the shared validators (``validate.matches`` for full-string names)."""

    # -- lifecycle --------------------------------------------------------
    def connect(self):
        """Build ``self.client``. Called once, after the request was validated."""
        raise NotImplementedError

    def close(self):
        if self.client is not None:
            self.client.close()

    # -- generic engine hooks ---------------------------------------------
    def read(self, resource, items):
        return getattr(self, "read_%s" % resource)(items)

    def list(self, resource, filters):
        return getattr(self, "list_%s" % resource)(filters)

    def changes(self, resource, item, current, desired):
        custom = getattr(self, "changes_%s" % resource, None)
        if custom is not None:
            return custom(item, current, desired)
        return {key: value for key, value in desired.items() if value is not None and current.get(key) != value}

    def resolve_source(self, repository, source=None, digest=None):
        """For ``tag`` state=present: the (repository, digest) the tags must point at, resolved read-only."""
        raise UnsupportedError("Provider '%s' cannot point tags at a manifest. Provider '%s' supports: %s." % (self.name, self.name, self.describe()))

    def plan_bulk_tag_delete(self, registry, repositories, bulk):
        """For ``tag`` absent with ``bulk``: ``(items, report)``, the tags the provider's own bulk delete will remove (read-only)."""
        raise UnsupportedError("Provider '%s' has no bulk tag delete. Provider '%s' supports: %s." % (self.name, self.name, self.describe()))

    def is_leftover(self, item, current):
        """For ``tag`` absent with expected digests: whether the tag's unexpected digest is this collection's own
        leftover from a removal that could not finish (then the tag is removed anyway, not reported as moved)."""
        return False

    def check_create(self, resource, item, desired):
        """A reason why ``item`` cannot be created from ``desired`` (same answer in check mode and for real), or None."""
        custom = getattr(self, "check_create_%s" % resource, None)
        return custom(item, desired) if custom is not None else None

    def predict(self, resource, action):
        """The resource as the real run would return it, for check mode."""
        custom = getattr(self, "predict_%s" % resource, None)
        if custom is not None:
            return custom(action)
        if action.kind == "delete":
            return None
        after = dict(action.current or {})
        after.update(action.item)
        after.update(action.changes if action.kind == "update" else {k: v for k, v in action.desired.items() if v is not None})
        return after

    def apply(self, resource, actions):
        """Carry out ``actions``; return ``[(action, result, error)]`` in order."""
        batched = getattr(self, "apply_%s" % resource, None)
        if batched is not None:
            return batched(actions)
        if resource == "artifact":
            return self._apply_in_waves(resource, actions)
        return self._apply_each(resource, actions)

    def _apply_in_waves(self, resource, actions):
        """Delete an index before the children listed with it, and a subject before its referrers (signatures, SBOMs), so
        that nothing that stays points at a deleted manifest. A child or referrer whose index or subject was not deleted
        (skipped because it gained a tag, or failed) is held back and reported ``skipped``: it still belongs to what stays."""
        def key(item, digest=None):
            return (item.get("repository"), digest or item["digest"])

        listed = set(key(a.item) for a in actions)
        parents = {}
        for action in actions:
            current = action.current or {}
            for child in current.get("children") or []:
                if key(action.item, child.get("digest")) in listed:
                    parents.setdefault(key(action.item, child.get("digest")), set()).add(key(action.item))
            if current.get("subject") and key(action.item, current["subject"]) in listed:
                parents.setdefault(key(action.item), set()).add(key(action.item, current["subject"]))
        done, kept = {}, set()
        pending = list(actions)
        while pending:
            ready = [a for a in pending if not parents.get(key(a.item), set()) - set(done)]
            if not ready:  # a cycle cannot happen in a registry; run the rest rather than loop
                ready = pending
            for action in ready:
                if parents.get(key(action.item), set()) & kept:
                    held = HeldBack("not deleted: the index or subject that lists it was not deleted, so it stays with it")
                    done[key(action.item)] = (action, None, held)
                    kept.add(key(action.item))
            run = [a for a in ready if key(a.item) not in done]
            for action, result, error in self._apply_each(resource, run):
                done[key(action.item)] = (action, result, error)
                if error is not None and not isinstance(error, AlreadyGone):
                    kept.add(key(action.item))
            pending = [a for a in pending if key(a.item) not in done]
        return [done[key(a.item)] for a in actions]

    def _apply_each(self, resource, actions):

        def run(action):
            if action.kind == "create":
                return getattr(self, "create_%s" % resource)(action.item, action.desired)
            if action.kind == "update":
                return getattr(self, "update_%s" % resource)(action.item, action.current, action.changes, action.desired)
            return getattr(self, "delete_%s" % resource)(action.item, action.current)

        return self.client.run_bulk(run, actions)
