"""The light layer of the `kerasnets` command: its parser, the static index, `list`.

The console script starts in the top-level module `kerasnets_cli` (see its
docstring), which must answer `--help`, `--version` and `list` without
importing Keras: it loads this file by its path, without importing the
package, parses the command line with :func:`make_parser` and prints `list`
with :func:`print_models` from the static index
`kerasnets/registry_index.json` (the live registry with the package version,
written by `kerasnets index --write`). So this module imports the standard
library only. :mod:`kerasnets.cli` runs the commands with the same parser.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys

__all__ = ["INDEX_FILE", "INDEX_COMMAND", "format_index", "read_index", "print_models",
           "make_parser"]

INDEX_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "registry_index.json")
INDEX_COMMAND = "kerasnets index --write"


def format_index(data) -> str:
    """The index as JSON text, one model a line (short diffs when a model changes)."""
    head = {key: value for key, value in data.items() if key != "models"}
    lines = [f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}," for key, value
             in head.items()]
    models = ",\n".join(f"  {json.dumps(m, ensure_ascii=False)}" for m in data["models"])
    return "{\n" + "\n".join(lines) + '\n "models": [\n' + models + "\n ]\n}\n"


def read_index(path=None) -> dict:
    """The static index (INDEX_FILE by default)."""
    with open(path or INDEX_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def print_models(models, pattern=None, family=None, presets=False, pretrained=False) -> int:
    """Prints the `models` (entries of the index) that match, one a line; 1 if none does.

    As `kerasnets.list_models`: `pattern` is a case-insensitive glob on the
    names, presets are left out unless `presets`; `pretrained` keeps the
    networks with published weights and prints their tags.
    """
    rows = [m for m in models
            if (presets or m["alias_of"] is None)
            and (pattern is None or fnmatch.fnmatchcase(m["name"], pattern.lower()))
            and (family is None or m["family"] == family)
            and (not pretrained or m.get("weights"))]
    if not rows:
        what = "with published weights " if pretrained else ""
        print(f"no registered model {what}matches {pattern or '*'!r}", file=sys.stderr)
        return 1
    width = max(len(m["name"]) for m in rows)
    for m in rows:
        shape = "x".join(str(d) for d in m["input_shape"])
        last = f"weights: {', '.join(m['weights'])}" if pretrained else m["description"]
        print(f"{m['name']:<{width}}  {m['family']:<10} {shape:<11} {m['params']:>13,}  {last}")
    return 0


def make_parser(version) -> argparse.ArgumentParser:
    """The command line of `kerasnets`; `version` for --version."""
    parser = argparse.ArgumentParser(
        prog="kerasnets",
        description="The classic image-classification CNNs for Keras 3, faithful to their papers.",
    )
    parser.add_argument("--version", action="version", version=f"kerasnets {version}")
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="list the registered networks")
    p_list.add_argument("pattern", nargs="?", default=None,
                        help="glob pattern on the names, e.g. 'vgg*'")
    p_list.add_argument("--family", default=None, help="only this family (vgg, alexnet, ...)")
    p_list.add_argument("--presets", action="store_true",
                        help="also the presets (mobilenet_v2_0.35_96, shufflenet_v1_g8_0.5, ...)")

    p_list.add_argument("--pretrained", action="store_true",
                        help="only the networks with published weights, with their tags")
    p_list.add_argument("--markdown", action="store_true",
                        help="with --pretrained: the weights table (network, tag, source, "
                             "top-1, licence) in Markdown, as README.md has it")
    p_info = sub.add_parser(
        "info", help="paper, input size, parameters and multiply-adds of one network"
    )
    p_info.add_argument("name", help="a registered name or alias")
    p_info.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                        help="count at this input size (default: the paper's)")
    p_info.add_argument("--table", action="store_true",
                        help="also print the per-layer parameters and multiply-adds")
    p_info.add_argument("--json", action="store_true", help="print the facts as JSON")

    p_export = sub.add_parser(
        "export", help="write a registered network or a .keras file as SavedModel or TFLite",
        description="Writes DIR/NAME/ (SavedModel, with labels.txt and metadata.json in it) or "
                    "DIR/NAME[_float16|_dynamic|_int8].tflite with NAME.labels.txt and "
                    "NAME.metadata.json beside it; atomically, verified against the Keras "
                    "model, never over an existing export without --overwrite. The class "
                    "names of a .keras file written by recipes/train.py are the ones its run "
                    "recorded beside it.",
    )
    p_export.add_argument("model", metavar="MODEL_OR_FILE",
                          help="a registered name (built with its defaults: random weights "
                               "unless --weights) or a .keras file")
    p_export.add_argument("--format", required=True, choices=("saved_model", "tflite"))
    p_export.add_argument("--quantize", choices=("float16", "dynamic", "int8"), default=None,
                          help="TFLite quantization (default: none, float32)")
    p_export.add_argument("--io-dtype", choices=("int8", "uint8", "float32"), default="int8",
                          help="input/output type of an int8 model (default: %(default)s)")
    p_export.add_argument("--calibration", default=None, metavar="digits|FILE.npy",
                          help="int8 calibration images: an .npy array preprocessed as the "
                               "model's inputs, or the bundled digits resized to the input "
                               "(the default, except for a .keras file whose training run "
                               "recorded other data: then required)")
    p_export.add_argument("--labels", metavar="FILE",
                          help="class names, one a line, written with the export (default: "
                               "the ones the training run of a .keras file recorded)")
    p_export.add_argument("--preprocessing", choices=("caffe", "tf", "torch", "unit"),
                          help="preprocessing mode to record (default: the registry's)")
    p_export.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                          help="build a registered network at this input size")
    p_export.add_argument("--classes", type=int, help="build with this many classes")
    p_export.add_argument("--weights", help="build with these weights ('imagenet', a file, "
                                            "or 'none'; default: the builder's)")
    p_export.add_argument("--out", default="savedmodels", metavar="DIR",
                          help="output folder (default: %(default)s)")
    p_export.add_argument("--overwrite", action="store_true",
                          help="replace an existing export")
    p_export.add_argument("--no-verify", action="store_true",
                          help="skip running the export against the Keras model")

    p_convert = sub.add_parser(
        "convert",
        help="convert a published PyTorch checkpoint to a Keras .weights.h5 file",
        description="Loads the checkpoint a weights tag names (downloaded, or --checkpoint FILE) "
                    "and writes OUT/NAME.TAG.weights.h5 with NAME.TAG.json (sha256, source, "
                    "the build arguments that load it): the file then loads without torch.",
    )
    p_convert.add_argument("name", help="a registered network")
    p_convert.add_argument("--weights", default="imagenet", metavar="TAG",
                           help="the tag (`kerasnets info NAME` lists them; default: imagenet)")
    p_convert.add_argument("--checkpoint", metavar="FILE",
                           help="a local copy of the source's file, instead of downloading it")
    p_convert.add_argument("--out", default="converted", metavar="DIR",
                           help="output folder (default: converted)")
    p_convert.add_argument("--overwrite", action="store_true",
                           help="replace existing files of the same name")
    p_index = sub.add_parser(
        "index", help="the registry as JSON, as the fast `list` reads it (maintainers)",
        description=f"Prints the static index of the registry that `kerasnets --help`, "
                    f"`--version` and `list` read without importing Keras; --write "
                    f"regenerates {os.path.basename(INDEX_FILE)} after a model is added or "
                    f"changed, --check fails when it differs from the registry.",
    )
    action = p_index.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"rewrite {INDEX_FILE}")
    action.add_argument("--check", action="store_true",
                        help="exit 1 when the file differs from the registry")
    return parser
