"""Stateful emulator of the Gcore Cloud Container Registry API (``/cloud/v1/registries``).

Run standalone with ``python -m tests.emulators.gcore --port 8081``.
See ``docs/emulators.md`` for the behaviours and the facts they follow.
"""
# One class per provider API, with a wide seeding/test-helper surface.
# pylint: disable=too-many-instance-attributes,too-many-arguments,too-many-positional-arguments,too-many-public-methods,too-many-locals

import hashlib
import json
import re
import secrets
import string
import sys
from datetime import datetime, timedelta, timezone

from tests.emulators.base import ApiError, EmulatorServer, Response, new_request_id, run_standalone
from tests.support import known_secrets

DEFAULT_API_KEY = "emulator-gcore-api-key"
known_secrets.register(DEFAULT_API_KEY)
DEFAULT_CLIENT_ID = 1000503
DEFAULT_PROJECT_ID = 1186668
DEFAULT_REGION_ID = 76
DEFAULT_REGIONS = {76: "luxembourg-2"}
BASE = "/cloud/v1/registries/{project_id:int}/{region_id:int}"
BATCH_SHAPES = ("object", "list", "collection")
NEVER_EXPIRES = "1969-12-31T23:59:59Z"

REGISTRY_NAME_RE = re.compile(r"^[a-z][-a-z0-9]{0,22}[a-z0-9]$")
USER_NAME_RE = re.compile(r"^[a-z0-9]{0,16}$")

EXCEPTION_CLASSES = {
    400: "ValidationError",
    401: "token_not_valid",
    403: "ForbiddenError",
    404: "NotFoundError",
    405: "HTTPError",
    409: "ConflictError",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

_SECRET_ALPHABET = string.ascii_letters + string.digits


def _utcnow():
    return datetime.now(timezone.utc).replace(microsecond=0)


def fmt_time(value):
    """``2026-05-30T21:35:34Z`` (microseconds kept only when non-zero)."""
    value = value.astimezone(timezone.utc)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value):
    """Parse an ISO 8601 string (``Z`` allowed) or pass a datetime through."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


class _Validator:
    """Collects ``invalid_fields`` and raises one 400 at the end."""

    def __init__(self):
        self.errors = {}

    def add(self, name, message):
        """Record an error for ``name``."""
        self.errors.setdefault(name, []).append(message)

    def int_field(self, data, name, lo=None, hi=None, default=None, required=False, prefix=""):
        """Validate an optional/required bounded integer."""
        if name not in data or data[name] is None:
            if required:
                self.add(prefix + name, "Missing data for required field.")
            return default
        value = data[name]
        if not _is_int(value):
            self.add(prefix + name, "Not a valid integer.")
            return default
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            self.add(prefix + name, f"Must be greater than or equal to {lo} and less than or equal to {hi}.")
            return default
        return value

    def str_field(self, data, name, pattern=None, default=None, required=False, prefix=""):
        """Validate an optional/required string, optionally against a regex."""
        if name not in data or data[name] is None:
            if required:
                self.add(prefix + name, "Missing data for required field.")
            return default
        value = data[name]
        if not isinstance(value, str):
            self.add(prefix + name, "Not a valid string.")
            return default
        if pattern is not None and not pattern.match(value):
            self.add(prefix + name, f"String does not match expected pattern {pattern.pattern}.")
            return default
        return value

    def bool_field(self, data, name, default=False, prefix=""):
        """Validate an optional boolean."""
        if name not in data or data[name] is None:
            return default
        if not isinstance(data[name], bool):
            self.add(prefix + name, "Not a valid boolean.")
            return default
        return data[name]

    def check(self):
        """Raise a 400 ValidationError if anything was recorded."""
        if self.errors:
            summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(self.errors.items()))
            raise ApiError(400, f"Validation error: {summary}", "ValidationError", invalid_fields=self.errors)


def _body(request, required=False):
    """The JSON object body (``{}`` when empty unless ``required``)."""
    if request.json_error:
        raise ApiError(400, f"Invalid JSON body: {request.json_error}", "ValidationError", invalid_fields={"_schema": ["Invalid input type."]})
    if request.json is None:
        if required:
            raise ApiError(400, "Request body is required", "ValidationError", invalid_fields={"_schema": ["Missing request body."]})
        return {}
    if not isinstance(request.json, dict):
        raise ApiError(400, "Request body must be a JSON object", "ValidationError", invalid_fields={"_schema": ["Invalid input type."]})
    return request.json


class GcoreEmulator(EmulatorServer):
    """In-memory Gcore Cloud Container Registry.

    ``projects``: valid project ids; ``regions``: ``{region_id: slug}`` (every
    project has every region); ``batch_shape``: answer of ``POST .../users/batch``
    (``"object"`` as the spec schema declares, the default; ``"list"`` or ``"collection"`` as its description suggests).
    """

    provider = "gcore"
    default_port = 8081

    def __init__(self, host="127.0.0.1", port=0, api_keys=(DEFAULT_API_KEY,), client_id=DEFAULT_CLIENT_ID,
                 projects=(DEFAULT_PROJECT_ID,), regions=None, batch_shape="object", default_limit=1000, max_limit=1000,
                 quotas=None, clock=None, verbose=False):
        self.api_keys = set(api_keys)
        self.client_id = int(client_id)
        self.projects = {int(p) for p in projects}
        self.regions = {int(k): v for k, v in (regions or DEFAULT_REGIONS).items()}
        self.batch_shape = "object"
        self.default_limit = 1000
        self.max_limit = 1000
        self.quotas = {}
        self.clock = clock or _utcnow
        self.registries = {}
        self.repositories = {}
        self.artifacts = {}
        self.tags = {}
        self.users = {}
        self._ids = {}
        super().__init__(host=host, port=port, verbose=verbose)
        self.configure(batch_shape=batch_shape, default_limit=default_limit, max_limit=max_limit, quotas=quotas or {})
        self.reset_state()

    # -- configuration -------------------------------------------------------
    def configure(self, **settings):
        """Change ``batch_shape``, ``default_limit``, ``max_limit``, ``quotas``, ``api_keys``, ``client_id``."""
        for key, value in settings.items():
            if key == "batch_shape":
                if value not in BATCH_SHAPES:
                    raise ApiError(400, f"batch_shape must be one of {', '.join(BATCH_SHAPES)}")
                self.batch_shape = value
            elif key in ("default_limit", "max_limit"):
                if not _is_int(value) or value < 1:
                    raise ApiError(400, f"{key} must be a positive integer")
                setattr(self, key, value)
            elif key == "quotas":
                if not isinstance(value, dict):
                    raise ApiError(400, "quotas must be an object")
                self.quotas = dict(value)
            elif key == "api_keys":
                self.api_keys = set(value)
            elif key == "client_id":
                self.client_id = int(value)
            elif key == "projects":
                self.projects = {int(p) for p in value}
            elif key == "regions":
                self.regions = {int(k): v for k, v in value.items()}
            else:
                raise ApiError(400, f"unknown setting {key!r}")
        return self.settings()

    def settings(self):
        """Current settings (API keys not included)."""
        return {"batch_shape": self.batch_shape, "default_limit": self.default_limit, "max_limit": self.max_limit,
                "quotas": dict(self.quotas), "client_id": self.client_id, "projects": sorted(self.projects),
                "regions": {str(k): v for k, v in sorted(self.regions.items())}}

    def reset_state(self):
        """Drop every registry, repository, artifact, tag and user; restart ids."""
        self.registries.clear()
        self.repositories.clear()
        self.artifacts.clear()
        self.tags.clear()
        self.users.clear()
        # Distinct id ranges so a client mixing up ids gets a 404, not a wrong object.
        self._ids = {"registry": 600, "repository": 40, "artifact": 100, "tag": 200, "user": 700}

    def _next_id(self, kind):
        self._ids[kind] += 1
        return self._ids[kind]

    def _now(self):
        return parse_time(self.clock())

    # -- auth and errors -----------------------------------------------------
    def authenticate(self, request):
        """``Authorization: APIKey <token>`` (scheme case-insensitive)."""
        value = (request.header("Authorization") or "").strip()
        if not value:
            raise ApiError(401, "Authentication credentials were not provided.", "not_authenticated")
        scheme, _unused, token = value.partition(" ")
        if scheme.lower() != "apikey" or token.strip() not in self.api_keys:
            raise ApiError(401, "Given token not valid for any token type", "token_not_valid")

    def error_body(self, status, message, exception_class=None, request=None, **extra):
        """``{"exception_class", "message", "request_id"}`` (+ ``invalid_fields``...)."""
        body = {"exception_class": exception_class or EXCEPTION_CLASSES.get(status, "HTTPError"),
                "message": message, "request_id": new_request_id()}
        body.update(extra)
        return body

    # -- routes --------------------------------------------------------------
    def setup_routes(self):
        """All 17 operations of the reference table."""
        reg = BASE + "/{registry_id:int}"
        repo = reg + "/repositories/{repository_name:dblenc}"
        art = repo + "/artifacts/{digest}"
        user = reg + "/users/{user_id:int}"
        self.route("POST", BASE, self.create_registry)
        self.route("GET", BASE, self.list_registries)
        self.route("GET", reg, self.get_registry)
        self.route("DELETE", reg, self.delete_registry)
        self.route("PATCH", reg + "/resize", self.resize_registry)
        self.route("POST", BASE + "/check_limits", self.check_limits)
        self.route("GET", reg + "/repositories", self.list_repositories)
        self.route("DELETE", repo, self.delete_repository)
        self.route("GET", repo + "/artifacts", self.list_artifacts)
        self.route("DELETE", art, self.delete_artifact)
        self.route("DELETE", art + "/tags/{tag_name}", self.delete_tag)
        self.route("POST", reg + "/users", self.create_user)
        self.route("POST", reg + "/users/batch", self.create_users_batch)
        self.route("GET", reg + "/users", self.list_users)
        self.route("PATCH", user, self.update_user)
        self.route("DELETE", user, self.delete_user)
        self.route("POST", user + "/refresh_secret", self.refresh_secret)

    # -- lookups -------------------------------------------------------------
    def _scope(self, request):
        project_id, region_id = request.params["project_id"], request.params["region_id"]
        if project_id not in self.projects:
            raise ApiError(404, f"Project {project_id} not found", "NotFoundError")
        if region_id not in self.regions:
            raise ApiError(404, f"Region {region_id} not found", "NotFoundError")
        return project_id, region_id

    def _registry(self, request):
        project_id, region_id = self._scope(request)
        reg = self.registries.get(request.params["registry_id"])
        if reg is None or reg["project_id"] != project_id or reg["region_id"] != region_id:
            raise ApiError(404, f"Registry {request.params['registry_id']} not found", "NotFoundError")
        return reg

    def _repository(self, request):
        reg = self._registry(request)
        name = request.params["repository_name"]
        repo = self._find_repo(reg["id"], name)
        if repo is None:
            raise ApiError(404, f"Repository {name} not found", "NotFoundError")
        return reg, repo

    def _artifact(self, request):
        reg, repo = self._repository(request)
        digest = request.params["digest"]
        for art in self.artifacts.values():
            if art["repository_id"] == repo["id"] and art["digest"] == digest:
                return reg, repo, art
        raise ApiError(404, f"Artifact {digest} not found", "NotFoundError")

    def _user(self, request):
        reg = self._registry(request)
        usr = self.users.get(request.params["user_id"])
        if usr is None or usr["registry_id"] != reg["id"]:
            raise ApiError(404, f"User {request.params['user_id']} not found", "NotFoundError")
        return reg, usr

    def _find_registry(self, project_id, region_id, name):
        for reg in self.registries.values():
            if (reg["project_id"], reg["region_id"], reg["name"]) == (project_id, region_id, name):
                return reg
        return None

    def _find_repo(self, registry_id, name):
        for repo in self.repositories.values():
            if repo["registry_id"] == registry_id and repo["name"] == name:
                return repo
        return None

    def _find_user(self, registry_id, name):
        for usr in self.users.values():
            if usr["registry_id"] == registry_id and usr["name"] == name:
                return usr
        return None

    # -- serializers ---------------------------------------------------------
    def registry_json(self, reg):
        """``RegistrySerializer``."""
        repo_ids = [r["id"] for r in self.repositories.values() if r["registry_id"] == reg["id"]]
        used = sum(a["size"] for a in self.artifacts.values() if a["registry_id"] == reg["id"])
        slug = self.regions.get(reg["region_id"], f"region-{reg['region_id']}")
        return {
            "id": reg["id"], "name": reg["name"], "storage_limit": reg["storage_limit"], "storage_used": used,
            "url": f"registry.{slug}.cloud.gcore.dev/{self.client_id}-{reg['project_id']}-{reg['region_id']}-{reg['name']}/",
            "repo_count": len(repo_ids), "created_at": fmt_time(reg["created_at"]), "updated_at": fmt_time(reg["updated_at"]),
        }

    def repository_json(self, repo):
        """``RegistryRepositorySerializer``."""
        count = sum(1 for a in self.artifacts.values() if a["repository_id"] == repo["id"])
        return {"id": repo["id"], "name": repo["name"], "artifact_count": count, "pull_count": repo["pull_count"],
                "registry_id": repo["registry_id"], "created_at": fmt_time(repo["created_at"]), "updated_at": fmt_time(repo["updated_at"])}

    def tag_json(self, tag):
        """``RegistryTagSerializer``."""
        return {"id": tag["id"], "name": tag["name"], "artifact_id": tag["artifact_id"], "repository_id": tag["repository_id"],
                "pushed_at": fmt_time(tag["pushed_at"]), "pulled_at": fmt_time(tag["pulled_at"])}

    def artifact_json(self, art):
        """``RegistryArtifactSerializer`` with its tags (by tag id)."""
        tags = sorted((t for t in self.tags.values() if t["artifact_id"] == art["id"]), key=lambda t: t["id"])
        return {"id": art["id"], "digest": art["digest"], "size": art["size"], "tags": [self.tag_json(t) for t in tags],
                "registry_id": art["registry_id"], "repository_id": art["repository_id"],
                "pushed_at": fmt_time(art["pushed_at"]), "pulled_at": fmt_time(art["pulled_at"])}

    def user_json(self, usr, with_secret=False):
        """``RegistryUserSerializer`` (+ ``secret`` for create/batch/refresh)."""
        reg = self.registries[usr["registry_id"]]
        if usr["duration"] == -1:
            expires = NEVER_EXPIRES
        else:
            expires = fmt_time(usr["created_at"] + timedelta(days=usr["duration"]))
        body = {"id": usr["id"], "name": self.user_login(reg, usr["name"])}
        if with_secret:
            body["secret"] = usr["secret"]
        body.update({"duration": usr["duration"], "expires_at": expires, "read_only": usr["read_only"],
                     "created_at": fmt_time(usr["created_at"])})
        return body

    def user_login(self, reg, short_name):
        """Full docker login name ``r_<client>-<project>-<region>-<registry>+<name>``."""
        return f"r_{self.client_id}-{reg['project_id']}-{reg['region_id']}-{reg['name']}+{short_name}"

    def _page(self, request, items):
        val = _Validator()
        query = request.query
        limit, offset = self.default_limit, 0
        for name in ("limit", "offset"):
            if name not in query:
                continue
            try:
                value = int(query[name])
            except ValueError:
                val.add(name, "Not a valid integer.")
                continue
            if name == "limit":
                if value < 1:
                    val.add(name, "Must be greater than or equal to 1.")
                limit = min(value, self.max_limit)
            elif value < 0:
                val.add(name, "Must be greater than or equal to 0.")
            else:
                offset = value
        val.check()
        return {"count": len(items), "results": items[offset:offset + limit]}

    # -- registries ----------------------------------------------------------
    def create_registry(self, request):
        """POST P -> 201 RegistrySerializer; 409 on a duplicate name."""
        project_id, region_id = self._scope(request)
        data = _body(request, required=True)
        val = _Validator()
        name = val.str_field(data, "name", REGISTRY_NAME_RE, required=True)
        limit = val.int_field(data, "storage_limit", 1, 1000, default=5)
        val.check()
        if self._find_registry(project_id, region_id, name):
            raise ApiError(409, f"Registry with name {name} already exists", "ConflictError")
        reg = self._add_registry(project_id, region_id, name, limit)
        return Response(201, self.registry_json(reg))

    def _add_registry(self, project_id, region_id, name, storage_limit=5):
        now = self._now()
        reg = {"id": self._next_id("registry"), "project_id": project_id, "region_id": region_id, "name": name,
               "storage_limit": storage_limit, "created_at": now, "updated_at": now}
        self.registries[reg["id"]] = reg
        return reg

    def list_registries(self, request):
        """GET P -> {count, results}."""
        project_id, region_id = self._scope(request)
        regs = [self.registry_json(r) for _unused, r in sorted(self.registries.items())
                if r["project_id"] == project_id and r["region_id"] == region_id]
        return self._page(request, regs)

    def get_registry(self, request):
        """GET P/{id}."""
        return self.registry_json(self._registry(request))

    def delete_registry(self, request):
        """DELETE P/{id} -> 204; removes repositories, artifacts, tags and users."""
        reg = self._registry(request)
        self._drop_registry(reg["id"])
        return Response(204)

    def _drop_registry(self, registry_id):
        for repo_id in [r["id"] for r in self.repositories.values() if r["registry_id"] == registry_id]:
            self._drop_repository(repo_id)
        for user_id in [u["id"] for u in self.users.values() if u["registry_id"] == registry_id]:
            del self.users[user_id]
        del self.registries[registry_id]

    def resize_registry(self, request):
        """PATCH P/{id}/resize; ``storage_limit`` defaults to 5 when omitted."""
        reg = self._registry(request)
        data = _body(request)
        val = _Validator()
        limit = val.int_field(data, "storage_limit", 1, 1000, default=5)
        val.check()
        reg["storage_limit"] = limit
        reg["updated_at"] = self._now()
        return self.registry_json(reg)

    def check_limits(self, request):
        """POST P/check_limits -> dict of exceeded quotas (``{}`` when none)."""
        project_id, region_id = self._scope(request)
        data = _body(request)
        val = _Validator()
        requested = val.int_field(data, "storage_limit", default=0)
        val.check()
        regs = [r for r in self.registries.values() if r["project_id"] == project_id and r["region_id"] == region_id]
        usage = {"registry_count": (len(regs), 1), "registry_storage": (sum(r["storage_limit"] for r in regs), requested)}
        out = {}
        for name, (used, wanted) in usage.items():
            limit = self.quotas.get(f"{name}_limit")
            if limit is not None and used + wanted > limit:
                out.update({f"{name}_limit": limit, f"{name}_requested": wanted, f"{name}_usage": used})
        return out

    # -- repositories, artifacts, tags ---------------------------------------
    def list_repositories(self, request):
        """GET P/{id}/repositories."""
        reg = self._registry(request)
        repos = [self.repository_json(r) for _unused, r in sorted(self.repositories.items()) if r["registry_id"] == reg["id"]]
        return self._page(request, repos)

    def delete_repository(self, request):
        """DELETE .../repositories/{name} -> 204; removes artifacts and tags."""
        _unused, repo = self._repository(request)
        self._drop_repository(repo["id"])
        return Response(204)

    def _drop_repository(self, repo_id):
        for art_id in [a["id"] for a in self.artifacts.values() if a["repository_id"] == repo_id]:
            self._drop_artifact(art_id)
        del self.repositories[repo_id]

    def _drop_artifact(self, art_id):
        for tag_id in [t["id"] for t in self.tags.values() if t["artifact_id"] == art_id]:
            del self.tags[tag_id]
        del self.artifacts[art_id]

    def list_artifacts(self, request):
        """GET .../repositories/{name}/artifacts (tags embedded)."""
        _unused, repo = self._repository(request)
        arts = [self.artifact_json(a) for _unused, a in sorted(self.artifacts.items()) if a["repository_id"] == repo["id"]]
        return self._page(request, arts)

    def delete_artifact(self, request):
        """DELETE .../artifacts/{digest} -> 204; its tags go with it."""
        _unused, repo, art = self._artifact(request)
        self._drop_artifact(art["id"])
        repo["updated_at"] = self._now()
        return Response(204)

    def delete_tag(self, request):
        """DELETE .../artifacts/{digest}/tags/{tag} -> 204; the artifact stays."""
        _unused, repo, art = self._artifact(request)
        name = request.params["tag_name"]
        for tag in list(self.tags.values()):
            if tag["artifact_id"] == art["id"] and tag["name"] == name:
                del self.tags[tag["id"]]
                repo["updated_at"] = self._now()
                return Response(204)
        raise ApiError(404, f"Tag {name} not found", "NotFoundError")

    # -- users ---------------------------------------------------------------
    def _validate_user(self, val, data, prefix=""):
        name = val.str_field(data, "name", USER_NAME_RE, required=True, prefix=prefix)
        duration = val.int_field(data, "duration", -1, 365, required=True, prefix=prefix)
        read_only = val.bool_field(data, "read_only", False, prefix=prefix)
        secret = val.str_field(data, "secret", default="", prefix=prefix)
        return {"name": name, "duration": duration, "read_only": read_only, "secret": secret}

    def _add_user(self, registry_id, name, duration, read_only=False, secret=""):
        usr = {"id": self._next_id("user"), "registry_id": registry_id, "name": name, "duration": duration,
               "read_only": bool(read_only), "secret": secret or generate_secret(), "created_at": self._now()}
        self.users[usr["id"]] = usr
        return usr

    def create_user(self, request):
        """POST P/{id}/users -> 201 user + secret; 409 if the name exists."""
        reg = self._registry(request)
        val = _Validator()
        spec = self._validate_user(val, _body(request, required=True))
        val.check()
        if self._find_user(reg["id"], spec["name"]):
            raise ApiError(409, f"User {spec['name']} already exists", "ConflictError")
        return Response(201, self.user_json(self._add_user(reg["id"], **spec), with_secret=True))

    def create_users_batch(self, request):
        """POST P/{id}/users/batch -> 201 in ``batch_shape``; all-or-nothing 409."""
        reg = self._registry(request)
        data = _body(request, required=True)
        val = _Validator()
        users = data.get("users")
        specs = []
        if users is None:
            val.add("users", "Missing data for required field.")
        elif not isinstance(users, list):
            val.add("users", "Not a valid list.")
        else:
            for index, item in enumerate(users):
                if not isinstance(item, dict):
                    val.add(f"users.{index}", "Invalid input type.")
                    continue
                specs.append(self._validate_user(val, item, prefix=f"users.{index}."))
        val.check()
        names = [s["name"] for s in specs]
        clash = sorted({n for n in names if self._find_user(reg["id"], n) or names.count(n) > 1})
        if clash:
            raise ApiError(409, f"One or more users already exist: {', '.join(clash)}", "ConflictError")
        created = [self.user_json(self._add_user(reg["id"], **s), with_secret=True) for s in specs]
        if self.batch_shape == "object":
            body = created[0] if created else {}
        elif self.batch_shape == "collection":
            body = {"count": len(created), "results": created}
        else:
            body = created
        return Response(201, body)

    def list_users(self, request):
        """GET P/{id}/users (never includes secrets)."""
        reg = self._registry(request)
        users = [self.user_json(u) for _unused, u in sorted(self.users.items()) if u["registry_id"] == reg["id"]]
        return self._page(request, users)

    def update_user(self, request):
        """PATCH P/{id}/users/{uid}: ``duration`` required, ``read_only`` defaults to false."""
        _unused, usr = self._user(request)
        data = _body(request, required=True)
        val = _Validator()
        duration = val.int_field(data, "duration", -1, 365, required=True)
        read_only = val.bool_field(data, "read_only", False)
        val.check()
        usr["duration"], usr["read_only"] = duration, read_only
        return self.user_json(usr)

    def delete_user(self, request):
        """DELETE P/{id}/users/{uid} -> 204."""
        _unused, usr = self._user(request)
        del self.users[usr["id"]]
        return Response(204)

    def refresh_secret(self, request):
        """POST P/{id}/users/{uid}/refresh_secret -> 200 user + new secret."""
        _unused, usr = self._user(request)
        usr["secret"] = generate_secret()
        return self.user_json(usr, with_secret=True)

    # -- seeding (Python API) ------------------------------------------------
    def default_scope(self, project_id=None, region_id=None):
        """``(project_id, region_id)``: the given ones, else the defaults (1186668/76 when configured)."""
        project_id = DEFAULT_PROJECT_ID if project_id is None and DEFAULT_PROJECT_ID in self.projects else project_id
        region_id = DEFAULT_REGION_ID if region_id is None and DEFAULT_REGION_ID in self.regions else region_id
        project_id = sorted(self.projects)[0] if project_id is None else int(project_id)
        region_id = sorted(self.regions)[0] if region_id is None else int(region_id)
        if project_id not in self.projects or region_id not in self.regions:
            raise ValueError(f"unknown project/region {project_id}/{region_id}")
        return project_id, region_id

    def _resolve_registry(self, registry):
        """Registry by id (int) or by name (str, default project/region)."""
        if isinstance(registry, dict):
            registry = registry["id"]
        if _is_int(registry):
            if registry not in self.registries:
                raise ValueError(f"no registry with id {registry}")
            return self.registries[registry]
        project_id, region_id = self.default_scope(None, None)
        reg = self._find_registry(project_id, region_id, registry)
        if reg is None:
            raise ValueError(f"no registry named {registry!r}")
        return reg

    def add_registry(self, name, storage_limit=5, project_id=None, region_id=None, created_at=None):
        """Create (or return the existing) registry; returns its JSON."""
        with self.lock:
            project_id, region_id = self.default_scope(project_id, region_id)
            reg = self._find_registry(project_id, region_id, name)
            if reg is None:
                reg = self._add_registry(project_id, region_id, name, int(storage_limit))
                if created_at is not None:
                    reg["created_at"] = reg["updated_at"] = parse_time(created_at)
            return self.registry_json(reg)

    def add_user(self, registry, name, duration=-1, read_only=False, secret=None, created_at=None):
        """Create a user (``registry``: id or name); returns its JSON with the secret."""
        with self.lock:
            reg = self._resolve_registry(registry)
            if self._find_user(reg["id"], name):
                raise ValueError(f"user {name!r} already exists")
            usr = self._add_user(reg["id"], name, int(duration), read_only, secret or "")
            if created_at is not None:
                usr["created_at"] = parse_time(created_at)
            return self.user_json(usr, with_secret=True)

    def add_repository(self, registry, name, pull_count=0, created_at=None, updated_at=None):
        """Create (or return) a repository (``name`` may contain ``/``); returns its JSON."""
        with self.lock:
            return self.repository_json(self._ensure_repo(self._resolve_registry(registry), name, pull_count, created_at, updated_at))

    def _ensure_repo(self, reg, name, pull_count=0, created_at=None, updated_at=None):
        repo = self._find_repo(reg["id"], name)
        if repo is None:
            now = self._now()
            repo = {"id": self._next_id("repository"), "registry_id": reg["id"], "name": name, "pull_count": int(pull_count),
                    "created_at": parse_time(created_at) if created_at else now, "updated_at": now}
            self.repositories[repo["id"]] = repo
        elif pull_count:
            repo["pull_count"] = int(pull_count)
        if updated_at:
            repo["updated_at"] = parse_time(updated_at)
        elif created_at:
            repo["updated_at"] = max(repo["updated_at"], parse_time(created_at))
        return repo

    def add_artifact(self, registry, repository, digest=None, size=0, tags=(), pushed_at=None, pulled_at=None):
        """Push-like seeding: creates the repository if needed, merges tags into an
        existing artifact with the same digest, and moves a tag that already
        points at another artifact of the repository (as a docker push would).

        ``tags``: names or dicts ``{"name", "pushed_at", "pulled_at"}``. Returns the artifact JSON.
        """
        with self.lock:
            reg = self._resolve_registry(registry)
            repo = self._ensure_repo(reg, repository)
            pushed = parse_time(pushed_at) if pushed_at else self._now()
            pulled = parse_time(pulled_at) if pulled_at else pushed
            if digest is None:
                seed = f"{reg['id']}/{repository}/{self._ids['artifact'] + 1}"
                digest = "sha256:" + hashlib.sha256(seed.encode()).hexdigest()
            art = next((a for a in self.artifacts.values() if a["repository_id"] == repo["id"] and a["digest"] == digest), None)
            if art is None:
                art = {"id": self._next_id("artifact"), "registry_id": reg["id"], "repository_id": repo["id"], "digest": digest,
                       "size": int(size), "pushed_at": pushed, "pulled_at": pulled}
                self.artifacts[art["id"]] = art
            for tag in tags:
                tag = {"name": tag} if isinstance(tag, str) else dict(tag)
                for old in [t for t in self.tags.values() if t["repository_id"] == repo["id"] and t["name"] == tag["name"]]:
                    del self.tags[old["id"]]
                tag_pushed = parse_time(tag["pushed_at"]) if tag.get("pushed_at") else pushed
                tag_id = self._next_id("tag")
                self.tags[tag_id] = {"id": tag_id, "artifact_id": art["id"], "repository_id": repo["id"], "name": tag["name"],
                                     "pushed_at": tag_pushed, "pulled_at": parse_time(tag["pulled_at"]) if tag.get("pulled_at") else tag_pushed}
            repo["updated_at"] = max(repo["updated_at"], pushed)
            return self.artifact_json(art)

    def seed(self, data):
        """Seed from a JSON document (also ``POST /_emulator/seed``)::

            {"registries": [{"name": "reg", "storage_limit": 10, "project_id": ..., "region_id": ...,
              "users": [{"name": "ci", "duration": -1, "read_only": true, "secret": "s"}],
              "repositories": [{"name": "team/app", "pull_count": 3,
                "artifacts": [{"digest": "sha256:...", "size": 1024, "pushed_at": "...", "pulled_at": "...",
                               "tags": ["latest", {"name": "v1", "pushed_at": "...", "pulled_at": "..."}]}]}]}]}

        A registry entry may name an existing registry by ``id`` or by ``name``.
        Returns ``{"registries": [registry JSON + "users" (with secrets)]}``.
        """
        if not isinstance(data, dict):
            raise ValueError("seed document must be a JSON object")
        out = []
        with self.lock:
            for entry in data.get("registries", []):
                if "id" in entry:
                    reg = self._resolve_registry(int(entry["id"]))
                else:
                    reg = self._resolve_registry(self.add_registry(
                        entry["name"], entry.get("storage_limit", 5), entry.get("project_id"), entry.get("region_id"),
                        entry.get("created_at"))["id"])
                users = [self.add_user(reg["id"], u["name"], u.get("duration", -1), u.get("read_only", False), u.get("secret"),
                                       u.get("created_at")) for u in entry.get("users", [])]
                for repo in entry.get("repositories", []):
                    self.add_repository(reg["id"], repo["name"], repo.get("pull_count", 0), repo.get("created_at"), repo.get("updated_at"))
                    for art in repo.get("artifacts", []):
                        self.add_artifact(reg["id"], repo["name"], art.get("digest"), art.get("size", 0), art.get("tags", ()),
                                          art.get("pushed_at"), art.get("pulled_at"))
                    if repo.get("updated_at"):
                        self._ensure_repo(reg, repo["name"], updated_at=repo["updated_at"])
                out.append(dict(self.registry_json(reg), users=users))
        return {"registries": out}

    def dump_state(self):
        """Everything, as the API would show it (user secrets included)."""
        with self.lock:
            regs = []
            for _unused, reg in sorted(self.registries.items()):
                repos = []
                for _unused, repo in sorted(self.repositories.items()):
                    if repo["registry_id"] == reg["id"]:
                        arts = [self.artifact_json(a) for _unused, a in sorted(self.artifacts.items()) if a["repository_id"] == repo["id"]]
                        repos.append(dict(self.repository_json(repo), artifacts=arts))
                users = [self.user_json(u, with_secret=True) for _unused, u in sorted(self.users.items()) if u["registry_id"] == reg["id"]]
                regs.append(dict(self.registry_json(reg), project_id=reg["project_id"], region_id=reg["region_id"],
                                 repositories=repos, users=users))
            return {"registries": regs}

    def base_path(self, project_id=None, region_id=None):
        """``/cloud/v1/registries/<project>/<region>`` for the default (or given) scope."""
        project_id, region_id = self.default_scope(project_id, region_id)
        return f"/cloud/v1/registries/{project_id}/{region_id}"

    def user_secret(self, user_id):
        """The current secret of a user (test helper; the API never lists it)."""
        with self.lock:
            return self.users[user_id]["secret"]


def generate_secret(length=32):
    """A random alphanumeric secret like the documented ``T53rmPo1UeuiSiTarDCa2MKj2K6tuiQB``."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _unused in range(length))


def _add_arguments(parser):
    parser.add_argument("--api-key", action="append", dest="api_keys", help=f"valid API key (repeatable; default {DEFAULT_API_KEY})")
    parser.add_argument("--client-id", type=int, default=DEFAULT_CLIENT_ID)
    parser.add_argument("--project-id", type=int, action="append", dest="projects", help=f"valid project id (repeatable; default {DEFAULT_PROJECT_ID})")
    parser.add_argument("--region", action="append", dest="regions", metavar="ID=SLUG",
                        help=f"valid region (repeatable; default {DEFAULT_REGION_ID}={DEFAULT_REGIONS[DEFAULT_REGION_ID]})")
    parser.add_argument("--batch-shape", choices=BATCH_SHAPES, default="object")
    parser.add_argument("--seed", metavar="FILE", help="JSON seed document to load at start")


def _factory(args):
    regions = None
    if args.regions:
        regions = {int(k): v for k, _unused, v in (r.partition("=") for r in args.regions)}
    emu = GcoreEmulator(api_keys=args.api_keys or (DEFAULT_API_KEY,), client_id=args.client_id,
                        projects=args.projects or (DEFAULT_PROJECT_ID,), regions=regions, batch_shape=args.batch_shape)
    if args.seed:
        with open(args.seed, encoding="utf-8") as handle:
            emu.seed(json.load(handle))
    return emu


def _banner(emu):
    key = sorted(emu.api_keys)[0]
    project_id, region_id = emu.default_scope()
    return [f"API key: {key}    (send 'Authorization: APIKey {key}')",
            f"projects: {', '.join(map(str, sorted(emu.projects)))}; regions: "
            + ", ".join(f"{k} ({v})" for k, v in sorted(emu.regions.items())),
            f"API base: {emu.url}{emu.base_path()}",
            f"playbooks: provider: gcore, api_url: {emu.url}, api_token: {key}, "
            f"project_id: {project_id}, region_id: {region_id}"]


def main(argv=None):
    """Console entry point."""
    return run_standalone(_factory, argv, description="Gcore Cloud Container Registry emulator",
                          default_port=GcoreEmulator.default_port, add_arguments=_add_arguments, banner=_banner)


if __name__ == "__main__":
    sys.exit(main())
