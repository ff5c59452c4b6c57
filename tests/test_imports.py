"""No import cycles inside ``mangarec`` (issue 21): found statically with ``ast``, every import
counted (module level, inside functions, under ``if TYPE_CHECKING:``), so a cycle hidden by a
deferred import fails too. The finder is checked both ways on a package made for the purpose."""

from __future__ import annotations

import ast
from pathlib import Path

from mangarec.paths import ROOT


def module_names(package: Path) -> dict[str, Path]:
    """``{dotted name: file}`` of every module of ``package`` (a package's name is its ``__init__``)."""
    out = {}
    for p in sorted(package.rglob("*.py")):
        parts = list(p.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = p
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that ``name`` imports anywhere in its file (``from . import x``
    names the module ``x`` when it is one, else the package)."""
    root = next(iter(modules)).split(".")[0]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base)
    return {m for m in found if m in modules and m != name and m.split(".")[0] == root}


def cycles(package: Path) -> list[list[str]]:
    """The import cycles of ``package``: each strongly connected set of more than one module
    (Tarjan's algorithm, iterative), sorted."""
    modules = module_names(package)
    graph = {n: sorted(imports_of(n, p, modules)) for n, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = len(index)
                stack.append(v)
                on_stack.add(v)
            if i < len(graph[v]):
                work.append((v, i + 1))
                w = graph[v][i]
                if w not in index:
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
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
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return sorted(out)


def test_mangarec_has_no_import_cycle():
    found = cycles(ROOT / "mangarec")
    assert found == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in found)


def test_the_finder_finds_cycles(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .sub import c\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import x\n")
    (pkg / "d.py").write_text("import pkg.a\n")
    assert cycles(pkg) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    (pkg / "sub" / "c.py").write_text("import os\n")
    assert cycles(pkg) == []


def model_modules(package: Path) -> set[str]:
    """The model modules of ``package``'s ``models`` subpackage: those assigning a module-level
    ``SPEC`` (what the registry collects)."""
    out = set()
    for name, path in module_names(package).items():
        if name.split(".")[1:2] != ["models"]:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        targets = [t for n in tree.body if isinstance(n, ast.Assign) for t in n.targets]
        targets += [n.target for n in tree.body if isinstance(n, ast.AnnAssign)]
        if any(isinstance(t, ast.Name) and t.id == "SPEC" for t in targets):
            out.add(name)
    return out


def model_imports(package: Path) -> list[tuple[str, str]]:
    """``(model, other model)`` for every model module importing another model module, anywhere
    in its file (what two models share belongs in a module that is neither)."""
    modules = module_names(package)
    models = model_modules(package)
    return sorted((m, o) for m in models for o in imports_of(m, modules[m], modules) if o in models)


def test_no_model_module_imports_another():
    """Adding or changing a model touches its module: none reaches into another's (issue 21)."""
    assert len(model_modules(ROOT / "mangarec")) >= 10
    found = model_imports(ROOT / "mangarec")
    assert found == [], "model modules importing model modules: " + "; ".join(f"{a} -> {b}" for a, b in found)


def test_the_model_import_check_finds_them(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "models").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models" / "__init__.py").write_text("from . import a, b\n")
    (pkg / "models" / "_shared.py").write_text("def solve(): ...\n")
    (pkg / "models" / "a.py").write_text("from ._shared import solve\nSPEC = object()\n")
    (pkg / "models" / "b.py").write_text("def f():\n    from .a import solve\nSPEC: object = object()\n")
    assert model_modules(pkg) == {"pkg.models.a", "pkg.models.b"}
    assert model_imports(pkg) == [("pkg.models.b", "pkg.models.a")]
    (pkg / "models" / "b.py").write_text("from ._shared import solve\nSPEC = object()\n")
    assert model_imports(pkg) == []


def test_the_client_does_not_import_numba():
    """Reading a published file (the Python client, the reader) needs no JIT: numba costs seconds
    at first import. The builders of the candidate lists import it when they run."""
    import subprocess
    import sys

    code = "import sys, mangarec.client, mangarec.kernel, mangarec.reader.model; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
