"""What the recipe's training loop costs over a hand-compiled training step, and where it goes.

    python benchmarks/train_loop.py [--rounds 3] [--epochs 1] [--model resnet20]
        [--image-size 32] [--batch 64] [--no-breakdown]

The issue's bound: `recipes/train.py` trains at most 1.05 times the time per
step of a hand-compiled training step of the same model, batch and optimizer
(resnet20 on the bundled digits at 32x32, batch 64, tensorflow backend, CPU).

The run's config is the default recipe (`TrainConfig()`: Adam, cosine decay,
shift augmentation) with `model`, `image_size` and `batch_size` set, and every
model is built and compiled by `kerasnets.training` (`build_model`,
`compile_model`), so it has the recipe's optimizer, loss, metrics and compile
options. What is timed:

* **hand step**: a `tf.function` of the forward pass, the compiled loss, the
  gradients and `optimizer.apply_gradients` on one constant batch already in
  memory (no metrics, no data pipeline, no callbacks); warmed up, then as many
  calls as an epoch has steps, synchronised once at the end;
* **input pipeline**: one pass over the training `tf.data.Dataset` the recipe
  builds (`training.load_data`), with the `shift` augmentation and without it,
  nothing else running (images per second);
* **fit** variants, each its own model, traced in an untimed warm-up epoch:
  `fit` on the constant batch repeated (Keras' step overhead: metrics,
  iterator, callbacks machinery), on the recipe's data without and with
  augmentation, then with validation, then with validation and each of the
  recipe's callbacks alone, then with all of them and `verbose=2` (the
  recipe's `fit`);
* **recipe**: `kerasnets.training.train` itself, as `recipes/train.py` runs
  it (output to a temporary folder, no TFLite), for one warm-up epoch and
  `--epochs` timed ones; a callback stops it after training (no test
  evaluation, no exports).

Each `fit` call runs one epoch more than is timed, as the recipe's run has
its first epoch untimed: the first epoch of a call is slower (the call's
set-up, the data set's iterator warming up). Each fit variant's epochs are
timed by a callback: the training phase (epoch
start to the start of validation, or to the epoch's end), validation, and the
epoch-end callbacks after it. Per-step figures are per `--batch` images of
the training split (the last, partial batch counts as its share of a step),
so that they compare with the hand step on a full batch; Keras' own ms/step
(the whole epoch over the number of batches) is printed too. The
measurements are interleaved and paired: each round runs every variant once
(`--epochs` epochs each) in turn, each right after an epoch's worth of hand
steps, so that a change of the machine's load hits them alike; the figures
are medians over the rounds' epochs, and each ratio is the median of the
variant's epochs each over the hand step timed just before it. The last two
columns give the same ratios in the process's CPU time (every thread's),
which another job's load on a shared machine disturbs less than wall time.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerasnets  # noqa: E402
from kerasnets import training  # noqa: E402
from kerasnets.training import run as recipe_run  # noqa: E402
from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)


class Measured(Exception):
    """Raised by the recipe run's timer once training is over: no test evaluation, no exports."""


class EpochTimer(keras.callbacks.Callback):
    """Records, per epoch: training phase, validation and epoch-end callbacks, in seconds.

    It goes last in the callback list, so that its `on_epoch_end` comes after the
    others' (their saving is counted as epoch-end time); it has no batch hook.
    """

    def __init__(self, stop_after_training=False):
        super().__init__()
        self.stop_after_training = stop_after_training
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self._begin = time.perf_counter()
        self._cpu = time.process_time()
        self._test = None

    def on_test_begin(self, logs=None):
        if getattr(self, "_begin", None) is not None:
            self._test = [time.perf_counter(), None, time.process_time()]

    def on_test_end(self, logs=None):
        if self._test is not None:
            self._test[1] = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end, cpu = time.perf_counter(), time.process_time()
        if self._test is None:
            train, validation, callbacks = end - self._begin, 0.0, 0.0
            cpu_train = cpu - self._cpu
        else:
            train = self._test[0] - self._begin
            validation = self._test[1] - self._test[0]
            callbacks = end - self._test[1]
            cpu_train = self._test[2] - self._cpu
        # Wall seconds: training phase, validation, epoch-end callbacks; then the process's
        # CPU seconds (all threads): training phase, whole epoch.
        self.epochs.append((train, validation, callbacks, cpu_train, cpu - self._cpu))
        self._begin = None

    def on_train_end(self, logs=None):
        if self.stop_after_training:
            raise Measured


def recipe_config(args, epochs=60):
    return training.override(training.TrainConfig(), model=args.model, image_size=args.image_size,
                             batch_size=args.batch, epochs=epochs)


def compiled(config, classes, steps_per_epoch):
    model = training.build_model(config, (config.image_size, config.image_size, 3), classes,
                                 name=config.model)
    training.compile_model(model, config, config.learning_rate, steps_per_epoch)
    return model


def hand_step(model):
    """A tf.function training step: forward, the compiled loss, gradients, optimizer."""
    optimizer = model.optimizer
    loss_fn = model.loss

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            predictions = model(x, training=True)
            loss = loss_fn(y, predictions)
            if model.losses:
                loss += tf.add_n(model.losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    return step


def quiet(*_args, **_kwargs):
    pass


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet20")
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1, help="timed epochs per variant per round")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-breakdown", action="store_true",
                        help="time the hand step and the recipe only")
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(args.seed)
    config = recipe_config(args)
    spec = kerasnets.get_spec(config.model)
    size = (args.image_size, args.image_size)
    data = recipe_run.load_data(config, spec, size, args.batch, config.seed)
    plain = recipe_run.load_data(training.override(config, shift=0.0), spec, size, args.batch,
                               config.seed)
    train_size = data.sizes["train"]
    batches = -(-train_size // args.batch)
    full_steps = train_size / args.batch  # steps of `--batch` images in an epoch
    classes = len(data.class_names)
    x, y = next(iter(data.train))
    x, y = tf.constant(x), tf.constant(y)
    constant = tf.data.Dataset.from_tensors((x, y)).repeat(batches)

    load = os.getloadavg()
    print(f"{spec.name} training loop, batch {args.batch}, {args.image_size}x{args.image_size}, "
          f"digits ({train_size} train, {data.sizes['validation']} validation images: "
          f"{batches} batches an epoch), keras {keras.__version__} ({keras.backend.backend()}), "
          f"tensorflow {tf.__version__}, {os.cpu_count()} cores, {cpu_name()}")
    print(f"optimizer {config.optimizer} (learning rate {config.learning_rate:g}, "
          f"{config.schedule['name']} schedule), jit_compile={config.jit_compile}")
    print(f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    start = time.perf_counter()
    folder = tempfile.mkdtemp(prefix="kerasnets-train-loop-")

    # The hand step.
    hand_model = compiled(config, classes, batches)
    step = hand_step(hand_model)
    for _ in range(3):
        float(step(x, y))

    def time_hand():
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(batches):
            loss = step(x, y)
        float(loss)
        return (time.perf_counter() - t0) / batches, (time.process_time() - c0) / batches

    # The input pipeline alone.
    def time_pipeline(dataset):
        def run():
            t0 = time.perf_counter()
            images = sum(int(images.shape[0]) for images, _ in dataset)
            return images / (time.perf_counter() - t0)
        return run

    # The fit variants: (name, dataset, validation, callbacks factory, verbose).
    def recipe_callbacks(paths):
        stop = training.StopOnNaN(log=quiet)
        return recipe_run._callbacks(config, paths, stop, 0, has_validation=True, verbose=2,
                                     log=quiet)

    def only(kind):
        return lambda paths: [cb for cb in recipe_callbacks(paths) if type(cb).__name__ == kind]

    variants = [("fit, constant batch", constant, None, None, 0)]
    if not args.no_breakdown:
        variants += [("fit, recipe data, no augmentation", plain.train, None, None, 0),
                     ("fit, recipe data", data.train, None, None, 0),
                     ("  + validation", data.train, data.validation, None, 0)]
        kinds = [type(cb).__name__ for cb in recipe_callbacks(
            training.output_paths(os.path.join(folder, "probe"), spec.name))]
        variants += [(f"  + validation + {kind}", data.train, data.validation, only(kind), 0)
                     for kind in kinds]
        variants += [("  + validation + all callbacks, verbose=2", data.train, data.validation,
                      recipe_callbacks, 2)]
    fits = []
    for index, (name, dataset, validation, factory, verbose) in enumerate(variants):
        model = compiled(config, classes, batches)
        paths = training.output_paths(os.path.join(folder, f"fit{index}"), spec.name)
        os.makedirs(paths["run"], exist_ok=True)
        fits.append((name, model, dataset, validation, factory, verbose, paths))

    def time_fit(model, dataset, validation, factory, verbose, paths, epochs):
        timer = EpochTimer()
        callbacks = (factory(paths) if factory else []) + [timer]
        with contextlib.redirect_stdout(io.StringIO()):
            model.fit(dataset, validation_data=validation, epochs=epochs + 1, shuffle=False,
                      callbacks=callbacks, verbose=verbose)
        return timer.epochs[1:]  # the first epoch of a `fit` call pays its set-up

    t0 = time.perf_counter()
    for name, model, dataset, validation, factory, verbose, paths in fits:
        time_fit(model, dataset, validation, factory, verbose, paths, 0)
    print(f"warm-up of {len(fits)} fit variants: {time.perf_counter() - t0:.0f} s", flush=True)

    def time_recipe():
        timer = EpochTimer(stop_after_training=True)
        recipe = recipe_config(args, epochs=1 + args.epochs)
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                training.train(recipe, os.path.join(folder, "recipe"), overwrite=True,
                               tflite=False, verbose=2, log=quiet, callbacks=[timer])
            except Measured:
                pass
        return timer.epochs[1:]

    hand, pipeline = [], {"with augmentation": [], "without augmentation": []}
    epochs = {name: [] for name, *_ in fits}
    epochs["recipe: training.train"] = []
    ratios = {name: [] for name in epochs}  # (training phase, whole epoch) / the hand step
    for round_ in range(args.rounds):
        pipeline["with augmentation"].append(time_pipeline(data.train)())
        pipeline["without augmentation"].append(time_pipeline(plain.train)())
        runs = [(f[0], lambda f=f: time_fit(*f[1:], args.epochs)) for f in fits]
        runs.append(("recipe: training.train", time_recipe))
        for name, run in runs:
            before = time_hand()  # paired: the hand step just before the variant
            measured = run()
            hand.append(before)
            epochs[name] += measured
            ratios[name] += [(e[0] / full_steps / before[0], sum(e[:3]) / full_steps / before[0],
                              e[3] / full_steps / before[1], e[4] / full_steps / before[1])
                             for e in measured]
        print(f"round {round_ + 1}/{args.rounds}: {time.perf_counter() - start:.0f} s",
              flush=True)

    hand_ms = statistics.median(h[0] for h in hand) * 1000
    print()
    print(f"hand step (tf.function, constant batch): {hand_ms:.1f} ms/step "
          f"(median of {len(hand)} epochs' worth; min {min(hand)[0] * 1000:.1f}, "
          f"max {max(hand)[0] * 1000:.1f}); CPU time "
          f"{statistics.median(h[1] for h in hand) * 1000:.1f} ms/step")
    for name, rates in pipeline.items():
        print(f"input pipeline {name}: {statistics.median(rates):,.0f} images/s "
              f"({args.batch / statistics.median(rates) * 1000:.1f} ms per batch)")
    print()
    print(f"{'variant':44s} {'train':>7s} {'ratio':>6s} {'valid.':>7s} {'callb.':>7s} "
          f"{'epoch':>7s} {'ratio':>6s} {'keras':>7s} {'CPU':>6s} {'CPU':>6s}")
    print(f"{'':44s} {'ms/st':>7s} {'':>6s} {'ms/ep':>7s} {'ms/ep':>7s} {'ms/st':>7s} {'':>6s} "
          f"{'ms/st':>7s} {'train':>6s} {'epoch':>6s}")
    for name, values in epochs.items():
        train = statistics.median(v[0] for v in values) / full_steps * 1000
        validation = statistics.median(v[1] for v in values) * 1000
        callbacks = statistics.median(v[2] for v in values) * 1000
        whole = statistics.median(sum(v[:3]) for v in values)
        train_ratio = statistics.median(r[0] for r in ratios[name])
        whole_ratio = statistics.median(r[1] for r in ratios[name])
        print(f"{name:44s} {train:7.1f} {train_ratio:6.3f} {validation:7.0f} "
              f"{callbacks:7.0f} {whole / full_steps * 1000:7.1f} "
              f"{whole_ratio:6.3f} {whole / batches * 1000:7.1f} "
              f"{statistics.median(r[2] for r in ratios[name]):6.3f} "
              f"{statistics.median(r[3] for r in ratios[name]):6.3f}")
    print("train: training phase per step of", args.batch, "images; valid.: validation per epoch;"
          " callb.: epoch-end callbacks per epoch; epoch: the whole epoch per step; ratio: "
          "median over epochs of the figure over the hand step timed just before; keras: the "
          "epoch over its", batches, "batches (Keras' ms/step); CPU: the ratios in the "
          "process's CPU time (all threads) instead of wall time")
    load = os.getloadavg()
    print(f"load average at end: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
