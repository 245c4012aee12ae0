# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: retention_table
short_description: A retention plan as a table a person can review, one line per tag that disappears
version_added: 0.1.0
author: regops.registry contributors (@regops)
description:
  - Turns a plan from P(regops.registry.retention_plan#filter) into rows and aligned text lines, grouped per
    repository, oldest first, so that a reviewer sees every tag that will disappear before anything is changed.
  - "There is one row per tag that disappears: each tag removed from an image that stays (C(untag); the row names the
    tags the image keeps) and each tag that goes with a deleted digest (C(delete)). An untagged manifest that is
    deleted (an untagged image, or a child of a deleted index) is a row with tag C(-). A signature, SBOM or
    attestation deleted with its subject is a row right after the subject's (C(referrer of sha256:...))."
  - What C(on_limit=truncate) deferred to the next run is counted in the figures (and listed, action C(keep), reason
    C(deferred), with O(show_kept)).
  - Each repository ends with its figures, which add up (tags before - removed = after, kept by reason); the table
    ends with the totals, the warnings and, when a circuit breaker tripped, why nothing will be deleted.
  - The C(regops.registry.cleanup) role prints RV(_value.lines) in check mode and before a real run
    (O(regops.registry.cleanup#role:main:cleanup_print_plan)).
options:
  _input:
    description: A plan returned by P(regops.registry.retention_plan#filter).
    type: dict
    required: true
  check_mode:
    description: Word the lines for a check run (V(true), "would") or for a run about to change the registry (V(false), "will").
    type: bool
    default: false
  show_kept:
    description: Also list every kept tag, with the reason it is kept (action C(keep)).
    type: bool
    default: false
seealso:
  - plugin: regops.registry.retention_plan
    plugin_type: filter
  - plugin: regops.registry.retention_report
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Show the plan as a table
  ansible.builtin.debug:
    msg: "{{ (retention | regops.registry.retention_table(check_mode=ansible_check_mode)).lines }}"
"""

RETURN = r"""
_value:
  description: The table.
  type: dict
  contains:
    rows:
      description:
        - One dict per row, in the order of the lines, with C(repository), C(tag) (V(null) for an untagged manifest),
          C(digest), C(age_seconds) (by the C(age_basis) the policy used; V(null) when unknown), C(age_basis),
          C(action) (V(untag), V(delete) or V(keep)), C(policy), C(reason) (why the policy selected it, or why it is
          kept) and C(note) (the tags an untagged image keeps, the index a child goes with, ...).
      type: list
      elements: dict
    lines:
      description: The aligned text of the table, per repository, with each repository's figures and the totals.
      type: list
      elements: str
      sample:
        - "Plan (check mode: nothing is changed), now 2026-11-01T00:00:00Z: 549 tag(s) and 273 digest(s) would go"
        - "REPOSITORY   TAG           DIGEST               AGE   ACTION  POLICY     REASON          NOTE"
        - "shop/api     build-0000    sha256:c7ce137708c4  240d  delete  ci-builds  older than 60d  with sha-099950d8"
        - "shop/api     sha-099950d8  sha256:c7ce137708c4  240d  delete  ci-builds  older than 60d  with build-0000"
        - "shop/web     rc-1.1.0      sha256:3e16b346c815  200d  untag   ci-builds  older than 60d  image stays with v1.1.0"
        - "shop/api: tags 280 before - 212 would be removed (212 with 106 digest(s) + 0 from images that stay) = 68 after; ..."
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.regops.registry.plugins.module_utils.retention import format_duration

COLUMNS = (("repository", "REPOSITORY"), ("tag", "TAG"), ("digest", "DIGEST"), ("age", "AGE"), ("action", "ACTION"),
           ("policy", "POLICY"), ("reason", "REASON"), ("note", "NOTE"))


def short_digest(digest):
    """``sha256:`` and the first 12 hex digits: enough to tell digests apart in a review."""
    algorithm, _sep, encoded = (digest or "").partition(":")
    return "%s:%s" % (algorithm, encoded[:12]) if encoded else (digest or "-")


def age_text(seconds):
    if seconds is None:
        return "-"
    if seconds < 0:
        return "future"
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds >= size:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds


def _selection(policies):
    """policy name -> why it selects, in a few words ("older than 60d", "tag pr-*")."""
    reasons = {}
    for policy in policies or []:
        parts = []
        if policy.get("older_than") not in (None, 0, "0s"):
            parts.append("older than %s" % _duration(policy["older_than"]))
        if policy.get("newer_than") not in (None, 0, "0s"):
            parts.append("newer than %s" % _duration(policy["newer_than"]))
        include = (policy.get("tags") or {}).get("include") or []
        if include:
            parts.append("tag %s" % " or ".join(include))
        reasons[policy.get("name")] = ", ".join(parts) or "selected"
    return reasons


def _duration(value):
    return format_duration(value) if isinstance(value, int) and not isinstance(value, bool) else value


def retention_table(plan, check_mode=False, show_kept=False):
    """Return ``{"rows": [...], "lines": [...]}`` for a plan; see DOCUMENTATION."""
    if not isinstance(plan, dict) or not isinstance(plan.get("remove_tags"), list) or not isinstance(plan.get("delete_digests"), list):
        raise AnsibleFilterError("retention_table: the input must be a plan returned by regops.registry.retention_plan")
    try:
        rows = _rows(plan, show_kept)
        return {"rows": rows, "lines": _lines(plan, rows, check_mode)}
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("retention_table: malformed plan: %s" % exc)


def _rows(plan, show_kept):
    why = _selection(plan.get("policies"))
    kept_tags, untag_only = {}, set()
    for entry in plan.get("kept") or []:
        if entry.get("tag") is not None:
            kept_tags.setdefault((entry["repository"], entry["digest"]), []).append(entry["tag"])
        elif entry.get("reason") == "untag_only":
            untag_only.add((entry["repository"], entry["digest"]))
    rows = []
    for entry in plan["remove_tags"]:
        stays = sorted(kept_tags.get((entry["repository"], entry["digest"]), []))
        rows.append({"repository": entry["repository"], "tag": entry["tag"], "digest": entry["digest"],
                     "age_seconds": entry.get("age_seconds"), "age_basis": entry.get("age_basis"), "action": "untag",
                     "policy": entry.get("policy"), "reason": why.get(entry.get("policy"), "selected"),
                     "note": ("image stays with %s" % ", ".join(stays)) if stays else (
                         "image stays untagged (action untag)" if (entry["repository"], entry["digest"]) in untag_only
                         else "image stays (untagged: a guard keeps it)")})
    for entry in plan["delete_digests"]:
        if entry.get("leftover"):
            policy, reason = None, "leftover"
            note = "throwaway manifest of an interrupted tag removal"
        elif entry.get("reason") == "orphan_referrer":
            policy, reason = entry.get("policy"), "orphan referrer"
            note = "its subject is gone"
        else:
            policy, reason = entry.get("policy"), why.get(entry.get("policy"), "selected")
            note = ""
        base = {"repository": entry["repository"], "digest": entry["digest"], "age_seconds": entry.get("age_seconds"),
                "age_basis": entry.get("age_basis"), "action": "delete", "policy": policy, "reason": reason}
        tags = sorted(entry.get("tags") or [])
        for tag in tags:
            rows.append(dict(base, tag=tag, note=note or ("with %s" % ", ".join(t for t in tags if t != tag) if len(tags) > 1 else "")))
        if not tags:
            rows.append(dict(base, tag=None, note=note or "untagged manifest"))
        # children, then referrers, in the plan's order (parents and subjects first)
        for seq, child in enumerate(entry.get("children") or []):
            rows.append(dict(base, digest=child, tag=None, note="child of index %s" % short_digest(entry["digest"]),
                             _group=entry["digest"], _seq=seq))
        for seq, referrer in enumerate(entry.get("referrers") or [], len(entry.get("children") or [])):
            note = "%s of %s" % (referrer.get("artifact_type") or "referrer", short_digest(referrer.get("subject") or entry["digest"]))
            for tag in sorted(referrer.get("tags") or []) or [None]:
                rows.append(dict(base, digest=referrer["digest"], tag=tag, note=note, _group=entry["digest"], _seq=seq))
    if show_kept:
        for entry in plan.get("kept") or []:
            if entry.get("tag") is None:
                continue
            rows.append({"repository": entry["repository"], "tag": entry["tag"], "digest": entry["digest"],
                         "age_seconds": entry.get("age_seconds"), "age_basis": entry.get("age_basis"), "action": "keep",
                         "policy": entry.get("policy"), "reason": entry.get("reason"), "note": ""})
    order = {"delete": 0, "untag": 0, "keep": 1}
    # Per repository, oldest first; the tags of one digest stay together; kept tags after the ones that go.
    # A child of a deleted index sorts right after the index's own rows.
    rows.sort(key=lambda r: (r["repository"], order[r["action"]],
                             -(r["age_seconds"] if r["age_seconds"] is not None else -1), r.get("_group", r["digest"]),
                             "_group" in r, r.get("_seq", 0), r["tag"] is None, r["tag"] or "", r["digest"]))
    for row in rows:
        row.pop("_group", None)
        row.pop("_seq", None)
    return rows


def _cells(row):
    return {"repository": row["repository"], "tag": row["tag"] if row["tag"] is not None else "-",
            "digest": short_digest(row["digest"]), "age": age_text(row["age_seconds"]), "action": row["action"],
            "policy": row["policy"] or "-", "reason": row["reason"] or "", "note": row["note"] or ""}


def _reasons(counts):
    return " + ".join("%s %d" % (reason, count) for reason, count in sorted((counts or {}).items()) if count) or "none"


def _figures(name, summary, verb):
    tags = "%s: tags %d before - %d %s (%d with %d digest(s) + %d from images that stay) = %d after; kept %d = %s" % (
        name, summary.get("tags_before", 0), summary.get("tags_removed", 0), verb["removed"],
        summary.get("tags_removed_with_digests", 0), summary.get("digests_deleted", 0),
        summary.get("tags_removed_from_surviving", 0), summary.get("tags_after", 0), summary.get("tags_kept", 0),
        _reasons(summary.get("kept_by_reason")))
    untagged = summary.get("untagged_kept_by_reason") or {}
    digests = "%s  digests %d before - %d %s%s = %d after%s; %.2f MiB %s%s%s%s" % (
        " " * len(name), summary.get("digests_before", 0), summary.get("digests_deleted", 0), verb["deleted"],
        " (%d referrer(s) with their subjects)" % summary["referrers_deleted"] if summary.get("referrers_deleted") else "",
        summary.get("digests_after", 0), " (%d untagged: %s)" % (sum(untagged.values()), _reasons(untagged)) if untagged else "",
        summary.get("bytes_freed", 0) / 1048576.0, verb["freed"],
        " (some sizes unknown)" if summary.get("bytes_freed_partial") else "",
        "; %d leftover throwaway manifest(s) %s" % (summary["leftovers"], verb["deleted"]) if summary.get("leftovers") else "",
        "; %d read error(s): kept" % summary["read_errors"] if summary.get("read_errors") else "")
    lines = [tags, digests]
    if summary.get("tags_untagged_only"):
        lines.append("%s  %d digest(s) left untagged by action untag (they stay)" % (" " * len(name), summary["tags_untagged_only"]))
    if summary.get("deferred_tags") or summary.get("deferred_digests"):
        lines.append("%s  deferred to the next run (on_limit truncate): %d tag(s), %d digest(s)" % (
            " " * len(name), summary.get("deferred_tags", 0), summary.get("deferred_digests", 0)))
    return lines


def _lines(plan, rows, check_mode):
    verb = ({"removed": "would be removed", "deleted": "would be deleted", "freed": "would be freed", "go": "would go"}
            if check_mode else
            {"removed": "to remove", "deleted": "to delete", "freed": "to free", "go": "will go"})
    totals = plan.get("totals") or {}
    lines = []
    header = "Plan%s, now %s: %d tag(s) and %d digest(s) %s" % (
        " (check mode: nothing is changed)" if check_mode else "", plan.get("now"), totals.get("tags_removed", 0),
        totals.get("digests_deleted", 0) + totals.get("leftovers", 0), verb["go"])
    if plan.get("blocked"):
        header = "BLOCKED, nothing will be deleted: %s" % "; ".join(plan.get("block_reasons") or [])
    lines.append(header)
    cells = [_cells(r) for r in rows]
    widths = dict((key, max([len(title)] + [len(c[key]) for c in cells])) for key, title in COLUMNS)

    def render(values):
        return "  ".join(values[key].ljust(widths[key]) for key, _title in COLUMNS).rstrip()

    summaries = plan.get("repositories") or {}
    names = sorted(set(summaries) | set(r["repository"] for r in rows))
    if cells:
        lines.append(render(dict((key, title) for key, title in COLUMNS)))
    for name in names:
        mine = [c for c in cells if c["repository"] == name]
        lines.extend(render(c) for c in mine)
        if name in summaries:
            lines.extend(_figures(name, summaries[name], verb))
    lines.extend(_figures("total", totals, verb))
    for warning in plan.get("warnings") or []:
        lines.append("warning: %s" % warning)
    if plan.get("blocked"):
        lines.append("BLOCKED, nothing will be deleted: %s" % "; ".join(plan.get("block_reasons") or []))
    return lines


class FilterModule(object):
    """Retention plan as a table."""

    def filters(self):
        return {"retention_table": retention_table}
