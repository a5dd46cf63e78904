"""Training-step time of ResNet-110 with batch-mode stochastic depth against without.

    python benchmarks/stochastic_depth_speed.py [--batch 128] [--repeats 25] [--warmup 3]
        [--scale-at train|test] [--jit-compile auto|true|false] [--seed 0]

Huang et al. (2016), "Deep Networks with Stochastic Depth", section 4: with
the linear decay rule and p_L = 0.5 a 110-layer ResNet computes on average
(3L - 1) / 4L = 75% of its 54 residual blocks per mini-batch, and trains about
25% faster. The issue's bound: a training step of `resnet110` (CIFAR, 32x32)
with `drop_path_rate=0.5, drop_path_mode="batch"` takes at most 0.85 times the
step of the same network without stochastic depth, on this CPU.

Tensorflow backend, CPU. The networks are built, compiled with SGD (momentum
0.9, as the paper) and `--jit-compile` (default keras' "auto", which keras
turns off on a CPU-only tensorflow: the step is a `tf.function` graph with
one `If` per block; `true` sends the step through XLA, whose CPU
convolutions are far slower here), warmed up with `--warmup`
`train_on_batch` calls each, then timed in alternation (one step of each
network in turn, `--repeats` rounds, so that a change in the machine's load
hits them alike) on one random batch of `--batch` 32x32 images. Each step of
the stochastic-depth network draws which blocks run (seeded by `--seed`, so
every run draws the same sequence); the figure is the median over the rounds
(the mean and the spread are printed too). A third network, `--rate 1e-6` in
batch mode (every block kept: the conditionals without the savings), shows
what the conditionals themselves cost. `--scale-at test` measures the
paper's scaling rule (no 1/p_l division of kept branches in training).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerasnets  # noqa: E402
from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)
from kerasnets.layers import drop_path_rates  # noqa: E402

BLOCKS = 54


def build(drop_path_rate, rule, scale_at, jit_compile):
    kwargs = {}
    if drop_path_rate:
        kwargs = {"drop_path_rate": drop_path_rate, "drop_path_mode": "batch",
                  "drop_path_rule": rule, "drop_path_scale_at": scale_at}
    model = kerasnets.build("resnet110", **kwargs)
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                  loss="sparse_categorical_crossentropy", jit_compile=jit_compile)
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0,
                        help="keras.utils.set_random_seed: the same blocks dropped in every run")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rate", type=float, default=0.5, help="drop_path_rate, 1 - p_L")
    parser.add_argument("--rule", default="linear", choices=("linear", "uniform"))
    parser.add_argument("--scale-at", default="train", choices=("train", "test"),
                        help="drop_path_scale_at: 'train' divides kept branches by p_l in "
                             "training; 'test' (the paper's rule) multiplies by p_l at inference")
    parser.add_argument("--jit-compile", default="auto", choices=("auto", "true", "false"),
                        help="Model.compile's jit_compile (XLA)")
    parser.add_argument("--no-overhead", action="store_true",
                        help="leave out the all-kept batch-mode network")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x = rng.normal(size=(args.batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, size=(args.batch,))
    jit_compile = {"auto": "auto", "true": True, "false": False}[args.jit_compile]
    options = (args.rule, args.scale_at, jit_compile)
    networks = {"no drop path": build(0.0, *options),
                f"batch, p_L = {1 - args.rate:g} ({args.rule})": build(args.rate, *options)}
    if not args.no_overhead:
        networks["batch, all kept (rate 1e-6)"] = build(1e-6, *options)
    load = os.getloadavg()
    print(f"ResNet-110 training step, batch {args.batch}, 32x32, keras {keras.__version__} "
          f"({keras.backend.backend()}), {os.cpu_count()} cores, {cpu_name()}")
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    share = sum(1 - r for r in drop_path_rates(args.rate, BLOCKS, args.rule)) / BLOCKS
    print(f"drop_path_scale_at={args.scale_at!r}, jit_compile={args.jit_compile}")
    print(f"expected share of residual blocks computed per step: {share:.3f}")
    start = time.perf_counter()
    for name, model in networks.items():
        t0 = time.perf_counter()
        for _ in range(args.warmup):
            model.train_on_batch(x, y)
        print(f"  warm-up {name}: {time.perf_counter() - t0:.1f} s "
              f"(jit_compile={model.jit_compile})", flush=True)
    times = {name: [] for name in networks}
    for _ in range(args.repeats):
        for name, model in networks.items():
            t0 = time.perf_counter()
            model.train_on_batch(x, y)
            times[name].append(time.perf_counter() - t0)
    print(f"{'network':32s} {'median s':>9s} {'mean s':>8s} {'min s':>7s} {'max s':>7s}")
    for name, values in times.items():
        print(f"{name:32s} {statistics.median(values):9.3f} {statistics.mean(values):8.3f} "
              f"{min(values):7.3f} {max(values):7.3f}")
    base = statistics.median(times["no drop path"])
    for name, values in list(times.items())[1:]:
        print(f"ratio {name} / no drop path (medians): {statistics.median(values) / base:.3f}")
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
