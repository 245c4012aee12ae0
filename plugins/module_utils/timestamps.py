# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Timestamps the providers report. PRIVATE to the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

# Before this, a time in image metadata is not when anything happened: reproducible builds (SOURCE_DATE_EPOCH,
# ko, Bazel, Nix) write the epoch (1970) or 1980-01-01 minus a zip-format offset.
REAL_TIME_FLOOR = datetime.datetime(1980, 1, 1, tzinfo=datetime.timezone.utc)

_ISO_RE = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?")


def parse(value):
    """An ISO 8601 string (any number of fraction digits, ``Z`` or an offset; none means UTC) → aware UTC datetime, or None."""
    match = _ISO_RE.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        when = datetime.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0),
                                 int((fraction or "0")[:6].ljust(6, "0")), tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    if zone and zone not in ("Z", "z"):
        digits = zone[1:].replace(":", "")
        offset = datetime.timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        when = when - offset if zone[0] == "+" else when + offset
    return when


def is_real(value):
    """False for a time before 1980 (see ``REAL_TIME_FLOOR``); True for a later one or one that cannot be parsed."""
    when = parse(value)
    return when is None or when >= REAL_TIME_FLOOR


def newest(values):
    """The latest of ISO 8601 strings, compared as times (not as text), or None."""
    known = [(parse(v), v) for v in values if parse(v) is not None]
    return max(known)[1] if known else None


def iso(value):
    """A provider's time, whatever its format, as ISO 8601 UTC (``2026-05-30T21:35:34Z``, fraction kept to ms); None
    for a missing, unparsable or not real one (before 1980: Harbor's never-pulled ``0001-01-01``, epoch defaults)."""
    when = parse(value)
    if when is None or when < REAL_TIME_FLOOR:
        return None
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += ".%03d" % (when.microsecond // 1000)
    return text + "Z"
