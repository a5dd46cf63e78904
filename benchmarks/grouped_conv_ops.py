#!/usr/bin/env python
"""Per-op time of each grouped convolution of ResNeXt, ShuffleNet and AlexNet on tensorflow's CPU.

    python benchmarks/grouped_conv_ops.py [--repeats 10]

For each grouped-convolution shape of the networks (batch 8): the forward pass
and the forward + backward pass (gradients of the input and the kernel) of
the op in the form Keras uses on tensorflow (`tf.nn.conv2d` inside a
`tf.function(jit_compile=True)`: XLA), against the one `kerasnets.layers.Conv2D`
uses on oneDNN (`tf.nn.conv2d` with the grouped kernel, run by oneDNN) and the
split form (one convolution per group, concatenated: the form without oneDNN).
The outputs and gradients of the three are compared (relative difference
printed). Medians of `--repeats` calls after two warm-up calls.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# (network, batch, size, in channels, out channels, groups, kernel, stride)
SHAPES = [
    ("resnext50 conv2 3x3", 8, 56, 128, 128, 32, 3, 1),
    ("resnext50 conv3_1 3x3/2", 8, 56, 256, 256, 32, 3, 2),
    ("resnext50 conv4 3x3", 8, 14, 512, 512, 32, 3, 1),
    ("resnext50 conv5 3x3", 8, 7, 1024, 1024, 32, 3, 1),
    ("shufflenet g3 stage2 gconv1", 8, 28, 240, 60, 3, 1, 1),
    ("shufflenet g3 stage2 gconv2", 8, 28, 60, 240, 3, 1, 1),
    ("alexnet conv2 5x5", 8, 27, 96, 256, 2, 5, 1),
    ("alexnet conv4 3x3", 8, 13, 384, 384, 2, 3, 1),
]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args(argv)
    import numpy as np
    import tensorflow as tf

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from kerasnets.layers.convolution import onednn_enabled, tensorflow_grouped_convolution

    def median_ms(function, *inputs):
        function(*inputs)
        function(*inputs)
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            [t.numpy() for t in tf.nest.flatten(function(*inputs))]
            times.append(time.perf_counter() - start)
        return 1000 * statistics.median(times)

    def with_gradients(conv):
        def step(x, w):
            with tf.GradientTape() as tape:
                tape.watch([x, w])
                y = conv(x, w)
                loss = tf.reduce_sum(y * y)
            return [y, *tape.gradient(loss, [x, w])]
        return step

    print(f"tensorflow {tf.__version__}, oneDNN {'on' if onednn_enabled() else 'off'}; "
          f"median ms of {args.repeats} calls")
    print("| op | MACs | fwd XLA | fwd oneDNN | fwd split | fwd+bwd XLA | fwd+bwd oneDNN "
          "| fwd+bwd split | largest rel. diff |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, batch, size, cin, cout, groups, kernel, stride in SHAPES:
        rng = np.random.default_rng(0)
        x = tf.constant(rng.normal(size=(batch, size, size, cin)).astype("float32"))
        w = tf.constant(rng.normal(size=(kernel, kernel, cin // groups, cout)).astype("float32"))
        forms = {
            "xla": lambda x, w: tf.nn.conv2d(x, w, stride, "SAME"),
            "native": lambda x, w: tensorflow_grouped_convolution(
                x, w, groups, [stride, stride], "same", [1, 1], "native"),
            "split": lambda x, w: tensorflow_grouped_convolution(
                x, w, groups, [stride, stride], "same", [1, 1], "split"),
        }
        forward = {k: tf.function(f, jit_compile=(k == "xla")) for k, f in forms.items()}
        both = {k: tf.function(with_gradients(f), jit_compile=(k == "xla"))
                for k, f in forms.items()}
        reference = [t.numpy() for t in both["xla"](x, w)]
        diff = 0.0
        for key in ("native", "split"):
            for a, b in zip(both[key](x, w), reference):
                diff = max(diff, float(np.abs(a.numpy() - b).max() / np.abs(b).max()))
        out = -(-size // stride)
        macs = batch * out * out * kernel * kernel * (cin // groups) * cout
        cells = [median_ms(forward[k], x, w) for k in forms] + [
            median_ms(both[k], x, w) for k in forms]
        print(f"| {label} | {macs / 1e6:.0f}M | " + " | ".join(f"{c:.1f}" for c in cells)
              + f" | {diff:.1e} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
