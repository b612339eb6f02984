"""No import cycles in the package (issue 15): the graph of every import in budgetnlp/, read from
the source with ``ast`` — module level or inside a function, so a cycle cannot hide behind a
local import — has no cycle.

An edge goes from a module to the module an ``import`` / ``from … import`` statement names (and
to a literal ``__import__("…")`` / ``importlib.import_module("…")``); for ``from P import x`` it
goes to the submodule ``P.x`` when that is a module, else to ``P``. The parent packages Python
initialises on the way are not edges: a submodule's own package is being imported already, and
counting them would make every ``from .sibling import y`` a cycle. Package ``__init__`` modules get
no exception: one that re-exports lazily (``budgetnlp.review.__getattr__`` importing ``.app``) is an
importer like any other, and a module it reaches may not import it back.

The other half of "the package stands on its own" — no module opens a path above budgetnlp/ by
climbing from ``__file__`` — is checked in tests/test_package.py (``escapes``)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .helpers import ROOT

PACKAGE = ROOT / "budgetnlp"


def module_names(package: Path) -> dict[str, Path]:
    """Dotted name → source file of every module under ``package`` (``__init__`` is the package)."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The module ``name`` is, or the innermost one it lies in (an attribute of a module)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _literal_import(node: ast.Call) -> str | None:
    """The module of ``__import__("x.y")`` or ``importlib.import_module("x.y")`` (absolute literals)."""
    func = ast.unparse(node.func)
    if func in ("__import__", "importlib.import_module", "import_module") and node.args:
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and not arg.value.startswith("."):
            return arg.value
    return None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules that module ``name`` (source at ``path``) imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                targets.append(submodule if submodule in modules else source)
        elif isinstance(node, ast.Call) and (literal := _literal_import(node)):
            targets = [literal]
        for target in targets:
            owner = _owner(target, modules)
            if owner is not None and owner != name:
                found.add(owner)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_names(package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as [a, b, …, a], or None (iterative depth-first search)."""
    done: set[str] = set()
    for root in sorted(graph):
        if root in done:
            continue
        path: list[str] = [root]
        on_path = {root}
        stack = [iter(sorted(graph[root]))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif nxt in on_path:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 20 and graph["budgetnlp.extract._indicators"], "the graph was not read"
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_the_extract_modules_are_layered():
    """The issue's layering: _headers imports no extract module, _flat_list only _headers (and
    _blocks), the row finder and the Excel reader stand on both."""
    graph = import_graph()
    extract = {name: {m for m in graph[name] if m.startswith("budgetnlp.extract.")}
               for name in graph if name.startswith("budgetnlp.extract.")}
    assert extract["budgetnlp.extract._headers"] == set()
    assert extract["budgetnlp.extract._flat_list"] <= {"budgetnlp.extract._headers", "budgetnlp.extract._blocks"}
    assert {"budgetnlp.extract._headers", "budgetnlp.extract._flat_list"} <= extract["budgetnlp.extract._indicators"]
    for reader in ("excel", "pdf", "text"):
        assert "budgetnlp.extract._indicators" not in extract[f"budgetnlp.extract.{reader}"], reader


@pytest.mark.parametrize("files, cycle", [
    # a cycle hidden in a function, as _indicators ↔ excel was
    ({"a/__init__.py": "", "a/x.py": "from .y import f", "a/y.py": "def f():\n    from .x import g\n"},
     ["a.x", "a.y", "a.x"]),
    # `from . import m`: the submodule when m is a module, the package when it is a name
    ({"a/__init__.py": "from .m import VALUE", "a/m.py": "from . import other\nVALUE = 1", "a/other.py": ""}, None),
    ({"a/__init__.py": "from .m import VALUE", "a/m.py": "from . import VERSION\nVALUE = 1"}, ["a", "a.m", "a"]),
    # a lazy re-export in a package __init__ is an import like any other
    ({"a/__init__.py": "def __getattr__(n):\n    from .app import make\n    return make",
      "a/app.py": "from . import HINT"}, ["a", "a.app", "a"]),
    # absolute imports, `from ..` and a literal import_module
    ({"a/__init__.py": "", "a/b/__init__.py": "", "a/b/c.py": "from ..d import x", "a/d.py": "import a.b.c"},
     ["a.b.c", "a.d", "a.b.c"]),
    ({"a/__init__.py": "", "a/p.py": "import importlib\nimportlib.import_module('a.q')", "a/q.py": "from a.p import z"},
     ["a.p", "a.q", "a.p"]),
    # a sibling import is no edge to the parent package
    ({"a/__init__.py": "from .s import t", "a/s.py": "from .u import t", "a/u.py": "t = 1"}, None),
])
def test_the_cycle_finder(tmp_path, files, cycle):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert find_cycle(import_graph(tmp_path / "a")) == cycle
