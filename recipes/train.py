#!/usr/bin/env python
"""Trains a registered network with a paper's recipe and saves and exports it.

    python recipes/train.py            # LeNet-5 on the digits, about 98% test accuracy in a minute
    python recipes/train.py --config recipes/configs/resnet56_cifar.yaml --data folder:cifar10/
    python recipes/train.py --strategy mirrored --cpu-devices 2 --epochs 1   # 2 replicas

With no arguments (the recipe recipes/configs/lenet5.yaml): LeNet-5 on
scikit-learn's bundled handwritten digits (1,797 8x8 images resized to the
model's input size, split stratified and fixed into train 70%, validation
10%, test 20%), trained with Adam and a cosine-decayed learning rate, small
random shifts as augmentation, evaluated once on test.

--data digits | folder:PATH (one sub-folder of images per class, split 80/10/10)
| tfds:NAME (a tensorflow-datasets data set, from TFDS_DATA_DIR or
~/tensorflow_datasets; downloaded and prepared there first if missing). --config reads a YAML
recipe (recipes/configs/: AlexNet, VGG, GoogLeNet, Inception v3, ResNet,
stochastic depth, DenseNet, MobileNet v1/v2, ShuffleNet); the options below
override it. Weight decay: "coupled" adds wd * w to the gradient, carried
through momentum (the AlexNet rule), "decoupled" is w <- w - lr * wd * w.

Distribution (--strategy): the batch size is per replica and the learning
rate is multiplied by the number of replicas (linear scaling rule); the
global batch and rate are printed. multiworker reads TF_CONFIG; on the jax
backend mirrored/multiworker use keras.distribution.DataParallel.

Outputs under --output-dir, for model NAME: NAME.keras (final model), NAME/
(TF SavedModel), with --tflite NAME.tflite and NAME_int8.tflite (calibrated
on training images) with labels and metadata beside them (on by default for
--data digits), and NAME.training/: checkpoints/ (the backup a killed run
resumes from when started again with the same command), best.keras,
history.csv, history.png, logs/ (TensorBoard), config.yaml. The size and test
accuracy of each export are printed. Nothing is replaced without --overwrite.
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
        from kerasnets.checks import check_range

        try:
            value = kind(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return check_range("value", value, low, high, low_inclusive=not low_open,
                               high_inclusive=not high_open)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {expected}; got {text!r}") from None

    return parse


positive_int = bounded(int, 1, expected="a positive integer")
non_negative_int = bounded(int, 0, expected="an integer >= 0")
positive_float = bounded(float, 0, low_open=True, expected="a positive number")
non_negative_float = bounded(float, 0, expected="a number >= 0")
shift_fraction = bounded(float, 0, 1, high_open=True, expected="a number in [0, 1)")


def area_range(text):
    """--crop-area LOW,HIGH: two area fractions, 0 < LOW <= HIGH <= 1."""
    try:
        low, high = (float(part) for part in text.split(","))
        if not 0 < low <= high <= 1:
            raise ValueError(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be LOW,HIGH, two area fractions with 0 < LOW <= HIGH <= 1; got {text!r}"
        ) from None
    return [low, high]


def data_source(text):
    from kerasnets.data.sources import source_argument  # imported when --data is given

    return source_argument(text)


def model_arg(text):
    key, sep, value = text.partition("=")
    if not sep or not key.strip().isidentifier():
        raise argparse.ArgumentTypeError(f"must be key=value; got {text!r}")
    import yaml

    try:
        parsed = yaml.safe_load(value) if value else value
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--config", metavar="YAML",
        help="a recipe file (recipes/configs/NAME.yaml); the options below override it "
             "(default: the LeNet-5 digits recipe)")
    add("--model", metavar="NAME",
        help="registered model name (see kerasnets.list_models()); its registry input shape "
             "sets the image size and channels (default: lenet5)")
    add("--model-arg", type=model_arg, action="append", metavar="KEY=VALUE",
        help="a hyper-parameter of the model's builder, e.g. alpha=0.5 or aux_logits=true; "
             "repeat for several")
    add("--weights", metavar="TAG|FILE",
        help="fine-tune from published weights (a tag of the model: imagenet, tv_in1k, ...; "
             "`kerasnets info NAME` lists them) or a weights file; a new classifier replaces "
             "the checkpoint's when the classes differ (default: random initialisation)")
    add("--init-from", metavar="FILE",
        help="VGG: start from a trained configuration A (vgg11; a .keras model or weights "
             "file), copying its first four convolutions and fully connected layers, the "
             "others random (the paper's section 3.1)")
    add("--data", type=data_source, metavar="SOURCE",
        help="digits, folder:PATH or tfds:NAME (default: digits)")
    add("--epochs", type=positive_int, metavar="N",
        help="passes over the training split (default: 60)")
    add("--batch-size", type=positive_int, metavar="N",
        help="images per training step on each replica (default: 32)")
    add("--learning-rate", type=positive_float, metavar="LR",
        help="initial learning rate, before scaling by the replicas (default: 0.002, of the "
             "Adam optimizer, decayed to 0 along a cosine over the run)")
    add("--weight-decay", type=non_negative_float, metavar="WD",
        help="weight decay of the kernels (default: 0, or the recipe's)")
    add("--weight-decay-mode", choices=("coupled", "decoupled"),
        help="coupled: L2 added to the gradient, through momentum (AlexNet); decoupled: "
             "w <- w - lr * wd * w (default: coupled)")
    add("--image-size", type=positive_int, metavar="N",
        help="train and evaluate on N x N images (default: the registry's input size)")
    add("--label-smoothing", type=bounded(float, 0, 1, high_open=True,
                                          expected="a number in [0, 1)"), metavar="EPS",
        help="label smoothing of the cross-entropy (default: 0, or the recipe's)")
    add("--aux-weight", type=non_negative_float, metavar="W",
        help="loss weight of auxiliary classifiers (default: the paper's, 0.3 GoogLeNet, "
             "0.4 Inception v3)")
    add("--initializer", choices=("default", "normal", "truncated_normal", "glorot_uniform",
                                  "glorot_normal", "he_normal", "he_uniform"),
        help="redraw the kernels with a paper's initialiser (default: the builder's)")
    add("--shift", type=shift_fraction, metavar="FRACTION",
        help="digits augmentation: random translation of training images by up to this "
             "fraction of their height and width, 0 for none (default: 0.1)")
    add("--rotation", type=bounded(float, 0, 180, expected="a number of degrees in [0, 180]"),
        metavar="DEG", help="rotate training images by up to DEG degrees (default: 0)")
    add("--noise", type=non_negative_float, metavar="STD",
        help="add Gaussian noise of standard deviation STD to training images, in [0, 1] "
             "pixel units (default: 0)")
    add("--crop-area", type=area_range, metavar="LOW,HIGH",
        help="inception policy: the random crop's share of the image area, e.g. 0.35,1 "
             "(default: the paper's 0.08,1, or the recipe's)")
    add("--color-distortion", type=bounded(float, 0, 2, expected="a number in [0, 2]"),
        metavar="S", help="inception policy: strength of the photometric distortions, 1 the "
                          "paper's, 0 none (default: 1, or the recipe's)")
    add("--shuffle-buffer", type=positive_int, metavar="N",
        help="training examples in the shuffle buffer (default: the whole split up to "
             "100,000, or the recipe's)")
    add("--mean", choices=("imagenet", "dataset"),
        help="the mean that caffe/torch preprocessing subtracts: ImageNet's, or the training "
             "split's, computed in one pass before training (VGG; default: imagenet)")
    add("--pca", choices=("imagenet", "dataset", "off"),
        help="AlexNet's PCA lighting: ImageNet's eigenvectors, the training split's, or none "
             "(default: imagenet)")
    add("--seed", type=non_negative_int, metavar="N",
        help="random seed for weights, shuffling and augmentation (the data split is fixed "
             "and does not depend on it; default: 0)")
    add("--strategy", choices=("auto", "one", "mirrored", "multiworker"),
        help="distribution: one device, MirroredStrategy over local GPUs (or --cpu-devices), "
             "MultiWorkerMirroredStrategy from TF_CONFIG; auto picks (default: auto)")
    add("--cpu-devices", type=positive_int, metavar="N",
        help="split the CPU into N logical devices (for mirrored runs without GPUs)")
    add("--mixed-precision", nargs="?", const="auto",
        choices=("off", "auto", "float16", "bfloat16"),
        help="mixed precision: float16 (GPU, with loss scaling) or bfloat16; alone: float16 "
             "with a GPU, else bfloat16 (default: off)")
    add("--jit-compile", action=argparse.BooleanOptionalAction, default=None,
        help="XLA compilation of the train step (default: Keras' auto)")
    add("--clip-norm", type=positive_float, metavar="C",
        help="clip each gradient to norm C")
    add("--clip-global-norm", type=positive_float, metavar="C",
        help="clip the gradients to global norm C (Inception v3: 2.0)")
    add("--clip-value", type=positive_float, metavar="C",
        help="clip gradient values to [-C, C]")
    add("--output-dir", default="savedmodels", metavar="DIR",
        help="folder for DIR/NAME.keras, DIR/NAME/ (SavedModel), TFLite files and "
             "DIR/NAME.training/ (default: %(default)s)")
    add("--tflite", action=argparse.BooleanOptionalAction, default=None,
        help="also export DIR/NAME.tflite and DIR/NAME_int8.tflite (tensorflow backend; "
             "default: on for digits on the tensorflow backend)")
    add("--overwrite", action="store_true",
        help="replace existing outputs and start afresh (otherwise the run stops before "
             "training, or resumes a killed run)")
    add("--quiet", action="store_true",
        help="no per-epoch Keras output; only the final lines (by default a progress bar on "
             "a terminal, one line per epoch otherwise)")
    return parser


def fail(message, code=2):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(code)


def main(argv=None, callbacks=()):
    args = build_parser().parse_args(argv)
    if args.cpu_devices:
        # jax reads XLA_FLAGS when it starts: before keras is imported.
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                   f" --xla_force_host_platform_device_count={args.cpu_devices}")
    try:
        import kerasnets
    except ImportError:  # run from a checkout without installing the package
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import kerasnets
    from kerasnets import training
    from kerasnets.logs import one_line_warnings
    from kerasnets.optional import MissingPackageError, require

    one_line_warnings()
    try:
        config = training.load_config(args.config) if args.config else training.TrainConfig()
    except ValueError as err:
        fail(f"argument --config: {err}")
    # The strategy comes first: TensorFlow's collective ops (multiworker) and logical
    # devices (--cpu-devices) must be set up before anything else runs in TensorFlow.
    strategy = args.strategy or config.strategy
    try:
        if args.cpu_devices:
            training.configure_cpu_devices(args.cpu_devices)
        distribution = training.make_distribution(strategy, args.cpu_devices)
    except ValueError as err:
        fail(f"argument --strategy: {err}")
    try:
        spec = kerasnets.get_spec(args.model or config.model)
    except ValueError as err:
        fail(f"argument --model: {err}")
    model_args = dict(config.model_args) if not args.model else {}
    model_args.update(dict(args.model_arg or ()))
    changes = {
        "model": spec.name, "model_args": model_args, "weights": args.weights,
        "init_from": args.init_from,
        "data": args.data,
        "epochs": args.epochs, "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "weight_decay": args.weight_decay,
        "weight_decay_mode": args.weight_decay_mode, "image_size": args.image_size,
        "label_smoothing": args.label_smoothing, "aux_weight": args.aux_weight,
        "initializer": args.initializer, "shift": args.shift, "seed": args.seed,
        "rotation": args.rotation, "noise": args.noise, "crop_area": args.crop_area,
        "color_distortion": args.color_distortion, "shuffle_buffer": args.shuffle_buffer,
        "mean": args.mean, "pca": args.pca,
        "strategy": strategy, "mixed_precision": args.mixed_precision,
        "jit_compile": args.jit_compile, "clipnorm": args.clip_norm,
        "global_clipnorm": args.clip_global_norm, "clipvalue": args.clip_value,
    }
    try:
        config = training.override(config, **changes)
    except ValueError as err:
        fail(str(err))
    import keras

    on_tensorflow = keras.backend.backend() == "tensorflow"
    if args.tflite and not on_tensorflow:
        fail(f"argument --tflite: TFLite export needs the tensorflow backend; this one is "
             f"{keras.backend.backend()}")
    tflite = args.tflite if args.tflite is not None else (config.data == "digits"
                                                          and on_tensorflow)
    if tflite:
        try:
            require("ai_edge_litert", package="ai-edge-litert",
                    purpose="--tflite (every TFLite file is run and checked against the model)")
        except MissingPackageError as err:
            fail(f"{err}; or pass --no-tflite")
    paths = training.output_paths(args.output_dir, spec.name, tflite)
    try:
        training.check_outputs(paths, args.overwrite)
    except FileExistsError as err:
        fail(str(err))

    verbose = 0 if args.quiet else (1 if sys.stdout.isatty() else 2)
    log = lambda message: print(message, flush=True)  # noqa: E731
    try:
        training.train(config, args.output_dir, overwrite=args.overwrite, tflite=tflite,
                       verbose=verbose, log=log, callbacks=callbacks, distribution=distribution)
    except training.TrainingInterrupted as err:
        print(f"\n{PROG}: {err}", file=sys.stderr)
        return 130
    except FileExistsError as err:
        fail(str(err))
    except training.DivergedError as err:
        fail(str(err), code=1)
    except ValueError as err:
        fail(f"{spec.name} cannot train on {config.data}: {err}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # outside training (loading, exporting): nothing half-written
        print(f"\n{PROG}: interrupted (outputs are written atomically: none is half-written)",
              file=sys.stderr)
        sys.exit(130)
