"""The emulators and their self-tests import nothing from ansible-core, directly or through what they import: that is
why `make unit-2.18` leaves tests/emulators out (the Makefile runs them once, on 2.19). An import of ansible there
would make them depend on the version under test, and they would have to run on both."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

PROBE = """
import importlib, pathlib, sys
names = sorted("tests.emulators." + p.stem for p in pathlib.Path("tests/emulators").glob("*.py") if p.stem != "__init__")
for name in names:
    importlib.import_module(name)
print(len(names), sorted({m.split(".")[0] for m in sys.modules if m == "ansible" or m.startswith(("ansible.", "ansible_collections"))}))
"""


def test_importing_every_emulator_and_its_tests_loads_no_ansible():
    proc = subprocess.run([sys.executable, "-c", PROBE], cwd=str(REPO), capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    assert proc.returncode == 0, proc.stderr
    count, loaded = proc.stdout.split(" ", 1)
    assert int(count) > 10
    assert loaded.strip() == "[]"
