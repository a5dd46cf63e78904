"""What a training run recorded beside the `.keras` file it wrote: class names and data.

`kerasnets.training.train` (`recipes/train.py`) writes, for model NAME under
its output folder DIR::

    DIR/NAME.keras                      the final model
    DIR/NAME.training/best.keras        the model of the best epoch
    DIR/NAME.training/config.yaml       the recipe as run; `data` names the training data
                                        (digits, folder:PATH or tfds:NAME)
    DIR/NAME.labels.txt                 the class names, one a line, beside the TFLite
    DIR/NAME_int8.labels.txt            exports (with --tflite, on by default for the digits)

:func:`training_record` reads these back for either `.keras` file, so that
`kerasnets export FILE.keras` keeps the class names and knows what the model
was trained on (which decides the int8 calibration images). A file that no
training run wrote has an empty record.
"""

from __future__ import annotations

import dataclasses
import os

__all__ = ["TrainingRecord", "training_record", "read_labels"]


@dataclasses.dataclass(frozen=True)
class TrainingRecord:
    """What the run that wrote a `.keras` file recorded (None where it recorded nothing)."""

    config_path: str | None = None  # NAME.training/config.yaml
    data: str | None = None  # its `data`: "digits", "folder:PATH" or "tfds:NAME"
    class_names: tuple[str, ...] | None = None
    labels_path: str | None = None  # the file the class names were read from

    @property
    def trained_on_digits(self) -> bool:
        return self.data == "digits"


def read_labels(path) -> list[str]:
    """Class names from a labels file: one a line, blank lines ignored."""
    with open(path, encoding="utf-8") as handle:
        return [line.rstrip("\r\n") for line in handle if line.strip()]


def _run_stem(path):
    """(output folder, model name) of the run that wrote the `.keras` file `path`."""
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    if folder.endswith(".training"):  # NAME.training/best.keras
        return os.path.dirname(folder), os.path.basename(folder)[: -len(".training")]
    return folder, os.path.splitext(os.path.basename(path))[0]


def training_record(path) -> TrainingRecord:
    """The :class:`TrainingRecord` of the `.keras` file `path` (see the module docstring)."""
    import yaml

    folder, name = _run_stem(path)
    config_path = os.path.join(folder, f"{name}.training", "config.yaml")
    data = None
    if os.path.isfile(config_path):
        try:
            with open(config_path, encoding="utf-8") as handle:
                recorded = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError) as err:
            raise ValueError(f"cannot read the training record {config_path}: {err}") from None
        if isinstance(recorded, dict) and isinstance(recorded.get("data"), str):
            data = recorded["data"]
    else:
        config_path = None
    class_names = labels_path = None
    for candidate in (f"{name}.labels.txt", f"{name}_int8.labels.txt"):
        candidate = os.path.join(folder, candidate)
        if os.path.isfile(candidate):
            class_names, labels_path = tuple(read_labels(candidate)), candidate
            break
    return TrainingRecord(config_path=config_path, data=data, class_names=class_names,
                          labels_path=labels_path)
