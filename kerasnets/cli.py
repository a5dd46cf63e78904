"""The `kerasnets` command: list the registered networks, describe one, export one.

    kerasnets list [PATTERN] [--family F] [--presets]
    kerasnets info NAME [--input-size H W] [--table] [--json]
    kerasnets export MODEL_OR_FILE --format saved_model|tflite
                     [--quantize float16|dynamic|int8] [--out DIR] [--overwrite] ...
    kerasnets index [--write | --check]
    kerasnets --version

`import kerasnets` imports Keras and TensorFlow (seconds), so the console
script starts in the top-level module `kerasnets_cli` instead, which answers
`--help`, `--version` and `list` without importing the package (see its
docstring): it loads this file by its path, parses the command line with
:func:`make_parser` and prints `list` with :func:`print_models` from the
static index `kerasnets/registry_index.json`. So this module's top level
imports the standard library only; everything else is imported inside the
commands. The index is the live registry (`kerasnets.registry.index`) with
the package version, written by `kerasnets index --write`.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import sys

INDEX_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "registry_index.json")
INDEX_COMMAND = "kerasnets index --write"


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def static_index() -> dict:
    """What `kerasnets index --write` writes to INDEX_FILE: the version and the live registry."""
    import kerasnets
    from kerasnets.registry import index

    return {"generated_by": INDEX_COMMAND, "version": kerasnets.__version__, "models": index()}


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


def print_models(models, pattern=None, family=None, presets=False) -> int:
    """Prints the `models` (entries of the index) that match, one a line; 1 if none does.

    As `kerasnets.list_models`: `pattern` is a case-insensitive glob on the
    names, presets are left out unless `presets`.
    """
    rows = [m for m in models
            if (presets or m["alias_of"] is None)
            and (pattern is None or fnmatch.fnmatchcase(m["name"], pattern.lower()))
            and (family is None or m["family"] == family)]
    if not rows:
        print(f"no registered model matches {pattern or '*'!r}", file=sys.stderr)
        return 1
    width = max(len(m["name"]) for m in rows)
    for m in rows:
        shape = "x".join(str(d) for d in m["input_shape"])
        print(f"{m['name']:<{width}}  {m['family']:<10} {shape:<11} {m['params']:>13,}  "
              f"{m['description']}")
    return 0


def _cmd_list(args) -> int:
    from kerasnets.registry import index

    return print_models(index(), args.pattern, args.family, args.presets)


def _cmd_index(args) -> int:
    live = static_index()
    if args.write:
        text = format_index(live)
        tmp = f"{INDEX_FILE}.tmp-{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, INDEX_FILE)
        print(f"wrote {INDEX_FILE} ({len(live['models'])} models)")
        return 0
    if args.check:
        try:
            stale = read_index() != live
        except (OSError, ValueError):
            stale = True
        if stale:
            print(f"kerasnets index: error: {INDEX_FILE} differs from the registry; run "
                  f"`{INDEX_COMMAND}`", file=sys.stderr)
            return 1
        print(f"{INDEX_FILE} is up to date ({len(live['models'])} models)")
        return 0
    print(format_index(live), end="")
    return 0


def _cmd_info(args) -> int:
    from kerasnets.profile import profile
    from kerasnets.registry import get_spec

    spec = get_spec(args.name)
    kwargs = {}
    if args.input_size:
        h, w = args.input_size
        kwargs["input_shape"] = (h, w, spec.input_shape[2])
        if spec.fixed_input and (h, w) != spec.input_shape[:2]:
            kwargs["include_top"] = False
    model = spec.build(**kwargs)
    prof = profile(model)
    info = spec.info()
    info.update(
        built_input_shape=tuple(model.input_shape[1:]),
        built_parameters=prof.params,
        trainable_parameters=prof.trainable_params,
        multiply_adds=prof.macs,
    )
    if args.json:
        print(json.dumps(info, indent=2, default=list))
        return 0
    paper = spec.paper
    print(f"{spec.name}: {spec.description}")
    print(f"  family        {spec.family}")
    print(f"  paper         {paper.authors} ({paper.year}), \"{paper.title}\"")
    if paper.url:
        print(f"  url           {paper.url}")
    print(f"  input         {'x'.join(map(str, info['built_input_shape']))} "
          f"(default {'x'.join(map(str, spec.input_shape))}, "
          f"minimum {'x'.join(map(str, spec.min_input_shape))})")
    print(f"  classes       {spec.num_classes}")
    print(f"  parameters    {prof.params:,} ({prof.trainable_params:,} trainable)")
    print(f"  multiply-adds {prof.macs:,} ({prof.macs / 1e9:.3f} G)")
    print(f"  preprocessing {spec.preprocessing}")
    if spec.aliases:
        print(f"  aliases       {', '.join(spec.aliases)}")
    if args.table:
        print()
        print(prof.table(only_nonzero=True))
    return 0


EXPORT_SUFFIX = {"float32": "", "float16": "_float16", "dynamic": "_dynamic", "int8": "_int8"}


def export_paths(out, name, fmt, quantize):
    """Where `kerasnets export` writes: DIR/NAME/ (SavedModel), DIR/NAME[_QUANT].tflite."""
    if fmt == "saved_model":
        return [os.path.join(out, name)]
    from kerasnets.export import companion_paths

    path = os.path.join(out, f"{name}{EXPORT_SUFFIX[quantize]}.tflite")
    return [path, *companion_paths(path)]


def _is_file_source(source):
    return source.endswith(".keras") or os.path.isfile(source)


def _export_plan(args):
    """Everything `kerasnets export` decides before the (slow) model load, checked.

    A refused export ends here, before any work: an unknown name, a missing file,
    an existing output without --overwrite, unreadable labels, calibration that
    does not fit the model's training data.
    """
    plan = argparse.Namespace(record=None, spec=None)
    quantize = args.quantize or "float32"
    if args.format == "saved_model" and args.quantize:
        raise ValueError("--quantize applies to --format tflite only")
    if args.calibration is not None and quantize != "int8":
        raise ValueError("--calibration applies to --quantize int8 only")
    if _is_file_source(args.model):
        if not os.path.isfile(args.model):
            raise ValueError(f"no such model file: {args.model}")
        from kerasnets.export.provenance import training_record

        plan.record = training_record(args.model)
        plan.name = os.path.splitext(os.path.basename(args.model))[0]
    else:
        from kerasnets.registry import get_spec

        plan.spec = get_spec(args.model)
        plan.name = plan.spec.name
    plan.quantize = quantize
    plan.targets = export_paths(args.out, plan.name, args.format, quantize)
    if not args.overwrite:
        for path in plan.targets:
            if os.path.lexists(path):
                raise FileExistsError(f"{path} already exists; pass --overwrite to replace it")

    plan.class_names, plan.labels_source = None, None
    if args.labels:
        from kerasnets.export.provenance import read_labels

        if not os.path.isfile(args.labels):
            raise ValueError(f"--labels: no such file {args.labels!r}")
        plan.class_names, plan.labels_source = read_labels(args.labels), args.labels
    elif plan.record is not None and plan.record.class_names is not None:
        plan.class_names = list(plan.record.class_names)
        plan.labels_source = plan.record.labels_path

    plan.calibration = None
    if quantize == "int8":
        plan.calibration = _calibration_plan(args, plan)
    plan.weights = _weights_plan(args, plan)
    return plan


def _calibration_plan(args, plan):
    """("digits" or an .npy path, words for the metadata): the int8 calibration images."""
    chosen = args.calibration
    if chosen is not None and chosen != "digits":
        if not os.path.isfile(chosen):
            raise ValueError(f"--calibration: no such file {chosen!r} (an .npy array of "
                             f"preprocessed images, or 'digits')")
        return chosen, f"{chosen} (--calibration)"
    digits = ("the training split of scikit-learn's handwritten digits "
              "(kerasnets.data.digits), resized to the model's input")
    if chosen == "digits":
        return "digits", f"{digits}; asked for with --calibration digits"
    record = plan.record
    if record is None:
        return "digits", f"{digits}; the default for a registered network"
    if record.data is None:
        return "digits", (f"{digits}; the default, as no training record is beside "
                          f"{args.model} (its training data is unknown)")
    if not record.trained_on_digits:
        raise ValueError(
            f"--calibration is required: {args.model} was trained on {record.data} (recorded "
            f"in {record.config_path}), and int8 ranges calibrated on the digits would not fit "
            "it; pass --calibration FILE.npy (images of that data, preprocessed as the model's "
            "inputs), or --calibration digits to use the digits anyway")
    return "digits", f"{digits}; the model's training data, recorded in {record.config_path}"


def _weights_plan(args, plan):
    """The metadata's `weights` entry: random or trained, and from where."""
    from kerasnets.export.metadata import weights_info

    if plan.spec is None:
        record = plan.record
        if record.data is None:
            return {"random": None, "source": f"{args.model} (no training record beside it)"}
        return weights_info(False, f"{args.model}, trained on {record.data} (recorded in "
                                   f"{record.config_path})")
    chosen = plan.spec.defaults.get("weights")
    if args.weights is not None:
        chosen = None if args.weights == "none" else args.weights
    if chosen is None:
        return weights_info(True, f"random: {plan.name} built from the registry without "
                                  "trained weights")
    return weights_info(False, f"{chosen} (--weights)")


def _load_model(args, plan):
    """The model to export and its preprocessing mode."""
    if plan.spec is None:
        import keras

        from kerasnets.export.metadata import model_preprocessing

        model = keras.saving.load_model(args.model)
        return model, args.preprocessing or model_preprocessing(model)
    spec = plan.spec
    kwargs = {}
    if args.input_size:
        kwargs["input_shape"] = (*args.input_size, spec.input_shape[2])
    if args.classes is not None:
        kwargs["classes"] = args.classes
    if args.weights is not None:
        kwargs["weights"] = None if args.weights == "none" else args.weights
    return spec.build(**kwargs), args.preprocessing or spec.preprocessing


def _calibration_data(source, model, preprocessing):
    if source != "digits":
        import numpy as np

        return np.load(source)
    from kerasnets.data import digits

    height, width, channels = model.inputs[0].shape[1:]
    return digits(image_size=(height, width), channels=channels,
                  preprocessing=preprocessing or "unit").train


def _cmd_export(args) -> int:
    plan = _export_plan(args)
    weights = plan.weights
    if weights["random"]:
        print(f"weights: random ({plan.name} built from the registry, untrained): the export "
              "works, but its outputs mean nothing; pass --weights, or export a trained "
              ".keras file")
    if plan.labels_source is not None and not args.labels:
        print(f"class names: {len(plan.class_names)} from {plan.labels_source}")
    model, preprocessing = _load_model(args, plan)
    from kerasnets.export import export_saved_model, export_tflite

    if args.format == "saved_model":
        result = export_saved_model(model, plan.targets[0], overwrite=args.overwrite,
                                    verify=not args.no_verify, class_names=plan.class_names,
                                    preprocessing=preprocessing, weights=weights)
        inside = ", ".join(["labels.txt"] * (result.labels_path is not None) + ["metadata.json"])
        print(f"wrote SavedModel {result.path} ({result.size_bytes:,} bytes), with {inside} "
              "in it")
    else:
        data, source = None, None
        if plan.calibration is not None:
            chosen, source = plan.calibration
            data = _calibration_data(chosen, model, preprocessing)
        result = export_tflite(model, plan.targets[0], quantize=plan.quantize,
                               representative_data=data, io_dtype=args.io_dtype,
                               class_names=plan.class_names, preprocessing=preprocessing,
                               overwrite=args.overwrite, verify=not args.no_verify,
                               weights=weights, calibration_source=source)
        print(f"wrote TFLite {plan.quantize} {result.path} ({result.size_bytes:,} bytes), "
              f"{result.metadata_path}"
              + (f", {result.labels_path}" if result.labels_path else ""))
        calibration = result.metadata["calibration"]
        if calibration is not None:
            print(f"int8 calibration: {calibration['images']} images of {calibration['source']}")
    check = result.verification
    if check is not None:
        print(f"verified on {check['samples']} inputs: max |difference| "
              f"{check['max_abs_diff']:.3g}, top-1 agreement {check['top1_agreement']:.2%}")
    return 0


def make_parser(version=None) -> argparse.ArgumentParser:
    """The command line of `kerasnets`; `version` for --version (the package's by default)."""
    if version is None:
        from kerasnets import __version__ as version
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
    p_list.set_defaults(func=_cmd_list)

    p_info = sub.add_parser(
        "info", help="paper, input size, parameters and multiply-adds of one network"
    )
    p_info.add_argument("name", help="a registered name or alias")
    p_info.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                        help="count at this input size (default: the paper's)")
    p_info.add_argument("--table", action="store_true",
                        help="also print the per-layer parameters and multiply-adds")
    p_info.add_argument("--json", action="store_true", help="print the facts as JSON")
    p_info.set_defaults(func=_cmd_info)

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
    p_export.set_defaults(func=_cmd_export)

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
    p_index.set_defaults(func=_cmd_index)
    return parser


def run(args) -> int:
    """Runs the parsed command `args`; errors become one line on stderr and an exit code."""
    _quiet_tensorflow()
    from kerasnets.logs import one_line_warnings  # imports the package (Keras, TensorFlow)

    one_line_warnings()
    try:
        return args.func(args)
    except FileExistsError as err:
        print(f"kerasnets {args.command}: error: {err}", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"kerasnets {args.command}: error: {err}", file=sys.stderr)
        return 2


def main(argv=None) -> int:
    _quiet_tensorflow()
    args = make_parser().parse_args(argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
