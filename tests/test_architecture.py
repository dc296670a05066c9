"""The house rules, checked statically over tl_widgets/ (AST only: nothing is imported).

- no import cycles between modules;
- imports point down the floors only: core -> views -> panels -> apps;
- the server never imports the CLI (the server raises, the CLI prints);
- environment-variable names are written once (tl_widgets/core/settings.py);
- no file in tl_widgets/ is over 400 lines;
- docs/ARCHITECTURE.md names every module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tl_widgets"
FLOORS = {"core": 0, "views": 1, "panels": 2}  # everything else in tl_widgets is an app (floor 3)
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The tl_widgets modules ``name`` imports (at any depth in the file, lazy imports included)."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".") if is_pkg else name.split(".")[:-1]
                parts = parts[: len(parts) - (node.level - 1)]
                base = ".".join(parts + ([base] if base else []))
            for alias in node.names:
                targets.append(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        found |= {t for t in targets if t in MODULES and t != name}
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _floor(module: str) -> int:
    parts = module.split(".")
    return FLOORS.get(parts[1], 3) if len(parts) > 1 else 3


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_checker_sees_cycles_and_relative_imports():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert "tl_widgets.core.events" in GRAPH["tl_widgets.core.training.session"]


def test_no_import_cycles():
    assert _cycles(GRAPH) == []


def test_imports_point_down_the_floors():
    upward = [f"{a} -> {b}" for a, targets in GRAPH.items() for b in targets
              if a.startswith("tl_widgets.") and _floor(b) > _floor(a) and a != "tl_widgets.__init__"]
    assert upward == []


def test_server_never_imports_cli():
    bad = [f"{a} -> {b}" for a, targets in GRAPH.items() if a.startswith("tl_widgets.server")
           for b in targets if b.startswith("tl_widgets.cli")]
    assert bad == []


def test_environment_variable_names_have_one_owner():
    owner = PACKAGE / "core" / "settings.py"
    stray = []
    for path in PACKAGE.rglob("*.py"):
        if path == owner:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and re.fullmatch(r"TL_WIDGETS_[A-Z_]+", node.value):
                stray.append(f"{path.relative_to(ROOT)}: {node.value}")
    assert stray == []


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_file_over_the_size_guideline(path: Path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (guideline: {MAX_LINES}); split it"


def test_architecture_doc_names_every_module():
    """Every module has its own line (`core/data/loading.py`), every package too (`core/data/`)."""
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    names = [p.relative_to(PACKAGE).as_posix() for p in sorted(PACKAGE.rglob("*.py")) if p.name != "__init__.py"]
    names += [p.parent.relative_to(PACKAGE).as_posix() + "/" for p in sorted(PACKAGE.rglob("__init__.py"))
              if p.parent != PACKAGE]
    missing = [n for n in names if f"`{n}`" not in doc]
    assert missing == [], "docs/ARCHITECTURE.md lacks a line for: " + ", ".join(missing)

