"""The outputs of a training run: where each file goes, and whether a run may start.

For model NAME under `output_dir`::

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

Existing outputs are never replaced unless `overwrite=True` (which also starts
the run afresh); a run killed during training and started again with the same
command resumes after its last finished epoch (`check_outputs`), and a changed
command is refused naming what changed (`check_same_run`). With several workers
only the chief writes to `output_dir`; the others write the same things to a
private temporary folder that is deleted (`writable`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

import yaml

from kerasnets.export.files import write_text
from kerasnets.training.build import mixed_precision_policy
from kerasnets.training.callbacks import backup_epoch
from kerasnets.training.config import TrainConfig, config_to_dict, override

__all__ = ["OutputExistsError", "TrainingInterrupted", "output_paths", "check_outputs",
           "as_run_config", "check_same_run", "recorded", "writable", "write_config"]


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
    policy = mixed_precision_policy(config.mixed_precision)
    return override(config, learning_rate=learning_rate, batch_size=batch_size,
                    replica_scaling=False, image_size=image_size, strategy=strategy,
                    mixed_precision="off" if policy == "float32" else policy[len("mixed_"):])


def check_same_run(config_path, as_run):
    """Raises OutputExistsError unless `config_path` (the config.yaml of the run being resumed)
    records the same run as `as_run` (see :func:`as_run_config`); the message names each
    difference."""
    try:
        with open(config_path, encoding="utf-8") as handle:
            recorded = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as err:
        raise OutputExistsError(
            f"cannot resume the run in {os.path.dirname(config_path)}: its {config_path} cannot "
            f"be read ({err}); pass --overwrite to start again") from None
    now = _plain(config_to_dict(as_run))
    if not isinstance(recorded, dict):
        recorded = {}
    # A key the run's config.yaml lacks (written before the key existed) had its default.
    defaults = _plain(config_to_dict(TrainConfig()))
    before = {key: recorded[key] if key in recorded else defaults.get(key)
              for key in dict.fromkeys([*now, *recorded])}
    changed = [f"{key}: {before[key]!r} -> {now.get(key)!r}"
               for key in before if before[key] != now.get(key)]
    if changed:
        raise OutputExistsError(
            f"cannot resume the run in {os.path.dirname(config_path)}: the command changed "
            f"since it started ({'; '.join(changed)}); run it as it started to resume, or "
            "pass --overwrite to start again")



def recorded(config_path, key):
    """The value of `key` in a run's config.yaml (None when absent or unreadable)."""
    try:
        with open(config_path, encoding="utf-8") as handle:
            values = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError):
        return None
    return values.get(key) if isinstance(values, dict) else None


def _plain(values):
    """`values` as YAML gives them back (tuples as lists, ...), for comparisons."""
    return yaml.safe_load(yaml.safe_dump(values, sort_keys=False))


@contextlib.contextmanager
def writable(paths, distribution, overwrite):
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


def write_config(path, config):
    """Writes the run's config.yaml (atomically)."""
    write_text(path, yaml.safe_dump(config_to_dict(config), sort_keys=False))
