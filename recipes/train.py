#!/usr/bin/env python
"""Trains a registered network on scikit-learn's handwritten digits and saves it.

    python recipes/train.py            # LeNet-5, about 98% test accuracy in well under a minute

The digits (1,797 8x8 images, bundled with scikit-learn) are resized to the
model's input size from the registry and split, stratified and fixed, into
train (70%), validation (10%) and test (20%). The model trains on train with
Adam and a cosine-decayed learning rate, small random shifts as augmentation,
is checked on validation every epoch, evaluated once on test, and saved to
`<output-dir>/<model>.keras`. It is then exported as a TF SavedModel
(`<output-dir>/<model>/`), a float32 TFLite file (`<output-dir>/<model>.tflite`)
and its int8 twin (`<output-dir>/<model>_int8.tflite`, calibrated on training
images), each with labels and metadata beside it; the size and test accuracy
of each export are printed.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

# TensorFlow's C++ start-up notices are noise here; an explicit setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROG = "train.py"


def bounded(kind, low, high=None, *, low_open=False, high_open=False, expected):
    """An argparse type: `kind` (int or float) in the range, else a one-line error."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        ok = value is not None and math.isfinite(value)
        ok = ok and (value > low if low_open else value >= low)
        if high is not None:
            ok = ok and (value < high if high_open else value <= high)
        if not ok:
            raise argparse.ArgumentTypeError(f"must be {expected}; got {text!r}")
        return value

    return parse


positive_int = bounded(int, 1, expected="a positive integer")
non_negative_int = bounded(int, 0, expected="an integer >= 0")
positive_float = bounded(float, 0, low_open=True, expected="a positive number")
shift_fraction = bounded(float, 0, 1, high_open=True, expected="a number in [0, 1)")


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="lenet5", metavar="NAME",
                        help="registered model name (see kerasnets.list_models()); its "
                             "registry input shape sets the image size and channels "
                             "(default: %(default)s)")
    parser.add_argument("--epochs", type=positive_int, default=60, metavar="N",
                        help="passes over the training split (default: %(default)s)")
    parser.add_argument("--batch-size", type=positive_int, default=32, metavar="N",
                        help="images per training step (default: %(default)s)")
    parser.add_argument("--learning-rate", type=positive_float, default=0.002, metavar="LR",
                        help="initial learning rate of the Adam optimizer, decayed to 0 "
                             "along a cosine over the run (default: %(default)s)")
    parser.add_argument("--shift", type=shift_fraction, default=0.1, metavar="FRACTION",
                        help="augmentation: random translation of training images by up to "
                             "this fraction of their height and width, 0 for none "
                             "(default: %(default)s)")
    parser.add_argument("--seed", type=non_negative_int, default=0, metavar="N",
                        help="random seed for weights, shuffling and augmentation (the data "
                             "split is fixed and does not depend on it; default: %(default)s)")
    parser.add_argument("--output-dir", default="savedmodels", metavar="DIR",
                        help="folder for the trained model, saved as DIR/NAME.keras, and "
                             "its exports DIR/NAME/ (SavedModel), DIR/NAME.tflite and "
                             "DIR/NAME_int8.tflite (default: %(default)s)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing model file and exports (otherwise the run "
                             "stops before training)")
    parser.add_argument("--quiet", action="store_true",
                        help="no per-epoch Keras output; only the final lines (by default a "
                             "progress bar on a terminal, one line per epoch otherwise)")
    return parser


def fail(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(2)


def output_paths(output_dir, name):
    """The model file, then the SavedModel folder and the TFLite files with their companions."""
    base = os.path.join(output_dir, name)
    paths = [base + ".keras", base]
    for tflite in (base + ".tflite", base + "_int8.tflite"):
        stem = tflite[: -len(".tflite")]
        paths += [tflite, stem + ".labels.txt", stem + ".metadata.json"]
    return paths


def check_output(paths, overwrite):
    for path in paths:
        if os.path.lexists(path) and not overwrite:
            fail(f"{path} already exists; pass --overwrite to replace it")


def main(argv=None):
    args = build_parser().parse_args(argv)
    # Checked before TensorFlow loads, so that a refused run ends at once; checked again
    # below for the registered name that an alias resolves to.
    check_output(output_paths(args.output_dir, args.model.strip().lower()), args.overwrite)

    try:
        import kerasnets
    except ImportError:  # run from a checkout without installing the package
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import kerasnets
    import keras

    from kerasnets.data import batched, digits
    from kerasnets.export import (
        SavedModelRunner,
        evaluate_tflite,
        export_saved_model,
        export_tflite,
        save_keras,
    )

    try:
        spec = kerasnets.get_spec(args.model)
    except ValueError as err:
        fail(f"argument --model: {err}")
    paths = output_paths(args.output_dir, spec.name)
    path, saved_model_path, tflite_path, int8_path = paths[0], paths[1], paths[2], paths[5]
    check_output(paths, args.overwrite)

    keras.utils.set_random_seed(args.seed)
    height, width, channels = spec.input_shape
    try:
        splits = digits(image_size=(height, width), channels=channels,
                        preprocessing=spec.preprocessing)
        model = kerasnets.build(spec.name, input_shape=spec.input_shape,
                                classes=splits.num_classes)
    except ValueError as err:
        fail(f"argument --model: {spec.name} cannot train on the digits: {err}")
    sizes = splits.sizes
    print(f"{spec.name} on digits: {sizes['train']} train, {sizes['validation']} validation, "
          f"{sizes['test']} test images of {'x'.join(map(str, splits.image_shape))}",
          flush=True)

    augment = None
    if args.shift > 0:
        augment = keras.layers.RandomTranslation(
            args.shift, args.shift, fill_mode="constant", seed=args.seed
        )
    train = batched(splits.train, args.batch_size, shuffle=True, seed=args.seed,
                    augment=augment)
    validation = batched(splits.validation, 256)
    test = batched(splits.test, 256)

    steps = -(-sizes["train"] // args.batch_size) * args.epochs
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    # The data sets come shuffled; shuffle=False only silences Keras' warning about that.
    model.fit(train, validation_data=validation, epochs=args.epochs, shuffle=False,
              verbose=verbose)
    _, accuracy = model.evaluate(test, verbose=0)
    print(f"test accuracy: {accuracy:.4f}", flush=True)

    try:
        save_keras(model, path, overwrite=args.overwrite)
    except FileExistsError:
        fail(f"{path} appeared during training; pass --overwrite to replace it")
    print(f"saved model: {path}", flush=True)

    # Exports, each verified against the Keras model as it is written; their accuracy is
    # measured by the exported file's own runtime (TF for the SavedModel, LiteRT for TFLite).
    import numpy as np

    images, labels = (np.concatenate(part) for part in zip(*test.as_numpy_iterator()))
    try:
        saved = export_saved_model(model, saved_model_path, overwrite=args.overwrite,
                                   sample_inputs=images[:8])
        predictions = SavedModelRunner(saved.path).predict(images)
        accuracy = float(np.mean(np.argmax(predictions, -1) == labels))
        print(f"saved SavedModel: {saved.path} ({saved.size_bytes:,} bytes), "
              f"test accuracy: {accuracy:.4f}", flush=True)
        for kind, target in (("float32", tflite_path), ("int8", int8_path)):
            exported = export_tflite(
                model, target, quantize=kind, representative_data=splits.train,
                class_names=splits.class_names, preprocessing=spec.preprocessing,
                overwrite=args.overwrite, sample_inputs=images[:8],
            )
            accuracy = evaluate_tflite(exported.path, images, labels)
            print(f"saved TFLite {kind}: {exported.path} ({exported.size_bytes:,} bytes), "
                  f"test accuracy: {accuracy:.4f}", flush=True)
    except FileExistsError as err:
        fail(f"an export appeared during training: {err}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
