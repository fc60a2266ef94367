"""No module of the package imports, directly or through others, a module that imports it back.

Static: every module is parsed with ``ast`` and every import counts, also those
inside functions, since a lazy import only hides a cycle until someone moves it
to the top. Imports under ``if TYPE_CHECKING:`` never run and do not count.
Importing ``a.b.c`` also runs ``a/b/__init__.py``, so the packages on the way to
a module are edges too, except those the importer is itself inside (already
being imported when it runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import tflite_serenity

PACKAGE = Path(tflite_serenity.__file__).parent
ROOT_NAME = "tflite_serenity"

# (importer, imported) -> why this edge of a cycle stays. Empty is the goal; each entry names its way out.
KNOWN_CYCLES: dict[tuple[str, str], str] = {}


def module_files() -> dict[str, Path]:
    """Module name -> file, for every module of the package (packages by their ``__init__.py``;
    compiled modules by their ``.pyx``, which import nothing of the package)."""
    files = {}
    for path in sorted([*PACKAGE.rglob("*.py"), *PACKAGE.rglob("*.pyx")]):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        files[".".join(parts)] = path
    return files


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except the bodies of ``if TYPE_CHECKING:`` blocks (iterative)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _targets(module: str, is_package: bool, node: ast.AST, modules: set[str]) -> list[str]:
    """The package modules an import statement names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == ROOT_NAME]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    if base.split(".")[0] != ROOT_NAME:
        return []
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def _with_packages(importer: str, target: str) -> list[str]:
    """``target`` and the packages importing it runs, less those ``importer`` is inside of."""
    parts = target.split(".")
    own = set()
    importer_parts = importer.split(".")
    for i in range(1, len(importer_parts)):
        own.add(".".join(importer_parts[:i]))
    chain = [".".join(parts[:i]) for i in range(1, len(parts))]
    return [p for p in chain if p not in own] + [target]


def import_graph() -> dict[str, dict[str, int]]:
    """importer -> {imported module: line of the first import}, over the package's modules."""
    files = module_files()
    names = set(files)
    graph: dict[str, dict[str, int]] = {name: {} for name in files}
    for name, path in files.items():
        if path.suffix != ".py":
            continue
        is_package = path.name == "__init__.py"
        for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _targets(name, is_package, node, names):
                for step in _with_packages(name, target):
                    if step in names and step != name:
                        graph[name].setdefault(step, node.lineno)
    return graph


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's components of more than one module, iteratively, in sorted order."""
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def a_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """One shortest cycle through the component's first module, as ``module:line -> ...``."""
    members, start = set(component), component[0]
    previous = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node]):
            if child == start:
                path = [node]
                while previous[path[-1]] is not None:
                    path.append(previous[path[-1]])
                path.reverse()
                return [f"{m} (line {graph[m][n]})" for m, n in zip(path, path[1:] + [start])] + [start]
            if child in members and child not in previous:
                previous[child] = node
                queue.append(child)
    return component


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    for importer, imported in KNOWN_CYCLES:
        graph[importer].pop(imported, None)
    cycles = [" -> ".join(a_cycle(graph, c)) for c in strongly_connected(graph)]
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_every_known_cycle_is_still_an_import():
    graph = import_graph()
    stale = [edge for edge in KNOWN_CYCLES if edge[1] not in graph.get(edge[0], {})]
    assert stale == [], f"no longer imported, remove from KNOWN_CYCLES: {stale}"


def test_the_scan_sees_function_level_imports_and_packages_on_the_way():
    graph = import_graph()
    assert "tflite_serenity.cli.optimize" in graph["tflite_serenity.cli"]  # imported inside a function
    assert "tflite_serenity.edgetpu" in graph["tflite_serenity.cli.pipeline"]  # runs edgetpu/__init__.py first
    assert strongly_connected({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}) == [["a", "b", "c"]]
