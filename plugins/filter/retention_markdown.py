# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: retention_markdown
short_description: A cleanup report (or a summary over several hosts) as Markdown, for a CI job summary
version_added: 0.5.0
author: regops.registry contributors (@regops)
description:
  - Renders a report from P(regops.registry.retention_report#filter) as GitHub-flavoured Markdown, ready for a CI job
    summary (GitHub's C($GITHUB_STEP_SUMMARY), a GitLab job artifact) or the output of an AWX job.
  - "A report becomes a heading, the plan's state (check mode says what I(would) happen; a blocked plan lists why
    nothing was deleted), then one table per repository and, for several repositories, one for the totals: tags
    before, removed (with their deleted digests, and from images that stay), after; kept tags by reason; digests
    before, deleted, after; the untagged manifests that stay, by reason; bytes freed; skipped items; errors."
  - The counts that only some policies make are rows when they are not 0, C(referrers_deleted) (signatures, SBOMs
    and attestations deleted with their subject), C(tags_untagged_only) (digests left untagged by C(action=untag)),
    C(deferred_tags) and C(deferred_digests) (left for the next run by C(on_limit=truncate)), and so are leftover
    throwaway manifests and read errors.
  - Under each table, the skipped items and the errors are listed, and with O(details) the deleted digests (with
    the tags that went with each, and the subject of each referrer), the tags removed from images that stay and what
    was deferred, folded in a C(<details>) block.
  - A summary from P(regops.registry.retention_summary#filter) (the C(regops.registry.cleanup) role's C(summary)
    entry point) becomes one table with a row per host and a total row.
  - The C(regops.registry.cleanup) role writes it to O(regops.registry.cleanup#role:main:cleanup_report_markdown_path)
    and, per host, to O(regops.registry.cleanup#role:main:cleanup_report_dir).
options:
  _input:
    description: A report from P(regops.registry.retention_report#filter), or a summary from
      P(regops.registry.retention_summary#filter).
    type: dict
    required: true
  title:
    description: The heading. Empty means C(Registry cleanup report) (C(Registry cleanup summary) for a summary).
    type: str
    default: ""
  heading_level:
    description: The level of the heading (1 to 4); each repository's heading is one level below.
    type: int
    default: 2
  details:
    description: List the removed tags and the deleted digests of each repository, folded in a C(<details>) block.
    type: bool
    default: true
  max_items:
    description:
      - At most this many items in each list (removed tags, deleted digests, skipped items, errors, deferred items);
        the rest is counted (C(... and 12 more)). GitHub accepts at most 1 MiB of step summary per step.
      - V(0) means no limit.
    type: int
    default: 50
seealso:
  - plugin: regops.registry.retention_report
    plugin_type: filter
  - plugin: regops.registry.retention_summary
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Write the report as the GitHub Actions step summary
  ansible.builtin.copy:
    content: "{{ cleanup_report | regops.registry.retention_markdown }}"
    dest: "{{ lookup('ansible.builtin.env', 'GITHUB_STEP_SUMMARY') }}"
    mode: "0644"

- name: A short version, without the lists of removed tags and deleted digests
  ansible.builtin.debug:
    msg: "{{ (cleanup_report | regops.registry.retention_markdown(details=false, title='Nightly cleanup')).splitlines() }}"
"""

RETURN = r"""
_value:
  description: The Markdown text, ending with a newline.
  type: str
  sample: |-
    ## Registry cleanup report (check mode)

    Check mode: nothing was changed; the figures say what would happen.

    Now `2026-11-01T00:00:00Z`; 1 repository: 6 tag(s) would be removed, 3 digest(s) would be deleted,
    0.04 MiB would be freed; 0 skipped, 0 errors.

    ### `team/api`

    | Tags and digests | Count |
    |:---|---:|
    | Tags before | 13 |
    | Tags that would be removed | 6 |
    | ↳ with their deleted digests | 4 |
    | ↳ from images that stay | 2 |
    | Tags after | 7 |
    | ↳ kept: `in_use` | 1 |
    | ↳ kept: `keep_last` | 2 |
    | ...
"""

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_text

# Optional counts of a repository (or of the totals): shown as a row when the report has them.
OPTIONAL_ROWS = (
    ("referrers_deleted", "Referrers deleted with their subject", "Referrers that would be deleted with their subject"),
    ("tags_untagged_only", "Digests left untagged (action untag)", "Digests that would be left untagged (action untag)"),
    ("deferred_tags", "Tags deferred to the next run", "Tags that would be deferred to the next run"),
    ("deferred_digests", "Digests deferred to the next run", "Digests that would be deferred to the next run"),
)
# Characters with a meaning in Markdown (or HTML) that free text (messages, reasons) may hold.
_SPECIAL = "\\`*_[]<>|"


def escape(text):
    """Free text for a Markdown line or table cell: every character with a meaning is backslash-escaped."""
    text = to_text(text).replace("\r", " ").replace("\n", " ")
    return "".join("\\" + char if char in _SPECIAL else char for char in text)


def code(text):
    """An inline code span (names, tags and digests hold no backtick; one that does gets a longer fence)."""
    text = to_text(text)
    fence = "``" if "`" in text else "`"
    pad = " " if fence == "``" else ""
    return "%s%s%s%s%s" % (fence, pad, text, pad, fence)


def size_text(size):
    """Bytes for a person: ``512 B``, ``39.0 KiB``, ``12.34 MiB``, ``1.50 GiB``."""
    size = size or 0
    if size < 1024:
        return "%d B" % size
    if size < 1048576:
        return "%.1f KiB" % (size / 1024.0)
    if size < 1073741824:
        return "%.2f MiB" % (size / 1048576.0)
    return "%.2f GiB" % (size / 1073741824.0)


def _count(value):
    """A count the report gives as a number (or, defensively, as the list of what it counts)."""
    if isinstance(value, (list, tuple, dict)):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 0
    return value


def _limited(items, max_items):
    """The items to show, and how many are left out."""
    items = list(items)
    if max_items and len(items) > max_items:
        return items[:max_items], len(items) - max_items
    return items, 0


def _bullets(items, max_items, lines):
    shown, more = _limited(items, max_items)
    lines.extend("- %s" % item for item in shown)
    if more:
        lines.append("- ... and %d more" % more)


def _words(would):
    if would:
        return {"removed": "would be removed", "deleted": "would be deleted", "freed": "would be freed",
                "tags_removed": "Tags that would be removed", "digests_deleted": "Digests that would be deleted",
                "freed_row": "Bytes that would be freed"}
    return {"removed": "removed", "deleted": "deleted", "freed": "freed", "tags_removed": "Tags removed",
            "digests_deleted": "Digests deleted", "freed_row": "Bytes freed"}


def _figure_rows(summary, would, skipped, errors):
    """The rows of one repository's (or the totals') table: label, count."""
    words = _words(would)
    rows = [("Tags before", summary.get("tags_before", 0)),
            (words["tags_removed"], summary.get("tags_removed", 0)),
            ("↳ with their deleted digests", summary.get("tags_removed_with_digests", 0)),
            ("↳ from images that stay", summary.get("tags_removed_from_surviving", 0)),
            ("Tags after", summary.get("tags_after", 0))]
    for reason, count in sorted((summary.get("kept_by_reason") or {}).items()):
        if count:
            rows.append(("↳ kept: %s" % code(reason), count))
    rows += [("Digests before", summary.get("digests_before", 0)),
             (words["digests_deleted"], summary.get("digests_deleted", 0)),
             ("Digests after", summary.get("digests_after", 0))]
    for reason, count in sorted((summary.get("untagged_kept_by_reason") or {}).items()):
        if count:
            rows.append(("↳ untagged, kept: %s" % code(reason), count))
    rows.append((words["freed_row"], "%d (%s)" % (summary.get("bytes_freed") or 0, size_text(summary.get("bytes_freed")))))
    for key, label, would_label in OPTIONAL_ROWS:
        if _count(summary.get(key)):
            rows.append((would_label if would else label, _count(summary[key])))
    leftovers = summary.get("leftovers")
    if leftovers:
        label = "Leftover throwaway manifests that would be deleted" if would else "Leftover throwaway manifests deleted"
        done = leftovers if isinstance(leftovers, int) else sum(1 for e in leftovers if e.get("action") == "deleted")
        rows.append((label, done))
    if summary.get("read_errors"):
        rows.append(("Artifacts that could not be read (kept)", summary["read_errors"]))
    rows += [("Skipped", skipped), ("Errors", errors)]
    return rows


def _table(rows, lines, header=("Tags and digests", "Count")):
    lines.append("| %s | %s |" % header)
    lines.append("|:---|---:|")
    lines.extend("| %s | %s |" % (label, value) for label, value in rows)


def _skipped_text(entry):
    if not isinstance(entry, dict):
        return escape(entry)
    what = "tag %s" % code(entry["tag"]) if entry.get("tag") else code(entry.get("digest") or "?")
    text = "%s (%s)" % (what, code(entry.get("reason") or "skipped"))
    if entry.get("msg"):
        text += ": %s" % escape(entry["msg"])
    return text


def _deferred_text(entry):
    """One deferred item: ``{operation, digest, tags}`` (a deletion also counts its children and referrers), or a ref."""
    if not isinstance(entry, dict):
        return code(entry)
    tags = ", ".join(code(t) for t in entry.get("tags") or [])
    digest = code(entry.get("digest") or "?")
    if entry.get("operation") == "untag":
        return "untag %s on %s" % (tags or "?", digest)
    text = "%s %s%s" % (entry.get("operation") or "delete", digest, " with %s" % tags if tags else "")
    extra = ["%d %s" % (entry[key], what) for key, what in (("children", "index child(ren)"), ("referrers", "referrer(s)"))
             if entry.get(key)]
    return text + (" (and %s)" % ", ".join(extra) if extra else "")


def _details(summary, would, max_items, lines):
    words = _words(would)
    removed = summary.get("removed_tags") or []
    deleted = summary.get("deleted_digests") or []
    if not removed and not deleted and not summary.get("deferred"):
        return
    tags_of = summary.get("deleted_digest_tags") or {}
    stay = summary.get("removed_from_surviving") or []
    lines.append("<details><summary>%d tag(s) %s, %d digest(s) %s</summary>" % (
        len(removed), words["removed"], len(deleted), words["deleted"]))
    lines.append("")
    if deleted:
        lines.append("Digests %s:" % words["deleted"])
        lines.append("")
        subject_of = summary.get("deleted_referrers") or {}
        _bullets(["%s%s%s" % (code(d), " with %s" % ", ".join(code(t) for t in tags_of[d]) if tags_of.get(d) else "",
                              ", referrer of %s" % code(subject_of[d]) if subject_of.get(d) else "")
                  for d in deleted], max_items, lines)
        lines.append("")
    if stay:
        lines.append("Tags %s from images that stay:" % words["removed"])
        lines.append("")
        _bullets([code(t) for t in stay], max_items, lines)
        lines.append("")
    deferred = summary.get("deferred")
    if isinstance(deferred, (list, tuple)) and deferred:
        lines.append("Deferred to the next run:")
        lines.append("")
        _bullets([_deferred_text(e) for e in deferred], max_items, lines)
        lines.append("")
    lines.append("</details>")
    lines.append("")


def _repository(name, summary, would, details, max_items, level, lines):
    skipped = summary.get("skipped") or []
    errors = summary.get("errors") or []
    lines.append("%s %s" % ("#" * level, code(name)))
    lines.append("")
    _table(_figure_rows(summary, would, len(skipped), len(errors)), lines)
    lines.append("")
    if skipped:
        lines.append("**Skipped** (left alone by a re-check):")
        lines.append("")
        _bullets([_skipped_text(e) for e in skipped], max_items, lines)
        lines.append("")
    if errors:
        lines.append("**Errors:**")
        lines.append("")
        _bullets([escape(e) for e in errors], max_items, lines)
        lines.append("")
    if details:
        _details(summary, would, max_items, lines)


def _headline(totals, would, what):
    words = _words(would)
    count = totals.get("repositories", 0)
    return "%s %d %s: %d tag(s) %s, %d digest(s) %s, %s %s; %d skipped, %d error(s)." % (
        what, count, "repository" if count == 1 else "repositories", totals.get("tags_removed", 0), words["removed"],
        totals.get("digests_deleted", 0), words["deleted"], size_text(totals.get("bytes_freed")), words["freed"],
        _count(totals.get("skipped")), _count(totals.get("errors")))


def _report_markdown(report, title, level, details, max_items):
    would = bool(report.get("check_mode"))
    lines = ["%s %s%s" % ("#" * level, escape(title or "Registry cleanup report"), " (check mode)" if would else ""), ""]
    if would:
        lines += ["Check mode: nothing was changed; the figures say what would happen.", ""]
    if report.get("blocked"):
        lines += ["**Blocked, nothing was deleted:**", ""]
        _bullets([escape(r) for r in report.get("block_reasons") or []], max_items, lines)
        lines.append("")
    totals = report.get("totals") or {}
    lines += [_headline(totals, would, "Now %s;" % code(report.get("now") or "?")), ""]
    repositories = report.get("repositories") or {}
    for name in sorted(repositories):
        _repository(name, repositories[name], would, details, max_items, level + 1, lines)
    after_delete = report.get("after_delete") or {}
    if after_delete:
        lines += ["%s After delete" % ("#" * (level + 1)), "",
                  "| Step | %s | Unchanged | Failed |" % ("Would change" if would else "Changed"), "|:---|---:|---:|---:|"]
        for step in sorted(after_delete):
            entry = after_delete[step] or {}
            lines.append("| %s | %d | %d | %d |" % (
                code(step), entry.get("changed", 0), entry.get("unchanged", 0), entry.get("failed", 0)))
        lines.append("")
        errors = [e for step in sorted(after_delete) for e in (after_delete[step] or {}).get("errors") or []]
        if errors:
            lines += ["**Errors:**", ""]
            _bullets([escape(e) for e in errors], max_items, lines)
            lines.append("")
    if len(repositories) != 1:  # one repository's table already is the totals
        lines += ["%s Totals (%d %s)" % ("#" * (level + 1), totals.get("repositories", 0),
                                         "repository" if totals.get("repositories", 0) == 1 else "repositories"), ""]
        _table(_figure_rows(totals, would, _count(totals.get("skipped")), _count(totals.get("errors"))), lines)
    return lines


def _host_status(entry):
    if not entry.get("report"):
        return "no report"
    if entry.get("blocked"):
        return "**blocked**"
    if (entry.get("totals") or {}).get("errors"):
        return "**errors**"
    return "ok"


def _summary_markdown(summary, title, level, max_items):
    would = bool(summary.get("check_mode"))
    words = _words(would)
    hosts = summary.get("hosts") or {}
    totals = summary.get("totals") or {}
    lines = ["%s %s%s" % ("#" * level, escape(title or "Registry cleanup summary"), " (check mode)" if would else ""), ""]
    if would:
        lines += ["Check mode: nothing was changed; the figures say what would happen.", ""]
    lines += [_headline(totals, would, "%d host(s), %d with a report;" % (len(hosts), totals.get("hosts_reported", 0))), ""]
    optional = [(key, label) for key, label, _would_label in OPTIONAL_ROWS if _count(totals.get(key))]
    header = ["Host", "Repositories", "Tags before", words["removed"].capitalize(), "Tags after",
              "Digests %s" % words["deleted"], words["freed"].capitalize()]
    header += [label for _key, label in optional] + ["Skipped", "Errors", "Status"]
    lines.append("| %s |" % " | ".join(header))
    lines.append("|:---|%s|:---|" % "|".join(["---:"] * (len(header) - 2)))

    def row(name, figures, status):
        counted = ("repositories", "tags_before", "tags_removed", "tags_after", "digests_deleted")
        cells = [name] + ["%d" % _count(figures.get(key)) for key in counted]
        cells.append(size_text(figures.get("bytes_freed")))
        cells += ["%d" % _count(figures.get(key)) for key, _label in optional]
        cells += ["%d" % _count(figures.get("skipped")), "%d" % _count(figures.get("errors")), status]
        return "| %s |" % " | ".join(cells)

    for host in sorted(hosts):
        entry = hosts[host] or {}
        if entry.get("report"):
            lines.append(row(code(host), entry.get("totals") or {}, _host_status(entry)))
        else:
            lines.append("| %s |%s no report |" % (code(host), " |" * (len(header) - 2)))
    lines.append(row("**Total**", totals, "%d blocked, %d with errors, %d without a report" % (
        totals.get("hosts_blocked", 0), totals.get("hosts_with_errors", 0), totals.get("hosts_missing", 0))))
    lines.append("")
    kept = totals.get("kept_by_reason") or {}
    if kept:
        lines += ["Kept tags by reason: %s." % ", ".join("%s %d" % (code(r), c) for r, c in sorted(kept.items()) if c), ""]
    reasons = ["%s: %s" % (code(host), escape("; ".join(hosts[host].get("block_reasons") or [])))
               for host in sorted(hosts) if (hosts[host] or {}).get("blocked")]
    if reasons:
        lines += ["**Blocked, nothing was deleted there:**", ""]
        _bullets(reasons, max_items, lines)
        lines.append("")
    missing = [code(host) for host in sorted(hosts) if not (hosts[host] or {}).get("report")]
    if missing:
        lines += ["**No report** (the role failed before its report, or did not run): %s" % ", ".join(missing), ""]
    return lines


def retention_markdown(data, title="", heading_level=2, details=True, max_items=50):
    if not isinstance(data, dict) or "totals" not in data or not ("repositories" in data or "hosts" in data):
        raise AnsibleFilterError("retention_markdown: the input must be a report from regops.registry.retention_report "
                                 "or a summary from regops.registry.retention_summary")
    try:
        level = int(heading_level)
        max_items = int(max_items or 0)
    except (TypeError, ValueError):
        raise AnsibleFilterError("retention_markdown: heading_level and max_items must be integers")
    if not 1 <= level <= 4:
        raise AnsibleFilterError("retention_markdown: heading_level must be between 1 and 4, got %d" % level)
    if max_items < 0:
        raise AnsibleFilterError("retention_markdown: max_items must be 0 (no limit) or more, got %d" % max_items)
    try:
        if "hosts" in data and "repositories" not in data:
            lines = _summary_markdown(data, title, level, max_items)
        else:
            lines = _report_markdown(data, title, level, bool(details), max_items)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise AnsibleFilterError("retention_markdown: malformed report: %s" % exc)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


class FilterModule(object):
    def filters(self):
        return {"retention_markdown": retention_markdown}
