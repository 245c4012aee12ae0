"""Read a local registry's tags from its storage instead of over HTTP (standard library only).

An emulator backed by a real registry (Vultr, GitLab, Naver Cloud) answers a listing by reading every tag's digest
from the registry: a ``HEAD`` per tag, on every API request. Against the test registries (distribution 2.8 with
filesystem storage, started by ``tests/support/registry.py`` in the same process) that was most of the registry's CPU
in the end-to-end suite and most of an emulator's own time in the benchmark, where it stood in for work a provider's
API does in its database. When the registry was started here, the same facts come from where distribution keeps them:

* the tags of a repository: the directories under ``<repository>/_manifests/tags/``;
* a tag's digest: ``<repository>/_manifests/tags/<tag>/current/link``, answered only while the manifest it names is
  in the repository (``_manifests/revisions/<algorithm>/<hex>/link``), as a ``HEAD`` by tag would be.

Distribution writes a tag's link in place, so a read can meet a link being written: that read (and any repository or
reference outside the grammar below) returns :data:`UNKNOWN`, and the caller asks over HTTP. Everything that changes
the registry still goes over HTTP; a registry that was not registered (another process's, a fault proxy in front of
one) is read over HTTP only.
"""

import os
import re
import threading

UNKNOWN = object()  # "ask over HTTP"
_NAME_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_DIGEST_RE = re.compile(r"(sha256):([a-f0-9]{64})|(sha512):([a-f0-9]{128})")

_lock = threading.Lock()
_roots = {}  # "host:port" -> <rootdirectory>/docker/registry/v2/repositories


def register(host, rootdirectory):
    """The registry at ``host`` (``127.0.0.1:PORT``) keeps its data under ``rootdirectory`` (its filesystem storage)."""
    with _lock:
        _roots[host] = os.path.join(rootdirectory, "docker", "registry", "v2", "repositories")


def unregister(host):
    """Stop reading the storage of the registry at ``host`` (it is being stopped)."""
    with _lock:
        _roots.pop(host, None)


def _manifests(host, repository):
    with _lock:
        root = _roots.get(host)
    if root is None or not _NAME_RE.fullmatch(repository):
        return None
    return os.path.join(root, repository, "_manifests")


def tags(host, repository):
    """Sorted tag names of ``repository`` (``[]`` when it has none), or :data:`UNKNOWN`."""
    manifests = _manifests(host, repository)
    if manifests is None:
        return UNKNOWN
    try:
        return sorted(os.listdir(os.path.join(manifests, "tags")))
    except FileNotFoundError:
        return []


def resolve(host, repository, reference):
    """The digest a tag or digest ``reference`` names in ``repository`` (``None`` when absent), or :data:`UNKNOWN`."""
    manifests = _manifests(host, repository)
    if manifests is None:
        return UNKNOWN
    match = _DIGEST_RE.fullmatch(reference)
    if match is None:
        if not _TAG_RE.fullmatch(reference):
            return UNKNOWN
        try:
            with open(os.path.join(manifests, "tags", reference, "current", "link"), encoding="ascii") as handle:
                link = handle.read()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeError):
            return UNKNOWN
        match = _DIGEST_RE.fullmatch(link)
        if match is None:  # being written
            return UNKNOWN
    algorithm, hexdigest = [group for group in match.groups() if group]
    if os.path.exists(os.path.join(manifests, "revisions", algorithm, hexdigest, "link")):
        return match.group(0)
    return None
