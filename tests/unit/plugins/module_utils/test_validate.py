# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared validators: full-string matching, messages that show what the user wrote."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

import pytest

from ansible_collections.regops.registry.plugins.module_utils import validate

HEX = "a" * 64


@pytest.mark.parametrize("name", ["app", "team/app", "a.b_c__d-e/f--g", "a0/b1/c2", "x" * 255])
def test_valid_repository(name):
    assert validate.repository_name(name) == name


@pytest.mark.parametrize("name", ["", None, "Team/app", "team//app", "-app", "app-", "app/", "/app", "a..b", "a___b", "app:v1",
                                  "app@sha256", "x" * 256, "app\n", "team app", "team/../app", "team/./app", "Team/App"])
def test_invalid_repository(name):
    with pytest.raises(ValueError, match="repository name .* is not valid"):
        validate.repository_name(name)


@pytest.mark.parametrize("name", ["latest", "v1.2.3", "_private", "A" * 128, "1", "pr-101_b.2"])
def test_valid_tag(name):
    assert validate.tag_name(name) == name


@pytest.mark.parametrize("name", ["", None, ".hidden", "-x", "-bad", "A" * 129, "a/b", "a:b", "v1\n", "white space", "é"])
def test_invalid_tag(name):
    with pytest.raises(ValueError, match="tag .* is not valid"):
        validate.tag_name(name)


@pytest.mark.parametrize("value", ["sha256:" + HEX, "sha512:" + "f" * 128, "sha256:" + "0123456789abcdef" * 4])
def test_valid_digest(value):
    assert validate.digest(value) == value


@pytest.mark.parametrize("value", ["", None, "sha256:abc", "sha256:xyz", "sha256:" + "A" * 64, "sha256:" + "g" * 64, "sha256:" + HEX + "0",
                                   HEX, "md5", "sha256:" + HEX + "\n", "SHA256:" + HEX, ":" + HEX, "sha512:" + HEX, "md5:" + HEX])
def test_invalid_digest(value):
    with pytest.raises(ValueError, match="digest .* is not valid"):
        validate.digest(value)


def test_a_trailing_newline_is_shown_not_hidden():
    """What a YAML ``|`` block gives: the message makes the newline visible."""
    with pytest.raises(ValueError) as caught:
        validate.tag_name("v1\n")
    assert "'v1\\n'" in str(caught.value)
    with pytest.raises(ValueError) as caught:
        validate.repository_name("Team/App")
    assert "'Team/App'" in str(caught.value)


@pytest.mark.parametrize("value, expected", [
    ("v1", ("app", "v1", None)),
    ("team/app:v1", ("team/app", "v1", None)),
    ("team/app@sha256:" + HEX, ("team/app", None, "sha256:" + HEX)),
])
def test_reference(value, expected):
    assert validate.reference(value, repository="app") == expected


@pytest.mark.parametrize("value", ["team/App:v1", "team/app@sha256:xyz", "team/app:-x", "", "a:b:c/d"])
def test_invalid_reference(value):
    with pytest.raises(ValueError):
        validate.reference(value)


@pytest.mark.parametrize("pattern", [r"[a-z]+", re.compile(r"[a-z]+"), r"^[a-z]+$"])
def test_matches_is_full_string(pattern):
    assert validate.matches(pattern, "abc")
    assert not validate.matches(pattern, "abc\n")
    assert not validate.matches(pattern, "abc1")
    assert not validate.matches(pattern, None)
