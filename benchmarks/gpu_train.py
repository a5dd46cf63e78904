"""Training throughput on a GPU: kerasnets' recipe path on jax against torchvision with torch.compile.

    python benchmarks/gpu_train.py [--models resnet50 mobilenet_v2] [--batch 256] [--size 224]
        [--steps 100] [--warmup 20] [--steps-per-execution 1] [--xla-flags "..."]
        [--recipe PATH] [--torch-compile-mode default|reduce-overhead|max-autotune|none]
        [--no-torch]

Needs jax (with CUDA), keras and, for the torch side, torch and torchvision
(`pip install torch==2.13.0 torchvision==0.28.0`: PyPI's torchvision is a CUDA
build, which imports beside a CUDA torch but not beside the CPU build of
2.13.0); not TensorFlow, which neither side needs. Where TensorFlow is
installed the keras side imports it all the same (Keras'
`keras.utils.set_random_seed` seeds it whenever it can import it, and a
recipe's `data` and `policy` keys are checked against `kerasnets.data`);
each child reports whether it was imported, the `tensorflow` column.
Issue 18's figure to beat, on an H100 with plain
keras.applications ResNet50 through `fit`: 5,314 images/s against
torch.compile's 5,563 (0.955x); the goal is >= 1.0x for `resnet50` through
the recipe, input pipeline included.

Each (side, model) runs in a fresh child process, so that the two frameworks
never share the GPU's memory (jax preallocates 75% of it) and each compiles
alone. Figures are images per second over `--steps` timed training steps,
after `--warmup` steps that include the compilation.

Keras side (`KERAS_BACKEND=jax`): the recipe path of `recipes/train.py` without
its tf.data input. The recipe (`recipes/configs/<model>.yaml`, or `--recipe`
with `model` replaced) is read by `kerasnets.training.load_config`, the model
built by `build_model` (registry, the recipe's initialiser, float32 outputs)
under the `mixed_bfloat16` policy (`mixed_precision_policy("bfloat16")`), and
compiled by `compile_model` with the recipe's optimizer, schedule, loss and
metrics (accuracy and top-5, as a run has them), `jit_compile=True` and
`--steps-per-execution`. `model.fit` reads a Python generator of jax arrays
that never leave the device: a pool of `--pool` batches of synthetic uint8
images (N, R, R, 3), R = `--raw-size` (default size * 8/7, 256 for 224), drawn
once with `jax.random`, and per step one jitted function that picks a batch,
crops each image at a random place to `--size`, flips half of them, and applies
the network's preprocessing (`kerasnets.registry.normalization_for`: caffe's
BGR mean for ResNet-50, [-1, 1] for MobileNet v2) in float32, the model's input
dtype. So the input pipeline's work runs on the GPU, in the same stream as the
training steps, and is timed with them.

What the keras/jax side does that matters for speed, as read in keras 3.15's
`keras/src/backend/jax/trainer.py`:

- donated buffers: the train step is `jax.jit(train_step, donate_argnums=0)`,
  the state (trainable and non-trainable variables, optimizer and metric
  variables) is donated, so XLA updates the weights in place, no second copy;
  the batch is not donated;
- `steps_per_execution` > 1 is a Python loop over that jitted step inside one
  call of the train function: it saves callback hooks and the host's work
  between steps, not kernel launches (there is no `lax.scan` over steps);
- data: on a GPU, fit's iterator puts one batch ahead on the device; arrays
  already there (as here) are not copied;
- layout: Keras on jax is channels_last (NHWC), which cuDNN's bf16 tensor-core
  convolutions prefer; torch gets the same through `channels_last`;
- BatchNormalization under `mixed_bfloat16` keeps float32 variables and
  computes its moments and normalisation in float32 (it casts its bf16 input
  up, `batch_normalization.py`), casting the result back to bf16; torch's
  autocast runs cuDNN's batch norm with float32 statistics too.

`--xla-flags` is appended to `XLA_FLAGS` in the keras child and printed with
the results. Candidates on one GPU (none measured here):
`--xla_gpu_autotune_level=4` (the default; 0 turns conv/gemm autotuning off),
`--xla_gpu_enable_latency_hiding_scheduler=true`,
`--xla_gpu_enable_command_buffer=` (no CUDA graphs) and
`--xla_gpu_enable_triton_gemm=false`.

Torch side: `torchvision.models.<model>(weights=None)` in `channels_last`,
`torch.compile(mode=--torch-compile-mode)`, the step under
`torch.autocast("cuda", dtype=torch.bfloat16)` with cross-entropy, and the
optimizer the keras side's recipe names, with its hyper-parameters (SGD with
momentum 0.9 and weight decay 1e-4 for ResNet-50; RMSprop for MobileNet v2):
torch's default (foreach) implementations. Its input pipeline is the keras
side's, written in torch on the device: a uint8 pool, random crops and flips,
torchvision's mean/std normalisation, then NCHW in channels_last memory.

Without a GPU (jax's first device is not a "gpu") it still runs, for smoke
tests, and says so at the top and in the table's title: "NOT a GPU
measurement". The torch side needs a model of the same name in torchvision
(resnet50, mobilenet_v2, ...); others get "-".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)

RESULT = "RESULT "  # a child's last line of stdout: RESULT {json}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["resnet50", "mobilenet_v2"])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=224, help="training crop (square)")
    parser.add_argument("--raw-size", type=int, default=None,
                        help="side of the synthetic uint8 images (default: size * 8/7)")
    parser.add_argument("--steps", type=int, default=100, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first (compile)")
    parser.add_argument("--steps-per-execution", type=int, default=1)
    parser.add_argument("--pool", type=int, default=8, help="synthetic uint8 batches on device")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--recipe", default=None,
                        help="recipe YAML for every model (its `model` replaced); default: "
                             "recipes/configs/<model>.yaml")
    parser.add_argument("--xla-flags", default="", help="appended to XLA_FLAGS (keras side)")
    parser.add_argument("--torch-compile-mode", default="default",
                        choices=("default", "reduce-overhead", "max-autotune", "none"))
    parser.add_argument("--no-torch", action="store_true", help="the keras side only")
    parser.add_argument("--seed", type=int, default=0)
    # Internal: what a child process runs.
    parser.add_argument("--child", choices=("keras", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--child-model", help=argparse.SUPPRESS)
    parser.add_argument("--torch-recipe", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for key in ("batch", "size", "steps", "warmup", "steps_per_execution", "pool", "classes"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be >= 1")
    if args.raw_size is None:
        args.raw_size = max(args.size, round(args.size * 8 / 7))
    if args.raw_size < args.size:
        parser.error("--raw-size must be >= --size")
    if args.warmup < args.steps_per_execution:
        parser.error("--warmup must be >= --steps-per-execution (the first execution compiles)")
    return args


def recipe_path(args, model):
    if args.recipe:
        return args.recipe
    path = os.path.join(ROOT, "recipes", "configs", f"{model}.yaml")
    if not os.path.isfile(path):
        raise SystemExit(f"no recipe {path}: pass --recipe PATH (its `model` is replaced)")
    return path


# ----------------------------------------------------------------------------- keras (jax)

def keras_child(args):
    """Trains `args.child_model` through the recipe path on jax; returns the result dict."""
    os.environ["KERAS_BACKEND"] = "jax"
    if args.xla_flags:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + args.xla_flags).strip()
    sys.path.insert(0, ROOT)
    import jax
    import jax.numpy as jnp
    import keras

    import kerasnets
    from kerasnets import registry
    from kerasnets.training import (build_model, compile_model, load_config,
                                    mixed_precision_policy, override)

    name = args.child_model
    config = override(load_config(recipe_path(args, name)), model=name, batch_size=args.batch,
                      image_size=args.size, mixed_precision="bfloat16", jit_compile=True)
    keras.mixed_precision.set_global_policy(mixed_precision_policy(config.mixed_precision))
    keras.utils.set_random_seed(config.seed)
    spec = registry.get_spec(name)
    model = build_model(config, (args.size, args.size, 3), args.classes, name=spec.name)
    compile_model(model, config, steps_per_epoch=args.steps, jit_compile=True,
                  steps_per_execution=args.steps_per_execution)

    norm = registry.normalization_for(spec.name)
    mean, std = (jnp.asarray(v, jnp.float32) for v in norm.pixel_mean_std())
    bgr = norm.channel_order == "BGR"
    input_dtype = model.inputs[0].dtype
    size, raw, batch = args.size, args.raw_size, args.batch

    key = jax.random.key(args.seed)
    key, k_images, k_labels = jax.random.split(key, 3)
    pool_images = jax.random.bits(k_images, (args.pool, batch, raw, raw, 3), jnp.uint8)
    pool_labels = jax.random.randint(k_labels, (args.pool, batch), 0, args.classes, jnp.int32)

    @jax.jit
    def device_batch(key, index, images, labels):
        """Batch `index` of the pool, randomly cropped, flipped and preprocessed."""
        images, labels = images[index], labels[index]
        k_y, k_x, k_flip = jax.random.split(key, 3)
        ys = jax.random.randint(k_y, (batch,), 0, raw - size + 1)
        xs = jax.random.randint(k_x, (batch,), 0, raw - size + 1)
        crops = jax.vmap(lambda image, y, x: jax.lax.dynamic_slice(
            image, (y, x, 0), (size, size, 3)))(images, ys, xs)
        flip = jax.random.bernoulli(k_flip, 0.5, (batch,))
        crops = jnp.where(flip[:, None, None, None], crops[:, :, ::-1, :], crops)
        x = crops.astype(jnp.float32)
        if bgr:
            x = x[..., ::-1]
        return ((x - mean) / std).astype(input_dtype), labels

    def batches(count, key):
        for step in range(count):
            key, sub = jax.random.split(key)
            yield device_batch(sub, step % args.pool, pool_images, pool_labels)

    k_warm, k_timed = jax.random.split(key)
    start = time.perf_counter()
    model.fit(batches(args.warmup, k_warm), steps_per_epoch=args.warmup, epochs=1, shuffle=False,
              verbose=0)
    jax.block_until_ready([v.value for v in model.trainable_variables])
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    history = model.fit(batches(args.steps, k_timed), steps_per_epoch=args.steps, epochs=1,
                        shuffle=False,
                        verbose=0)
    jax.block_until_ready([v.value for v in model.trainable_variables])
    elapsed = time.perf_counter() - start

    device = jax.devices()[0]
    return {
        "side": "keras", "model": name, "images_per_s": args.steps * batch / elapsed,
        "seconds": elapsed, "warmup_s": warmup_s, "loss": float(history.history["loss"][-1]),
        "platform": device.platform,
        "device": device.device_kind if device.platform == "gpu" else cpu_name(),
        "versions": {"jax": jax.__version__, "keras": keras.__version__,
                     "kerasnets": kerasnets.__version__},
        "policy": keras.mixed_precision.global_policy().name,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "recipe": os.path.relpath(os.path.abspath(recipe_path(args, name)), ROOT),
        # What the torch side trains with: the recipe's optimizer, as the keras side read it.
        "torch_recipe": {"optimizer": config.optimizer, "learning_rate": config.learning_rate,
                         "momentum": config.momentum, "nesterov": config.nesterov,
                         "rho": config.rho, "epsilon": config.epsilon,
                         "weight_decay": config.weight_decay,
                         "label_smoothing": config.label_smoothing},
        "tensorflow": "tensorflow" in sys.modules,
    }


# ----------------------------------------------------------------------------- torch

def torch_optimizer(torch, parameters, recipe):
    common = {"lr": recipe["learning_rate"], "weight_decay": recipe["weight_decay"]}
    if recipe["optimizer"] == "sgd":
        return torch.optim.SGD(parameters, momentum=recipe["momentum"],
                               nesterov=recipe["nesterov"], **common)
    epsilon = {} if recipe["epsilon"] is None else {"eps": recipe["epsilon"]}
    if recipe["optimizer"] == "rmsprop":
        return torch.optim.RMSprop(parameters, alpha=recipe["rho"], momentum=recipe["momentum"],
                                   **epsilon, **common)
    if recipe["optimizer"] == "adagrad":
        return torch.optim.Adagrad(parameters, **epsilon, **common)
    return torch.optim.Adam(parameters, **epsilon, **common)


def torch_child(args):
    """Trains torchvision's `args.child_model` with torch.compile, bf16, channels_last."""
    import torch
    import torchvision

    name = args.child_model
    recipe = json.loads(args.torch_recipe)
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    torch.manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True
    model = getattr(torchvision.models, name)(weights=None, num_classes=args.classes)
    model = model.to(device, memory_format=torch.channels_last).train()
    optimizer = torch_optimizer(torch, model.parameters(), recipe)
    compiled = model if args.torch_compile_mode == "none" else torch.compile(
        model, mode=args.torch_compile_mode)
    size, raw, batch = args.size, args.raw_size, args.batch
    mean = torch.tensor((0.485, 0.456, 0.406), device=device) * 255
    std = torch.tensor((0.229, 0.224, 0.225), device=device) * 255
    pool_images = torch.randint(0, 256, (args.pool, batch, raw, raw, 3), dtype=torch.uint8,
                                device=device)
    pool_labels = torch.randint(0, args.classes, (args.pool, batch), device=device)
    offsets = torch.arange(size, device=device)
    rows = torch.arange(batch, device=device)[:, None, None]

    def device_batch(index):
        images = pool_images[index]
        ys = torch.randint(0, raw - size + 1, (batch,), device=device)
        xs = torch.randint(0, raw - size + 1, (batch,), device=device)
        crops = images[rows, (ys[:, None] + offsets)[:, :, None], (xs[:, None] + offsets)[:, None, :]]
        flip = torch.rand(batch, device=device) < 0.5
        crops = torch.where(flip[:, None, None, None], crops.flip(2), crops)
        x = (crops.float() - mean) / std
        return x.permute(0, 3, 1, 2), pool_labels[index]  # NCHW view of NHWC: channels_last

    def step(index):
        x, y = device_batch(index)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = torch.nn.functional.cross_entropy(compiled(x), y,
                                                     label_smoothing=recipe["label_smoothing"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    def synchronize():
        if cuda:
            torch.cuda.synchronize()

    start = time.perf_counter()
    for i in range(args.warmup):
        step(i % args.pool)
    synchronize()
    warmup_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(args.steps):
        loss = step(i % args.pool)
    synchronize()
    elapsed = time.perf_counter() - start
    return {
        "side": "torch", "model": name, "images_per_s": args.steps * batch / elapsed,
        "seconds": elapsed, "warmup_s": warmup_s, "loss": float(loss.detach()),
        "platform": device.type,
        "device": torch.cuda.get_device_name(0) if cuda else cpu_name(),
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__},
        "compile_mode": args.torch_compile_mode,
        "tensorflow": "tensorflow" in sys.modules,
    }


# ----------------------------------------------------------------------------- the run

def run_child(side, model, argv, extra=()):
    """Runs this script as a `side` child for `model`; its result dict (None on failure)."""
    command = [sys.executable, os.path.abspath(__file__), *argv, "--child", side,
               "--child-model", model, *extra]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT)]
    if done.returncode or not lines:
        print(f"{side} {model}: failed (exit {done.returncode}); its output:\n{done.stdout}",
              file=sys.stderr)
        return None
    return json.loads(lines[-1][len(RESULT):])


def has_torchvision_model(name):
    import importlib.util

    if importlib.util.find_spec("torchvision") is None:
        return False
    import torchvision.models

    return callable(getattr(torchvision.models, name, None))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.child:
        result = (keras_child if args.child == "keras" else torch_child)(args)
        print(RESULT + json.dumps(result), flush=True)
        return 0

    rows, failed = [], False
    for model in args.models:
        keras_result = run_child("keras", model, argv)
        torch_result = None
        if keras_result is not None and not args.no_torch:
            if has_torchvision_model(model):
                torch_result = run_child("torch", model, argv, (
                    "--torch-recipe", json.dumps(keras_result["torch_recipe"])))
                failed |= torch_result is None
            else:
                print(f"torch {model}: torchvision has no such model (or is not installed)",
                      file=sys.stderr)
        failed |= keras_result is None
        rows.append((model, keras_result, torch_result))

    results = [r for row in rows for r in row[1:] if r is not None]
    on_gpu = bool(results) and all(r["platform"] in ("gpu", "cuda") for r in results)
    where = ", ".join(sorted({r["platform"] for r in results})) or "nothing"
    note = "" if on_gpu else f"NOT a GPU measurement: ran on {where.upper()}"
    if note:
        print(note)
    print(f"gpu_train: training images/s, batch {args.batch}, {args.size}x{args.size} crops "
          f"of {args.raw_size}x{args.raw_size} uint8, bf16, {args.steps} timed steps after "
          f"{args.warmup}" + (f" ({note})" if note else ""))
    devices = sorted({f"{r['side']}: {r['device']}" for r in results})
    print("device: " + "; ".join(devices))
    versions = {"python": platform.python_version()}
    for r in results:
        versions.update(r["versions"])
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    print(f"keras: steps_per_execution {args.steps_per_execution}, XLA_FLAGS "
          f"{os.environ.get('XLA_FLAGS', '') + (' ' + args.xla_flags if args.xla_flags else '')!r}"
          f"; torch.compile mode {args.torch_compile_mode}")
    header = ("model", "recipe", "keras img/s", "torch img/s", "keras/torch", "tensorflow")
    table = [header]
    for model, k, t in rows:
        ratio = f"{k['images_per_s'] / t['images_per_s']:.3f}x" if k and t else "-"
        imported = any(r["tensorflow"] for r in (k, t) if r)
        table.append((model, k["recipe"] if k else "-",
                      f"{k['images_per_s']:,.1f}" if k else "failed",
                      f"{t['images_per_s']:,.1f}" if t else "-", ratio,
                      "imported" if imported else "not imported"))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print("  ".join(cell.ljust(w) if j < 2 else cell.rjust(w)
                        for j, (cell, w) in enumerate(zip(row, widths))))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for model, k, t in rows:
        for r in (k, t):
            if r:
                print(f"{r['side']} {model}: loss {r['loss']:.4f}, warm-up {r['warmup_s']:.1f} s, "
                      f"timed {r['seconds']:.2f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
