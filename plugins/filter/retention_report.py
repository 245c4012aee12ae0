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
  - The the C(regops.registry.cleanup) role role prints it, writes it as JSON and hands it to C(set_stats).
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
      description: C(removed_tags), C(deleted_digests), C(bytes_freed), C(kept), C(skipped), C(errors).
      type: dict
    repositories:
      description: Per repository C(kept_by_reason), C(removed_tags), C(deleted_digests), C(bytes_freed), C(skipped), C(errors).
      type: dict
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


def retention_report(plan, tag_result=None, artifact_result=None, check_mode=False):
    if not isinstance(plan, dict) or "remove_tags" not in plan:
        raise AnsibleFilterError("retention_report: the input must be a plan from regops.registry.retention_plan")
    repositories = {}

    def repo(name):
        return repositories.setdefault(name, {"kept_by_reason": {}, "removed_tags": [], "deleted_digests": [], "bytes_freed": 0,
                                              "skipped": [], "errors": []})

    for name, summary in (plan.get("repositories") or {}).items():
        repo(name)["kept_by_reason"] = dict(summary.get("kept_by_reason") or {})
    sizes = {}
    for entry in plan.get("delete_digests") or []:
        sizes[(entry["repository"], entry["digest"])] = entry.get("size_bytes") or 0
        for child, size in (entry.get("children_size_bytes") or {}).items():
            sizes[(entry["repository"], child)] = size or 0
    done = ("deleted",)
    for action in _actions(tag_result):
        repository, tag = _split(action["ref"], ":")
        if action["action"] in done:
            repo(repository)["removed_tags"].append(tag)
        elif action["action"] == "failed":
            repo(repository)["errors"].append("tag %s: %s" % (tag, action.get("msg")))
    for action in _actions(artifact_result):
        repository, digest = _split(action["ref"], "@")
        if action["action"] in done:
            repo(repository)["deleted_digests"].append(digest)
            repo(repository)["bytes_freed"] += sizes.get((repository, digest), 0)
        elif action["action"] == "skipped":
            repo(repository)["skipped"].append({"digest": digest, "reason": action.get("msg")})
        elif action["action"] == "failed":
            repo(repository)["errors"].append("digest %s: %s" % (digest, action.get("msg")))
    for result, what in ((tag_result, "tag removal"), (artifact_result, "digest deletion")):
        if result and result.get("failed") and not _actions(result):
            repositories.setdefault("*", {"kept_by_reason": {}, "removed_tags": [], "deleted_digests": [], "bytes_freed": 0,
                                          "skipped": [], "errors": []})["errors"].append("%s: %s" % (what, result.get("msg")))
    totals = {"removed_tags": 0, "deleted_digests": 0, "bytes_freed": 0, "kept": 0, "skipped": 0, "errors": 0}
    for summary in repositories.values():
        summary["removed_tags"].sort()
        summary["deleted_digests"].sort()
        totals["removed_tags"] += len(summary["removed_tags"])
        totals["deleted_digests"] += len(summary["deleted_digests"])
        totals["bytes_freed"] += summary["bytes_freed"]
        totals["kept"] += sum(summary["kept_by_reason"].values())
        totals["skipped"] += len(summary["skipped"])
        totals["errors"] += len(summary["errors"])
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
        lines.append("%s: %sremove %d tag(s), %sdelete %d digest(s), %s MiB freed; kept: %s%s%s" % (
            name, verb, len(summary["removed_tags"]), verb, len(summary["deleted_digests"]),
            round(summary["bytes_freed"] / 1048576.0, 2), kept,
            "; skipped %d" % len(summary["skipped"]) if summary["skipped"] else "",
            "; ERRORS %d" % len(summary["errors"]) if summary["errors"] else ""))
        for skipped in summary["skipped"]:
            lines.append("  skipped %s: %s" % (skipped["digest"], skipped["reason"]))
        for error in summary["errors"]:
            lines.append("  error %s" % error)
    totals = report["totals"]
    lines.append("total: %sremove %d tag(s), %sdelete %d digest(s), %s MiB freed, %d kept, %d skipped, %d error(s)" % (
        verb, totals["removed_tags"], verb, totals["deleted_digests"], round(totals["bytes_freed"] / 1048576.0, 2), totals["kept"],
        totals["skipped"], totals["errors"]))
    return lines


class FilterModule(object):
    def filters(self):
        return {"retention_report": retention_report}
