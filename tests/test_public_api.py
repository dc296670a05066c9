"""The public API: ``import tl_widgets`` is light, every exported name loads from the module that defines it, and
the notebooks (the course, the workshop, the packaged apps) and the user docs import only from ``tl_widgets`` and
``tl_widgets.views``: never from ``tl_widgets.core…``, the panels or any other module inside the package.

docs/ARCHITECTURE.md is left out on purpose: it is the map of the inside, for whoever works on the upper floors.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The modules a notebook or a user-facing doc may import from.
PUBLIC = {"tl_widgets", "tl_widgets.views"}
NOTEBOOKS = sorted([*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "tl_widgets" / "app").glob("*.ipynb")])
DOCS = sorted([ROOT / "README.md", *(p for p in (ROOT / "docs").glob("*.md") if p.name != "ARCHITECTURE.md")])

_IMPORT = re.compile(r"(?:^|[\s;\"'(])(?:from\s+(?P<from>tl_widgets(?:\.\w+)*)\s+import\s+(?P<names>[\w\s,()*]+)"
                     r"|import\s+(?P<plain>tl_widgets(?:\.\w+)*(?:\s*,\s*[\w.]+)*))")


def imports(code: str) -> list[tuple[int, str, list[str]]]:
    """``(line number, module, names)`` for each tl_widgets import in ``code`` (any line: Python, or a shell
    line such as ``python -c "from tl_widgets… import …"``); ``names`` is empty for ``import module``."""
    found = []
    for number, line in enumerate(code.splitlines(), 1):
        for m in _IMPORT.finditer(line):
            if m.group("from"):
                names = [n.split(" as ")[0].strip() for n in m.group("names").strip("() ").split(",")]
                found.append((number, m.group("from"), [n for n in names if n]))
            else:
                found += [(number, mod.strip(), []) for mod in m.group("plain").split(",")
                          if mod.strip().startswith("tl_widgets")]
    return found


def _code_cells(path: Path) -> list[tuple[str, str]]:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    out = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] == "code":
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            out.append((f"{path.relative_to(ROOT)} cell {i}", source))
    return out


def _fenced_blocks(path: Path) -> list[tuple[str, str]]:
    """The code blocks of a Markdown file (```…```), each with where it starts."""
    out, block, start = [], None, 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            if block is None:
                block, start = [], number
            else:
                out.append((f"{path.relative_to(ROOT)} line {start}", "\n".join(block)))
                block = None
        elif block is not None:
            block.append(line)
    return out


SOURCES = [src for path in NOTEBOOKS for src in _code_cells(path)] + \
          [src for path in DOCS for src in _fenced_blocks(path)]


def test_the_scanner_finds_internal_imports():
    code = ("import os\nfrom tl_widgets import Studio, train\nfrom tl_widgets.core.config.schema import (DataConfig,\n"
            "import tl_widgets.panels.room as room\nfrom tl_widgets.views import PlotlyChart as Chart\n"
            "!python -c \"from tl_widgets.studio import Studio\"\nimport tl_widgets\n")
    assert imports(code) == [
        (2, "tl_widgets", ["Studio", "train"]), (3, "tl_widgets.core.config.schema", ["DataConfig"]),
        (4, "tl_widgets.panels.room", []), (5, "tl_widgets.views", ["PlotlyChart"]),
        (6, "tl_widgets.studio", ["Studio"]), (7, "tl_widgets", []),
    ]
    assert [m for _, m, _ in imports(code) if m not in PUBLIC] == [
        "tl_widgets.core.config.schema", "tl_widgets.panels.room", "tl_widgets.studio"]


def test_the_sources_are_found():
    names = {p.name for p in NOTEBOOKS}
    assert {"01_first_model.ipynb", "06_evaluate_and_deploy.ipynb", "workshop.ipynb", "studio.ipynb",
            "instructor.ipynb"} <= names, names
    assert sum("tl_widgets" in code for _, code in SOURCES) >= 10


@pytest.mark.parametrize("where,code", SOURCES, ids=[where for where, _ in SOURCES])
def test_notebooks_and_docs_import_only_the_public_api(where, code):
    import tl_widgets
    import tl_widgets.views

    inside = [f"line {n}: {module}" for n, module, _ in imports(code) if module not in PUBLIC]
    assert not inside, (f"Expected imports from {sorted(PUBLIC)} only (export the name from "
                        f"tl_widgets/__init__.py). Received in {where}: {inside}")
    exported = {"tl_widgets": set(tl_widgets.__all__) | {"views"}, "tl_widgets.views": set(tl_widgets.views.__all__)}
    missing = [f"line {n}: {name} from {module}" for n, module, names in imports(code) for name in names
               if name not in exported[module]]
    assert not missing, f"Expected names the public API exports. Received in {where}: {missing}"


def _python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def test_import_tl_widgets_is_light():
    heavy = ("keras", "tensorflow", "jax", "plotly", "ipywidgets", "IPython", "anywidget", "sklearn")
    loaded = json.loads(_python(f"import json, sys, tl_widgets; dir(tl_widgets); "
                                f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))"))
    assert loaded == [], f"Expected `import tl_widgets` to load none of {heavy}. Received: {loaded}"


def test_every_exported_name_loads_from_its_owner():
    """Each name resolves, and (classes and functions) from the module that defines it: a name that moved
    leaves a re-export behind, which this catches, so the map in tl_widgets/__init__.py follows the move."""
    out = json.loads(_python(
        "import inspect, json, tl_widgets\n"
        "from tl_widgets import _LAZY\n"
        "bad = []\n"
        "for name in tl_widgets.__all__:\n"
        "    if name == '__version__': continue\n"
        "    try:\n"
        "        value = getattr(tl_widgets, name)\n"
        "    except Exception as exc:\n"
        "        bad.append(f'{name}: {type(exc).__name__}: {exc}'); continue\n"
        "    module = _LAZY[name].partition(':')[0]\n"
        "    if (inspect.isclass(value) or inspect.isfunction(value)) and value.__module__ != module:\n"
        "        bad.append(f'{name}: defined in {value.__module__}, exported from {module}')\n"
        "print(json.dumps(bad))"))
    assert out == [], "\n".join(out)


def test_the_verbs_and_sub_configs_are_exported():
    import dataclasses

    import tl_widgets
    from tl_widgets.core.config import schema

    parts = {name for name, obj in vars(schema).items()
             if dataclasses.is_dataclass(obj) and obj.__module__ == schema.__name__}  # a new sub-config included
    assert {"TrainConfig", "DataConfig", "ModelConfig", "FreezeConfig", "PhaseConfig"} <= parts
    assert parts - set(tl_widgets.__all__) == set(), f"Expected every config dataclass exported. Received: {parts}"
    verbs = {"train", "evaluate", "export", "find_lr", "check_dataset", "run_label_errors", "child_config",
             "export_curated", "RunStore", "RunFolder", "confusion_figure", "model_graph"}
    assert verbs <= set(tl_widgets.__all__), verbs - set(tl_widgets.__all__)
    assert tl_widgets.evaluate.__name__ == "evaluate_run" and tl_widgets.export.__name__ == "export_run"
