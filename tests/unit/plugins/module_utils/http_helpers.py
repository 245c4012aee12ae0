# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real local HTTP server for the unit tests: scripted replies per path and a record of every request.

``ScriptedServer`` answers from routes (``route(method, path, *replies)``; the last
reply of a route repeats) and records ``Seen`` requests. ``FakeOci`` is a small
in-memory OCI Distribution registry built on it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import re
import datetime
import ipaddress
import os
import socket
import ssl
import struct
import threading
import time
import uuid

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Reply:
    """One scripted answer. ``close`` drops the connection without answering; ``reset`` sends a TCP RST."""

    def __init__(self, status=200, body=None, headers=None, close=False, reset=False, delay=0.0):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.close = close
        self.reset = reset
        self.delay = delay

    def payload(self):
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            self.headers.setdefault("Content-Type", "text/plain")
            return self.body.encode("utf-8")
        self.headers.setdefault("Content-Type", "application/json")
        return json.dumps(self.body).encode("utf-8")


class Seen:
    """A request the server received."""

    def __init__(self, method, target, headers, body):
        split = urlsplit(target)
        self.method = method
        self.target = target
        self.path = unquote(split.path)
        self.raw_path = split.path
        self.query = parse_qs(split.query, keep_blank_values=True)
        self.raw_query = split.query
        self.headers = headers
        self.body = body

    def arg(self, name, default=None):
        values = self.query.get(name)
        return values[0] if values else default

    def __repr__(self):
        return "<%s %s>" % (self.method, self.target)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, dict((k.lower(), v) for k, v in self.headers.items()), body)
        owner = self.server.owner
        owner.enter(seen)
        try:
            reply = owner.reply_for(seen)
            if reply.delay:
                time.sleep(reply.delay)
            if reply.reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            if reply.close:
                self.close_connection = True
                return
            payload = reply.payload()
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD" and payload:
                self.wfile.write(payload)
        finally:
            owner.leave()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


class ScriptedServer:
    """``route()`` scripts replies; ``requests`` lists what arrived; ``max_in_flight`` the peak concurrency."""

    def __init__(self, host="127.0.0.1", tls=None):
        self.routes = {}
        self.patterns = []
        self.fallback = None
        self.requests = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._server = _Server((host, 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self.url = "http://%s:%d" % (host, self.port)
        if tls is not None:  # (certificate file, key file): serve HTTPS
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls[0], tls[1])
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.url = "https://%s:%d" % (host, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01})
        self._thread.daemon = True

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    # -- scripting ------------------------------------------------------------
    def route(self, method, path, *replies):
        """Answer ``method path`` (a path, or a regular expression starting with ^) with ``replies`` in turn, the last one repeating.

        A reply may be a ``Reply`` or a callable ``(seen) -> Reply``.
        """
        if path.startswith("^"):
            self.patterns.append((method.upper(), re.compile(path), list(replies)))
        else:
            self.routes.setdefault((method.upper(), path), []).extend(replies)

    def reply_for(self, seen):
        queue = self.routes.get((seen.method, seen.path))
        if queue is None:
            for method, pattern, replies in self.patterns:
                if method == seen.method and pattern.match(seen.path):
                    queue = replies
                    break
        with self._lock:
            if queue:
                reply = queue.pop(0) if len(queue) > 1 else queue[0]
            else:
                reply = self.fallback
        if reply is None:
            return Reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no route for %s %s" % (seen.method, seen.path)}]})
        return reply(seen) if callable(reply) else reply

    # -- bookkeeping ----------------------------------------------------------
    def enter(self, seen):
        with self._lock:
            self.requests.append(seen)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self):
        with self._lock:
            self.in_flight -= 1

    def calls(self, method=None, path=None):
        return [r for r in self.requests if (method is None or r.method == method) and (path is None or r.path == path)]

    def sequence(self):
        return [(r.method, r.path) for r in self.requests]


def closed_port():
    """A port on 127.0.0.1 nothing listens on."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class FakeOci:
    """An in-memory OCI Distribution registry served by a ``ScriptedServer``.

    ``tag_delete``: what ``DELETE /v2/<name>/manifests/<tag>`` answers: 202 (removes the tag), 400 or 405.
    ``manifest_delete``: False makes every manifest DELETE answer 405 (distribution without storage.delete).
    """

    def __init__(self, server, tag_delete=202, manifest_delete=True):
        self.server = server
        self.tag_delete = tag_delete
        self.manifest_delete = manifest_delete
        self.manifests = {}  # (repository, digest) -> (media type, bytes)
        self.tags = {}  # repository -> {tag: digest}
        self.blobs = {}  # (repository, digest) -> bytes
        self.uploads = {}
        server.fallback = self.handle

    # -- seeding ----------------------------------------------------------------
    def add_blob(self, repository, data):
        digest = sha256(data)
        self.blobs[(repository, digest)] = data
        return digest

    def add_image(self, repository, tags=(), created="2024-01-01T00:00:00Z", arch="amd64"):
        config = json.dumps({"architecture": arch, "os": "linux", "created": created}).encode("utf-8")
        layer = ("layer-%s-%s" % (repository, arch)).encode("utf-8")
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": self.add_blob(repository, config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": self.add_blob(repository, layer), "size": len(layer)}],
        }, sort_keys=True).encode("utf-8")
        return self.add_manifest(repository, OCI_MANIFEST, manifest, tags)

    def add_manifest(self, repository, media_type, raw, tags=()):
        digest = sha256(raw)
        self.manifests[(repository, digest)] = (media_type, raw)
        self.tags.setdefault(repository, {})
        for tag in tags:
            self.tags[repository][tag] = digest
        return digest

    # -- serving ----------------------------------------------------------------
    @staticmethod
    def error(status, code, message):
        return Reply(status, {"errors": [{"code": code, "message": message}]})

    def resolve(self, repository, ref):
        if ref.startswith("sha256:"):
            return ref if (repository, ref) in self.manifests else None
        return self.tags.get(repository, {}).get(ref)

    def handle(self, seen):  # pylint: disable=too-many-return-statements,too-many-branches
        path, method = seen.path, seen.method
        if path == "/v2/":
            return Reply(200, {})
        if path == "/v2/_catalog":
            return Reply(200, {"repositories": sorted(r for r, t in self.tags.items() if t)})
        match = re.match(r"^/v2/(.+)/(tags|manifests|blobs)/(.*)$", path)
        if not match:
            return self.error(404, "NAME_UNKNOWN", "no such path")
        repository, kind, ref = match.groups()
        if kind == "tags":
            if repository not in self.tags:
                return self.error(404, "NAME_UNKNOWN", "repository name not known to registry")
            return Reply(200, {"name": repository, "tags": sorted(self.tags[repository])})
        if kind == "manifests":
            return self._manifest(seen, repository, ref)
        return self._blob(seen, repository, ref)

    def _manifest(self, seen, repository, ref):
        method = seen.method
        if method in ("GET", "HEAD"):
            digest = self.resolve(repository, ref)
            if digest is None:
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            media_type, raw = self.manifests[(repository, digest)]
            return Reply(200, raw, {"Content-Type": media_type, "Docker-Content-Digest": digest})
        if method == "PUT":
            digest = self.add_manifest(repository, seen.headers.get("content-type"), seen.body,
                                       () if ref.startswith("sha256:") else (ref,))
            return Reply(201, None, {"Docker-Content-Digest": digest, "Location": seen.path})
        if method == "DELETE":
            if not ref.startswith("sha256:"):
                if self.tag_delete != 202:
                    return self.error(self.tag_delete, "UNSUPPORTED", "The operation is unsupported.")
                if ref not in self.tags.get(repository, {}):
                    return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
                del self.tags[repository][ref]
                return Reply(202)
            if not self.manifest_delete:
                return self.error(405, "UNSUPPORTED", "The operation is unsupported.")
            if (repository, ref) not in self.manifests:
                return self.error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            del self.manifests[(repository, ref)]
            self.tags[repository] = dict((t, d) for t, d in self.tags.get(repository, {}).items() if d != ref)
            return Reply(202)
        return self.error(405, "UNSUPPORTED", "method not allowed")

    def _blob(self, seen, repository, ref):
        if ref.startswith("uploads/"):
            upload = ref[len("uploads/"):]
            if seen.method == "POST":
                key = uuid.uuid4().hex
                self.uploads[key] = repository
                return Reply(202, None, {"Location": "/v2/%s/blobs/uploads/%s" % (repository, key)})
            if seen.method == "PUT" and upload in self.uploads:
                digest = seen.arg("digest")
                if sha256(seen.body) != digest:
                    return self.error(400, "DIGEST_INVALID", "provided digest did not match uploaded content")
                self.blobs[(repository, digest)] = seen.body
                del self.uploads[upload]  # an upload session is consumed by its final PUT, as on distribution
                return Reply(201, None, {"Docker-Content-Digest": digest})
            return self.error(404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown")
        if (repository, ref) not in self.blobs:
            return self.error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        return Reply(200, self.blobs[(repository, ref)], {"Content-Type": "application/octet-stream", "Docker-Content-Digest": ref})


def make_certificates(directory, host="127.0.0.1"):
    """A self-signed CA and a server certificate it signed for ``host``: returns (ca.pem, server.pem, server.key) paths."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u"regops test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tuple(os.path.join(str(directory), name) for name in ("ca.pem", "server.pem", "server.key"))
    with open(paths[0], "wb") as handle:
        handle.write(ca.public_bytes(serialization.Encoding.PEM))
    with open(paths[1], "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(paths[2], "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return paths


def provider_params(provider, api_url, api_token, **overrides):
    """A provider's ``params`` as a module hands them over: the shared connection options at their defaults (from the
    collection's one argument spec), then quick timeouts and retries for tests, then ``overrides``."""
    from ansible_collections.regops.registry.plugins.module_utils.common import common_argument_spec  # pylint: disable=import-outside-toplevel

    params = dict((name, spec.get("default")) for name, spec in common_argument_spec().items())
    params.update(provider=provider, api_url=api_url, api_token=api_token, timeout=10, retries=2, concurrency=4)
    params.update(overrides)
    return params


def after_the_read(provider, another_run):
    """Make ``another_run()`` run right after the engine's read of ``provider``, before anything is changed (another run,
    or a person, acting between this run's read and its change). Returns the provider."""
    read = provider.read

    def read_then(resource, items):
        found = read(resource, items)
        another_run()
        return found
    provider.read = read_then
    return provider
