#!/usr/bin/env python
"""Training-step time with Keras' batch normalization against kerasnets' fused one, tensorflow CPU.

    python benchmarks/batch_norm_speed.py [--repeats 5] [--batch 16]
        [--models resnet50 mobilenet_v2 ...]

Keras 3 computes `BatchNormalization` on tensorflow from separate ops (the
moments, then the normalization's arithmetic), each a pass over the feature
map forward and backward; `kerasnets.layers.BatchNormalization` runs the
training-mode call as tensorflow's `FusedBatchNormV3` (oneDNN on x86-64)
and its fused gradient. Each network is built once with kerasnets' layer
("fused", what `kerasnets.build` gives) and once more with every one of
those layers replaced by `keras.layers.BatchNormalization` of the same
config ("keras", the form before; `keras.models.clone_model`). Both are
compiled with SGD (momentum 0.9), warmed up with two `train_on_batch`
calls each on one random batch of `--batch` images at the network's
default size, then timed in alternation (one step of each network in turn,
`--repeats` rounds, so that the machine's load hits them alike); the figure
is the median. The last column is keras / fused: how many times faster the
step got.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from machine import cpu_name  # noqa: E402  benchmarks/machine.py, beside this script

# (label, registry name, builder arguments)
NETWORKS = {
    "resnet50": ("resnet50", {}),
    "resnet20": ("resnet20", {}),
    "mobilenet_v2": ("mobilenet_v2", {}),
    "shufflenet_v1_g1": ("shufflenet_v1", {"groups": 1}),
    "shufflenet_v1_g3": ("shufflenet_v1", {"groups": 3}),
    "densenet121": ("densenet121", {}),
    "inception_v3": ("inception_v3", {}),
}


def with_keras_batch_normalization(model):
    """`model` with each kerasnets BatchNormalization replaced by Keras' layer, same config."""
    import keras

    from kerasnets.layers import BatchNormalization

    def clone(layer):
        if isinstance(layer, BatchNormalization):
            return keras.layers.BatchNormalization.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    assert not any(isinstance(l, BatchNormalization) for l in copy.layers)
    return copy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default: 5)")
    parser.add_argument("--batch", type=int, default=16, help="training batch (default: 16)")
    parser.add_argument("--models", nargs="+", default=list(NETWORKS), choices=list(NETWORKS),
                        help="default: all")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.batch < 1:
        parser.error("--repeats and --batch: at least 1")

    import keras
    import numpy as np
    import tensorflow as tf

    import kerasnets

    rng = np.random.default_rng(0)
    jobs = []  # (label, form, step)
    for label in args.models:
        name, kwargs = NETWORKS[label]
        fused = kerasnets.build(name, **kwargs)
        shape = fused.input_shape[1:]
        classes = fused.output_shape[-1]
        x = rng.uniform(-1, 1, (args.batch, *shape)).astype("float32")
        y = rng.integers(0, classes, args.batch)
        for form, model in (("keras", with_keras_batch_normalization(fused)), ("fused", fused)):
            model.compile(keras.optimizers.SGD(0.01, momentum=0.9),
                          "sparse_categorical_crossentropy")
            for _ in range(2):
                model.train_on_batch(x, y)

            def step(m=model, x=x, y=y):
                m.train_on_batch(x, y)
            jobs.append((label, form, step))
        print(f"built {label}", file=sys.stderr, flush=True)

    times = {(label, form): [] for label, form, _ in jobs}
    for round_index in range(args.repeats):
        for label, form, step in jobs:
            start = time.perf_counter()
            step()
            times[(label, form)].append(time.perf_counter() - start)
        print(f"round {round_index + 1} done", file=sys.stderr, flush=True)

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {cpu_name()}; tensorflow "
          f"{tf.__version__}, keras {keras.__version__}; training step (train_on_batch, SGD "
          f"momentum 0.9), batch {args.batch}, median of {args.repeats} rounds")
    ms = {key: 1000 * statistics.median(values) for key, values in times.items()}
    print("| network | keras BN, ms | fused BN, ms | speed-up |")
    print("|---|---|---|---|")
    for label in args.models:
        before, after = ms[(label, "keras")], ms[(label, "fused")]
        print(f"| {label} | {before:.0f} | {after:.0f} | {before / after:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
