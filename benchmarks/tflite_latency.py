#!/usr/bin/env python
"""TFLite file size and latency of the mobile networks on the LiteRT interpreter (XNNPACK).

    python benchmarks/tflite_latency.py [--runs 50] [--rounds 5] [--threads 1 2] [--calibration 32]
        [--ablate]

For mobilenet_v1 (1.0, 224), mobilenet_v2 (1.0, 224) and shufflenet_v1 (g=3,
1.0x, 224), each exported as float32 and full-integer int8 (random weights;
int8 calibrated on random in-range images, which sets latency and size but not
accuracy): the file size and the median latency of one image, per thread
count. All files are converted first, then timed interleaved: `--rounds`
rounds, each running `--runs` invocations of every (file, threads) in turn
after 5 warm-up ones, so that a change in the machine's load hits every
model alike; the figure is the median of all the timed invocations. The
ShuffleNet / MobileNetV2 latency ratios are printed below the table, each
with its spread: the lowest and highest ratio of the two files' medians
within one round.
`--ablate` adds ShuffleNet converted without the export-time rewrites
(`kerasnets.export.rewrite`): without the int8 channel shuffles by planes,
without the stem's max-pooling rewrite, and without any (nor the
average-pooling one), timed in the same rounds. A
benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time

from machine import cpu_name  # benchmarks/machine.py, beside this script

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NETWORKS = [
    ("mobilenet_v1", "mobilenet_v1 (1.0, 224)", dict(alpha=1.0)),
    ("mobilenet_v2", "mobilenet_v2 (1.0, 224)", dict(alpha=1.0)),
    ("shufflenet_v1", "shufflenet_v1 (g=3, 1.0x, 224)", dict(groups=3, scale=1.0)),
]


def latencies_ms(path, threads, runs, warmup=5):
    import numpy as np

    from kerasnets.export import TFLiteModel

    model = TFLiteModel(path, num_threads=threads)
    spec = model.input
    x = np.zeros(spec["shape"], dtype=spec["dtype"])
    for _ in range(warmup):
        model.invoke(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model.invoke(x)
        times.append(1000 * (time.perf_counter() - start))
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="timed runs (default: 50)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="interleaved rounds over all files (default: 5)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="interpreter thread counts (default: 1 2)")
    parser.add_argument("--calibration", type=int, default=32,
                        help="random images to calibrate int8 with (default: 32)")
    parser.add_argument("--ablate", action="store_true",
                        help="also ShuffleNet without the export-time rewrites")
    args = parser.parse_args(argv)
    if args.runs < 50:
        parser.error("--runs: at least 50")

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import kerasnets
    import kerasnets.models.mobilenet  # noqa: F401
    import kerasnets.models.shufflenet  # noqa: F401
    from kerasnets.export import convert_tflite
    from kerasnets.export.metadata import random_inputs

    import contextlib
    from unittest import mock

    import kerasnets.export.tflite as tflite_export

    def unchanged(model):
        return model

    def without(*names):
        stack = contextlib.ExitStack()
        for name in names:
            stack.enter_context(mock.patch.object(tflite_export, name, unchanged))
        return stack

    variants = [("", ())]
    if args.ablate:
        variants += [(" without the channel-shuffle rewrite", ("channel_shuffle_by_planes",)),
                     (" without the max-pooling rewrite", ("max_pooling_as_same",)),
                     (" without rewrites", ("channel_shuffle_by_planes", "max_pooling_as_same",
                                            "average_pooling_as_depthwise"))]
    files = []  # (key, label, quantize, path, size)
    with tempfile.TemporaryDirectory() as tmp:
        for name, label, kwargs in NETWORKS:
            spec = kerasnets.get_spec(name)
            model = kerasnets.build(name, input_shape=(224, 224, 3), **kwargs)
            data = random_inputs((224, 224, 3), spec.preprocessing, count=args.calibration)
            for index, (suffix, disabled) in enumerate(variants if name == "shufflenet_v1"
                                                       else variants[:1]):
                for quantize in ("float32", "int8"):
                    with without(*disabled):
                        content = convert_tflite(model, quantize, representative_data=data)
                    path = os.path.join(tmp, f"{name}_{index}_{quantize}.tflite")
                    with open(path, "wb") as f:
                        f.write(content)
                    files.append((name + suffix, label + suffix, quantize, path,
                                  len(content) / 2**20))
        times = {(path, t): [] for *_, path, _ in files for t in args.threads}
        round_medians = {key: [] for key in times}
        for round_index in range(args.rounds):
            for *_, path, _ in files:
                for t in args.threads:
                    runs = latencies_ms(path, t, args.runs)
                    times[(path, t)] += runs
                    round_medians[(path, t)].append(statistics.median(runs))
            print(f"round {round_index + 1} of {args.rounds} done", file=sys.stderr, flush=True)
    rows = [(key, label, quantize, size,
             [statistics.median(times[(path, t)]) for t in args.threads],
             [round_medians[(path, t)] for t in args.threads])
            for key, label, quantize, path, size in files]

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{cpu_name()}; ai-edge-litert, XNNPACK, batch 1, median of {args.rounds} x {args.runs} "
          f"runs, interleaved")
    head = "| model | type | size (MiB) | " + " | ".join(
        f"{t} thread{'s' if t > 1 else ''} (ms)" for t in args.threads) + " |"
    print(head)
    print("|" + "---|" * (3 + len(args.threads)))
    for _, label, quantize, size, times, _ in rows:
        print(f"| {label} | {quantize} | {size:.2f} | " + " | ".join(f"{ms:.2f}" for ms in times)
              + " |")
    latency = {(key, quantize): (times, rounds) for key, _, quantize, _, times, rounds in rows}
    for key in dict.fromkeys(key for key, *_ in rows if key.startswith("shufflenet_v1")):
        for quantize in ("float32", "int8"):
            (a, a_rounds), (b, b_rounds) = (latency[(key, quantize)],
                                            latency[("mobilenet_v2", quantize)])
            parts = []
            for i, t in enumerate(args.threads):
                # The ratio of the medians, and its spread: the ratio within each round.
                each = [x / y for x, y in zip(a_rounds[i], b_rounds[i])]
                parts.append(f"{t} thread(s) {a[i] / b[i]:.3f} "
                             f"(rounds {min(each):.3f}-{max(each):.3f})")
            print(f"{key} / mobilenet_v2, {quantize}: " + ", ".join(parts))
    sizes = {(key, quantize): size for key, _, quantize, size, *_ in rows}
    for key in dict.fromkeys(key for key, *_ in rows):
        print(f"{key}: int8 file / float32 file {sizes[(key, 'int8')] / sizes[(key, 'float32')]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
