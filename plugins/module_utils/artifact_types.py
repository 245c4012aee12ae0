# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an artifact is, and which subject a referrer tag names. PRIVATE to the collection.

One place for the classification the ``oci`` provider reports as ``provider_data.kind`` and the retention planner
selects on (the policy key ``artifact_types``). Pure functions over media types, artifact types and tag names.

The kinds, decided in this order:

1. ``index``: an image index or Docker manifest list (whatever its ``artifactType``);
2. the artifact type (the manifest's ``artifactType``, else its config media type): ``helm`` (the Helm chart config),
   ``signature`` (cosign's simple signing and OCI 1.1 signature types, Notation), ``attestation`` (DSSE envelopes,
   in-toto statements, cosign's OCI 1.1 attestation type), ``sbom`` (SPDX, CycloneDX, Syft, cosign's OCI 1.1 SBOM
   type); a Sigstore bundle is an ``attestation`` when annotated with a predicate type, else a ``signature``;
3. a cosign tag on it: ``sha256-<hex>.sig`` → ``signature``, ``.att`` → ``attestation``, ``.sbom`` → ``sbom``;
4. where the artifact type says nothing more than "an image config" or "empty", the layers' media types, by the
   same rules (a cosign signature pushed without its tag has an image config and a simple signing layer);
5. an image config media type → ``image``; so is a Docker manifest (schema 2, or schema 1, which has no config) whose
   config type is not known;
6. anything else the registry named → ``other``.

When neither a media type nor an artifact type is known and no tag tells (providers whose API does not say),
``classify`` answers None: the snapshot does not tell what the artifact is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.regops.registry.plugins.module_utils import validate

KINDS = ("image", "index", "helm", "signature", "sbom", "attestation", "other")

INDEX_MEDIA_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
# Docker's manifests carry nothing but images: one whose config type is not known is still an image.
DOCKER_IMAGE_MEDIA_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
IMAGE_CONFIG_TYPES = (
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
)
EMPTY_CONFIG_TYPE = "application/vnd.oci.empty.v1+json"
HELM_CONFIG_TYPE = "application/vnd.cncf.helm.config.v1+json"
COSIGN_SIMPLESIGNING_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGSTORE_BUNDLE_PREFIX = "application/vnd.dev.sigstore.bundle"
SIGSTORE_PREDICATE_ANNOTATION = "dev.sigstore.bundle.predicateType"

SIGNATURE_TYPES = (
    COSIGN_SIMPLESIGNING_TYPE,
    "application/vnd.dev.cosign.artifact.sig.v1+json",
    "application/vnd.cncf.notary.signature",
)
ATTESTATION_TYPES = (
    "application/vnd.dsse.envelope.v1+json",
    "application/vnd.in-toto+json",
    "application/vnd.dev.cosign.artifact.att.v1+json",
)
SBOM_TYPES = (
    "application/spdx+json",
    "text/spdx",
    "text/spdx+json",
    "application/vnd.cyclonedx+json",
    "application/vnd.cyclonedx+xml",
    "application/vnd.syft+json",
    "application/vnd.dev.cosign.artifact.sbom.v1+json",
)
# Vendors name their own variants (text/spdx+xml, application/vnd.example.sbom.v1+json): these words tell too.
_SIGNATURE_WORDS = ("signature",)
_ATTESTATION_WORDS = ("in-toto", "dsse", "attestation", "provenance", "slsa")
_SBOM_WORDS = ("spdx", "cyclonedx", "sbom", "syft")

# The suffixes cosign gives the tags of what it attaches to a digest.
COSIGN_TAG_KINDS = {"sig": "signature", "att": "attestation", "sbom": "sbom"}
_SUBJECT_TAG_RE = re.compile(r"(%s)-([0-9a-f]+)(?:\.(%s))?" % ("|".join(sorted(validate.DIGEST_HEX)), "|".join(sorted(COSIGN_TAG_KINDS))))


def _base(media_type):
    """A media type without its parameters, lowercased (``application/x+json; version=1`` → ``application/x+json``)."""
    if not isinstance(media_type, str):
        return None
    return media_type.split(";", 1)[0].strip().lower() or None


def referrer_tag(tag):
    """``(subject digest, suffix)`` for a tag that names a subject, else None.

    ``sha256-<hex>`` (the OCI 1.1 referrers tag schema: an index of the subject's referrers) gives suffix None;
    cosign's ``sha256-<hex>.sig``, ``.att`` and ``.sbom`` give ``sig``, ``att``, ``sbom``. ``sha512-`` likewise.
    """
    match = _SUBJECT_TAG_RE.fullmatch(tag) if isinstance(tag, str) else None
    if match is None or len(match.group(2)) != validate.DIGEST_HEX[match.group(1)]:
        return None
    return "%s:%s" % (match.group(1), match.group(2)), match.group(3)


def subject_from_tags(tags, is_index=False):
    """The subject a manifest's tags name: a cosign tag on any manifest, the tag schema's bare tag on an index only.

    The first such tag in sorted order decides; None when no tag names a subject.
    """
    for tag in sorted(tags or ()):
        found = referrer_tag(tag)
        if found and (found[1] is not None or is_index):
            return found[0]
    return None


def tag_schema_subject(tags):
    """The digest an index lists the referrers of under the referrers tag schema (its tag ``sha256-<hex>``), or None."""
    for tag in sorted(tags or ()):
        found = referrer_tag(tag)
        if found and found[1] is None:
            return found[0]
    return None


def _kind_of_type(media_type, annotations=None):
    """The kind one artifact or layer media type tells, or None (an image config, the empty config, an unknown type)."""
    value = _base(media_type)
    if value is None:
        return None
    if value == HELM_CONFIG_TYPE:
        return "helm"
    if value.startswith(SIGSTORE_BUNDLE_PREFIX):
        return "attestation" if SIGSTORE_PREDICATE_ANNOTATION in (annotations or {}) else "signature"
    if value in SIGNATURE_TYPES or any(word in value for word in _SIGNATURE_WORDS):
        return "signature"
    if value in ATTESTATION_TYPES or any(word in value for word in _ATTESTATION_WORDS):
        return "attestation"
    if value in SBOM_TYPES or any(word in value for word in _SBOM_WORDS):
        return "sbom"
    return None


def _kind_of_tags(tags):
    kinds = set()
    for tag in tags or ():
        found = referrer_tag(tag)
        if found and found[1]:
            kinds.add(COSIGN_TAG_KINDS[found[1]])
    for kind in ("signature", "attestation", "sbom"):
        if kind in kinds:
            return kind
    return None


def classify(media_type=None, artifact_type=None, tags=(), layer_types=(), annotations=None):
    """The kind (one of ``KINDS``) of an artifact, by the rules of this module's docstring; None when nothing tells.

    ``media_type``: the manifest's; ``artifact_type``: its ``artifactType`` or config media type; ``tags``: the tags on
    it; ``layer_types``: its layers' media types; ``annotations``: the manifest's annotations.
    """
    if _base(media_type) in INDEX_MEDIA_TYPES:
        return "index"
    kind = _kind_of_type(artifact_type, annotations) or _kind_of_tags(tags)
    if kind:
        return kind
    plain = _base(artifact_type)
    if plain is None or plain in IMAGE_CONFIG_TYPES or plain == EMPTY_CONFIG_TYPE:
        for layer_type in layer_types or ():
            kind = _kind_of_type(layer_type, annotations)
            if kind in ("signature", "attestation", "sbom"):
                return kind
    if plain in IMAGE_CONFIG_TYPES or (plain is None and _base(media_type) in DOCKER_IMAGE_MEDIA_TYPES):
        return "image"
    if plain is None and _base(media_type) is None:
        return None
    return "other"


def kind_of(entry):
    """The kind of a snapshot entry (``artifact_info``'s artifact): its ``provider_data.kind`` where the provider set
    one (it may have read more than the entry shows, the layers), else classified from ``media_type``,
    ``provider_data.artifact_type``, ``provider_data.annotations`` and ``tags``. None when nothing tells."""
    entry = entry or {}
    data = entry.get("provider_data") or {}
    if data.get("kind") in KINDS:
        return data["kind"]
    return classify(entry.get("media_type"), data.get("artifact_type"), entry.get("tags") or (),
                    annotations=data.get("annotations") if isinstance(data.get("annotations"), dict) else None)
