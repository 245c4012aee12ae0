"""Run a real distribution 2.8 registry (Debian ``docker-registry``) on 127.0.0.1 for tests."""

import collections
import os
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import requests
import yaml

from tests.emulators import registry_storage
from tests.support import known_secrets
from tests.support.token_server import FULL_ACCESS, PULL_ONLY, TokenServer

REGISTRY_BIN = os.environ.get("REGOPS_REGISTRY_BIN", "/usr/bin/docker-registry")
HTPASSWD_BIN = os.environ.get("REGOPS_HTPASSWD_BIN", "/usr/bin/htpasswd")
MUTATING_METHODS = frozenset({"PUT", "POST", "PATCH", "DELETE"})

LoggedRequest = collections.namedtuple("LoggedRequest", "method path status")

# Access log line (gorilla CombinedLoggingHandler), one per request, 401s included:
# 127.0.0.1 - - [23/Nov/2026:00:22:25 +0000] "GET /v2/_catalog?n=3 HTTP/1.1" 200 20 "" "curl/7.88.1"
_ACCESS_RE = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<uri>\S+) HTTP/[0-9.]+" (?P<status>\d{3}) ')
_SYNC_PATH = "/v2/?__regops_sync="


class RegistryError(RuntimeError):
    """The local registry could not be set up."""


def free_port():
    """Return a currently free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _require(path, what):
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RegistryError(f"{what} not found at {path}: run `make deps` (installs docker-registry and apache2-utils)")


def oci_args(registry):
    """Module connection options for ``registry`` (provider=oci)."""
    return registry.oci_args()


class LocalRegistry:  # pylint: disable=too-many-instance-attributes
    """A throwaway distribution registry; use as a context manager or start()/stop().

    ``auth`` is ``"htpasswd"``, ``"token"`` or ``"none"``. For token auth a
    :class:`TokenServer` is started too (``.token_server``); ``username`` has full
    access, ``reader_username`` pull-only access.
    """

    def __init__(self, auth="htpasswd", delete_enabled=True, token_expires_in=300):
        if auth not in ("htpasswd", "token", "none"):
            raise ValueError("auth must be htpasswd, token or none")
        self.auth = auth
        self.delete_enabled = delete_enabled
        self.token_expires_in = token_expires_in
        self.username = "tester"
        self.password = secrets.token_urlsafe(12)
        self.reader_username = "reader"
        self.reader_password = secrets.token_urlsafe(12)
        known_secrets.register(self.password, self.reader_password)
        self.token_server = None
        self.port = None
        self.workdir = None
        self.storage_dir = None
        self.log_path = None
        self.config_path = None
        self._proc = None
        self._log_handle = None

    # -- properties ---------------------------------------------------------
    @property
    def host(self):
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{int(self.port)}"

    @property
    def url(self):
        """``http://127.0.0.1:PORT``."""
        return "http://" + self.host

    def oci_args(self, username=None, password=None):
        """Module connection options (provider=oci) for this registry."""
        args = {"provider": "oci", "api_url": self.url}
        if self.auth != "none":
            args["api_username"] = username or self.username
            args["api_password"] = password or self.password
        return args

    # -- lifecycle ----------------------------------------------------------
    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        """Write config, start the registry and wait for ``/v2/``."""
        _require(REGISTRY_BIN, "docker-registry (distribution 2.8)")
        self.workdir = tempfile.mkdtemp(prefix="regops-registry-")
        self.storage_dir = os.path.join(self.workdir, "storage")
        os.makedirs(self.storage_dir)
        self.log_path = os.path.join(self.workdir, "registry.log")
        self.config_path = os.path.join(self.workdir, "config.yml")
        try:
            auth_block = self._auth_block()
            last_error = None
            for _attempt in range(3):
                self.port = free_port()
                self._write_config(auth_block)
                try:
                    self._spawn()
                    break
                except RegistryError as exc:
                    last_error = exc
                    if "address already in use" not in str(exc):
                        raise
            else:
                raise last_error
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Terminate the registry (and token server) and remove the temp dir."""
        if self.port is not None:
            registry_storage.unregister(self.host)
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None
        if self.token_server is not None:
            self.token_server.stop()
            self.token_server = None
        if self.workdir and os.environ.get("REGOPS_KEEP_REGISTRY") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)

    def _auth_block(self):
        if self.auth == "htpasswd":
            _require(HTPASSWD_BIN, "htpasswd (apache2-utils)")
            path = os.path.join(self.workdir, "htpasswd")
            lines = []
            # bcrypt at its lowest cost (4; htpasswd's default is 5): distribution checks it on every request, and at
            # cost 5 that was 60% of the registry's CPU per request here. The cost changes nothing the tests observe.
            for user, password in ((self.username, self.password), (self.reader_username, self.reader_password)):
                out = subprocess.run([HTPASSWD_BIN, "-Bbn", "-C", "4", user, password], check=True, capture_output=True, text=True)
                lines.append(out.stdout.strip())
            with open(path, "w", encoding="utf-8") as handle:
                handle.write("\n".join(lines) + "\n")
            return {"htpasswd": {"realm": "regops-test", "path": path}}
        if self.auth == "token":
            self.token_server = TokenServer(
                {self.username: (self.password, FULL_ACCESS), self.reader_username: (self.reader_password, PULL_ONLY)},
                expires_in=self.token_expires_in).start()
            bundle = self.token_server.write_cert(os.path.join(self.workdir, "token-root.pem"))
            return {"token": {"realm": self.token_server.realm, "service": self.token_server.service,
                              "issuer": self.token_server.issuer, "rootcertbundle": bundle}}
        return None

    def _write_config(self, auth_block):
        config = {
            "version": 0.1,
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": self.storage_dir},
                "delete": {"enabled": bool(self.delete_enabled)},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.host, "secret": secrets.token_hex(16)},
        }
        if auth_block:
            config["auth"] = auth_block
        with open(self.config_path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(config, handle, sort_keys=False)

    def _spawn(self):
        # pylint: disable-next=consider-using-with
        self._log_handle = open(self.log_path, "ab")
        # pylint: disable-next=consider-using-with
        # Go's collector at 400% heap growth instead of 100%: the registry's CPU per request falls by about 30% here
        # (2.0 -> 1.4 ms for a manifest HEAD); its heap stays a few tens of MB. A GOGC set in the environment wins.
        env = dict(os.environ)
        env.setdefault("GOGC", "400")
        self._proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config_path], stdout=self._log_handle,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                rc = self._proc.returncode
                self._proc = None
                self._log_handle.close()
                self._log_handle = None
                raise RegistryError(f"docker-registry exited with rc {rc}:\n{self.log_text()[-4000:]}")
            try:
                resp = requests.get(self.url + "/v2/", timeout=1)
                if resp.status_code in (200, 401):
                    registry_storage.register(self.host, self.storage_dir)  # emulators in front read tags from there
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RegistryError(f"docker-registry did not answer on {self.url} within 15 s:\n{self.log_text()[-4000:]}")

    # -- logs ---------------------------------------------------------------
    def log_text(self):
        """Whole registry log (stdout+stderr) as text."""
        try:
            with open(self.log_path, "r", encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def _parse_log(self):
        entries = []
        for line in self.log_text().splitlines():
            match = _ACCESS_RE.match(line)
            if match:
                entries.append(LoggedRequest(match["method"], match["uri"], int(match["status"])))
        return entries

    def _sync(self):
        """Send a marker request and wait until it appears in the access log."""
        marker = uuid.uuid4().hex
        try:
            requests.get(self.url + _SYNC_PATH + marker, timeout=5)
        except requests.RequestException as exc:
            raise RegistryError(f"registry not reachable for log sync: {exc}") from exc
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if marker in self.log_text():
                time.sleep(0.02)  # let any straggling line of an earlier request land
                return
            time.sleep(0.01)
        raise RegistryError(f"marker request never reached the access log {self.log_path}")

    def request_log(self, sync=True):
        """Requests seen since start as ``LoggedRequest(method, path, status)``; path includes the query."""
        if sync:
            self._sync()
        return [e for e in self._parse_log() if not e.path.startswith(_SYNC_PATH)]

    def mark(self):
        """Opaque position in the request log (use with :meth:`requests_since`)."""
        return len(self.request_log())

    def requests_since(self, mark, methods=None):
        """Requests logged after ``mark``; optionally only those whose method is in ``methods``."""
        entries = self.request_log()[mark:]
        if methods is not None:
            wanted = {m.upper() for m in methods}
            entries = [e for e in entries if e.method in wanted]
        return entries

    def mutations_since(self, mark):
        """PUT/POST/PATCH/DELETE requests after ``mark`` (empty list == nothing was changed)."""
        return self.requests_since(mark, MUTATING_METHODS)
