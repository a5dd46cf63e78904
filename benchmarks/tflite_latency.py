#!/usr/bin/env python
"""TFLite file size and latency of the mobile networks on the LiteRT interpreter (XNNPACK).

    python benchmarks/tflite_latency.py [--runs 50] [--threads 1 2] [--calibration 32]

For mobilenet_v1 (1.0, 224), mobilenet_v2 (1.0, 224) and shufflenet_v1 (g=3,
1.0x, 224), each exported as float32 and full-integer int8 (random weights;
int8 calibrated on random in-range images, which sets latency and size but not
accuracy): the file size and the median latency of one image over `--runs`
invocations after warm-up, per thread count. A benchmark, not a test.
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


def median_latency_ms(path, threads, runs, warmup=5):
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
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50, help="timed runs (default: 50)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="interpreter thread counts (default: 1 2)")
    parser.add_argument("--calibration", type=int, default=32,
                        help="random images to calibrate int8 with (default: 32)")
    args = parser.parse_args(argv)
    if args.runs < 50:
        parser.error("--runs: at least 50")

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import kerasnets
    import kerasnets.models.mobilenet  # noqa: F401
    import kerasnets.models.shufflenet  # noqa: F401
    from kerasnets.export import convert_tflite
    from kerasnets.export.metadata import random_inputs

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, label, kwargs in NETWORKS:
            spec = kerasnets.get_spec(name)
            model = kerasnets.build(name, input_shape=(224, 224, 3), **kwargs)
            data = random_inputs((224, 224, 3), spec.preprocessing, count=args.calibration)
            for quantize in ("float32", "int8"):
                content = convert_tflite(model, quantize, representative_data=data)
                path = os.path.join(tmp, f"{name}_{quantize}.tflite")
                with open(path, "wb") as f:
                    f.write(content)
                times = [median_latency_ms(path, t, args.runs) for t in args.threads]
                rows.append((label, quantize, len(content) / 2**20, times))
                print(f"{label} {quantize}: {len(content) / 2**20:.2f} MiB, "
                      + ", ".join(f"{t} thread(s) {ms:.2f} ms" for t, ms in zip(args.threads, times)),
                      file=sys.stderr, flush=True)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"{cpu_name()}; ai-edge-litert, XNNPACK, batch 1, median of {args.runs} runs")
    head = "| model | type | size (MiB) | " + " | ".join(
        f"{t} thread{'s' if t > 1 else ''} (ms)" for t in args.threads) + " |"
    print(head)
    print("|" + "---|" * (3 + len(args.threads)))
    for label, quantize, size, times in rows:
        print(f"| {label} | {quantize} | {size:.2f} | " + " | ".join(f"{ms:.2f}" for ms in times)
              + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
