"""A training run from a recipe: data, distribution, model, callbacks, outputs, exports.

`train(config, output_dir)` trains `config.model` on `config.data` and
writes, under `output_dir` (for model NAME)::

    NAME.keras              the final model (Keras v3 format)
    NAME/                   the final model as a TF SavedModel (serving signature)
    NAME.tflite, NAME_int8.tflite (+ .labels.txt, .metadata.json)   with `tflite=True`
    NAME.training/
        config.yaml         the recipe as run (after overrides and replica scaling)
        checkpoints/        the BackupAndRestore backup of the last finished epoch;
                            deleted when the run finishes, kept after a divergence
        best.keras          the model of the best epoch (`config.monitor`)
        history.csv         loss, accuracy, top-5 accuracy, learning rate per epoch
        history.png         the loss and accuracy curves
        logs/               TensorBoard logs

Every file is written atomically. Existing outputs are never replaced unless
`overwrite=True` (which also starts the run afresh); a run killed during
training and started again with the same arguments resumes after its last
finished epoch from `checkpoints/`. With several workers only the chief
writes to `output_dir`; the others write the same things to a private
temporary folder that is deleted (every worker must take part in saving).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import shutil
import tempfile
import warnings

from kerasnets.training.callbacks import (
    BestModel,
    DivergedError,
    ResumableBackup,
    StopOnNaN,
    backup_epoch,
    plot_history,
    read_history,
)
from kerasnets.training.config import config_to_dict, override

__all__ = ["TrainResult", "OutputExistsError", "TrainingInterrupted", "output_paths",
           "check_outputs", "check_same_run", "as_run_config", "load_data", "train",
           "DivergedError"]


EVAL_BATCH = 256  # images per evaluation batch


class OutputExistsError(FileExistsError):
    """An output of the run exists and `overwrite` was not given."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training was interrupted (Ctrl-C); the message says what was kept and how to go on.

    When no epoch had finished in a fresh run, the run folder holds nothing worth
    keeping and is removed, so that the same command starts again.
    """

    def __init__(self, paths, epoch, resumed=False):
        self.paths, self.epoch = paths, epoch
        if epoch:
            message = (f"interrupted; the backup of epoch {epoch} is in {paths['checkpoints']}: "
                       "run the same command again to resume from it (or add --overwrite to "
                       "start afresh)")
        else:
            if not resumed:
                shutil.rmtree(paths["run"], ignore_errors=True)
            message = ("interrupted before the first epoch finished; nothing was kept: run the "
                       "same command again to start")
        super().__init__(message)

    def __str__(self):
        return self.args[0]


@dataclasses.dataclass
class TrainResult:
    """What :func:`train` did."""

    model: object
    history: list
    test_accuracy: float | None
    test_top5: float | None
    paths: dict
    distribution: object
    global_batch_size: int
    learning_rate: float
    initial_epoch: int
    exports: dict = dataclasses.field(default_factory=dict)


def output_paths(output_dir, name, tflite=False):
    """{role: path} of the run's outputs for model `name` (see the module docstring)."""
    base = os.path.join(output_dir, name)
    run = base + ".training"
    paths = {"keras": base + ".keras", "saved_model": base, "run": run,
             "checkpoints": os.path.join(run, "checkpoints"),
             "best": os.path.join(run, "best.keras"),
             "history": os.path.join(run, "history.csv"),
             "plot": os.path.join(run, "history.png"),
             "logs": os.path.join(run, "logs"),
             "config": os.path.join(run, "config.yaml")}
    if tflite:
        for key, tfl in (("tflite", base + ".tflite"), ("tflite_int8", base + "_int8.tflite")):
            stem = tfl[: -len(".tflite")]
            paths[key] = tfl
            paths[key + "_labels"] = stem + ".labels.txt"
            paths[key + "_metadata"] = stem + ".metadata.json"
    return paths


FINAL = ("keras", "saved_model", "tflite", "tflite_labels", "tflite_metadata", "tflite_int8",
         "tflite_int8_labels", "tflite_int8_metadata")


def check_outputs(paths, overwrite=False):
    """The epoch to resume after (0 for a fresh run); raises OutputExistsError.

    A final output present, or a run folder without a backup to resume from,
    is refused unless `overwrite`.
    """
    if overwrite:
        return 0
    for key in FINAL:
        if key in paths and os.path.lexists(paths[key]):
            raise OutputExistsError(f"{paths[key]} already exists; pass --overwrite to replace it")
    if os.path.lexists(paths["run"]):
        epoch = backup_epoch(paths["checkpoints"])
        if epoch is None:
            raise OutputExistsError(
                f"{paths['run']} already exists (a finished run); pass --overwrite to replace it")
        return epoch
    return 0


def as_run_config(config, *, learning_rate, batch_size, image_size, strategy):
    """`config` with what the run resolved written in: the learning rate and global batch
    after replica scaling, the image size, the strategy and mixed precision chosen by "auto"."""
    from kerasnets.training.build import mixed_precision_policy

    policy = mixed_precision_policy(config.mixed_precision)
    return override(config, learning_rate=learning_rate, batch_size=batch_size,
                    replica_scaling=False, image_size=image_size, strategy=strategy,
                    mixed_precision="off" if policy == "float32" else policy[len("mixed_"):])


def check_same_run(config_path, as_run):
    """Raises OutputExistsError unless `config_path` (the config.yaml of the run being resumed)
    records the same run as `as_run` (see :func:`as_run_config`); the message names each
    difference."""
    import yaml

    try:
        with open(config_path, encoding="utf-8") as handle:
            recorded = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as err:
        raise OutputExistsError(
            f"cannot resume the run in {os.path.dirname(config_path)}: its {config_path} cannot "
            f"be read ({err}); pass --overwrite to start again") from None
    now = yaml.safe_load(yaml.safe_dump(config_to_dict(as_run), sort_keys=False))
    if not isinstance(recorded, dict):
        recorded = {}
    changed = [f"{key}: {recorded.get(key)!r} -> {now.get(key)!r}"
               for key in dict.fromkeys([*now, *recorded]) if recorded.get(key) != now.get(key)]
    if changed:
        raise OutputExistsError(
            f"cannot resume the run in {os.path.dirname(config_path)}: the command changed "
            f"since it started ({'; '.join(changed)}); run it as it started to resume, or "
            "pass --overwrite to start again")


@dataclasses.dataclass
class Data:
    """The batched datasets of a run (validation and test may be None) and what they hold."""

    train: object
    validation: object
    test: object
    calibration: object  # unbatched, un-augmented training images for int8 calibration
    class_names: tuple
    sizes: dict


def load_data(config, spec, image_size, batch_size, seed):
    """The :class:`Data` of `config.data` ("digits", "folder:PATH", "tfds:NAME") for `spec`."""
    import keras

    from kerasnets import data as kd

    channels = spec.input_shape[-1]
    if config.data == "digits":
        splits = kd.digits(image_size=image_size, channels=channels,
                           preprocessing=spec.preprocessing)
        augment = None
        if config.shift > 0:
            augment = keras.layers.RandomTranslation(config.shift, config.shift,
                                                     fill_mode="constant", seed=seed)
        train = kd.batched(splits.train, batch_size, shuffle=True, seed=seed, augment=augment)
        validation = kd.batched(splits.validation, EVAL_BATCH)
        test = kd.batched(splits.test, EVAL_BATCH)
        return Data(train, validation, test, splits.train, splits.class_names, splits.sizes)
    kind, where = config.data.split(":", 1)
    if kind == "folder":
        splits = kd.image_folder(where, validation_fraction=0.1, test_fraction=0.1, seed=0)
    else:
        splits = _tfds_splits(where)
    size = image_size[0]
    policy = None if config.policy == "auto" else config.policy
    train = kd.train_pipeline(spec.name, splits, batch_size, policy=policy, image_size=size,
                              seed=seed, scale_range=config.scale_range)
    sizes = splits.sizes
    evaluation = {"image_size": size, "resize": None}
    validation = kd.eval_pipeline(spec.name, splits, EVAL_BATCH, split="validation", **evaluation) \
        if sizes["validation"] else None
    test = kd.eval_pipeline(spec.name, splits, EVAL_BATCH, split="test", **evaluation) \
        if sizes["test"] else None
    calibration = kd.eval_pipeline(spec.name, splits, 32, split="train", **evaluation).unbatch()
    return Data(train, validation, test, calibration, splits.class_names, sizes)


def _tfds_splits(name, data_dir=None):
    """A tensorflow-datasets data set as Splits: train, validation (or test), test.

    A data set not yet prepared in `data_dir` (tfds' default: ``TFDS_DATA_DIR``,
    else ``~/tensorflow_datasets``) is downloaded and prepared first, as
    `tfds.load` does; one that tfds does not know, or that cannot be
    downloaded, is a ValueError naming it.
    """
    import tensorflow_datasets as tfds_lib

    from kerasnets.data import Splits, tfds

    try:
        builder = tfds_lib.builder(name, data_dir=data_dir)
    except Exception as err:  # tfds raises many kinds for a missing or unknown data set
        raise ValueError(f"tfds data set {name!r} is not available: "
                         f"{str(err).splitlines()[0]}") from None
    if not builder.info.splits:  # known to tfds, not prepared here
        try:
            builder.download_and_prepare()
        except Exception as err:  # network, manual download, disk: tfds' own message
            raise ValueError(f"tfds data set {name!r} is not prepared in {builder.data_dir} "
                             f"and could not be: {str(err).splitlines()[0]}") from None
    available = set(builder.info.splits)
    if "train" not in available:
        raise ValueError(f"tfds data set {name!r} has no train split (it has {sorted(available)})")
    train, class_names = tfds(name, "train", data_dir=data_dir, with_info=True)
    test = tfds(name, "test", data_dir=data_dir) if "test" in available else None
    validation = tfds(name, "validation", data_dir=data_dir) if "validation" in available \
        else test
    if validation is None:
        train = tfds(name, "train[:90%]", data_dir=data_dir)
        validation = tfds(name, "train[90%:]", data_dir=data_dir)
    if test is None:
        test = validation
    return Splits(train=train, validation=validation, test=test, class_names=class_names,
                  num_classes=len(class_names), image_shape=(None, None, None))


def _square(spec, image_size):
    if image_size is not None:
        return (image_size, image_size)
    return tuple(spec.input_shape[:2])


def train(config, output_dir="savedmodels", *, overwrite=False, tflite=False, verbose=2,
          log=print, callbacks=(), distribution=None):
    """Trains as the recipe says and writes the outputs; returns a :class:`TrainResult`.

    `distribution` is a :class:`~kerasnets.training.distribute.Distribution`
    (from `config.strategy` by default; make it first thing in the process,
    after :func:`~kerasnets.training.distribute.configure_cpu_devices`).
    `callbacks` are added to the run's. Raises `OutputExistsError` before
    training when an output exists, and :class:`DivergedError` when the loss
    became NaN (the last good epoch's backup is kept).
    """
    import keras

    import kerasnets
    from kerasnets.training.build import build_model, compile_model, mixed_precision_policy
    from kerasnets.training.distribute import make_distribution, scale_for_replicas

    if distribution is None:
        distribution = make_distribution(config.strategy)
    spec = kerasnets.get_spec(config.model)
    paths = output_paths(output_dir, spec.name, tflite)
    initial_epoch = check_outputs(paths, overwrite)
    keras.mixed_precision.set_global_policy(mixed_precision_policy(config.mixed_precision))
    keras.utils.set_random_seed(config.seed)

    global_batch, learning_rate = scale_for_replicas(
        config.batch_size, config.learning_rate, distribution.replicas, config.replica_scaling)
    image_size = _square(spec, config.image_size)
    input_shape = (*image_size, spec.input_shape[-1])
    as_run = as_run_config(config, learning_rate=learning_rate, batch_size=global_batch,
                           image_size=image_size[0], strategy=distribution.kind)
    if initial_epoch:
        check_same_run(paths["config"], as_run)
    data = load_data(config, spec, image_size, global_batch, config.seed)
    train_ds, validation, test = data.train, data.validation, data.test
    class_names, sizes = data.class_names, data.sizes
    if distribution.num_workers > 1:
        train_ds = _shard_by_data(train_ds)
    steps_per_epoch = max(1, math.ceil(sizes["train"] / global_batch))
    fit_validation, fit_test = validation, test
    several_jax_processes = distribution.split_batches_evenly and distribution.num_workers > 1
    if several_jax_processes:
        # Keras shards the data by processes and needs batches of one static size: full
        # training batches only, evaluation batches padded to EVAL_BATCH.
        train_ds = train_ds.rebatch(global_batch, drop_remainder=True)
        steps_per_epoch = max(1, sizes["train"] // global_batch)
        fit_validation = _padded(validation, EVAL_BATCH, static=True)
        fit_test = _padded(test, EVAL_BATCH, static=True)
    elif distribution.split_batches_evenly:
        # jax's DataParallel splits every batch evenly over the devices: the last training
        # batch is trimmed to a multiple of them, evaluation batches padded with weight 0.
        train_ds = trim_batches(train_ds, distribution.replicas)
        steps_per_epoch = even_steps(sizes["train"], global_batch, distribution.replicas)
        fit_validation = _padded(validation, distribution.replicas)
        fit_test = _padded(test, distribution.replicas)
    log(f"{spec.name} on {config.data}: {sizes['train']} train, {sizes['validation']} "
        f"validation, {sizes['test']} test images of {'x'.join(map(str, input_shape))}")
    if distribution.replicas > 1 or distribution.kind != "one":
        log(f"distribution: {distribution.description}; global batch {global_batch}, "
            f"learning rate {learning_rate:g}")

    with _writable(paths, distribution, overwrite) as paths:
        with distribution.scope():
            model = build_model(config, input_shape, len(class_names), name=spec.name)
            compile_model(model, config, learning_rate, steps_per_epoch)
        _write_config(paths["config"], as_run)
        if initial_epoch:
            log(f"resuming from {paths['checkpoints']} after epoch {initial_epoch}")
        stop = StopOnNaN(log=log)
        monitor = config.monitor if validation is not None else config.monitor.replace("val_", "")
        best = BestModel(paths["best"], monitor=monitor)
        run_callbacks = [
            stop,
            ResumableBackup(paths["checkpoints"], stop_on_nan=stop),
            keras.callbacks.CSVLogger(paths["history"], append=bool(initial_epoch)),
            best,
        ]
        if _tensorboard_installed():
            board = keras.callbacks.TensorBoard(paths["logs"], write_graph=False)
            board.async_safe = True  # update_freq="epoch": its batch hook writes nothing
            run_callbacks.append(board)
        else:
            log("no TensorBoard logs: the tensorboard package is not installed")
        if config.schedule["name"] == "plateau":
            plateau = config.schedule
            run_callbacks.append(keras.callbacks.ReduceLROnPlateau(
                monitor=plateau["monitor"] if validation is not None
                else plateau["monitor"].replace("val_", ""),
                factor=plateau["factor"], patience=plateau["patience"],
                min_lr=plateau["min_lr"], verbose=1 if verbose else 0))
        run_callbacks += list(callbacks)
        if distribution.kind == "multiworker" and distribution.strategy is not None:
            _build_for_multiworker(model, train_ds, distribution.strategy)
        # The data sets come shuffled; shuffle=False only silences Keras' warning about that.
        # Without steps_per_epoch, an epoch is one pass over the data: when tf.data cannot
        # count the batches ahead, Keras warns that the "input ran out of data" at its end.
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Your input ran out of data")
                model.fit(train_ds, validation_data=fit_validation, epochs=config.epochs,
                          shuffle=False, callbacks=run_callbacks, verbose=verbose)
        except KeyboardInterrupt:
            raise TrainingInterrupted(paths, backup_epoch(paths["checkpoints"]),
                                      resumed=bool(initial_epoch)) from None
        if stop.diverged:
            epoch = backup_epoch(paths["checkpoints"])
            kept = (f"the backup of epoch {epoch} is kept in {paths['checkpoints']}"
                    if epoch else "no epoch finished before it, so there is no backup")
            raise DivergedError(
                f"the loss became NaN or infinite at epoch {stop.where[0] + 1}, batch "
                f"{stop.where[1] + 1}; {kept} (lower the learning rate, or add gradient "
                "clipping, and run again)")
        history = read_history(paths["history"]) if os.path.exists(paths["history"]) else []
        if history:
            plot_history(paths["history"], paths["plot"])
        accuracy = top5 = None
        if test is not None:
            result = model.evaluate(fit_test, verbose=0, return_dict=True)
            accuracy = _metric(result, "accuracy")
            top5 = _metric(result, "top5_accuracy")
            log(f"test accuracy: {accuracy:.4f}")
        from kerasnets.export import save_keras
        from kerasnets.training.auxiliary import without_auxiliary_heads

        final = inference_model(without_auxiliary_heads(model))
        if several_jax_processes:
            final = _local_copy(final)
        try:
            save_keras(final, paths["keras"], overwrite=overwrite)
        except FileExistsError:
            raise OutputExistsError(f"{paths['keras']} appeared during training; pass "
                                    "--overwrite to replace it") from None
        if distribution.is_chief:
            log(f"saved model: {paths['keras']}")
        exports = _export(final, paths, test, class_names, spec, tflite, overwrite,
                          calibration=data.calibration, log=log if distribution.is_chief else _quiet)
    return TrainResult(model=model, history=history, test_accuracy=accuracy, test_top5=top5,
                       paths=paths, distribution=distribution, global_batch_size=global_batch,
                       learning_rate=learning_rate, initial_epoch=initial_epoch,
                       exports=exports)


def inference_model(model):
    """`model`'s layers and weights, uncompiled: the file loads with plain Keras.

    The training optimizer (kerasnets' coupled weight decay classes) and loss
    stay out of the saved files, so that `keras.saving.load_model` needs no
    import of `kerasnets.training`.
    """
    import keras

    outputs = model.outputs if len(model.outputs) > 1 else model.outputs[0]
    return keras.Model(model.inputs, outputs, name=model.name)


def _build_for_multiworker(model, dataset, strategy):
    """Builds metrics, loss and optimizer on a local batch before `fit` under MultiWorkerMirrored.

    Keras 3.15's TF trainer builds them from the first distributed batch by
    `strategy.reduce("MEAN", (x, y))`, which MultiWorkerMirroredStrategy
    rejects (a tuple of PerReplica values); a local batch builds the same
    things, and the per-call build is then skipped.
    """
    if not (hasattr(model, "_symbolic_build") and hasattr(model, "_maybe_symbolic_build")):
        _unsupported_keras("Model._symbolic_build")
    batch = next(iter(dataset))
    with strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    _patch_multiworker_reduction()


def _unsupported_keras(what):
    import keras

    raise RuntimeError(
        f"--strategy multiworker on tensorflow works around two Keras 3.15 bugs through its "
        f"private {what}, which keras {keras.__version__} does not have; use keras 3.15, or "
        "the jax backend's multiworker")


def _patch_multiworker_reduction():
    """Keras 3.15 reduces the per-replica logs of a step (scalars) under MultiWorkerMirrored
    with `strategy.reduce("MEAN", v, axis=0)`, which fails on a scalar: reduce scalars with
    axis=None (the mean over replicas), everything else as Keras does."""
    from keras.src.backend.tensorflow import trainer

    if not (hasattr(trainer, "reduce_per_replica")
            and hasattr(trainer, "_collective_all_reduce_multi_worker")):
        _unsupported_keras("trainer.reduce_per_replica")
    if getattr(trainer.reduce_per_replica, "_kerasnets", False):
        return
    original = trainer.reduce_per_replica

    def reduce_per_replica(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(
                strategy):
            from keras.src import tree

            def reduce(value):
                rank = value.shape.rank if hasattr(value, "shape") else None
                if rank == 0:
                    return strategy.reduce("MEAN", value, axis=None)
                return original(value, strategy, reduction)

            return tree.map_structure(reduce, values)
        return original(values, strategy, reduction)

    reduce_per_replica._kerasnets = True
    trainer.reduce_per_replica = reduce_per_replica


def _tensorboard_installed():
    import importlib.util

    return importlib.util.find_spec("tensorboard") is not None


def _quiet(*_args, **_kwargs):
    pass


def _metric(result, name):
    for key, value in result.items():
        if key == name or key.endswith("_" + name):
            return float(value)
    return None


def trim_batches(ds, multiple):
    """`ds` (batches of (images, labels)) with every batch cut to a multiple of `multiple`.

    Only a last, partial batch changes: it loses its final ``size % multiple``
    examples (other ones every epoch, the data being reshuffled), and is
    dropped when fewer than `multiple` are left.
    """
    import tensorflow as tf

    def trim(images, labels):
        keep = tf.shape(images)[0] // multiple * multiple
        return images[:keep], labels[:keep]

    return ds.map(trim).filter(lambda images, labels: tf.shape(images)[0] > 0)


def even_steps(size, batch_size, multiple):
    """Batches per epoch of :func:`trim_batches` on `size` examples in batches of `batch_size`."""
    full, rest = divmod(size, batch_size)
    return max(1, full + (rest >= multiple))


def pad_batches(ds, multiple):
    """`ds` (batches of (images, labels)) as (images, labels, weights), padded to a multiple.

    A batch whose size is not a multiple of `multiple` gets all-zero images
    with weight 0 appended; every real example has weight 1. Metrics (accuracy,
    top-5) then count each real example once, as unpadded; the loss of the
    padded batch is averaged over the padded size, so the reported loss is low
    by at most ``(multiple - 1) / size`` of itself.
    """
    import tensorflow as tf

    def pad(images, labels):
        size = tf.shape(images)[0]
        missing = (multiple - size % multiple) % multiple
        image_pad = tf.zeros(tf.concat([[missing], tf.shape(images)[1:]], 0), images.dtype)
        label_pad = tf.zeros(tf.concat([[missing], tf.shape(labels)[1:]], 0), labels.dtype)
        weights = tf.concat([tf.ones([size]), tf.zeros([missing])], 0)
        return (tf.concat([images, image_pad], 0), tf.concat([labels, label_pad], 0), weights)

    return ds.map(pad)


def _padded(ds, multiple, static=False):
    """:func:`pad_batches` of `ds` (None stays None); with `static`, batches of no more than
    `multiple` padded to exactly it, with that size known to tf.data."""
    if ds is None:
        return None
    ds = pad_batches(ds, multiple)
    return ds.rebatch(multiple, drop_remainder=True) if static else ds


def _local_copy(model):
    """`model` with its weights in this process only, outside jax's multi-process distribution.

    The trained variables span every process's devices; exporting and checking
    the exports runs on one process, on a copy.
    """
    import keras

    weights = model.get_weights()  # replicated: each process holds them whole
    keras.distribution.set_distribution(None)
    copy = keras.models.clone_model(model)
    copy.set_weights(weights)
    return copy


def _shard_by_data(ds):
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return ds.with_options(options)


@contextlib.contextmanager
def _writable(paths, distribution, overwrite):
    """The chief's paths; a private copy of the layout in a temporary folder for other workers."""
    if distribution.is_chief:
        if overwrite and os.path.lexists(paths["run"]):
            shutil.rmtree(paths["run"])
        os.makedirs(paths["run"], exist_ok=True)
        yield paths
        return
    folder = tempfile.mkdtemp(prefix=f"kerasnets-worker{distribution.worker_index}-")
    try:
        base = os.path.join(folder, "out")
        private = {key: os.path.join(base, os.path.relpath(path, os.path.dirname(paths["run"])))
                   for key, path in paths.items()}
        os.makedirs(private["run"], exist_ok=True)
        yield private
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _write_config(path, config):
    import yaml

    from kerasnets.export.files import write_text

    write_text(path, yaml.safe_dump(config_to_dict(config), sort_keys=False))


def _export(model, paths, test, class_names, spec, tflite, overwrite, calibration, log):
    """SavedModel (and TFLite) of the final model, each with its test accuracy as exported."""
    import numpy as np

    from kerasnets.export import (
        SavedModelRunner,
        evaluate_tflite,
        export_saved_model,
        export_tflite,
    )

    images = labels = None
    if test is not None:
        images, labels = (np.concatenate(part) for part in zip(*test.as_numpy_iterator()))
    sample = images[:8] if images is not None else None
    exports = {}
    try:
        saved = export_saved_model(model, paths["saved_model"], overwrite=overwrite,
                                   sample_inputs=sample)
        line = f"saved SavedModel: {saved.path} ({saved.size_bytes:,} bytes)"
        if images is not None:
            predictions = SavedModelRunner(saved.path).predict(images)
            accuracy = float(np.mean(np.argmax(predictions, -1) == labels))
            line += f", test accuracy: {accuracy:.4f}"
            exports["saved_model"] = accuracy
        log(line)
        if tflite:
            for kind, key in (("float32", "tflite"), ("int8", "tflite_int8")):
                exported = export_tflite(
                    model, paths[key], quantize=kind, representative_data=calibration,
                    class_names=class_names, preprocessing=spec.preprocessing,
                    overwrite=overwrite, sample_inputs=sample)
                line = f"saved TFLite {kind}: {exported.path} ({exported.size_bytes:,} bytes)"
                if images is not None:
                    accuracy = evaluate_tflite(exported.path, images, labels)
                    line += f", test accuracy: {accuracy:.4f}"
                    exports[key] = accuracy
                log(line)
    except FileExistsError as err:
        raise OutputExistsError(f"an export appeared during training: {err}") from None
    return exports
