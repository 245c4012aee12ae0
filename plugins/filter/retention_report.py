# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: retention_report
short_description: Turn a retention plan and what the modules did into a per-repository report
version_added: 0.1.0
author: regops.registry contributors (@regops)
description:
  - Combines a plan from P(regops.registry.retention_plan#filter) with the registered results of the
    M(regops.registry.tag) and M(regops.registry.artifact) calls that carried it out (or predicted it, in check mode)
    into one report per repository, kept items by reason, removed tags, deleted digests, bytes freed, skipped
    items and errors, plus a list of readable lines.
  - A tag the M(regops.registry.tag) call skipped because it now points at another digest than the plan saw is
    listed under C(skipped) with reason C(moved), and is not counted as removed. A digest the
    M(regops.registry.artifact) call skipped (it gained a tag since the snapshot) is listed the same way.
  - Every artifact the plan kept because it could not be read completely (the plan's C(read_errors)) is an error of
    its repository, and so is every item a module call could not remove.
  - Throwaway manifests of an interrupted tag removal that the plan deleted are listed under C(leftovers), not
    under C(deleted_digests).
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
    totals:
      description: C(removed_tags), C(deleted_digests), C(bytes_freed), C(kept), C(skipped), C(errors), C(leftovers)
        (throwaway manifests deleted).
      type: dict
    repositories:
      description:
        - Per repository C(kept_by_reason), C(removed_tags), C(deleted_digests), C(bytes_freed), C(skipped),
          C(errors) and C(leftovers).
        - C(skipped) entries are C({tag, reason, msg}) or C({digest, reason, msg}); C(reason) is a short code such as
          C(moved) (a tag that points at another digest now) or C(tags_changed) (a digest that gained a tag).
        - C(leftovers) entries are C({digest, tags, action}) for the throwaway manifests the plan deleted.
        - C(errors) are readable strings, one per read error of the snapshot and per item a module call could not remove.
      type: dict
      sample:
        team/app:
          kept_by_reason: {latest: 1, read_error: 1}
          removed_tags: [pr-12]
          deleted_digests: ["sha256:..."]
          bytes_freed: 1234
          skipped: [{tag: pr-13, reason: moved, msg: "moved: now points at sha256:..., the plan expected sha256:..."}]
          errors: ["digest sha256:... could not be read completely: HTTP 500; kept with its tags v1"]
          leftovers: [{digest: "sha256:...", tags: [pr-9], action: deleted}]
    lines:
      description: The report as readable lines.
      type: list
      elements: str
"""

from ansible.errors import AnsibleFilterError


def _actions(result):
    return (result or {}).get("actions") or []


def _split(ref, separator):
    repository, _sep, name = ref.rpartition(separator)
    return repository, name


def _new_summary():
    return {"kept_by_reason": {}, "removed_tags": [], "deleted_digests": [], "bytes_freed": 0, "skipped": [], "errors": [],
            "leftovers": []}


def retention_report(plan, tag_result=None, artifact_result=None, check_mode=False):
    if not isinstance(plan, dict) or "remove_tags" not in plan:
        raise AnsibleFilterError("retention_report: the input must be a plan from regops.registry.retention_plan")
    repositories = {}

    def repo(name):
        return repositories.setdefault(name, _new_summary())

    for name, summary in (plan.get("repositories") or {}).items():
        repo(name)["kept_by_reason"] = dict(summary.get("kept_by_reason") or {})
    sizes = {}
    leftovers = {}
    for entry in plan.get("delete_digests") or []:
        sizes[(entry["repository"], entry["digest"])] = entry.get("size_bytes") or 0
        for child, size in (entry.get("children_size_bytes") or {}).items():
            sizes[(entry["repository"], child)] = size or 0
        if entry.get("leftover"):
            item = {"digest": entry["digest"], "tags": list(entry.get("tags") or []), "action": None}
            leftovers["%s@%s" % (entry["repository"], entry["digest"])] = item
            repo(entry["repository"])["leftovers"].append(item)
    for entry in plan.get("read_errors") or []:
        tags = entry.get("tags") or []
        if entry.get("digest"):
            text = "digest %s could not be read completely: %s; kept%s" % (
                entry["digest"], entry.get("msg"), " with its tags %s" % ", ".join(tags) if tags else "")
        else:
            text = "repository could not be read completely: %s; nothing in it was removed" % entry.get("msg")
        repo(entry["repository"])["errors"].append(text)
    for action in _actions(tag_result):
        repository, tag = _split(action["ref"], ":")
        kind = action.get("action")
        if kind == "deleted":
            repo(repository)["removed_tags"].append(tag)
        elif kind == "skipped":
            # e.g. reason "moved": the tag points at another digest than the plan saw; it was not removed
            repo(repository)["skipped"].append({"tag": tag, "reason": action.get("reason") or "skipped", "msg": action.get("msg")})
        elif kind not in ("absent", "unchanged"):
            repo(repository)["errors"].append("tag %s: %s%s" % (tag, kind, ": %s" % action["msg"] if action.get("msg") else ""))
    for action in _actions(artifact_result):
        repository, digest = _split(action["ref"], "@")
        kind = action.get("action")
        leftover = leftovers.get(action["ref"])
        if leftover is not None:
            leftover["action"] = kind
        if kind == "deleted":
            if leftover is None:
                repo(repository)["deleted_digests"].append(digest)
            repo(repository)["bytes_freed"] += sizes.get((repository, digest), 0)
        elif kind == "skipped":
            repo(repository)["skipped"].append({"digest": digest, "reason": action.get("reason") or "skipped", "msg": action.get("msg")})
        elif kind not in ("absent", "unchanged"):
            repo(repository)["errors"].append("digest %s: %s%s" % (digest, kind, ": %s" % action["msg"] if action.get("msg") else ""))
    for result, what in ((tag_result, "tag removal"), (artifact_result, "digest deletion")):
        if result and result.get("failed") and not _actions(result):
            repo("*")["errors"].append("%s: %s" % (what, result.get("msg")))
    totals = {"removed_tags": 0, "deleted_digests": 0, "bytes_freed": 0, "kept": 0, "skipped": 0, "errors": 0, "leftovers": 0}
    for summary in repositories.values():
        summary["removed_tags"].sort()
        summary["deleted_digests"].sort()
        summary["skipped"].sort(key=lambda e: (e.get("tag") or "", e.get("digest") or ""))
        summary["leftovers"].sort(key=lambda e: e["digest"])
        totals["removed_tags"] += len(summary["removed_tags"])
        totals["deleted_digests"] += len(summary["deleted_digests"])
        totals["bytes_freed"] += summary["bytes_freed"]
        totals["kept"] += sum(summary["kept_by_reason"].values())
        totals["skipped"] += len(summary["skipped"])
        totals["errors"] += len(summary["errors"])
        totals["leftovers"] += sum(1 for e in summary["leftovers"] if e["action"] == "deleted")
    report = {"check_mode": bool(check_mode), "blocked": bool(plan.get("blocked")), "block_reasons": list(plan.get("block_reasons") or []),
              "now": plan.get("now"), "totals": totals, "repositories": repositories}
    report["lines"] = _lines(report)
    return report


def _lines(report):
    verb = "would " if report["check_mode"] else ""
    lines = []
    if report["blocked"]:
        lines.append("BLOCKED, nothing deleted: %s" % "; ".join(report["block_reasons"]))
    for name in sorted(report["repositories"]):
        summary = report["repositories"][name]
        kept = ", ".join("%s %d" % (reason, count) for reason, count in sorted(summary["kept_by_reason"].items())) or "nothing"
        cleaned = sum(1 for e in summary["leftovers"] if e["action"] == "deleted")
        lines.append("%s: %sremove %d tag(s), %sdelete %d digest(s), %s MiB freed; kept: %s%s%s%s" % (
            name, verb, len(summary["removed_tags"]), verb, len(summary["deleted_digests"]),
            round(summary["bytes_freed"] / 1048576.0, 2), kept,
            "; %sdelete %d leftover throwaway manifest(s)" % (verb, cleaned) if cleaned else "",
            "; skipped %d" % len(summary["skipped"]) if summary["skipped"] else "",
            "; ERRORS %d" % len(summary["errors"]) if summary["errors"] else ""))
        for leftover in summary["leftovers"]:
            lines.append("  leftover throwaway manifest %s (tags: %s) of an interrupted tag removal: %s" % (
                leftover["digest"], ", ".join(leftover["tags"]) or "none", leftover["action"] or "not run"))
        for skipped in summary["skipped"]:
            what = "tag %s" % skipped["tag"] if skipped.get("tag") else skipped.get("digest")
            lines.append("  skipped %s (%s): %s" % (what, skipped["reason"], skipped.get("msg")))
        for error in summary["errors"]:
            lines.append("  error %s" % error)
    totals = report["totals"]
    lines.append("total: %sremove %d tag(s), %sdelete %d digest(s), %s MiB freed, %d kept, %d skipped, %d error(s)%s" % (
        verb, totals["removed_tags"], verb, totals["deleted_digests"], round(totals["bytes_freed"] / 1048576.0, 2), totals["kept"],
        totals["skipped"], totals["errors"],
        ", %d leftover throwaway manifest(s) %s" % (totals["leftovers"], "would be deleted" if verb else "deleted") if totals["leftovers"] else ""))
    return lines


class FilterModule(object):
    def filters(self):
        return {"retention_report": retention_report}
