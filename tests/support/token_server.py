"""Minimal token issuer implementing distribution's token auth (test use only)."""

import base64
import datetime
import fnmatch
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

# distribution 2.8 accepts tokens up to 60 s after "exp" (token.Leeway).
REGISTRY_LEEWAY = 60

FULL_ACCESS = (("repository", "*", frozenset({"pull", "push", "delete", "*"})),
               ("registry", "catalog", frozenset({"*"})))
PULL_ONLY = (("repository", "*", frozenset({"pull"})),
             ("registry", "catalog", frozenset({"*"})))


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def parse_scope(scope):
    """Split ``type:name:actions`` (name may contain ':') into (type, name, [actions])."""
    rtype, _unused, rest = scope.partition(":")
    name, _unused, actions = rest.rpartition(":")
    if not rtype or not name:
        return None
    return rtype, name, [a for a in actions.split(",") if a]


class TokenServer:  # pylint: disable=too-many-instance-attributes
    """Issue RS256 JWTs for a distribution registry configured with ``auth.token``.

    ``users`` maps a user name to ``(password, rules)``; a rule is
    ``(type, name_glob, actions)``, e.g. ``("repository", "team/*", {"pull"})``.
    """

    # pylint: disable-next=too-many-arguments,too-many-positional-arguments
    def __init__(self, users, service="regops-test-registry", issuer="regops-test-issuer",
                 expires_in=300, strict_expiry=True, allow_anonymous=True):
        self.users = dict(users)
        self.service = service
        self.issuer = issuer
        self.expires_in = expires_in
        # When True, "exp" is shifted back by the registry's leeway so the registry
        # really rejects the token ``expires_in`` seconds after issue.
        self.strict_expiry = strict_expiry
        self.allow_anonymous = allow_anonymous
        self.issued = []  # list of dicts: user, scopes, access, token
        self.failed_logins = 0
        self._lock = threading.Lock()
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.cert_pem = self._make_cert()
        self._cert_der_b64 = base64.b64encode(
            x509.load_pem_x509_certificate(self.cert_pem).public_bytes(serialization.Encoding.DER)).decode("ascii")
        self._httpd = None
        self._thread = None

    # -- key material -------------------------------------------------------
    def _make_cert(self):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, self.issuer)])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder()
                .subject_name(name).issuer_name(name)
                .public_key(self._key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                             content_commitment=False, key_encipherment=False,
                                             data_encipherment=False, key_agreement=False,
                                             encipher_only=False, decipher_only=False), critical=True)
                .sign(self._key, hashes.SHA256()))
        return cert.public_bytes(serialization.Encoding.PEM)

    def write_cert(self, path):
        """Write the signing certificate (the registry's ``rootcertbundle``)."""
        with open(path, "wb") as handle:
            handle.write(self.cert_pem)
        return path

    # -- lifecycle ----------------------------------------------------------
    @property
    def port(self):
        """Listening port."""
        return self._httpd.server_address[1]

    @property
    def realm(self):
        """Token endpoint URL."""
        return f"http://127.0.0.1:{int(self.port)}/token"

    @property
    def issued_count(self):
        """Number of tokens issued so far."""
        with self._lock:
            return len(self.issued)

    def start(self):
        """Serve on a free loopback port in a daemon thread."""
        server = self

        class Handler(_TokenHandler):
            """Handler bound to this server."""

            token_server = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="token-server", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- token logic --------------------------------------------------------
    def authenticate(self, username, password):
        """Return True when the credentials match ``users``."""
        entry = self.users.get(username)
        return entry is not None and entry[0] == password

    def grant(self, username, scopes):
        """Intersection of requested scopes and the user's rules, as JWT ``access`` entries."""
        rules = self.users[username][1] if username else ()
        access = []
        for scope in scopes:
            parsed = parse_scope(scope)
            if parsed is None:
                continue
            rtype, name, wanted = parsed
            allowed = set()
            for rule_type, pattern, actions in rules:
                if rule_type == rtype and fnmatch.fnmatchcase(name, pattern):
                    allowed |= set(actions)
            granted = [a for a in wanted if a in allowed]
            access.append({"type": rtype, "name": name, "actions": granted})
        return access

    def issue(self, username, service, scopes):
        """Build and sign a token; returns the JSON response body as a dict."""
        now = int(time.time())
        expires_in = int(self.expires_in)
        exp = now + expires_in - (REGISTRY_LEEWAY if self.strict_expiry else 0)
        access = self.grant(username, scopes)
        claims = {
            "iss": self.issuer, "sub": username or "", "aud": service,
            "exp": exp, "nbf": now - 1, "iat": now, "jti": uuid.uuid4().hex, "access": access,
        }
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._cert_der_b64]}
        signing_input = _b64url(json.dumps(header, separators=(",", ":")).encode()) + "." + \
            _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = self._key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        token = signing_input + "." + _b64url(signature)
        with self._lock:
            self.issued.append({"user": username, "service": service, "scopes": list(scopes), "access": access, "token": token})
        issued_at = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"token": token, "access_token": token, "expires_in": expires_in, "issued_at": issued_at}


class _TokenHandler(BaseHTTPRequestHandler):
    """GET /token (docker token) and POST /token (OAuth2 password grant)."""

    token_server = None  # set by TokenServer.start
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """Silence default stderr logging."""

    def _send(self, status, body, extra_headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra_headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _basic_credentials(self):
        header = self.headers.get("Authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            user, _unused, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
        except ValueError:
            return None
        return user, password

    def _respond(self, creds, service, scopes):
        server = self.token_server
        if creds is None:
            if not server.allow_anonymous:
                self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]},
                           {"WWW-Authenticate": 'Basic realm="token"'})
                return
            user = None
        elif server.authenticate(*creds):
            user = creds[0]
        else:
            with server._lock:  # pylint: disable=protected-access
                server.failed_logins += 1
            self._send(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]},
                       {"WWW-Authenticate": 'Basic realm="token"'})
            return
        if service != server.service:
            self._send(400, {"errors": [{"code": "BAD_REQUEST", "message": f"unknown service {service!r}"}]})
            return
        self._send(200, server.issue(user, service, scopes))

    def do_GET(self):  # pylint: disable=invalid-name
        """Docker token endpoint."""
        url = urlsplit(self.path)
        if url.path != "/token":
            self._send(404, {"errors": [{"code": "NOT_FOUND", "message": "not found"}]})
            return
        query = parse_qs(url.query)
        self._respond(self._basic_credentials(), (query.get("service") or [""])[0], query.get("scope", []))

    def do_POST(self):  # pylint: disable=invalid-name
        """OAuth2 password grant (form encoded)."""
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode("utf-8"))
        if urlsplit(self.path).path != "/token" or (form.get("grant_type") or [""])[0] != "password":
            self._send(404, {"errors": [{"code": "NOT_FOUND", "message": "unsupported"}]})
            return
        creds = ((form.get("username") or [""])[0], (form.get("password") or [""])[0])
        scopes = " ".join(form.get("scope", [])).split()
        self._respond(creds, (form.get("service") or [""])[0], scopes)
