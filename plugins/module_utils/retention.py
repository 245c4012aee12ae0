# -*- coding: utf-8 -*-
# Copyright: (c) 2025, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Retention planner for regops.registry.

A pure, deterministic function: ``plan(snapshot, policies, now)`` takes the
snapshot returned by ``artifact_info`` and one or more retention policies and
returns the list of tags to remove and manifests to delete, every kept item
with the reason it is kept, per-repository summaries and circuit-breaker
results.  It performs no I/O.  The same plan is used for check mode and for
the real run, so a dry run cannot diverge from what is applied.

Evaluation order: selection -> protection (keep always wins) -> guards
(digest sharing, index children, referrers) -> action (``delete`` or ``untag``;
referrers go with a deleted subject) -> limits (``on_limit: truncate`` defers the
newest part of the plan) -> circuit breakers.
Outside that order: an artifact with a read error is always kept (``read_error``),
a timestamp before 1980 is unknown unless a policy trusts it, and a throwaway
manifest of an interrupted tag removal is always deleted (``leftover``).
See docs/retention.md for the user-facing reference.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import difflib
import re

from ansible_collections.regops.registry.plugins.module_utils import artifact_types, timestamps, validate

__all__ = [
    'PolicyError',
    'SnapshotError',
    'REASONS',
    'parse_duration',
    'format_duration',
    'parse_timestamp',
    'normalize_policies',
    'plan',
]


class PolicyError(ValueError):
    """A retention policy is invalid (message names the policy and the key)."""


class SnapshotError(ValueError):
    """The artifact snapshot is malformed."""


# Kept reasons, in order of precedence when several apply to one item.
# read_error: part of the artifact (its image config, so its created time) could not be read; we do not know
# enough to delete it, so it outranks everything else.
INTEGRITY_REASONS = ('read_error',)
PROTECTION_REASONS = ('in_use', 'latest', 'keep_tags', 'keep_semver', 'keep_last', 'pulled_within', 'min_age')
GUARD_REASONS = ('index_child', 'referrer_of_kept', 'shared_digest')
# untag_only: a manifest whose every tag goes under action untag (it stays, untagged).
ACTION_REASONS = ('untag_only',)
# deferred: selected and unprotected, but past an on_limit truncate limit: left for the next run.
LIMIT_REASONS = ('deferred',)
SELECTION_REASONS = ('too_new', 'no_timestamp', 'not_selected')
REASONS = INTEGRITY_REASONS + PROTECTION_REASONS + GUARD_REASONS + ACTION_REASONS + LIMIT_REASONS + SELECTION_REASONS

ACTIONS = ('delete', 'untag')
ON_LIMIT = ('block', 'truncate')
ARTIFACT_TYPES = artifact_types.KINDS
REFERRER_MODES = ('with_subject', 'keep')
# artifact_types naming one of these makes ignore_referrer_tags default to false: cosign keeps them under referrer tags.
REFERRER_KINDS = ('signature', 'sbom', 'attestation')
ORPHAN_REASON = 'orphan_referrer'
_DOCKER_SCHEMA2 = 'application/vnd.docker.distribution.manifest.v2+json'

TAG_STATES = ('tagged', 'untagged', 'any')
AGE_BASES = ('pushed', 'pulled', 'created')
AGE_FALLBACK = {
    'pushed': ('pushed', 'created'),
    'pulled': ('pulled', 'pushed', 'created'),
    'created': ('created', 'pushed'),
}
# Order used to break ties between artifacts whose age-basis timestamps are equal.
TIEBREAK_FIELDS = ('pushed', 'created', 'pulled')

DEFAULT_MIN_AGE = 3600

_DURATION_UNITS = {'w': 604800, 'd': 86400, 'h': 3600, 'm': 60, 's': 1}
_DURATION_PART_RE = re.compile(r'(\d+)([wdhms])')
# Every pattern below is matched against the whole string with ``validate.matches`` (``re.fullmatch``; never
# ``match`` + ``$``, which accepts a trailing newline). Timestamps are parsed by ``timestamps.parse`` and digests
# checked by ``validate.digest``: one place for each rule in the collection.
# cosign / OCI referrers fallback tags: sha256-<hex>[.sig|.att|.sbom|...], one alternative per digest algorithm
_REFERRER_SUBJECTS = '|'.join('%s-[0-9a-f]{%d}' % (algorithm, size) for algorithm, size in sorted(validate.DIGEST_HEX.items()))
REFERRER_TAG_RE = re.compile('(%s)' % _REFERRER_SUBJECTS + r'(?:\.[A-Za-z0-9_-]+)?')
_SEMVER_IDENT = r'(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)'
SEMVER_RE = re.compile(
    r'v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)'
    r'(?:-(' + _SEMVER_IDENT + r'(?:\.' + _SEMVER_IDENT + r')*))?'
    r'(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?'
)
_INDEX_MEDIA_TYPES = (
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
)

_POLICY_KEYS = (
    'name', 'repositories', 'tags', 'tag_state', 'older_than', 'newer_than', 'age_basis', 'artifact_types', 'platforms',
    'action', 'keep', 'protect_only', 'referrers', 'delete_orphan_referrers', 'max_deletions', 'max_deletions_percent',
    'on_limit', 'allow_empty_repository', 'ignore_referrer_tags', 'delete_untagged', 'trust_created_before_1980',
)
# A policy that sets none of these selects nothing: it only protects (``protect_only`` defaults to true).
SELECTION_KEYS = ('tags', 'tag_state', 'older_than', 'newer_than', 'artifact_types', 'platforms')
_KEEP_KEYS = ('latest', 'tags', 'last', 'semver', 'digests', 'min_age', 'pulled_within')
_SEMVER_KEYS = ('major', 'minor', 'all')
_TRUE_STRINGS = ('true', 'yes', 'on', '1', 'y')
_FALSE_STRINGS = ('false', 'no', 'off', '0', 'n')
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# A timestamp before timestamps.REAL_TIME_FLOOR (1980) is not a real time: reproducible builds (ko, Bazel, Nix,
# SOURCE_DATE_EPOCH) set the image config's "created" to 1970 (or 0001-01-01), and some APIs use the epoch for "never".
# Pattern syntax: a glob may hold only the characters a name can hold and the wildcards * ? [...]; these characters are
# regular-expression syntax that no tag or repository name holds, so a pattern with one of them and no "re:" prefix
# is refused (it was most likely written as a regex, and as a glob it would match nothing).
_REGEX_ONLY_CHARS = '\\()|+^${}'
_TAG_CHARS = frozenset('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-')
_REPOSITORY_CHARS = _TAG_CHARS | frozenset('/')
_PLATFORM_CHARS = _REPOSITORY_CHARS
LEFTOVER_REASON = ('throwaway manifest left by an interrupted tag removal of this collection; '
                   'its tags were being removed, so it is deleted with them')


# --------------------------------------------------------------------------
# Parsing helpers
# --------------------------------------------------------------------------

def parse_duration(value):
    """Return a duration in whole seconds.

    Accepts a string of ``<n><unit>`` parts with units ``w`` (weeks), ``d``, ``h``, ``m`` (minutes) and ``s``,
    e.g. ``30d``, ``1d12h``, ``2w``, ``90m``, ``45s`` (each unit at most once), a ``datetime.timedelta``, or
    ``0``.  A bare number other than 0 (``30``, ``"30"``) is refused: it has no unit, and "30" meaning 30 seconds
    where 30 days was meant is a trap; the message says to write ``30d`` or ``30s``.  ``None`` returns ``None``.
    Raises ``ValueError`` on anything else or on negative values.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError('invalid duration %r: expected e.g. "30d", "12h", "1d12h" or "45s"' % (value,))
    if isinstance(value, datetime.timedelta):
        seconds = value.total_seconds()
        if seconds < 0:
            raise ValueError('invalid duration %r: must not be negative' % (value,))
        return int(seconds)
    number = None
    if isinstance(value, (int, float)):
        number = value
    elif isinstance(value, str) and re.fullmatch(r'\s*[+-]?\d+(?:\.\d*)?\s*', value):
        number = float(value)
    if number is not None:
        if number == 0:
            return 0
        if number < 0:
            raise ValueError('invalid duration %r: must not be negative' % (value,))
        shown = ('%d' % number) if number == int(number) else ('%s' % number)
        raise ValueError('invalid duration %r: a number has no unit; write "%sd" (days) or "%ss" (seconds)' % (
            value, shown, shown))
    if not isinstance(value, str):
        raise ValueError('invalid duration %r: expected e.g. "30d", "12h", "1d12h" or "45s"' % (value,))
    text = value.strip().lower()
    pos = 0
    total = 0
    seen = set()
    for match in _DURATION_PART_RE.finditer(text):
        if match.start() != pos:
            break
        unit = match.group(2)
        if unit in seen:
            raise ValueError('invalid duration %r: unit "%s" given twice' % (value, unit))
        seen.add(unit)
        total += int(match.group(1)) * _DURATION_UNITS[unit]
        pos = match.end()
    if not seen or pos != len(text):
        raise ValueError('invalid duration %r: expected e.g. "30d", "12h", "90m", "2w", "45s" or "1d12h"' % (value,))
    return total


def format_duration(seconds):
    """Write whole seconds as a duration ``parse_duration`` reads back: ``5184000`` -> ``60d``, ``5400`` -> ``1h30m``."""
    if seconds is None:
        return None
    seconds = int(seconds)
    if seconds <= 0:
        return '0s'
    parts = []
    for unit, size in (('d', 86400), ('h', 3600), ('m', 60), ('s', 1)):
        if seconds >= size:
            parts.append('%d%s' % (seconds // size, unit))
            seconds %= size
    return ''.join(parts)


def parse_timestamp(value):
    """Parse a timestamp into an aware UTC datetime.

    A string is parsed by ``timestamps.parse`` (ISO 8601, ``Z`` or ``+HH:MM`` offsets, no offset means UTC, any
    number of fractional-second digits); a ``datetime`` (naive means UTC) and a number of seconds since the epoch
    are accepted too.  ``None``/empty returns ``None``; anything else raises ``ValueError``.
    """
    if value is None or value == '':
        return None
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc)
    if isinstance(value, bool):
        raise ValueError('invalid timestamp %r' % (value,))
    if isinstance(value, (int, float)):
        return _EPOCH + datetime.timedelta(seconds=value)
    if not isinstance(value, str):
        raise ValueError('invalid timestamp %r' % (value,))
    result = timestamps.parse(value)
    if result is None:
        raise ValueError('invalid timestamp %r: expected ISO 8601, e.g. 2024-05-01T12:00:00Z' % (value,))
    return result


def format_timestamp(value):
    """Format an aware datetime as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``."""
    value = value.astimezone(datetime.timezone.utc)
    text = value.strftime('%Y-%m-%dT%H:%M:%S')
    if value.microsecond:
        text += '.%06d' % value.microsecond
    return text + 'Z'


def glob_to_regex(pattern):
    """Translate a repository glob into an anchored regex string.

    ``*`` matches within one path segment, ``**`` crosses ``/`` (``**/``
    also matches zero segments), ``?`` one non-``/`` character, ``[...]`` a
    character class (``[!...]`` negated).
    """
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        char = pattern[i]
        if char == '*':
            if pattern.startswith('**', i):
                i += 2
                if i < n and pattern[i] == '/':
                    out.append('(?:.*/)?')
                    i += 1
                else:
                    out.append('.*')
                continue
            out.append('[^/]*')
        elif char == '?':
            out.append('[^/]')
        elif char == '[' and _bracket_end(pattern, i) != -1:
            regex, i = _bracket_class(pattern, i)
            out.append(regex)
        else:
            out.append(re.escape(char))
        i += 1
    return '(?:' + ''.join(out) + r')\Z'


def platform_glob_to_regex(pattern):
    """Translate a platform glob (``linux/arm*``) into an anchored regex string.

    Unlike repository globs, ``*`` crosses ``/``: ``linux/arm*`` matches ``linux/arm64`` and ``linux/arm/v7``.
    ``?`` is one character, ``[...]`` a character class (``[!...]`` negated).
    """
    out = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == '*':
            out.append('.*')
        elif char == '?':
            out.append('.')
        elif char == '[' and _bracket_end(pattern, i) != -1:
            regex, i = _bracket_class(pattern, i)
            out.append(regex)
        else:
            out.append(re.escape(char))
        i += 1
    return '(?:' + ''.join(out) + r')\Z'


def _bracket_end(pattern, i):
    """Index of the "]" closing the character class that opens at ``pattern[i]``, or -1 (as ``glob_to_regex``)."""
    return pattern.find(']', i + 2 if pattern.startswith('[!', i) or pattern.startswith('[]', i) else i + 1)


def _bracket_class(pattern, i):
    """The regex of the character class that opens at ``pattern[i]`` (``[!...]`` negated), and the index of its "]"."""
    end = _bracket_end(pattern, i)
    body = pattern[i + 1:end]
    if body.startswith('!'):
        body = '^' + body[1:]
    return '[' + body.replace('\\', '\\\\') + ']', end


def glob_problem(pattern, alphabet=_TAG_CHARS, noun='tag', hint=True):
    """Why ``pattern`` (written without ``re:``) cannot be taken as a glob, or ``None`` when it can.

    A glob holds the characters a name can hold (``alphabet``) and the wildcards ``*``, ``?`` and ``[...]``.
    Refused, so that a regular expression written without ``re:`` never silently becomes a glob that means something
    else: regular-expression syntax that no name holds (``\\ ( ) | + ^ $ { }``), any other character no name holds,
    and ``.*``, ``.+`` or ``.?`` ("anything" in a regex, "a dot, then ..." in a glob).
    """
    regex_chars = []
    other = []
    ambiguous = None
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == '[':
            end = _bracket_end(pattern, i)
            if end != -1:
                body = pattern[i + 1:end]
                if body.startswith('!'):
                    body = body[1:]
                for inner in body:
                    if inner in _REGEX_ONLY_CHARS and inner != '-':
                        regex_chars.append(inner)
                i = end + 1
                continue
        if char == '.' and pattern[i + 1:i + 2] in ('*', '?') and ambiguous is None:
            ambiguous = char + pattern[i + 1]
        if char in _REGEX_ONLY_CHARS:
            regex_chars.append(char)
        elif char not in alphabet and char not in '*?':
            other.append(char)
        i += 1
    if regex_chars:
        shown = ', '.join('"%s"' % c for c in sorted(set(regex_chars), key=regex_chars.index))
        hint = _glob_hint(pattern, alphabet) if hint else None
        one = len(set(regex_chars)) == 1
        return ('looks like a regular expression: %s %s no meaning in a glob and no %s holds %s; write %s to keep it a '
                'regular expression%s' % (shown, 'has' if one else 'have', noun, 'it' if one else 'them', _show('re:' + pattern),
                                          ', or the glob %s' % _show(hint) if hint else ''))
    if ambiguous:
        regex, glob = ('any text', 'any text') if ambiguous[1] == '*' else ('at most one character', 'one character')
        return ('is ambiguous: "%s" is "%s" in a regular expression but "a dot, then %s" in a glob; write %s for '
                'the regular expression or %s for the glob ("[.]%s" is a literal dot, then %s)' % (
                    ambiguous, regex, glob, _show('re:' + pattern), _show(pattern.replace('.*', '*').replace('.?', '?')),
                    ambiguous[1], glob))
    if other:
        shown = ', '.join(_show(c) for c in sorted(set(other), key=other.index))
        return 'has %s, which no %s holds (write %s for a regular expression)' % (shown, noun, _show('re:' + pattern))
    return None


def _glob_hint(pattern, alphabet):
    """The glob a simple regex most likely meant (``^pr-.*$`` -> ``pr-*``), or ``None``."""
    text = pattern
    if text.startswith('^'):
        text = text[1:]
    if text.endswith('$') and not text.endswith('\\$'):
        text = text[:-1]
    text = text.replace('.*', '*').replace('.+', '?*').replace('\\.', '[.]')
    if not text or glob_problem(text, alphabet, hint=False) is not None:
        return None
    return text


def parse_semver(tag):
    """Return ``(major, minor, patch, prerelease)`` for a semver tag (optional ``v``), else ``None``."""
    match = SEMVER_RE.fullmatch(tag)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), match.group(4)


def is_referrer_tag(tag):
    return validate.matches(REFERRER_TAG_RE, tag)


def _referrer_tag_subject(tag):
    match = REFERRER_TAG_RE.fullmatch(tag)
    if not match:
        return None
    return match.group(1).replace('-', ':', 1)


# --------------------------------------------------------------------------
# Policy validation / normalisation
# --------------------------------------------------------------------------

def _show(text):
    """A pattern as the user wrote it (in double quotes), or its repr when it holds invisible characters."""
    if text.isprintable() and '"' not in text:
        return '"%s"' % text
    return repr(text)


class _Policy(object):
    """Validated policy with compiled matchers."""

    def __init__(self, index, raw):
        self.index = index
        if not isinstance(raw, dict):
            raise PolicyError('policy #%d: must be a dict, got %s' % (index + 1, type(raw).__name__))
        name = raw.get('name')
        if name is None:
            name = 'policy-%d' % (index + 1)
        if not isinstance(name, str) or not name.strip():
            raise PolicyError('policy #%d: key "name" must be a non-empty string, got %r' % (index + 1, name))
        self.name = name
        self._check_keys(raw, _POLICY_KEYS, '')

        repos = raw.get('repositories')
        if repos is None:
            repos = {}
        elif isinstance(repos, (list, tuple, str)):
            repos = {'include': repos}
        if not isinstance(repos, dict):
            raise self._error('repositories', 'must be a dict with include/exclude lists, got %r' % (repos,))
        self._check_keys(repos, ('include', 'exclude'), 'repositories.')
        self.repo_include = self._str_list(repos.get('include'), 'repositories.include')
        self.repo_exclude = self._str_list(repos.get('exclude'), 'repositories.exclude')
        self._repo_include_re = [self._repo_pattern(p, 'repositories.include') for p in self.repo_include]
        self._repo_exclude_re = [self._repo_pattern(p, 'repositories.exclude') for p in self.repo_exclude]

        tags = raw.get('tags')
        if tags is None:
            tags = {}
        if not isinstance(tags, dict):
            raise self._error('tags', 'must be a dict with include/exclude pattern lists, got %r' % (tags,))
        self._check_keys(tags, ('include', 'exclude'), 'tags.')
        self.tag_include = self._str_list(tags.get('include'), 'tags.include')
        self.tag_exclude = self._str_list(tags.get('exclude'), 'tags.exclude')
        self._tag_include_re = [self._tag_pattern(p, 'tags.include') for p in self.tag_include]
        self._tag_exclude_re = [self._tag_pattern(p, 'tags.exclude') for p in self.tag_exclude]

        self.tag_state = self._enum(raw.get('tag_state'), 'tag_state', TAG_STATES, 'tagged')
        self.age_basis = self._enum(raw.get('age_basis'), 'age_basis', AGE_BASES, 'pushed')
        self.older_than = self._duration(raw.get('older_than'), 'older_than')
        self.newer_than = self._duration(raw.get('newer_than'), 'newer_than')
        self.artifact_types = self._artifact_types(raw.get('artifact_types'))
        self.platforms = self._str_list(raw.get('platforms'), 'platforms')
        self._platform_re = [self._platform_pattern(p) for p in self.platforms]
        self.action = self._enum(raw.get('action'), 'action', ACTIONS, 'delete')
        self.referrers = self._enum(raw.get('referrers'), 'referrers', REFERRER_MODES, 'with_subject')
        self.delete_orphan_referrers = self._bool(raw.get('delete_orphan_referrers'), 'delete_orphan_referrers', False)
        self.on_limit = self._enum(raw.get('on_limit'), 'on_limit', ON_LIMIT, 'block')

        keep = raw.get('keep')
        if keep is None:
            keep = {}
        if not isinstance(keep, dict):
            raise self._error('keep', 'must be a dict, got %r' % (keep,))
        self._check_keys(keep, _KEEP_KEYS, 'keep.')
        self.keep_latest = self._bool(keep.get('latest'), 'keep.latest', True)
        self.keep_tags = self._str_list(keep.get('tags'), 'keep.tags')
        self._keep_tags_re = [self._tag_pattern(p, 'keep.tags') for p in self.keep_tags]
        self.keep_last = self._int(keep.get('last'), 'keep.last', minimum=0)
        self.keep_semver = self._semver(keep.get('semver'))
        self.keep_digests = self._digests(keep.get('digests'))
        min_age = keep.get('min_age')
        self.min_age = DEFAULT_MIN_AGE if min_age is None else self._duration(min_age, 'keep.min_age')
        self.pulled_within = self._duration(keep.get('pulled_within'), 'keep.pulled_within')

        self.max_deletions = self._int(raw.get('max_deletions'), 'max_deletions', minimum=0)
        self.max_deletions_percent = self._percent(raw.get('max_deletions_percent'))
        self.allow_empty_repository = self._bool(raw.get('allow_empty_repository'), 'allow_empty_repository', False)
        # A policy that asks for signatures, SBOMs or attestations means the cosign tags they live under too.
        self.ignore_referrer_tags = self._bool(raw.get('ignore_referrer_tags'), 'ignore_referrer_tags',
                                               not any(k in REFERRER_KINDS for k in self.artifact_types))
        self.delete_untagged = self._bool(raw.get('delete_untagged'), 'delete_untagged', True)
        self.trust_created_before_1980 = self._bool(raw.get('trust_created_before_1980'), 'trust_created_before_1980', False)

        # A policy with no selection key only protects: no "tags.include: ['(?!)']" trick needed.
        selecting = [k for k in SELECTION_KEYS if raw.get(k) is not None and not (k in ('artifact_types', 'platforms') and not raw[k])]
        self.protect_only = self._bool(raw.get('protect_only'), 'protect_only', not selecting)
        if self.protect_only:
            for key in ('older_than', 'newer_than'):
                if raw.get(key) is not None:
                    raise self._error(key, 'cannot be set with protect_only true: a protect-only policy selects nothing '
                                           '(remove %s, or protect_only)' % key)
        self._check_combinations()

    def _check_combinations(self):
        """Keys that are valid alone but contradict each other."""
        if self.action == 'untag':
            if self.tag_state == 'untagged':
                raise self._error('action', 'is untag, which never deletes a manifest, but tag_state is untagged: the policy '
                                            'would select nothing (use action delete to delete untagged manifests)')
            if self.delete_orphan_referrers:
                raise self._error('action', 'is untag, which never deletes a manifest, but delete_orphan_referrers deletes '
                                            'manifests (set delete_orphan_referrers in a policy with action delete)')
        if self.on_limit == 'truncate' and self.max_deletions is None and self.max_deletions_percent is None:
            raise self._error('on_limit', 'is truncate but neither max_deletions nor max_deletions_percent is set: there '
                                          'is no limit to truncate the plan at')

    # -- validation helpers -------------------------------------------------
    def _error(self, key, message):
        return PolicyError('policy "%s": key "%s" %s' % (self.name, key, message))

    def _check_keys(self, data, allowed, prefix):
        unknown = sorted(str(k) for k in data if k not in allowed)
        if unknown:
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
                if close:
                    hints.append('"%s%s" (did you mean "%s%s"?)' % (prefix, key, prefix, close[0]))
                else:
                    hints.append('"%s%s"' % (prefix, key))
            raise PolicyError('policy "%s": unknown key(s) %s; allowed: %s' % (
                self.name, ', '.join(hints), ', '.join(prefix + k for k in allowed)))

    def _str_list(self, value, key):
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            raise self._error(key, 'must be a list of strings, got %r' % (value,))
        for item in value:
            if not isinstance(item, str) or not item:
                raise self._error(key, 'must be a list of non-empty strings, got item %r' % (item,))
        return list(value)

    def _regex(self, pattern, key):
        # The user's pattern is compiled on its own (no anchor added around it), so an error message and its
        # position are about what the user wrote; matching uses fullmatch, so the whole name must match.
        try:
            return re.compile(pattern)
        except re.error as exc:
            raise self._error(key, 'has an invalid regular expression %s: %s' % (_show(pattern), exc))

    def _pattern(self, pattern, key, alphabet, noun):
        """``re:<regex>`` is a regular expression; anything else is a glob (see ``glob_problem``)."""
        if pattern.startswith('re:'):
            if not pattern[3:]:
                raise self._error(key, 'has an empty regular expression "re:"')
            return self._regex(pattern[3:], key)
        problem = glob_problem(pattern, alphabet, noun)
        if problem:
            raise self._error(key, 'pattern %s %s' % (_show(pattern), problem))
        try:
            return re.compile(glob_to_regex(pattern))
        except re.error as exc:
            # The position would be in the translated regex, not in the glob: leave it out.
            raise self._error(key, 'has an invalid glob %s: %s' % (_show(pattern), getattr(exc, 'msg', None) or exc))

    def _repo_pattern(self, pattern, key):
        return self._pattern(pattern, key, _REPOSITORY_CHARS, 'repository name')

    def _tag_pattern(self, pattern, key):
        return self._pattern(pattern, key, _TAG_CHARS, 'tag')

    def _enum(self, value, key, choices, default):
        if value is None:
            return default
        if value not in choices:
            close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6) if isinstance(value, str) else []
            raise self._error(key, 'must be one of %s, got %r%s' % (', '.join(choices), value,
                                                                    ' (did you mean "%s"?)' % close[0] if close else ''))
        return value

    def _artifact_types(self, value):
        key = 'artifact_types'
        items = self._str_list(value, key)
        result = []
        for item in items:
            if item not in ARTIFACT_TYPES:
                close = difflib.get_close_matches(item.lower(), ARTIFACT_TYPES, n=1, cutoff=0.6)
                raise self._error(key, 'has an unknown artifact type %s%s; allowed: %s' % (
                    _show(item), ' (did you mean "%s"?)' % close[0] if close else '', ', '.join(ARTIFACT_TYPES)))
            if item not in result:
                result.append(item)
        return result

    def _platform_pattern(self, pattern):
        """``re:<regex>`` or a platform glob over ``os/arch[/variant]`` (``*`` crosses ``/``)."""
        key = 'platforms'
        if pattern.startswith('re:'):
            if not pattern[3:]:
                raise self._error(key, 'has an empty regular expression "re:"')
            return self._regex(pattern[3:], key)
        problem = glob_problem(pattern, _PLATFORM_CHARS, 'platform')
        if problem:
            raise self._error(key, 'pattern %s %s' % (_show(pattern), problem))
        if '/' not in pattern and pattern.strip('*'):
            raise self._error(key, 'pattern %s is not a platform: a platform is os/arch[/variant] (linux/amd64, linux/arm/v7); '
                                   'write %s for every OS' % (_show(pattern), _show('*/' + pattern)))
        return re.compile(platform_glob_to_regex(pattern))

    def _duration(self, value, key):
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self._error(key, 'is not a valid duration: %s' % exc)

    def _bool(self, value, key, default):
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE_STRINGS + _FALSE_STRINGS:
            return value.strip().lower() in _TRUE_STRINGS
        raise self._error(key, 'must be a boolean, got %r' % (value,))

    def _int(self, value, key, minimum):
        if value is None:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self._error(key, 'must be an integer >= %d, got %r' % (minimum, value))
        return value

    def _percent(self, value):
        key = 'max_deletions_percent'
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = float(value.strip().rstrip('%'))
            except ValueError:
                raise self._error(key, 'must be a number between 0 and 100, got %r' % (value,))
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            raise self._error(key, 'must be a number between 0 and 100, got %r' % (value,))
        return value

    def _semver(self, value):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._error('keep.semver', 'must be a dict with one of major, minor or all, got %r' % (value,))
        self._check_keys(value, _SEMVER_KEYS, 'keep.semver.')
        if len(value) != 1:
            raise self._error('keep.semver', 'must set exactly one of major, minor or all, got %r' % (value,))
        mode = list(value)[0]
        if mode == 'all':
            enabled = self._bool(value['all'], 'keep.semver.all', False)
            return {'all': True} if enabled else None
        count = self._int(value[mode], 'keep.semver.' + mode, minimum=1)
        if count is None:
            raise self._error('keep.semver.' + mode, 'must be an integer >= 1, got None')
        return {mode: count}

    def _digests(self, value):
        items = self._str_list(value, 'keep.digests')
        result = []
        for item in items:
            repo, sep, digest = item.rpartition('@')
            if sep and not repo:
                raise self._error('keep.digests', 'has an invalid reference %r (empty repository before "@")' % (item,))
            try:
                validate.digest(digest)
            except ValueError as exc:
                raise self._error('keep.digests', 'has an invalid digest %r (%s; write "sha256:<hex>" or '
                                                  '"repo@sha256:<hex>")' % (item, exc))
            result.append((repo or None, digest))
        return result

    # -- matching -------------------------------------------------------------
    def covers(self, repository):
        if self._repo_include_re and not any(validate.matches(r, repository) for r in self._repo_include_re):
            return False
        return not any(validate.matches(r, repository) for r in self._repo_exclude_re)

    def named_repositories(self):
        """Repositories ``repositories.include`` names outright (a glob without a wildcard)."""
        return [p for p in self.repo_include if not p.startswith('re:') and not any(c in p for c in '*?[')]

    def tag_matches(self, tag):
        """Tag filter: include/exclude and referrer-tag exclusion."""
        if self.ignore_referrer_tags and is_referrer_tag(tag):
            return False
        if self._tag_include_re and not any(validate.matches(r, tag) for r in self._tag_include_re):
            return False
        return not any(validate.matches(r, tag) for r in self._tag_exclude_re)

    def keep_tag_matches(self, tag):
        return any(validate.matches(r, tag) for r in self._keep_tags_re)

    def kind_matches(self, art):
        """``artifact_types``: every artifact when unset; else only those whose type is known and listed."""
        return not self.artifact_types or art.kind in self.artifact_types

    def platform_matches(self, art):
        """``platforms``: every artifact when unset; else those with a matching platform (an index: a child's)."""
        return not self._platform_re or any(validate.matches(r, p) for r in self._platform_re for p in art.platforms)

    def pulled_recently(self, art, now):
        """``keep.pulled_within``: pulled less than that long ago (an artifact with no pull time is not protected)."""
        pulled = art.ts['pulled']
        return self.pulled_within is not None and pulled is not None and (now - pulled).total_seconds() < self.pulled_within

    @property
    def selects(self):
        """Whether the policy can remove anything: it selects, or it deletes orphan referrers."""
        return not self.protect_only or self.delete_orphan_referrers

    def digest_in_use(self, repository, digest):
        for repo, kept in self.keep_digests:
            if kept == digest and (repo is None or repo == repository):
                return True
        return False

    def normalized(self):
        return {
            'name': self.name,
            'repositories': {'include': list(self.repo_include), 'exclude': list(self.repo_exclude)},
            'tags': {'include': list(self.tag_include), 'exclude': list(self.tag_exclude)},
            'tag_state': self.tag_state,
            'older_than': format_duration(self.older_than),
            'newer_than': format_duration(self.newer_than),
            'age_basis': self.age_basis,
            'artifact_types': list(self.artifact_types),
            'platforms': list(self.platforms),
            'action': self.action,
            'keep': {
                'latest': self.keep_latest,
                'tags': list(self.keep_tags),
                'last': self.keep_last,
                'semver': dict(self.keep_semver) if self.keep_semver else None,
                'digests': [('%s@%s' % (r, d)) if r else d for r, d in self.keep_digests],
                'min_age': format_duration(self.min_age),
                'pulled_within': format_duration(self.pulled_within),
            },
            'protect_only': self.protect_only,
            'referrers': self.referrers,
            'delete_orphan_referrers': self.delete_orphan_referrers,
            'max_deletions': self.max_deletions,
            'max_deletions_percent': self.max_deletions_percent,
            'on_limit': self.on_limit,
            'allow_empty_repository': self.allow_empty_repository,
            'ignore_referrer_tags': self.ignore_referrer_tags,
            'delete_untagged': self.delete_untagged,
            'trust_created_before_1980': self.trust_created_before_1980,
        }


def _build_policies(policies):
    if policies is None:
        raw_list = []
    elif isinstance(policies, dict):
        raw_list = [policies]
    elif isinstance(policies, (list, tuple)):
        raw_list = list(policies)
    else:
        raise PolicyError('policies must be a dict or a list of dicts, got %s' % type(policies).__name__)
    result = []
    names = set()
    for index, raw in enumerate(raw_list):
        policy = _Policy(index, raw)
        if policy.name in names:
            raise PolicyError('policy "%s": key "name" is used by more than one policy' % policy.name)
        names.add(policy.name)
        result.append(policy)
    return result


def normalize_policies(policies):
    """Validate policies and return them normalized (defaults filled in, durations in seconds)."""
    return [p.normalized() for p in _build_policies(policies)]


# --------------------------------------------------------------------------
# Snapshot normalisation
# --------------------------------------------------------------------------

class _Artifact(object):
    __slots__ = ('repository', 'digest', 'media_type', 'size_bytes', 'tags', 'ts', 'ts_trusted', 'children', 'subject',
                 'created_pre1980', 'untrusted_times', 'read_error', 'read_error_quiet', 'throwaway', 'kind', 'platforms',
                 'subjects')

    def __init__(self, repository, digest):
        self.repository = repository
        self.digest = digest
        self.media_type = None
        self.size_bytes = None
        self.tags = []
        self.ts = {'pushed': None, 'pulled': None, 'created': None}
        self.ts_trusted = self.ts        # ts with a pre-1980 created time put back (trust_created_before_1980)
        self.children = []
        self.subject = None
        self.created_pre1980 = None      # an image creation time before 1980, treated as unknown
        self.untrusted_times = False     # a push or pull time before 1980 was dropped
        self.read_error = None           # why part of the artifact could not be read (None: read in full)
        self.read_error_quiet = False    # read_error comes from a repository-level error (listed once, not per artifact)
        self.throwaway = False           # a throwaway manifest of an interrupted tag removal
        self.kind = None                 # one of ARTIFACT_TYPES, None when the snapshot does not tell
        self.platforms = set()           # os/arch[/variant] of the artifact, of an index's children too
        self.subjects = []               # what a referrer refers to: its subject and the digests its referrer tags name

    @property
    def is_index(self):
        return bool(self.children) or self.media_type in _INDEX_MEDIA_TYPES

    def times(self, policy):
        """The timestamps a policy sees: pre-1980 created times only with trust_created_before_1980."""
        return self.ts_trusted if policy is not None and policy.trust_created_before_1980 else self.ts


def _entry_kind(entry):
    """The artifact type of a snapshot entry (``artifact_types.kind_of``), or None when the snapshot does not tell.

    A manifest media type alone does not say what an OCI manifest holds (the artifact type does): ``other`` is only
    believed when the provider gave a kind or an artifact type. A Docker schema 2 manifest is always an image.
    """
    kind = artifact_types.kind_of(entry)
    data = entry.get('provider_data') if isinstance(entry.get('provider_data'), dict) else {}
    if kind == 'other' and data.get('kind') not in ARTIFACT_TYPES and not data.get('artifact_type'):
        media_type = entry.get('media_type')
        plain = media_type.split(';', 1)[0].strip().lower() if isinstance(media_type, str) else None
        return 'image' if plain == _DOCKER_SCHEMA2 else None
    return kind


def _platform(value):
    """``os/arch[/variant]`` from a platform string or an OCI platform dict, or None."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict) and value.get('os') and value.get('architecture'):
        return '/'.join(str(value[k]) for k in ('os', 'architecture', 'variant') if value.get(k))
    return None


def _ref_digest(value):
    if isinstance(value, dict):
        value = value.get('digest')
    return value if isinstance(value, str) and value else None


def _flag(value):
    return value is True or (isinstance(value, str) and value.strip().lower() in _TRUE_STRINGS)


def _message(value, default):
    if isinstance(value, str) and value.strip():
        return value.strip()
    return default


def _load_times(art, entry, warnings):
    repo, digest = art.repository, art.digest
    for field in AGE_BASES:
        raw = entry.get(field + '_at')
        if raw is None or art.ts[field] is not None:
            continue
        try:
            value = parse_timestamp(raw)
        except ValueError:
            warnings.append('%s@%s: ignoring unparsable %s_at %r' % (repo, digest, field, raw))
            continue
        if value is None:
            continue
        if value < timestamps.REAL_TIME_FLOOR:
            if field == 'created':
                if art.created_pre1980 is None:
                    art.created_pre1980 = value
            else:
                art.untrusted_times = True
            continue
        art.ts[field] = value
    provider_data = entry.get('provider_data')
    if not isinstance(provider_data, dict):
        return
    if _flag(provider_data.get('throwaway')):
        art.throwaway = True
    raw = provider_data.get('config_created')
    if raw in (None, '') or art.ts['created'] is not None:
        return
    try:
        value = parse_timestamp(raw)
    except ValueError:
        warnings.append('%s@%s: ignoring unparsable provider_data.config_created %r' % (repo, digest, raw))
        return
    if value is None:
        return
    if value < timestamps.REAL_TIME_FLOOR:
        if art.created_pre1980 is None:
            art.created_pre1980 = value
    else:
        art.ts['created'] = value


def _load_read_errors(snapshot, repos):
    """Apply the snapshot's top-level ``read_errors``; return ``{repo: [(digest or None, msg)]}`` not on an artifact."""
    entries = snapshot.get('read_errors') if isinstance(snapshot, dict) else None
    if entries is None:
        return {}
    if not isinstance(entries, (list, tuple)):
        raise SnapshotError('snapshot "read_errors" must be a list, got %s' % type(entries).__name__)
    unresolved = {}
    for number, item in enumerate(entries):
        if not isinstance(item, dict) or not isinstance(item.get('repository'), str) or not item['repository']:
            raise SnapshotError('snapshot "read_errors" entry #%d needs a "repository" name, got %r' % (number + 1, item))
        repo = item['repository']
        digest = item.get('digest') if isinstance(item.get('digest'), str) and item.get('digest') else None
        msg = _message(item.get('msg'), 'could not be read')
        arts = repos.get(repo, {})
        if digest is not None and digest in arts:
            if arts[digest].read_error is None:
                arts[digest].read_error = msg
            continue
        unresolved.setdefault(repo, []).append((digest, msg))
        if digest is None:
            # The repository itself could not be read completely: nothing in it is known well enough to delete.
            for art in arts.values():
                if art.read_error is None:
                    art.read_error = 'repository %s could not be read completely: %s' % (repo, msg)
                    art.read_error_quiet = True
    return unresolved


def _finish_repository(arts):
    """Index-level derivations: an index with an unreadable descendant is unreadable too; trusted creation times."""
    def descendants(art):
        seen, stack, found = set([art.digest]), list(reversed(art.children)), []
        while stack:
            digest = stack.pop()
            if digest in seen or digest not in arts:
                continue
            seen.add(digest)
            child = arts[digest]
            found.append(child)
            stack.extend(reversed(child.children))
        return found

    for digest in sorted(arts):
        art = arts[digest]
        if not art.children:
            continue
        below = descendants(art)
        if art.read_error is None:
            broken = [c for c in below if c.read_error is not None and not c.read_error_quiet]
            if broken:
                art.read_error = 'index child %s could not be read: %s' % (broken[0].digest, broken[0].read_error)
        if art.ts['created'] is None and art.created_pre1980 is None:
            # An index is as old as its newest child; when every known child time is before 1980, so is the index's.
            known = [c.ts['created'] or c.created_pre1980 for c in below]
            known = [k for k in known if k is not None]
            if known and max(known) < timestamps.REAL_TIME_FLOOR:
                art.created_pre1980 = max(known)
    for art in arts.values():
        if art.ts['created'] is None and art.created_pre1980 is not None:
            art.ts_trusted = dict(art.ts, created=art.created_pre1980)
    for digest in sorted(arts):
        art = arts[digest]
        if art.is_index:
            art.kind = 'index'
            for child in descendants(art):
                art.platforms.update(child.platforms)
        subjects = set([art.subject]) if art.subject else set()
        for tag in art.tags:
            # cosign's sha256-<hex>.sig/.att/.sbom on any manifest; the referrers tag schema's bare sha256-<hex> on an index
            named = artifact_types.referrer_tag(tag)
            if named and (named[1] is not None or art.is_index):
                subjects.add(named[0])
        subjects.discard(digest)
        art.subjects = sorted(subjects)


def _load_snapshot(snapshot, warnings):
    """Return ``(repos, unresolved_read_errors)``: ``{repo: {digest: _Artifact}}`` and read errors not on an artifact."""
    if isinstance(snapshot, dict):
        entries = snapshot.get('artifacts')
        repo_names = snapshot.get('repositories') or []
    elif isinstance(snapshot, (list, tuple)):
        entries = snapshot
        repo_names = []
    else:
        raise SnapshotError('snapshot must be a dict with "artifacts" or a list of artifacts, got %s' % type(snapshot).__name__)
    if entries is None:
        entries = []
    if not isinstance(entries, (list, tuple)):
        raise SnapshotError('snapshot "artifacts" must be a list, got %s' % type(entries).__name__)
    if not isinstance(repo_names, (list, tuple)):
        raise SnapshotError('snapshot "repositories" must be a list, got %s' % type(repo_names).__name__)

    repos = {}
    for name in repo_names:
        if isinstance(name, dict):
            name = name.get('name') or name.get('repository')
        if not isinstance(name, str) or not name:
            raise SnapshotError('snapshot "repositories" entries must be repository names, got %r' % (name,))
        repos.setdefault(name, {})

    for number, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise SnapshotError('artifact #%d must be a dict, got %s' % (number + 1, type(entry).__name__))
        repo = entry.get('repository')
        digest = entry.get('digest')
        if not isinstance(repo, str) or not repo or not isinstance(digest, str) or not digest:
            raise SnapshotError('artifact #%d needs non-empty "repository" and "digest" strings' % (number + 1))
        arts = repos.setdefault(repo, {})
        art = arts.get(digest)
        if art is None:
            art = arts[digest] = _Artifact(repo, digest)
        else:
            warnings.append('%s@%s appears more than once in the snapshot; entries merged' % (repo, digest))
        if art.media_type is None and isinstance(entry.get('media_type'), str):
            art.media_type = entry['media_type']
        size = entry.get('size_bytes')
        if art.size_bytes is None and isinstance(size, int) and not isinstance(size, bool) and size >= 0:
            art.size_bytes = size
        tags = entry.get('tags') or []
        if not isinstance(tags, (list, tuple)):
            raise SnapshotError('%s@%s: "tags" must be a list' % (repo, digest))
        for tag in tags:
            if not isinstance(tag, str) or not tag:
                raise SnapshotError('%s@%s: tags must be non-empty strings, got %r' % (repo, digest, tag))
        art.tags = sorted(set(art.tags) | set(tags))
        _load_times(art, entry, warnings)
        read_error = entry.get('read_error')
        if read_error not in (None, False, '') and art.read_error is None:
            art.read_error = _message(read_error, 'part of the artifact could not be read')
        children = entry.get('children') or []
        if not isinstance(children, (list, tuple)):
            raise SnapshotError('%s@%s: "children" must be a list' % (repo, digest))
        child_digests = set(art.children)
        for child in children:
            child_digest = _ref_digest(child)
            if child_digest and child_digest != digest:
                child_digests.add(child_digest)
        art.children = sorted(child_digests)
        platforms = entry.get('platforms') if isinstance(entry.get('platforms'), (list, tuple)) else []
        for value in [c.get('platform') for c in children if isinstance(c, dict)] + list(platforms):
            if _platform(value):
                art.platforms.add(_platform(value))
        if art.kind is None:
            art.kind = _entry_kind(entry)
        subject = _ref_digest(entry.get('subject'))
        if art.subject is None and subject and subject != digest:
            art.subject = subject

    unresolved = _load_read_errors(snapshot, repos)
    for repo in sorted(repos):
        _finish_repository(repos[repo])
        owners = {}
        for digest in sorted(repos[repo]):
            for tag in repos[repo][digest].tags:
                owners.setdefault(tag, []).append(digest)
        for tag in sorted(owners):
            if len(owners[tag]) > 1:
                warnings.append('%s:%s is listed on several digests (%s); the snapshot is inconsistent' % (
                    repo, tag, ', '.join(owners[tag])))
    return repos, unresolved


# --------------------------------------------------------------------------
# Planning
# --------------------------------------------------------------------------

def _age_ts(art, policy):
    """Return ``(timestamp, basis_used)`` for ``policy``'s age_basis following the fallback chain, or ``(None, None)``."""
    times = art.times(policy)
    for field in AGE_FALLBACK[policy.age_basis]:
        if times[field] is not None:
            return times[field], field
    return None, None


def _recency_key(art, policy):
    """Sort key: newest first, ties broken by pushed, created, pulled (newest first), then digest ascending.

    Artifacts without any timestamp sort after every dated one.
    """
    ts, dummy = _age_ts(art, policy)
    times = art.times(policy)
    key = [-(ts - _EPOCH).total_seconds() if ts is not None else float('inf')]
    for field in TIEBREAK_FIELDS:
        value = times[field]
        key.append(-(value - _EPOCH).total_seconds() if value is not None else float('inf'))
    key.append(art.digest)
    return tuple(key)


def _window_reason(policy, art, now):
    """``None`` when the artifact is inside the policy's age window, else a kept reason."""
    if policy.older_than is None and policy.newer_than is None:
        return None
    ts, dummy = _age_ts(art, policy)
    if ts is None:
        return 'no_timestamp'
    age = (now - ts).total_seconds()
    if policy.older_than is not None and age < policy.older_than:
        return 'too_new'
    if policy.newer_than is not None and age >= policy.newer_than:
        return 'not_selected'
    return None


def _min_age_protects(policy, art, now):
    """min_age floor: protected when pushed or created (whichever is newer) is younger than min_age."""
    if not policy.min_age:
        return False
    times = art.times(policy)
    known = [times[f] for f in ('pushed', 'created') if times[f] is not None]
    if not known:
        return False
    return (now - max(known)).total_seconds() < policy.min_age


def _keep_last_digests(policy, arts):
    if not policy.keep_last:
        return set()
    ranked = [a for a in arts if any(policy.tag_matches(t) for t in a.tags) and policy.kind_matches(a) and policy.platform_matches(a)]
    ranked.sort(key=lambda a: _recency_key(a, policy))
    return set(a.digest for a in ranked[:policy.keep_last])


def _keep_semver_tags(policy, arts):
    """Tags protected by keep.semver; ranking is by version precedence, prereleases never count."""
    if not policy.keep_semver:
        return set()
    releases = {}
    for art in arts:
        for tag in art.tags:
            parsed = parse_semver(tag)
            if parsed is None or parsed[3] is not None:
                continue
            releases.setdefault(parsed[:3], []).append(tag)
    if 'all' in policy.keep_semver:
        return set(t for tags in releases.values() for t in tags)
    if 'major' in policy.keep_semver:
        count, width = policy.keep_semver['major'], 1
    else:
        count, width = policy.keep_semver['minor'], 2
    groups = {}
    for version in releases:
        groups.setdefault(version[:width], []).append(version)
    kept = set()
    for versions in groups.values():
        for version in sorted(versions, reverse=True)[:count]:
            kept.update(releases[version])
    return kept


class _Item(object):
    """Per tag (tag set) or per untagged manifest (tag None) evaluation across policies."""
    __slots__ = ('art', 'tag', 'selected_by', 'protected_by', 'skip_reasons', 'orphan', 'deferred')

    def __init__(self, art, tag):
        self.art = art
        self.tag = tag
        self.selected_by = []      # policy objects, in policy order
        self.protected_by = []     # (reason, policy)
        self.skip_reasons = []     # (reason, policy) when a policy did not select it
        self.orphan = False        # selected as an orphan referrer (delete_orphan_referrers)
        self.deferred = False      # past an on_limit truncate limit: kept for the next run

    @property
    def held(self):
        """Something keeps it whatever the policies select: protection, a read error, or a truncate limit."""
        return bool(self.protected_by) or self.deferred or self.art.read_error is not None

    @property
    def removable(self):
        return bool(self.selected_by) and not self.held

    @property
    def deletes(self):
        """Removable, and some selecting policy has action delete (action untag never deletes a manifest)."""
        return self.removable and any(p.action == 'delete' for p in self.selected_by)

    def protection(self):
        if self.art.read_error is not None:
            return 'read_error', None
        if self.protected_by:
            return min(self.protected_by, key=lambda rp: (PROTECTION_REASONS.index(rp[0]), rp[1].index))
        if self.deferred:
            return 'deferred', (self.selected_by[0] if self.selected_by else None)
        return None, None

    def selection_reason(self):
        for wanted in SELECTION_REASONS:
            for reason, policy in self.skip_reasons:
                if reason == wanted:
                    return reason, (policy if reason != 'not_selected' else None)
        return 'not_selected', None


def _present_digests(arts):
    """Every digest the repository holds: its artifacts, and the index children a provider lists only as children."""
    present = set(a.digest for a in arts)
    for art in arts:
        present.update(art.children)
    return present


def _evaluate_repository(repo, arts, policies, now, deferred=None):
    """Return per-item evaluation for one repository; ``deferred`` marks items an on_limit truncate limit holds back."""
    tag_items = {}
    untagged_items = {}
    for art in arts:
        for tag in art.tags:
            tag_items[(art.digest, tag)] = _Item(art, tag)
        if not art.tags:
            untagged_items[art.digest] = _Item(art, None)
    present = _present_digests(arts)
    orphans = set(a.digest for a in arts if a.subjects and not any(s in present for s in a.subjects))

    for policy in policies:
        last = _keep_last_digests(policy, arts)
        semver = _keep_semver_tags(policy, arts)
        for art in arts:
            window = _window_reason(policy, art, now)
            young = _min_age_protects(policy, art, now)
            pulled = policy.pulled_recently(art, now)
            in_use = policy.digest_in_use(repo, art.digest)
            orphan = policy.delete_orphan_referrers and art.digest in orphans
            wanted = policy.kind_matches(art) and policy.platform_matches(art)
            for tag in art.tags:
                item = tag_items[(art.digest, tag)]
                if in_use:
                    item.protected_by.append(('in_use', policy))
                if policy.keep_latest and tag == 'latest':
                    item.protected_by.append(('latest', policy))
                if policy.keep_tag_matches(tag):
                    item.protected_by.append(('keep_tags', policy))
                if tag in semver:
                    item.protected_by.append(('keep_semver', policy))
                if art.digest in last:
                    item.protected_by.append(('keep_last', policy))
                if pulled:
                    item.protected_by.append(('pulled_within', policy))
                if young:
                    item.protected_by.append(('min_age', policy))
                if orphan:
                    item.selected_by.append(policy)
                    item.orphan = True
                elif policy.protect_only or policy.tag_state == 'untagged' or not policy.tag_matches(tag) or not wanted:
                    item.skip_reasons.append(('not_selected', policy))
                elif window is not None:
                    item.skip_reasons.append((window, policy))
                else:
                    item.selected_by.append(policy)
            if not art.tags:
                item = untagged_items[art.digest]
                if in_use:
                    item.protected_by.append(('in_use', policy))
                if pulled:
                    item.protected_by.append(('pulled_within', policy))
                if young:
                    item.protected_by.append(('min_age', policy))
                if orphan:
                    item.selected_by.append(policy)
                    item.orphan = True
                elif (policy.protect_only or policy.tag_state == 'tagged' or not policy.delete_untagged or policy.action == 'untag'
                      or not wanted):
                    item.skip_reasons.append(('not_selected', policy))
                elif window is not None:
                    item.skip_reasons.append((window, policy))
                else:
                    item.selected_by.append(policy)
    for digest, tag in (deferred or {}).get('tags', ()):
        if (digest, tag) in tag_items:
            tag_items[(digest, tag)].deferred = True
    for digest in (deferred or {}).get('digests', ()):
        if digest in untagged_items:
            untagged_items[digest].deferred = True
    return tag_items, untagged_items


def _ordered_policies(policy_lists):
    seen = {}
    for policies in policy_lists:
        for policy in policies:
            seen[policy.index] = policy
    return [seen[k] for k in sorted(seen)]


def _plan_repository(repo, arts_by_digest, policies, now, deferred=None):
    arts = [arts_by_digest[d] for d in sorted(arts_by_digest)]
    tag_items, untagged_items = _evaluate_repository(repo, arts, policies, now, deferred)
    # referrers: with_subject unless a policy covering the repository says keep (the cautious choice wins)
    with_subject = all(p.referrers == 'with_subject' for p in policies)

    parents = {}
    referrers_of = {}
    for art in arts:
        for child in art.children:
            if child in arts_by_digest:
                parents.setdefault(child, set()).add(art.digest)
        for subject in art.subjects:
            if subject in arts_by_digest:
                referrers_of.setdefault(subject, []).append(art.digest)

    def subjects_here(digest):
        return [s for s in arts_by_digest[digest].subjects if s in arts_by_digest]

    present = _present_digests(arts)

    def names_kept_subject(art, tag):
        """A referrer tag (sha256-<hex>.sig, ...) naming a subject that stays: removing it would drop the signature."""
        named = artifact_types.referrer_tag(tag)
        return bool(named) and named[0] in art.subjects and named[0] in present and named[0] not in deleted

    # Own deletion candidates: digests whose every tag is removable by a policy with action delete, and removable
    # untagged manifests. A digest whose every tag is removable but some only by action untag stays (untag_only).
    own, untag_only = {}, set()
    for art in arts:
        if art.tags:
            items = [tag_items[(art.digest, t)] for t in art.tags]
            if all(i.removable for i in items):
                if all(i.deletes for i in items):
                    own[art.digest] = _ordered_policies(i.selected_by for i in items)
                else:
                    untag_only.add(art.digest)
        elif untagged_items[art.digest].removable:
            own[art.digest] = list(untagged_items[art.digest].selected_by)

    def goes_with_subject(digest):
        """A referrer can go with its subject: nothing keeps it, and each tag of its own that is not a referrer tag
        is one a policy with action delete removes."""
        art = arts_by_digest[digest]
        if art.read_error is not None:
            return False
        if not art.tags:
            return not untagged_items[digest].held
        for tag in art.tags:
            item = tag_items[(digest, tag)]
            if item.held or (artifact_types.referrer_tag(tag) is None and not item.deletes):
                return False
        return True

    # Children that go with a deleted index (untagged, unprotected, present in the repository) and, with referrers
    # with_subject, the referrers of a deleted manifest whose every subject here goes too; transitively.
    candidates = set(own)
    stack = sorted(own, reverse=True)
    while stack:
        digest = stack.pop()
        for child in arts_by_digest[digest].children:
            child_art = arts_by_digest.get(child)
            if (child_art is None or child in candidates or child_art.tags or untagged_items[child].held):
                continue
            candidates.add(child)
            stack.append(child)
        for referrer in sorted(referrers_of.get(digest, ())) if with_subject else ():
            if referrer in candidates or not goes_with_subject(referrer):
                continue
            if all(s in candidates for s in subjects_here(referrer)):
                candidates.add(referrer)
                stack.append(referrer)

    # Greatest fixed point: drop anything referenced by a surviving index or whose subject survives (the subject its
    # manifest names, or one its cosign tags name).
    deleted = set(candidates)
    guard = {}
    changed = True
    while changed:
        changed = False
        for digest in sorted(deleted):
            if any(p not in deleted for p in parents.get(digest, ())):
                guard[digest] = 'index_child'
            elif any(s not in deleted for s in subjects_here(digest)):
                guard[digest] = 'referrer_of_kept'
            else:
                continue
            deleted.discard(digest)
            changed = True
    for digest in deleted:
        guard.pop(digest, None)

    # What each deleted manifest goes with: a referrer (with_subject) with its deleted subject, else an untagged one
    # with a deleted index that lists it (a child); followed up to an entry of its own (the top), which lists them all.
    # The subject comes first: a referrer listed by a referrers-tag-schema index is that subject's referrer, not the
    # index's child.
    def link(digest):
        subjects = subjects_here(digest)
        if with_subject and subjects and all(s in deleted for s in subjects):
            return subjects[0], 'referrer'
        if not arts_by_digest[digest].tags:
            listing = sorted(p for p in parents.get(digest, ()) if p in deleted)
            if listing:
                return listing[0], 'child'
        return None

    links = dict((d, link(d)) for d in sorted(deleted))
    for digest in sorted(deleted):
        # referrer tags can name each other in a ring: the smallest digest of a ring gets an entry of its own
        path, current = [], digest
        while links.get(current) and current not in path:
            path.append(current)
            current = links[current][0]
        if current in path:
            links[min(path[path.index(current):])] = None
    top_of, depth, role = {}, {}, {}
    for digest in sorted(deleted):
        if links[digest] is None:
            continue
        current, steps = links[digest][0], 1
        while links[current] is not None:
            current, steps = links[current][0], steps + 1
        top_of[digest], depth[digest], role[digest] = current, steps, links[digest][1]
    tops = sorted(d for d in deleted if d not in top_of)
    owned = {}
    for digest, top in top_of.items():
        owned.setdefault(top, []).append(digest)

    result = {'remove_tags': [], 'delete_digests': [], 'kept': [], 'deleted': deleted}

    def basis_for(art, policy):
        return _age_ts(art, policy or policies[0])[1]

    def age_for(art, policy):
        ts, dummy = _age_ts(art, policy or policies[0])
        return int((now - ts).total_seconds()) if ts is not None else None

    def is_orphan(digest):
        art = arts_by_digest[digest]
        items = [tag_items[(digest, t)] for t in art.tags] if art.tags else [untagged_items[digest]]
        return any(i.orphan for i in items)

    for digest in tops:
        art = arts_by_digest[digest]
        mine = sorted(owned.get(digest, ()), key=lambda d: (depth[d], d))
        children = [d for d in mine if role[d] == 'child']
        selected = own.get(digest) or []
        result['delete_digests'].append({
            'repository': repo,
            'digest': digest,
            'media_type': art.media_type,
            'artifact_type': art.kind,
            'tags': list(art.tags),
            'size_bytes': art.size_bytes,
            'children': children,
            'children_size_bytes': dict((d, arts_by_digest[d].size_bytes) for d in children),
            'referrers': [_referrer_entry(arts_by_digest[d], links[d][0]) for d in mine if role[d] == 'referrer'],
            'policy': selected[0].name if selected else None,
            'selected_by': [p.name for p in selected],
            'age_basis': basis_for(art, selected[0] if selected else None),
            'age_seconds': age_for(art, selected[0] if selected else None),
            'leftover': False,
            'reason': ORPHAN_REASON if is_orphan(digest) else None,
        })

    for art in arts:
        removed_here = kept_here = False
        for tag in art.tags:
            item = tag_items[(art.digest, tag)]
            if (art.digest in deleted and not item.held) or (item.removable and not names_kept_subject(art, tag)):
                # removable, or a referrer tag that goes with its manifest (the manifest goes with its subject)
                removed_here = True
                if art.digest not in deleted:
                    result['remove_tags'].append({
                        'repository': repo, 'tag': tag, 'digest': art.digest,
                        'policy': item.selected_by[0].name,
                        'selected_by': [p.name for p in item.selected_by],
                        'age_basis': basis_for(art, item.selected_by[0]),
                        'age_seconds': age_for(art, item.selected_by[0]),
                    })
                continue
            kept_here = True
            reason, policy = item.protection()
            if reason is None and item.removable:
                reason = 'referrer_of_kept'   # selected, but it names a subject that stays (names_kept_subject)
            if reason is None and not item.selected_by and art.tags and is_referrer_tag(tag):
                subject = _referrer_tag_subject(tag)
                if subject in arts_by_digest and subject not in deleted:
                    reason = 'referrer_of_kept'
            if reason is None:
                reason, policy = item.selection_reason()
            result['kept'].append(_kept_entry(repo, art, tag, reason, policy, item, basis_for(art, policy), age_for(art, policy)))
        if art.digest in deleted:
            continue
        if not art.tags:
            item = untagged_items[art.digest]
            reason, policy = item.protection()
            if reason is None:
                if art.digest in guard:
                    reason = guard[art.digest]
                elif any(p not in deleted for p in parents.get(art.digest, ())):
                    reason = 'index_child'
                elif any(s in present and s not in deleted for s in art.subjects):
                    # a subject only an index lists (providers that list children only there) is never deleted here
                    reason = 'referrer_of_kept'
                else:
                    reason, policy = item.selection_reason()
            result['kept'].append(_kept_entry(repo, art, None, reason, policy, item, basis_for(art, policy), age_for(art, policy)))
        elif removed_here:
            # Some tags go but the manifest stays: a sibling tag is kept, a guard keeps the now-untagged manifest, or
            # action untag removed every tag (untag never deletes a manifest).
            reason = guard.get(art.digest) or ('untag_only' if art.digest in untag_only and not kept_here else 'shared_digest')
            result['kept'].append({
                'repository': repo, 'digest': art.digest, 'tag': None, 'reason': reason, 'policy': None,
                'selected_by': [p.name for p in (own.get(art.digest) or (_ordered_policies(
                    tag_items[(art.digest, t)].selected_by for t in art.tags) if art.digest in untag_only else []))],
                'protected_by': [],
                'age_basis': basis_for(art, None), 'age_seconds': age_for(art, None),
            })
    return result


def _referrer_entry(art, subject):
    """A referrer deleted with its subject, as listed under the subject's entry (``delete_digests[].referrers``)."""
    return {
        'digest': art.digest,
        'subject': subject,
        'artifact_type': art.kind,
        'media_type': art.media_type,
        'tags': list(art.tags),
        'size_bytes': art.size_bytes,
    }


def _kept_entry(repo, art, tag, reason, policy, item, basis, age):
    protected = []
    for dummy, prot_policy in sorted(item.protected_by, key=lambda rp: rp[1].index):
        if prot_policy.name not in protected:
            protected.append(prot_policy.name)
    return {
        'repository': repo,
        'digest': art.digest,
        'tag': tag,
        'reason': reason,
        'policy': policy.name if policy is not None else None,
        'selected_by': [p.name for p in item.selected_by],
        'protected_by': protected,
        'age_basis': basis,
        'age_seconds': age,
    }


def _resolve_now(now):
    if now is None:
        return datetime.datetime.now(datetime.timezone.utc)
    try:
        parsed = parse_timestamp(now)
    except ValueError as exc:
        raise ValueError('invalid "now": %s' % exc)
    if parsed is None:
        return datetime.datetime.now(datetime.timezone.utc)
    return parsed


def plan(snapshot, policies, now=None, repositories=None):
    """Compute a retention plan.  Pure and deterministic for a given ``now``.

    :param snapshot: ``artifact_info`` result (dict with ``artifacts`` and optional
        ``repositories`` and ``read_errors``) or a bare list of artifact dicts.
    :param policies: one policy dict or a list of them.
    :param now: ISO 8601 string or datetime; the current UTC time when ``None``.
    :param repositories: the repositories the snapshot was asked for (the role's ``cleanup_repositories``); each one
        the snapshot does not hold is a warning.
    :raises PolicyError: invalid policy (message names policy and key).
    :raises SnapshotError: malformed snapshot.
    :returns: the plan dict (see docs/retention.md).
    """
    policy_objs = _build_policies(policies)
    now_dt = _resolve_now(now)
    warnings = []
    all_repos, unresolved = _load_snapshot(snapshot, warnings)
    # Throwaway manifests of an interrupted tag removal are not the user's content: they never go through the
    # policies, protection or breakers, and their tags are not the repository's tags.
    repos, leftovers = {}, {}
    for repo, arts in all_repos.items():
        repos[repo] = dict((digest, a) for digest, a in arts.items() if not a.throwaway)
        found = [arts[digest] for digest in sorted(arts) if arts[digest].throwaway]
        if found:
            leftovers[repo] = found

    missing = 'is not in the snapshot: there is no such repository, or nothing in it'
    if repositories is not None:
        if isinstance(repositories, str):
            repositories = [repositories]
        if not isinstance(repositories, (list, tuple)):
            raise SnapshotError('repositories must be a list of repository names, got %s' % type(repositories).__name__)
        for name in sorted(set(n for n in repositories if isinstance(n, str) and n)):
            if name not in all_repos:
                warnings.append('repository %s (named in cleanup_repositories) %s' % (name, missing))
    if not policy_objs:
        warnings.append('no retention policy given: nothing is selected')
    for policy in policy_objs:
        absent = [name for name in policy.named_repositories() if name not in all_repos]
        for name in absent:
            warnings.append('policy "%s": repository %s (named in repositories.include) %s' % (policy.name, name, missing))
        if not absent and not any(policy.covers(r) for r in repos):
            warnings.append('policy "%s" matches no repository in the snapshot' % policy.name)
        if policy.tag_state == 'untagged' and not policy.delete_untagged and not policy.protect_only:
            warnings.append('policy "%s" has tag_state untagged and delete_untagged false: it selects nothing' % policy.name)
    for policy in policy_objs:
        if not policy.protect_only:
            continue
        alone = [r for r in sorted(repos) if policy.covers(r)
                 and all(not p.selects for p in policy_objs if p.covers(r))]
        if alone:
            warnings.append('policy "%s" only protects (it sets none of tags, tag_state, older_than, newer_than) and no '
                            'policy that selects covers %s: nothing is removed there' % (
                                policy.name, ', '.join(alone[:10]) + (' ...' if len(alone) > 10 else '')))

    results, repo_policies = {}, {}
    for repo in sorted(repos):
        applicable = [p for p in policy_objs if p.covers(repo)]
        if applicable:
            repo_policies[repo] = applicable
            results[repo] = _plan_repository(repo, repos[repo], applicable, now_dt)
    # on_limit truncate: the newest part of the plan past a limit is deferred; the plan is made again with it held,
    # so that every guard sees what stays.
    units, limit_warnings = _truncate(policy_objs, repos, results)
    deferred_units = [u for u in units if u.deferred]
    marks = {}
    for unit in deferred_units:
        mark = marks.setdefault(unit.repository, {'tags': set(), 'digests': set()})
        mark['tags'].update(unit.tags)
        mark['digests'].update(unit.digests)
    for repo in sorted(marks):
        results[repo] = _plan_repository(repo, repos[repo], repo_policies[repo], now_dt, deferred=marks[repo])

    remove_tags, delete_digests, kept, read_errors = [], [], [], []
    summaries = {}
    pre1980 = untrusted = 0
    for repo in sorted(set(repos) | set(leftovers)):
        applicable = repo_policies.get(repo)
        leftover_entries = [_leftover_entry(repo, a) for a in leftovers.get(repo, [])]
        delete_digests.extend(leftover_entries)
        if not applicable:
            if leftover_entries:
                summaries[repo] = _summarize({}, _empty_result(), leftover_entries, 0)
            continue
        res = results[repo]
        remove_tags.extend(res['remove_tags'])
        delete_digests.extend(res['delete_digests'])
        kept.extend(res['kept'])
        errors = _read_errors(repo, repos[repo], unresolved.get(repo, []))
        read_errors.extend(errors)
        mine = [u for u in deferred_units if u.repository == repo]
        summaries[repo] = _summarize(repos[repo], res, leftover_entries, len(errors),
                                     deferred=(sum(len(u.tags) for u in mine), sum(len(u.digests) for u in mine)))
        warnings.extend(_selection_warnings(repo, repos[repo], applicable))
        distrusting = any(not p.trust_created_before_1980 for p in applicable)
        for art in repos[repo].values():
            if distrusting and art.ts['created'] is None and art.created_pre1980 is not None:
                pre1980 += 1
            if art.untrusted_times:
                untrusted += 1

    remove_tags.sort(key=lambda e: (e['repository'], e['tag'], e['digest']))
    delete_digests.sort(key=lambda e: (e['repository'], e['digest']))
    kept.sort(key=lambda e: (e['repository'], e['digest'], e['tag'] is not None, e['tag'] or ''))
    read_errors.sort(key=lambda e: (e['repository'], e['digest'] or ''))

    warnings.extend(limit_warnings)
    if pre1980:
        warnings.append('%d artifact(s) have an image creation time before 1980 (reproducible builds): treated as unknown; '
                        'set trust_created_before_1980 to use it' % pre1980)
    if untrusted:
        warnings.append('%d artifact(s) have a push or pull time before 1980: treated as unknown' % untrusted)
    if read_errors:
        warnings.append('%d artifact(s) could not be read completely: kept with all their tags (reason read_error): %s' % (
            len(read_errors), ', '.join('%s@%s' % (e['repository'], e['digest'] or '*') for e in read_errors[:10])
            + (' ...' if len(read_errors) > 10 else '')))
    found = [e for e in delete_digests if e['leftover']]
    if found:
        warnings.append('%d throwaway manifest(s) left by an interrupted tag removal: deleted with the tags that point at them: %s' % (
            len(found), ', '.join('%s@%s (%s)' % (e['repository'], e['digest'], ', '.join(e['tags']) or 'no tag') for e in found[:10])
            + (' ...' if len(found) > 10 else '')))

    block_reasons = _check_breakers(policy_objs, repo_policies, repos, remove_tags, delete_digests, summaries)

    totals = _add_up(summaries.values())
    totals['repositories'] = len(summaries)
    return {
        'remove_tags': remove_tags,
        'delete_digests': delete_digests,
        'kept': kept,
        'read_errors': read_errors,
        'deferred': [dict(e, operation=u.operation) for u in deferred_units for e in u.entries],
        'repositories': summaries,
        'totals': totals,
        'blocked': bool(block_reasons),
        'block_reasons': block_reasons,
        'warnings': warnings,
        'now': format_timestamp(now_dt),
        'policies': [p.normalized() for p in policy_objs],
    }


def _names(policies):
    return ', '.join('"%s"' % p.name for p in policies)


def _selection_warnings(repo, arts_by_digest, policies):
    """What the snapshot of one repository does not say that a policy's rule needs: pull times, types, platforms."""
    arts = [arts_by_digest[d] for d in sorted(arts_by_digest)]
    warnings = []
    if not arts:
        return warnings
    pulling = [p for p in policies if p.pulled_within is not None]
    unpulled = [a for a in arts if a.ts['pulled'] is None]
    if pulling and unpulled:
        if len(unpulled) == len(arts):
            warnings.append('keep.pulled_within (policy %s) protects nothing in %s: the provider records no pull times '
                            '(no artifact there has one)' % (_names(pulling), repo))
        else:
            warnings.append('keep.pulled_within (policy %s) cannot protect %d of %d artifact(s) in %s: the snapshot has no '
                            'pull time for them (never pulled, or the provider records none)' % (
                                _names(pulling), len(unpulled), len(arts), repo))
    for key, unknown, what in (
            ('artifact_types', [a for a in arts if a.kind is None], 'what they are (no media type or artifact type)'),
            ('platforms', [a for a in arts if not a.platforms], 'their platform')):
        using = [p for p in policies if getattr(p, key) and not p.protect_only]
        if using and unknown:
            warnings.append('policy %s selects by %s, but the snapshot does not say %s for %d of %d artifact(s) in %s: '
                            'they are not selected' % (_names(using), key, what, len(unknown), len(arts), repo))
    return warnings


class _Unit(object):
    """What on_limit truncate applies or defers as a whole: the tag removals of one manifest that stays, or one
    manifest deletion with the children and referrers that go with it."""
    __slots__ = ('repository', 'digest', 'operation', 'entries', 'costs', 'age', 'name', 'tags', 'digests', 'deferred')

    def __init__(self, repository, digest, operation, entries, costs, age, name, tags, digests):
        self.repository = repository
        self.digest = digest
        self.operation = operation      # untag | delete
        self.entries = entries          # the plan's remove_tags entries, or its one delete_digests entry
        self.costs = costs              # policy name -> (operations, tags and untagged manifests that disappear)
        self.age = age
        self.name = name
        self.tags = tags                # (digest, tag) that go
        self.digests = digests          # digests deleted
        self.deferred = False

    def key(self):
        """Oldest first (unknown ages last), then repository, tag or digest name."""
        return (self.age is None, -(self.age or 0), self.repository, self.name, self.digest)


def _units(results):
    units = []
    for repo in sorted(results):
        res = results[repo]
        by_digest = {}
        for entry in res['remove_tags']:
            by_digest.setdefault(entry['digest'], []).append(entry)
        for digest in sorted(by_digest):
            entries = by_digest[digest]
            costs = {}
            for entry in entries:
                for name in entry['selected_by']:
                    costs[name] = costs.get(name, 0) + 1
            ages = [e['age_seconds'] for e in entries if e['age_seconds'] is not None]
            units.append(_Unit(repo, digest, 'untag', entries, dict((n, (c, c)) for n, c in costs.items()),
                               max(ages) if ages else None, min(e['tag'] for e in entries),
                               set((digest, e['tag']) for e in entries), set()))
        for entry in res['delete_digests']:
            children, referrers = entry['children'], entry['referrers']
            operations = 1 + len(children) + len(referrers)
            gone = (len(entry['tags']) or 1) + len(children) + sum(len(r['tags']) or 1 for r in referrers)
            tags = set((entry['digest'], t) for t in entry['tags']) | set((r['digest'], t) for r in referrers for t in r['tags'])
            units.append(_Unit(repo, entry['digest'], 'delete', [entry], dict((n, (operations, gone)) for n in entry['selected_by']),
                               entry['age_seconds'], (sorted(entry['tags']) or [entry['digest']])[0], tags,
                               set([entry['digest']]) | set(children) | set(r['digest'] for r in referrers)))
    units.sort(key=_Unit.key)
    return units


def _truncate(policies, repos, results):
    """Apply on_limit truncate: oldest first, take each unit while it fits every limit of every truncating policy that
    selected it; from the first unit past a limit, that limit takes nothing more (the rest is deferred). A unit whose
    deletion needs a deferred one (an index that lists it, a subject it refers to) is deferred too.

    Returns ``(units in order, warnings)``; ``unit.deferred`` says which are left for the next run.
    """
    by_name = dict((p.name, p) for p in policies)
    if not any(p.on_limit == 'truncate' for p in policies):
        return [], []
    units = _units(results)
    population = dict((repo, sum(len(a.tags) or 1 for a in repos[repo].values())) for repo in results)
    used, closed = {}, []
    for unit in units:
        checks = []
        for name, (operations, gone) in sorted(unit.costs.items()):
            policy = by_name[name]
            if policy.on_limit != 'truncate':
                continue
            # the same comparisons as _check_breakers, so that a truncated plan never trips the breaker it was cut for
            if policy.max_deletions is not None:
                checks.append((('max_deletions', name, None), operations, lambda total, p=policy: total > p.max_deletions))
            if policy.max_deletions_percent is not None:
                checks.append((('max_deletions_percent', name, unit.repository), gone,
                               lambda total, p=policy, n=population[unit.repository]: total * 100.0 / n > p.max_deletions_percent))
        failed = [key for key, amount, over in checks if key in closed or over(used.get(key, 0) + amount)]
        if failed:
            unit.deferred = True
            closed.extend(k for k in failed if k not in closed)
        else:
            for key, amount, dummy in checks:
                used[key] = used.get(key, 0) + amount
    # A deletion that needs another (every index listing it, every subject it refers to) goes only with it.
    owner = {}
    for unit in units:
        for digest in unit.digests:
            owner[(unit.repository, digest)] = unit
    parents = {}
    for repo in results:
        for art in repos[repo].values():
            for child in art.children:
                parents.setdefault((repo, child), set()).add(art.digest)
    changed = True
    while changed:
        changed = False
        for unit in units:
            if unit.deferred or unit.operation != 'delete':
                continue
            needs = set()
            for digest in unit.digests:
                needs.update(parents.get((unit.repository, digest), ()))
                needs.update(repos[unit.repository][digest].subjects)
            if any(owner.get((unit.repository, d)) not in (None, unit) and owner[(unit.repository, d)].deferred for d in needs):
                unit.deferred = True
                changed = True
    warnings = []
    deferred = [u for u in units if u.deferred]
    if deferred:
        limits = []
        for kind, name, repo in closed:
            limit = getattr(by_name[name], kind)
            limits.append('policy "%s" %s %s%s' % (name, kind, limit, ' in %s' % repo if repo else ''))
            if not used.get((kind, name, repo)):
                warnings.append('policy "%s": the oldest item it selects%s needs more than its %s %s allows: nothing of it is '
                                'applied until the limit is raised' % (name, ' in %s' % repo if repo else '', kind, limit))
        warnings.insert(0, 'on_limit truncate: %d tag removal(s) and %d manifest deletion(s) deferred to the next run (%s)' % (
            sum(len(u.entries) for u in deferred if u.operation == 'untag'),
            sum(len(u.digests) for u in deferred), '; '.join(limits) or 'they need a deferred deletion'))
    return units, warnings


def _empty_result():
    return {'remove_tags': [], 'delete_digests': [], 'kept': [], 'deleted': set()}


def _leftover_entry(repo, art):
    """Delete entry for a throwaway manifest: always deleted, with every tag on it, outside every policy and breaker."""
    return {
        'repository': repo,
        'digest': art.digest,
        'media_type': art.media_type,
        'tags': list(art.tags),
        'size_bytes': art.size_bytes,
        'artifact_type': art.kind,
        'children': [],
        'children_size_bytes': {},
        'referrers': [],
        'policy': None,
        'selected_by': [],
        'age_basis': None,
        'age_seconds': None,
        'leftover': True,
        'reason': LEFTOVER_REASON,
    }


def _read_errors(repo, arts, unresolved):
    """One entry per artifact kept for a read error, plus the snapshot's read errors that name no artifact of it."""
    errors = []
    for digest in sorted(arts):
        art = arts[digest]
        if art.read_error is not None and not art.read_error_quiet:
            errors.append({'repository': repo, 'digest': digest, 'tags': list(art.tags), 'msg': art.read_error})
    for digest, msg in unresolved:
        errors.append({'repository': repo, 'digest': digest, 'tags': [], 'msg': msg})
    return errors


def _count(counts, key):
    counts[key] = counts.get(key, 0) + 1


def _summarize(arts_by_digest, res, leftover_entries=(), read_errors=0, deferred=(0, 0)):
    """Per repository counts of the repository's own content (throwaway leftovers are counted apart).

    Tags: ``tags_before = tags_kept + tags_removed`` and ``tags_removed = tags_removed_with_digests +
    tags_removed_from_surviving`` (the tags of deleted referrers go with their digests); ``kept_by_reason`` counts
    each kept tag once and adds up to ``tags_kept``; ``tags_after = tags_kept``.  Digests: ``digests_before =
    digests_deleted + digests_after`` (``digests_deleted`` counts the children and referrers deleted with a manifest
    too: ``children_deleted``, ``referrers_deleted``), and ``untagged_kept_by_reason`` counts each manifest that stays
    with no tag (untagged before, left untagged by a guard, or by action untag: ``tags_untagged_only``).
    ``deferred`` is ``(deferred_tags, deferred_digests)``: what on_limit truncate left for the next run, kept here
    with reason ``deferred``.
    """
    deleted = res['deleted']
    tags_before = sum(len(a.tags) for a in arts_by_digest.values())
    from_surviving = len(res['remove_tags'])
    with_digests = sum(len(e['tags']) + sum(len(r['tags']) for r in e['referrers']) for e in res['delete_digests'])
    bytes_freed = 0
    partial = False
    for digest in sorted(deleted):
        size = arts_by_digest[digest].size_bytes
        if size is None:
            partial = True
        else:
            bytes_freed += size
    for entry in leftover_entries:
        bytes_freed += entry['size_bytes'] or 0
    by_reason, untagged = {}, {}
    for entry in res['kept']:
        if entry['tag'] is not None:
            _count(by_reason, entry['reason'])
        elif entry['reason'] != 'shared_digest':
            # shared_digest: the manifest keeps a tag of its own, which is counted above.
            _count(untagged, entry['reason'])
    tags_kept = sum(by_reason.values())
    return {
        'tags_before': tags_before,
        'tags_removed': from_surviving + with_digests,
        'tags_removed_with_digests': with_digests,
        'tags_removed_from_surviving': from_surviving,
        'tags_kept': tags_kept,
        'kept_by_reason': dict(sorted(by_reason.items())),
        'tags_after': tags_before - from_surviving - with_digests,
        'digests_before': len(arts_by_digest),
        'digests_deleted': len(deleted),
        'children_deleted': sum(len(e['children']) for e in res['delete_digests']),
        'referrers_deleted': sum(len(e['referrers']) for e in res['delete_digests']),
        'digests_after': len(arts_by_digest) - len(deleted),
        'untagged_kept_by_reason': dict(sorted(untagged.items())),
        'tags_untagged_only': untagged.get('untag_only', 0),
        'deferred_tags': deferred[0],
        'deferred_digests': deferred[1],
        'bytes_freed': bytes_freed,
        'bytes_freed_partial': partial,
        'leftovers': len(leftover_entries),
        'leftover_tags': sum(len(e['tags']) for e in leftover_entries),
        'read_errors': read_errors,
    }


def _add_up(summaries):
    """Totals of per-repository summaries: numbers and per-reason counts added, ``bytes_freed_partial`` or-ed."""
    totals = {}
    for summary in summaries:
        for key, value in summary.items():
            if isinstance(value, bool):
                totals[key] = totals.get(key, False) or value
            elif isinstance(value, dict):
                merged = totals.setdefault(key, {})
                for reason, count in value.items():
                    merged[reason] = merged.get(reason, 0) + count
            else:
                totals[key] = totals.get(key, 0) + value
    for key in ('kept_by_reason', 'untagged_kept_by_reason'):
        totals[key] = dict(sorted(totals.get(key, {}).items()))
    for key in ('tags_before', 'tags_removed', 'tags_removed_with_digests', 'tags_removed_from_surviving', 'tags_kept',
                'tags_after', 'digests_before', 'digests_deleted', 'children_deleted', 'referrers_deleted', 'digests_after',
                'tags_untagged_only', 'deferred_tags', 'deferred_digests', 'bytes_freed', 'leftovers', 'leftover_tags',
                'read_errors'):
        totals.setdefault(key, 0)
    totals.setdefault('bytes_freed_partial', False)
    return totals


def _check_breakers(policies, repo_policies, repos, remove_tags, delete_digests, summaries):
    """Circuit breakers; each policy counts the operations it selected (``selected_by``), the children and referrers
    deleted with a manifest included.  Run on the plan after on_limit truncate, whose limits it then never exceeds.

    Throwaway leftovers are selected by no policy and ``repos`` holds no throwaway, so they count nowhere here.
    """
    reasons = []
    for policy in policies:
        mine_tags = [e for e in remove_tags if policy.name in e['selected_by']]
        mine_digests = [e for e in delete_digests if policy.name in e['selected_by']]
        operations = len(mine_tags) + sum(1 + len(e['children']) + len(e['referrers']) for e in mine_digests)
        if policy.max_deletions is not None and operations > policy.max_deletions:
            reasons.append('policy "%s": %d planned deletions (tags removed + manifests deleted) exceed max_deletions %d' % (
                policy.name, operations, policy.max_deletions))
        for repo in sorted(r for r, ps in repo_policies.items() if policy in ps):
            summary = summaries[repo]
            repo_tags = [e for e in mine_tags if e['repository'] == repo]
            repo_digests = [e for e in mine_digests if e['repository'] == repo]
            if policy.max_deletions_percent is not None:
                untagged_before = sum(1 for a in repos[repo].values() if not a.tags)
                population = summary['tags_before'] + untagged_before
                gone = len(repo_tags) + sum((len(e['tags']) or 1) + len(e['children']) + sum(len(r['tags']) or 1 for r in e['referrers'])
                                            for e in repo_digests)
                if population and gone * 100.0 / population > policy.max_deletions_percent:
                    reasons.append('policy "%s": repository %s would lose %d of %d tags and untagged manifests (%.1f%%), '
                                   'more than max_deletions_percent %s' % (
                                       policy.name, repo, gone, population, gone * 100.0 / population, policy.max_deletions_percent))
            if not policy.allow_empty_repository and (repo_tags or any(e['tags'] for e in repo_digests)):
                deleted = set()
                for entry in delete_digests:
                    if entry['repository'] == repo:
                        deleted.add(entry['digest'])
                        deleted.update(entry['children'])
                        deleted.update(r['digest'] for r in entry['referrers'])
                removed = set((e['digest'], e['tag']) for e in remove_tags if e['repository'] == repo)
                before = [(a.digest, t) for a in repos[repo].values() for t in a.tags if not is_referrer_tag(t)]
                after = [dt for dt in before if dt[0] not in deleted and dt not in removed]
                if before and not after:
                    reasons.append('policy "%s": the plan removes every tag of repository %s '
                                   '(set allow_empty_repository: true to allow this)' % (policy.name, repo))
    return reasons
