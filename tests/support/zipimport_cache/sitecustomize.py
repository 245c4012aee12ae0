"""Reuse the bytecode of modules imported from zip files (the AnsiballZ payload of every module run) in the e2e tests.

Ansible ships a module with its ``module_utils`` as Python source in a zip; Python compiles that source again in every
module process (zipimport writes no bytecode), about 0.2 CPU-seconds per module run here, the same few files a thousand
times over in the e2e suite. The test harness (``tests/support/ansible_runner.py``) puts this directory on the
``PYTHONPATH`` of ``ansible-playbook`` when ``REGOPS_ZIPIMPORT_CACHE`` names a directory (``make`` sets it under
``build/cache``); the module processes inherit both. The code objects are stored by a hash of the interpreter's cache
tag and the source, and get the file name of the zip they are imported from, so tracebacks name the real file.
Nothing else changes: the source is still read from the zip, so a file missing from the payload still fails to import.

The controller side has the matching cost: ``ansible-playbook`` builds each module's AnsiballZ payload (parsing every
``module_utils`` file it imports to find the next ones, about 0.5 CPU-seconds per module) once per run, in a cache under
its own per-run temporary directory. When ``REGOPS_ANSIBALLZ_DIR`` names a directory, the harness's runs share that
cache instead: the harness creates the directory once per test process (a pytest worker, the demo), so a payload is built
once per module and session, from the sources as they are when the session runs. Only ``module_common``'s view of
``DEFAULT_LOCAL_TMP`` changes; ansible-playbook's other temporary files stay in its own directory.
"""

import hashlib
import marshal
import os
import sys
import zipimport

_CACHE_DIR = os.environ.get("REGOPS_ZIPIMPORT_CACHE")
_compile_source = getattr(zipimport, "_compile_source", None)


def _with_filename(code, filename):
    consts = tuple(_with_filename(c, filename) if isinstance(c, type(code)) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _cached_compile_source(pathname, source):
    key = hashlib.sha256(sys.implementation.cache_tag.encode() + b"\0" + source).hexdigest()
    path = os.path.join(_CACHE_DIR, key)
    try:
        with open(path, "rb") as handle:
            return _with_filename(marshal.load(handle), pathname)
    except (OSError, EOFError, ValueError, TypeError):
        pass
    code = _compile_source(pathname, source)
    try:
        os.makedirs(_CACHE_DIR, exist_ok=True)
        partial = "%s.%d.tmp" % (path, os.getpid())
        with open(partial, "wb") as handle:
            marshal.dump(code, handle)
        os.replace(partial, path)
    except OSError:
        pass
    return code


if _CACHE_DIR and _compile_source is not None:
    zipimport._compile_source = _cached_compile_source


class _SharedLocalTmp:  # pylint: disable=too-few-public-methods
    """``ansible.constants`` as ``module_common`` sees it, with ``DEFAULT_LOCAL_TMP`` the shared AnsiballZ directory."""

    def __init__(self, constants, directory):
        self._constants = constants
        self._directory = directory

    def __getattr__(self, name):
        return self._directory if name == "DEFAULT_LOCAL_TMP" else getattr(self._constants, name)


class _ShareAnsiballzCache:
    """Gives ``ansible.executor.module_common`` its :class:`_SharedLocalTmp` right after it is imported.

    A plain meta path finder: importing ``importlib.abc`` here would cost every module process 70 ms.
    """

    MODULE = "ansible.executor.module_common"

    def __init__(self, directory):
        self.directory = directory

    def find_spec(self, fullname, path=None, target=None):  # pylint: disable=unused-argument
        if fullname != self.MODULE:
            return None
        import importlib.util  # pylint: disable=import-outside-toplevel
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        exec_module = spec.loader.exec_module
        directory = self.directory

        def exec_and_share(module):
            exec_module(module)
            module.C = _SharedLocalTmp(module.C, directory)

        spec.loader.exec_module = exec_and_share
        return spec


_ANSIBALLZ_DIR = os.environ.get("REGOPS_ANSIBALLZ_DIR")
if _ANSIBALLZ_DIR and _ShareAnsiballzCache.MODULE not in sys.modules:
    sys.meta_path.insert(0, _ShareAnsiballzCache(_ANSIBALLZ_DIR))
