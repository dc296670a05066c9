"""The test tiers: tests/conftest.py marks every test in tests/browser ``browser`` and in tests/notebooks
``notebook`` by folder, so `make test-fast` (``-m "not browser and not notebook and not slow"``) leaves them all
out without anyone remembering a marker."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _collect(*args: str) -> list[str]:
    """The test ids pytest collects with ``args`` (from the repository root)."""
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
    assert proc.returncode in (0, 5), proc.stdout[-3000:] + proc.stderr[-3000:]  # 5: nothing collected
    return [line for line in proc.stdout.splitlines() if "::" in line]


def test_browser_and_notebook_tests_are_marked_by_folder():
    every = _collect("tests/browser", "tests/notebooks")
    assert any(t.startswith("tests/browser/") for t in every) and any(t.startswith("tests/notebooks/") for t in every)
    # Each folder's tests carry its marker and only those: together they leave nothing for the fast tier.
    browser = _collect("-m", "browser", "tests/browser", "tests/notebooks")
    notebook = _collect("-m", "notebook", "tests/browser", "tests/notebooks")
    assert browser == [t for t in every if t.startswith("tests/browser/")]
    assert notebook == [t for t in every if t.startswith("tests/notebooks/")]

