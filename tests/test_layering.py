"""The package's import rules (shared/DESIGN.md): no private name crosses a module.

Read with `ast` from the sources, so nothing is imported. (The rule that the
import graph has no cycle gets its test once the two remaining cycles, in
training/ and data/, are gone: issue 14.)
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


def test_no_module_imports_a_private_name_of_another():
    assert private_imports() == []


def test_the_check_sees_a_private_import(tmp_path):
    (tmp_path / "kerasnets").mkdir()
    (tmp_path / "kerasnets" / "a.py").write_text("from kerasnets.b import _hidden, shown\n")
    assert private_imports(tmp_path / "kerasnets") == [("kerasnets.a", "kerasnets.b", "_hidden")]
