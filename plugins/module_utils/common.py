# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glue between AnsibleModule, the providers and the engine. PRIVATE to the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

try:
    from urllib.parse import quote
except ImportError:  # pragma: no cover
    quote = None

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.regops.registry.plugins.module_utils.api import (
    ApiError,
    HAS_REQUESTS,
    REQUESTS_IMPORT_ERROR,
    UnsupportedError,
    split_api_url,
)
from ansible_collections.regops.registry.plugins.module_utils.providers import PROVIDER_NAMES, provider_class
from ansible_collections.regops.registry.plugins.module_utils import state as engine


def common_argument_spec():
    """The connection options every module shares (documented in the ``regops.registry.connection`` fragment)."""
    return dict(
        provider=dict(type="str", required=True, choices=list(PROVIDER_NAMES)),
        api_url=dict(type="str"),
        oci_url=dict(type="str"),
        api_token=dict(type="str", no_log=True),
        api_username=dict(type="str"),
        api_password=dict(type="str", no_log=True),
        access_key=dict(type="str", no_log=True),
        secret_key=dict(type="str", no_log=True),
        project_id=dict(type="int"),
        region_id=dict(type="int"),
        region=dict(type="str"),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="float", default=30),
        retries=dict(type="int", default=5),
        concurrency=dict(type="int", default=8),
    )


# Shared options that only some providers read (``Provider.connection_options``): any other provider refuses them before
# any request, unless the module's resource takes the option itself (the registry module's region on vultr).
PROVIDER_CONNECTION_OPTIONS = ("access_key", "secret_key", "region")


def split_refs(values, repository, separator, what, registry=None):
    """Items from ``name``/``digest`` values that may be qualified as ``repo:tag`` or ``repo@digest``.

    A plain value needs ``repository``; a qualified one names its own. Values are taken as written: a trailing newline
    or a space (a YAML ``|`` block adds one) is refused by the validators, not trimmed away.
    """
    items = []
    for value in values:
        value = value or ""
        if not value.strip():
            raise ValueError("an empty %s was given" % what)
        repo, name = repository, value
        if separator == ":" and ":" in value:
            repo, name = value.rsplit(":", 1)
        elif separator == "@" and "@" in value:
            repo, name = value.split("@", 1)
        if not repo:
            raise ValueError("%s '%s' names no repository: set 'repository' or write it as 'repository%s%s'" % (what, value, separator, value))
        item = {"repository": repo, ("name" if separator == ":" else "digest"): name}
        if registry:
            item["registry"] = registry
        items.append(item)
    seen, unique = set(), []
    for item in items:
        key = tuple(sorted(item.items()))
        if key not in seen:
            seen.add(key)
            unique.append(item)
    return unique


class RegistryModule:
    """An AnsibleModule with the shared options, a provider and the engine."""

    def __init__(self, argument_spec, **kwargs):
        spec = common_argument_spec()
        spec.update(argument_spec)
        kwargs.setdefault("supports_check_mode", True)
        self.module = AnsibleModule(argument_spec=spec, **kwargs)
        self.params = self.module.params
        self._spec = spec
        # First of all: a password written into api_url must be masked before anything can echo the arguments.
        try:
            self._check_connection_options()
        except ValueError as exc:
            self.module.fail_json(msg=str(exc))
        if not HAS_REQUESTS:
            self.module.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        if not 1 <= self.params["concurrency"] <= 64:
            self.module.fail_json(msg="concurrency must be between 1 and 64, got %s" % self.params["concurrency"])
        if self.params["retries"] < 0:
            self.module.fail_json(msg="retries must be 0 or more, got %s" % self.params["retries"])
        if self.params["timeout"] <= 0:
            self.module.fail_json(msg="timeout must be more than 0 seconds, got %s" % self.params["timeout"])
        self.provider = None

    def set_away_from_default(self, *names):
        """The options among ``names`` the task set to something other than their default: options with a default that
        every provider accepts quietly, but that a provider must support once the task sets them."""
        return [name for name in names if self.params.get(name) != self._spec[name].get("default")]

    def open(self, resource, state=None, info=False, options=(), validate=None):
        """Resolve the provider, check it can do this, validate input, then connect. No request before this returns."""
        error = None
        try:
            cls = provider_class(self.params["provider"])
            self._apply_env_fallbacks(cls)
            self._check_connection_options()
            provider = cls(self.params, warn=self.module.warn)
            self._check_provider_options(provider, resource, options)
            provider.require(resource, state=state, info=info, options=options)
            if validate is not None:
                validate(provider)
            provider.connect()
        except (UnsupportedError, ValueError, ApiError) as exc:
            error = str(exc)
        if error is not None:
            self.module.fail_json(msg=error)
        for secret in getattr(provider, "secrets", ()):
            self.module.no_log_values.add(secret)
        self.provider = provider
        return provider

    def _check_provider_options(self, provider, resource, options):
        """A shared option that the chosen provider does not read fails, before any request, instead of being ignored."""
        unused = [name for name in PROVIDER_CONNECTION_OPTIONS
                  if self.params.get(name) not in (None, "") and name not in getattr(provider, "connection_options", ()) and name not in options]
        if unused:
            raise UnsupportedError("Provider '%s' does not support the option(s) %s for %s (it does not read them: leave them out). "
                                   "Provider '%s' supports: %s." % (provider.name, ", ".join(unused), resource, provider.name, provider.describe()))

    def _check_connection_options(self):
        """``api_url`` is an http(s) URL (credentials written into it become api_username/api_password, masked);
        ``ca_path`` exists. Before any request, with messages that name the option."""
        if self.params.get("api_url") not in (None, ""):
            url, username, password = split_api_url(self.params["api_url"])
            if password:
                self.module.no_log_values.update((password, quote(password, safe="")))
            if username is not None or password is not None:
                if self.params.get("api_username") in (None, ""):
                    self.params["api_username"] = username
                if self.params.get("api_password") in (None, "") and password is not None:
                    self.params["api_password"] = password
            self.params["api_url"] = url
        ca_path = self.params.get("ca_path")
        if ca_path and not os.path.exists(ca_path):
            raise ValueError("ca_path '%s' does not exist: give the path of a PEM CA bundle (or a directory of CA "
                             "certificates) on the host that runs the module" % ca_path)

    def _apply_env_fallbacks(self, cls):
        """Options not set in the task come from the chosen provider's own environment variables only."""
        for option, names in cls.env_fallbacks.items():
            if self.params.get(option) not in (None, ""):
                continue
            for name in names:
                value = os.environ.get(name)
                if value:
                    if option in cls.secret_options:
                        self.module.no_log_values.add(value)
                    spec_type = common_argument_spec().get(option, {}).get("type")
                    if spec_type == "int":
                        try:
                            value = int(value)
                        except ValueError:
                            raise ValueError("environment variable %s must be an integer" % name)
                    self.params[option] = value
                    break

    def ensure(self, resource, items, state, desired=None, skip_if=None, can_create=True, extra=None):
        failure, result = None, None
        try:
            result = engine.ensure(self.provider, resource, items, state, desired or {}, check_mode=self.module.check_mode,
                                   diff_mode=self.module._diff, skip_if=skip_if, can_create=can_create)
        except engine.Failure as exc:
            failure = (exc.msg, exc.result)
        except (ApiError, UnsupportedError, ValueError) as exc:
            failure = (str(exc), {})
        self._close()
        # what the provider reported while it worked (Provider.results), then what the module adds
        extra = dict(self.provider.results or {}, **(extra or {}))
        if failure is not None:
            failure[1].update(extra)
            self.module.fail_json(msg=failure[0], **failure[1])
        result.update(extra)
        self.module.exit_json(**result)

    def info(self, resource, filters, result_key, extra=None):
        """List ``resource`` into ``result_key``; ``extra(resources)`` may add result keys."""
        error, resources = None, None
        try:
            resources = self.provider.list(resource, filters)
        except (ApiError, UnsupportedError, ValueError) as exc:
            error = str(exc)
        self._close()
        if error is not None:
            self.module.fail_json(msg=error)
        result = {result_key: resources}
        result.update(extra(resources) if extra else {})
        self.module.exit_json(changed=False, **result)

    def act(self, action):
        """A module that always changes something (it mints credentials). ``action(check_mode)`` returns the result
        keys; in check mode it only reads (what it would do, nothing secret)."""
        error, result = None, None
        try:
            result = action(self.module.check_mode)
        except (ApiError, UnsupportedError, ValueError) as exc:
            error = str(exc)
        self._close()
        if error is not None:
            self.module.fail_json(msg=error)
        self.module.exit_json(changed=True, **result)

    def fail(self, msg, **kwargs):
        self._close()
        self.module.fail_json(msg=msg, **kwargs)

    def _close(self):
        if self.provider is not None:
            # Secrets a provider met while working (a root password in a read, minted credentials) are masked everywhere.
            for secret in getattr(self.provider, "secrets", ()):
                self.module.no_log_values.add(secret)
            self.provider.close()
