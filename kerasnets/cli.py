"""The `kerasnets` command: list the registered networks, describe one, export one.

    kerasnets list [PATTERN] [--family F]
    kerasnets info NAME [--input-size H W] [--table] [--json]
    kerasnets export MODEL_OR_FILE --format saved_model|tflite
                     [--quantize float16|dynamic|int8] [--out DIR] [--overwrite] ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _cmd_list(args) -> int:
    from kerasnets.registry import get_spec, list_models

    names = list_models(args.pattern, family=args.family)
    if not names:
        print(f"no registered model matches {args.pattern or '*'!r}", file=sys.stderr)
        return 1
    width = max(len(n) for n in names)
    for name in names:
        spec = get_spec(name)
        shape = "x".join(str(d) for d in spec.input_shape)
        print(f"{name:<{width}}  {spec.family:<10} {shape:<11} {spec.params:>13,}  "
              f"{spec.description}")
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


def _load_model(args):
    """The model to export, its name, preprocessing mode and class names (or None)."""
    source = args.model
    if source.endswith(".keras") or os.path.isfile(source):
        if not os.path.isfile(source):
            raise ValueError(f"no such model file: {source}")
        import keras

        from kerasnets.export.metadata import model_preprocessing

        model = keras.saving.load_model(source)
        name = os.path.splitext(os.path.basename(source))[0]
        return model, name, args.preprocessing or model_preprocessing(model)
    from kerasnets.registry import get_spec

    spec = get_spec(source)
    kwargs = {}
    if args.input_size:
        kwargs["input_shape"] = (*args.input_size, spec.input_shape[2])
    if args.classes is not None:
        kwargs["classes"] = args.classes
    if args.weights is not None:
        kwargs["weights"] = None if args.weights == "none" else args.weights
    return spec.build(**kwargs), spec.name, args.preprocessing or spec.preprocessing


def _calibration_data(args, model, preprocessing):
    if args.calibration != "digits":
        import numpy as np

        if not os.path.isfile(args.calibration):
            raise ValueError(f"--calibration: no such file {args.calibration!r} (an .npy "
                             f"array of preprocessed images, or 'digits')")
        return np.load(args.calibration)
    from kerasnets.data import digits

    height, width, channels = model.inputs[0].shape[1:]
    return digits(image_size=(height, width), channels=channels,
                  preprocessing=preprocessing or "unit").train


def _read_labels(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def _cmd_export(args) -> int:
    # The name is known before the (slow) model build for registered names, so a refused
    # export ends at once; files are checked again at write time.
    if not (args.model.endswith(".keras") or os.path.isfile(args.model)):
        from kerasnets.registry import get_spec

        name = get_spec(args.model).name
    else:
        name = os.path.splitext(os.path.basename(args.model))[0]
    quantize = args.quantize or "float32"
    if args.format == "saved_model" and args.quantize:
        raise ValueError("--quantize applies to --format tflite only")
    targets = export_paths(args.out, name, args.format, quantize)
    if not args.overwrite:
        for path in targets:
            if os.path.lexists(path):
                raise FileExistsError(f"{path} already exists; pass --overwrite to replace it")
    class_names = _read_labels(args.labels) if args.labels else None

    model, name, preprocessing = _load_model(args)
    from kerasnets.export import export_saved_model, export_tflite

    if args.format == "saved_model":
        result = export_saved_model(model, targets[0], overwrite=args.overwrite,
                                    verify=not args.no_verify)
        print(f"wrote SavedModel {result.path} ({result.size_bytes:,} bytes)")
    else:
        data = _calibration_data(args, model, preprocessing) if quantize == "int8" else None
        result = export_tflite(model, targets[0], quantize=quantize, representative_data=data,
                               io_dtype=args.io_dtype, class_names=class_names,
                               preprocessing=preprocessing, overwrite=args.overwrite,
                               verify=not args.no_verify)
        print(f"wrote TFLite {quantize} {result.path} ({result.size_bytes:,} bytes), "
              f"{result.metadata_path}" + (f", {result.labels_path}" if result.labels_path else ""))
    check = result.verification
    if check is not None:
        print(f"verified on {check['samples']} inputs: max |difference| "
              f"{check['max_abs_diff']:.3g}, top-1 agreement {check['top1_agreement']:.2%}")
    return 0


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kerasnets",
        description="The classic image-classification CNNs for Keras 3, faithful to their papers.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="list the registered networks")
    p_list.add_argument("pattern", nargs="?", default=None,
                        help="glob pattern on the names, e.g. 'vgg*'")
    p_list.add_argument("--family", default=None, help="only this family (vgg, alexnet, ...)")
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
        description="Writes DIR/NAME/ (SavedModel) or DIR/NAME[_float16|_dynamic|_int8].tflite "
                    "with NAME.labels.txt and NAME.metadata.json beside it; atomically, "
                    "verified against the Keras model, never over an existing export "
                    "without --overwrite.",
    )
    p_export.add_argument("model", metavar="MODEL_OR_FILE",
                          help="a registered name (built with its defaults) or a .keras file")
    p_export.add_argument("--format", required=True, choices=("saved_model", "tflite"))
    p_export.add_argument("--quantize", choices=("float16", "dynamic", "int8"), default=None,
                          help="TFLite quantization (default: none, float32)")
    p_export.add_argument("--io-dtype", choices=("int8", "uint8", "float32"), default="int8",
                          help="input/output type of an int8 model (default: %(default)s)")
    p_export.add_argument("--calibration", default="digits", metavar="digits|FILE.npy",
                          help="int8 calibration images: an .npy array preprocessed as the "
                               "model's inputs, or the bundled digits resized to the input "
                               "(default: %(default)s)")
    p_export.add_argument("--labels", metavar="FILE",
                          help="class names, one a line, written beside the .tflite file")
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
    return parser


def main(argv=None) -> int:
    _quiet_tensorflow()
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except FileExistsError as err:
        print(f"kerasnets {args.command}: error: {err}", file=sys.stderr)
        return 1
    except ValueError as err:
        print(f"kerasnets {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
