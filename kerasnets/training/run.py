"""A training run from a recipe: data, distribution, model, callbacks, outputs, exports.

`train(config, output_dir)` trains `config.model` on `config.data` and
writes, under `output_dir`, the final model (.keras, SavedModel, TFLite with
`tflite=True`) and the run's folder (config.yaml, checkpoints, best.keras,
history, logs): the layout and the overwrite/resume rules are those of
:mod:`kerasnets.training.outputs`, the batch handling under each
distribution that of :mod:`kerasnets.training.distribute`. Every file is
written atomically.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import warnings

import keras
import numpy as np

from kerasnets import data as kd
from kerasnets.data.preprocess import normalization_with
from kerasnets.data.sources import open_source, parse_source
from kerasnets.export import SavedModelRunner, evaluate_tflite, export_all
from kerasnets.models.pretrained import is_tag
from kerasnets.registry import get_spec
from kerasnets.training.auxiliary import without_auxiliary_heads
from kerasnets.training.build import (
    build_model,
    compile_model,
    inference_model,
    mixed_precision_policy,
)
from kerasnets.training.config import ignored_on_digits, needs_statistics, override
from kerasnets.training.callbacks import (
    BestModel,
    DivergedError,
    ResumableBackup,
    StopOnNaN,
    backup_epoch,
    plot_history,
    read_history,
)
from kerasnets.training.distribute import (
    local_model,
    make_distribution,
    prepare_datasets,
    prepare_model,
    scale_for_replicas,
)
from kerasnets.training import outputs
from kerasnets.training.outputs import OutputExistsError, TrainingInterrupted

__all__ = ["TrainResult", "load_data", "schedule_callbacks", "train", "DivergedError"]


EVAL_BATCH = 256  # images per evaluation batch


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


@dataclasses.dataclass
class Data:
    """The batched datasets of a run (validation and test may be None) and what they hold."""

    train: object
    validation: object
    test: object
    calibration: object  # unbatched, un-augmented training images for int8 calibration
    class_names: tuple
    sizes: dict
    # What the exports' metadata states of the preprocessing (a mode or a Normalization),
    # and the training split's statistics when the run uses them (a dict; None otherwise).
    preprocessing: object = None
    statistics: dict | None = None


def load_data(config, spec, image_size, batch_size, seed, log=None):
    """The :class:`Data` of `config.data` ("digits", "folder:PATH", "tfds:NAME") for `spec`.

    With `mean: dataset` or `pca: dataset` the training split's statistics
    (`config.dataset_statistics` when recorded, else computed in one pass,
    logged by `log`) replace ImageNet's in every pipeline and in the exports'
    normalization.
    """
    log = log or _quiet
    channels = spec.input_shape[-1]
    # Fine-tuning from a published checkpoint: its normalization (torchvision's mean/std,
    # Caffe's BGR means), not the network's mode.
    tag = published_tag(config, spec)
    preprocessing = kd.weights_inputs(spec, tag)["preprocessing"]
    splits = open_source(config.data, image_size=image_size, channels=channels,
                         preprocessing=preprocessing)
    if parse_source(config.data)[0] == "digits":
        augment = None
        if config.shift > 0:
            augment = keras.layers.RandomTranslation(config.shift, config.shift,
                                                     fill_mode="constant", seed=seed)
        train = kd.batched(splits.train, batch_size, shuffle=True, seed=seed, augment=augment)
        validation = kd.batched(splits.validation, EVAL_BATCH)
        test = kd.batched(splits.test, EVAL_BATCH)
        return Data(train, validation, test, splits.train, splits.class_names, splits.sizes,
                    preprocessing)
    size = image_size[0]
    policy = None if config.policy == "auto" else config.policy
    stats = None
    if needs_statistics(config):
        stats = (kd.DatasetStatistics.from_dict(config.dataset_statistics)
                 if config.dataset_statistics is not None
                 else kd.dataset_statistics(splits.train, channels=channels, log=log))
    statistics = _statistics_inputs(config, spec, stats, log)
    if "mean" in statistics:
        preprocessing = normalization_with(spec.preprocessing, statistics["mean"],
                                           statistics.get("std"), channels)
    pca = {"off": False, "dataset": stats}.get(config.pca, True)
    train = kd.train_pipeline(spec.name, splits, batch_size, policy=policy, image_size=size,
                              seed=seed, scale_range=config.scale_range, weights=tag,
                              rotation=config.rotation, noise=config.noise,
                              crop_area=config.crop_area,
                              color_distortion=config.color_distortion,
                              shuffle_buffer=config.shuffle_buffer, pca=pca, **statistics)
    sizes = splits.sizes
    evaluation = {"image_size": size, "resize": None, "weights": tag, **statistics}
    validation = kd.eval_pipeline(spec.name, splits, EVAL_BATCH, split="validation", **evaluation) \
        if sizes["validation"] else None
    test = kd.eval_pipeline(spec.name, splits, EVAL_BATCH, split="test", **evaluation) \
        if sizes["test"] else None
    calibration = kd.eval_pipeline(spec.name, splits, 32, split="train", **evaluation).unbatch()
    return Data(train, validation, test, calibration, splits.class_names, sizes, preprocessing,
                stats.to_dict() if stats is not None else None)


def _statistics_inputs(config, spec, stats, log):
    """The pipelines' `mean`/`std` for `config.mean` ({} for ImageNet's), on the scales of
    the network's preprocessing mode ("caffe": 0-255; "torch": [0, 1], std too)."""
    if config.mean != "dataset":
        if spec.preprocessing in ("caffe", "torch") and config.weights is None:
            log(f"{config.data} is normalized with ImageNet's channel "
                f"{'mean' if spec.preprocessing == 'caffe' else 'mean and std'} "
                f"({spec.preprocessing} preprocessing); `mean: dataset` (--mean dataset) "
                f"uses the training split's")
        return {}
    return stats.preprocessing_inputs(spec.preprocessing)


def published_tag(config, spec):
    """The weights tag the run fine-tunes from (None: random initialisation or a file)."""
    return config.weights if is_tag(config.weights, spec.name) else None


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
    # 1. Where the outputs go, and whether this is a fresh run or a resumed one.
    if distribution is None:
        distribution = make_distribution(config.strategy)
    spec = get_spec(config.model)
    paths = outputs.output_paths(output_dir, spec.name, tflite)
    initial_epoch = outputs.check_outputs(paths, overwrite)
    keras.mixed_precision.set_global_policy(mixed_precision_policy(config.mixed_precision))
    keras.utils.set_random_seed(config.seed)

    # 2. Batch and learning rate for the replicas; the run as it will be recorded.
    global_batch, learning_rate = scale_for_replicas(
        config.batch_size, config.learning_rate, distribution.replicas, config.replica_scaling)
    image_size = _square(spec, config.image_size)
    input_shape = (*image_size, spec.input_shape[-1])
    if initial_epoch and needs_statistics(config) and config.dataset_statistics is None:
        # A resumed run normalizes as it started: with the statistics it recorded.
        config = override(config, dataset_statistics=outputs.recorded(paths["config"],
                                                                      "dataset_statistics"))
    as_run = outputs.as_run_config(config, learning_rate=learning_rate,
                                   batch_size=global_batch, image_size=image_size[0],
                                   strategy=distribution.kind)
    if initial_epoch:
        outputs.check_same_run(paths["config"], as_run)

    # 3. The data, batched for the distribution.
    data = load_data(config, spec, image_size, global_batch, config.seed, log=log)
    if data.statistics is not None and as_run.dataset_statistics is None:
        as_run = override(as_run, dataset_statistics=data.statistics)
    sizes = data.sizes
    fit = prepare_datasets(distribution, data.train, data.validation, data.test,
                           train_size=sizes["train"], global_batch=global_batch,
                           eval_batch=EVAL_BATCH)
    log(f"{spec.name} on {config.data}: {sizes['train']} train, {sizes['validation']} "
        f"validation, {sizes['test']} test images of {'x'.join(map(str, input_shape))}")
    ignored = ignored_on_digits(config)
    if ignored:
        log(f"the digits are augmented by `shift` alone: {', '.join(ignored)} "
            f"{'is' if len(ignored) == 1 else 'are'} ignored (they apply to folder: and tfds: "
            f"sources)")
    if distribution.replicas > 1 or distribution.kind != "one":
        log(f"distribution: {distribution.description}; global batch {global_batch}, "
            f"learning rate {learning_rate:g}")

    with outputs.writable(paths, distribution, overwrite) as paths:
        # 4. The model, built and compiled in the distribution's scope.
        with distribution.scope():
            model = build_model(config, input_shape, len(data.class_names), name=spec.name)
            compile_model(model, config, learning_rate, fit.steps_per_epoch)
        outputs.write_config(paths["config"], as_run)
        if initial_epoch:
            log(f"resuming from {paths['checkpoints']} after epoch {initial_epoch}")

        # 5. Training, with backups, the best epoch, logs and the NaN guard.
        stop = StopOnNaN(log=log)
        run_callbacks = _callbacks(config, paths, stop, initial_epoch,
                                   has_validation=data.validation is not None,
                                   verbose=verbose, log=log) + list(callbacks)
        prepare_model(model, fit.train, distribution)
        _fit(model, fit, config.epochs, run_callbacks, verbose, paths, initial_epoch)
        _check_diverged(stop, paths)

        # 6. History, test accuracy, the final model and its exports.
        history = read_history(paths["history"]) if os.path.exists(paths["history"]) else []
        if history:
            plot_history(paths["history"], paths["plot"])
        accuracy = top5 = None
        if data.test is not None:
            with _one_pass():
                result = model.evaluate(fit.test, verbose=0, return_dict=True)
            accuracy = _metric(result, "accuracy")
            top5 = _metric(result, "top5_accuracy")
            log(f"test accuracy: {accuracy:.4f}")
        final = local_model(inference_model(without_auxiliary_heads(model)), distribution)
        exports = _export(final, paths, data, spec, config, tflite, overwrite,
                          log=log if distribution.is_chief else _quiet)
    return TrainResult(model=model, history=history, test_accuracy=accuracy, test_top5=top5,
                       paths=paths, distribution=distribution, global_batch_size=global_batch,
                       learning_rate=learning_rate, initial_epoch=initial_epoch,
                       exports=exports)


def _callbacks(config, paths, stop, initial_epoch, *, has_validation, verbose, log):
    """The run's callbacks: NaN guard, resumable backup, CSV history, best model,
    TensorBoard (when installed) and the plateau schedule."""
    monitor = config.monitor if has_validation else config.monitor.replace("val_", "")
    run_callbacks = [
        stop,
        ResumableBackup(paths["checkpoints"], stop_on_nan=stop),
        keras.callbacks.CSVLogger(paths["history"], append=bool(initial_epoch)),
        BestModel(paths["best"], monitor=monitor),
    ]
    if _tensorboard_installed():
        board = keras.callbacks.TensorBoard(paths["logs"], write_graph=False)
        board.async_safe = True  # update_freq="epoch": its batch hook writes nothing
        run_callbacks.append(board)
    else:
        log("no TensorBoard logs: the tensorboard package is not installed")
    return run_callbacks + schedule_callbacks(config, has_validation=has_validation,
                                              verbose=verbose)


def schedule_callbacks(config, *, has_validation=True, verbose=0):
    """The callbacks that carry `config.schedule`: `ReduceLROnPlateau` for "plateau"
    (on the training metric without validation data), none for the others (they
    are learning-rate schedules of the optimizer)."""
    if config.schedule["name"] != "plateau":
        return []
    plateau = config.schedule
    return [keras.callbacks.ReduceLROnPlateau(
        monitor=plateau["monitor"] if has_validation
        else plateau["monitor"].replace("val_", ""),
        factor=plateau["factor"], patience=plateau["patience"],
        min_lr=plateau["min_lr"], verbose=1 if verbose else 0)]


@contextlib.contextmanager
def _one_pass():
    """Without Keras' "input ran out of data" warning, which ends every pass here.

    Without steps_per_epoch an epoch (and an evaluation) is one pass over the
    data: when tf.data cannot count the batches ahead, Keras warns at its end.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Your input ran out of data")
        yield


def _fit(model, fit, epochs, run_callbacks, verbose, paths, initial_epoch):
    """`model.fit`; Ctrl-C becomes :class:`TrainingInterrupted` (which says what was kept)."""
    # The data sets come shuffled; shuffle=False only silences Keras' warning about that.
    try:
        with _one_pass():
            model.fit(fit.train, validation_data=fit.validation, epochs=epochs,
                      shuffle=False, callbacks=run_callbacks, verbose=verbose)
    except KeyboardInterrupt:
        raise TrainingInterrupted(paths, backup_epoch(paths["checkpoints"]),
                                  resumed=bool(initial_epoch)) from None


def _check_diverged(stop, paths):
    if stop.diverged:
        epoch = backup_epoch(paths["checkpoints"])
        kept = (f"the backup of epoch {epoch} is kept in {paths['checkpoints']}"
                if epoch else "no epoch finished before it, so there is no backup")
        raise DivergedError(
            f"the loss became NaN or infinite at epoch {stop.where[0] + 1}, batch "
            f"{stop.where[1] + 1}; {kept} (lower the learning rate, or add gradient "
            "clipping, and run again)")


def _tensorboard_installed():
    return importlib.util.find_spec("tensorboard") is not None


def _quiet(*_args, **_kwargs):
    pass


def _metric(result, name):
    for key, value in result.items():
        if key == name or key.endswith("_" + name):
            return float(value)
    return None


def _export(model, paths, data, spec, config, tflite, overwrite, log):
    """The final model as .keras, SavedModel (and TFLite float32 and int8), each SavedModel
    and TFLite file with its test accuracy as exported; {format key: accuracy}."""
    images = labels = None
    if data.test is not None:
        images, labels = (np.concatenate(part) for part in zip(*data.test.as_numpy_iterator()))
    keys = ("keras", "saved_model") + (("tflite", "tflite_int8") if tflite else ())
    try:
        results = export_all(
            model, {key: paths[key] for key in keys}, class_names=data.class_names,
            preprocessing=data.preprocessing, overwrite=overwrite,
            sample_inputs=images[:8] if images is not None else None,
            representative_data=data.calibration,
            calibration_source=f"the training split of {config.data}")
    except FileExistsError as err:
        raise OutputExistsError(f"an export appeared during training: {err}; pass "
                                "--overwrite to replace it") from None
    accuracies = {}
    for key, result in results.items():
        if key == "keras":
            log(f"saved model: {result.path}")
            continue
        kind = "SavedModel" if key == "saved_model" else f"TFLite {result.quantization}"
        line = f"saved {kind}: {result.path} ({result.size_bytes:,} bytes)"
        if images is not None:
            if key == "saved_model":
                predictions = SavedModelRunner(result.path).predict(images)
                accuracies[key] = float(np.mean(np.argmax(predictions, -1) == labels))
            else:
                accuracies[key] = evaluate_tflite(result.path, images, labels)
            line += f", test accuracy: {accuracies[key]:.4f}"
        log(line)
    return accuracies
