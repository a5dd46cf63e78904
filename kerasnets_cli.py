"""The `kerasnets` console script: `--help`, `--version` and `list` without importing Keras.

`import kerasnets` imports Keras and TensorFlow (3 to 8 s on a laptop CPU):
it must, so that every custom layer is registered for loading `.keras` files.
`kerasnets.cli` lives inside that package, and Python runs a package's
`__init__` before any of its modules, so a console script pointing at it pays
the import for `--help` too. This top-level module is what the script runs
instead (pyproject.toml: ``kerasnets = "kerasnets_cli:main"``). It never
imports the package:

1. it locates the package folder with `importlib.util.find_spec("kerasnets")`,
   which finds a top-level package without running its `__init__`;
2. it loads `kerasnets/console.py` from there by file path, as a private
   module (that file imports the standard library only), and parses the
   command line with its `make_parser`: `--help` of every command, usage
   errors and `--version` come from the very parser the full command uses;
3. it prints `list` with that module's `print_models` from
   `kerasnets/registry_index.json`, the registry written out as JSON (with
   the package version) by `kerasnets index --write`; tests/test_cli_fast.py
   fails while the file differs from the live registry;
4. every other command (info, export, index) goes to `kerasnets.cli.main`,
   which imports the package.

When the index or the package's console.py cannot be read, every command goes to
`kerasnets.cli.main`: slower, same answers. `python -m kerasnets_cli ...`
runs the same.
"""

from __future__ import annotations

import importlib.util
import os
import sys

FAST_COMMANDS = ("list",)


def _package_folder():
    spec = importlib.util.find_spec("kerasnets")
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def _load_console(folder):
    """`kerasnets/console.py` as a private module, without importing the `kerasnets` package."""
    spec = importlib.util.spec_from_file_location("_kerasnets_console",
                                                  os.path.join(folder, "console.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        folder = _package_folder()
        console = _load_console(folder)
        index = console.read_index()
        parser = console.make_parser(index["version"])
    except (OSError, ValueError, KeyError, TypeError, ImportError, SyntaxError):
        return _full(argv)
    args = parser.parse_args(argv)  # --help, --version and usage errors exit here
    if args.command in FAST_COMMANDS and not getattr(args, "markdown", False):
        return console.print_models(index["models"], args.pattern, args.family, args.presets,
                                    args.pretrained)
    return _full(argv)


def _full(argv) -> int:
    # TensorFlow's C++ start-up notices are noise here; an explicit setting wins.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from kerasnets.cli import main as full_main

    return full_main(argv)


if __name__ == "__main__":
    sys.exit(main())
