"""The degradation problem: training curves of plain and residual networks of two depths.

He, Zhang, Ren and Sun (2016), "Deep Residual Learning for Image Recognition",
Figure 6 (CIFAR-10) and Figure 4 (ImageNet): the deeper plain network has the
higher training error, the deeper residual network the lower. A `Curve` holds
one run's errors per epoch (from a Keras History); `plot_degradation` draws
the figure, plain networks left and residual ones right, training error
dashed and validation error solid, as in the paper.
"""

from __future__ import annotations

import dataclasses
import textwrap

from matplotlib.figure import Figure


@dataclasses.dataclass(frozen=True)
class Curve:
    """A training run: `name` (plain20, resnet56, ...), its depth, whether residual, errors per epoch."""

    name: str
    depth: int
    residual: bool
    train_error: tuple
    validation_error: tuple

    @classmethod
    def from_history(cls, name, depth, residual, history):
        """From a Keras `History.history` dict with "accuracy" (and "val_accuracy")."""
        if "accuracy" not in history:
            raise ValueError(f"the history of {name} has no 'accuracy' (it has "
                             f"{sorted(history)}): compile the model with metrics=['accuracy']")
        return cls(name, int(depth), bool(residual),
                   tuple(1.0 - float(a) for a in history["accuracy"]),
                   tuple(1.0 - float(a) for a in history.get("val_accuracy", ())))

    def rows(self):
        """One row per epoch, for a CSV."""
        return [{"model": self.name, "depth": self.depth, "residual": self.residual,
                 "epoch": epoch, "train_error": train,
                 "validation_error": (self.validation_error[epoch - 1]
                                      if epoch <= len(self.validation_error) else "")}
                for epoch, train in enumerate(self.train_error, start=1)]


def plot_degradation(curves, path, *, title=None):
    """Writes He et al.'s Figure 6 for `curves` to `path`: plain left, residual right."""
    if not curves:
        raise ValueError("`curves` is empty: pass at least one Curve")
    figure = Figure(figsize=(10, 3.8), dpi=110)
    panels = dict(zip((False, True), figure.subplots(1, 2, sharey=True)))
    colors = {}
    for curve in sorted(curves, key=lambda c: c.depth):
        color = colors.setdefault(curve.depth, f"C{len(colors)}")
        axes = panels[curve.residual]
        epochs = range(1, len(curve.train_error) + 1)
        axes.plot(epochs, [100 * e for e in curve.train_error], "--", color=color,
                  label=f"{curve.name} train")
        if curve.validation_error:
            axes.plot(range(1, len(curve.validation_error) + 1),
                      [100 * e for e in curve.validation_error], "-", lw=2, color=color,
                      label=f"{curve.name} validation")
    for residual, axes in panels.items():
        axes.set_title("residual networks" if residual else "plain networks")
        axes.set_xlabel("epoch")
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    panels[False].set_ylabel("error (%)")
    if title:
        figure.suptitle(textwrap.fill(title, 120), fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    return path
