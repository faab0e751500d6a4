"""The import graph of ``src/mtlbench``, read statically (``ast``), and its checks.

Every ``import`` of a module of the package counts, at the top of a file or inside a
function (a lazy import still ties the two modules together).  Two checks:

- no cycle between modules;
- imports run one way through the stages (:data:`STAGES`): a module may import modules
  of its own stage or of a lower one, never of a higher one.

``python tests/import_graph.py`` prints the cycles and the upward imports (exit 1 when
there is any); ``tests/test_architecture.py`` runs the same checks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "mtlbench"

# stages, lowest first (DEVELOPERS rule: data -> features -> methods -> similarity ->
# grouping -> report); a module is in the stage of its longest matching prefix
STAGES: list[tuple[str, ...]] = [
    ("mtlbench.errors", "mtlbench.checks", "mtlbench.io", "mtlbench.runinfo", "mtlbench.runstate",
     "mtlbench.gpu", "mtlbench.malloc", "mtlbench.fastexit", "mtlbench.metrics", "mtlbench"),
    ("mtlbench.data",),
    ("mtlbench.features",),
    ("mtlbench.splits",),  # split files: drawn (splits) or from published lists (splits.published)
    ("mtlbench.methods",),
    ("mtlbench.train", "mtlbench.robustness"),
    ("mtlbench.similarity",),
    ("mtlbench.grouping",),
    ("mtlbench.report",),
    ("mtlbench.config",),
    ("mtlbench.cli", "mtlbench.__main__"),
]


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file of the package."""
    out = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports (an ``from X import name`` of a
    submodule ``X.name`` counts as an import of the submodule)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, is_package, node)
            if base.startswith(PACKAGE) and base not in modules:
                raise ImportError(f"{path}:{node.lineno}: imports {base}, no module of the package")
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for name in names:
            while name and name not in modules:  # a name inside a module: the module
                name = name.rpartition(".")[0]
            if name.startswith(PACKAGE) and name != module:
                out.add(name)
    return out


def graph(src: Path = SRC) -> dict[str, set[str]]:
    modules = module_files(src)
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(g.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(g):
        if v not in index:
            visit(v)
    return sorted(out)


def stage(module: str) -> int:
    best, rank = -1, None
    for i, prefixes in enumerate(STAGES):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, rank = len(p), i
    if rank is None:
        raise KeyError(f"{module}: in no stage of tests/import_graph.py STAGES")
    return rank


def upward_imports(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(importer, imported) pairs where a lower stage imports a higher one."""
    return sorted((m, d) for m, deps in g.items() for d in deps if stage(d) > stage(m))


def main() -> int:
    g = graph()
    found = cycles(g)
    up = upward_imports(g)
    for c in found:
        print("cycle: " + " <-> ".join(c))
    for m, d in up:
        print(f"upward: {m} ({stage(m)}) imports {d} ({stage(d)})")
    print(f"{len(g)} modules, {sum(map(len, g.values()))} imports, {len(found)} cycles, {len(up)} upward imports")
    return 1 if found or up else 0


if __name__ == "__main__":
    sys.exit(main())
