"""Training: the papers' recipes (YAML configs), optimizers with weight decay both ways,
schedules, label smoothing, auxiliary heads, distribution strategies, resumable runs.

    from kerasnets.training import load_config, train
    train(load_config("recipes/configs/lenet5.yaml"), "savedmodels")

`recipes/train.py` is the command-line layer over :func:`train`.
"""

import importlib

from kerasnets.training.auxiliary import (  # noqa: F401
    auxiliary_output_names,
    compile_with_auxiliary_heads,
    loss_weights,
    paper_aux_weight,
    repeat_labels,
    without_auxiliary_heads,
)
from kerasnets.training.build import (  # noqa: F401
    build_model,
    compile_model,
    inference_model,
    mixed_precision_policy,
    reinitialize,
)
from kerasnets.training.callbacks import (  # noqa: F401
    BestModel,
    DivergedError,
    ResumableBackup,
    StopOnNaN,
    plot_history,
    read_history,
)
from kerasnets.training.distribute import (  # noqa: F401
    Distribution,
    configure_cpu_devices,
    make_distribution,
    scale_for_replicas,
)
from kerasnets.training.losses import SparseCategoricalCrossentropy  # noqa: F401
from kerasnets.training.optimizers import (  # noqa: F401
    SGD,
    Adam,
    RMSprop,
    build_optimizer,
    build_schedule,
)

# The recipe's config (which checks data sources and augmentation policies against
# kerasnets.data), the run's outputs and the run itself (tf.data input, TensorFlow
# exports) are imported on first use, so that `import kerasnets` (which imports this
# package for its losses, optimizers and callbacks) needs no TensorFlow on the jax
# and torch backends.
_LAZY = {
    **dict.fromkeys(("ConfigError", "TrainConfig", "config_from_dict", "config_to_dict",
                     "load_config", "override"), "kerasnets.training.config"),
    **dict.fromkeys(("OutputExistsError", "TrainingInterrupted", "as_run_config",
                     "check_outputs", "check_same_run", "output_paths"),
                    "kerasnets.training.outputs"),
    **dict.fromkeys(("train", "TrainResult"), "kerasnets.training.run"),
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

