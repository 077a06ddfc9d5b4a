"""The packages form layers: no cycles between packages, no import of a higher layer.

Every import counts (module level, ``TYPE_CHECKING`` blocks, function-local), read
with ``ast`` by :mod:`whippet.devtools.package_graph`, which also draws the graph in
docs/ARCHITECTURE.md (the last test keeps that drawing current).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from whippet.devtools import package_graph as pg

ROOT = Path(__file__).resolve().parents[2]

#: package -> the packages it may import. Bottom first:
#: - ``whippet`` (the root module: version constants) and ``wire`` (the sans-IO codec,
#:   which owns every protocol type) import nothing;
#: - ``storage`` (the partition log) and ``metadata`` (the state machine) stand on wire;
#: - ``replication`` ships storage's logs under metadata's placement;
#: - ``node`` is the server process, above every server package;
#: - ``sdk`` is a client: the codec only, so it installs without the server;
#: - ``cli`` is the CLI and the bench tools: the SDK, the codec, the version, and ``procs`` (the
#:   bench starts real node processes by command line, as the tests do; it never
#:   imports server code, so `pip install whippet` stays client-only);
#: - ``procs`` starts node processes by command line and imports nothing;
#: - ``tasks`` (stopping a background asyncio task) imports nothing, so the SDK and the
#:   server packages share it without depending on each other;
#: - ``devtools`` (this graph) reads source files and imports nothing;
#: - ``chaos`` (the fault suite) is a client of a real cluster: it starts nodes through
#:   ``procs``, talks to them with the SDK and the codec, and reads the replicas' logs
#:   from their data dirs with ``storage`` once they are stopped; no server code runs in it.
LAYERS: dict[str, set[str]] = {
    "whippet": set(),
    "wire": set(),
    "storage": {"wire", "tasks"},
    "metadata": {"wire"},
    "replication": {"metadata", "storage", "wire", "tasks"},
    "node": {"replication", "metadata", "storage", "wire", "whippet", "tasks"},
    "sdk": {"wire", "tasks"},
    "cli": {"sdk", "wire", "procs", "whippet"},
    "procs": set(),
    "tasks": set(),
    "devtools": set(),
    "chaos": {"procs", "sdk", "wire", "storage"},
}

#: Known upward imports (importing module, imported module). Empty since replication
#: stopped reaching into node (its needs come in as narrow interfaces); keep it so.
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _violations(found: list[pg.Import], layers: dict[str, set[str]]) -> list[pg.Import]:
    """Imports of a package the importer's layer may not import."""
    return [
        imp for imp in found
        if imp.edge[0] != imp.edge[1] and imp.edge[1] not in layers.get(imp.edge[0], set())
    ]


def _known(imp: pg.Import) -> bool:
    return (imp.importer, imp.imported) in KNOWN_UPWARD


FOUND = pg.imports(ROOT)


def test_every_package_has_a_declared_layer() -> None:
    assert set(pg.packages(ROOT)) == set(LAYERS), "place a new package in LAYERS (and say why)"


def test_the_declared_layers_have_no_cycle() -> None:
    assert pg.cycles((a, b) for a, allowed in LAYERS.items() for b in allowed) == []


def test_no_package_imports_a_higher_layer() -> None:
    upward = [str(imp) for imp in _violations(FOUND, LAYERS) if not _known(imp)]
    assert upward == [], "upward imports:\n" + "\n".join(upward)


def test_no_cycle_between_packages_but_the_known_one() -> None:
    edges = pg.package_edges(imp for imp in FOUND if not _known(imp))
    assert pg.cycles(edges) == []


def test_known_upward_imports_still_exist() -> None:
    """Delete an entry of KNOWN_UPWARD once its import is gone, so the set shrinks."""
    present = {(imp.importer, imp.imported) for imp in FOUND}
    assert KNOWN_UPWARD - present == set()


def test_the_committed_diagram_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "whippet.devtools.package_graph", "--check"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


# --- the reader itself, on a made-up tree: it must see every kind of import ------------


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "whippet" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return tmp_path


def test_reader_sees_type_checking_local_and_relative_imports(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "__init__.py": "",
        "procs.py": "import os\n",
        "wire/__init__.py": "",
        "wire/codes.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from whippet.sdk import client\n",
        "wire/frames.py": "def f():\n    import whippet.node.server as s\n    return s\n",
        "wire/errors.py": "from . import codes\nfrom .. import procs\n",
        "sdk/__init__.py": "from whippet.wire import codes, frames\n",
        "sdk/client.py": "from ..wire.errors import X\n",
        "node/__init__.py": "",
        "node/server.py": "",
    })
    got = {(i.importer, i.imported, i.line) for i in pg.imports(root)}
    assert got == {
        ("whippet.wire.codes", "whippet.sdk.client", 3),
        ("whippet.wire.frames", "whippet.node.server", 2),
        ("whippet.wire.errors", "whippet.wire.codes", 1),
        ("whippet.wire.errors", "whippet.procs", 2),
        ("whippet.sdk", "whippet.wire.codes", 1),
        ("whippet.sdk", "whippet.wire.frames", 1),
        ("whippet.sdk.client", "whippet.wire.errors", 1),
    }
    layers = {"whippet": set(), "procs": set(), "wire": set(), "sdk": {"wire"}, "node": {"wire"}}
    bad = {(i.importer, i.imported) for i in _violations(pg.imports(root), layers)}
    assert bad == {
        ("whippet.wire.codes", "whippet.sdk.client"),
        ("whippet.wire.frames", "whippet.node.server"),
        ("whippet.wire.errors", "whippet.procs"),
    }
    assert pg.cycles(pg.package_edges(pg.imports(root))) == [["sdk", "wire"]]
    assert pg.packages(root) == ["node", "procs", "sdk", "whippet", "wire"]


def test_diagram_marks_cycles_and_lands_between_the_markers() -> None:
    found = [pg.Import("whippet.a.x", "whippet.b.y", "a/x.py", 1), pg.Import("whippet.b.y", "whippet.a.x", "b/y.py", 1),
             pg.Import("whippet.b.y", "whippet.wire", "b/y.py", 2)]
    diagram = pg.mermaid(found, ["devtools"])
    assert "    a -.->|cycle| b\n" in diagram and "    b --> wire\n" in diagram
    assert '    devtools["whippet/devtools"]\n' in diagram
    doc = f"intro\n{pg.BEGIN}\nold\n{pg.END}\nrest\n"
    assert pg.render_into(doc, diagram) == f"intro\n{pg.BEGIN}\n```mermaid\n{diagram}```\n{pg.END}\nrest\n"
