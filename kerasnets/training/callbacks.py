"""Callbacks of a training run: resumable backups, divergence stop, best model, history plot.

* :class:`ResumableBackup` is `keras.callbacks.BackupAndRestore` whose
  backup is written atomically and never replaced by the weights of a
  diverged epoch; after a divergence it is kept (not deleted at the end of
  training), so the last good epoch can be resumed from.
* :class:`StopOnNaN` is `keras.callbacks.TerminateOnNaN` that says where the
  loss became NaN or infinite and remembers it.
* :class:`BestModel` saves the model with the best monitored value atomically
  to a `.keras` file.
* :func:`plot_history` draws the loss and accuracy curves of a CSV history.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import tempfile

import keras

from kerasnets.export.files import new_file_mode, write_text
from kerasnets.export.keras_file import cache_saving_skipsets, save_keras
from kerasnets.training.build import inference_model

__all__ = ["ResumableBackup", "StopOnNaN", "BestModel", "plot_history", "read_history",
           "backup_epoch", "DivergedError"]


class DivergedError(RuntimeError):
    """Training stopped because the loss became NaN or infinite."""


def _finite(logs):
    return all(math.isfinite(float(v)) for v in (logs or {}).values() if _is_number(v))


def _is_number(value):
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class StopOnNaN(keras.callbacks.TerminateOnNaN):
    """Stops training at the first batch whose loss is NaN or infinite, and says where."""

    # Keras may run the batch hook in a thread (no sync of the logs at every step, which
    # would halve the speed of small models); the run stops a step or two later at most.
    async_safe = True

    def __init__(self, log=print):
        super().__init__()
        self.log = log
        self.where = None  # (epoch, batch), 0-based, once the loss diverged

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)) and self.where is None:
            self.where = (getattr(self, "_epoch", 0), batch)
            self.model.stop_training = True
            self.log(f"training stopped: the loss became {float(loss)} at epoch "
                     f"{self.where[0] + 1}, batch {batch + 1}")

    on_train_batch_end = on_batch_end

    @property
    def diverged(self):
        return self.where is not None


def backup_epoch(backup_dir):
    """The number of finished epochs a backup folder holds, or None if there is no backup."""
    path = os.path.join(backup_dir, "training_metadata.json")
    try:
        with open(path) as handle:
            return int(json.load(handle)["epoch"])
    except (OSError, ValueError, KeyError):
        return None


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` with atomic writes that keeps the last good epoch after a divergence.

    `stop_on_nan` is the run's :class:`StopOnNaN`; once it has fired, no
    backup is written and the existing one is not deleted at the end.
    """

    # Its batch hook only counts batches with save_freq="epoch", the recipes' setting.
    async_safe = True

    def __init__(self, backup_dir, stop_on_nan=None, **kwargs):
        super().__init__(backup_dir, **kwargs)
        self.stop_on_nan = stop_on_nan

    def _diverged(self, logs=None):
        return (self.stop_on_nan is not None and self.stop_on_nan.diverged) or not _finite(logs)

    def on_epoch_end(self, epoch, logs=None):
        if self._diverged(logs):
            return
        super().on_epoch_end(epoch, logs)

    def on_train_end(self, logs=None):
        if self._diverged():
            return
        super().on_train_end(logs)

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.backup_dir, prefix=".weights.tmp-",
                                   suffix=".weights.h5")
        os.close(fd)
        cache_saving_skipsets()
        try:
            self.model.save_weights(filepath=tmp, overwrite=True)
            os.chmod(tmp, new_file_mode())
            os.replace(tmp, self._weights_path)
        finally:
            with contextlib.suppress(OSError):
                os.remove(tmp)
        write_text(self._training_metadata_path, json.dumps(
            {"epoch": self._current_epoch, "batch": self._last_batch_seen}))


class BestModel(keras.callbacks.Callback):
    """Saves the model to a `.keras` file (atomically) whenever `monitor` improves.

    The file holds the layers and weights without the optimizer (it loads with
    plain Keras); resuming uses the run's backup, not this file.
    """

    def __init__(self, path, monitor="val_accuracy", save=True):
        super().__init__()
        self.path = os.fspath(path)
        self.monitor = monitor
        self.save = save
        self.mode = "min" if monitor.endswith("loss") else "max"
        self.best = None
        self.best_epoch = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None or not _finite(logs):
            return
        value = float(value)
        better = self.best is None or (value < self.best if self.mode == "min"
                                       else value > self.best)
        if better:
            self.best, self.best_epoch = value, epoch
            if self.save:
                save_keras(inference_model(self.model), self.path, overwrite=True)


def read_history(path):
    """The rows of a CSV history (as `keras.callbacks.CSVLogger` writes it), values as floats."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [{k: float(v) if _is_number(v) else v for k, v in row.items()} for row in rows]


def plot_history(csv_path, png_path):
    """Draws loss and accuracy per epoch (training and validation) to a PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = read_history(csv_path)
    epochs = [int(row["epoch"]) + 1 for row in rows]
    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for prefix, label in (("", "training"), ("val_", "validation")):
            key = prefix + metric
            if rows and key in rows[0]:
                axis.plot(epochs, [row[key] for row in rows], marker=".", label=label)
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        axis.grid(True, alpha=0.3)
        axis.legend()
    figure.tight_layout()
    folder = os.path.dirname(os.path.abspath(png_path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".history.tmp-", suffix=".png")
    os.close(fd)
    try:
        figure.savefig(tmp, dpi=80)
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, png_path)
    finally:
        plt.close(figure)
        with contextlib.suppress(OSError):
            os.remove(tmp)
    return png_path
