# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who may use a GitLab registry: deploy tokens (``registry_user``) and registry protection rules
(``protection_rule``). PRIVATE to the collection; mixed into ``GitLabProvider`` (providers/gitlab.py), whose
``owner_path``, ``parse_registry``, ``_list``, ``_delete``, ``warn`` and ``client`` it uses.

Deploy tokens (``/projects/:id/deploy_tokens``, ``/groups/:id/deploy_tokens``):

* a token is named, not unique by name: the collection's identity is the *active* token (not revoked, not expired)
  with that name; two active tokens with one name are refused for ``present`` and both revoked for ``absent``;
* there is no update: a token whose scopes, expiry or username differ is revoked (``DELETE``) and created again
  (``POST``) only when the task asks for it (``recreate`` or ``refresh_secret``), otherwise the task fails and says so;
* the token value is in the create answer only: it is returned once, as ``secret``, and never remembered for masking
  (masking would blank it in the result too; the module's docs ask for ``no_log`` on the task);
* a group's tokens are created and revoked by its Owners only, and take five of the seven scopes.

Protection rules (``/projects/:id/registry/protection/{repository,tag}/rules``):

* repository rules need at least one access level; ``""`` unsets one on ``PATCH`` (the module's ``none``);
* tag rules (GitLab 18.7+ list, 18.8+ create, 18.9+ update) need both levels or neither, at most five per project;
  a tag rule with neither level is an *immutable* rule, which the API cannot create and this collection never
  changes or deletes; the tag-rule ``DELETE`` is not in the reference's revisions, newer GitLab documents it (204);
* a pattern already taken, an invalid pattern or the five-rule limit answer 422 ``{"message": {"error": "..."}}``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.regops.registry.plugins.module_utils import timestamps, validate
from ansible_collections.regops.registry.plugins.module_utils.api import ApiError, AuthError, NotFoundError
from ansible_collections.regops.registry.plugins.module_utils.providers.base import Capability

# DeployToken::AVAILABLE_SCOPES, in GitLab's order; a group's deploy tokens take the first five.
PROJECT_SCOPES = ("read_repository", "read_registry", "write_registry", "read_package_registry", "write_package_registry",
                  "read_virtual_registry", "write_virtual_registry")
GROUP_SCOPES = PROJECT_SCOPES[:5]
DEPLOY_USERNAME_RE = re.compile(r"[a-zA-Z0-9_.+-]+")
GENERATED_USERNAME_RE = re.compile(r"gitlab\+deploy-token-[0-9]+")
TOKEN_NAME_MAX = 255
NEVER = ("never", "")

RULE_KINDS = ("repository", "tag")
PATTERN_KEYS = {"repository": "repository_path_pattern", "tag": "tag_name_pattern"}
LEVEL_KEYS = ("minimum_access_level_for_push", "minimum_access_level_for_delete")
RULE_LEVELS = ("maintainer", "owner", "admin")
UNSET = "none"
TAG_RULES_PER_PROJECT = 5
REPOSITORY_PATTERN_RE = re.compile(r"[a-zA-Z0-9*][a-zA-Z0-9*._/-]*")
REPOSITORY_PATTERN_MAX = 255
TAG_PATTERN_MAX = 100

ACCESS_CAPABILITIES = {
    "registry_user": Capability(
        states=("present", "absent"), info=True,
        options=("read_only", "scopes", "expires_at", "username", "recreate", "refresh_secret"),
        notes="GitLab deploy tokens of a project or group (registry: group:<path>)"),
    "protection_rule": Capability(
        states=("present", "absent"), info=True, options=LEVEL_KEYS,
        notes="GitLab container registry protection rules of a project (repository and tag rules)"),
}


def canonical_scopes(scopes):
    """Scopes in GitLab's order, each once; unknown ones (a newer GitLab) after the known ones."""
    scopes = list(scopes or [])
    return [s for s in PROJECT_SCOPES if s in scopes] + sorted(set(s for s in scopes if s not in PROJECT_SCOPES))


def registry_scopes(scopes, read_only):
    """``scopes`` with the registry part made pull-only (``read_only``) or pull and push."""
    kept = [s for s in scopes or [] if s not in ("read_registry", "write_registry")]
    return canonical_scopes(kept + (["read_registry"] if read_only else ["read_registry", "write_registry"]))


def parse_expiry(value, now=None):
    """``expires_at`` as a task writes it → ISO 8601 UTC (``2027-01-31T00:00:00Z``), or None for ``never``.

    A date means midnight UTC; a time without a zone is UTC. ValueError when it is not a date, or not in the future.
    """
    text = ("%s" % (value,)).strip()
    if text.lower() in NEVER:
        return None
    when = timestamps.parse(text)
    if when is None:
        raise ValueError("expires_at %s is not an ISO 8601 date or date and time (for example 2027-01-31, 2027-01-31T18:00:00Z "
                         "or 2027-01-31T18:00:00+02:00), or never" % validate.shown(value))
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if when <= now:
        raise ValueError("expires_at %s is not in the future: an expired deploy token cannot log in, and is not active, so every "
                         "run would create another" % validate.shown(value))
    return timestamps.iso(when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))


def token_request(desired, owner_kind, now=None):
    """What the task asks of a deploy token, checked before any request. Keys only for what the task names:
    ``scopes`` (canonical list), ``read_only`` (when only that is given), ``expires_at`` (None = never), ``username``."""
    wanted = {}
    allowed = GROUP_SCOPES if owner_kind == "groups" else PROJECT_SCOPES
    scopes, read_only = desired.get("scopes"), desired.get("read_only")
    if scopes is not None:
        unknown = [s for s in scopes if s not in allowed]
        if unknown:
            where = "a group's" if owner_kind == "groups" else "a project's"
            raise ValueError("scopes %s: not a scope of %s deploy tokens (GitLab takes %s)" % (
                ", ".join(validate.shown(s) for s in unknown), where, ", ".join(allowed)))
        if not scopes:
            raise ValueError("scopes is empty: a deploy token needs at least one scope (%s)" % ", ".join(allowed))
        wanted["scopes"] = canonical_scopes(scopes)
        if read_only is not None and read_only != ("write_registry" not in wanted["scopes"]):
            raise ValueError("read_only: %s contradicts scopes %s (read_only means without write_registry): give one of them"
                             % (str(read_only).lower(), ", ".join(wanted["scopes"])))
    elif read_only is not None:
        wanted["read_only"] = read_only
    if desired.get("expires_at") is not None:
        wanted["expires_at"] = parse_expiry(desired["expires_at"], now)
    if desired.get("username") is not None:
        if not validate.matches(DEPLOY_USERNAME_RE, desired["username"]) or len(desired["username"]) > TOKEN_NAME_MAX:
            raise ValueError("username %s is not valid for a GitLab deploy token: letters, digits, '_', '-', '+' and '.' only"
                             % validate.shown(desired["username"]))
        wanted["username"] = desired["username"]
    return wanted


def create_scopes(wanted):
    """The scopes of a new token: the task's, else from ``read_only``, else pull only."""
    if "scopes" in wanted:
        return wanted["scopes"]
    return registry_scopes([], wanted.get("read_only", True))


def _words(value):
    if value is None:
        return "never"
    if isinstance(value, list):
        return ", ".join(value) or "none"
    return str(value).lower() if isinstance(value, bool) else str(value)


# What RE2 (GitLab's UntrustedRegexp) refuses and Python accepts: lookarounds and backreferences.
RE2_UNSUPPORTED = re.compile(r"\(\?(?:[=!]|<[=!])|\\[1-9]|\(\?P=")


def check_regex(option, pattern):
    """``pattern`` compiled with Python's ``re`` (close to RE2 for what tag rules use); ValueError naming ``option``."""
    if not isinstance(pattern, str):
        raise ValueError("%s must be a regular expression (a string), got %r" % (option, pattern))
    bad = RE2_UNSUPPORTED.search(pattern)
    if bad:
        raise ValueError("%s %s is not a regular expression GitLab accepts (RE2 has no %s: no lookarounds, no backreferences)"
                         % (option, validate.shown(pattern), bad.group(0)))
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError("%s %s is not a valid regular expression: %s" % (option, validate.shown(pattern), exc))


class GitLabAccess:
    """Deploy tokens and protection rules of a GitLab project or group."""

    def _require_user_token(self, what):
        """A CI job token reaches only the registry endpoints of its own project: say so before any request."""
        if self.credentials()[2] == "job":
            raise ValueError("a CI job token cannot read or change %s (GitLab allows it only on the registry repositories and tags "
                             "of its own project): use a personal, project or group access token (api_token or GITLAB_TOKEN)" % what)

    # -- deploy tokens: validation ------------------------------------------------
    def validate_registry_user(self, items, desired):
        self._require_user_token("deploy tokens")
        kinds = set()
        for item in items:
            kind, _ident = self.parse_registry(item.get("registry"))
            kinds.add(kind)
            name = item.get("name")
            if not isinstance(name, str) or not name.strip() or name != name.strip() or len(name) > TOKEN_NAME_MAX:
                raise ValueError("deploy token name %s is not valid: 1 to %d characters, not blank, without leading or trailing "
                                 "spaces" % (validate.shown(name), TOKEN_NAME_MAX))
        for kind in kinds:
            token_request(desired or {}, kind)

    # -- deploy tokens: reading -------------------------------------------------------
    def _token_path(self, registry, *rest):
        return self.owner_path(registry, "deploy_tokens", *rest)

    @staticmethod
    def _normalize_token(raw, registry):
        scopes = canonical_scopes(raw.get("scopes"))
        return {
            "name": raw.get("name"),
            "id": raw.get("id"),
            "login": raw.get("username"),
            "registry": registry,
            "read_only": "write_registry" not in scopes,
            "expires_at": timestamps.iso(raw.get("expires_at")),
            "created_at": None,
            "provider_data": {"scopes": scopes, "revoked": bool(raw.get("revoked")), "expired": bool(raw.get("expired"))},
        }

    def _active_tokens(self, registry):
        """The active tokens (``active=true``; revoked and expired ones left out here too, whatever the server did)."""
        raws = self._list(self._token_path(registry), {"active": "true"})
        return [r for r in raws if not r.get("revoked") and not r.get("expired")]

    def read_registry_user(self, items):
        by_registry = {}
        found = []
        for item in items:
            registry = item["registry"]
            if registry not in by_registry:
                by_name = {}
                for raw in self._active_tokens(registry):
                    by_name.setdefault(raw.get("name"), []).append(raw)
                by_registry[registry] = by_name
            same = by_registry[registry].get(item["name"]) or []
            if not same:
                found.append(None)
                continue
            current = self._normalize_token(same[0], registry)
            if len(same) > 1:
                current["provider_data"]["duplicate_ids"] = [raw.get("id") for raw in same]
            found.append(current)
        return found

    def list_registry_user(self, filters):
        """Every token of the project or group, active or not (never a token value), sorted by name then id."""
        names = set(filters.get("name") or [])
        tokens = [self._normalize_token(raw, filters["registry"]) for raw in self._list(self._token_path(filters["registry"]))]
        tokens = [t for t in tokens if not names or t["name"] in names]
        return sorted(tokens, key=lambda t: (t["name"] or "", t["id"] or 0))

    # -- deploy tokens: planning ---------------------------------------------------------
    def changes_registry_user(self, item, current, desired):
        """What a recreate would send; {} when the token is as the task says. Differences without ``recreate`` (or
        ``refresh_secret``) fail here, before any change, in check mode too."""
        ref = "deploy token %s of %s" % (validate.shown(item["name"]), item["registry"])
        ids = current["provider_data"].get("duplicate_ids")
        if ids:
            raise ValueError("%d active deploy tokens are named %s in %s (ids %s): the name must identify one token. Revoke the "
                             "extra ones in GitLab, or all of them with state: absent, then run again" % (
                                 len(ids), validate.shown(item["name"]), item["registry"], ", ".join(str(i) for i in ids)))
        kind, _ident = self.parse_registry(item["registry"])
        wanted = token_request(desired, kind)
        scopes = current["provider_data"]["scopes"]
        differences = []
        if "scopes" in wanted and set(wanted["scopes"]) != set(scopes):
            differences.append(("scopes", scopes, wanted["scopes"]))
            scopes = wanted["scopes"]
        elif "read_only" in wanted and wanted["read_only"] != current["read_only"]:
            differences.append(("read_only", current["read_only"], wanted["read_only"]))
            scopes = registry_scopes(scopes, wanted["read_only"])
        expires_at = current["expires_at"]
        if "expires_at" in wanted and wanted["expires_at"] != expires_at:
            differences.append(("expires_at", expires_at, wanted["expires_at"]))
            expires_at = wanted["expires_at"]
        username = current["login"]
        if "username" in wanted and wanted["username"] != username:
            differences.append(("username", username, wanted["username"]))
            username = wanted["username"]
        elif validate.matches(GENERATED_USERNAME_RE, username or ""):
            # GitLab's own gitlab+deploy-token-<id>: the new token gets its own.
            username = None
        if not differences and not desired.get("refresh_secret"):
            return {}
        if differences and not (desired.get("recreate") or desired.get("refresh_secret")):
            raise ValueError("%s (id %s) differs from the task: %s. GitLab cannot change a deploy token: set recreate: true to "
                             "revoke it and create it again (with a new token value, returned once)" % (
                                 ref, current["id"], "; ".join("%s %s, task %s" % (key, _words(old), _words(new))
                                                               for key, old, new in differences)))
        return {"scopes": scopes, "expires_at": expires_at, "username": username,
                "recreate": "differs" if differences else "refresh_secret"}

    def predict_registry_user(self, action):
        if action.kind == "delete":
            return None
        if action.kind == "create":
            kind, _ident = self.parse_registry(action.item["registry"])
            wanted = token_request(action.desired, kind)
            scopes, expires_at, username = create_scopes(wanted), wanted.get("expires_at"), wanted.get("username")
        else:
            scopes, expires_at, username = action.changes["scopes"], action.changes["expires_at"], action.changes["username"]
        return {"name": action.item["name"], "id": None, "login": username, "registry": action.item["registry"],
                "read_only": "write_registry" not in scopes, "expires_at": expires_at, "created_at": None,
                "provider_data": {"scopes": list(scopes), "revoked": False, "expired": False}}

    # -- deploy tokens: changes -------------------------------------------------------------
    def _owner_hint(self, registry, exc):
        """A 403 on a group's tokens: say who may change them."""
        kind, _ident = self.parse_registry(registry)
        if kind == "groups" and isinstance(exc, AuthError) and exc.status == 403:
            exc.message = "%s (a group's deploy tokens are created and revoked by the group's Owners only)" % (exc.message or "403 Forbidden")
        return exc

    def _create_token(self, item, scopes, expires_at, username):
        body = {"name": item["name"], "scopes": list(scopes)}
        if expires_at:
            body["expires_at"] = expires_at
        if username:
            body["username"] = username
        try:
            raw = self.client.json("POST", self._token_path(item["registry"]), json=body, expected=(200, 201)) or {}
        except ApiError as exc:
            raise self._owner_hint(item["registry"], exc)
        token = self._normalize_token(raw, item["registry"])
        if raw.get("token"):
            token["secret"] = raw["token"]
        return token

    def _revoke(self, registry, token_id):
        try:
            self._delete(self._token_path(registry, token_id))
        except ApiError as exc:
            raise self._owner_hint(registry, exc)

    def create_registry_user(self, item, desired):
        kind, _ident = self.parse_registry(item["registry"])
        wanted = token_request(desired, kind)
        return self._create_token(item, create_scopes(wanted), wanted.get("expires_at"), wanted.get("username"))

    def update_registry_user(self, item, current, changes, desired):
        """Recreate: revoke, then create with the new values (GitLab has no update). A create that fails after the revoke
        is reported as such; the next run creates the token (it is absent by then)."""
        self._revoke(item["registry"], current["id"])
        try:
            return self._create_token(item, changes["scopes"], changes["expires_at"], changes["username"])
        except ApiError as exc:
            raise ApiError("deploy token %s of %s (id %s) was revoked, but creating its replacement failed: %s. Run the task "
                           "again to create it" % (validate.shown(item["name"]), item["registry"], current["id"], exc))

    def delete_registry_user(self, item, current):
        for token_id in current["provider_data"].get("duplicate_ids") or [current["id"]]:
            self._revoke(item["registry"], token_id)
        return current

    # -- protection rules: validation ----------------------------------------------------------
    def validate_protection_rule(self, items, desired):
        self._require_user_token("protection rules")
        desired = desired or {}
        for item in items:
            kind, ident = self.parse_registry(item.get("registry"))
            if kind != "projects":
                raise ValueError("protection rules belong to a project: registry %s is a group; name the project (acme/app or "
                                 "its numeric id)" % validate.shown(item.get("registry")))
            if item.get("kind") is not None and item["kind"] not in RULE_KINDS:
                raise ValueError("kind %s is not a protection rule kind: repository or tag" % validate.shown(item["kind"]))
            if item.get("pattern") is not None:
                self._validate_pattern(item["kind"], item["pattern"], ident)
            levels = dict((key, desired.get(key)) for key in LEVEL_KEYS if desired.get(key) is not None)
            for key, value in levels.items():
                if value not in RULE_LEVELS + (UNSET,):
                    raise ValueError("%s %s is not one of %s, %s" % (key, validate.shown(value), ", ".join(RULE_LEVELS), UNSET))
            if item.get("kind") == "tag" and UNSET in levels.values():
                raise ValueError("a tag protection rule has both access levels or neither (an immutable rule, which this module does "
                                 "not create or change): %s cannot be none" % " and ".join(k for k, v in sorted(levels.items()) if v == UNSET))
            if item.get("kind") == "repository" and len(levels) == 2 and set(levels.values()) == set([UNSET]):
                raise ValueError("a repository protection rule needs at least one access level: both cannot be none (to remove "
                                 "the rule, use state: absent)")

    @staticmethod
    def _validate_pattern(kind, pattern, project):
        if not isinstance(pattern, str) or not pattern:
            raise ValueError("pattern must not be empty")
        if kind is None:
            return
        if kind == "repository":
            if not validate.matches(REPOSITORY_PATTERN_RE, pattern) or len(pattern) > REPOSITORY_PATTERN_MAX:
                raise ValueError("repository pattern %s is not valid: a container repository path with optional * wildcards "
                                 "(letters, digits, '.', '_', '-', '/', '*'), at most %d characters" % (validate.shown(pattern), REPOSITORY_PATTERN_MAX))
            if not project.isdigit() and not pattern.lower().startswith(project.lower()):
                raise ValueError("repository pattern %s must start with the project's full path %s (for example %s/*)" % (
                    validate.shown(pattern), project, project))
        else:
            if len(pattern) > TAG_PATTERN_MAX or re.search(r"\s", pattern):
                raise ValueError("tag pattern %s is not valid: a RE2 regular expression of at most %d characters, without spaces or "
                                 "line breaks" % (validate.shown(pattern), TAG_PATTERN_MAX))
            check_regex("tag pattern", pattern)

    # -- protection rules: reading ---------------------------------------------------------------
    def _rules_path(self, registry, kind, *rest):
        return self.owner_path(registry, "registry", "protection", kind, "rules", *rest)

    @staticmethod
    def _normalize_rule(raw, registry, kind):
        push = raw.get("minimum_access_level_for_push") or None
        delete = raw.get("minimum_access_level_for_delete") or None
        return {"registry": registry, "kind": kind, "pattern": raw.get(PATTERN_KEYS[kind]), "id": raw.get("id"),
                "minimum_access_level_for_push": push, "minimum_access_level_for_delete": delete,
                "immutable": kind == "tag" and push is None and delete is None,
                "provider_data": {"project_id": raw.get("project_id")}}

    def _rules(self, registry, kind):
        return [self._normalize_rule(raw, registry, kind) for raw in self._list(self._rules_path(registry, kind))]

    def read_protection_rule(self, items):
        """The rules named; an immutable tag rule among them fails the task here, before any change."""
        lists = {}
        for item in items:
            key = (item["registry"], item["kind"])
            if key not in lists:
                lists[key] = self._rules(*key)
        # Room left under the five-tag-rules limit, used up by the creates planned in check_create.
        self._tag_rule_room = dict((registry, TAG_RULES_PER_PROJECT - len(rules)) for (registry, kind), rules in lists.items() if kind == "tag")
        found = []
        for item in items:
            found.append(next((r for r in lists[(item["registry"], item["kind"])] if r["pattern"] == item["pattern"]), None))
        immutable = [r for r in found if r is not None and r["immutable"]]
        if immutable:
            raise ValueError("%s of %s: an immutable tag rule (no access levels: nobody may push or delete those tags). This module "
                             "never changes or deletes immutable rules: leave the pattern out of the task, or manage the rule in GitLab" % (
                                 ", ".join("tag rule %s (id %s)" % (validate.shown(r["pattern"]), r["id"]) for r in immutable),
                                 immutable[0]["registry"]))
        return found

    def list_protection_rule(self, filters):
        """The rules of one kind or both, sorted by kind then id; immutable tag rules too."""
        patterns = set(filters.get("pattern") or [])
        rules = []
        for kind in [filters["kind"]] if filters.get("kind") else list(RULE_KINDS):
            try:
                rules.extend(self._rules(filters["registry"], kind))
            except NotFoundError:
                if filters.get("kind") or kind != "tag":
                    raise
                # The project was found (its repository rules were listed): this GitLab has no tag rules API (before 18.7).
                self.warn("GitLab answered 404 to the tag protection rules of %s (they need GitLab 18.7 or later): none listed" % filters["registry"])
        rules = [r for r in rules if not patterns or r["pattern"] in patterns]
        return sorted(rules, key=lambda r: (RULE_KINDS.index(r["kind"]), r["id"] or 0))

    # -- protection rules: planning ---------------------------------------------------------------
    def check_create_protection_rule(self, item, desired):
        levels = dict((key, desired.get(key)) for key in LEVEL_KEYS if desired.get(key) not in (None, UNSET))
        if item["kind"] == "tag":
            if len(levels) < 2:
                return ("a tag protection rule is created with both minimum_access_level_for_push and minimum_access_level_for_delete "
                        "(GitLab requires both)")
            room = getattr(self, "_tag_rule_room", {}).get(item["registry"], TAG_RULES_PER_PROJECT)
            if room <= 0:
                return ("GitLab allows at most %d tag protection rules per project, and %s would have more: remove one first "
                        "(state: absent)" % (TAG_RULES_PER_PROJECT, item["registry"]))
            self._tag_rule_room[item["registry"]] = room - 1
        elif not levels:
            return ("a repository protection rule is created with at least one of minimum_access_level_for_push and "
                    "minimum_access_level_for_delete (maintainer, owner or admin)")
        return None

    def changes_protection_rule(self, item, current, desired):
        changes = {}
        for key in LEVEL_KEYS:
            value = desired.get(key)
            if value is None:
                continue
            want = None if value == UNSET else value
            if current.get(key) != want:
                changes[key] = want
        after = dict(current, **changes)
        if changes and not any(after.get(key) for key in LEVEL_KEYS):
            raise ValueError("repository rule %s of %s would be left without any access level, which GitLab refuses: to remove "
                             "the rule, use state: absent" % (validate.shown(item["pattern"]), item["registry"]))
        return changes

    def predict_protection_rule(self, action):
        if action.kind == "delete":
            return None
        if action.kind == "update":
            return dict(action.current, **action.changes)
        levels = dict((key, action.desired.get(key)) for key in LEVEL_KEYS)
        return {"registry": action.item["registry"], "kind": action.item["kind"], "pattern": action.item["pattern"], "id": None,
                "minimum_access_level_for_push": None if levels[LEVEL_KEYS[0]] in (None, UNSET) else levels[LEVEL_KEYS[0]],
                "minimum_access_level_for_delete": None if levels[LEVEL_KEYS[1]] in (None, UNSET) else levels[LEVEL_KEYS[1]],
                "immutable": False, "provider_data": {"project_id": None}}

    # -- protection rules: changes -----------------------------------------------------------------
    @staticmethod
    def _rule_refused(item, exc, what):
        """A 422 (pattern taken or invalid, the tag-rule limit) as one clear message naming the rule."""
        if getattr(exc, "status", None) == 422:
            # {"message": {"error": "<Rails full messages>"}}: the text without the "error" key the generic parser puts in front
            message = exc.body.get("message") if isinstance(exc.body, dict) else None
            text = message.get("error") if isinstance(message, dict) and isinstance(message.get("error"), str) else exc.message
            return ValueError("GitLab refused to %s %s rule %s of %s (HTTP 422): %s" % (
                what, item["kind"], validate.shown(item["pattern"]), item["registry"], text))
        return exc

    def create_protection_rule(self, item, desired):
        body = {PATTERN_KEYS[item["kind"]]: item["pattern"]}
        body.update((key, desired[key]) for key in LEVEL_KEYS if desired.get(key) not in (None, UNSET))
        try:
            raw = self.client.json("POST", self._rules_path(item["registry"], item["kind"]), json=body, expected=(200, 201))
        except ApiError as exc:
            raise self._rule_refused(item, exc, "create")
        return self._normalize_rule(raw or {}, item["registry"], item["kind"])

    def update_protection_rule(self, item, current, changes, desired):
        # Only what changes; "" unsets a level.
        body = dict((key, value or "") for key, value in changes.items())
        try:
            raw = self.client.json("PATCH", self._rules_path(item["registry"], item["kind"], current["id"]), json=body)
        except NotFoundError as exc:
            if item["kind"] == "tag":
                exc.message = "%s (tag rule updates need GitLab 18.9 or later; or the rule was deleted meanwhile)" % exc.message
            raise
        except ApiError as exc:
            raise self._rule_refused(item, exc, "update")
        return self._normalize_rule(raw or {}, item["registry"], item["kind"])

    def delete_protection_rule(self, item, current):
        self._delete(self._rules_path(item["registry"], item["kind"], current["id"]), expected=(200, 202, 204))
        return current
