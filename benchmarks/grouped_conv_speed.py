#!/usr/bin/env python
"""GFLOP/s of the networks with grouped convolutions on tensorflow's CPU path, before and after.

    python benchmarks/grouped_conv_speed.py [--repeats 5] [--batch 8] [--train-batch 16]
        [--forms keras fast] [--modes inference train] [--models ...]

Each network is built twice, once per form of its grouped convolutions
(`kerasnets.layers.grouped_convolutions`): "keras" is what Keras does with a
`keras.layers.Conv2D(groups > 1)` on tensorflow (a per-call XLA function),
the form of every release before issue 18; "fast" is what
`kerasnets.layers.Conv2D` does now (one oneDNN grouped convolution; per group
and concatenated without oneDNN). Networks without grouped convolutions
(resnet50, alexnet_one_tower, mobilenet_v2, shufflenet_v1 g=1) are the same in
both forms and are measured once, as the references.

Inference: a `tf.function` of `model(x, training=False)` on a random batch of
`--batch` images. Training: `train_on_batch` with SGD (momentum 0.9) on
`--train-batch` images and random labels. After a warm-up call of each, the
networks are timed in alternation, `--repeats` rounds (one call of each
network in turn, so the machine's load hits them alike); the figure is the
median. GFLOP/s = 2 x multiply-adds x batch / time (inference) and 3 x that
for a training step (forward, and the two gradients of the backward pass),
with the multiply-adds of `kerasnets.profile`. The "keras" form's training
step of the ResNeXts takes minutes (XLA's CPU gradient of a 32-group
convolution), so it is timed `--slow-repeats` times (default 1).
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

# (label, registry name, builder arguments, reference label for the ratio)
NETWORKS = {
    "resnet50": ("resnet50", {}, None),
    "resnext50_32x4d": ("resnext50_32x4d", {}, "resnet50"),
    "se_resnext50_32x4d": ("se_resnext50_32x4d", {}, "resnet50"),
    "alexnet_one_tower_lrn": ("alexnet", {"towers": 1}, None),
    "alexnet": ("alexnet", {}, "alexnet_one_tower_lrn"),
    "mobilenet_v2": ("mobilenet_v2", {}, None),
    "shufflenet_v1_g1": ("shufflenet_v1", {"groups": 1}, None),
    "shufflenet_v1_g3": ("shufflenet_v1", {"groups": 3}, "shufflenet_v1_g1"),
}
SLOW_KERAS_TRAIN = {"resnext50_32x4d", "se_resnext50_32x4d"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default: 5)")
    parser.add_argument("--slow-repeats", type=int, default=1,
                        help="timed rounds of the keras form's ResNeXt training steps (default: 1)")
    parser.add_argument("--batch", type=int, default=8, help="inference batch (default: 8)")
    parser.add_argument("--train-batch", type=int, default=16,
                        help="training batch (default: 16)")
    parser.add_argument("--forms", nargs="+", default=["keras", "fast"],
                        choices=["keras", "fast"], help="forms to measure (default: both)")
    parser.add_argument("--modes", nargs="+", default=["inference", "train"],
                        choices=["inference", "train"], help="default: both")
    parser.add_argument("--models", nargs="+", default=list(NETWORKS), choices=list(NETWORKS),
                        help="default: all")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.slow_repeats < 1:
        parser.error("--repeats and --slow-repeats: at least 1")

    import contextlib

    import keras
    import numpy as np
    import tensorflow as tf

    import kerasnets
    from kerasnets.layers import grouped_convolutions, grouped_form
    from kerasnets.profile import profile

    def has_groups(model):
        return any(getattr(l, "groups", 1) > 1 for l in model.layers)

    rng = np.random.default_rng(0)
    jobs = []  # (label, form, mode, callable, flops, rounds)
    for label in args.models:
        name, kwargs, _ = NETWORKS[label]
        for form in args.forms:
            scope = (grouped_convolutions("keras") if form == "keras"
                     else contextlib.nullcontext())
            with scope:
                model = kerasnets.build(name, **kwargs)
                if form == "keras" and not has_groups(model):
                    continue  # the same network in both forms: measured once, as "fast"
                shape = model.input_shape[1:]
                macs = profile(model).macs
                if "inference" in args.modes:
                    x = tf.constant(rng.uniform(-1, 1, (args.batch, *shape)).astype("float32"))
                    forward = tf.function(lambda x, m=model: m(x, training=False))
                    forward(x).numpy()  # traced here, inside the form's scope

                    def infer(f=forward, x=x):
                        f(x).numpy()
                    jobs.append((label, form, "inference", infer, 2 * macs * args.batch,
                                 args.repeats))
                if "train" in args.modes:
                    train_model = kerasnets.build(name, **kwargs)
                    train_model.compile(keras.optimizers.SGD(0.01, momentum=0.9),
                                        "sparse_categorical_crossentropy")
                    x = rng.uniform(-1, 1, (args.train_batch, *shape)).astype("float32")
                    y = rng.integers(0, 1000, args.train_batch)
                    start = time.perf_counter()
                    train_model.train_on_batch(x, y)  # traced here
                    first = time.perf_counter() - start
                    print(f"{label} [{form}] first training step {first:.1f} s",
                          file=sys.stderr, flush=True)

                    def step(m=train_model, x=x, y=y):
                        m.train_on_batch(x, y)
                    slow = form == "keras" and label in SLOW_KERAS_TRAIN
                    jobs.append((label, form, "train", step, 3 * 2 * macs * args.train_batch,
                                 args.slow_repeats if slow else args.repeats))
            print(f"built {label} [{form}]", file=sys.stderr, flush=True)

    times = {(label, form, mode): [] for label, form, mode, *_ in jobs}
    for round_index in range(max(job[5] for job in jobs)):
        for label, form, mode, run, _, rounds in jobs:
            if round_index >= rounds:
                continue
            start = time.perf_counter()
            run()
            times[(label, form, mode)].append(time.perf_counter() - start)
        print(f"round {round_index + 1} done", file=sys.stderr, flush=True)

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {cpu_name()}; tensorflow "
          f"{tf.__version__}, keras {keras.__version__}; grouped form 'fast' = "
          f"{grouped_form()!r}; inference batch {args.batch}, training batch "
          f"{args.train_batch}, 224x224 (alexnet 227x227), median of {args.repeats} rounds")
    seconds = {key: statistics.median(values) for key, values in times.items()}
    gflops = {(label, form, mode): flops / seconds[(label, form, mode)] / 1e9
              for label, form, mode, _, flops, _ in jobs}
    print("| network | form | mode | ms | GFLOP/s | x reference |")
    print("|---|---|---|---|---|---|")
    for label, form, mode, _, _, rounds in jobs:
        reference = NETWORKS[label][2]
        ratio = ""
        key = (reference, "fast", mode)
        if reference and key in gflops:
            ratio = f"{gflops[(label, form, mode)] / gflops[key]:.2f}"
        note = f" ({rounds} round{'s' if rounds > 1 else ''})" if rounds != args.repeats else ""
        print(f"| {label} | {form} | {mode} | {1000 * seconds[(label, form, mode)]:.0f}{note} | "
              f"{gflops[(label, form, mode)]:.0f} | {ratio} |")
    for mode in args.modes:
        g3, g1 = ("shufflenet_v1_g3", "fast", mode), ("shufflenet_v1_g1", "fast", mode)
        mobile = ("mobilenet_v2", "fast", mode)
        if g3 in seconds and g1 in seconds:
            line = f"{mode}: shufflenet g=3 / g=1 time {seconds[g3] / seconds[g1]:.2f}"
            if mobile in seconds:
                line += f", g=3 / mobilenet_v2 time {seconds[g3] / seconds[mobile]:.2f}"
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
