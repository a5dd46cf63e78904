#!/usr/bin/env python
"""Evaluates a model's top-1 and top-5 accuracy as the papers did, and writes them as JSON.

    python recipes/evaluate.py --model savedmodels/lenet5.keras
    python recipes/evaluate.py --model vgg16 --weights vgg16.weights.h5 --data folder:val/ \\
        --crop dense --scales 256,384,512

--model is a .keras file, or a registered name with --weights (a .weights.h5
file for that network built with --classes outputs). --crop: center (the
shorter side resized to size / 0.875, the central crop), ten (four corners,
centre and their mirrors, averaged; AlexNet), dense (the fully convolutional
net on whole images at each scale in --scales, mirrored, averaged; VGG);
with --scales, center becomes VGG's multi-scale evaluation (centre crop and
mirror at each scale Q). The digits are evaluated at the model's input size
without resizing. The result goes to --output (default: beside the model,
NAME.eval.json).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROG = "evaluate.py"


def fail(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(2)


def scales(text):
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"must be positive integers separated by commas; "
                                         f"got {text!r}")
    return values


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def data_source(text):
    if text == "digits" or (text.startswith(("folder:", "tfds:")) and text.split(":", 1)[1]):
        return text
    raise argparse.ArgumentTypeError(f"must be digits, folder:PATH or tfds:NAME; got {text!r}")


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--model", required=True, metavar="FILE|NAME",
        help="a .keras model file, or a registered model name with --weights")
    add("--weights", metavar="FILE", help="weights file for a registered model name")
    add("--classes", type=positive_int, metavar="N",
        help="classes of the registered model (default: those of the data)")
    add("--registered-as", metavar="NAME",
        help="the registered name whose input size and preprocessing a .keras model uses "
             "(default: the model's own name)")
    add("--data", type=data_source, default="digits", metavar="SOURCE",
        help="digits, folder:PATH or tfds:NAME (default: %(default)s)")
    add("--split", choices=("train", "validation", "test"), default="test",
        help="the split to evaluate (default: %(default)s)")
    add("--crop", choices=("center", "ten", "dense"), default="center",
        help="evaluation views (default: %(default)s)")
    add("--scales", type=scales, metavar="Q1,Q2,...",
        help="test scales (shorter side in pixels) for multi-scale or dense evaluation")
    add("--batch-size", type=positive_int, default=32, metavar="N",
        help="images per batch (default: %(default)s)")
    add("--output", metavar="JSON", help="where to write the result (default: NAME.eval.json "
                                         "beside the model)")
    add("--overwrite", action="store_true", help="replace an existing result file")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    is_file = args.model.endswith(".keras")
    if is_file and not os.path.isfile(args.model):
        fail(f"argument --model: {args.model} is not a file")
    if not is_file and not args.weights:
        fail("argument --weights: a registered model name needs a weights file")
    if args.weights and not os.path.isfile(args.weights):
        fail(f"argument --weights: {args.weights} is not a file")
    stem = args.model[: -len(".keras")] if is_file else os.path.splitext(args.weights)[0]
    output = args.output or stem + ".eval.json"
    if os.path.lexists(output) and not args.overwrite:
        fail(f"argument --output: {output} already exists; pass --overwrite to replace it")

    try:
        import kerasnets
    except ImportError:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import kerasnets
    import keras

    import kerasnets.training  # noqa: F401  (registers the optimizers and losses of .keras files)
    from kerasnets import data as kd
    from kerasnets.training.callbacks import _write_atomically
    from kerasnets.training.run import _tfds_splits

    if is_file:
        try:
            model = keras.saving.load_model(args.model)
        except Exception as err:  # noqa: BLE001  (any unreadable file: one line, not a trace)
            fail(f"argument --model: cannot load {args.model}: {str(err).splitlines()[0]}")
        name = args.registered_as or model.name
    else:
        name = args.model
    try:
        spec = kerasnets.get_spec(name)
    except ValueError as err:
        fail(f"argument {'--registered-as' if is_file else '--model'}: {err}")
    size = (model.input_shape[1] if is_file else None) or spec.input_shape[0]
    try:
        if args.data == "digits":
            source = kd.digits(image_size=size, channels=spec.input_shape[-1])
        elif args.data.startswith("folder:"):
            source = kd.image_folder(args.data.split(":", 1)[1], validation_fraction=0.1,
                                     test_fraction=0.1, seed=0)
        else:
            source = _tfds_splits(args.data.split(":", 1)[1])
    except ValueError as err:
        fail(f"argument --data: {err}")
    if not is_file:
        try:
            model = kerasnets.build(spec.name, classes=args.classes or source.num_classes,
                                    fully_convolutional=True) if args.crop == "dense" and \
                spec.fixed_input else kerasnets.build(spec.name,
                                                      classes=args.classes or source.num_classes)
            model.load_weights(args.weights)
        except (ValueError, OSError) as err:
            fail(f"argument --weights: {str(err).splitlines()[0]}")
    # The digits come at the model's size: no resizing before the centre crop.
    resize = {"resize": size} if args.data == "digits" else {}
    common = {"split": args.split, "image_size": size}
    if args.crop == "dense":
        if spec.fixed_input and is_file:
            from kerasnets.models.convert import fully_convolutional

            model = fully_convolutional(model)
        result = kd.evaluate_dense(model, spec.name, source, scales=args.scales,
                                   split=args.split)
    elif args.crop == "ten":
        result = kd.evaluate_ten_crop(model, spec.name, source, args.batch_size, **common,
                                      **resize)
    elif args.scales:
        result = kd.evaluate_multi_scale(model, spec.name, source, args.scales,
                                         args.batch_size, **common)
    else:
        result = kd.evaluate_center_crop(model, spec.name, source, args.batch_size, **common,
                                         **resize)
    record = {"model": args.model, "registered_as": spec.name, "data": args.data,
              "split": args.split, "crop": args.crop, "scales": list(args.scales or ()),
              "top1": result["top1"], "top5": result["top5"]}
    print(f"top-1 accuracy: {result['top1']:.4f}")
    print(f"top-5 accuracy: {result['top5']:.4f}")
    _write_atomically(output, json.dumps(record, indent=2) + "\n")
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
