# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared validators for names, tags, digests and references. PRIVATE to the collection.

Every provider's input goes through these before any request (``Provider.validate``); a provider adds
its own name rules on top with ``matches``. Every pattern is matched against the whole string
(``re.fullmatch``): ``$`` would let a trailing newline through, which a YAML ``|`` block adds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# OCI distribution spec: path components of lowercase alphanumerics joined by ., _, __ or runs of -.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_RE = re.compile(r"%s(?:/%s)*" % (_COMPONENT, _COMPONENT))
REPOSITORY_MAX = 255
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
DIGEST_HEX = {"sha256": 64, "sha512": 128}
DIGEST_RE = re.compile(r"(sha256|sha512):([a-f0-9]+)")


def shown(value):
    """A value as the user wrote it, with invisible characters (a trailing newline) made visible."""
    text = "%s" % (value,)
    if text.isprintable():
        return "'%s'" % text
    return repr(text)


def matches(pattern, value):
    """True when ``pattern`` (a string or compiled regex) matches the whole of ``value``."""
    if not isinstance(value, str):
        return False
    regex = pattern if hasattr(pattern, "fullmatch") else re.compile(pattern)
    return regex.fullmatch(value) is not None


def repository_name(name):
    if not matches(REPOSITORY_RE, name) or len(name) > REPOSITORY_MAX:
        raise ValueError("repository name %s is not valid: lowercase path components of a-z and 0-9, joined by '.', '_', "
                         "'__' or '-' within a component and by '/' between them, at most %d characters"
                         % (shown(name), REPOSITORY_MAX))
    return name


def tag_name(name):
    if not matches(TAG_RE, name):
        raise ValueError("tag %s is not valid: 1 to 128 of A-Z, a-z, 0-9, '_', '.' and '-', not starting with '.' or '-'"
                         % shown(name))
    return name


def digest(value):
    match = DIGEST_RE.fullmatch(value) if isinstance(value, str) else None
    if match is None or len(match.group(2)) != DIGEST_HEX[match.group(1)]:
        raise ValueError("digest %s is not valid: expected sha256: followed by 64 lowercase hex digits "
                         "(or sha512: and 128)" % shown(value))
    return value


def reference(value, repository=None):
    """``tag``, ``repository:tag`` or ``repository@digest`` → (repository, tag, digest); one of tag/digest is None."""
    text = value if isinstance(value, str) else ""
    if "@" in text:
        name, ref = text.split("@", 1)
        return repository_name(name), None, digest(ref)
    if ":" in text:
        name, ref = text.rsplit(":", 1)
        return repository_name(name), tag_name(ref), None
    return repository, tag_name(text), None
