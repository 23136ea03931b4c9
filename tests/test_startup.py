"""Start-up of ``cli.py``: the cycle collector is off while the libraries load and on, with the
loaded objects frozen, before any work (``lightning_app/launch/allocator.py``)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import gc, runpy, sys
import lightning_app.launch.allocator as allocator

seen = []
real = allocator.keep_freed_memory
def probe():
    seen.append(gc.isenabled())  # as the script left it before turning it on
    return real()
allocator.keep_freed_memory = probe
sys.argv = ["cli.py", "--help"]
try:
    runpy.run_path("cli.py", run_name="__main__")
except SystemExit:
    pass
print("probe", seen, gc.isenabled(), gc.get_freeze_count() > 100000)
"""


def test_script_loads_without_the_collector_and_works_with_it():
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.splitlines()[-1].split() == ["probe", "[False]", "True", "True"]


def test_importing_cli_leaves_the_collector_alone():
    out = subprocess.run(
        [sys.executable, "-c", "import gc, cli; print(gc.isenabled(), gc.get_freeze_count())"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.split() == ["True", "0"]
