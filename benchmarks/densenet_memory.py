"""Peak memory of one DenseNet-121 training step: kerasnets' against keras.applications'.

    python benchmarks/densenet_memory.py [--batch 32] [--size 224]

DenseNet's concatenations are where a naive implementation spends memory
(each layer's input is a new copy of all preceding feature maps); the check is
that ours costs no more than keras.applications' DenseNet121 for the same step
(the issue's bound: 1.5 times). Each model runs in a fresh subprocess
(tensorflow backend, CPU only): build, compile with SGD, one warm-up
`train_on_batch`, then one measured `train_on_batch` on the same batch.

Two figures per model, both for the measured step alone:
- peak RSS: the process' resident-set high-water mark (VmHWM, the number
  `resource.getrusage(...).ru_maxrss` reports) during the step, reset before
  it through /proc/self/clear_refs, minus the RSS before the step; the
  absolute peak is printed too;
- TF allocator peak: `tf.config.experimental.get_memory_info("CPU:0")["peak"]`
  after `reset_memory_stats("CPU:0")`, the tensors TensorFlow's CPU allocator
  held at once (it works on CPU; oneDNN scratch memory is outside it).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time

from machine import cpu_name  # benchmarks/machine.py, beside this script

MODELS = ("kerasnets", "keras.applications")


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss():
    # Linux >= 4.0: "5" resets the high-water mark to the current RSS.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def child(which, batch, size):
    import numpy as np
    import tensorflow as tf
    import keras

    if which == "kerasnets":
        import kerasnets.models.densenet  # noqa: F401
        import kerasnets

        model = kerasnets.build("densenet121", input_shape=(size, size, 3))
    else:
        model = keras.applications.DenseNet121(weights=None, input_shape=(size, size, 3))
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (batch, size, size, 3)).astype("float32")
    y = rng.integers(0, 1000, (batch,))
    start = time.perf_counter()
    model.train_on_batch(x, y)  # warm-up: tracing, optimizer variables, allocator pools
    warmup_s = time.perf_counter() - start
    gc.collect()
    before_kib = _status_kib("VmRSS")
    _reset_peak_rss()
    tf.config.experimental.reset_memory_stats("CPU:0")
    start = time.perf_counter()
    model.train_on_batch(x, y)
    step_s = time.perf_counter() - start
    peak_kib = _status_kib("VmHWM")
    tf_peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
    print(json.dumps({
        "model": which,
        "params": model.count_params(),
        "rss_before_mib": before_kib / 1024,
        "rss_peak_mib": peak_kib / 1024,
        "rss_step_mib": (peak_kib - before_kib) / 1024,
        "tf_peak_mib": tf_peak / 2**20,
        "warmup_s": warmup_s,
        "step_s": step_s,
    }))


def run(which, batch, size):
    env = {**os.environ, "KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": "",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", which, "--batch", str(batch),
         "--size", str(size)],
        env=env, capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{which} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--child", choices=MODELS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batch, args.size)
        return
    print(f"DenseNet-121 training step, batch {args.batch}, {args.size}x{args.size}, "
          f"tensorflow on CPU ({os.cpu_count()} cores, {cpu_name()})")
    results = [run(which, args.batch, args.size) for which in MODELS]
    header = ("model", "params", "RSS before", "peak RSS", "step RSS", "TF peak", "step s")
    print("{:<20}{:>12}{:>12}{:>12}{:>12}{:>12}{:>9}".format(*header))
    for r in results:
        print("{:<20}{:>12,}{:>9.0f} MiB{:>8.0f} MiB{:>8.0f} MiB{:>8.0f} MiB{:>9.1f}".format(
            r["model"], r["params"], r["rss_before_mib"], r["rss_peak_mib"],
            r["rss_step_mib"], r["tf_peak_mib"], r["step_s"]))
    ours, theirs = results
    for key, what in (("rss_step_mib", "step RSS"), ("rss_peak_mib", "peak RSS"),
                      ("tf_peak_mib", "TF allocator peak")):
        print(f"ratio kerasnets / keras.applications, {what}: {ours[key] / theirs[key]:.3f}")


if __name__ == "__main__":
    main()
