"""The test tiers: tests/conftest.py marks every test in tests/browser ``browser`` and in tests/notebooks
``notebook`` by folder, so `make test-fast` (``-m "not browser and not notebook and not slow"``) leaves them all
out without anyone remembering a marker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# A plugin for one collection: prints each collected test with the names of its markers.
PROBE = """
import json

def pytest_collection_finish(session):
    print("TIERS " + json.dumps({item.nodeid: sorted({m.name for m in item.iter_markers()}) for item in session.items}))
"""


def test_browser_and_notebook_tests_are_marked_by_folder(tmp_path):
    (tmp_path / "tiers_probe.py").write_text(PROBE, encoding="utf-8")
    path = os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "tiers_probe",
                           "--collect-only", "-q", "tests/browser", "tests/notebooks"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONPATH": path})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    marks = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("TIERS "))[6:])
    browser = {t: m for t, m in marks.items() if t.startswith("tests/browser/")}
    notebook = {t: m for t, m in marks.items() if t.startswith("tests/notebooks/")}
    assert browser and notebook and len(browser) + len(notebook) == len(marks), sorted(marks)
    assert [t for t, m in browser.items() if "browser" not in m or "notebook" in m] == []
    assert [t for t, m in notebook.items() if "notebook" not in m or "browser" in m] == []


def test_every_module_under_tests_has_its_own_name():
    """pytest imports test modules by base name (rootdir-relative folders are not packages here): two files of one
    name in two folders make the second one fail to collect — in the full run only, which the fast tier hides."""
    seen: dict[str, list[str]] = {}
    for path in sorted((ROOT / "tests").rglob("*.py")):
        if path.name != "conftest.py" and "__pycache__" not in path.parts:
            seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    assert {name: paths for name, paths in seen.items() if len(paths) > 1} == {}
