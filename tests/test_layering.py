"""The package's import rules (shared/DESIGN.md): imports go one way, floor by floor.

No module of kerasnets imports a private name (`_x`) of another, and the
import graph of kerasnets (every `import`, at the top or inside a function)
has no cycle. Read with `ast` from the sources, so nothing is imported.
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "kerasnets"


def module_name(path, package):
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def private_imports(package=PACKAGE):
    """(importing module, imported module, name) for every `from kerasnets.x import _name`."""
    found = []
    for path in sorted(package.rglob("*.py")):
        here = module_name(path, package)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                    and node.module.startswith("kerasnets") and node.module != here:
                found += [(here, node.module, alias.name) for alias in node.names
                          if alias.name.startswith("_") and not alias.name.startswith("__")]
    return found


def import_graph(package=PACKAGE):
    """{module: the kerasnets modules it imports}, a package's imports of its own children
    left out (importing `kerasnets.data.sources` runs `kerasnets/data/__init__.py` first,
    which is not an edge back up)."""
    paths = {module_name(path, package): path for path in sorted(package.rglob("*.py"))}
    graph = {}
    for here, path in paths.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                while name not in paths and "." in name:
                    name = name.rsplit(".", 1)[0]
                if name in paths and name != here and not name.startswith(here + "."):
                    targets.add(name)
        graph[here] = targets
    return graph


def cycles(graph):
    """The strongly connected components of `graph` with more than one module, sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_import_graph_has_no_cycle():
    assert cycles(import_graph()) == []


def test_the_cycle_check_sees_a_cycle(tmp_path):
    package = tmp_path / "kerasnets"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("from kerasnets import data\n")
    (package / "data" / "__init__.py").write_text("from kerasnets.data.a import f\n")
    (package / "data" / "a.py").write_text("def f():\n    from kerasnets.data import b\n")
    (package / "data" / "b.py").write_text("from kerasnets.data.a import f\n")
    (package / "leaf.py").write_text("import os\n")
    graph = import_graph(package)
    assert graph["kerasnets"] == set()  # its own children: not an edge back up
    assert cycles(graph) == [["kerasnets.data.a", "kerasnets.data.b"]]


def test_no_module_imports_a_private_name_of_another():
    assert private_imports() == []


def test_the_check_sees_a_private_import(tmp_path):
    (tmp_path / "kerasnets").mkdir()
    (tmp_path / "kerasnets" / "a.py").write_text("from kerasnets.b import _hidden, shown\n")
    assert private_imports(tmp_path / "kerasnets") == [("kerasnets.a", "kerasnets.b", "_hidden")]
