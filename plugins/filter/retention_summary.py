# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: retention_summary
short_description: One summary over the cleanup reports of several hosts (a fleet of registries)
version_added: 0.5.0
author: regops.registry contributors (@regops)
description:
  - Adds up the reports of P(regops.registry.retention_report#filter) that the C(regops.registry.cleanup) role made
    on several inventory hosts (one host per registry, project or repository group) into one summary, with each host's
    totals and the fleet's totals.
  - Every count of the hosts' C(totals) is added up, whatever it is, so the fleet's totals are the sum of the hosts'
    (C(repositories) is then the number of repositories over all hosts); C(kept_by_reason) and the other counts by
    reason are added up reason by reason.
  - A host given with no report (V(null); the role failed before its report, or did not run there) is listed as
    such and counted in C(hosts_missing).
  - The C(regops.registry.cleanup) role's C(summary) entry point prints it from a play on C(localhost), after the play
    that ran the role on every host; P(regops.registry.retention_markdown#filter) turns it into Markdown.
options:
  _input:
    description: The reports by host name (the C(cleanup_report) fact of each host); V(null) for a host without one.
    type: dict
    required: true
seealso:
  - plugin: regops.registry.retention_report
    plugin_type: filter
  - plugin: regops.registry.retention_markdown
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Sum up the reports of every registry host
  ansible.builtin.debug:
    msg: "{{ (dict(hosts | zip(hosts | map('extract', hostvars, 'cleanup_report'))) | regops.registry.retention_summary).lines }}"
  vars:
    hosts: "{{ groups['registries'] }}"
"""

RETURN = r"""
_value:
  description: The summary.
  type: dict
  contains:
    check_mode:
      description: Whether the reports are of a check run (nothing was changed).
      type: bool
    hosts:
      description:
        - Per host, C(report) (whether the host has a report) and, when it has one, C(check_mode), C(blocked),
          C(block_reasons), C(now) and C(totals) (the report's totals).
      type: dict
      sample:
        registry-a: {report: true, check_mode: false, blocked: false, block_reasons: [], now: "2026-11-01T00:00:00Z",
                     totals: {repositories: 2, tags_before: 13, tags_removed: 6, tags_after: 7, digests_deleted: 3,
                              bytes_freed: 39849, skipped: 0, errors: 0}}
        registry-c: {report: false}
    totals:
      description:
        - The hosts' totals added up, plus C(hosts) (how many hosts), C(hosts_reported) (with a report),
          C(hosts_missing) (without one), C(hosts_blocked) and C(hosts_with_errors).
      type: dict
      sample:
        hosts: 3
        hosts_reported: 3
        hosts_missing: 0
        hosts_blocked: 0
        hosts_with_errors: 0
        repositories: 5
        tags_before: 40
        tags_removed: 17
        tags_after: 23
        kept_by_reason: {keep_last: 12, latest: 3, too_new: 8}
        digests_deleted: 11
        bytes_freed: 120034
        skipped: 0
        errors: 0
    lines:
      description: The summary as readable lines, one per host, then the totals.
      type: list
      elements: str
      sample:
        - "Summary over 3 host(s)"
        - "registry-a: 2 repositories; tags 13 before - 6 removed = 7 after; 3 digest(s) deleted; 0.04 MiB freed; ..."
        - "total (3 hosts, 5 repositories)"
"""

from ansible.errors import AnsibleFilterError


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _add(into, totals):
    """Add every count of ``totals`` (numbers, and dicts of numbers by reason) into ``into``."""
    for key, value in totals.items():
        if _is_number(value):
            into[key] = into.get(key, 0) + value
        elif isinstance(value, dict) and all(_is_number(v) for v in value.values()):
            counts = into.setdefault(key, {})
            for reason, count in value.items():
                counts[reason] = counts.get(reason, 0) + count


def _mib(size):
    return "%.2f MiB" % ((size or 0) / 1048576.0)


def _host_line(host, entry, would):
    if not entry["report"]:
        return "%s: no report (the role failed before its report, or did not run)" % host
    totals = entry["totals"]
    removed, deleted, freed = ("would be removed", "would be deleted", "would be freed") if would else ("removed", "deleted", "freed")
    count = totals.get("repositories", 0)
    line = "%s: %d %s; tags %d before - %d %s = %d after; %d digest(s) %s; %s %s; skipped %d, errors %d" % (
        host, count, "repository" if count == 1 else "repositories", totals.get("tags_before", 0),
        totals.get("tags_removed", 0), removed, totals.get("tags_after", 0), totals.get("digests_deleted", 0), deleted,
        _mib(totals.get("bytes_freed")), freed, totals.get("skipped", 0), totals.get("errors", 0))
    extra = []
    for key, what in (("referrers_deleted", "referrers deleted"), ("deferred_tags", "tags deferred"),
                      ("deferred_digests", "digests deferred")):
        if totals.get(key):
            extra.append("%s %d" % (what, totals[key]))
    if extra:
        line += "; " + ", ".join(extra)
    if entry["blocked"]:
        line += "; BLOCKED, nothing deleted: %s" % "; ".join(entry["block_reasons"])
    return line


def _lines(summary):
    would = summary["check_mode"]
    totals = summary["totals"]
    check = " (check mode: nothing was changed, the figures say what would happen)" if would else ""
    lines = ["Summary over %d host(s)%s" % (totals["hosts"], check)]
    lines.extend(_host_line(host, summary["hosts"][host], would) for host in sorted(summary["hosts"]))
    removed, deleted, freed = ("would be removed", "would be deleted", "would be freed") if would else ("removed", "deleted", "freed")
    lines.append("total (%d host%s, %d repositor%s)" % (totals["hosts"], "" if totals["hosts"] == 1 else "s",
                                                        totals.get("repositories", 0),
                                                        "y" if totals.get("repositories", 0) == 1 else "ies"))
    lines.append("  tags:    %d before - %d %s = %d after" % (totals.get("tags_before", 0), totals.get("tags_removed", 0), removed,
                                                              totals.get("tags_after", 0)))
    kept = " + ".join("%s %d" % (r, c) for r, c in sorted((totals.get("kept_by_reason") or {}).items()) if c)
    lines.append("  kept:    %d tag(s) = %s" % (totals.get("tags_kept", 0), kept or "none"))
    lines.append("  digests: %d before - %d %s = %d after; %s %s" % (
        totals.get("digests_before", 0), totals.get("digests_deleted", 0), deleted, totals.get("digests_after", 0),
        _mib(totals.get("bytes_freed")), freed))
    lines.append("  hosts:   %d with a report, %d without, %d blocked, %d with errors; skipped %d, errors %d" % (
        totals["hosts_reported"], totals["hosts_missing"], totals["hosts_blocked"], totals["hosts_with_errors"],
        totals.get("skipped", 0), totals.get("errors", 0)))
    return lines


def retention_summary(reports):
    if not isinstance(reports, dict):
        raise AnsibleFilterError("retention_summary: the input must be a dict of reports by host name, got %s"
                                 % type(reports).__name__)
    hosts = {}
    totals = {}
    counts = {"hosts": 0, "hosts_reported": 0, "hosts_missing": 0, "hosts_blocked": 0, "hosts_with_errors": 0}
    check_mode = False
    for host in sorted(reports, key=str):
        report = reports[host]
        counts["hosts"] += 1
        if report is None or report == "" or report == {}:
            hosts[str(host)] = {"report": False}
            counts["hosts_missing"] += 1
            continue
        if not isinstance(report, dict) or not isinstance(report.get("totals"), dict):
            raise AnsibleFilterError("retention_summary: the report of host %s is not a report from "
                                     "regops.registry.retention_report" % host)
        host_totals = dict(report["totals"])
        entry = {"report": True, "check_mode": bool(report.get("check_mode")), "blocked": bool(report.get("blocked")),
                 "block_reasons": list(report.get("block_reasons") or []), "now": report.get("now"), "totals": host_totals}
        hosts[str(host)] = entry
        counts["hosts_reported"] += 1
        counts["hosts_blocked"] += int(entry["blocked"])
        counts["hosts_with_errors"] += int(bool(host_totals.get("errors")))
        check_mode = check_mode or entry["check_mode"]
        _add(totals, host_totals)
    for key in ("kept_by_reason", "untagged_kept_by_reason"):
        totals.setdefault(key, {})
    for key, value in list(totals.items()):
        if isinstance(value, dict):
            totals[key] = dict(sorted(value.items()))
    totals.update(counts)
    summary = {"check_mode": check_mode, "hosts": hosts, "totals": totals}
    summary["lines"] = _lines(summary)
    return summary


class FilterModule(object):
    def filters(self):
        return {"retention_summary": retention_summary}
