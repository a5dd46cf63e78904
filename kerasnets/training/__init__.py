"""Training support: auxiliary heads now; optimizers, schedules, strategies and callbacks follow."""

from kerasnets.training.auxiliary import (  # noqa: F401
    AUXILIARY_LOSS_WEIGHTS,
    auxiliary_output_names,
    compile_with_auxiliary_heads,
    loss_weights,
    repeat_labels,
    without_auxiliary_heads,
)
