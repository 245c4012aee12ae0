"""Reuse the bytecode of modules imported from zip files (the AnsiballZ payload of every module run) in the e2e tests.

Ansible ships a module with its ``module_utils`` as Python source in a zip; Python compiles that source again in every
module process (zipimport writes no bytecode), about 0.2 CPU-seconds per module run here, the same few files a thousand
times over in the e2e suite. The test harness (``tests/support/ansible_runner.py``) puts this directory on the
``PYTHONPATH`` of ``ansible-playbook`` when ``REGOPS_ZIPIMPORT_CACHE`` names a directory (``make`` sets it under
``build/cache``); the module processes inherit both. The code objects are stored by a hash of the interpreter's cache
tag and the source, and get the file name of the zip they are imported from, so tracebacks name the real file.
Nothing else changes: the source is still read from the zip, so a file missing from the payload still fails to import.
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
