# -*- coding: utf-8 -*-
# Copyright: (c) 2026, regops.registry contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every file in meta/awx/ is a valid AWX custom credential type whose injectors give the provider what it reads.

``credential_type_<provider>.yml`` is checked against the schema AWX applies to custom credential types
(inputs.fields with id, label and type; required naming fields; injectors of the kinds env, extra_vars
and file referencing only defined fields), then against the provider it is named after:

* environment injectors set exactly environment variables that provider reads (``env_fallbacks``), and
  every required input reaches the provider that way;
* extra variable injectors exist for options that have no environment variable (the ``oci`` registry
  URL), and name the module option each one is meant for in docs/awx.md's ``module_defaults``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import jinja2
import jinja2.meta
import jinja2.sandbox
import pytest
import yaml

from ansible_collections.regops.registry.plugins.module_utils.common import common_argument_spec
from ansible_collections.regops.registry.plugins.module_utils.providers import AVAILABLE, provider_class

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
AWX_DIR = os.path.join(ROOT, "meta", "awx")
FIELD_TYPES = ("string", "boolean")
FIELD_KEYS = {"id", "label", "type", "secret", "help_text", "multiline", "choices", "format", "ask_at_runtime"}
INJECTOR_KINDS = ("env", "extra_vars", "file")
SECRET_WORDS = re.compile(r"(key|password|passwd|secret|token)", re.IGNORECASE)

# The extra variables a credential type may inject, and the module option each one feeds through
# module_defaults (docs/awx.md): only for options the provider cannot read from the environment.
EXTRA_VAR_OPTIONS = {
    "regops_registry_url": "api_url",
    "regops_registry_username": "api_username",
    "regops_registry_password": "api_password",
}


def credential_type_files():
    return sorted(name for name in os.listdir(AWX_DIR) if name.endswith((".yml", ".yaml")))


def load(name):
    with open(os.path.join(AWX_DIR, name)) as handle:
        return yaml.safe_load(handle)


def provider_of(name):
    match = re.match(r"^credential_type_([a-z0-9]+)\.ya?ml$", name)
    assert match, "%s: name it credential_type_<provider>.yml" % name
    return match.group(1)


def templates(injectors):
    """(kind, key, template) for every injector value."""
    for kind in INJECTOR_KINDS:
        for key, value in sorted((injectors.get(kind) or {}).items()):
            yield kind, key, value


def env_vars_read_by(provider):
    return {var for names in provider_class(provider).env_fallbacks.values() for var in names}


@pytest.fixture(params=credential_type_files())
def credential(request):
    return request.param, load(request.param)


def test_there_is_one_per_provider_that_needs_credentials():
    assert {"oci", "gcore"} <= {provider_of(name) for name in credential_type_files()}


def test_each_names_a_provider_that_exists(credential):
    name, _data = credential
    assert provider_of(name) in AVAILABLE, "%s: no provider %s in plugins/module_utils/providers" % (name, provider_of(name))


def test_top_level_layout(credential):
    name, data = credential
    assert set(data) == {"name", "description", "kind", "inputs", "injectors"}, name
    assert isinstance(data["name"], str) and data["name"].strip(), name
    assert "regops.registry" in data["name"], "%s: say which collection the type is for" % name
    assert isinstance(data["description"], str) and data["description"].strip(), name
    assert data["kind"] in ("cloud", "net"), "%s: custom credential types are of kind cloud or net" % name


def test_inputs_are_valid_fields(credential):
    name, data = credential
    inputs = data["inputs"]
    assert set(inputs) <= {"fields", "required"}, name
    fields = inputs["fields"]
    assert isinstance(fields, list) and fields, name
    ids = [field.get("id") for field in fields]
    assert len(ids) == len(set(ids)), "%s: duplicate field ids %s" % (name, ids)
    for field in fields:
        assert set(field) <= FIELD_KEYS, "%s: unknown keys %s" % (name, set(field) - FIELD_KEYS)
        assert re.match(r"^[a-zA-Z_][a-zA-Z0-9_]*$", field["id"]), field
        assert isinstance(field.get("label"), str) and field["label"].strip(), field
        assert field.get("type") in FIELD_TYPES, field
        assert isinstance(field.get("secret", False), bool), field
        assert isinstance(field.get("help_text", ""), str), field
        if field["type"] == "boolean":
            assert not field.get("secret"), field


def test_secrets_are_marked_secret(credential):
    name, data = credential
    for field in data["inputs"]["fields"]:
        looks_secret = bool(SECRET_WORDS.search(field["id"]) or SECRET_WORDS.search(field["label"]))
        assert bool(field.get("secret")) == looks_secret, \
            "%s: field %s must %sbe secret: true" % (name, field["id"], "" if looks_secret else "not ")


def test_required_names_defined_fields(credential):
    name, data = credential
    ids = {field["id"] for field in data["inputs"]["fields"]}
    required = data["inputs"].get("required", [])
    assert isinstance(required, list) and required, name
    assert len(required) == len(set(required)), name
    assert set(required) <= ids, "%s: required names unknown fields %s" % (name, set(required) - ids)


def test_injectors_reference_only_defined_fields(credential):
    name, data = credential
    injectors = data["injectors"]
    assert injectors and set(injectors) <= set(INJECTOR_KINDS), "%s: injector kinds %s" % (name, set(injectors))
    ids = {field["id"] for field in data["inputs"]["fields"]}
    env = jinja2.sandbox.ImmutableSandboxedEnvironment()
    used = set()
    for kind, key, template in templates(injectors):
        assert isinstance(template, str), (name, kind, key)
        names = jinja2.meta.find_undeclared_variables(env.parse(template))
        unknown = names - ids - {"tower", "awx"}
        assert not unknown, "%s: injector %s.%s uses undefined %s" % (name, kind, key, unknown)
        used |= names & ids
        if kind == "env":
            assert re.match(r"^[A-Z_][A-Z0-9_]*$", key), key
            assert not key.startswith("ANSIBLE_"), "%s: AWX refuses env injectors named ANSIBLE_*" % name
    assert used == ids, "%s: fields that reach nothing: %s" % (name, ids - used)


def test_injectors_render_the_inputs(credential):
    """What AWX renders for a job, with every field set."""
    name, data = credential
    inputs = {field["id"]: "value-of-%s" % field["id"] for field in data["inputs"]["fields"]}
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    for kind, key, template in templates(data["injectors"]):
        rendered = env.from_string(template).render(**inputs)
        assert rendered and "value-of-" in rendered, (name, kind, key, rendered)


def test_env_injectors_set_what_the_provider_reads(credential):
    name, data = credential
    provider = provider_of(name)
    injected = set((data["injectors"].get("env") or {}))
    reads = env_vars_read_by(provider)
    assert injected <= reads, "%s: the %s provider does not read %s (it reads %s)" % (name, provider, injected - reads, sorted(reads))
    # every required input reaches the provider through one of the variables it reads
    fields_in_env = set()
    env = jinja2.sandbox.ImmutableSandboxedEnvironment()
    for template in (data["injectors"].get("env") or {}).values():
        fields_in_env |= jinja2.meta.find_undeclared_variables(env.parse(template))
    if injected:
        assert set(data["inputs"]["required"]) <= fields_in_env, name
        # and every credential the provider reads from the environment is injected, but the endpoint override
        credential_vars = {var for option, names in provider_class(provider).env_fallbacks.items() if option != "api_url" for var in names}
        assert credential_vars <= injected, "%s: the %s provider also reads %s" % (name, provider, credential_vars - injected)


def test_extra_var_injectors_feed_module_options(credential):
    name, data = credential
    provider = provider_of(name)
    extra_vars = set((data["injectors"].get("extra_vars") or {}))
    unknown = extra_vars - set(EXTRA_VAR_OPTIONS)
    assert not unknown, "%s: extra variables %s are not documented in docs/awx.md" % (name, unknown)
    spec = common_argument_spec()
    for var in extra_vars:
        option = EXTRA_VAR_OPTIONS[var]
        assert option in spec, option
        # an option the provider reads from the environment is injected as that variable, not as an extra var
        assert option not in provider_class(provider).env_fallbacks, \
            "%s: %s is read from %s; inject it with an env injector" % (name, option, provider_class(provider).env_fallbacks[option])
        if option in provider_class(provider).secret_options:
            template = data["injectors"]["extra_vars"][var]
            fields = {field["id"]: field for field in data["inputs"]["fields"]}
            used = jinja2.meta.find_undeclared_variables(jinja2.sandbox.ImmutableSandboxedEnvironment().parse(template))
            assert all(fields[field].get("secret") for field in used if field in fields), \
                "%s: %s carries a secret from a field that is not secret" % (name, var)


def test_oci_injects_what_module_defaults_needs():
    data = load("credential_type_oci.yml")
    assert provider_class("oci").env_fallbacks == {}, "the oci provider reads environment variables now: inject those instead"
    assert set(data["injectors"]["extra_vars"]) == set(EXTRA_VAR_OPTIONS)
    assert "url" in data["inputs"]["required"]


def test_gcore_injects_exactly_the_gcore_variables():
    data = load("credential_type_gcore.yml")
    assert set(data["injectors"]["env"]) == {"GCORE_API_KEY", "GCORE_CLOUD_PROJECT_ID", "GCORE_CLOUD_REGION_ID"}
    assert "extra_vars" not in data["injectors"]


def test_docs_point_at_every_file():
    with open(os.path.join(ROOT, "docs", "awx.md")) as handle:
        docs = handle.read()
    for name in credential_type_files():
        assert "meta/awx/%s" % name in docs, "docs/awx.md does not mention meta/awx/%s" % name
    for var in EXTRA_VAR_OPTIONS:
        assert var in docs, var
