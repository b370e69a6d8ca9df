"""The dependency rule, checked on the source (pure: ``ast`` over src/torchsetup, nothing imported).

Stages, left to right::

    core < detect < matrix < resolve < (install | verify | doctor) < cli < __main__

*core* is the top-level modules (errors, proc, net, redact, paths, term, records, versions,
``__init__``) plus ``resources/``. A module may import from its own stage and from stages to its
left; install, verify and doctor are siblings and never import each other. ``__main__`` is the
entry point (``python -m torchsetup``, the same thing as the console script): it alone sits
above cli.

What is checked:

- **top-level imports** (anything that runs when the module is imported, including imports in
  ``try``/``if`` blocks and class bodies): direction, and no cycles;
- **function-local imports** (inside a ``def``, the start-up-time idiom): direction too (a lazy
  import is still a dependency), but not cycles: a local import runs after both modules are
  loaded, which is exactly how start-up-sensitive code breaks a load-time cycle;
- ``if TYPE_CHECKING:`` blocks are not checked at all (they never run);
- the scripts in ``resources/`` run in another interpreter, by path: they import nothing from
  torchsetup, in any form.

``from pkg import name`` counts as an edge to ``pkg.name`` when that is a module, else to
``pkg``. The implicit import of a parent package (``import a.b`` runs ``a/__init__``) is not an
edge: a package importing its own children is normal and never a real cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "torchsetup"

LAYERS: dict[str, int] = {
    "core": 0,
    "detect": 1,
    "matrix": 2,
    "resolve": 3,
    "install": 4,
    "verify": 4,
    "doctor": 4,
    "cli": 5,
    "entry": 6,
}
STAGE_PACKAGES = {"detect", "matrix", "resolve", "install", "verify", "doctor", "cli"}
# Run by path in another interpreter (stdlib only).
RESOURCE_SCRIPTS = {"target_probe", "deep_probe", "smoke", "stack_check", "bytecode"}

# Violations that exist today and are being removed on other branches. Each entry names one
# edge (importer, imported, kind) or one cycle (its sorted members); delete the entry when the
# branch that removes it merges. An entry that no longer occurs fails the test (stale).
ALLOWED_EDGES: set[tuple[str, str, str]] = set()
ALLOWED_CYCLES: set[tuple[str, ...]] = set()


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    kind: str  # "top" | "local" | "type-checking"
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return any(
        (isinstance(n, ast.Name) and n.id == "TYPE_CHECKING")
        or (isinstance(n, ast.Attribute) and n.attr == "TYPE_CHECKING")
        for n in ast.walk(test)
    )


def _imports(tree: ast.AST) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement with its kind."""

    def walk(node: ast.AST, kind: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child, kind
            elif isinstance(child, ast.If) and _is_type_checking(child.test):
                for stmt in child.body:
                    yield from walk_stmt(stmt, "type-checking")
                for stmt in child.orelse:
                    yield from walk_stmt(stmt, kind)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                yield from walk(child, "type-checking" if kind == "type-checking" else "local")
            else:
                yield from walk(child, kind)

    def walk_stmt(stmt: ast.stmt, kind: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
        wrapper = ast.Module(body=[stmt], type_ignores=[])
        yield from walk(wrapper, kind)

    yield from walk(tree, "top")


def edges_of(name: str, path: Path, modules: dict[str, Path]) -> list[Edge]:
    is_package = path.name == "__init__.py"
    out: list[Edge] = []
    for node, kind in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join([*base, *([node.module] if node.module else [])])
            else:
                mod = node.module or ""
            for alias in node.names:
                sub = f"{mod}.{alias.name}"
                targets.append(sub if sub in modules else mod)
        out.extend(
            Edge(name, t, kind, node.lineno)
            for t in targets
            if t == "torchsetup" or t.startswith("torchsetup.")
        )
    return out


def all_edges() -> list[Edge]:
    modules = all_modules()
    return [e for name, path in modules.items() for e in edges_of(name, path, modules)]


def stage(module: str) -> str:
    parts = module.split(".")
    if parts == ["torchsetup", "__main__"]:
        return "entry"
    if len(parts) >= 2 and parts[1] in STAGE_PACKAGES:
        return parts[1]
    return "core"


def points_wrong_way(edge: Edge) -> bool:
    a, b = stage(edge.importer), stage(edge.imported)
    if LAYERS[b] > LAYERS[a]:
        return True
    return LAYERS[a] == LAYERS[b] and a != b  # siblings (install | verify | doctor)


def cycles(edges: list[Edge]) -> set[tuple[str, ...]]:
    """Strongly connected components with more than one member (or a self-import)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.importer, set()).add(e.imported)
        graph.setdefault(e.imported, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[tuple[str, ...]] = set()
    counter = 0

    def connect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph[v]:
                found.add(tuple(sorted(component)))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


@pytest.fixture(scope="module")
def edges() -> list[Edge]:
    return all_edges()


def _describe(e: Edge) -> str:
    return f"{e.importer} -> {e.imported} ({e.kind}, line {e.line}: {stage(e.importer)} -> {stage(e.imported)})"


def test_the_walker_sees_the_tree(edges: list[Edge]) -> None:
    # Guards the checks below against passing on an empty or misparsed graph.
    modules = all_modules()
    assert {"torchsetup.cli", "torchsetup.detect.build", "torchsetup.resources"} <= set(modules)
    seen = {(e.importer, e.imported, e.kind) for e in edges}
    assert ("torchsetup.__main__", "torchsetup.cli", "top") in seen
    assert ("torchsetup.cli.install", "torchsetup.resolve.complete", "local") in seen
    assert any(e.kind == "type-checking" for e in edges)
    assert len({e for e in edges if e.kind == "top"}) > 100


def test_no_import_points_rightwards(edges: list[Edge]) -> None:
    bad = [
        e
        for e in edges
        if e.kind != "type-checking"
        and points_wrong_way(e)
        and (e.importer, e.imported, e.kind) not in ALLOWED_EDGES
    ]
    assert not bad, "imports against the stage order:\n" + "\n".join(map(_describe, bad))


def test_no_import_cycles(edges: list[Edge]) -> None:
    found = cycles([e for e in edges if e.kind == "top"]) - ALLOWED_CYCLES
    assert not found, "top-level import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_allowances_are_not_stale(edges: list[Edge]) -> None:
    present = {(e.importer, e.imported, e.kind) for e in edges if points_wrong_way(e)}
    stale_edges = ALLOWED_EDGES - present
    stale_cycles = ALLOWED_CYCLES - cycles([e for e in edges if e.kind == "top"])
    assert not stale_edges and not stale_cycles, (
        "fixed: delete these entries from ALLOWED_EDGES / ALLOWED_CYCLES: "
        f"{sorted(stale_edges)} {sorted(stale_cycles)}"
    )


@pytest.mark.parametrize("script", sorted(RESOURCE_SCRIPTS))
def test_resource_scripts_import_nothing_from_torchsetup(script: str) -> None:
    path = SRC / "resources" / f"{script}.py"
    found = edges_of(f"torchsetup.resources.{script}", path, all_modules())
    assert found == [], f"{path.name} runs in another interpreter by path: {found}"


def test_every_resource_script_is_known() -> None:
    scripts = {p.stem for p in (SRC / "resources").glob("*.py")} - {"__init__"}
    assert scripts == RESOURCE_SCRIPTS


# The checker itself, on small graphs.


def test_cycle_finder() -> None:
    def e(a: str, b: str) -> Edge:
        return Edge(a, b, "top", 1)

    assert cycles([e("a", "b"), e("b", "c"), e("c", "a"), e("c", "d")]) == {("a", "b", "c")}
    assert cycles([e("a", "b"), e("b", "c")]) == set()
    assert cycles([e("a", "a")]) == {("a",)}


@pytest.mark.parametrize(
    ("importer", "imported", "wrong"),
    [
        ("torchsetup.detect.build", "torchsetup.errors", False),
        ("torchsetup.errors", "torchsetup.detect.build", True),
        ("torchsetup.resolve.plan", "torchsetup.matrix.model", False),
        ("torchsetup.matrix.model", "torchsetup.resolve.plan", True),
        ("torchsetup.doctor.fix", "torchsetup.install.session", True),
        ("torchsetup.verify.runner", "torchsetup.doctor", True),
        ("torchsetup.cli.doctor", "torchsetup.doctor.rules", False),
        ("torchsetup.install.session", "torchsetup.install.preflight", False),
        ("torchsetup.resources", "torchsetup.proc", False),
        ("torchsetup.__main__", "torchsetup.cli", False),
        ("torchsetup.cli", "torchsetup.__main__", True),
    ],
)
def test_direction_rule(importer: str, imported: str, wrong: bool) -> None:
    assert points_wrong_way(Edge(importer, imported, "top", 1)) is wrong


def test_kinds_of_import(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import torchsetup.proc\n"
        "try:\n    from torchsetup import errors\nexcept ImportError:\n    pass\n"
        "if TYPE_CHECKING:\n    from torchsetup.detect import build\n"
        "class C:\n    from torchsetup import net\n"
        "    def m(self):\n        from .. import term\n"
    )
    path = tmp_path / "x.py"
    path.write_text(source)
    modules = {"torchsetup.errors": path, "torchsetup.net": path, "torchsetup.term": path}
    found = {(e.imported, e.kind) for e in edges_of("torchsetup.pkg.x", path, modules)}
    assert found == {
        ("torchsetup.proc", "top"),
        ("torchsetup.errors", "top"),
        ("torchsetup.detect", "type-checking"),
        ("torchsetup.net", "top"),
        ("torchsetup.term", "local"),
    }
