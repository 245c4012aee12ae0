# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: retention_report
short_description: Turn a retention plan and what the modules did into a per-repository report whose numbers add up
version_added: 0.1.0
author: regops.registry contributors (@regops)
description:
  - Combines a plan from P(regops.registry.retention_plan#filter) with the registered results of the
    M(regops.registry.tag) and M(regops.registry.artifact) calls that carried it out (or predicted it, in check mode)
    into one report per repository and totals, plus readable lines.
  - "The numbers reconcile, per repository and in the totals: C(tags_before) = C(tags_kept) + C(tags_removed);
    C(tags_removed) = C(tags_removed_with_digests) (the tags that went with a deleted digest) +
    C(tags_removed_from_surviving) (the tags removed from images that stay); C(kept_by_reason) adds up to
    C(tags_kept); C(tags_after) = C(tags_kept); C(digests_before) = C(digests_deleted) + C(digests_after). So a second
    run's C(tags_before) is the first run's C(tags_after) (unless something else pushed or removed tags in between)."
  - The signatures, SBOMs and attestations deleted with their subject count in C(digests_deleted) like any manifest,
    and apart in C(referrers_deleted); their tags (C(sha256-<hex>.sig)) count in C(tags_removed_with_digests). A
    referrer that went while its subject stayed (the module skipped the subject) is an error of its repository.
  - C(tags_untagged_only) counts the digests that C(action=untag) left without a tag (they stay; their tags are in
    C(tags_removed_from_surviving)). C(deferred_tags) and C(deferred_digests) count what C(on_limit=truncate) left for
    the next run; those tags are kept, under the reason C(deferred), and listed in C(deferred).
  - A tag or digest the plan meant to remove but that was not removed stays counted as kept, under the reason
    C(skipped) (a re-check found it had moved or gained a tag), C(error) (the module could not remove it),
    C(blocked) (a circuit breaker stopped the run) or C(not_run) (no module result for it).
  - A tag the M(regops.registry.tag) call skipped because it now points at another digest than the plan saw is
    listed under C(skipped) with reason C(moved). A digest the M(regops.registry.artifact) call skipped (it gained a
    tag since the snapshot) is listed the same way.
  - Every artifact the plan kept because it could not be read completely (the plan's C(read_errors)) is an error of
    its repository, and so is every item a module call could not remove.
  - Throwaway manifests of an interrupted tag removal that the plan deleted are listed under C(leftovers); they and
    their tags are not the repository's own content and are not counted in the figures above.
  - In check mode the lines say what I(would) happen; after a real run they say what was removed and deleted.
  - The C(regops.registry.cleanup) role prints it, writes it as JSON and hands it to C(set_stats).
options:
  _input:
    description: The plan.
    type: dict
    required: true
  tag_result:
    description: The registered result of the M(regops.registry.tag) call with O(regops.registry.tag#module:state=absent).
    type: dict
  artifact_result:
    description: The registered result of the M(regops.registry.artifact) call with O(regops.registry.artifact#module:state=absent).
    type: dict
  check_mode:
    description: Whether the run was a check (the report then says what would happen).
    type: bool
    default: false
  after_delete:
    description:
      - The registered results of the steps run for the deleted digests (the role's C(cleanup_after_delete)), by step
        name (V(storage_records), V(deployment_records), V(attestations)). A skipped or empty result is left out.
      - Each becomes an entry of RV(_value.after_delete); an item a step could not change, or a step that failed, is
        an error in the totals.
    type: dict
    version_added: 0.3.0
"""

EXAMPLES = r"""
- name: Report
  ansible.builtin.debug:
    msg: "{{ (plan | regops.registry.retention_report(tag_result=untagged, artifact_result=deleted)).lines }}"
"""

RETURN = r"""
_value:
  description: The report.
  type: dict
  contains:
    check_mode:
      description: Whether nothing was changed.
      type: bool
    blocked:
      description: The plan was blocked by a guard and nothing was deleted.
      type: bool
    block_reasons:
      description: Why it was blocked.
      type: list
      elements: str
    now:
      description: The plan's reference time.
      type: str
    totals:
      description:
        - The per-repository counts below, added up, plus C(repositories) (how many).
        - C(removed_tags), C(deleted_digests) and C(kept) are the same numbers as C(tags_removed), C(digests_deleted)
          and C(tags_kept), under their short names.
      type: dict
      sample:
        tags_before: 736
        tags_removed: 549
        tags_removed_with_digests: 546
        tags_removed_from_surviving: 3
        tags_kept: 187
        kept_by_reason: {keep_last: 32, keep_semver: 4, keep_tags: 2, latest: 2, too_new: 147}
        tags_after: 187
        digests_before: 371
        digests_deleted: 273
        referrers_deleted: 12
        digests_after: 98
        untagged_kept_by_reason: {index_child: 4}
        tags_untagged_only: 0
        deferred_tags: 0
        deferred_digests: 0
        bytes_freed: 195468
        skipped: 0
        errors: 0
        leftovers: 0
        read_errors: 0
        repositories: 4
        removed_tags: 549
        deleted_digests: 273
        kept: 187
    repositories:
      description:
        - Per repository C(tags_before), C(tags_removed), C(tags_removed_with_digests), C(tags_removed_from_surviving),
          C(tags_kept), C(kept_by_reason) (kept tags by reason), C(tags_after), C(digests_before), C(digests_deleted)
          (children of a deleted index and referrers deleted with their subject included), C(referrers_deleted),
          C(digests_after), C(untagged_kept_by_reason) (manifests that stay with no tag, by reason),
          C(tags_untagged_only) (digests action untag left untagged), C(deferred_tags) and C(deferred_digests) (left
          for the next run by on_limit truncate), C(bytes_freed) and C(read_errors) (how many artifacts could not be
          read).
        - C(deleted_referrers) maps each referrer deleted with its subject to that subject. C(deferred) lists what
          on_limit truncate deferred, oldest first, as C({operation, digest, tags}) (C(operation) V(untag) or
          V(delete); a deletion also has C(children) and C(referrers), how many go with it).
        - The lists C(removed_tags) (every tag that went, both kinds), C(removed_from_surviving) (those removed from an
          image that stays), C(deleted_digests), C(deleted_digest_tags) (each deleted digest and the tags that went with
          it), C(skipped), C(errors) and C(leftovers) name every item; the totals count them.
        - C(skipped) entries are C({tag, reason, msg}) or C({digest, reason, msg}); C(reason) is a short code such as
          C(moved) (a tag that points at another digest now) or C(tags_changed) (a digest that gained a tag).
        - C(leftovers) entries are C({digest, tags, action}) for the throwaway manifests the plan deleted.
        - C(errors) are readable strings, one per read error of the snapshot and per item a module call could not
          remove.
      type: dict
      sample:
        team/app:
          tags_before: 9
          tags_removed: 4
          tags_removed_with_digests: 3
          tags_removed_from_surviving: 1
          tags_kept: 5
          kept_by_reason: {latest: 1, keep_semver: 2, read_error: 1, skipped: 1}
          tags_after: 5
          digests_before: 7
          digests_deleted: 2
          referrers_deleted: 0
          digests_after: 5
          untagged_kept_by_reason: {}
          tags_untagged_only: 0
          deferred_tags: 0
          deferred_digests: 0
          bytes_freed: 1234
          removed_tags: [pr-10, pr-11, pr-12, sha-0a1b2c3]
          removed_from_surviving: [pr-12]
          deleted_digests: ["sha256:0a1b...", "sha256:9f8e..."]
          deleted_digest_tags: {"sha256:0a1b...": [pr-10, sha-0a1b2c3], "sha256:9f8e...": [pr-11]}
          deleted_referrers: {}
          deferred: []
          skipped: [{tag: pr-13, reason: moved, msg: "moved: now points at sha256:..., the plan expected sha256:..."}]
          errors: ["digest sha256:... could not be read completely: HTTP 500; kept with its tags v1"]
          leftovers: [{digest: "sha256:...", tags: [pr-9], action: deleted}]
          read_errors: 1
    after_delete:
      description:
        - Per step of O(after_delete) that ran, C(changed) (how many items it changed, or would change in check mode),
          C(unchanged), C(failed) and C(errors) (readable strings). Empty when no step ran.
      type: dict
      sample:
        storage_records: {changed: 3, unchanged: 1, failed: 0, errors: []}
        attestations: {changed: 2, unchanged: 2, failed: 0, errors: []}
    lines:
      description: The report as readable lines (per repository, then the totals).
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError

# What became of a planned removal, by the module's action: gone, or kept under one of these reasons.
GONE = ("deleted", "absent")
NOT_REMOVED = ("skipped", "error", "blocked", "not_run")


def _actions(result):
    return (result or {}).get("actions") or []


def _split(ref, separator):
    repository, _sep, name = ref.rpartition(separator)
    return repository, name


def _new_summary():
    return {"tags_before": 0, "tags_removed": 0, "tags_removed_with_digests": 0, "tags_removed_from_surviving": 0,
            "tags_kept": 0, "kept_by_reason": {}, "tags_after": 0, "digests_before": 0, "digests_deleted": 0,
            "referrers_deleted": 0, "digests_after": 0, "untagged_kept_by_reason": {}, "tags_untagged_only": 0,
            "deferred_tags": 0, "deferred_digests": 0, "bytes_freed": 0, "read_errors": 0,
            "removed_tags": [], "removed_from_surviving": [], "deleted_digests": [], "deleted_digest_tags": {},
            "deleted_referrers": {}, "deferred": [], "skipped": [], "errors": [], "leftovers": []}


def _outcome(kind, blocked, ran):
    """A module action on a planned removal -> "gone", or the reason the item is still there."""
    if kind in GONE:
        return "gone"
    if kind == "skipped":
        return "skipped"
    if kind is not None:
        return "error"
    if blocked:
        return "blocked"
    return "error" if ran == "failed" else "not_run"


def _ran(result):
    """How a module call went: None (not run, or skipped), "failed" (failed without saying per item) or "ran"."""
    if not result or result.get("skipped"):
        return None
    if result.get("failed") and not _actions(result):
        return "failed"
    return "ran"


def retention_report(plan, tag_result=None, artifact_result=None, check_mode=False, after_delete=None):
    if not isinstance(plan, dict) or "remove_tags" not in plan:
        raise AnsibleFilterError("retention_report: the input must be a plan from regops.registry.retention_plan")
    try:
        report = _report(plan, tag_result, artifact_result, check_mode)
        _add_after_delete(report, after_delete or {})
        return report
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("retention_report: malformed plan or module result: %s" % exc)


# What the engine reports for an item it changed (or would change, in check mode).
STEP_CHANGED = ("created", "updated", "deleted")


def _add_after_delete(report, results):
    """The steps run for the deleted digests: counts per step, their errors in the totals, one line each."""
    steps = {}
    for name in sorted(results):
        result = results[name] or {}
        if _ran(result) is None:
            continue
        actions = _actions(result)
        step = {"changed": sum(1 for a in actions if a.get("action") in STEP_CHANGED),
                "unchanged": sum(1 for a in actions if a.get("action") in ("unchanged", "absent")),
                "failed": 0, "errors": []}
        for action in actions:
            if action.get("action") not in STEP_CHANGED + ("unchanged", "absent"):
                step["failed"] += 1
                detail = ": %s" % action["msg"] if action.get("msg") else ""
                step["errors"].append("%s %s: %s%s" % (name, action.get("ref"), action.get("action"), detail))
        if _ran(result) == "failed":
            step["failed"] += 1
            step["errors"].append("%s: %s" % (name, result.get("msg")))
        steps[name] = step
    report["after_delete"] = steps
    if not steps:
        return
    report["totals"]["errors"] += sum(step["failed"] for step in steps.values())
    would = report["check_mode"]
    report["lines"].append("after delete: %s" % "; ".join(
        "%s %d %s, %d unchanged%s" % (name, step["changed"], "would change" if would else "changed", step["unchanged"],
                                      ", %d FAILED" % step["failed"] if step["failed"] else "")
        for name, step in steps.items()))
    report["lines"].extend("  error %s" % error for step in steps.values() for error in step["errors"])


def _report(plan, tag_result, artifact_result, check_mode):  # pylint: disable=too-many-locals,too-many-branches,too-many-statements
    blocked = bool(plan.get("blocked"))
    repositories = {}

    def repo(name):
        return repositories.setdefault(name, _new_summary())

    for name, summary in (plan.get("repositories") or {}).items():
        mine = repo(name)
        mine["tags_before"] = summary.get("tags_before", 0)
        mine["kept_by_reason"] = dict(summary.get("kept_by_reason") or {})
        mine["digests_before"] = summary.get("digests_before", 0)
        mine["untagged_kept_by_reason"] = dict(summary.get("untagged_kept_by_reason") or {})
        mine["read_errors"] = summary.get("read_errors", 0)
        for key in ("tags_untagged_only", "deferred_tags", "deferred_digests"):
            mine[key] = summary.get(key, 0)

    for entry in plan.get("deferred") or []:
        item = {"operation": entry.get("operation"), "digest": entry["digest"]}
        item["tags"] = [entry["tag"]] if entry.get("tag") else sorted(entry.get("tags") or [])
        if entry.get("operation") == "delete":
            item["children"] = len(entry.get("children") or [])
            item["referrers"] = len(entry.get("referrers") or [])
        repo(entry["repository"])["deferred"].append(item)

    tag_actions = dict((a["ref"], a) for a in _actions(tag_result))
    digest_actions = dict((a["ref"], a) for a in _actions(artifact_result))
    tag_ran, digest_ran = _ran(tag_result), _ran(artifact_result)

    def keep(summary, reason, count):
        if count:
            summary["kept_by_reason"][reason] = summary["kept_by_reason"].get(reason, 0) + count

    def keep_untagged(summary, reason):
        summary["untagged_kept_by_reason"][reason] = summary["untagged_kept_by_reason"].get(reason, 0) + 1

    # Tags removed from images that stay.
    for entry in plan["remove_tags"]:
        summary = repo(entry["repository"])
        action = tag_actions.get("%s:%s" % (entry["repository"], entry["tag"]))
        outcome = _outcome(action.get("action") if action else None, blocked, tag_ran)
        if outcome == "gone":
            summary["tags_removed_from_surviving"] += 1
            summary["removed_from_surviving"].append(entry["tag"])
            summary["removed_tags"].append(entry["tag"])
        else:
            keep(summary, outcome, 1)

    # Digests deleted, with their tags and the children of a deleted index; leftovers apart.
    leftovers = {}
    for entry in plan["delete_digests"]:
        name = entry["repository"]
        summary = repo(name)
        ref = "%s@%s" % (name, entry["digest"])
        action = digest_actions.get(ref)
        kind = action.get("action") if action else None
        if entry.get("leftover"):
            item = {"digest": entry["digest"], "tags": list(entry.get("tags") or []), "action": kind}
            leftovers[ref] = item
            summary["leftovers"].append(item)
            if kind == "deleted":
                summary["bytes_freed"] += entry.get("size_bytes") or 0
            continue
        tags = list(entry.get("tags") or [])
        outcome = _outcome(kind, blocked, digest_ran)
        outcomes = {entry["digest"]: outcome}
        if outcome == "gone":
            summary["digests_deleted"] += 1
            summary["deleted_digests"].append(entry["digest"])
            summary["deleted_digest_tags"][entry["digest"]] = sorted(tags)
            summary["tags_removed_with_digests"] += len(tags)
            summary["removed_tags"].extend(tags)
            if kind == "deleted":
                summary["bytes_freed"] += entry.get("size_bytes") or 0
        else:
            keep(summary, outcome, len(tags))
            if not tags:
                keep_untagged(summary, outcome)
        for child in entry.get("children") or []:
            child_action = digest_actions.get("%s@%s" % (name, child))
            child_kind = child_action.get("action") if child_action else None
            child_outcome = outcomes[child] = _outcome(child_kind, blocked, digest_ran)
            if child_outcome == "gone":
                summary["digests_deleted"] += 1
                summary["deleted_digests"].append(child)
                summary["deleted_digest_tags"][child] = []
                if child_kind == "deleted":
                    summary["bytes_freed"] += (entry.get("children_size_bytes") or {}).get(child) or 0
            else:
                keep_untagged(summary, child_outcome)
        # Signatures, SBOMs and attestations deleted with their subject (referrers: with_subject).
        for referrer in entry.get("referrers") or []:
            ref_tags = sorted(referrer.get("tags") or [])
            ref_action = digest_actions.get("%s@%s" % (name, referrer["digest"]))
            ref_kind = ref_action.get("action") if ref_action else None
            ref_outcome = outcomes[referrer["digest"]] = _outcome(ref_kind, blocked, digest_ran)
            subject = referrer.get("subject") or entry["digest"]
            if ref_outcome == "gone":
                summary["digests_deleted"] += 1
                summary["referrers_deleted"] += 1
                summary["deleted_digests"].append(referrer["digest"])
                summary["deleted_digest_tags"][referrer["digest"]] = ref_tags
                summary["deleted_referrers"][referrer["digest"]] = subject
                summary["tags_removed_with_digests"] += len(ref_tags)
                summary["removed_tags"].extend(ref_tags)
                if ref_kind == "deleted":
                    summary["bytes_freed"] += referrer.get("size_bytes") or 0
                if outcomes.get(subject, "gone") != "gone":
                    # The module deletes the digests side by side: the subject was kept (it gained a tag, say) and its
                    # signature or SBOM went. The subject stays without it: someone has to look.
                    summary["errors"].append("referrer %s was deleted but its subject %s was not (%s): the subject stays "
                                             "without it" % (referrer["digest"], subject, outcomes[subject]))
            else:
                keep(summary, ref_outcome, len(ref_tags))
                if not ref_tags:
                    keep_untagged(summary, ref_outcome)

    for entry in plan.get("read_errors") or []:
        tags = entry.get("tags") or []
        if entry.get("digest"):
            text = "digest %s could not be read completely: %s; kept%s" % (
                entry["digest"], entry.get("msg"), " with its tags %s" % ", ".join(tags) if tags else "")
        else:
            text = "repository could not be read completely: %s; nothing in it was removed" % entry.get("msg")
        repo(entry["repository"])["errors"].append(text)

    # What the modules said about each item, in their words: skips and failures.
    for action in _actions(tag_result):
        repository, tag = _split(action["ref"], ":")
        kind = action.get("action")
        if kind == "skipped":
            # e.g. reason "moved": the tag points at another digest than the plan saw; it was not removed
            repo(repository)["skipped"].append({"tag": tag, "reason": action.get("reason") or "skipped", "msg": action.get("msg")})
        elif kind not in GONE + ("unchanged",):
            repo(repository)["errors"].append("tag %s: %s%s" % (tag, kind, ": %s" % action["msg"] if action.get("msg") else ""))
    for action in _actions(artifact_result):
        repository, digest = _split(action["ref"], "@")
        kind = action.get("action")
        if action["ref"] in leftovers:
            if kind not in GONE + ("skipped", "unchanged"):
                repo(repository)["errors"].append("leftover throwaway manifest %s: %s%s" % (
                    digest, kind, ": %s" % action["msg"] if action.get("msg") else ""))
            continue
        if kind == "skipped":
            repo(repository)["skipped"].append({"digest": digest, "reason": action.get("reason") or "skipped", "msg": action.get("msg")})
        elif kind not in GONE + ("unchanged",):
            repo(repository)["errors"].append("digest %s: %s%s" % (digest, kind, ": %s" % action["msg"] if action.get("msg") else ""))
    for result, what in ((tag_result, "tag removal"), (artifact_result, "digest deletion")):
        if _ran(result) == "failed":
            repo("*")["errors"].append("%s: %s" % (what, result.get("msg")))

    for summary in repositories.values():
        summary["tags_removed"] = summary["tags_removed_with_digests"] + summary["tags_removed_from_surviving"]
        summary["tags_after"] = summary["tags_before"] - summary["tags_removed"]
        summary["tags_kept"] = summary["tags_after"]
        summary["digests_after"] = summary["digests_before"] - summary["digests_deleted"]
        summary["kept_by_reason"] = dict(sorted(summary["kept_by_reason"].items()))
        summary["untagged_kept_by_reason"] = dict(sorted(summary["untagged_kept_by_reason"].items()))
        summary["removed_tags"].sort()
        summary["removed_from_surviving"].sort()
        summary["deleted_digests"].sort()
        summary["skipped"].sort(key=lambda e: (e.get("tag") or "", e.get("digest") or ""))
        summary["leftovers"].sort(key=lambda e: e["digest"])
    totals = _totals(repositories)
    report = {"check_mode": bool(check_mode), "blocked": blocked, "block_reasons": list(plan.get("block_reasons") or []),
              "now": plan.get("now"), "totals": totals, "repositories": repositories}
    report["lines"] = _lines(report)
    return report


_COUNTS = ("tags_before", "tags_removed", "tags_removed_with_digests", "tags_removed_from_surviving", "tags_kept",
           "tags_after", "digests_before", "digests_deleted", "referrers_deleted", "digests_after", "tags_untagged_only",
           "deferred_tags", "deferred_digests", "bytes_freed", "read_errors")


def _totals(repositories):
    totals = dict((key, 0) for key in _COUNTS)
    totals.update({"kept_by_reason": {}, "untagged_kept_by_reason": {}, "skipped": 0, "errors": 0, "leftovers": 0})
    for summary in repositories.values():
        for key in _COUNTS:
            totals[key] += summary[key]
        for key in ("kept_by_reason", "untagged_kept_by_reason"):
            for reason, count in summary[key].items():
                totals[key][reason] = totals[key].get(reason, 0) + count
        totals["skipped"] += len(summary["skipped"])
        totals["errors"] += len(summary["errors"])
        totals["leftovers"] += sum(1 for e in summary["leftovers"] if e["action"] == "deleted")
    for key in ("kept_by_reason", "untagged_kept_by_reason"):
        totals[key] = dict(sorted(totals[key].items()))
    totals["repositories"] = len(repositories)
    # The short names of earlier reports, for the same numbers.
    totals["removed_tags"] = totals["tags_removed"]
    totals["deleted_digests"] = totals["digests_deleted"]
    totals["kept"] = totals["tags_kept"]
    return totals


def _mib(size):
    return "%.2f MiB" % (size / 1048576.0)


def _reasons(counts):
    return " + ".join("%s %d" % (reason, count) for reason, count in sorted(counts.items()) if count) or "none"


def _figures(summary, would, lines, indent="  "):
    """The reconciling lines of one repository (or of the totals): before - removed = after, kept by reason."""
    removed, deleted, freed = ("would be removed", "would be deleted", "would be freed") if would else ("removed", "deleted", "freed")
    lines.append("%stags:    %d before - %d %s = %d after; %s: %d with %d %sdigest(s) + %d from images that stay" % (
        indent, summary["tags_before"], summary["tags_removed"], removed, summary["tags_after"], removed,
        summary["tags_removed_with_digests"], summary["digests_deleted"], "" if would else "deleted ",
        summary["tags_removed_from_surviving"]))
    lines.append("%skept:    %d tag(s) = %s" % (indent, summary["tags_kept"], _reasons(summary["kept_by_reason"])))
    untagged = summary["untagged_kept_by_reason"]
    lines.append("%sdigests: %d before - %d %s%s = %d after%s; %s %s" % (
        indent, summary["digests_before"], summary["digests_deleted"], deleted,
        " (%d referrer(s) with their subjects)" % summary["referrers_deleted"] if summary.get("referrers_deleted") else "",
        summary["digests_after"], " (%d untagged: %s)" % (sum(untagged.values()), _reasons(untagged)) if untagged else "",
        _mib(summary["bytes_freed"]), freed))
    if summary.get("tags_untagged_only"):
        lines.append("%suntag:   %d digest(s) %s untagged and stay (action untag never deletes a manifest)" % (
            indent, summary["tags_untagged_only"], "would be left" if would else "left"))
    if summary.get("deferred_tags") or summary.get("deferred_digests"):
        lines.append("%sdeferred: %d tag(s) and %d digest(s) left for the next run (on_limit truncate); kept now" % (
            indent, summary["deferred_tags"], summary["deferred_digests"]))


def _lines(report):
    would = report["check_mode"]
    lines = []
    if report["blocked"]:
        lines.append("BLOCKED, nothing deleted: %s" % "; ".join(report["block_reasons"]))
    lines.append("Report%s; now %s" % (" (check mode: nothing was changed, the figures say what would happen)" if would else "",
                                       report.get("now")))
    for name in sorted(report["repositories"]):
        summary = report["repositories"][name]
        lines.append(name)
        _figures(summary, would, lines)
        extra = []
        if summary["skipped"]:
            extra.append("skipped %d" % len(summary["skipped"]))
        if summary["errors"]:
            extra.append("ERRORS %d" % len(summary["errors"]))
        done = sum(1 for e in summary["leftovers"] if e["action"] == "deleted")
        if summary["leftovers"]:
            extra.append("leftover throwaway manifest(s) %s %d" % ("would be deleted" if would else "deleted", done))
        if summary["read_errors"]:
            extra.append("read errors %d" % summary["read_errors"])
        if extra:
            lines.append("  " + "; ".join(extra))
        for leftover in summary["leftovers"]:
            lines.append("  leftover throwaway manifest %s (tags: %s) of an interrupted tag removal: %s" % (
                leftover["digest"], ", ".join(leftover["tags"]) or "none",
                ("would be deleted" if would and leftover["action"] == "deleted" else leftover["action"]) or "not run"))
        for skipped in summary["skipped"]:
            what = "tag %s" % skipped["tag"] if skipped.get("tag") else skipped.get("digest")
            lines.append("  skipped %s (%s): %s" % (what, skipped["reason"], skipped.get("msg")))
        for error in summary["errors"]:
            lines.append("  error %s" % error)
    totals = report["totals"]
    lines.append("total (%d repositor%s)" % (totals["repositories"], "y" if totals["repositories"] == 1 else "ies"))
    _figures(totals, would, lines)
    lines.append("  skipped %d, errors %d, read errors %d; leftover throwaway manifests %s: %d" % (
        totals["skipped"], totals["errors"], totals["read_errors"], "that would be deleted" if would else "deleted",
        totals["leftovers"]))
    return lines


class FilterModule(object):
    def filters(self):
        return {"retention_report": retention_report}
