#!/usr/bin/env python
"""Trains CIFAR-style ResNets and their plain twins, then runs the experiments that explain them.

    python recipes/resnet_paths.py                        # resnet20/plain20 and 56 on the digits
    python recipes/resnet_paths.py --data tfds:cifar10 --epochs 60 --output-dir runs/cifar_paths

He, Zhang, Ren and Sun (2016), "Deep Residual Learning for Image Recognition"
(section 4.2, Figure 6: the degradation problem), and Veit, Wilber and
Belongie (2016), "Residual Networks Behave Like Ensembles of Relatively
Shallow Networks" (NeurIPS: paths, lesions, reordering).

With the defaults: resnet20, plain20, resnet56 and plain56 trained from
scratch on scikit-learn's bundled digits (3 channels, 32x32; train 70%,
validation 10%, test 20% of the 1,797 images), SGD with momentum 0.9, weight
decay 1e-4 (coupled, as the paper), learning rate 0.1 decayed by a cosine
over --epochs (the paper divides it by 10 twice over 182 epochs), He
initialisation, batch-normalization momentum 0.9 (Torch's, which the paper
used; Keras' default 0.99 lags behind a short run). Then, on the networks of the first depth:

1. paths: the path-length distribution of the ResNet's n blocks (2^n paths)
   and the gradient reaching the input through paths of each length
   (Veit et al. section 4.2: k branches sampled per draw, the others' shortcuts);
2. lesion_delete: top-1 test error with k blocks deleted at test time, every
   single block and --draws random sets for k > 1, for the ResNet and for the
   plain network (whose blocks of unchanged shape pass their input through);
3. lesion_reorder: test error of the ResNet with blocks of equal shape
   swapped, against the Kendall tau of the order;
4. degradation: training and validation error per epoch, plain vs residual
   at each depth.

Before the lesions each network's batch-normalization statistics are
recomputed over the training images (a short run leaves the moving averages
behind). Everything is written under --output-dir (default
runs/resnet_paths), which must not exist unless --overwrite: paths.png,
paths.csv, lesion_delete.png, lesion_delete.csv, lesion_reorder.png,
lesion_reorder.csv, degradation.png, degradation.csv and the trained
networks (NAME.keras). The folder appears whole at the end (written beside
it, then renamed). About 7 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

# TensorFlow's C++ start-up notices are noise here; an explicit setting wins.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

PROG = "resnet_paths.py"
# The CIFAR depths registered with a plain twin (plain20 ... plain56).
DEPTHS = (20, 32, 44, 56)
# Torch's (fb.resnet.torch's) batch-normalization momentum, 0.1 there: the moving
# averages follow the last ~10 steps. Keras' 0.99 averages over ~100, longer than
# the first epochs of a small data set, and the validation error (inference mode)
# then says nothing.
BN_MOMENTUM = 0.9


def fail(message):
    print(f"{PROG}: error: {message}", file=sys.stderr)
    sys.exit(2)


def number(kind, low, *, low_open=False, expected):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or value < low or (low_open and value == low):
            raise argparse.ArgumentTypeError(f"must be {expected}; got {text!r}")
        return value
    return parse


def depth(text):
    if text not in {str(d) for d in DEPTHS}:
        raise argparse.ArgumentTypeError(
            f"must be one of {', '.join(map(str, DEPTHS))} (the CIFAR ResNets with a registered "
            f"plain twin); got {text!r}")
    return int(text)


def data_source(text):
    from kerasnets.data.sources import source_argument  # imported when --data is given

    return source_argument(text)


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--depths", type=depth, nargs="+", default=[20, 56], metavar="D",
        help="depths of the plain/residual pairs (the first one's networks are lesioned); "
             "default 20 56")
    add("--data", type=data_source, default="digits",
        help="digits (default), folder:PATH or tfds:NAME")
    add("--image-size", type=number(int, 8, expected="an integer >= 8"), default=32)
    add("--epochs", type=number(int, 1, expected="a positive integer"), default=10)
    add("--batch-size", type=number(int, 1, expected="a positive integer"), default=64)
    add("--learning-rate", type=number(float, 0, low_open=True, expected="a number > 0"),
        default=0.1)
    add("--draws", type=number(int, 1, expected="a positive integer"), default=5,
        help="random block sets per number deleted, and permutations per number of swaps")
    add("--samples", type=number(int, 1, expected="a positive integer"), default=8,
        help="draws of k active branches per path length k (effective paths)")
    add("--path-images", type=number(int, 1, expected="a positive integer"), default=32,
        help="test images the path gradients are averaged over")
    add("--seed", type=number(int, 0, expected="an integer >= 0"), default=0)
    add("--output-dir", default=os.path.join("runs", "resnet_paths"), metavar="DIR")
    add("--overwrite", action="store_true", help="replace an existing --output-dir")
    return parser


def write_csv(rows, path):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def log(message, start):
    print(f"[{time.monotonic() - start:6.0f} s] {message}", flush=True)


def main(argv=None):
    args = build_parser().parse_args(argv)
    if len(set(args.depths)) != len(args.depths):
        fail(f"argument --depths: each depth once; got {' '.join(map(str, args.depths))}")
    output = args.output_dir
    if os.path.lexists(output) and not args.overwrite:
        fail(f"argument --output-dir: {output} already exists; pass --overwrite to replace it")

    import keras

    import kerasnets
    from kerasnets import analysis
    from kerasnets.analysis.lesion import as_arrays
    from kerasnets.export.files import publish_folder, staging_folder
    from kerasnets.training import TrainConfig, build_model, compile_model
    from kerasnets.training.run import load_data

    start = time.monotonic()
    first = args.depths[0]
    size = args.image_size
    config = TrainConfig(
        paper="He, Zhang, Ren and Sun (2016), section 4.2; Veit, Wilber and Belongie (2016).",
        model=f"resnet{first}", data=args.data, epochs=args.epochs,
        batch_size=args.batch_size, image_size=size, optimizer="sgd",
        learning_rate=args.learning_rate, momentum=0.9, weight_decay=1e-4,
        schedule={"name": "cosine"}, initializer="he_normal", seed=args.seed,
        monitor="val_accuracy")
    spec = kerasnets.get_spec(config.model)
    data = load_data(config, spec, (size, size), args.batch_size, args.seed)
    classes = len(data.class_names)
    steps = -(-data.sizes["train"] // args.batch_size)
    what = (f"{args.data} ({data.sizes['train']} training, {data.sizes['test']} test images, "
            f"{classes} classes) at {size}x{size}, {args.epochs} epochs")
    log(f"training {', '.join(f'plain{d} and resnet{d}' for d in args.depths)} from scratch "
        f"on {what}", start)

    models, curves = {}, []
    for d in args.depths:
        for residual in (False, True):
            name = f"{'resnet' if residual else 'plain'}{d}"
            keras.utils.set_random_seed(args.seed)
            model = build_model(config, (size, size, 3), classes, name=name)
            for layer in model.layers:
                if isinstance(layer, keras.layers.BatchNormalization):
                    layer.momentum = BN_MOMENTUM
            compile_model(model, config, steps_per_epoch=steps)
            log(f"{name}: {model.count_params():,} parameters", start)
            # The tf.data pipeline shuffles; fit's own shuffle would only warn.
            history = model.fit(data.train, validation_data=data.validation,
                                epochs=args.epochs, verbose=2, shuffle=False)
            curve = analysis.Curve.from_history(name, d, residual, history.history)
            curves.append(curve)
            log(f"{name}: final training error {100 * curve.train_error[-1]:.1f}%, "
                f"validation error {100 * curve.validation_error[-1]:.1f}%", start)
            if d == first:
                models[residual] = model

    # Precise batch normalization: at most 4,096 training images, not augmented.
    train_images, _ = as_arrays(data.calibration.take(4096).batch(256), 4)
    test = as_arrays(data.test, 4)
    for model in models.values():
        analysis.recompute_batch_norm_statistics(model, train_images)
    resnet, plain = models[True], models[False]

    def title(names):
        return f"{names} trained on {what}"

    with staging_folder(output) as staged:
        def out(name):
            return os.path.join(staged, name)

        log(f"paths: gradient per path length in {resnet.name} "
            f"({args.samples} draws per length, {args.path_images} test images)", start)
        paths = analysis.effective_paths(resnet, test[0][:args.path_images],
                                         test[1][:args.path_images], samples=args.samples,
                                         seed=args.seed)
        analysis.plot_paths(paths, out("paths.png"), title=title(resnet.name))
        write_csv(analysis.paths_rows(paths), out("paths.csv"))
        low, high, share = paths.effective_range(0.9)
        log(f"paths: 90% of the gradient comes through paths of {low} to {high} blocks, "
            f"{100 * share:.1f}% of the {2 ** paths.blocks} paths", start)

        log(f"lesion_delete: blocks deleted at test time ({len(test[1])} test images)", start)
        tables = [analysis.lesion_study(model, test, "delete", draws=args.draws, seed=args.seed)
                  for model in (resnet, plain)]
        analysis.plot_lesion_tables(tables, out("lesion_delete.png"),
                                    title=title(f"{resnet.name} and {plain.name}"))
        write_csv([{"model": t.model_name, **row} for t in tables for row in t.rows],
                  out("lesion_delete.csv"))
        for table in tables:
            counts, means = table.mean_by_x()
            log(f"lesion_delete: {table.model_name} top-1 error "
                + ", ".join(f"{int(k)} deleted {100 * e:.1f}%" for k, e in zip(counts, means)),
                start)

        log("lesion_reorder: blocks of equal shape swapped", start)
        reorder = analysis.lesion_study(resnet, test, "reorder", draws=args.draws,
                                        seed=args.seed)
        reorder.plot(out("lesion_reorder.png"), title=title(resnet.name))
        reorder.write_csv(out("lesion_reorder.csv"))
        taus, means = reorder.mean_by_x()
        log(f"lesion_reorder: error {100 * means[0]:.1f}% at tau {taus[0]:.2f} to "
            f"{100 * means[-1]:.1f}% at tau {taus[-1]:.2f}", start)

        analysis.plot_degradation(curves, out("degradation.png"),
                                  title=f"Plain vs residual networks on {what}")
        write_csv([row for curve in curves for row in curve.rows()], out("degradation.csv"))
        for model in (resnet, plain):
            model.save(out(f"{model.name}.keras"))
        publish_folder(staged, output, args.overwrite)
    log(f"wrote {output}/: paths.png, lesion_delete.png, lesion_reorder.png, degradation.png, "
        "their CSVs and the trained networks", start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
