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

The controller also compiles the collection's own code from source in every process that loads it: ansible-core's
collection loader never uses bytecode (``_AnsibleCollectionPkgLoaderBase.get_code``), and the filter plugins, which it
loads by path, have no ``__pycache__`` under ``PYTHONDONTWRITEBYTECODE``. Each ansible-playbook worker that templates a
``regops.registry.retention_*`` filter compiles ``module_utils/retention.py`` (about 37 ms) and the filter: about 0.3
CPU-seconds per cleanup role run. The same cache serves both (``REGOPS_ZIPIMPORT_CACHE`` on): source loads without
bytecode (``SourceLoader.source_to_code``) and the collection loader's compile, keyed by the source, named by its file.
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


def _source_to_code(self, data, path, *, _optimize=-1):  # pylint: disable=unused-argument
    """``SourceLoader.source_to_code`` (a source file with no bytecode beside it) through the cache."""
    if _optimize != -1 or not isinstance(data, bytes):
        return _source_to_code.plain(self, data, path, _optimize=_optimize)
    return _cached_compile_source(path, data)


class _PatchOnImport:
    """A meta path finder that calls ``patch(module)`` right after ``name`` is imported, then steps aside.

    A plain finder: importing ``importlib.abc`` here would cost every module process 70 ms.
    """

    def __init__(self, name, patch):
        self.name = name
        self.patch = patch

    def find_spec(self, fullname, path=None, target=None):  # pylint: disable=unused-argument
        if fullname != self.name:
            return None
        import importlib.util  # pylint: disable=import-outside-toplevel
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        exec_module, patch = spec.loader.exec_module, self.patch

        def exec_and_patch(module):
            exec_module(module)
            patch(module)

        spec.loader.exec_module = exec_and_patch
        return spec

    @classmethod
    def install(cls, name, patch):
        if name not in sys.modules:
            sys.meta_path.insert(0, cls(name, patch))


def _cache_collection_code(module):
    """ansible-core's collection loader (``_AnsibleCollectionPkgLoaderBase.get_code``) through the cache."""

    def get_code(self, fullname):
        if not self._compiled_code:  # pylint: disable=protected-access
            filename = self.get_filename(fullname) or "<string>"
            source = self.get_source(fullname)
            if source is None:
                return None
            data = source if isinstance(source, bytes) else source.encode("utf-8")
            self._compiled_code = _cached_compile_source(filename, data)  # pylint: disable=protected-access
        return self._compiled_code  # pylint: disable=protected-access
    module._AnsibleCollectionPkgLoaderBase.get_code = get_code  # pylint: disable=protected-access


if _CACHE_DIR and _compile_source is not None:
    import importlib.machinery  # pylint: disable=wrong-import-position,wrong-import-order
    _source_to_code.plain = importlib.machinery.SourceFileLoader.source_to_code
    importlib.machinery.SourceFileLoader.source_to_code = _source_to_code
    _PatchOnImport.install("ansible.utils.collection_loader._collection_finder", _cache_collection_code)


class _SharedLocalTmp:  # pylint: disable=too-few-public-methods
    """``ansible.constants`` as ``module_common`` sees it, with ``DEFAULT_LOCAL_TMP`` the shared AnsiballZ directory."""

    def __init__(self, constants, directory):
        self._constants = constants
        self._directory = directory

    def __getattr__(self, name):
        return self._directory if name == "DEFAULT_LOCAL_TMP" else getattr(self._constants, name)


_ANSIBALLZ_DIR = os.environ.get("REGOPS_ANSIBALLZ_DIR")
if _ANSIBALLZ_DIR:
    # module_common sees ansible.constants with DEFAULT_LOCAL_TMP the shared directory
    _PatchOnImport.install("ansible.executor.module_common",
                           lambda module: setattr(module, "C", _SharedLocalTmp(module.C, _ANSIBALLZ_DIR)))
