#!/usr/bin/env python
"""Where a TFLite model's time goes on LiteRT/XNNPACK: a per-op profile, by op type.

    python benchmarks/tflite_op_profile.py [--models shufflenet_v1 mobilenet_v2]
        [--types float32 int8] [--threads 1] [--runs 50]

The Python LiteRT interpreter has no op profiler (the C++ benchmark_model
tool's --enable_op_profiling is not in the ai-edge-litert wheel), so each
operator of the converted model is cut out into a model of its own (its
tensors, quantization and constant buffers unchanged: the flatbuffer edited
with `ai_edge_litert.tools.flatbuffer_utils`) and timed alone with the default
XNNPACK delegate: the median of `--runs` invocations after 5 warm-up ones.
The table sums those times by op type and says how many of the ops XNNPACK
took; ops it refuses run as TFLite's reference kernels and split the
delegated graph into partitions ("partitions": DELEGATE nodes of the whole
model). The whole model's latency is measured too. Ops timed alone lose what
XNNPACK fuses across ops (a PAD into the next convolution), so the sum can
exceed the whole; it says which ops cost, not the exact total.

Networks: as benchmarks/tflite_latency.py (random weights, 224x224, int8
calibrated on random in-range images). Run it from another checkout to
profile that checkout's models (the script imports the kerasnets beside it).
"""

from __future__ import annotations

import argparse
import collections
import copy
import os
import platform
import statistics
import sys
import time

from machine import cpu_name  # benchmarks/machine.py, beside this script

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

NETWORKS = {
    "mobilenet_v2": ("mobilenet_v2 (1.0, 224)", dict(alpha=1.0)),
    "shufflenet_v1": ("shufflenet_v1 (g=3, 1.0x, 224)", dict(groups=3, scale=1.0)),
    "mobilenet_v1": ("mobilenet_v1 (1.0, 224)", dict(alpha=1.0)),
}


def _median_ms(interpreter, runs, warmup=5):
    for _ in range(warmup):
        interpreter.invoke()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def _interpreter(content, threads):
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=bytes(content), num_threads=threads)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    return interpreter


def _delegated(interpreter):
    return sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())


def op_profile(content, threads, runs):
    """[(op type, output shape, ms, delegated to XNNPACK)] of each operator, alone."""
    from ai_edge_litert.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(content))
    graph = model.subgraphs[0]
    constant = {index for index, tensor in enumerate(graph.tensors)
                if model.buffers[tensor.buffer].data is not None
                and len(model.buffers[tensor.buffer].data)}
    rows = []
    for op in graph.operators:
        single, subgraph = copy.copy(model), copy.copy(graph)
        subgraph.operators = [op]
        subgraph.inputs = [i for i in op.inputs if i >= 0 and i not in constant]
        subgraph.outputs = list(op.outputs)
        single.subgraphs = [subgraph]
        interpreter = _interpreter(flatbuffer_utils.convert_object_to_bytearray(single), threads)
        rows.append((flatbuffer_utils.opcode_to_name(model, op.opcodeIndex),
                     tuple(int(d) for d in graph.tensors[op.outputs[0]].shape),
                     _median_ms(interpreter, runs), _delegated(interpreter) > 0))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["shufflenet_v1", "mobilenet_v2"],
                        choices=list(NETWORKS))
    parser.add_argument("--types", nargs="+", default=["float32", "int8"],
                        choices=["float32", "int8"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--calibration", type=int, default=32)
    args = parser.parse_args(argv)

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import kerasnets
    from kerasnets.export import convert_tflite
    from kerasnets.export.metadata import random_inputs

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {cpu_name()}; "
          f"kerasnets from {os.path.dirname(kerasnets.__file__)}; ai-edge-litert XNNPACK, "
          f"{args.threads} thread(s), batch 1, median of {args.runs} runs per op")
    for name in args.models:
        label, kwargs = NETWORKS[name]
        spec = kerasnets.get_spec(name)
        model = kerasnets.build(name, input_shape=(224, 224, 3), **kwargs)
        data = random_inputs((224, 224, 3), spec.preprocessing, count=args.calibration)
        for quantize in args.types:
            content = convert_tflite(model, quantize, representative_data=data)
            whole = _interpreter(content, args.threads)
            total = _median_ms(whole, args.runs)
            rows = op_profile(content, args.threads, args.runs)
            by_type = collections.defaultdict(lambda: [0, 0, 0.0])
            for op, _, ms, delegated in rows:
                by_type[op][0] += 1
                by_type[op][1] += delegated
                by_type[op][2] += ms
            print(f"\n{label} {quantize}: whole model {total:.2f} ms, {_delegated(whole)} "
                  f"XNNPACK partition(s); ops alone sum to {sum(r[2] for r in rows):.2f} ms")
            print("| op | count | on XNNPACK | ms (alone) |")
            print("|---|---|---|---|")
            for op, (count, delegated, ms) in sorted(by_type.items(), key=lambda kv: -kv[1][2]):
                print(f"| {op} | {count} | {delegated} | {ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
