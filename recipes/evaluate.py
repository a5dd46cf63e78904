#!/usr/bin/env python
"""Evaluates a model's top-1 and top-5 error and accuracy as the papers did, and writes them as JSON.

    python recipes/evaluate.py --model savedmodels/lenet5.keras
    python recipes/evaluate.py --model vgg16 --weights vgg16.weights.h5 --data folder:val/ \\
        --crop dense --scales 256,384,512
    python recipes/evaluate.py --model vgg16_s256.keras --model vgg16_s384.keras \\
        --data folder:val/ --crop multi+dense

--model is a .keras file, or a registered name with --weights (a .weights.h5
file for that network built with --classes outputs). Repeated, --model names
an ensemble of .keras files, all registered as the same network and taking
the same input: their softmax outputs are averaged (AlexNet's and VGG's
ensembles; a model of logits has the softmax applied first). --crop: center
(the shorter side resized to size / 0.875, the central crop), ten (four
corners, centre and their mirrors, averaged; AlexNet), multi (VGG's
multi-crop: at each test scale Q a 5x5 grid of crops and their mirrors, 150
crops for three scales, averaged), dense (the fully convolutional net on
whole images at each scale, mirrored, averaged; VGG), multi+dense (the
averaged softmax of multi and dense; VGG's Table 5, best rows). --scales
gives the test scales: for multi and multi+dense VGG's Q = 256, 384, 512
(scaled by the input size / 224) by default, for dense one scale (size /
0.875); with --scales, center becomes VGG's multi-scale evaluation (centre
crop and mirror at each scale Q). The digits are evaluated at the model's
input size without resizing for center and ten. For multi and multi+dense
--batch-size counts crops (the most the model scores at once). The result
goes to --output (default: beside the model, NAME.eval.json; beside the
first model of an ensemble, NAME.ensemble.eval.json).

Top-1 and top-5 error are reported as the papers' tables give them
("top1_error", "top5_error" in the JSON), with the accuracies ("top1",
"top5"). Top-5 is reported only when there are more than 5 classes; with 5
or fewer every label is among the top 5, and "top5" and "top5_error" are
absent.

Data that does not fit the model is an error, not an accuracy: the model must
score as many classes as the data has (--classes, if given, too), take the
channels its registered name reads images with, and, for the square crops of
center, ten, multi and --scales, a square input. Test scales must be at
least the crop size (center, multi) or the network's smallest input (dense:
the registry's min_input_shape, or the input a fully connected classifier
was built for; multi+dense: both). A .keras file or --weights file that is
truncated or not a Keras file, a model of an ensemble registered as another
network or taking another input, and a split without images, are errors
too, naming the file.
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
    from kerasnets.data.sources import source_argument  # imported when --data is given

    return source_argument(text)


CROPS = ("center", "ten", "multi", "dense", "multi+dense")
# --crop -> the library's method (kerasnets.data.ENSEMBLE_METHODS); center with --scales
# is multi_scale.
METHODS = {"center": "center", "ten": "ten_crop", "multi": "multi_crop", "dense": "dense",
           "multi+dense": "multi_crop+dense"}


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--model", required=True, action="append", metavar="FILE|NAME",
        help="a .keras model file, or a registered model name with --weights; repeat it for "
             "an ensemble of .keras files (their softmax averaged)")
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
    add("--crop", choices=CROPS, default="center",
        help="evaluation views (default: %(default)s)")
    add("--scales", type=scales, metavar="Q1,Q2,...",
        help="test scales (shorter side in pixels) for multi-scale, multi-crop or dense "
             "evaluation")
    add("--batch-size", type=positive_int, default=32, metavar="N",
        help="images per batch; crops per model call for multi and multi+dense "
             "(default: %(default)s)")
    add("--output", metavar="JSON", help="where to write the result (default: NAME.eval.json "
                                         "beside the model, NAME.ensemble.eval.json beside "
                                         "the first model of an ensemble)")
    add("--overwrite", action="store_true", help="replace an existing result file")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    paths = args.model
    ensemble = len(paths) > 1
    first = paths[0]
    is_file = first.endswith(".keras")
    if ensemble:
        for path in paths:
            if not path.endswith(".keras"):
                fail(f"argument --model: an ensemble averages .keras files (each carries its "
                     f"weights); {path} is not one")
        if args.weights:
            fail("argument --weights: an ensemble averages .keras files, which carry their "
                 "weights; --weights goes with one registered model name")
    for path in paths if is_file else ():
        if not os.path.isfile(path):
            fail(f"argument --model: {path} is not a file")
    if not is_file and not args.weights:
        fail("argument --weights: a registered model name needs a weights file")
    if args.weights and not os.path.isfile(args.weights):
        fail(f"argument --weights: {args.weights} is not a file")
    stem = first[: -len(".keras")] if is_file else os.path.splitext(args.weights)[0]
    output = args.output or stem + (".ensemble.eval.json" if ensemble else ".eval.json")
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
    from kerasnets.data.transforms import default_scales

    models = []
    for path in paths if is_file else ():
        try:
            check_weights_file(path, kind="model file")
        except (ValueError, OSError) as err:
            fail(f"argument --model: {err}")
        try:
            models.append(keras.saving.load_model(path))
        except Exception as err:  # noqa: BLE001  (any unreadable file: one line, not a trace)
            fail(f"argument --model: cannot load {path}: {first_line(err)}")
    name = args.registered_as or (models[0].name if is_file else first)
    for path, model in zip(paths[1:], models[1:]):
        if not args.registered_as and model.name != name:
            fail(f"argument --model: {path} is registered as {model.name!r}, but {first} as "
                 f"{name!r}: an ensemble's models are one network (pass --registered-as to "
                 f"evaluate them as one)")
        if tuple(model.input_shape) != tuple(models[0].input_shape):
            fail(f"argument --model: {path} takes input {model.input_shape}, but {first} "
                 f"takes {models[0].input_shape}: an ensemble's models take the same input")
    spec_option = "--registered-as" if args.registered_as else "--model"
    try:
        spec = kerasnets.get_spec(name)
    except ValueError as err:
        fail(f"argument {spec_option}: {err}")
    channels = spec.input_shape[-1]
    height, width = spec.input_shape[:2]
    if is_file:
        shape = models[0].input_shape
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
    test_scales = args.scales
    if test_scales is None and args.crop in ("multi", "multi+dense"):
        test_scales = default_scales(height)

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
        models = [model]
    for path, model in zip(paths, models):
        outputs = model.output_shape[0] if isinstance(model.output_shape, list) else \
            model.output_shape
        if outputs[-1] != classes:
            which = f"{path} scores" if ensemble else "the model scores"
            fail(f"argument --data: {which} {outputs[-1]} classes, but {args.data} has "
                 f"{classes}: evaluate it on the classes it was trained for")
    if args.crop in ("dense", "multi+dense"):
        # Made (and checked) here, so that a model that cannot be rebuilt is a --crop error.
        wholes = [whole_image_form(model, spec, path) for path, model in zip(paths, models)]
        if args.crop == "dense":
            models = wholes

    method = "multi_scale" if args.crop == "center" and args.scales else METHODS[args.crop]
    # The digits come at the model's size: no resizing before the centre crop (or ten crops).
    kwargs = {"split": args.split}
    if method != "dense":
        kwargs["image_size"] = height
    if method in ("center", "ten_crop") and args.data == "digits":
        kwargs["resize"] = height
    if method not in ("center", "ten_crop"):
        kwargs["scales"] = test_scales
    kwargs.update(recorded_statistics(paths if is_file else (), spec))
    try:
        if ensemble:
            result = kd.evaluate_ensemble(models, spec.name, source, method, args.batch_size,
                                          **kwargs)
        elif method == "dense":
            result = kd.evaluate_dense(models[0], spec.name, source, **kwargs)
        elif method == "multi_crop+dense":
            result = kd.evaluate_multi_crop_dense(models[0], spec.name, source,
                                                  batch_size=args.batch_size,
                                                  dense_model=wholes[0], **kwargs)
        else:
            result = kd.evaluate(models[0], spec.name, source, method, args.batch_size,
                                 **kwargs)
    except ValueError as err:  # the data found wanting once read (every image skipped, ...)
        fail(f"cannot evaluate {' and '.join(paths)} on {args.data}: {first_line(err)}")
    record = {"models": list(paths)} if ensemble else {"model": first}
    record.update({"registered_as": spec.name, "data": args.data, "split": args.split,
                   "crop": args.crop, "scales": list(test_scales or ())})
    # With 5 classes or fewer every label is among the top 5: no top-5 to report.
    for k in (1, 5) if classes > 5 else (1,):
        accuracy = result[f"top{k}"]
        record[f"top{k}"] = accuracy
        record[f"top{k}_error"] = 1.0 - accuracy
        print(f"top-{k} accuracy: {accuracy:.4f}, error: {1.0 - accuracy:.4f} "
              f"({100 * (1.0 - accuracy):.2f}%)")
    write_text(output, json.dumps(record, indent=2) + "\n")
    print(f"wrote {output}")
    return 0


def recorded_statistics(paths, spec):
    """The mean (and std) a model trained by train.py with `mean: dataset` was normalized with,
    from the run's NAME.training/config.yaml beside each .keras file ({} for ImageNet's)."""
    from kerasnets.data import DatasetStatistics
    from kerasnets.training.outputs import recorded

    found = {}
    for path in paths:
        config = os.path.join(path[: -len(".keras")] + ".training", "config.yaml")
        inputs = {}
        if recorded(config, "mean") == "dataset":
            try:
                stats = DatasetStatistics.from_dict(recorded(config, "dataset_statistics"))
                inputs = stats.preprocessing_inputs(spec.preprocessing)
            except ValueError as err:
                fail(f"argument --model: {config} says `mean: dataset` but its statistics "
                     f"cannot be used: {first_line(err)}")
            print(f"normalizing with the training split's mean recorded in {config}")
        found[path] = inputs
    if len({repr(v) for v in found.values()}) > 1:
        fail("argument --model: the models were trained with different normalizations ("
             + "; ".join(f"{p}: {v.get('mean', 'ImageNet mean')}" for p, v in found.items())
             + "): an ensemble reads its images once, normalized one way")
    return next(iter(found.values()), {})


def first_line(err):
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def check_scales(args, spec, height, width):
    """--scales no smaller than what each view needs: the crop, or the network's smallest input."""
    if not args.scales or args.crop == "ten":
        return
    needs = []
    if args.crop in ("dense", "multi+dense"):
        # A fully connected classifier, made convolutional, needs the map it was built for.
        least = (height, width) if spec.fixed_input else spec.min_input_shape[:2]
        needs.append((least, f"the input its fully connected classifier was built for, "
                             f"{least[0]}x{least[1]}" if spec.fixed_input else
                      f"the smallest input of {spec.name}, {least[0]}x{least[1]}"))
    if args.crop != "dense":
        needs.append(((height, width), f"the {height}x{width} crop taken at each scale"))
    smallest = min(args.scales)
    for least, why in needs:
        if smallest < max(least):
            fail(f"argument --scales: {smallest} is below {why}: use test scales (shorter "
                 f"sides) of at least {max(least)}")


def whole_image_form(model, spec, path):
    """`model` in a form that runs on whole images of any size, for dense evaluation.

    See :func:`kerasnets.data.whole_image_form`: a fully connected classifier
    made convolutional, or the network rebuilt for any input size.
    """
    from kerasnets.data import whole_image_form as whole

    try:
        return whole(model, spec.name)
    except ValueError as err:
        fail(f"argument --crop: {path}: {first_line(err)}")


if __name__ == "__main__":
    sys.exit(main())
