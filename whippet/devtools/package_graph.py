"""The import graph between whippet's packages, read from the source with ``ast``.

Every import counts: at module level, under ``if TYPE_CHECKING:`` and inside
functions (a lazy import is still a dependency, only a later one). Modules are
found below ``whippet/`` through its symlinks, so the names are the ones Python
imports (``whippet.wire.errors``); a package is the second part of a name
(``wire``), or ``procs``/``devtools`` for the modules that live in ``whippet/``
itself, or ``whippet`` for the root module.

``tests/unit/test_import_graph.py`` checks this graph against the declared layers;
docs/ARCHITECTURE.md shows it, drawn by this module between two markers::

    python -m whippet.devtools.package_graph            # rewrite the diagram in the docs
    python -m whippet.devtools.package_graph --check    # exit 1 if the committed one is stale
    python -m whippet.devtools.package_graph --print    # the diagram on stdout
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "BEGIN",
    "END",
    "Import",
    "cycles",
    "imports",
    "main",
    "mermaid",
    "package_edges",
    "package_of",
    "packages",
    "render_into",
]

TOP = "whippet"
REPO = Path(__file__).resolve().parents[2]
DOC = Path("docs") / "ARCHITECTURE.md"
BEGIN = "<!-- package-graph:begin (drawn by python -m whippet.devtools.package_graph) -->"
END = "<!-- package-graph:end -->"


@dataclass(frozen=True, slots=True, order=True)
class Import:
    """One import statement naming a whippet module."""

    importer: str  # the module that imports, e.g. whippet.sdk._core
    imported: str  # the module it names, e.g. whippet.wire.table
    path: str  # the importer's file, relative to the repository
    line: int

    @property
    def edge(self) -> tuple[str, str]:
        """(importing package, imported package)."""
        return package_of(self.importer), package_of(self.imported)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def package_of(module: str) -> str:
    """``whippet.wire.errors`` -> ``wire``, ``whippet.procs`` -> ``procs``, ``whippet`` -> ``whippet``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _modules(root: Path) -> Iterator[tuple[str, Path, bool]]:
    """(dotted name, file, is a package) of every module below ``root/whippet``."""
    base = root / TOP
    for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        parts = [TOP, *Path(dirpath).relative_to(base).parts]
        for name in sorted(filenames):
            if name.endswith(".py"):
                package = name == "__init__.py"
                yield ".".join(parts if package else [*parts, name[:-3]]), Path(dirpath) / name, package


def packages(root: Path = REPO) -> list[str]:
    """Every package, also one that imports no other and that no other imports."""
    return sorted({package_of(name) for name, _, _ in _modules(root)})


def _base(module: str, package: bool, node: ast.ImportFrom) -> str:
    """The module a ``from ... import`` names, relative imports resolved."""
    if node.level == 0:
        return node.module or ""
    parts = module.split(".") if package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def _named(name: str) -> bool:
    return name == TOP or name.startswith(TOP + ".")


def imports(root: Path = REPO) -> list[Import]:
    """Every import of a whippet module by a whippet module, sorted."""
    found = list(_modules(root))
    known = {name for name, _, _ in found}
    out: list[Import] = []
    for module, path, package in found:
        rel = path.relative_to(root).as_posix()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _base(module, package, node)
                # `from whippet.wire import codes` names the module whippet.wire.codes
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
            else:
                continue
            out.extend(Import(module, t, rel, node.lineno) for t in dict.fromkeys(targets) if _named(t))
    return sorted(out)


def package_edges(found: Iterable[Import]) -> dict[tuple[str, str], list[Import]]:
    """(importing package, imported package) -> the imports behind it; no self edges."""
    edges: dict[tuple[str, str], list[Import]] = defaultdict(list)
    for imp in found:
        a, b = imp.edge
        if a != b:
            edges[(a, b)].append(imp)
    return dict(sorted(edges.items()))


def cycles(edges: Iterable[tuple[str, str]]) -> list[list[str]]:
    """The strongly connected groups of more than one package (Tarjan), each sorted."""
    graph: dict[str, list[str]] = defaultdict(list)
    for a, b in edges:
        graph[a].append(b)
        graph.setdefault(b, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(groups)


def _label(package: str) -> str:
    if package == TOP:
        return "whippet/__init__"
    if package in ("procs", "devtools", "tasks"):
        return f"whippet/{package}"
    return f"{package}/"


def mermaid(found: Iterable[Import], names: Iterable[str] = ()) -> str:
    """A mermaid flowchart of ``names`` and the packages in ``found``: an arrow per package
    that imports another, dashed where the two are in a cycle."""
    found = list(found)
    edges = package_edges(found)
    in_cycle = {p for group in cycles(edges) for p in group}
    lines = ["flowchart TD"]
    lines += [f'    {p}["{_label(p)}"]' for p in sorted({*names, *(p for imp in found for p in imp.edge)})]
    for a, b in edges:
        arrow = "-.->|cycle|" if a in in_cycle and b in in_cycle else "-->"
        lines.append(f"    {a} {arrow} {b}")
    return "\n".join(lines) + "\n"


def render_into(text: str, diagram: str) -> str:
    """``text`` with the part between :data:`BEGIN` and :data:`END` replaced by ``diagram``."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise ValueError(f"{DOC} lacks the markers {BEGIN!r} ... {END!r}")
    return f"{head}{BEGIN}\n```mermaid\n{diagram}```\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m whippet.devtools.package_graph", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=REPO, help="the repository (default: this checkout)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help=f"exit 1 if {DOC} shows another graph")
    mode.add_argument("--print", action="store_true", help="print the diagram instead of writing it")
    args = parser.parse_args(argv)
    diagram = mermaid(imports(args.root), packages(args.root))
    if args.print:
        sys.stdout.write(diagram)
        return 0
    doc = args.root / DOC
    text = doc.read_text()
    updated = render_into(text, diagram)
    if args.check:
        if updated != text:
            print(f"{DOC} is stale: run python -m whippet.devtools.package_graph", file=sys.stderr)
            return 1
        return 0
    if updated != text:
        doc.write_text(updated)
        print(f"{DOC}: package graph updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
