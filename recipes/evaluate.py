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

Top-5 accuracy is reported (printed, and "top5" in the JSON) only when there
are more than 5 classes; with 5 or fewer every label is among the top 5, and
"top5" is absent.

Data that does not fit the model is an error, not an accuracy: the model must
score as many classes as the data has (--classes, if given, too), take the
channels its registered name reads images with, and, for the square crops of
center, ten and --scales, a square input. Test scales must be at least the
crop size (center) or the network's smallest input (dense: the registry's
min_input_shape, or the input a fully connected classifier was built for).
A .keras file or --weights file that is truncated or not a Keras file, and a
split without images, are errors too.
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
    from kerasnets.data.sources import SOURCE_FORMS, parse_source

    try:
        parse_source(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {SOURCE_FORMS}; got {text!r}") from None
    return text


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--model", required=True, metavar="FILE|NAME",
        help="a .keras model file, or a registered model name with --weights")
    add("--weights", metavar="FILE", help="weights file for a registered model name")
    add("--classes", type=positive_int, metavar="N",
        help="classes of the registered model; must be those of the data (the default)")
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

    from kerasnets.logs import one_line_warnings

    one_line_warnings()
    from kerasnets import data as kd
    from kerasnets.models.common import load_weights
    from kerasnets.models.weights_file import check_weights_file
    from kerasnets.export.files import write_text
    from kerasnets.data.sources import open_source

    if is_file:
        try:
            check_weights_file(args.model, kind="model file")
        except (ValueError, OSError) as err:
            fail(f"argument --model: {err}")
        try:
            model = keras.saving.load_model(args.model)
        except Exception as err:  # noqa: BLE001  (any unreadable file: one line, not a trace)
            fail(f"argument --model: cannot load {args.model}: {first_line(err)}")
        name = args.registered_as or model.name
    else:
        name = args.model
    spec_option = "--registered-as" if args.registered_as else "--model"
    try:
        spec = kerasnets.get_spec(name)
    except ValueError as err:
        fail(f"argument {spec_option}: {err}")
    channels = spec.input_shape[-1]
    height, width = spec.input_shape[:2]
    if is_file:
        shape = model.input_shape
        if isinstance(shape, list) or len(shape) != 4:
            fail(f"argument --model: the model takes input {shape}, not one batch of images "
                 f"(batch, height, width, channels)")
        # A side of None takes any size: the registered one is used for it.
        height, width = shape[1] or height, shape[2] or width
        if shape[3] != channels:
            fail(f"argument {spec_option}: the model takes {shape[3]}-channel images, but the "
                 f"data are read as {channels}-channel images for {spec.name} (input "
                 f"{'x'.join(map(str, spec.input_shape))}); pass --registered-as the name of a "
                 f"network with {shape[3]}-channel input")
    if height != width and args.crop != "dense":
        fail(f"argument --crop: the model takes {height}x{width} (height x width) images, but "
             f"--crop {args.crop}{' with --scales' if args.scales else ''} evaluates square "
             f"crops: use --crop dense (whole images) or a model with a square input")
    check_scales(args, spec, height, width)

    try:
        source = open_source(args.data, channels=channels,
                             image_size=height if height == width else (height, width))
    except ValueError as err:
        fail(f"argument --data: {err}")
    if int(getattr(source, args.split).cardinality()) == 0:
        sizes = ", ".join(f"{split} {count}" for split, count in source.sizes.items())
        fail(f"argument --split: the {args.split} split of {args.data} has no images "
             f"(images per split: {sizes})")
    classes = source.num_classes
    if not is_file:
        if args.classes and args.classes != classes:
            fail(f"argument --classes: {args.data} has {classes} classes, not {args.classes}: "
                 f"the model's outputs must be the data's classes")
        model = kerasnets.build(spec.name, classes=classes)
        try:
            load_weights(model, args.weights)
        except (ValueError, OSError) as err:
            fail(f"argument --weights: {first_line(err)}")
    outputs = model.output_shape[0] if isinstance(model.output_shape, list) else \
        model.output_shape
    if outputs[-1] != classes:
        fail(f"argument --data: the model scores {outputs[-1]} classes, but {args.data} has "
             f"{classes}: evaluate it on the classes it was trained for")
    if args.crop == "dense":
        model = whole_image_form(model, spec)

    # The digits come at the model's size: no resizing before the centre crop.
    resize = {"resize": height} if args.data == "digits" else {}
    common = {"split": args.split, "image_size": height}
    try:
        if args.crop == "dense":
            result = kd.evaluate_dense(model, spec.name, source, scales=args.scales,
                                       split=args.split)
        elif args.crop == "ten":
            result = kd.evaluate_ten_crop(model, spec.name, source, args.batch_size, **common,
                                          **resize)
        elif args.scales:
            result = kd.evaluate_multi_scale(model, spec.name, source, args.scales,
                                             args.batch_size, **common)
        else:
            result = kd.evaluate_center_crop(model, spec.name, source, args.batch_size,
                                             **common, **resize)
    except ValueError as err:  # the data found wanting once read (every image skipped, ...)
        fail(f"cannot evaluate {args.model} on {args.data}: {first_line(err)}")
    record = {"model": args.model, "registered_as": spec.name, "data": args.data,
              "split": args.split, "crop": args.crop, "scales": list(args.scales or ()),
              "top1": result["top1"]}
    print(f"top-1 accuracy: {result['top1']:.4f}")
    # With 5 classes or fewer every label is among the top 5: no top-5 to report.
    if classes > 5:
        record["top5"] = result["top5"]
        print(f"top-5 accuracy: {result['top5']:.4f}")
    write_text(output, json.dumps(record, indent=2) + "\n")
    print(f"wrote {output}")
    return 0


def first_line(err):
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def check_scales(args, spec, height, width):
    """--scales no smaller than what each view needs: the crop, or the network's smallest input."""
    if not args.scales or args.crop == "ten":
        return
    if args.crop == "dense":
        # A fully connected classifier, made convolutional, needs the map it was built for.
        least = (height, width) if spec.fixed_input else spec.min_input_shape[:2]
        why = (f"the input its fully connected classifier was built for, {least[0]}x{least[1]}"
               if spec.fixed_input else
               f"the smallest input of {spec.name}, {least[0]}x{least[1]}")
    else:
        least = (height, width)
        why = f"the {height}x{width} crop taken at each scale"
    smallest = min(args.scales)
    if smallest < max(least):
        fail(f"argument --scales: {smallest} is below {why}: use test scales (shorter sides) of "
             f"at least {max(least)}")


def whole_image_form(model, spec):
    """`model` in a form that runs on whole images of any size, for dense evaluation.

    A fixed-input network (a flattened map under a fully connected classifier)
    has its classifier made convolutional; any other network with a fixed
    input size is rebuilt on an input of any height and width, with its weights.
    """
    import keras

    from kerasnets.models.convert import fully_convolutional

    shape = model.input_shape
    if shape[1] is None and shape[2] is None:
        return model
    try:
        if spec.fixed_input:
            return fully_convolutional(model)
        whole = keras.models.clone_model(model, input_tensors=keras.Input((None, None, shape[3])))
        whole.set_weights(model.get_weights())
        return whole
    except Exception as err:  # noqa: BLE001  (any layer that needs its input size: one line)
        fail(f"argument --crop: dense evaluation runs the network on whole images, but the "
             f"model takes only {shape[1]}x{shape[2]} images and cannot be rebuilt for any "
             f"size: {first_line(err)}")


if __name__ == "__main__":
    sys.exit(main())
