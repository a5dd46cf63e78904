"""`kerasnets --help`, `--version` and `list` answer at once, without importing Keras.

The console script starts in the top-level module `kerasnets_cli` (see its
docstring), which reads the static index `kerasnets/registry_index.json`.
That file must equal the live registry: regenerate it with
`kerasnets index --write` (or `python -m kerasnets.cli index --write`) after
adding or changing a registered model or the version.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from conftest import ROOT, load_script
from kerasnets import cli

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

HEAVY = ("keras", "tensorflow", "jax", "torch", "numpy", "kerasnets")
# Runs the console script's entry point as the installed script does, then reports the
# top-level packages it imported, on the last line of stderr.
WRAPPER = """
import importlib, sys
module, function = sys.argv.pop(1).split(":")
try:
    code = getattr(importlib.import_module(module), function)()
except SystemExit as exit:
    code = exit.code
print("IMPORTED " + " ".join(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr)
sys.exit(code)
"""


def entry_point():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        return tomllib.load(handle)


def run_script(*args):
    """(CompletedProcess, seconds, imported top-level packages) of `kerasnets ARGS`."""
    target = entry_point()["project"]["scripts"]["kerasnets"]
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", WRAPPER, target, *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    seconds = time.perf_counter() - start
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("IMPORTED "), proc.stderr
    proc.stderr = proc.stderr[: proc.stderr.rindex("IMPORTED ")]
    return proc, seconds, set(last.split()[1:])


def test_the_index_file_is_the_live_registry():
    assert cli.read_index() == cli.static_index(), (
        f"{cli.INDEX_FILE} differs from the registry: regenerate it with "
        f"`{cli.INDEX_COMMAND}`")
    index = cli.read_index()
    assert index["generated_by"] == "kerasnets index --write"
    names = [m["name"] for m in index["models"]]
    assert [n for n in names if n.startswith("vgg1")] == [
        "vgg11", "vgg11_lrn", "vgg13", "vgg16", "vgg16_conv1", "vgg19"]
    preset = next(m for m in index["models"] if m["name"] == "mobilenet_v2_0.35_96")
    assert preset["alias_of"] == "mobilenet_v2" and preset["input_shape"] == [96, 96, 3]
    assert preset["params"] == 1_691_208


def test_index_check_and_write(tmp_path, monkeypatch, capsys):
    assert cli.main(["index", "--check"]) == 0
    stale = tmp_path / "registry_index.json"
    stale.write_text(cli.format_index({**cli.static_index(), "version": "0.0.0"}))
    monkeypatch.setattr(cli, "INDEX_FILE", str(stale))
    capsys.readouterr()
    assert cli.main(["index", "--check"]) == 1
    assert "run `kerasnets index --write`" in capsys.readouterr().err
    assert cli.main(["index", "--write"]) == 0
    assert json.loads(stale.read_text()) == cli.static_index()
    assert cli.main(["index", "--check"]) == 0


def test_the_console_script_is_the_light_front_and_ships_the_index():
    config = entry_point()
    assert config["project"]["scripts"]["kerasnets"] == "kerasnets_cli:main"
    assert "kerasnets_cli" in config["tool"]["setuptools"]["py-modules"]
    assert os.path.isfile(os.path.join(ROOT, "kerasnets_cli.py"))
    assert "registry_index.json" in config["tool"]["setuptools"]["package-data"]["kerasnets"]


@pytest.mark.parametrize("args", [
    ["--help"], ["--version"], ["list"], ["list", "vgg1*"], ["list", "--presets", "*0.35_96"],
    ["export", "--help"], ["list", "--family", "nothing"],
])
def test_fast_commands_import_no_keras_and_answer_within_a_second(args):
    best = None
    for _ in range(3):  # the best of three: the machine is shared
        proc, seconds, imported = run_script(*args)
        best = seconds if best is None else min(best, seconds)
    assert proc.returncode == (1 if "nothing" in args else 0), proc.stderr
    assert not imported & set(HEAVY), f"kerasnets {' '.join(args)} imported {imported & set(HEAVY)}"
    print(f"kerasnets {' '.join(args)}: {best:.3f} s")
    assert best < 1.0


def test_fast_answers_equal_the_full_commands(capsys):
    for args in (["list"], ["list", "vgg1*"], ["list", "--presets", "shufflenet*"],
                 ["list", "--family", "alexnet"], ["list", "nothing*"]):
        proc, _, _ = run_script(*args)
        code = cli.main(args)  # the full command, from the live registry
        full = capsys.readouterr()
        assert (proc.returncode, proc.stdout, proc.stderr) == (code, full.out, full.err), args
    proc, _, _ = run_script("--version")
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert proc.stdout == capsys.readouterr().out == "kerasnets 0.1.0\n"
    proc, _, _ = run_script("--help")
    assert proc.stdout == cli.make_parser().format_help()
    assert "--version" in proc.stdout and "list" in proc.stdout and "export" in proc.stdout


def test_list_shows_presets_only_when_asked():
    plain, _, _ = run_script("list", "mobilenet*")
    assert [line.split()[0] for line in plain.stdout.splitlines()] == [
        "mobilenet_v1", "mobilenet_v2"]
    presets, _, _ = run_script("list", "--presets", "mobilenet_v2_0.35_96")
    line, = presets.stdout.splitlines()
    assert "96x96x3" in line and "1,691,208" in line and "11.9M multiply-adds" in line


def test_other_commands_go_to_the_full_cli(capsys):
    front = load_script(os.path.join(ROOT, "kerasnets_cli.py"), "kerasnets_cli_front")
    assert front.main(["info", "lenet5", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["multiply_adds"] == 416_520
    assert front.main(["info", "vgg17"]) == 2
    assert "Unknown model name 'vgg17'" in capsys.readouterr().err
